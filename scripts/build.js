#!/usr/bin/env node
// Compiles every workspace package's TypeScript to JavaScript in its dist/ (run by `npm ci` and
// `npm install` through the root `prepare` script, or `npm run build`), so the `twin` command and
// the QSS worker threads start without transpiling anything. Entry points: each `exports` subpath
// that has a "source" and a "default" condition (source → default), and every `src/*-worker.ts`
// (a worker thread's entry, loaded next to the module that starts it). Each package is bundled
// on its own, with every bare import (other packages, dependencies) left external, and shared
// code split into chunks beside the entries, so dynamic imports stay lazy.
// Type-checking is `npm run check`'s job (tsc --noEmit); development and tests run the sources.
// Then the web app (packages/web) is built by Vite into packages/web/dist, the static files that
// `twin start` serves: npm packages only, nothing else is downloaded.
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

const PACKAGES = 'packages';

function entries(dir) {
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const out = {};
  for (const target of Object.values(pkg.exports ?? {})) {
    if (typeof target !== 'object' || !target.source || !target.default) continue;
    const name = target.default.replace(/^\.\/dist\//, '').replace(/\.js$/, '');
    out[name] = join(dir, target.source);
  }
  const src = join(dir, 'src');
  for (const file of existsSync(src) ? readdirSync(src) : []) {
    if (file.endsWith('-worker.ts')) out[file.replace(/\.ts$/, '')] = join(src, file);
  }
  return out;
}

// Bare imports stay external (resolved from node_modules at run time), except zod/mini: bundled
// and tree-shaken into the package that uses it, it costs a `twin qss` start nothing, where
// loading its hundred-odd modules from node_modules costs ~65 ms of CPU.
const BUNDLED = /^zod\/mini$/;
const external = {
  name: 'external-packages',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) =>
      BUNDLED.test(args.path) || args.kind === 'entry-point'
        ? undefined
        : { path: args.path, external: true },
    );
  },
};

const t0 = performance.now();
let built = 0;
for (const name of readdirSync(PACKAGES).sort()) {
  const dir = join(PACKAGES, name);
  if (!existsSync(join(dir, 'package.json'))) continue;
  const entryPoints = entries(dir);
  if (Object.keys(entryPoints).length === 0) continue;
  const outdir = join(dir, 'dist');
  rmSync(outdir, { recursive: true, force: true });
  await build({
    entryPoints,
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    plugins: [external],
    chunkNames: '[name]-[hash]',
    logLevel: 'warning',
  });
  built++;
}

const web = join(PACKAGES, 'web');
if (existsSync(join(web, 'index.html'))) {
  const vite = await import('vite');
  await vite.build({ root: web, configFile: join(web, 'vite.config.ts'), logLevel: 'warn' });
  built++;
}
console.log(`built ${built} packages in ${Math.round(performance.now() - t0)} ms`);
