/**
 * Contacts, profile and chat between twins running in this process (each with its own home,
 * bus, BCDB and API), through the API and, for what a hostile twin does, straight on its bus.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { seal } from '@twin/identity';
import { type RunningPhonebook, startPhonebook } from '@twin/phonebook';
import { events, startTwin, type TestTwin, waitFor } from './api-helpers.ts';

let root: string;
let pb: RunningPhonebook;
let alice: TestTwin;
let bob: TestTwin;
let carol: TestTwin;

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'twin-exp-'));
  pb = await startPhonebook({ dataDir: join(root, 'pb'), port: 0 });
  alice = await startTwin(root, 'alice', pb.url);
  bob = await startTwin(root, 'bob', pb.url);
  carol = await startTwin(root, 'carol', pb.url);
});
after(async () => {
  for (const t of [alice, bob, carol]) await t?.daemon.stop();
  await pb.close();
  rmSync(root, { recursive: true, force: true });
});

const payload = (v: unknown) => Buffer.from(JSON.stringify(v));
const sealedFor = (t: TestTwin, v: unknown) =>
  payload({ sealed: seal(payload(v), t.daemon.identity.encryptionPublicKey).toString('base64') });

/** Every file under `dir` whose bytes contain `text`. */
function filesHolding(dir: string, text: string): string[] {
  const found: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const st = statSync(path);
    if (st.isDirectory()) found.push(...filesHolding(path, text));
    else if (st.isFile() && readFileSync(path).includes(Buffer.from(text))) found.push(path);
  }
  return found;
}

test('contact request with a message, accepted; both sides list each other', async () => {
  const bobEvents = await events(bob);
  const aliceEvents = await events(alice);
  const req = await alice.call('POST', '/api/contacts', { name: 'bob', message: 'hi, it is alice' });
  assert.equal(req.status, 200, JSON.stringify(req.json));
  assert.equal(req.json.status, 'requested');
  await bobEvents.until((l) => l.some((e) => e.type === 'contact.request'));
  const pending = await bob.call('GET', '/api/contacts/requests');
  assert.deepEqual(
    pending.json.requests.map((r: { name: string; direction: string; message: string }) => [
      r.name,
      r.direction,
      r.message,
    ]),
    [['alice', 'in', 'hi, it is alice']],
  );
  // Messages before acceptance are refused: alice is not bob's contact yet.
  const early = await alice.call('POST', `/api/chats/${bob.id}/messages`, { text: 'too early' });
  assert.equal(early.json.code, 'not_contact');
  const ok = await bob.call('POST', '/api/contacts/requests/alice/accept');
  assert.equal(ok.status, 200, JSON.stringify(ok.json));
  await aliceEvents.until((l) => l.some((e) => e.type === 'contact.accepted' && e.twin === bob.id));
  assert.deepEqual(
    (await alice.call('GET', '/api/contacts')).json.contacts.map((c: { name: string }) => c.name),
    ['bob'],
  );
  assert.deepEqual(
    (await bob.call('GET', '/api/contacts')).json.contacts.map((c: { name: string }) => c.name),
    ['alice'],
  );
  assert.equal((await alice.call('POST', '/api/contacts', { name: 'bob' })).json.code, 'already_contact');
  bobEvents.close();
  aliceEvents.close();
});

test('the profile reaches contacts and nobody else', async () => {
  const set = await alice.call('PUT', '/api/profile', { name: 'Alice A.', status: 'at the lake' });
  assert.equal(set.status, 200, JSON.stringify(set.json));
  await waitFor(
    async () =>
      (await bob.call('GET', `/api/contacts/${alice.id}/profile`)).json.profile?.status === 'at the lake',
  );
  const fresh = await bob.call('GET', `/api/contacts/${alice.id}/profile?fresh=1`);
  assert.equal(fresh.json.profile.name, 'Alice A.');
  // carol is no contact: alice's BCDB refuses to read the profile to her.
  assert.deepEqual(await carol.daemon.experiences.profile.ask(alice.id), { ok: false, code: 'denied' });
  assert.equal((await carol.call('GET', `/api/contacts/${alice.id}/profile`)).json.code, 'not_contact');
});

