/**
 * bench/twin/transfer: a twin-to-twin file transfer (alice's file, shared with bob, fetched by
 * bob's twin over a bus byte stream: per-chunk and whole-file SHA-256, read from alice's 0-db and
 * decrypted there) beside a raw libp2p stream carrying the same number of bytes on the same
 * connection (alice writes a buffer again and again, bob reads and drops), and beside the bus's
 * byte stream alone (no storage, no hashing). Two twins in this process, a real phonebook,
 * loopback TCP. Rounds interleave the three so that load on the machine hits them alike.
 *
 *   node --conditions=source --import tsx bench/twin/transfer.ts [--json] [--mib N] [--rounds R]
 *
 * Target (issue 12): the file transfer at ≥ 0.5× the raw stream.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Stream } from '@libp2p/interface';
import { initIdentity } from '../../packages/identity/src/index.ts';
import { startPhonebook } from '../../packages/phonebook/src/index.ts';
import { startDaemon } from '../../packages/twin/src/index.ts';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const json = process.argv.includes('--json');
const MIB = arg('--mib', 256);
const ROUNDS = arg('--rounds', 2);
const BYTES = MIB * 1024 * 1024;
const RAW_PROTOCOL = '/twin-bench/raw/1.0.0';
const log = (s: string) => process.stderr.write(`${s}\n`);

const root = mkdtempSync(join(tmpdir(), 'bench-transfer-'));
const pb = await startPhonebook({ dataDir: join(root, 'pb'), port: 0 });
const twins = [];
for (const name of ['alice', 'bob']) {
  const home = join(root, name);
  initIdentity({ home, name });
  const d = await startDaemon({ home, phonebook: pb.url, yggdrasil: 'off', api: { port: 0 } });
  const token = readFileSync(join(home, 'api-token'), 'utf8').trim();
  twins.push({ name, d, token, base: `http://127.0.0.1:${d.api!.port}` });
}
const [alice, bob] = twins as [(typeof twins)[0], (typeof twins)[0]];
const call = async (t: typeof alice, method: string, path: string, body?: unknown) => {
  const res = await fetch(`${t.base}${path}`, {
    method,
    headers: { authorization: `Bearer ${t.token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return res.json() as Promise<Record<string, unknown>>;
};
await call(alice, 'POST', '/api/contacts', { name: 'bob', message: 'bench' });
while (((await call(bob, 'GET', '/api/contacts/requests')).requests as unknown[]).length === 0)
  await new Promise((r) => setTimeout(r, 20));
await call(bob, 'POST', '/api/contacts/requests/alice/accept');
while (((await call(alice, 'GET', '/api/contacts')).contacts as unknown[]).length === 0)
  await new Promise((r) => setTimeout(r, 20));

// alice's file: MIB MiB of random bytes, uploaded through her API
log(`uploading ${MIB} MiB to alice`);
const piece = randomBytes(1024 * 1024);
async function* source() {
  for (let i = 0; i < MIB; i++) yield piece;
}
const upStart = performance.now();
const up = await fetch(`${alice.base}/api/files/content?path=/bench.bin`, {
  method: 'PUT',
  headers: { authorization: `Bearer ${alice.token}`, 'content-type': 'application/octet-stream' },
  body: ReadableStream.from(source()) as unknown as RequestInit['body'],
  duplex: 'half',
} as RequestInit);
const file = ((await up.json()) as { entry: { id: string } }).entry;
const uploadMBs = BYTES / 1e6 / ((performance.now() - upStart) / 1000);
await call(alice, 'PUT', `/api/files/${file.id}/shares/bob`, { mode: 'read' });

// the raw libp2p stream: alice writes BYTES on it, bob reads them
await alice.d.host.handle(
  RAW_PROTOCOL,
  async (stream: Stream) => {
    for (let sent = 0; sent < BYTES; sent += piece.length) if (!stream.send(piece)) await stream.onDrain();
    await stream.close();
  },
  { runOnLimitedConnection: true },
);
alice.d.bus.handleStream('bench.raw', async (s) => {
  await s.done();
  for (let sent = 0; sent < BYTES; sent += piece.length) await s.write(piece);
});
const aliceId = alice.d.record.id;

async function fileTransfer(): Promise<number> {
  const t0 = performance.now();
  const f = await bob.d.experiences.transfers.fetch(aliceId, file.id);
  let n = 0;
  for await (const b of f.bytes) n += b.length;
  if (n !== BYTES) throw new Error(`file transfer moved ${n} bytes`);
  return BYTES / 1e6 / ((performance.now() - t0) / 1000);
}

async function viaApi(): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(`${bob.base}/api/shared/alice/${file.id}/content`, {
    headers: { authorization: `Bearer ${bob.token}` },
  });
  let n = 0;
  for await (const b of res.body as unknown as AsyncIterable<Uint8Array>) n += b.length;
  if (n !== BYTES) throw new Error(`the API moved ${n} bytes`);
  return BYTES / 1e6 / ((performance.now() - t0) / 1000);
}

async function busStream(): Promise<number> {
  const t0 = performance.now();
  const s = await bob.d.bus.openStream(aliceId, 'bench.raw');
  await s.end();
  let n = 0;
  for await (const b of s) n += b.length;
  if (n !== BYTES) throw new Error(`bus stream moved ${n} bytes`);
  return BYTES / 1e6 / ((performance.now() - t0) / 1000);
}

async function rawStream(): Promise<number> {
  const conn = bob.d.host
    .getConnections()
    .find((c) => c.status === 'open' && alice.d.host.peerId.equals(c.remotePeer));
  if (!conn) throw new Error('no connection from bob to alice');
  const t0 = performance.now();
  const stream = await conn.newStream(RAW_PROTOCOL, { runOnLimitedConnection: true });
  let n = 0;
  await new Promise<void>((resolve, reject) => {
    stream.addEventListener('message', (e) => {
      n += e.data.byteLength;
    });
    stream.addEventListener('remoteCloseWrite', () => resolve());
    stream.addEventListener('close', (e) =>
      (e as { error?: Error }).error ? reject((e as { error?: Error }).error) : resolve(),
    );
  });
  await stream.close().catch(() => {});
  if (n !== BYTES) throw new Error(`raw stream moved ${n} bytes`);
  return BYTES / 1e6 / ((performance.now() - t0) / 1000);
}

await fileTransfer(); // warms the connection up
const runs: { file: number[]; bus: number[]; raw: number[]; api: number[] } = {
  file: [],
  bus: [],
  raw: [],
  api: [],
};
for (let r = 0; r < ROUNDS; r++) {
  runs.raw.push(await rawStream());
  runs.bus.push(await busStream());
  runs.file.push(await fileTransfer());
  runs.api.push(await viaApi());
  log(
    `round ${r + 1}: raw ${runs.raw[r]!.toFixed(0)} MB/s, bus stream ${runs.bus[r]!.toFixed(0)} MB/s, file ${runs.file[r]!.toFixed(0)} MB/s, through bob's API ${runs.api[r]!.toFixed(0)} MB/s`,
  );
}
for (const t of twins) await t.d.stop();
await pb.close();
rmSync(root, { recursive: true, force: true });

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const result = {
  mib: MIB,
  rounds: ROUNDS,
  uploadMBs: Math.round(uploadMBs),
  rawMBs: runs.raw.map(Math.round),
  busStreamMBs: runs.bus.map(Math.round),
  fileMBs: runs.file.map(Math.round),
  apiMBs: runs.api.map(Math.round),
  fileOverRaw: +(median(runs.file) / median(runs.raw)).toFixed(2),
};
if (json) console.log(JSON.stringify(result));
else
  console.log(
    `${MIB} MiB twin to twin: file transfer ${result.fileMBs.join(' / ')} MB/s, bus byte stream ${result.busStreamMBs.join(' / ')} MB/s, raw libp2p stream ${result.rawMBs.join(' / ')} MB/s on the same connection (file / raw ${result.fileOverRaw}); the file through bob's HTTP API ${result.apiMBs.join(' / ')} MB/s; upload into alice's 0-db ${result.uploadMBs} MB/s`,
  );
process.exit(0);
