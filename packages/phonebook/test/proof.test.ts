/** Issue 10 item 9: a lookup's proof is bounded whatever the twin's history, and still catches forgery. */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { newMnemonic, TwinIdentity } from '@twin/identity';
import Fastify from 'fastify';
import {
  type PhonebookBackend,
  PhonebookClient,
  PhonebookError,
  type PhonebookServerOptions,
  type RunningPhonebook,
  type SignedCheckpoint,
  signTx,
  startPhonebook,
  type TwinProof,
  UNLIMITED,
  verifyConsistency,
} from '../src/index.ts';

const dirs: string[] = [];
const running: RunningPhonebook[] = [];
const closers: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of closers) await c().catch(() => {});
  for (const r of running) await r.close().catch(() => {});
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function server(extra: Partial<PhonebookServerOptions> = {}): Promise<RunningPhonebook> {
  const dataDir = mkdtempSync(join(tmpdir(), 'phonebook-'));
  dirs.push(dataDir);
  const r = await startPhonebook({
    dataDir,
    port: 0,
    pollMs: 50,
    limits: { perClient: UNLIMITED, perTwin: UNLIMITED },
    ...extra,
  });
  running.push(r);
  return r;
}

const twin = (name: string) => TwinIdentity.fromMnemonic(name, newMnemonic());
const code = (c: string) => (e: unknown) => e instanceof PhonebookError && e.code === c;

function update(id: TwinIdentity, twinId: number, nonce: number, port = nonce) {
  return signTx(id, {
    kind: 'twin.update',
    twin: twinId,
    nonce,
    timestamp: Date.now(),
    addresses: [`/ip4/127.0.0.1/tcp/${port}`],
    relays: [],
  });
}

async function proofOf(url: string, ref: string): Promise<{ proof: TwinProof; bytes: number }> {
  const text = await (await fetch(`${url}/v1/twins/${ref}`)).text();
  return { proof: JSON.parse(text) as TwinProof, bytes: Buffer.byteLength(text) };
}

/** A client whose backend alters the proofs the real server sends. */
function lying(real: PhonebookBackend, mutate: (p: TwinProof) => void | Promise<void>): PhonebookClient {
  return new PhonebookClient({
    backend: Object.assign(Object.create(real) as PhonebookBackend, {
      twinProof: async (ref: string | number) => {
        const p = structuredClone(await real.twinProof(ref));
        if (p) await mutate(p);
        return p;
      },
    }),
  });
}

