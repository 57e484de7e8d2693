/**
 * bench/phonebook: lookups per second over HTTP (autocannon, GET /v1/twins/:name, the record
 * with its proof entries) against a plain fastify route returning a constant JSON, in the same
 * run; verified lookups per second through PhonebookClient (cache off: every record's bounded
 * proof checked — signatures, Merkle inclusion, signed checkpoint); registrations per second (signed ahead, POSTed by 32 concurrent
 * clients, each acknowledged only after it is in SQLite).
 *
 *   node --import tsx bench/phonebook/run.ts [--json] [--seconds N]
 * (bench/phonebook/history.ts measures one twin with a long history.)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newMnemonic, TwinIdentity } from '@twin/identity';
import { PhonebookClient, type SignedTx, signTx } from '@twin/phonebook';
import { freePort as freePortOn } from '@twin/twin';
import autocannon from 'autocannon';

const json = process.argv.includes('--json');
const seconds = Number(process.argv[process.argv.indexOf('--seconds') + 1]) || 10;
const log = (s: string) => process.stderr.write(`${s}\n`);

async function up(url: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    try {
      await fetch(url);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`${url} never came up`);
}

function start(args: string[]): ChildProcess {
  return spawn(process.execPath, args, { stdio: 'ignore' });
}

async function cannon(url: string): Promise<{ rps: number; p50: number; p99: number }> {
  const r = await autocannon({ url, connections: 50, pipelining: 1, duration: seconds });
  return { rps: Math.round(r.requests.average), p50: r.latency.p50, p99: r.latency.p99 };
}

const dir = mkdtempSync(join(tmpdir(), 'bench-phonebook-'));
const freePort = () => freePortOn('127.0.0.1');
const basePort = await freePort();
const pbPort = await freePort();
const baseline = start([
  '--import',
  'tsx',
  new URL('./baseline.ts', import.meta.url).pathname,
  String(basePort),
]);
// the real server with its write rate limits lifted (this bench registers from one address)
const phonebook = start([
  '--import',
  'tsx',
  new URL('./server.ts', import.meta.url).pathname,
  dir,
  String(pbPort),
]);
const pbUrl = `http://127.0.0.1:${pbPort}`;
await up(`http://127.0.0.1:${basePort}/constant`);
await up(`${pbUrl}/health`);

// Registrations: sign ahead, then submit with 32 concurrent clients.
const total = 5000;
log(`signing ${total} registrations ...`);
const txs: SignedTx[] = [];
for (let i = 0; i < total; i++) {
  const id = TwinIdentity.fromMnemonic(`twin-${i}`, newMnemonic());
  txs.push(
    signTx(id, {
      kind: 'twin.register',
      name: `twin-${i}`,
      signingKey: Buffer.from(id.signingPublicKey).toString('base64'),
      encryptionKey: Buffer.from(id.encryptionPublicKey).toString('base64'),
      addresses: [`/ip4/127.0.0.1/tcp/${4000 + (i % 1000)}`],
      relays: [],
      nonce: 0,
      timestamp: Date.now(),
    }),
  );
}
log('registering ...');
const client = new PhonebookClient({ url: pbUrl, cacheTtlMs: 0 });
let next = 0;
const t0 = performance.now();
await Promise.all(
  Array.from({ length: 32 }, async () => {
    while (next < total) await client.submit(txs[next++]!);
  }),
);
const registrationsPerSec = Math.round(total / ((performance.now() - t0) / 1000));

log(`baseline: constant JSON for ${seconds}s ...`);
const base = await cannon(`http://127.0.0.1:${basePort}/constant`);
log(`phonebook: GET /v1/twins/:name for ${seconds}s ...`);
const lookups = await cannon(`${pbUrl}/v1/twins/twin-4242`);

log('verified lookups through PhonebookClient ...');
let verified = 0;
const t1 = performance.now();
const until = t1 + seconds * 1000;
await Promise.all(
  Array.from({ length: 32 }, async (_, w) => {
    for (let i = w; performance.now() < until; i += 32) {
      await client.twin(`twin-${i % total}`, true);
      verified++;
    }
  }),
);
const verifiedPerSec = Math.round(verified / ((performance.now() - t1) / 1000));

baseline.kill('SIGTERM');
phonebook.kill('SIGTERM');
await new Promise((r) => setTimeout(r, 300));
rmSync(dir, { recursive: true, force: true });

const result = {
  baseline: { name: 'fastify constant JSON', ...base },
  lookups: {
    name: 'GET /v1/twins/:name (record + proof)',
    ...lookups,
    ratioToBaseline: +(lookups.rps / base.rps).toFixed(2),
  },
  verifiedLookupsPerSec: verifiedPerSec,
  registrationsPerSec,
};
if (json) console.log(JSON.stringify(result, null, 2));
else {
  console.log(`\n                                   req/s    p50 ms   p99 ms`);
  console.log(
    `fastify constant JSON (baseline) ${String(base.rps).padStart(8)} ${String(base.p50).padStart(8)} ${String(base.p99).padStart(8)}`,
  );
  console.log(
    `phonebook lookup over HTTP       ${String(lookups.rps).padStart(8)} ${String(lookups.p50).padStart(8)} ${String(lookups.p99).padStart(8)}   ${result.lookups.ratioToBaseline}× baseline`,
  );
  console.log(`verified lookups (client checks the proof):             ${verifiedPerSec}/s`);
  console.log(`registrations (signed, validated, in SQLite):           ${registrationsPerSec}/s`);
}
