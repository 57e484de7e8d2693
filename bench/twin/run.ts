/**
 * bench/twin: chat throughput and end-to-end latency from alice's API to bob's WebSocket event
 * (two twins in this process, a real phonebook, the real bus over loopback TCP), the time
 * `twin start` takes until its API answers, and a started twin's idle RSS.
 *
 *   node --conditions=source --import tsx bench/twin/run.ts [--json] [--messages N] [--concurrency C]
 *
 * Targets (issue 12): ≥ 1,000 messages/s, p50 ≤ 20 ms, p99 ≤ 100 ms, start ≤ 2 s, idle RSS ≤ 200 MB.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { initIdentity } from '../../packages/identity/src/index.ts';
import { startPhonebook } from '../../packages/phonebook/src/index.ts';
import { startDaemon, type TwinEvent } from '../../packages/twin/src/index.ts';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const json = process.argv.includes('--json');
const N = arg('--messages', 2000);
const C = arg('--concurrency', 32);
const log = (s: string) => process.stderr.write(`${s}\n`);

const root = mkdtempSync(join(tmpdir(), 'bench-twin-'));
const pb = await startPhonebook({ dataDir: join(root, 'pb'), port: 0 });
const twins = [];
for (const name of ['alice', 'bob']) {
  const home = join(root, name);
  initIdentity({ home, name });
  const d = await startDaemon({ home, phonebook: pb.url, yggdrasil: 'off', api: { port: 0 } });
  const token = readFileSync(join(home, 'api-token'), 'utf8').trim();
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`http://127.0.0.1:${d.api!.port}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return res.json() as Promise<Record<string, unknown>>;
  };
  twins.push({ name, home, d, token, call });
}
const [alice, bob] = twins as [(typeof twins)[0], (typeof twins)[0]];
await alice.call('POST', '/api/contacts', { name: 'bob', message: 'bench' });
while (((await bob.call('GET', '/api/contacts/requests')).requests as unknown[]).length === 0)
  await new Promise((r) => setTimeout(r, 20));
await bob.call('POST', '/api/contacts/requests/alice/accept');
while (((await alice.call('GET', '/api/contacts')).contacts as unknown[]).length === 0)
  await new Promise((r) => setTimeout(r, 20));

const ws = new WebSocket(`ws://127.0.0.1:${bob.d.api!.port}/api/events`, {
  headers: { authorization: `Bearer ${bob.token}` },
});
await new Promise((r) => ws.once('open', r));
const sentAt = new Map<string, number>();
const latencies: number[] = [];
let done: () => void = () => {};
const all = new Promise<void>((r) => {
  done = r;
});
ws.on('message', (d) => {
  const e = JSON.parse(String(d)) as TwinEvent;
  if (e.type !== 'message') return;
  const t0 = sentAt.get(e.text);
  if (t0 === undefined) return;
  latencies.push(performance.now() - t0);
  if (latencies.length === N) done();
});
const bobId = bob.d.record.id;
const warm = 50;
for (let i = 0; i < warm; i++)
  await alice.call('POST', `/api/chats/${bobId}/messages`, { text: `warm ${i}` });
log(`sending ${N} messages, ${C} in flight`);
const t0 = performance.now();
let next = 0;
await Promise.all(
  Array.from({ length: C }, async () => {
    while (next < N) {
      const text = `m${next++}`;
      sentAt.set(text, performance.now());
      await alice.call('POST', `/api/chats/${bobId}/messages`, { text });
    }
  }),
);
await all;
const seconds = (performance.now() - t0) / 1000;
latencies.sort((a, b) => a - b);
const pct = (p: number) =>
  +latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]!.toFixed(1);
ws.close();
for (const t of twins) await t.d.stop();

// `twin start` as a process: until its API answers, then its RSS after idling.
const home = join(root, 'carol');
initIdentity({ home, name: 'carol' });
const started = performance.now();
const child = spawn(
  process.execPath,
  [
    new URL('../../packages/cli/bin/twin.js', import.meta.url).pathname,
    'start',
    '--home',
    home,
    '--phonebook',
    pb.url,
    '--no-yggdrasil',
    '--api-port',
    '0',
  ],
  { stdio: ['ignore', 'pipe', 'ignore'] },
);
let out = '';
child.stdout!.on('data', (d) => {
  out += d;
});
let port = 0;
while (!port) {
  port = Number(/API on http:\/\/127\.0\.0\.1:(\d+)/.exec(out)?.[1] ?? 0);
  await new Promise((r) => setTimeout(r, 5));
}
while (
  !(await fetch(`http://127.0.0.1:${port}/api/health`)
    .then((r) => r.ok)
    .catch(() => false))
) {}
const startMs = performance.now() - started;
await new Promise((r) => setTimeout(r, 5000));
const rssMb =
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
child.kill('SIGTERM');
await new Promise((r) => child.once('exit', r));
await pb.close();
rmSync(root, { recursive: true, force: true });

const result = {
  messages: N,
  concurrency: C,
  messagesPerSecond: Math.round(N / seconds),
  latencyMs: { p50: pct(50), p99: pct(99), max: pct(100) },
  startMs: Math.round(startMs),
  idleRssMb: Math.round(rssMb),
};
if (json) console.log(JSON.stringify(result));
else
  console.log(
    `chat alice API → bob WebSocket: ${result.messagesPerSecond} messages/s (${N}, ${C} in flight), latency p50 ${result.latencyMs.p50} ms, p99 ${result.latencyMs.p99} ms\n` +
      `twin start until the API answers: ${result.startMs} ms; idle RSS ${result.idleRssMb} MB`,
  );
process.exit(0);
