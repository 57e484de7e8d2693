#!/usr/bin/env node
import '../src/polyfills.js';
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/main.ts');
await main(process.argv);
