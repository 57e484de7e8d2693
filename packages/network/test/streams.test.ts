import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { multiaddr } from '@multiformats/multiaddr';
import {
  envelopeHeader,
  frameEnvelope,
  NetworkError,
  openEnvelope,
  STREAM_PROTOCOL,
  type TwinHost,
} from '../src/index.ts';
import { testNetwork } from './helpers.ts';

const net = testNetwork('streams');
const boot = (name: string) => net.boot(name, { cacheTtlMs: 60_000 });

const code = (c: string) => (e: unknown) => e instanceof NetworkError && e.code === c;
const MiB = 1024 * 1024;

test('64 MiB move as a stream, sha256 equal; the handler learns the calling twin', async () => {
  const alice = await boot('alice-big');
  const bob = await boot('bob-big');
  bob.bus.handleStream('experience.put', async (stream, ctx) => {
    const hash = createHash('sha256');
    let bytes = 0;
    for await (const chunk of stream) {
      hash.update(chunk);
      bytes += chunk.length;
    }
    await stream.write(Buffer.from(JSON.stringify({ from: ctx.from, bytes, sha256: hash.digest('hex') })));
  });
  const sent = createHash('sha256');
  const block = randomBytes(MiB);
  const s = await alice.bus.openStream('bob-big', 'experience.put');
  for (let i = 0; i < 64; i++) {
    block[0] = i; // every MiB differs
    sent.update(block);
    await s.write(block);
  }
  await s.end();
  const reply: Buffer[] = [];
  for await (const chunk of s) reply.push(Buffer.from(chunk));
  const got = JSON.parse(Buffer.concat(reply).toString()) as { from: number; bytes: number; sha256: string };
  assert.deepEqual(got, { from: alice.id, bytes: 64 * MiB, sha256: sent.digest('hex') });
});

test('a slow reader pushes back on the writer: what is in flight stays bounded', async () => {
  const alice = await boot('alice-slow');
  const bob = await boot('bob-slow');
  let release!: () => void;
  const go = new Promise<void>((r) => {
    release = r;
  });
  bob.bus.handleStream('slow', async (stream) => {
    await go; // reads nothing for a while
    await stream.done();
  });
  const s = await alice.bus.openStream('bob-slow', 'slow');
  let written = 0;
  const writer = (async () => {
    const block = Buffer.alloc(256 * 1024);
    for (let i = 0; i < 128; i++) {
      await s.write(block);
      written += block.length;
    }
    await s.end();
  })();
  await new Promise((r) => setTimeout(r, 1500));
  assert.ok(written < 8 * MiB, `${written / MiB} MiB written while nobody read`);
  release();
  await writer;
  await s.done();
  assert.equal(written, 32 * MiB);
});

test('a handler error reaches the caller as a NetworkError with a code; unknown commands are refused', async () => {
  const alice = await boot('alice-err');
  const bob = await boot('bob-err');
  bob.bus.handleStream('broken', async (stream) => {
    for await (const _ of stream) throw new Error('disk full');
  });
  const s = await alice.bus.openStream('bob-err', 'broken');
  await s.write(Buffer.from('some bytes'));
  await assert.rejects(
    s.done(),
    (e: unknown) => code('handler_error')(e) && /disk full/.test((e as Error).message),
  );
  await assert.rejects(alice.bus.openStream('bob-err', 'nothing-here'), code('unknown_command'));
  await assert.rejects(alice.bus.openStream('nobody-err', 'broken'), code('unknown_twin'));
});

/** Opens a raw byte stream and sends OPEN with `frame`; returns the ACCEPT envelope's error code. */
async function rawOpen(host: TwinHost, to: TwinHost, frame: Buffer): Promise<string | undefined> {
  const stream = await host.dialProtocol(multiaddr(to.getMultiaddrs()[0]!.toString()), STREAM_PROTOCOL);
  let got = Buffer.alloc(0);
  const answer = new Promise<Buffer>((resolve, reject) => {
    stream.addEventListener('message', (evt) => {
      got = Buffer.concat([got, evt.data.subarray()]);
      if (got.length >= 5 && got.length >= 5 + got.readUInt32BE(1))
        resolve(got.subarray(5, 5 + got.readUInt32BE(1)));
    });
    stream.addEventListener('close', () => reject(new Error('closed without an answer')));
  });
  const header = Buffer.alloc(5);
  header.writeUInt32BE(frame.length, 1); // type 0: OPEN
  stream.send(Buffer.concat([header, frame]));
  const body = await answer;
  stream.abort(new Error('done'));
  return openEnvelope(body).header.error?.code;
}

test('a stream from a peer that is not the twin it claims, or no twin at all, is refused', async () => {
  const alice = await boot('alice-claim');
  const bob = await boot('bob-claim');
  let called = 0;
  bob.bus.handleStream('put', async () => {
    called++;
  });
  const stranger = await net.stranger();
  const asAlice = frameEnvelope(envelopeHeader('stream', alice.id, bob.id, 'put'), Buffer.alloc(0));
  assert.equal(await rawOpen(stranger, bob.host, asAlice), 'unknown_twin');
  const carol = await boot('carol-claim');
  assert.equal(await rawOpen(carol.host, bob.host, asAlice), 'bad_signature');
  const asCarol = frameEnvelope(envelopeHeader('stream', carol.id, bob.id, 'put'), Buffer.alloc(0));
  assert.equal(await rawOpen(carol.host, bob.host, asCarol), undefined);
  const deadline = Date.now() + 5000;
  while (called < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(called, 1, 'only the stream of the twin the connection is reached the handler');
});

test('stop() aborts open streams: the reader throws "stopped"; presence tells connection and last seen', async () => {
  const alice = await boot('alice-stop');
  const bob = await boot('bob-stop');
  assert.deepEqual(await alice.bus.presence('bob-stop'), { twin: bob.id, connected: false, lastSeen: null });
  bob.bus.handleStream('hang', () => new Promise(() => {}));
  const s = await alice.bus.openStream('bob-stop', 'hang');
  const p = await alice.bus.presence('bob-stop');
  assert.equal(p.connected, true);
  assert.ok(p.lastSeen === null || p.lastSeen <= Date.now());
  bob.bus.handle('ping', () => Buffer.from('pong'));
  await alice.bus.request('bob-stop', 'ping', Buffer.alloc(0));
  const seen = (await alice.bus.presence('bob-stop')).lastSeen;
  assert.ok(seen !== null && Date.now() - seen < 5000);
  // a twin that goes away: a presence event, and presence() says so
  const carol = await boot('carol-stop');
  carol.bus.handle('ping', () => Buffer.from('pong'));
  const events: { twin: number; connected: boolean }[] = [];
  alice.bus.on('presence', (e) => events.push(e));
  await alice.bus.request('carol-stop', 'ping', Buffer.alloc(0));
  await carol.bus.stop();
  await carol.host.stop();
  const deadline = Date.now() + 10_000;
  while ((await alice.bus.presence('carol-stop')).connected && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 50));
  assert.equal((await alice.bus.presence('carol-stop')).connected, false);
  assert.ok(
    events.some((e) => e.twin === carol.id && !e.connected),
    'a presence event told of the disconnect',
  );
  // stop() aborts the open stream
  const reading = assert.rejects(s.done(), code('stopped'));
  await alice.bus.stop();
  await reading;
  await assert.rejects(alice.bus.openStream('bob-stop', 'hang'), code('stopped'));
});
