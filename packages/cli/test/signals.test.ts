import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';

const STOPPER = new URL('./fixtures/stopper.ts', import.meta.url).pathname;

/** Starts the fixture, sends `signal` once it is ready, and collects how it ended. */
async function stopWith(signal: NodeJS.Signals, outcome: 'ok' | 'fail') {
  const child = spawn(process.execPath, ['--import', 'tsx', STOPPER, outcome], { stdio: 'pipe' });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  await new Promise<void>((resolve) =>
    child.stdout.on('data', (d) => {
      stdout += d;
      if (stdout.includes('ready')) resolve();
    }),
  );
  child.kill(signal);
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

test('a clean stop on SIGTERM or SIGINT exits 0', async () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    const r = await stopWith(signal, 'ok');
    assert.equal(r.code, 0, `${signal}: ${r.stderr}`);
    assert.match(r.stdout, /stopped/);
    assert.equal(r.stderr, '');
  }
});

test('a failing stop prints one line with stop_failed and exits 1, no stack trace', async () => {
  const r = await stopWith('SIGTERM', 'fail');
  assert.equal(r.code, 1);
  assert.equal(
    r.stderr,
    'twin: could not stop cleanly: the store is locked by another process (stop_failed)\n',
  );
});