test('chat both ways: reply, edit, delete, reaction, read receipts, unread, history, search', async () => {
  const bobEvents = await events(bob);
  const aliceEvents = await events(alice);
  const m1 = (await alice.call('POST', `/api/chats/${bob.id}/messages`, { text: 'lunch at noon?' })).json;
  assert.equal(m1.state, 'sending');
  await bobEvents.until((l) => l.some((e) => e.type === 'message' && e.id === m1.id));
  await aliceEvents.until((l) =>
    l.some((e) => e.type === 'receipt' && e.id === m1.id && e.state === 'delivered'),
  );
  const chats = (await bob.call('GET', '/api/chats')).json.chats;
  assert.equal(chats[0].unread, 1);
  const reply = (
    await bob.call('POST', `/api/chats/alice/messages`, { text: 'yes, the usual place', replyTo: m1.id })
  ).json;
  assert.equal(reply.replyTo, m1.id);
  await aliceEvents.until((l) => l.some((e) => e.type === 'message' && e.id === reply.id));
  const edited = await alice.call('PATCH', `/api/chats/${bob.id}/messages/${m1.id}`, {
    text: 'lunch at one?',
  });
  assert.equal(edited.json.text, 'lunch at one?');
  await bobEvents.until((l) => l.some((e) => e.type === 'message.edited' && e.id === m1.id));
  // bob cannot edit alice's message on his side, nor forge an edit of it on hers
  assert.equal(
    (await bob.call('PATCH', `/api/chats/${alice.id}/messages/${m1.id}`, { text: 'x' })).json.code,
    'denied',
  );
  const forged = await bob.daemon.bus.send(
    alice.id,
    'chat.edit',
    sealedFor(alice, { id: m1.id, text: 'forged' }),
  );
  const react = await bob.call('POST', `/api/chats/${alice.id}/messages/${m1.id}/reactions`, { emoji: '👍' });
  assert.deepEqual(react.json.reactions, { '👍': [bob.id] });
  await aliceEvents.until((l) => l.some((e) => e.type === 'reaction' && e.id === m1.id));
  assert.equal(
    bob.daemon.mailbox.status(forged),
    'delivered',
    'acknowledged (a known sender) but not applied',
  );
  const onAlice = (await alice.call('GET', `/api/chats/${bob.id}/messages`)).json.messages;
  assert.equal(onAlice.find((m: { id: string }) => m.id === m1.id).text, 'lunch at one?');
  assert.deepEqual(onAlice.find((m: { id: string }) => m.id === m1.id).reactions, { '👍': [bob.id] });
  const gone = (await alice.call('POST', `/api/chats/${bob.id}/messages`, { text: 'oops wrong chat' })).json;
  await bobEvents.until((l) => l.some((e) => e.type === 'message' && e.id === gone.id));
  assert.equal((await alice.call('DELETE', `/api/chats/${bob.id}/messages/${gone.id}`)).status, 200);
  await bobEvents.until((l) => l.some((e) => e.type === 'message.deleted' && e.id === gone.id));
  const deleted = (await bob.call('GET', `/api/chats/${alice.id}/messages`)).json.messages.find(
    (m: { id: string }) => m.id === gone.id,
  );
  assert.equal(deleted.deleted, true);
  assert.equal(deleted.text, '');
  assert.equal((await bob.call('GET', '/api/search?q=oops')).json.messages.length, 0);
  // read receipts
  assert.equal((await bob.call('POST', `/api/chats/${alice.id}/read`)).json.read, 2);
  await aliceEvents.until((l) => l.some((e) => e.type === 'receipt' && e.id === m1.id && e.state === 'read'));
  assert.equal((await bob.call('GET', '/api/chats')).json.chats[0].unread, 0);
  // typing is told, never queued
  assert.equal((await alice.call('POST', `/api/chats/${bob.id}/typing`)).json.told, true);
  await bobEvents.until((l) => l.some((e) => e.type === 'typing' && e.twin === alice.id));
  // search and pagination
  const found = (await alice.call('GET', '/api/search?q=usual place')).json.messages;
  assert.deepEqual(
    found.map((m: { id: string }) => m.id),
    [reply.id],
  );
  const page1 = (await alice.call('GET', `/api/chats/${bob.id}/messages?limit=2`)).json;
  assert.equal(page1.messages.length, 2);
  const page2 = (await alice.call('GET', `/api/chats/${bob.id}/messages?limit=2&before=${page1.before}`))
    .json;
  assert.deepEqual(
    page2.messages.map((m: { id: string }) => m.id),
    [m1.id],
  );
  bobEvents.close();
  aliceEvents.close();
});

