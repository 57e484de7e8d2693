import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lpStream } from '@libp2p/utils';
import { multiaddr } from '@multiformats/multiaddr';
import {
  BUS_PROTOCOL,
  type BusLogger,
  envelopeHeader,
  frameEnvelope,
  NetworkError,
  openEnvelope,
  queueMessage,
  sealEnvelope,
  sealEnvelopes,
  verifyEnvelope,
} from '../src/index.ts';
import { testNetwork } from './helpers.ts';

const net = testNetwork('lifecycle');

/** A logger that keeps what it is told. */
function memoryLog(): BusLogger & { lines: string[] } {
  const lines: string[] = [];
  return { lines, warn: (_obj, msg) => lines.push(msg) };
}

const boot = (name: string, o: { mailbox?: boolean; logger?: BusLogger } = {}) =>
  net.boot(name, { mailbox: o.mailbox ?? true, logger: o.logger });

const code = (c: string) => (e: unknown) => e instanceof NetworkError && e.code === c;

test('a failure in work nobody awaits (the outbox database gone) is logged, not an unhandled rejection', async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown) => unhandled.push(e);
  process.on('unhandledRejection', onUnhandled);
  try {
    const log = memoryLog();
    const alice = await boot('alice-unhandled', { logger: log });
    const gone = await boot('gone-unhandled', { mailbox: false });
    await gone.stop(); // offline: alice's worker keeps retrying after a backoff
    await alice.bus.send('gone-unhandled', 'note', Buffer.from('x'));
    alice.mailbox!.close(); // the database goes away under the worker
    alice.bus.flushOutbox(); // reads the closed database too
    const deadline = Date.now() + 30_000;
    while (
      log.lines.filter((l) => l.includes('delivery worker failed')).length === 0 &&
      Date.now() < deadline
    )
      await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(unhandled, [], 'no unhandled rejection');
    assert.ok(
      log.lines.some((l) => l.includes('delivery worker failed')),
      log.lines.join('\n'),
    );
    assert.ok(
      log.lines.some((l) => l.includes('reading the outbox failed')),
      log.lines.join('\n'),
    );
    await alice.stop();
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});

test('stop() settles what it cancels: pending requests reject with "stopped", workers in backoff return', async () => {
  const alice = await boot('alice-stop');
  const bob = await boot('bob-stop');
  bob.bus.handle('never', () => new Promise(() => {}));
  const pending = alice.bus.request('bob-stop', 'never', Buffer.alloc(0), { timeoutMs: 600_000 });
  const gone = await boot('gone-stop', { mailbox: false });
  await gone.stop();
  await alice.bus.send('gone-stop', 'note', Buffer.from('later'));
  const settled = assert.rejects(pending, code('stopped')); // handled before stop() rejects it
  await new Promise((r) => setTimeout(r, 300)); // the request is on the wire, the worker in backoff
  await alice.bus.stop(); // resolves: nothing it waits for is left hanging
  await settled;
  await assert.rejects(alice.bus.request('bob-stop', 'never', Buffer.alloc(0)), code('stopped'));
  assert.equal(alice.mailbox!.queued(gone.id, 10).length, 1, 'the message stays queued for the next run');
  await alice.stop();
  await bob.stop();
});

