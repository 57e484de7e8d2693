import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const polyfills = new URL('../src/polyfills.ts', import.meta.url).href;
const network = new URL('../src/index.ts', import.meta.url).href;
const root = fileURLToPath(new URL('../../..', import.meta.url));

/** Runs `script` in a fresh Node (TypeScript through tsx) where Promise.withResolvers is missing, as on Node 20. */
function withoutWithResolvers(script: string) {
  const source = `delete Promise.withResolvers; ${script}`;
  return spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', source], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, NODE_OPTIONS: '' },
  });
}

test('Promise.withResolvers exists after the polyfills load, and behaves like the standard one', async () => {
  await import('../src/polyfills.ts');
  const { promise, resolve } = Promise.withResolvers<number>();
  resolve(42);
  assert.equal(await promise, 42);
  const second = Promise.withResolvers<number>();
  second.reject(new Error('boom'));
  await assert.rejects(second.promise, /boom/);
});

test('the polyfill installs itself in a fresh process where the API is missing', () => {
  const out = withoutWithResolvers(`await import(${JSON.stringify(polyfills)});
    const r = Promise.withResolvers(); r.resolve('ok'); console.log(await r.promise, typeof Promise.withResolvers);`);
  assert.equal(out.status, 0, out.stderr);
  assert.equal(out.stdout.trim(), 'ok function');
});

test('importing the network package alone installs it: nothing has to preload it', () => {
  const out = withoutWithResolvers(
    `const n = await import(${JSON.stringify(network)}); console.log(typeof n.createTwinHost, typeof Promise.withResolvers);`,
  );
  assert.equal(out.status, 0, out.stderr);
  assert.equal(out.stdout.trim(), 'function function');
});
