/**
 * bench/bus: between two twins on loopback (the responder in its own process), in rounds that
 * interleave the measurements so that a load change on the machine hits all of them alike:
 * - bus request/response: sequential round trips (p50/p99) and throughput at concurrency 64;
 * - a raw libp2p length-prefixed echo on its own stream over the same connection (the ceiling);
 * - reliable sends, 64 in flight: queued durably (outbox), delivered, stored exactly once (inbox) and the ack
 *   recorded (outbox), per second — the responder's inbox count is checked at the end;
 * - HTTP POST to a fastify server (once, for scale).
 * Each figure is reported as the median of the rounds with its range; ratios are taken within a
 * round.
 *
 *   node --import tsx bench/bus/run.ts [--json] [--seconds N] [--rounds N] [--sends N]
 */
import '../../packages/network/src/polyfills.ts';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { lpStream } from '@libp2p/utils';
import { multiaddr } from '@multiformats/multiaddr';
import { newMnemonic, TwinIdentity } from '@twin/identity';
import { createTwinHost, Mailbox, TwinBus } from '@twin/network';
import { PhonebookClient, startPhonebook } from '@twin/phonebook';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) || fallback : fallback;
};
const json = process.argv.includes('--json');
const seconds = arg('--seconds', 4);
const rounds = arg('--rounds', 3);
const sendsPerRound = arg('--sends', 5_000);
const log = (s: string) => process.stderr.write(`${s}\n`);
const dir = mkdtempSync(join(tmpdir(), 'bench-bus-'));
const pb = await startPhonebook({ dataDir: join(dir, 'pb'), port: 0 });
const responder = spawn(
  process.execPath,
  [...process.execArgv, new URL('./responder.ts', import.meta.url).pathname, pb.url],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
const info = JSON.parse(
  await new Promise<string>((resolve, reject) => {
    createInterface({ input: responder.stdout! }).once('line', resolve);
    responder.once('exit', (code) => reject(new Error(`the responder exited (${code}) before it started`)));
  }),
) as { twin: number; addr: string; http: number };

const identity = TwinIdentity.fromMnemonic('requester', newMnemonic());
const host = await createTwinHost(identity);
const phonebook = new PhonebookClient({ url: pb.url, cacheTtlMs: 600_000 });
const record = await phonebook.publish(identity, host.getMultiaddrs().map(String));
const mailbox = new Mailbox(join(dir, 'bus.sqlite'));
const bus = new TwinBus({ identity, twinId: record.id, host, phonebook, mailbox });
await bus.start();

interface Row {
  p50: number;
  p99: number;
  opsPerSec: number;
  /** CPU microseconds per operation at 64 in flight: this process, and the responder's. */
  cpuUsLocal: number;
  cpuUsRemote: number;
}

/** CPU microseconds used so far by this process and by the responder (asked over the bus). */
async function cpuNow(): Promise<{ local: number; remote: number }> {
  const remote = Number((await bus.request(info.twin, 'cpu', Buffer.alloc(0))).toString());
  const u = process.cpuUsage();
  return { local: u.user + u.system, remote };
}

const pct = (xs: number[], p: number) =>
  xs.slice().sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;

async function measure(once: (i: number) => Promise<unknown>, secs = seconds): Promise<Row> {
  for (let i = 0; i < 300; i++) await once(i); // warm up
  const rtts: number[] = [];
  const until = performance.now() + (secs * 1000) / 2;
  for (let i = 0; performance.now() < until; i++) {
    const t0 = performance.now();
    await once(i);
    rtts.push(performance.now() - t0);
  }
  let done = 0;
  const cpu0 = await cpuNow();
  const end = performance.now() + (secs * 1000) / 2;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: 64 }, async (_, w) => {
      for (let i = w; performance.now() < end; i += 64) {
        await once(i);
        done++;
      }
    }),
  );
  const opsPerSec = Math.round(done / ((performance.now() - t0) / 1000));
  const cpu1 = await cpuNow();
  return {
    p50: +pct(rtts, 0.5).toFixed(3),
    p99: +pct(rtts, 0.99).toFixed(3),
    opsPerSec,
    cpuUsLocal: Math.round((cpu1.local - cpu0.local) / done),
    cpuUsRemote: Math.round((cpu1.remote - cpu0.remote) / done),
  };
}

const payload = Buffer.alloc(64, 1);
const busRequest = () => bus.request(info.twin, 'echo', payload);

// raw libp2p: a length-prefixed echo on its own stream over the same connection
const stream = await host.dialProtocol(multiaddr(info.addr), '/bench/echo/1.0.0');
const lp = lpStream(stream);
const waiting: (() => void)[] = []; // pipelined: replies come back in order
void (async () => {
  try {
    for (;;) {
      await lp.read();
      waiting.shift()?.();
    }
  } catch {
    // closed at the end
  }
})();
const rawEcho = () =>
  new Promise<void>((resolve, reject) => {
    waiting.push(resolve);
    lp.write(payload).catch(reject);
  });

