#!/usr/bin/env node
import { register } from 'tsx/esm/api';

register();
const { zdbCommand } = await import('../src/cli.ts');
await zdbCommand('zdb').parseAsync(process.argv);
