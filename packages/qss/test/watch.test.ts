/** Qss.watch: sweeps until its signal aborts, without leaving a listener behind per sweep. */
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { buildConfig } from '../src/config.ts';
import type { RepairReport } from '../src/qss.ts';
import { Qss } from '../src/qss.ts';

/** A port nobody listens on: connections to it are refused at once. */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

test('watch sweeps until aborted and holds one abort listener at most, however many sweeps', async () => {
  const port = await closedPort();
  const at = (ns: string) => `127.0.0.1:${port}/${ns}`;
  const qss = Qss.open(buildConfig({ k: 1, m: 1, groups: [[at('a')], [at('b')]], meta: [at('m')] }), {
    workers: 0,
    timeoutMs: 500,
  });
  const stop = new AbortController();
  const reports: RepairReport[] = [];
  const listeners: number[] = [];
  const sweeps = 6;
  await qss.watch(
    1,
    (r) => {
      reports.push(r);
      listeners.push(getEventListeners(stop.signal, 'abort').length);
      if (reports.length === sweeps) stop.abort();
    },
    stop.signal,
  );
  await qss.close();
  assert.equal(reports.length, sweeps, 'no sweep after the abort');
  assert.ok(
    reports.every((r) => r.failed === 1),
    'every sweep reports the unreachable backends as a failure',
  );
  assert.ok(Math.max(...listeners) <= 1, `abort listeners per sweep: ${listeners.join(' ')}`);
  assert.equal(getEventListeners(stop.signal, 'abort').length, 0, 'none left once watch returns');
});
