import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { lpStream } from '@libp2p/utils';
import { multiaddr } from '@multiformats/multiaddr';
import { PhonebookClient } from '@twin/phonebook';
import {
  BUS_PROTOCOL,
  BusError,
  createTwinHost,
  type EnvelopeHeader,
  openEnvelope,
  sealEnvelope,
  TwinBus,
} from '../src/index.ts';
import { type TestTwin, testNetwork } from './helpers.ts';

type Twin = TestTwin;

const net = testNetwork('bus');
const makeTwin = (name: string, listen?: string[]): Promise<Twin> =>
  net.boot(name, { listen, cacheTtlMs: 60_000, maxPayload: 64 * 1024 });

const code = (c: string) => (e: unknown) => e instanceof BusError && e.code === c;

/** Writes raw frames on a fresh bus stream to `to` and returns the decoded responses. */
async function raw(from: Twin, to: Twin, frames: Buffer[]): Promise<EnvelopeHeader[]> {
  const stream = await from.host.dialProtocol(
    multiaddr(to.host.getMultiaddrs()[0]!.toString()),
    BUS_PROTOCOL,
  );
  const lp = lpStream(stream);
  const out: EnvelopeHeader[] = [];
  for (const f of frames) {
    await lp.write(f);
    out.push(openEnvelope((await lp.read()).subarray()).header);
  }
  await stream.close();
  return out;
}

function header(from: Twin, to: Twin, extra: Partial<EnvelopeHeader> = {}): EnvelopeHeader {
  return {
    id: randomBytes(16).toString('hex'),
    kind: 'request',
    from: from.id,
    to: to.id,
    command: 'echo',
    created: Date.now(),
    ttl: 60_000,
    ...extra,
  };
}

describe('twin bus', () => {
  let alice: Twin;
  let bob: Twin;
  let mallory: Twin;
  before(async () => {
    alice = await makeTwin('alice');
    bob = await makeTwin('bob');
    mallory = await makeTwin('mallory');
    for (const t of [alice, bob, mallory]) {
      t.bus.handle('echo', (payload, ctx) => Buffer.concat([Buffer.from(`${ctx.from}:`), payload]));
      t.bus.handle('fail', () => {
        throw new Error('handler broke');
      });
    }
  });

  test('request/response by name; the handler sees the verified sender id', async () => {
    const reply = await alice.bus.request('bob', 'echo', Buffer.from('hello'));
    assert.equal(reply.toString(), `${alice.id}:hello`);
    const many = await Promise.all(
      Array.from({ length: 200 }, (_, i) => bob.bus.request(alice.id, 'echo', Buffer.from(`m${i}`))),
    );
    for (const [i, r] of many.entries()) assert.equal(r.toString(), `${bob.id}:m${i}`);
  });

  test('typed errors: unknown command, handler error, unknown twin, payload too large, timeout', async () => {
    await assert.rejects(alice.bus.request('bob', 'nope', Buffer.alloc(0)), code('unknown_command'));
    await assert.rejects(alice.bus.request('bob', 'fail', Buffer.alloc(0)), code('handler_error'));
    await assert.rejects(alice.bus.request('nobody-here', 'echo', Buffer.alloc(0)), code('unknown_twin'));
    await assert.rejects(alice.bus.request('bob', 'echo', Buffer.alloc(65 * 1024)), code('too_large'));
    bob.bus.handle('slow', () => new Promise((r) => setTimeout(() => r(Buffer.from('late')), 500)));
    await assert.rejects(
      alice.bus.request('bob', 'slow', Buffer.alloc(0), { timeoutMs: 100 }),
      code('timeout'),
    );
  });

  test('a forged envelope (signed by another key than the sender it claims) is refused', async () => {
    // mallory claims to be alice: signed with mallory's key, sent over mallory's own connection
    const forged = sealEnvelope(mallory.identity, header(alice, bob), Buffer.from('x'));
    const [r1] = await raw(mallory, bob, [forged]);
    assert.equal(r1!.error?.code, 'bad_signature');
    // mallory signs as herself but addressed to someone else
    const misaddressed = sealEnvelope(mallory.identity, header(mallory, alice), Buffer.from('x'));
    assert.equal((await raw(mallory, bob, [misaddressed]))[0]!.error?.code, 'wrong_recipient');
    // bytes changed after signing
    const tampered = sealEnvelope(mallory.identity, header(mallory, bob), Buffer.from('pay me 1'));
    tampered[tampered.length - 70] = tampered[tampered.length - 70]! ^ 1;
    assert.equal((await raw(mallory, bob, [tampered]))[0]!.error?.code, 'bad_signature');
  });

  test('expired, oversized and replayed envelopes are refused', async () => {
    const old = sealEnvelope(
      alice.identity,
      header(alice, bob, { created: Date.now() - 120_000, ttl: 1000 }),
      Buffer.from('x'),
    );
    assert.equal((await raw(alice, bob, [old]))[0]!.error?.code, 'expired');
    const future = sealEnvelope(
      alice.identity,
      header(alice, bob, { created: Date.now() + 3_600_000 }),
      Buffer.from('x'),
    );
    assert.equal((await raw(alice, bob, [future]))[0]!.error?.code, 'expired');
    const huge = sealEnvelope(alice.identity, header(alice, bob), Buffer.alloc(64 * 1024 + 1));
    assert.equal((await raw(alice, bob, [huge]))[0]!.error?.code, 'too_large');
    const once = sealEnvelope(alice.identity, header(alice, bob), Buffer.from('once'));
    const [first, second] = await raw(alice, bob, [once, once]);
    assert.equal(first!.error, undefined);
    assert.equal(second!.error?.code, 'replayed');
  });

  test('a twin that moves to a new address is found again through the phonebook', async () => {
    const carol = await makeTwin('carol');
    carol.bus.handle('where', () => Buffer.from('here'));
    assert.equal((await alice.bus.request('carol', 'where', Buffer.alloc(0))).toString(), 'here');
    // carol restarts on another port and republishes her record
    await carol.stop();
    const host = await createTwinHost(carol.identity);
    const phonebook = new PhonebookClient({ url: net.url });
    await phonebook.publish(carol.identity, host.getMultiaddrs().map(String));
    const bus = new TwinBus({ identity: carol.identity, twinId: carol.id, host, phonebook });
    await bus.start();
    bus.handle('where', () => Buffer.from('moved'));
    net.onCleanup(async () => {
      await bus.stop();
      await host.stop();
    });
    // alice's cached record is stale: the dial fails, she re-resolves and reaches carol
    let reply: Buffer | undefined;
    for (let i = 0; i < 3 && !reply; i++) {
      reply = await alice.bus.request('carol', 'where', Buffer.alloc(0)).catch((e: BusError) => {
        assert.equal(e.code, 'unreachable');
        return undefined;
      });
    }
    assert.equal(reply?.toString(), 'moved');
  });
});
