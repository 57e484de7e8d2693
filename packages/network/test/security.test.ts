// The bus as an attacker sees it: who may speak as a twin on a connection, what a stranger can
// make a twin look up or hold, and what a peer can make the caller believe.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lpStream } from '@libp2p/utils';
import { multiaddr } from '@multiformats/multiaddr';
import { newMnemonic, TwinIdentity } from '@twin/identity';
import { HttpBackend, PhonebookClient } from '@twin/phonebook';
import {
  BUS_PROTOCOL,
  createTwinHost,
  DEFAULT_MAX_PAYLOAD,
  envelopeHeader,
  frameEnvelope,
  MAX_STREAM_INFLIGHT,
  NetworkError,
  openEnvelope,
  type TwinHost,
} from '../src/index.ts';
import { testNetwork } from './helpers.ts';

const net = testNetwork('security');

const code = (c: string) => (e: unknown) => e instanceof NetworkError && e.code === c;

/** A phonebook client that counts the lookups it sends to the server. */
function countingPhonebook() {
  const backend = new HttpBackend(net.url);
  const counts = { byId: 0, byKey: 0 };
  const twinProof = backend.twinProof.bind(backend);
  const twinProofByKey = backend.twinProofByKey.bind(backend);
  backend.twinProof = (ref) => {
    counts.byId++;
    return twinProof(ref);
  };
  backend.twinProofByKey = (key) => {
    counts.byKey++;
    return twinProofByKey(key);
  };
  return { phonebook: new PhonebookClient({ backend, cacheTtlMs: 0 }), counts };
}

const boot = (name: string, phonebook?: PhonebookClient) => net.boot(name, { phonebook });
const stranger = () => net.stranger();

const addr = (h: TwinHost) => multiaddr(h.getMultiaddrs()[0]!.toString());

test('a peer that is not the twin it claims is refused, and cannot make the receiver look it up per frame', async () => {
  const { phonebook, counts } = countingPhonebook();
  const bob = await boot('bob-claims', phonebook);
  bob.bus.handle('echo', (p, ctx) => Buffer.from(`${ctx.from}:${p}`));
  const alice = await boot('alice-claims');
  const mallory = await stranger(); // holds a key no twin record has
  const before = { ...counts };
  const stream = await mallory.dialProtocol(addr(bob.host), BUS_PROTOCOL);
  const lp = lpStream(stream);
  const codes: (string | undefined)[] = [];
  for (let i = 0; i < 50; i++) {
    await lp.write(frameEnvelope(envelopeHeader('request', alice.id, bob.id, 'echo'), Buffer.from('x')));
    codes.push(openEnvelope((await lp.read()).subarray()).header.error?.code);
  }
  await stream.close();
  assert.deepEqual(new Set(codes), new Set(['unknown_twin']));
  const lookups = counts.byId - before.byId + counts.byKey - before.byKey;
  assert.ok(lookups <= 2, `the receiver looked the sender up ${lookups} times for 50 frames`);
  // a registered twin speaking as another registered twin on its own connection
  const carol = await boot('carol-claims');
  const s2 = await carol.host.dialProtocol(addr(bob.host), BUS_PROTOCOL);
  const lp2 = lpStream(s2);
  await lp2.write(frameEnvelope(envelopeHeader('request', alice.id, bob.id, 'echo'), Buffer.from('x')));
  assert.equal(openEnvelope((await lp2.read()).subarray()).header.error?.code, 'bad_signature');
  await lp2.write(frameEnvelope(envelopeHeader('request', carol.id, bob.id, 'echo'), Buffer.from('y')));
  assert.equal(openEnvelope((await lp2.read()).subarray()).payload.toString(), `${carol.id}:y`);
  await s2.close();
});

test('a record whose addresses lead to another key is not dialled as that twin', async () => {
  const alice = await boot('alice-addr');
  const mallory = await stranger();
  const eve = TwinIdentity.fromMnemonic('eve-addr', newMnemonic());
  // eve publishes mallory's address as her own: whoever answers there must hold eve's key
  await new PhonebookClient({ url: net.url }).publish(eve, mallory.getMultiaddrs().map(String));
  await assert.rejects(alice.bus.request('eve-addr', 'echo', Buffer.alloc(0)), code('unreachable'));
});

test('after a twin rotates its key, a channel authenticated by the old key is not used', async () => {
  const alice = await boot('alice-rot');
  const bob = await boot('bob-rot');
  bob.bus.handle('echo', (p) => p);
  assert.equal((await alice.bus.request('bob-rot', 'echo', Buffer.from('a'))).toString(), 'a');
  // bob's key moves to a new identity; the old key's host still runs at bob's address
  await bob.phonebook.rotate(bob.identity, TwinIdentity.fromMnemonic('bob-rot', newMnemonic()));
  await assert.rejects(alice.bus.request('bob-rot', 'echo', Buffer.from('b')), code('unreachable'));
});

test('a peer cannot answer with a code only the caller may produce', async () => {
  const alice = await boot('alice-codes');
  const phonebook = new PhonebookClient({ url: net.url });
  const fake = TwinIdentity.fromMnemonic('fake-codes', newMnemonic());
  const host = await createTwinHost(fake);
  net.onCleanup(async () => {
    await host.stop();
  });
  const record = await phonebook.publish(fake, host.getMultiaddrs().map(String));
  // a hand-made peer that answers every request with the code "stopped"
  await host.handle(BUS_PROTOCOL, async (stream) => {
    const lp = lpStream(stream);
    try {
      for (;;) {
        const req = openEnvelope((await lp.read()).subarray()).header;
        const error = { code: 'stopped' as const, message: 'your bus stopped (it did not)' };
        await lp.write(
          frameEnvelope(
            envelopeHeader('response', record.id, alice.id, req.command, { re: req.id, error }),
            Buffer.alloc(0),
          ),
        );
      }
    } catch {
      // closed
    }
  });
  await assert.rejects(alice.bus.request('fake-codes', 'x', Buffer.alloc(0)), code('bad_envelope'));
});

test('a peer that sends requests and never reads the answers gets at most MAX_STREAM_INFLIGHT handled at once', async () => {
  const bob = await boot('bob-flood');
  const alice = await boot('alice-flood');
  let started = 0;
  bob.bus.handle('hang', () => {
    started++;
    return new Promise(() => {});
  });
  const stream = await alice.host.dialProtocol(addr(bob.host), BUS_PROTOCOL);
  const lp = lpStream(stream);
  const frames = Array.from({ length: MAX_STREAM_INFLIGHT + 2000 }, () =>
    frameEnvelope(envelopeHeader('request', alice.id, bob.id, 'hang'), Buffer.alloc(16)),
  );
  void lp.writeV(frames).catch(() => {});
  const deadline = Date.now() + 10_000;
  while (started < MAX_STREAM_INFLIGHT && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(started, MAX_STREAM_INFLIGHT);
  stream.abort(new Error('done'));
});

test('a request and its response of the largest payload allowed (4 MiB) get through', async () => {
  const alice = await boot('alice-max');
  const bob = await boot('bob-max');
  bob.bus.handle('echo', (p) => p);
  const big = Buffer.alloc(DEFAULT_MAX_PAYLOAD, 3);
  assert.deepEqual(await alice.bus.request('bob-max', 'echo', big, { timeoutMs: 60_000 }), big);
  await assert.rejects(
    alice.bus.request('bob-max', 'echo', Buffer.alloc(DEFAULT_MAX_PAYLOAD + 1)),
    code('too_large'),
  );
});
