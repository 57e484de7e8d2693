/**
 * bench/bus: between two twins on loopback (the responder in its own process):
 * - bus request/response: sequential round trips (p50/p99) and throughput at concurrency 64;
 * - reliable sends: queued durably, delivered and stored exactly once, per second;
 * side by side in the same run with a raw libp2p length-prefixed echo on the same connection and
 * with HTTP POST to a fastify server.
 *
 *   node --import tsx bench/bus/run.ts [--json] [--seconds N]
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

const json = process.argv.includes('--json');
const seconds = Number(process.argv[process.argv.indexOf('--seconds') + 1]) || 5;
const log = (s: string) => process.stderr.write(`${s}\n`);
const dir = mkdtempSync(join(tmpdir(), 'bench-bus-'));
const pb = await startPhonebook({ dataDir: join(dir, 'pb'), port: 0 });
const responder = spawn(
  process.execPath,
  ['--import', 'tsx', new URL('./responder.ts', import.meta.url).pathname, pb.url],
  {
    stdio: ['ignore', 'pipe', 'inherit'],
  },
);
const info = JSON.parse(
  await new Promise<string>((r) => createInterface({ input: responder.stdout! }).once('line', r)),
) as {
  twin: number;
  addr: string;
  http: number;
};

const identity = TwinIdentity.fromMnemonic('requester', newMnemonic());
const host = await createTwinHost(identity);
const phonebook = new PhonebookClient({ url: pb.url, cacheTtlMs: 600_000 });
const record = await phonebook.publish(identity, host.getMultiaddrs().map(String));
const mailbox = new Mailbox(join(dir, 'bus.sqlite'));
const bus = new TwinBus({ identity, twinId: record.id, host, phonebook, mailbox });
await bus.start();

interface Row {
  name: string;
  sequentialRttP50Ms: number;
  sequentialRttP99Ms: number;
  opsPerSec: number;
}

const pct = (xs: number[], p: number) =>
  xs.slice().sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;

async function measure(name: string, once: (i: number) => Promise<unknown>): Promise<Row> {
  log(`${name} ...`);
  for (let i = 0; i < 500; i++) await once(i); // warm up
  const rtts: number[] = [];
  const until = performance.now() + (seconds * 1000) / 2;
  for (let i = 0; performance.now() < until; i++) {
    const t0 = performance.now();
    await once(i);
    rtts.push(performance.now() - t0);
  }
  let done = 0;
  const end = performance.now() + (seconds * 1000) / 2;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: 64 }, async (_, w) => {
      for (let i = w; performance.now() < end; i += 64) {
        await once(i);
        done++;
      }
    }),
  );
  return {
    name,
    sequentialRttP50Ms: +pct(rtts, 0.5).toFixed(3),
    sequentialRttP99Ms: +pct(rtts, 0.99).toFixed(3),
    opsPerSec: Math.round(done / ((performance.now() - t0) / 1000)),
  };
}

const payload = Buffer.alloc(64, 1);
const rows: Row[] = [];
rows.push(await measure('twin bus request/response', () => bus.request(info.twin, 'echo', payload)));

// raw libp2p: a length-prefixed echo on its own stream over the same connection
const stream = await host.dialProtocol(multiaddr(info.addr), '/bench/echo/1.0.0');
const lp = lpStream(stream);
// pipelined: writes go out at once, replies come back in order
const waiting: (() => void)[] = [];
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
rows.push(await measure('raw libp2p echo (same connection, no signatures)', rawEcho));

const url = `http://127.0.0.1:${info.http}/echo`;
rows.push(
  await measure('HTTP POST to fastify', async () => {
    const r = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: payload,
    });
    await r.arrayBuffer();
  }),
);

log('reliable sends ...');
const total = 10_000;
let delivered = 0;
bus.on('delivery', (e) => {
  if (e.status === 'delivered') delivered++;
});
const t0 = performance.now();
for (let i = 0; i < total; i++) await bus.send(info.twin, 'note', payload);
while (delivered < total) await new Promise((r) => setTimeout(r, 5));
const sendsPerSec = Math.round(total / ((performance.now() - t0) / 1000));

await bus.stop();
await host.stop();
mailbox.close();
responder.kill('SIGTERM');
await pb.close();
rmSync(dir, { recursive: true, force: true });

const [busRow, rawRow] = rows as [Row, Row, Row];
const ratios = {
  requestVsRawOps: +(busRow.opsPerSec / rawRow.opsPerSec).toFixed(3),
  requestVsRawP50: +(rawRow.sequentialRttP50Ms / busRow.sequentialRttP50Ms).toFixed(3),
};
const result = { rows, ratios, reliableSendsPerSec: sendsPerSec, payloadBytes: payload.length };
if (json) console.log(JSON.stringify(result, null, 2));
else {
  console.log('\n                                                    p50 ms   p99 ms   ops/s (64 in flight)');
  for (const r of rows) {
    console.log(
      `${r.name.padEnd(50)} ${String(r.sequentialRttP50Ms).padStart(7)} ${String(r.sequentialRttP99Ms).padStart(8)} ${String(r.opsPerSec).padStart(9)}`,
    );
  }
  console.log(
    `bus / raw echo: ${ratios.requestVsRawOps}× ops/s at 64 in flight, ${ratios.requestVsRawP50}× sequential p50 speed`,
  );
  console.log(`reliable sends (outbox → ack → inbox, both SQLite): ${sendsPerSec}/s`);
}
