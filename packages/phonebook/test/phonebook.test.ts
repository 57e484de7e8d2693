import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { newMnemonic, TwinIdentity } from '@twin/identity';
import Database from 'better-sqlite3';
import {
  type PhonebookBackend,
  PhonebookClient,
  PhonebookError,
  type RunningPhonebook,
  signTx,
  startPhonebook,
  type TwinProof,
} from '../src/index.ts';

const dirs: string[] = [];
const running: RunningPhonebook[] = [];
after(async () => {
  for (const r of running) await r.close().catch(() => {});
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function dir(): string {
  const d = mkdtempSync(join(tmpdir(), 'phonebook-'));
  dirs.push(d);
  return d;
}

async function server(
  dataDir = dir(),
  extra: { follow?: string; port?: number } = {},
): Promise<RunningPhonebook> {
  const r = await startPhonebook({ dataDir, port: extra.port ?? 0, follow: extra.follow, pollMs: 50 });
  running.push(r);
  return r;
}

const twin = (name: string) => TwinIdentity.fromMnemonic(name, newMnemonic());
const code = (c: PhonebookError['code']) => (e: unknown) => e instanceof PhonebookError && e.code === c;
const b64 = (u: Uint8Array) => Buffer.from(u).toString('base64');

function registerTx(id: TwinIdentity, name = id.name) {
  return signTx(id, {
    kind: 'twin.register',
    name,
    signingKey: b64(id.signingPublicKey),
    encryptionKey: b64(id.encryptionPublicKey),
    addresses: [],
    relays: [],
    nonce: 0,
    timestamp: Date.now(),
  });
}

describe('phonebook server and client', () => {
  test('register, update, rotate, delete — each verified by the client', async () => {
    const pb = await server();
    const client = new PhonebookClient({ url: pb.url, serverKey: pb.service.serverKey });
    const alice = twin('alice');
    const r1 = await client.publish(alice, ['/ip4/127.0.0.1/tcp/4001']);
    assert.equal(r1.id, 1);
    assert.equal(r1.name, 'alice');
    assert.deepEqual(r1.addresses, ['/ip4/127.0.0.1/tcp/4001']);
    const r2 = await client.publish(alice, ['/ip4/10.0.0.1/tcp/4001'], ['/dns4/relay/tcp/1']);
    assert.equal(r2.nonce, 1);
    assert.deepEqual(r2.relays, ['/dns4/relay/tcp/1']);
    assert.deepEqual((await client.twin('alice', true)).addresses, ['/ip4/10.0.0.1/tcp/4001']);

    const alice2 = TwinIdentity.fromMnemonic('alice', newMnemonic());
    const rotated = await client.rotate(alice, alice2);
    assert.equal(rotated.signingKey, b64(alice2.signingPublicKey));
    assert.equal(rotated.id, 1);
    // the old key can no longer act
    await assert.rejects(
      client.submit(
        signTx(alice, {
          kind: 'twin.update',
          twin: 1,
          nonce: rotated.nonce + 1,
          timestamp: Date.now(),
          addresses: [],
          relays: [],
        }),
      ),
      code('bad_signature'),
    );
    const upd = await client.publish(alice2, ['/ip4/1.2.3.4/tcp/1']);
    assert.deepEqual(upd.addresses, ['/ip4/1.2.3.4/tcp/1']);

    await client.submit(
      signTx(alice2, { kind: 'twin.delete', twin: 1, nonce: upd.nonce + 1, timestamp: Date.now() }),
    );
    await assert.rejects(client.twin('alice', true), code('not_found'));
    // the name is free again; the id is never reused
    const again = await client.publish(twin('alice'));
    assert.equal(again.id, 2);
  });

  test('names: first come first served, case-insensitive, lowercase only', async () => {
    const pb = await server();
    const client = new PhonebookClient({ url: pb.url });
    await client.publish(twin('bob'));
    await assert.rejects(client.submit(registerTx(twin('bob'))), code('name_taken'));
    await assert.rejects(client.submit(registerTx(twin('x'), 'BOB')), code('bad_name'));
    await assert.rejects(client.submit(registerTx(twin('x'), 'ab')), code('bad_name'));
    await assert.rejects(client.submit(registerTx(twin('x'), '-bad')), code('bad_name'));
    const carol = twin('carol');
    await client.publish(carol);
    await assert.rejects(client.submit(registerTx(carol, 'carol2')), code('key_taken'));
  });

  test("an update signed by another twin's key is refused; a replayed transaction is refused", async () => {
    const pb = await server();
    const client = new PhonebookClient({ url: pb.url });
    const dave = twin('dave');
    const eve = twin('eve');
    const d = await client.publish(dave);
    await client.publish(eve);
    const forged = signTx(eve, {
      kind: 'twin.update',
      twin: d.id,
      nonce: 1,
      timestamp: Date.now(),
      addresses: ['/ip4/6.6.6.6/tcp/1'],
      relays: [],
    });
    await assert.rejects(client.submit(forged), code('bad_signature'));
    const legit = signTx(dave, {
      kind: 'twin.update',
      twin: d.id,
      nonce: 1,
      timestamp: Date.now(),
      addresses: ['/ip4/1.1.1.1/tcp/1'],
      relays: [],
    });
    await client.submit(legit);
    await assert.rejects(client.submit(legit), code('bad_nonce'));
    await assert.rejects(client.submit(registerTx(dave)), code('name_taken'));
    assert.deepEqual((await client.twin('dave', true)).addresses, ['/ip4/1.1.1.1/tcp/1']);
  });

  test('concurrent writes of one twin through submitAs each take the next nonce', async () => {
    const pb = await server();
    const client = new PhonebookClient({ url: pb.url });
    const olga = twin('olga');
    const first = await client.publish(olga);
    await Promise.all(
      [1, 2, 3].map((i) =>
        client.submitAs(olga, (me, nonce, timestamp) => ({
          kind: 'twin.update',
          twin: me.id,
          nonce,
          timestamp,
          addresses: [`/ip4/127.0.0.${i}/tcp/1`],
          relays: [],
        })),
      ),
    );
    assert.equal((await client.twin('olga', true)).nonce, first.nonce + 3);
  });

  test('farms and nodes belong to their twin', async () => {
    const pb = await server();
    const client = new PhonebookClient({ url: pb.url });
    const farmer = twin('farmer');
    const other = twin('other');
    const f = await client.publish(farmer);
    const o = await client.publish(other);
    const farm = await client.submit(
      signTx(farmer, { kind: 'farm.create', twin: f.id, nonce: 1, timestamp: 1, name: 'green-farm' }),
    );
    assert.equal(farm.farm, 1);
    const node = await client.submit(
      signTx(farmer, {
        kind: 'node.create',
        twin: f.id,
        nonce: 2,
        timestamp: 2,
        farm: 1,
        capacity: { cpu: 8, memory: 32 << 30, storage: 1 << 40 },
        location: { country: 'BE', city: 'Ghent' },
        addresses: ['/ip4/127.0.0.1/tcp/7000'],
      }),
    );
    assert.equal(node.node, 1);
    await assert.rejects(
      client.submit(
        signTx(other, { kind: 'farm.update', twin: o.id, nonce: 1, timestamp: 3, farm: 1, name: 'stolen' }),
      ),
      code('forbidden'),
    );
    await assert.rejects(
      client.submit(
        signTx(other, { kind: 'farm.create', twin: o.id, nonce: 1, timestamp: 3, name: 'GREEN-farm' }),
      ),
      code('bad_name'),
    );
    await assert.rejects(
      client.submit(
        signTx(other, { kind: 'farm.create', twin: o.id, nonce: 1, timestamp: 3, name: 'green-farm' }),
      ),
      code('name_taken'),
    );
    assert.equal((await client.backend.nodes())[0]!.capacity.cpu, 8);
    // the farmer's record still verifies with its farm and node entries in the proof
    assert.equal((await client.twin('farmer', true)).nonce, 2);
  });

  test('bad input gets a 4xx with {code, message}', async () => {
    const pb = await server();
    const post = (body: unknown) =>
      fetch(`${pb.url}/v1/transactions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    for (const body of [{}, { tx: 'not base64 json', signature: 'x' }, { tx: 1 }]) {
      const res = await post(body);
      assert.equal(res.status, 400);
      const json = (await res.json()) as { code: string; message: string };
      assert.equal(typeof json.code, 'string');
      assert.ok(json.message.length > 0);
    }
    // non-canonical bytes of an otherwise valid, well-signed transaction
    const id = twin('frank');
    const tx = {
      kind: 'twin.register',
      name: 'frank',
      signingKey: b64(id.signingPublicKey),
      encryptionKey: b64(id.encryptionPublicKey),
      addresses: [],
      relays: [],
      nonce: 0,
      timestamp: 1,
    };
    const bytes = Buffer.from(JSON.stringify(tx, null, 1));
    const res = await post({
      tx: bytes.toString('base64'),
      signature: b64(id.sign('twin/phonebook/tx/v1', bytes)),
    });
    assert.equal(res.status, 400);
    assert.match(((await res.json()) as { message: string }).message, /canonical/);
    const bad = await fetch(`${pb.url}/v1/transactions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{not json',
    });
    assert.equal(bad.status, 400);
    assert.equal((await fetch(`${pb.url}/v1/twins/nobody`)).status, 404);
    assert.equal((await fetch(`${pb.url}/health`)).status, 200);
    assert.match(await (await fetch(`${pb.url}/metrics`)).text(), /phonebook_ledger_height 0/);
  });

  test('a restarted server reloads its ledger and keeps its key', async () => {
    const data = dir();
    const pb = await server(data);
    const client = new PhonebookClient({ url: pb.url });
    await client.publish(twin('grace'), ['/ip4/127.0.0.1/tcp/1']);
    const key = pb.service.serverKey;
    const head = pb.service.state.head;
    await pb.close();
    const pb2 = await server(data);
    assert.equal(pb2.service.serverKey, key);
    assert.equal(pb2.service.state.head, head);
    assert.equal((await new PhonebookClient({ url: pb2.url, serverKey: key }).twin('grace')).id, 1);
  });
});

describe('verification', () => {
  test('the client rejects a record whose signature or contents were doctored', async () => {
    const pb = await server();
    const honest = new PhonebookClient({ url: pb.url });
    const heidi = twin('heidi');
    await honest.publish(heidi, ['/ip4/127.0.0.1/tcp/1']);
    const lie = (mutate: (p: TwinProof) => void): PhonebookBackend => {
      const real = honest.backend;
      return Object.assign(Object.create(real) as PhonebookBackend, {
        twinProof: async (ref: string | number) => {
          const p = structuredClone(await real.twinProof(ref));
          if (p) mutate(p);
          return p;
        },
      });
    };
    const changedAddress = new PhonebookClient({
      backend: lie((p) => (p.twin.addresses = ['/ip4/6.6.6.6/tcp/1'])),
    });
    await assert.rejects(changedAddress.twin('heidi'), code('unverified'));
    const badSignature = new PhonebookClient({
      backend: lie((p) => {
        const sig = Buffer.from(p.entries[0]!.signature, 'base64');
        sig[5] = sig[5]! ^ 1;
        p.entries[0]!.signature = sig.toString('base64');
      }),
    });
    await assert.rejects(badSignature.twin('heidi'), code('unverified'));
    const swappedKey = new PhonebookClient({
      backend: lie((p) => {
        // an attacker substitutes their own key in the record (and the register tx they cannot sign)
        p.twin.signingKey = b64(twin('mallory').signingPublicKey);
      }),
    });
    await assert.rejects(swappedKey.twin('heidi'), code('unverified'));
    const wrongTwin = new PhonebookClient({ backend: lie((p) => (p.twin.name = 'ivan')) });
    await assert.rejects(wrongTwin.twin('heidi'), code('unverified'));
    const pinnedWrong = new PhonebookClient({ url: pb.url, serverKey: b64(twin('x').signingPublicKey) });
    await assert.rejects(pinnedWrong.twin('heidi'), code('unverified'));
  });

  test('a replica serves verified records and relays the signed checkpoint', async () => {
    const pb = await server();
    const client = new PhonebookClient({ url: pb.url });
    const judy = twin('judy');
    await client.publish(judy, ['/ip4/127.0.0.1/tcp/9']);
    const replica = await server(dir(), { follow: pb.url });
    const viaReplica = new PhonebookClient({ url: replica.url, serverKey: pb.service.serverKey });
    assert.deepEqual((await viaReplica.twin('judy')).addresses, ['/ip4/127.0.0.1/tcp/9']);
    await client.publish(twin('kim'));
    await replica.replica!.sync();
    assert.equal((await viaReplica.twin('kim')).id, 2);
    // a poll that finds the same checkpoint does not write it again
    const saved = join(replica.service.dataDir, 'checkpoint.json');
    const before = readFileSync(saved, 'utf8');
    rmSync(saved);
    await replica.replica!.sync();
    assert.equal(existsSync(saved), false, 'an unchanged checkpoint is not rewritten');
    await client.publish(twin('kit'));
    await replica.replica!.sync();
    assert.notEqual(readFileSync(saved, 'utf8'), before, 'a new checkpoint is saved');
    const refused = await fetch(`${replica.url}/v1/transactions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(refused.status, 403);
    assert.equal(((await refused.json()) as { code: string }).code, 'read_only');
  });

  test('a replica detects a server that rewrites an earlier entry, and refuses it', async () => {
    const data = dir();
    let pb = await server(data);
    const port = pb.port;
    const client = new PhonebookClient({ url: pb.url });
    await client.publish(twin('leo'));
    await client.publish(twin('mia'));
    const replica = await server(dir(), { follow: pb.url });
    assert.equal(replica.service.state.height, 2);
    // The server (with its real key) drops entry 2 and writes a different history in its place.
    await pb.close();
    const db = new Database(join(data, 'ledger.sqlite'));
    db.prepare('DELETE FROM entries WHERE height >= 2').run();
    db.close();
    pb = await server(data, { port });
    await new PhonebookClient({ url: pb.url }).publish(twin('nina'));
    await replica.replica!.sync();
    assert.match(replica.replica!.fork ?? '', /differs from ours|rewritten/);
    const health = await fetch(`${replica.url}/health`);
    assert.equal(health.status, 503);
    // the replica keeps serving the history it verified
    assert.equal((await new PhonebookClient({ url: replica.url }).twin('mia')).id, 2);
    await assert.rejects(new PhonebookClient({ url: replica.url }).twin('nina'), code('not_found'));
  });
});
