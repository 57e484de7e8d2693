import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newMnemonic, TwinIdentity } from '@twin/identity';
import {
  decodeRelay,
  encodeRelay,
  MAX_RELAY_LENGTH,
  parseTfchainUrl,
  type TfchainError,
} from '../src/index.ts';

const id = TwinIdentity.fromMnemonic('alice', newMnemonic());

test('the relay value carries the name and addresses in characters TFChain accepts', () => {
  const relay = encodeRelay('alice', ['/ip4/127.0.0.1/tcp/4001', '/ip6/::1/tcp/4002']);
  assert.match(relay, /^[a-z0-9_-]+(\.[a-z0-9_-]+)+$/);
  const back = decodeRelay(relay, id.signingPublicKey);
  assert.equal(back?.name, 'alice');
  assert.deepEqual(
    back?.addresses.map((a) => a.replace(/\/p2p\/.*$/, '')),
    ['/ip4/127.0.0.1/tcp/4001', '/ip6/::1/tcp/4002'],
  );
});

test('addresses past the relay length are left out; none fitting is an error; foreign relays are ignored', () => {
  const many = Array.from({ length: 20 }, (_, i) => `/ip6/2001:db8::${i + 1}/tcp/${4000 + i}`);
  const relay = encodeRelay('alice', many);
  assert.ok(relay.length <= MAX_RELAY_LENGTH);
  assert.ok(decodeRelay(relay, id.signingPublicKey)!.addresses.length >= 3);
  assert.throws(
    () => encodeRelay(`${'a'.repeat(64)}`, Array(1).fill(`/dns6/${'x'.repeat(200)}.example/tcp/4000`)),
    (e: TfchainError) => e.code === 'too_large',
  );
  assert.equal(decodeRelay('relay.grid.tf', id.signingPublicKey), null);
  for (const bad of ['al.ice', 'Alice', 'al', 'a b'])
    assert.throws(
      () => encodeRelay(bad, []),
      (e: TfchainError) => e.code === 'bad_name',
    );
});

test('only tfchain+ws(s) URLs select the backend', () => {
  assert.equal(parseTfchainUrl('tfchain+ws://127.0.0.1:9944'), 'ws://127.0.0.1:9944');
  assert.equal(parseTfchainUrl('tfchain+wss://tfchain.grid.tf'), 'wss://tfchain.grid.tf');
  assert.throws(
    () => parseTfchainUrl('http://127.0.0.1:8730'),
    (e: TfchainError) => e.code === 'bad_url',
  );
});
