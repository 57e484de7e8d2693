/** Issue 10 (items 9–11): replays after deletion, names, strict schemas, timestamps, sizes, rate limits. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { newMnemonic, TwinIdentity } from '@twin/identity';
import {
  canonicalBytes,
  PhonebookClient,
  PhonebookError,
  type PhonebookServerOptions,
  type RunningPhonebook,
  type SignedTx,
  signTx,
  startPhonebook,
  TX_CONTEXT,
} from '../src/index.ts';

const dirs: string[] = [];
const running: RunningPhonebook[] = [];
after(async () => {
  for (const r of running) await r.close().catch(() => {});
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function server(extra: Partial<PhonebookServerOptions> = {}): Promise<RunningPhonebook> {
  const dataDir = mkdtempSync(join(tmpdir(), 'phonebook-'));
  dirs.push(dataDir);
  const r = await startPhonebook({ dataDir, port: 0, pollMs: 50, ...extra });
  running.push(r);
  return r;
}

const twin = (name: string) => TwinIdentity.fromMnemonic(name, newMnemonic());
const code = (c: string) => (e: unknown) => e instanceof PhonebookError && e.code === c;
const DAY = 24 * 3600_000;
const b64 = (u: Uint8Array) => Buffer.from(u).toString('base64');

function registerTx(id: TwinIdentity, name = id.name, extra: Record<string, unknown> = {}) {
  return signTx(id, {
    kind: 'twin.register',
    name,
    signingKey: b64(id.signingPublicKey),
    encryptionKey: b64(id.encryptionPublicKey),
    addresses: [],
    relays: [],
    nonce: 0,
    timestamp: Date.now(),
    ...extra,
  } as Parameters<typeof signTx>[1]);
}

/** Signs arbitrary JSON as a transaction (for fields the typed signTx would not allow). */
function signRaw(id: TwinIdentity, tx: Record<string, unknown>): SignedTx {
  const bytes = canonicalBytes(tx as never);
  return { tx: bytes.toString('base64'), signature: b64(id.sign(TX_CONTEXT, bytes)) };
}

