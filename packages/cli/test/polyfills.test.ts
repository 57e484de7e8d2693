import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const polyfills = fileURLToPath(new URL('../src/polyfills.js', import.meta.url));

test('Promise.withResolvers exists after the polyfills load, and behaves like the standard one', async () => {
  await import('../src/polyfills.js');
  const { promise, resolve } = Promise.withResolvers<number>();
  resolve(42);
  assert.equal(await promise, 42);
  const second = Promise.withResolvers<number>();
  second.reject(new Error('boom'));
  await assert.rejects(second.promise, /boom/);
});

test('the polyfill installs itself in a fresh process where the API is missing', () => {
  // Delete the native API first (as on Node 20), then load the polyfill and use it.
  const script = `delete Promise.withResolvers;
    await import(${JSON.stringify(polyfills)});
    const r = Promise.withResolvers(); r.resolve('ok'); console.log(await r.promise, typeof Promise.withResolvers);`;
  const out = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(out.status, 0, out.stderr);
  assert.equal(out.stdout.trim(), 'ok function');
});
