#!/usr/bin/env node
// The `zdb` command. It runs the compiled JavaScript in dist/ (built by `npm ci` / `npm run
// build`). Under `node --conditions=source` (the tests, development) the package resolves to its
// TypeScript sources instead, which run through tsx.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = import.meta.resolve('@twin/zdb/cli');
if (entry.endsWith('.ts')) {
  const { register } = await import('tsx/esm/api');
  register();
} else if (!existsSync(fileURLToPath(entry))) {
  console.error('zdb: the zdb command is not built: run `npm run build` (or `npm ci`)');
  process.exit(1);
}
const { main } = await import(entry);
await main(process.argv);
