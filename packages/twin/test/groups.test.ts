/**
 * Group chat between three twins in this process: fan-out from each sender, the group working
 * with its admin stopped, a removed member sent nothing afterwards, a forged membership change
 * by a non-admin refused.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type RunningPhonebook, startPhonebook } from '@twin/phonebook';
import { startTwin, type TestTwin, waitFor } from './api-helpers.ts';

let root: string;
let pb: RunningPhonebook;
let alice: TestTwin;
let bob: TestTwin;
let carol: TestTwin;
let group: string;

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'twin-groups-'));
  pb = await startPhonebook({ dataDir: join(root, 'pb'), port: 0 });
  alice = await startTwin(root, 'alice', pb.url);
  bob = await startTwin(root, 'bob', pb.url);
  carol = await startTwin(root, 'carol', pb.url);
  // alice knows bob and carol; bob and carol know each other too
  for (const [a, b] of [
    [alice, bob],
    [alice, carol],
    [bob, carol],
  ] as const) {
    await a.call('POST', '/api/contacts', { name: b.name });
    await waitFor(async () => (await b.call('GET', '/api/contacts/requests')).json.requests.length > 0);
    assert.equal((await b.call('POST', `/api/contacts/requests/${a.name}/accept`)).status, 200);
    await waitFor(async () =>
      (await a.call('GET', '/api/contacts')).json.contacts.some((c: { name: string }) => c.name === b.name),
    );
  }
});
after(async () => {
  for (const t of [alice, bob, carol]) await t?.daemon.stop().catch(() => {});
  await pb.close();
  rmSync(root, { recursive: true, force: true });
});

const texts = async (t: TestTwin) =>
  ((await t.call('GET', `/api/groups/${group}/messages`)).json.messages as { text: string }[]).map(
    (m) => m.text,
  );

test('a group of three: every member gets every message, straight from its sender', async () => {
  const made = await alice.call('POST', '/api/groups', { name: 'hiking', members: ['bob', 'carol'] });
  assert.equal(made.status, 200, JSON.stringify(made.json));
  group = made.json.id;
  await waitFor(async () => (await carol.call('GET', '/api/groups')).json.groups.length === 1);
  await waitFor(async () => (await bob.call('GET', '/api/groups')).json.groups.length === 1);
  const sent = await bob.call('POST', `/api/groups/${group}/messages`, { text: 'saturday?' });
  assert.equal(sent.status, 200, JSON.stringify(sent.json));
  await waitFor(
    async () => (await alice.call('GET', `/api/groups/${group}/messages`)).json.messages.length === 1,
  );
  await waitFor(
    async () => (await carol.call('GET', `/api/groups/${group}/messages`)).json.messages.length === 1,
  );
  await waitFor(
    async () =>
      (await bob.call('GET', `/api/groups/${group}/messages`)).json.messages[0].state === 'delivered',
  );
  const chats = (await carol.call('GET', '/api/chats')).json.chats;
  assert.equal(chats.find((c: { chat: string }) => c.chat === `g:${group}`).name, 'hiking');
});

test('the group keeps working with its admin stopped, and she gets what she missed on restart', async () => {
  await alice.daemon.stop();
  await bob.call('POST', `/api/groups/${group}/messages`, { text: 'admin away, bob here' });
  await carol.call('POST', `/api/groups/${group}/messages`, { text: 'carol too' });
  await waitFor(async () => (await texts(carol)).includes('admin away, bob here'));
  await waitFor(async () => (await texts(bob)).includes('carol too'));
  alice = await startTwin(root, 'alice', pb.url);
  await waitFor(async () => (await texts(alice)).includes('carol too'), 60_000);
});

test('a forged membership change by a non-admin is refused', async () => {
  const g = (await bob.call('GET', '/api/groups')).json.groups[0];
  const forged = {
    ...g,
    version: g.version + 1,
    by: carol.id,
    members: g.members
      .filter((m: { twin: number }) => m.twin !== bob.id)
      .map((m: { twin: number; role: string }) => ({ ...m, role: 'admin' })),
  };
  const id = await carol.daemon.bus.send(bob.id, 'group.state', Buffer.from(JSON.stringify(forged)));
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(carol.daemon.mailbox.status(id), 'queued', 'bob refused it');
  assert.deepEqual((await bob.call('GET', '/api/groups')).json.groups[0], g);
  // and through the API, a member is told it may not
  const denied = await carol.call('DELETE', `/api/groups/${group}/members/${bob.id}`);
  assert.deepEqual([denied.status, denied.json.code], [403, 'denied']);
});

test('a removed member is sent nothing after its removal', async () => {
  const removed = await alice.call('DELETE', `/api/groups/${group}/members/carol`);
  assert.equal(removed.status, 200, JSON.stringify(removed.json));
  await waitFor(async () =>
    (await bob.call('GET', '/api/groups')).json.groups[0].members.every(
      (m: { twin: number }) => m.twin !== carol.id,
    ),
  );
  await bob.call('POST', `/api/groups/${group}/messages`, { text: 'after carol left' });
  await waitFor(async () => (await texts(alice)).includes('after carol left'));
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal((await texts(carol)).includes('after carol left'), false);
  // carol still sends (she holds the state without herself: refused at her own API)
  const refused = await carol.call('POST', `/api/groups/${group}/messages`, { text: 'let me in' });
  assert.equal(refused.status, 403);
});