describe('bounded lookup proofs', () => {
  test("a twin's proof does not grow with its history (updates, a rotation, farms)", async () => {
    const pb = await server();
    const client = new PhonebookClient({ url: pb.url, serverKey: pb.service.serverKey });
    let zoe = twin('zoe');
    const z = await client.publish(zoe);
    for (let i = 0; i < 5; i++) await client.publish(twin(`crowd-${i}`));
    let nonce = 0;
    const next = twin('zoe');
    await client.rotate(zoe, next);
    zoe = next;
    nonce++;
    const farm = () =>
      client.submit(
        signTx(zoe, {
          kind: 'farm.create',
          twin: z.id,
          nonce: ++nonce,
          timestamp: Date.now(),
          name: `zoe-farm-${nonce}`,
        }),
      );
    for (let i = 0; i < 10; i++) await client.submit(update(zoe, z.id, ++nonce));
    await farm();
    const early = await proofOf(pb.url, 'zoe');
    for (let i = 0; i < 300; i++) await client.submit(update(zoe, z.id, ++nonce));
    await farm();
    const late = await proofOf(pb.url, 'zoe');
    // registration, rotation, last update, latest (the farm): four entries, then and now
    assert.equal(early.proof.entries.length, 4);
    assert.equal(late.proof.entries.length, 4);
    // only the paths grow, by log2 of the ledger's height; the rest stays the same size
    const withoutPaths = (p: TwinProof) =>
      JSON.stringify({ ...p, entries: p.entries.map((e) => ({ ...e, path: [] })) }).length;
    for (const { proof } of [early, late])
      for (const e of proof.entries)
        assert.ok(e.path.length <= Math.ceil(Math.log2(proof.checkpoint.checkpoint.height)));
    assert.ok(
      Math.abs(withoutPaths(late.proof) - withoutPaths(early.proof)) < 256,
      `${early.bytes} → ${late.bytes} bytes`,
    );
    assert.ok(late.bytes < 8192, `${late.bytes} bytes`);
    const record = await client.twin('zoe', true);
    assert.equal(record.nonce, nonce);
    assert.equal(record.signingKey, Buffer.from(zoe.signingPublicKey).toString('base64'));
    assert.deepEqual(record.addresses, [`/ip4/127.0.0.1/tcp/${nonce - 1}`]);
  });

  test('mixing in an older entry, a doctored meta or a foreign checkpoint is caught', async () => {
    const pb = await server();
    const honest = new PhonebookClient({ url: pb.url });
    const amy = twin('amy');
    const a = await honest.publish(amy, ['/ip4/127.0.0.1/tcp/1']);
    await honest.submit(update(amy, a.id, 1, 11));
    const stale = structuredClone(await honest.backend.twinProof('amy'))!;
    await honest.submit(update(amy, a.id, 2, 22));
    await honest.submit(
      signTx(amy, { kind: 'farm.create', twin: a.id, nonce: 3, timestamp: Date.now(), name: 'amy-farm' }),
    );
    assert.deepEqual((await honest.twin('amy', true)).addresses, ['/ip4/127.0.0.1/tcp/22']);

    // the server shows the older address entry (with the record to match) beside the latest one
    const mixed = lying(honest.backend, (p) => {
      const old = stale.entries.find((e) => e.height === stale.entries.at(-1)!.height)!;
      p.entries = [p.entries[0]!, old, p.entries.at(-1)!];
      p.twin.addresses = ['/ip4/127.0.0.1/tcp/11'];
    });
    await assert.rejects(mixed.twin('amy'), code('unverified'));
    // a whole stale proof is self-consistent: what one lookup cannot see (documented)
    assert.deepEqual(
      (await lying(honest.backend, (p) => void Object.assign(p, stale)).twin('amy')).addresses,
      ['/ip4/127.0.0.1/tcp/11'],
    );
    // an entry signed by another key, with the meta claiming that key: not in the signed tree
    const mallory = twin('mallory');
    const forged = update(mallory, a.id, 2, 666);
    const swapped = lying(honest.backend, (p) => {
      const i = p.entries.findIndex((e) => e.height === p.entries.at(-1)!.meta.addresses);
      Object.assign(p.entries[i]!, forged, { meta: { ...p.entries[i]!.meta } });
      for (const e of p.entries) e.meta.signer = Buffer.from(mallory.signingPublicKey).toString('base64');
      p.twin.addresses = ['/ip4/127.0.0.1/tcp/666'];
    });
    await assert.rejects(swapped.twin('amy'), code('unverified'));
    // a checkpoint re-signed by another server key, or with a different root
    const other = twin('other-server');
    const resigned = lying(honest.backend, (p) => {
      p.checkpoint.serverKey = Buffer.from(other.signingPublicKey).toString('base64');
    });
    await assert.rejects(resigned.twin('amy'), code('unverified'));
    const reroot = lying(honest.backend, (p) => {
      p.checkpoint.checkpoint.root = '0'.repeat(64);
    });
    await assert.rejects(reroot.twin('amy'), code('unverified'));
    // malformed proofs are refused as unverified, not with a TypeError
    for (const junk of [{ twin: 1 }, { twin: {}, entries: 'x', checkpoint: null }])
      await assert.rejects(
        lying(honest.backend, (p) => Object.assign(p, junk)).twin('amy'),
        code('unverified'),
      );
  });

  test('consistency proofs show each checkpoint extends the one before', async () => {
    const pb = await server();
    const client = new PhonebookClient({ url: pb.url });
    for (let i = 0; i < 5; i++) await client.publish(twin(`cons-${i}`));
    const first = (await client.checkpoint()).checkpoint;
    for (let i = 5; i < 12; i++) await client.publish(twin(`cons-${i}`));
    const second = (await client.checkpoint()).checkpoint;
    const res = await fetch(`${pb.url}/v1/consistency?from=${first.height}&to=${second.height}`);
    const { proof } = (await res.json()) as { proof: string[] };
    const hex = (s: string) => Buffer.from(s, 'hex');
    assert.ok(
      verifyConsistency(first.height, second.height, hex(first.root), hex(second.root), proof.map(hex)),
    );
    assert.ok(
      !verifyConsistency(first.height, second.height, hex(second.root), hex(second.root), proof.map(hex)),
    );
    assert.equal((await fetch(`${pb.url}/v1/consistency?from=9&to=99`)).status, 400);
  });

  test("a replica refuses an upstream whose signed root is not its entries' root", async () => {
    const pb = await server();
    const client = new PhonebookClient({ url: pb.url });
    await client.publish(twin('ben'));
    // a front for the real server, which signs (with the real server's key) a root of its own
    const front = Fastify();
    front.get('/v1/checkpoint', async () => {
      const c = structuredClone(pb.service.checkpoint()) as SignedCheckpoint;
      c.checkpoint.root = 'ab'.repeat(32);
      const { checkpointBytes } = await import('../src/ledger.ts');
      c.signature = Buffer.from(
        pb.service.key.sign('twin/phonebook/checkpoint/v1', checkpointBytes(c.checkpoint)),
      ).toString('base64');
      return c;
    });
    front.get('/v1/ledger', async (req) => {
      const q = req.query as { from: string; limit: string };
      return { height: pb.service.state.height, entries: pb.service.ledger(Number(q.from), Number(q.limit)) };
    });
    await front.listen({ host: '127.0.0.1', port: 0 });
    closers.push(() => front.close());
    const address = front.server.address() as { port: number };
    const replica = await server({ follow: `http://127.0.0.1:${address.port}` });
    assert.match(replica.replica!.fork ?? '', /Merkle root/);
    assert.equal((await fetch(`${replica.url}/health`)).status, 503);
  });

  test('a client keeps the newest checkpoint it saw: a rolled-back view or a second history is refused', async () => {
    // two servers with the same key: one honest, one showing a rolled-back, then a forked history
    const honest = await server();
    const writer = new PhonebookClient({ url: honest.url });
    await writer.publish(twin('dan'));
    await writer.publish(twin('eli'));
    const dataDir = mkdtempSync(join(tmpdir(), 'phonebook-'));
    dirs.push(dataDir);
    cpSync(join(honest.service.dataDir, 'server-key'), join(dataDir, 'server-key'), { recursive: true });
    const liar = await server({ dataDir });
    const liarWriter = new PhonebookClient({ url: liar.url });
    // the same two registrations (the same signed bytes), so far one history
    for (const e of honest.service.ledger(1, 10))
      await liarWriter.submit({ tx: e.tx, signature: e.signature });
    assert.equal(liar.service.state.head, honest.service.state.head);
    for (let i = 0; i < 3; i++) await writer.publish(twin(`fay-${i}`));

    let target = honest.url;
    const backends = new Map([honest.url, liar.url].map((u) => [u, new PhonebookClient({ url: u }).backend]));
    const switching = new Proxy({} as PhonebookBackend, {
      get: (_t, prop: keyof PhonebookBackend) => {
        const b = backends.get(target)!;
        const v = b[prop];
        return typeof v === 'function' ? v.bind(b) : v;
      },
    });
    const client = new PhonebookClient({
      backend: switching,
      serverKey: honest.service.serverKey,
      checkpointGraceMs: 0,
      cacheTtlMs: 0,
    });
    assert.equal((await client.twin('dan')).id, 1); // sees checkpoint 5
    target = liar.url;
    await assert.rejects(client.twin('dan'), code('unverified')); // checkpoint 2: rolled back
    await new PhonebookClient({ url: liar.url }).publish(twin('gus')); // 3, a different entry 3
    for (let i = 0; i < 3; i++) await new PhonebookClient({ url: liar.url }).publish(twin(`hal-${i}`));
    await assert.rejects(client.twin('dan'), code('unverified')); // checkpoint 6 does not extend 5
    target = honest.url;
    for (let i = 3; i < 5; i++) await writer.publish(twin(`fay-${i}`));
    assert.equal((await client.twin('eli')).id, 2); // checkpoint 7 extends 5
    // a fresh client of the liar alone sees one consistent history, and accepts it
    assert.equal((await new PhonebookClient({ url: liar.url }).twin('gus')).id, 3);
  });

  test('a replica serves proofs under the checkpoint it relays', async () => {
    const pb = await server();
    const client = new PhonebookClient({ url: pb.url });
    const cat = twin('cat');
    const c = await client.publish(cat);
    const replica = await server({ follow: pb.url });
    for (let n = 1; n <= 30; n++) await client.submit(update(cat, c.id, n));
    await replica.replica!.sync();
    const viaReplica = new PhonebookClient({ url: replica.url, serverKey: pb.service.serverKey });
    assert.equal((await viaReplica.twin('cat')).nonce, 30);
    const { proof } = await proofOf(replica.url, 'cat');
    assert.equal(proof.checkpoint.checkpoint.height, replica.service.state.height);
    // restarted while its upstream is down, it still serves what it verified, under that checkpoint
    const dataDir = replica.service.dataDir;
    await replica.close();
    await pb.close();
    const again = await server({ dataDir, follow: pb.url });
    assert.ok(again.replica!.lastError);
    assert.equal(
      (await new PhonebookClient({ url: again.url, serverKey: pb.service.serverKey }).twin('cat')).nonce,
      30,
    );
  });
});