let delivered = 0;
bus.on('delivery', (e) => {
  if (e.status === 'delivered') delivered++;
});
let sentTotal = 0;
async function reliableSends(): Promise<{ perSec: number; cpuUsLocal: number; cpuUsRemote: number }> {
  const target = delivered + sendsPerRound;
  const cpu0 = await cpuNow();
  const t0 = performance.now();
  // 64 senders, each awaiting its own send (as the request benchmark keeps 64 in flight)
  await Promise.all(
    Array.from({ length: 64 }, async (_, w) => {
      for (let i = w; i < sendsPerRound; i += 64) await bus.send(info.twin, 'note', payload);
    }),
  );
  sentTotal += sendsPerRound;
  while (delivered < target) await new Promise((r) => setTimeout(r, 2));
  const perSec = Math.round(sendsPerRound / ((performance.now() - t0) / 1000));
  const cpu1 = await cpuNow();
  return {
    perSec,
    cpuUsLocal: Math.round((cpu1.local - cpu0.local) / sendsPerRound),
    cpuUsRemote: Math.round((cpu1.remote - cpu0.remote) / sendsPerRound),
  };
}

const perRound: {
  bus: Row;
  raw: Row;
  sends: { perSec: number; cpuUsLocal: number; cpuUsRemote: number };
  ratioOps: number;
}[] = [];
for (let r = 0; r < rounds; r++) {
  log(`round ${r + 1}/${rounds}: bus request/response, raw echo, reliable sends ...`);
  // alternate the order so neither side always runs first
  let busRow: Row;
  let rawRow: Row;
  if (r % 2 === 0) {
    busRow = await measure(busRequest);
    rawRow = await measure(rawEcho);
  } else {
    rawRow = await measure(rawEcho);
    busRow = await measure(busRequest);
  }
  const sends = await reliableSends();
  perRound.push({
    bus: busRow,
    raw: rawRow,
    sends,
    ratioOps: +(busRow.opsPerSec / rawRow.opsPerSec).toFixed(3),
  });
}
log('HTTP POST to fastify ...');
const url = `http://127.0.0.1:${info.http}/echo`;
const httpRow = await measure(async () => {
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
    body: payload,
  });
  await r.arrayBuffer();
}, 2);
const inboxCount = Number((await bus.request(info.twin, 'inbox-count', Buffer.alloc(0))).toString());

await bus.stop();
await host.stop();
mailbox.close();
responder.kill('SIGTERM');
await pb.close();
rmSync(dir, { recursive: true, force: true });

const median = (xs: number[]) => pct(xs, 0.5);
const summary = (xs: number[]) => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs) });
const result = {
  rounds: perRound,
  busOpsPerSec: summary(perRound.map((r) => r.bus.opsPerSec)),
  rawOpsPerSec: summary(perRound.map((r) => r.raw.opsPerSec)),
  busVsRawOps: summary(perRound.map((r) => r.ratioOps)),
  busP50Ms: summary(perRound.map((r) => r.bus.p50)),
  busP99Ms: summary(perRound.map((r) => r.bus.p99)),
  rawP99Ms: summary(perRound.map((r) => r.raw.p99)),
  reliableSendsPerSec: summary(perRound.map((r) => r.sends.perSec)),
  // CPU per operation does not depend on how loaded the machine is: the throughput one free core
  // per side would give is 1e6 / the larger of the two sides' microseconds
  busCpuUs: summary(perRound.map((r) => r.bus.cpuUsLocal + r.bus.cpuUsRemote)),
  rawCpuUs: summary(perRound.map((r) => r.raw.cpuUsLocal + r.raw.cpuUsRemote)),
  busVsRawCpu: summary(
    perRound.map(
      (r) => +((r.raw.cpuUsLocal + r.raw.cpuUsRemote) / (r.bus.cpuUsLocal + r.bus.cpuUsRemote)).toFixed(3),
    ),
  ),
  sendCpuUsSender: summary(perRound.map((r) => r.sends.cpuUsLocal)),
  sendCpuUsReceiver: summary(perRound.map((r) => r.sends.cpuUsRemote)),
  sendsPerSecOneCorePerSide: summary(
    perRound.map((r) => Math.round(1e6 / Math.max(r.sends.cpuUsLocal, r.sends.cpuUsRemote))),
  ),
  http: httpRow,
  inboxStoredOnResponder: inboxCount,
  sent: sentTotal,
  payloadBytes: payload.length,
};
if (json) console.log(JSON.stringify(result, null, 2));
else {
  const f = (s: { median: number; min: number; max: number }) => `${s.median} (${s.min}–${s.max})`;
  console.log(`\nmedian (range) over ${rounds} interleaved rounds, ${payload.length}-byte payloads`);
  console.log(
    `bus request/response  ops/s@64 ${f(result.busOpsPerSec)}  p50 ${f(result.busP50Ms)} ms  p99 ${f(result.busP99Ms)} ms`,
  );
  console.log(`raw libp2p echo       ops/s@64 ${f(result.rawOpsPerSec)}  p99 ${f(result.rawP99Ms)} ms`);
  console.log(`bus / raw (same round) ${f(result.busVsRawOps)}×`);
  console.log(
    `reliable sends (outbox → inbox → ack recorded, both SQLite) ${f(result.reliableSendsPerSec)}/s`,
  );
  console.log(
    `CPU µs per op (both sides): bus ${f(result.busCpuUs)}, raw ${f(result.rawCpuUs)}, raw/bus ${f(result.busVsRawCpu)}×`,
  );
  console.log(
    `CPU µs per reliable send: sender ${f(result.sendCpuUsSender)}, receiver ${f(result.sendCpuUsReceiver)} → ${f(result.sendsPerSecOneCorePerSide)}/s with one free core per side`,
  );
  console.log(`responder inbox holds ${inboxCount} of ${sentTotal} sent`);
  console.log(`HTTP POST to fastify  ops/s@64 ${httpRow.opsPerSec}  p50 ${httpRow.p50} ms`);
}