async function post(url: string, body: unknown): Promise<{ status: number; json: Record<string, string> }> {
  const res = await fetch(`${url}/v1/transactions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, string> };
}

describe('deletion is final', () => {
  test("replaying a deleted twin's registration from the public ledger does not resurrect it", async () => {
    const pb = await server();
    const client = new PhonebookClient({ url: pb.url });
    const olga = twin('olga');
    const original = registerTx(olga);
    await client.submit(original);
    await client.submit(signTx(olga, { kind: 'twin.delete', twin: 1, nonce: 1, timestamp: Date.now() }));
    // the original registration is public: anyone can read it from the ledger and submit it again
    const fromLedger = (await client.backend.ledger(1, 1)).entries[0]!;
    await assert.rejects(
      client.submit({ tx: fromLedger.tx, signature: fromLedger.signature }),
      code('key_retired'),
    );
    assert.deepEqual(original.tx, fromLedger.tx);
    await assert.rejects(client.twin('olga', true), code('not_found'));
    // the same key cannot come back with a fresh registration either (its nonces are spent)
    await assert.rejects(client.submit(registerTx(olga, 'olga2')), code('key_retired'));
    // the name is free for someone else
    assert.equal((await client.publish(twin('olga'))).id, 2);
  });

  test('a key rotated away can neither be registered again nor rotated back into', async () => {
    const pb = await server();
    const client = new PhonebookClient({ url: pb.url });
    const k1 = twin('pete');
    const k2 = twin('pete');
    await client.publish(k1);
    await client.rotate(k1, k2);
    await assert.rejects(client.submit(registerTx(k1, 'pete-again')), code('key_retired'));
    await assert.rejects(client.rotate(k2, k1), code('key_retired'));
  });
});

describe('transactions are strict', () => {
  test('all-digit names are refused (they would read as ids)', async () => {
    const pb = await server();
    const client = new PhonebookClient({ url: pb.url });
    await assert.rejects(client.submit(registerTx(twin('x'), '100')), code('bad_name'));
    await assert.rejects(client.submit(registerTx(twin('x'), '0042')), code('bad_name'));
    // digits mixed with anything else are still names
    assert.equal((await client.publish(twin('100a'))).name, '100a');
    const f = await client.twin('100a');
    await assert.rejects(
      client.submit(
        signTx(twin('100a'), { kind: 'farm.create', twin: f.id, nonce: 1, timestamp: 1, name: '7' }),
      ),
      (e) => e instanceof PhonebookError,
    );
  });

  test('unknown fields are refused, at every level, before anything is signed into the ledger', async () => {
    const pb = await server();
    const client = new PhonebookClient({ url: pb.url });
    await assert.rejects(
      client.submit(registerTx(twin('quinn'), 'quinn', { admin: true })),
      code('bad_request'),
    );
    const rita = twin('rita');
    const r = await client.publish(rita);
    await assert.rejects(
      client.submit(
        signRaw(rita, {
          kind: 'farm.create',
          twin: r.id,
          nonce: 1,
          timestamp: Date.now(),
          name: 'rita-farm',
          owner: 1,
        }),
      ),
      code('bad_request'),
    );
    await client.submit(
      signTx(rita, { kind: 'farm.create', twin: r.id, nonce: 1, timestamp: Date.now(), name: 'rita-farm' }),
    );
    await assert.rejects(
      client.submit(
        signRaw(rita, {
          kind: 'node.create',
          twin: r.id,
          nonce: 2,
          timestamp: Date.now(),
          farm: 1,
          capacity: { cpu: 1, memory: 1, storage: 1, gpu: 9 },
          location: { country: 'BE', city: 'Ghent' },
          addresses: [],
        }),
      ),
      code('bad_request'),
    );
    // extra fields beside the signed transaction in the request body are refused too
    const ok = registerTx(twin('sam'));
    const res = await post(pb.url, { ...ok, admin: true });
    assert.equal(res.status, 400);
    assert.equal(res.json.code, 'bad_request');
    assert.equal(pb.service.state.height, 2);
  });

  test('timestamps far in the future are refused', async () => {
    const pb = await server();
    const client = new PhonebookClient({ url: pb.url });
    const tess = twin('tess');
    await assert.rejects(
      client.submit(registerTx(tess, 'tess', { timestamp: Date.now() + DAY })),
      code('bad_timestamp'),
    );
    await assert.rejects(
      client.submit(registerTx(tess, 'tess', { timestamp: 8.64e15 })),
      (e) => e instanceof PhonebookError && (e.code === 'bad_timestamp' || e.code === 'bad_request'),
    );
    const r = await client.publish(tess);
    await assert.rejects(
      client.submit(
        signTx(tess, {
          kind: 'twin.update',
          twin: r.id,
          nonce: 1,
          timestamp: Date.now() + 30 * DAY,
          addresses: [],
          relays: [],
        }),
      ),
      code('bad_timestamp'),
    );
    // a little clock skew is fine
    await client.submit(
      signTx(tess, {
        kind: 'twin.update',
        twin: r.id,
        nonce: 1,
        timestamp: Date.now() + 5_000,
        addresses: ['/ip4/127.0.0.1/tcp/1'],
        relays: [],
      }),
    );
  });
});

describe('sizes are bounded', () => {
  test('a ~14 KB registration, an oversized field, transaction or body is refused with too_large', async () => {
    const pb = await server();
    const id = twin('uma');
    const big = registerTx(id, 'uma', {
      addresses: Array.from({ length: 32 }, (_, i) => `/dns4/${'a'.repeat(400)}/tcp/${i}`),
    });
    assert.ok(Buffer.from(big.tx, 'base64').length > 13_000);
    let res = await post(pb.url, big);
    assert.equal(res.status, 413);
    assert.equal(res.json.code, 'too_large');
    res = await post(pb.url, registerTx(id, 'uma', { addresses: [`/dns4/${'a'.repeat(300)}/tcp/1`] }));
    assert.equal(res.json.code, 'too_large');
    // every field within its bound, the whole transaction over MAX_TX_BYTES
    const many = Array.from({ length: 8 }, (_, i) => `/dns4/${'b'.repeat(240)}/tcp/${i}`);
    res = await post(pb.url, registerTx(id, 'uma', { addresses: many, relays: many }));
    assert.equal(res.status, 413);
    assert.equal(res.json.code, 'too_large');
    const raw = await fetch(`${pb.url}/v1/transactions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ tx: 'A'.repeat(100_000), signature: 'x' }),
    });
    assert.equal(raw.status, 413);
    assert.equal(((await raw.json()) as { code: string }).code, 'too_large');
    assert.equal(pb.service.state.height, 0);
    // a normal registration still goes through
    assert.equal((await post(pb.url, registerTx(id, 'uma', { addresses: many.slice(0, 4) }))).status, 200);
  });
});

