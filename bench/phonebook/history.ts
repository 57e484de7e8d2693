/**
 * bench/phonebook/history: the cost of looking up a twin with a long history. One twin makes
 * `--updates` updates (default 3000), among `--others` other twins (default 1000); then:
 * - the lookup response's size (the record and its proof), bytes;
 * - one `twin lookup`-equivalent in a fresh process (PhonebookClient.twin with the server key
 *   pinned): wall time and the process's RSS before and after (median of three processes);
 * - lookups per second of that twin through PhonebookClient (proof verified) against the same
 *   GET with the body only parsed (no verification), side by side, `--concurrency` (4) at a time,
 *   `--seconds` each (failed lookups, e.g. client timeouts, are counted apart).
 *
 * `--fat`: every update as large as the bounds allow (MAX_ADDRESSES addresses of ~220 bytes).
 *
 *   node --import tsx bench/phonebook/history.ts [--json] [--fat] [--updates N] [--others N] [--seconds N]
 *     [--concurrency N]
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { newMnemonic, TwinIdentity } from '@twin/identity';
import { MAX_ADDRESSES, PhonebookClient, signTx, startPhonebook } from '@twin/phonebook';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};

if (process.argv[2] === '--child') {
  // one lookup, as `twin lookup NAME --server-key KEY` does it
  const [, , , url, name, serverKey] = process.argv;
  const rssBefore = process.memoryUsage().rss;
  const t0 = performance.now();
  const record = await new PhonebookClient({ url, serverKey }).twin(name!);
  const ms = performance.now() - t0;
  console.log(JSON.stringify({ ms, rssBefore, rssAfter: process.memoryUsage().rss, nonce: record.nonce }));
  process.exit(0);
}

const json = process.argv.includes('--json');
const updates = arg('--updates', 3000);
const others = arg('--others', 1000);
const seconds = arg('--seconds', 5);
const concurrency = arg('--concurrency', 4);
/** Updates as large as the bounds allow (MAX_ADDRESSES addresses of ~220 bytes). */
const fat = process.argv.includes('--fat');
const log = (s: string) => process.stderr.write(`${s}\n`);
const b64 = (u: Uint8Array) => Buffer.from(u).toString('base64');
const unlimited = { burst: Number.MAX_SAFE_INTEGER, refillMs: 1 };

const dir = mkdtempSync(join(tmpdir(), 'bench-phonebook-history-'));
const pb = await startPhonebook({
  dataDir: dir,
  port: 0,
  // the bench writes from one address as fast as it can
  limits: { perClient: unlimited, perTwin: unlimited },
} as Parameters<typeof startPhonebook>[0]);
const client = new PhonebookClient({ url: pb.url, cacheTtlMs: 0 });

const register = (id: TwinIdentity) =>
  client.submit(
    signTx(id, {
      kind: 'twin.register',
      name: id.name,
      signingKey: b64(id.signingPublicKey),
      encryptionKey: b64(id.encryptionPublicKey),
      addresses: ['/ip4/127.0.0.1/tcp/4001'],
      relays: [],
      nonce: 0,
      timestamp: Date.now(),
    }),
  );
log(`registering ${others} twins and one busy twin with ${updates} updates ...`);
for (let i = 0; i < others; i++) await register(TwinIdentity.fromMnemonic(`other-${i}`, newMnemonic()));
const busy = TwinIdentity.fromMnemonic('busy', newMnemonic());
const { twin } = await register(busy);
for (let n = 1; n <= updates; n++) {
  await client.submit(
    signTx(busy, {
      kind: 'twin.update',
      twin,
      nonce: n,
      timestamp: Date.now(),
      addresses: fat
        ? Array.from(
            { length: MAX_ADDRESSES },
            (_, i) => `/dns4/${'a'.repeat(200)}.example/tcp/${n % 1000}/${i}`,
          )
        : [`/ip4/127.0.0.1/tcp/${4000 + (n % 1000)}`, `/ip6/::1/tcp/${4000 + (n % 1000)}`],
      relays: [],
    }),
  );
}

const proofBytes = Buffer.byteLength(await (await fetch(`${pb.url}/v1/twins/busy`)).text());
const serverKey = (pb.service as unknown as { serverKey: string }).serverKey;
// async: the server runs in this process; the median of three fresh processes
const runs: { ms: number; rssBefore: number; rssAfter: number; nonce: number }[] = [];
for (let i = 0; i < 3; i++) {
  const child = await promisify(execFile)(process.execPath, [
    '--import',
    'tsx',
    new URL(import.meta.url).pathname,
    '--child',
    pb.url,
    'busy',
    serverKey,
  ]);
  runs.push(JSON.parse(child.stdout));
}
const single = runs.sort((a, b) => a.ms - b.ms)[1]!;
if (single.nonce !== updates) throw new Error(`lookup returned nonce ${single.nonce}, not ${updates}`);

async function rate(one: () => Promise<unknown>): Promise<{ perSec: number; failed: number }> {
  let done = 0;
  let failed = 0;
  const t0 = performance.now();
  const until = t0 + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < until) {
        try {
          await one();
          done++;
        } catch {
          failed++; // e.g. the client's 5 s timeout
        }
      }
    }),
  );
  return { perSec: +(done / ((performance.now() - t0) / 1000)).toFixed(1), failed };
}
log(`lookups of the busy twin for ${seconds}s, verified then unverified ...`);
const verifiedPerSec = await rate(() => client.twin('busy', true));
const unverifiedPerSec = await rate(async () =>
  JSON.parse(await (await fetch(`${pb.url}/v1/twins/busy`)).text()),
);

await pb.close();
rmSync(dir, { recursive: true, force: true });

const MB = 1024 * 1024;
const result = {
  updates,
  fat,
  others,
  proofBytes,
  lookupMs: Math.round(single.ms),
  lookupRssMB: { before: +(single.rssBefore / MB).toFixed(1), after: +(single.rssAfter / MB).toFixed(1) },
  busyTwinLookupsPerSec: { verified: verifiedPerSec, unverified: unverifiedPerSec },
};
if (json) console.log(JSON.stringify(result, null, 2));
else {
  console.log(`twin with ${updates} updates (among ${others} others)`);
  console.log(`  lookup response (record + proof)  ${proofBytes} bytes`);
  console.log(
    `  one lookup in a fresh process      ${result.lookupMs} ms, RSS ${result.lookupRssMB.before} → ${result.lookupRssMB.after} MB`,
  );
  const show = (r: { perSec: number; failed: number }) =>
    `${r.perSec}${r.failed ? ` (${r.failed} failed)` : ''}`;
  console.log(`  lookups/s, proof verified          ${show(verifiedPerSec)}`);
  console.log(`  lookups/s, body parsed only        ${show(unverifiedPerSec)}`);
}