test("no file in alice's or bob's home holds a message text or a contact request message in plain text", async () => {
  // let SQLite write its WAL pages and 0-db its files
  await new Promise((r) => setTimeout(r, 500));
  for (const t of [alice, bob])
    for (const text of ['lunch at', 'usual place', 'hi, it is alice', 'oops wrong'])
      assert.deepEqual(filesHolding(t.home, text), [], `${t.name}: "${text}"`);
  // and search still finds what the owner wrote
  assert.equal((await bob.call('GET', '/api/search?q=usual place')).json.messages.length, 1);
});

test("a non-contact's chat message is refused and nothing is stored", async () => {
  const id = await carol.daemon.bus.send(
    alice.id,
    'chat.message',
    payload({ id: 'strangerMsg01', sent: Date.now(), text: 'buy now', replyTo: null }),
  );
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(carol.daemon.mailbox.status(id), 'queued');
  assert.deepEqual(alice.daemon.mailbox.inbox(carol.id), []);
  assert.equal((await alice.call('GET', '/api/search?q=buy')).json.messages.length, 0);
  assert.equal(
    (await alice.call('GET', '/api/chats')).json.chats.some((c: { twin: number }) => c.twin === carol.id),
    false,
  );
});

test("a blocked twin's requests and messages are dropped, and it is not told", async () => {
  // carol and bob become contacts, then bob blocks carol
  await carol.call('POST', '/api/contacts', { name: 'bob', message: 'hello' });
  await waitFor(async () => (await bob.call('GET', '/api/contacts/requests')).json.requests.length === 1);
  await bob.call('POST', '/api/contacts/requests/carol/accept');
  await waitFor(async () => (await carol.call('GET', '/api/contacts')).json.contacts.length === 1);
  assert.equal((await bob.call('POST', '/api/blocked/carol')).status, 200);
  const sent = (await carol.call('POST', `/api/chats/${bob.id}/messages`, { text: 'are you there' })).json;
  await waitFor(
    async () =>
      (await carol.call('GET', `/api/chats/${bob.id}/messages`)).json.messages[0].state === 'delivered',
  );
  assert.equal(sent.state, 'sending');
  assert.equal((await bob.call('GET', '/api/search?q=there')).json.messages.length, 0);
  // a new contact request looks accepted to carol, and bob has none
  await carol.daemon.experiences.contacts.remove(bob.id).catch(() => {});
  const again = await carol.call('POST', '/api/contacts', { name: 'bob', message: 'again' });
  assert.equal(again.json.status, 'requested');
  assert.equal((await bob.call('GET', '/api/contacts/requests')).json.requests.length, 0);
  assert.equal((await bob.call('DELETE', '/api/blocked/carol')).status, 200);
});

test('a flood of 1,000 contact requests from one twin is rate-limited, one request stored', async () => {
  const answers = await Promise.all(
    Array.from({ length: 1000 }, () =>
      carol.daemon.bus
        .request(alice.id, 'contact.request', payload({ message: 'spam' }))
        .then((b) => JSON.parse(String(b))),
    ),
  );
  const limited = answers.filter((a) => a.code === 'rate_limited').length;
  assert.ok(limited >= 997, `${limited} refused`);
  const requests = (await alice.call('GET', '/api/contacts/requests')).json.requests;
  assert.deepEqual(requests.filter((r: { twin: number }) => r.twin === carol.id).length, 1);
  // through the API carol is told clearly
  const told = await carol.call('POST', '/api/contacts', { name: 'alice', message: 'once more' });
  assert.equal(told.status, 429);
  assert.equal(told.json.code, 'rate_limited');
});
