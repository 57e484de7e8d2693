/**
 * `--phonebook tfchain+ws://HOST:PORT` selects the TFChain backend: its failures are one line with
 * what to do (without @polkadot/api installed: how to install it; with it: the node is unreachable).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { freePort, twin } from './helpers.ts';

test('twin lookup on a TFChain phonebook fails in one line saying what to do', async () => {
  const port = await freePort();
  const r = await twin('lookup', 'alice', '--phonebook', `tfchain+ws://127.0.0.1:${port}`);
  assert.equal(r.code, 1);
  assert.equal(r.stderr.trim().split('\n').length, 1);
  assert.match(r.stderr, /needs @polkadot\/api: run `npm install|unreachable/);
});

test('a TFChain phonebook URL that is not tfchain+ws(s) is a usage error', async () => {
  const r = await twin('lookup', 'alice', '--phonebook', 'tfchain+http://127.0.0.1:1');
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /expected tfchain\+ws:\/\/HOST:PORT/);
});