describe('writes are rate limited', () => {
  const slow = { burst: 3, refillMs: 3_600_000 };
  const plenty = { burst: 1000, refillMs: 1 };

  test('per client: a burst, then 429 rate_limited with Retry-After', async () => {
    const pb = await server({ limits: { perClient: slow, perTwin: plenty } });
    for (let i = 0; i < 3; i++) assert.equal((await post(pb.url, registerTx(twin(`vic-${i}`)))).status, 200);
    const res = await fetch(`${pb.url}/v1/transactions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(registerTx(twin('vic-3'))),
    });
    assert.equal(res.status, 429);
    assert.ok(Number(res.headers.get('retry-after')) > 0);
    const body = (await res.json()) as { code: string; message: string };
    assert.equal(body.code, 'rate_limited');
    assert.ok(body.message.length > 0);
    assert.equal(pb.service.state.height, 3);
    // the HTTP client maps it to a typed error; reads are not limited
    await assert.rejects(
      new PhonebookClient({ url: pb.url }).submit(registerTx(twin('vic-4'))),
      (e) => code('rate_limited')(e) && ((e as PhonebookError).retryAfterMs ?? 0) > 0,
    );
    assert.equal((await new PhonebookClient({ url: pb.url }).twin('vic-0')).id, 1);
    assert.match(await (await fetch(`${pb.url}/metrics`)).text(), /result="rate_limited"} 2/);
  });

  test("per twin: its own writes are limited; a stranger's forgeries do not use up its budget", async () => {
    const pb = await server({ limits: { perClient: plenty, perTwin: slow } });
    const client = new PhonebookClient({ url: pb.url });
    const wes = twin('wes');
    const w = await client.publish(wes); // 1 of 3
    const update = (by: TwinIdentity, nonce: number) =>
      client.submit(
        signTx(by, {
          kind: 'twin.update',
          twin: w.id,
          nonce,
          timestamp: Date.now(),
          addresses: [`/ip4/127.0.0.1/tcp/${nonce}`],
          relays: [],
        }),
      );
    const mallory = twin('mallory');
    for (let i = 0; i < 5; i++) await assert.rejects(update(mallory, 1), code('bad_signature'));
    await update(wes, 1); // 2 of 3
    await update(wes, 2); // 3 of 3
    await assert.rejects(update(wes, 3), code('rate_limited'));
    // other twins are not affected
    await client.publish(twin('xena'));
  });

  test('a replica following its upstream is not throttled by its own limits', async () => {
    const pb = await server({ limits: { perClient: plenty, perTwin: plenty } });
    const client = new PhonebookClient({ url: pb.url });
    for (let i = 0; i < 12; i++) await client.publish(twin(`yan-${i}`));
    const tiny = { burst: 1, refillMs: 3_600_000 };
    const replica = await server({ follow: pb.url, limits: { perClient: tiny, perTwin: tiny } });
    await replica.replica!.sync();
    assert.equal(replica.service.state.height, 12);
    assert.equal((await new PhonebookClient({ url: replica.url }).twin('yan-11')).id, 12);
  });
});

describe('publishing', () => {
  test('publish without addresses (or relays) keeps the current ones; an empty list clears them', async () => {
    const pb = await server();
    const client = new PhonebookClient({ url: pb.url });
    const zed = twin('zed');
    await client.publish(zed, ['/ip4/127.0.0.1/tcp/1'], ['/ip4/127.0.0.1/tcp/9']);
    const kept = await client.publish(zed);
    assert.deepEqual(kept.addresses, ['/ip4/127.0.0.1/tcp/1']);
    assert.deepEqual(kept.relays, ['/ip4/127.0.0.1/tcp/9']);
    assert.equal(kept.nonce, 0, 'nothing changed, nothing written');
    const moved = await client.publish(zed, ['/ip4/127.0.0.1/tcp/2']);
    assert.deepEqual(moved.relays, ['/ip4/127.0.0.1/tcp/9']);
    assert.deepEqual((await client.publish(zed, [], [])).addresses, []);
  });
});