test('requests travel unsigned on the authenticated connection; one-way messages must be signed and are kept verifiable', async () => {
  const alice = await boot('alice-sig');
  const bob = await boot('bob-sig');
  bob.bus.handle('echo', (p) => p);
  assert.equal((await alice.bus.request('bob-sig', 'echo', Buffer.from('hi'))).toString(), 'hi');

  const stream = await alice.host.dialProtocol(
    multiaddr(bob.host.getMultiaddrs()[0]!.toString()),
    BUS_PROTOCOL,
  );
  const lp = lpStream(stream);
  const exchange = async (frame: Buffer) => {
    await lp.write(frame);
    return openEnvelope((await lp.read()).subarray()).header;
  };
  // an unsigned request from alice on alice's connection: answered, unsigned
  const req = envelopeHeader('request', alice.id, bob.id, 'echo');
  const reply = await exchange(frameEnvelope(req, Buffer.from('x')));
  assert.equal(reply.error, undefined);
  assert.equal(reply.re, req.id);
  assert.equal(reply.signed, false);
  // an unsigned one-way message is refused: it would be stored and relied on later
  const unsigned = envelopeHeader('message', alice.id, bob.id, 'note', { epoch: '0123456789abcdef', seq: 1 });
  assert.equal((await exchange(frameEnvelope(unsigned, Buffer.from('x'))))!.error?.code, 'bad_signature');
  // a header that fails validation gets no answer and is counted; the stream keeps working
  const bad = Buffer.from(JSON.stringify({ ...req, id: 'y', from: 'alice', signed: false }));
  const len = Buffer.alloc(2);
  len.writeUInt16BE(bad.length);
  await lp.write(Buffer.concat([len, bad]));
  const after = envelopeHeader('request', alice.id, bob.id, 'echo');
  assert.equal((await exchange(frameEnvelope(after, Buffer.from('z')))).re, after.id);
  assert.equal(bob.bus.stats.refused.get('bad_envelope'), 1);
  // messages sealed together under one signature: each answered, stored, and kept verifiable alone
  const epoch = 'fedcba9876543210';
  const batch = sealEnvelopes(
    alice.identity,
    [1, 2, 3].map((seq) => ({
      header: envelopeHeader('message', alice.id, bob.id, 'note', { epoch, seq }),
      payload: Buffer.from(`batch ${seq}`),
    })),
  );
  for (const frame of batch) assert.equal((await exchange(frame)).error, undefined);
  for (const seq of [1, 2, 3]) {
    const kept = openEnvelope(bob.mailbox!.envelope(alice.id, epoch, seq)!);
    assert.deepEqual(
      [kept.payload.toString(), kept.header.leaf, kept.header.depth],
      [`batch ${seq}`, seq - 1, 2],
    );
    assert.ok(verifyEnvelope(kept, Buffer.from(alice.identity.signingPublicKey).toString('base64')));
  }
  // a batch frame whose sibling hash was changed is refused, and not stored
  const other = sealEnvelopes(
    alice.identity,
    [4, 5].map((seq) => ({
      header: envelopeHeader('message', alice.id, bob.id, 'note', { epoch, seq }),
      payload: Buffer.from('x'),
    })),
  )[0]!;
  other[other.length - 70] = other[other.length - 70]! ^ 1;
  assert.equal((await exchange(other)).error?.code, 'bad_signature');
  assert.equal(bob.mailbox!.envelope(alice.id, epoch, 4), null);
  await stream.close();

  // a stored message keeps its signature: verifiable later, without the connection
  const m = queueMessage(alice.mailbox!, alice.identity, alice.id, bob.id, 'note', Buffer.from('signed'));
  alice.bus.flushOutbox();
  const deadline = Date.now() + 30_000;
  while (alice.mailbox!.status(m.id) !== 'delivered' && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 20));
  const stored = bob.mailbox!.envelope(alice.id, m.epoch, m.seq);
  assert.ok(stored);
  const env = openEnvelope(stored);
  assert.equal(env.payload.toString(), 'signed');
  assert.ok(verifyEnvelope(env, Buffer.from(alice.identity.signingPublicKey).toString('base64')));
  assert.ok(!verifyEnvelope(env, Buffer.from(bob.identity.signingPublicKey).toString('base64')));
  // and a signed request is still accepted (and verified)
  const signedReq = sealEnvelope(
    alice.identity,
    envelopeHeader('request', alice.id, bob.id, 'echo'),
    Buffer.from('s'),
  );
  const s2 = await alice.host.dialProtocol(multiaddr(bob.host.getMultiaddrs()[0]!.toString()), BUS_PROTOCOL);
  const lp2 = lpStream(s2);
  await lp2.write(signedReq);
  assert.equal(openEnvelope((await lp2.read()).subarray()).header.error, undefined);
  await s2.close();
  await alice.stop();
  await bob.stop();
});

test('stop() aborts the inbound streams it serves: a caller waiting on a hanging handler learns at once', async () => {
  const alice = await boot('alice-inbound-stop');
  const bob = await boot('bob-inbound-stop');
  bob.bus.handle('never', () => new Promise(() => {}));
  const pending = alice.bus.request('bob-inbound-stop', 'never', Buffer.alloc(0), { timeoutMs: 120_000 });
  const settled = assert.rejects(pending, code('unreachable'));
  await new Promise((r) => setTimeout(r, 300)); // the request is being handled
  const t0 = Date.now();
  await bob.bus.stop(); // the host keeps running: only the bus stops
  await settled;
  assert.ok(Date.now() - t0 < 30_000);
  await alice.stop();
  await bob.stop();
});
