/**
 * Files between real twins in this process (real libp2p, 0-db, SQLite, phonebook): folders,
 * upload and download with Range, rename, move, delete, search; names refused; sharing read-only
 * and read-write, revoking; "shared with me" asked from the owner; a transfer whose connections
 * are cut mid-way resumes and still verifies; nothing in the homes names a file in the clear.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type RunningPhonebook, startPhonebook } from '@twin/phonebook';
import { events, startTwin, type TestTwin } from './api-helpers.ts';

let root: string;
let pb: RunningPhonebook;
let alice: TestTwin;
let bob: TestTwin;
let carol: TestTwin;

async function befriend(a: TestTwin, b: TestTwin): Promise<void> {
  const ev = await events(a);
  assert.equal((await a.call('POST', '/api/contacts', { name: b.name })).status, 200);
  for (let i = 0; i < 200; i++) {
    const r = await b.call('POST', `/api/contacts/requests/${a.name}/accept`);
    if (r.status === 200) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  await ev.until((l) => l.some((e) => e.type === 'contact.accepted' && e.twin === b.id));
  ev.close();
}

// biome-ignore lint/suspicious/noExplicitAny: tests read whatever JSON the API answers
type Json = any;

async function upload(
  t: TestTwin,
  path: string,
  bytes: Buffer,
  type = 'application/octet-stream',
): Promise<{ status: number; json: Json }> {
  const res = await fetch(`${t.base}/api/files/content?path=${encodeURIComponent(path)}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${t.token}`, 'content-type': type },
    body: bytes,
  });
  return { status: res.status, json: await res.json() };
}

async function download(t: TestTwin, path: string, range?: string) {
  const res = await fetch(`${t.base}${path}`, {
    headers: { authorization: `Bearer ${t.token}`, ...(range ? { range } : {}) },
  });
  const body = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, body };
}

const NAMES = ['Holiday plans', 'secret-report-q3.pdf', 'shared-folder-xyz'];

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'twin-files-'));
  pb = await startPhonebook({ dataDir: join(root, 'pb'), port: 0 });
  alice = await startTwin(root, 'alice', pb.url);
  bob = await startTwin(root, 'bob', pb.url);
  carol = await startTwin(root, 'carol', pb.url);
  await befriend(alice, bob);
  await befriend(alice, carol);
});
after(async () => {
  for (const t of [alice, bob, carol]) await t?.daemon.stop();
  await pb.close();
  rmSync(root, { recursive: true, force: true });
});

test('folders, upload, download with Range, rename, move, search, delete', async () => {
  const folder = await alice.call('POST', '/api/folders', { path: `/${NAMES[0]}/2026` });
  assert.equal(folder.status, 200);
  assert.equal(folder.json.entry.kind, 'folder');
  const bytes = randomBytes(3 * 1024 * 1024 + 123);
  const up = await upload(alice, `/${NAMES[0]}/2026/${NAMES[1]}`, bytes);
  assert.equal(up.status, 200, JSON.stringify(up.json));
  assert.equal(up.json.entry.size, bytes.length);
  assert.equal(up.json.entry.mime, 'application/pdf');
  const id = up.json.entry.id;
  const list = await alice.call('GET', `/api/files?path=${encodeURIComponent(`/${NAMES[0]}/2026`)}`);
  assert.deepEqual(
    list.json.entries.map((e: { name: string }) => e.name),
    [NAMES[1]],
  );
  const all = await download(alice, `/api/files/${id}/content`);
  assert.equal(all.status, 200);
  assert.ok(all.body.equals(bytes));
  assert.match(all.headers.get('content-disposition')!, /filename\*=UTF-8''secret-report-q3\.pdf/);
  const part = await download(alice, `/api/files/${id}/content`, 'bytes=1048570-2097160');
  assert.equal(part.status, 206);
  assert.ok(part.body.equals(bytes.subarray(1048570, 2097161)));
  assert.equal((await download(alice, `/api/files/${id}/content`, `bytes=${bytes.length}-`)).status, 416);

  const found = await alice.call('GET', '/api/files/search?q=REPORT');
  assert.deepEqual(
    found.json.entries.map((e: { name: string; path: string }) => [e.name, e.path]),
    [[NAMES[1], `/${NAMES[0]}/2026`]],
  );
  const renamed = await alice.call('PATCH', `/api/files/${id}`, { name: 'renamed.bin', parent: '/' });
  assert.equal(renamed.status, 200);
  assert.equal(renamed.json.entry.name, 'renamed.bin');
  assert.equal(renamed.json.entry.mime, 'application/pdf', 'a rename keeps the type');
  const rootList = await alice.call('GET', '/api/files');
  assert.ok(rootList.json.entries.some((e: { id: string }) => e.id === id));
  // a folder cannot move under itself; a name taken is refused
  const top = (await alice.call('GET', '/api/files')).json.entries.find(
    (e: { name: string }) => e.name === NAMES[0],
  );
  assert.equal(
    (await alice.call('PATCH', `/api/files/${top.id}`, { parent: `/${NAMES[0]}/2026` })).json.code,
    'bad_request',
  );
  await upload(alice, '/other.bin', Buffer.from('x'));
  assert.equal((await alice.call('PATCH', `/api/files/${id}`, { name: 'other.bin' })).json.code, 'exists');

  const del = await fetch(`${alice.base}/api/files/${top.id}`, {
    method: 'DELETE',
    headers: { authorization: `Bearer ${alice.token}` },
  });
  assert.equal(del.status, 204);
  assert.equal(
    (await alice.call('GET', `/api/files?path=${encodeURIComponent(`/${NAMES[0]}`)}`)).json.code,
    'not_found',
  );
  assert.equal((await alice.call('GET', `/api/files/${id}`)).status, 200, 'the moved file stayed');
});

test('path-traversal and malformed names are refused with bad_name, nothing stored', async () => {
  const before = (await alice.call('GET', '/api/files')).json.entries.length;
  for (const path of ['/../etc/passwd', '/a/../../b', '/./x', '/a/%00b', 'relative', `/${'n'.repeat(256)}`]) {
    const r = await upload(alice, path.replace('%00', '\0'), Buffer.from('no'));
    assert.equal(r.status, 400, path);
    assert.equal(r.json.code, 'bad_name', path);
  }
  assert.equal((await alice.call('POST', '/api/folders', { path: '/ok/..' })).json.code, 'bad_name');
  const f = await upload(alice, '/victim.txt', Buffer.from('v'));
  assert.equal(
    (await alice.call('PATCH', `/api/files/${f.json.entry.id}`, { name: '../x' })).json.code,
    'bad_name',
  );
  assert.equal(
    (await alice.call('PATCH', `/api/files/${f.json.entry.id}`, { name: 'a/b' })).json.code,
    'bad_name',
  );
  assert.equal((await alice.call('GET', '/api/files')).json.entries.length, before + 1);
});

test('shares: read-only fetched with the same sha256 and resumed after cut connections; read-write written; others refused', async () => {
  const dir = await alice.call('POST', '/api/folders', { path: `/${NAMES[2]}` });
  const bytes = randomBytes(24 * 1024 * 1024 + 5);
  const sha = createHash('sha256').update(bytes).digest('hex');
  const file = (await upload(alice, `/${NAMES[2]}/big.bin`, bytes)).json.entry;
  const shared = await alice.call('PUT', `/api/files/${file.id}/shares/bob`, { mode: 'read' });
  assert.deepEqual(shared.json.entry.shares, [{ twin: bob.id, mode: 'read' }]);
  assert.equal(
    (await alice.call('PUT', `/api/files/${dir.json.entry.id}/shares/carol`, { mode: 'write' })).status,
    200,
  );

  const mine = await bob.call('GET', '/api/shared');
  assert.deepEqual(
    mine.json.items.map((i: { owner: number; id: string; name: string; mode: string }) => [
      i.owner,
      i.id,
      i.name,
      i.mode,
    ]),
    [[alice.id, file.id, 'big.bin', 'read']],
  );
  // a plain fetch
  const got = await download(bob, `/api/shared/alice/${file.id}/content`);
  assert.equal(got.status, 200);
  assert.equal(createHash('sha256').update(got.body).digest('hex'), sha);

  // cut every connection between them while the bytes flow: the fetch resumes from the last verified chunk
  const ev = await events(bob);
  const res = await fetch(`${bob.base}/api/shared/alice/${file.id}/content`, {
    headers: { authorization: `Bearer ${bob.token}` },
  });
  const reader = res.body!.getReader();
  const parts: Uint8Array[] = [];
  let received = 0;
  let cut = false;
  for (;;) {
    const r = await reader.read();
    if (r.done) break;
    parts.push(r.value);
    received += r.value.length;
    if (!cut && received > bytes.length / 2) {
      cut = true;
      for (const c of alice.daemon.host.getConnections())
        await c.close().catch(() => c.abort(new Error('cut')));
    }
  }
  const resumed = Buffer.concat(parts);
  assert.equal(resumed.length, bytes.length);
  assert.equal(createHash('sha256').update(resumed).digest('hex'), sha);
  assert.ok(
    ev.list.some((e) => e.type === 'transfer.resumed'),
    'the transfer resumed',
  );
  const resumedAt = ev.list.find((e) => e.type === 'transfer.resumed') as { chunk: number };
  assert.ok(resumedAt.chunk >= 12, `resumed from chunk ${resumedAt.chunk}, not from the start`);
  ev.close();

  // a range from bob's side
  const range = await download(bob, `/api/shared/alice/${file.id}/content`, 'bytes=5000000-5000099');
  assert.equal(range.status, 206);
  assert.ok(range.body.equals(bytes.subarray(5000000, 5000100)));

  // bob cannot write into a read-only share; carol (granted the folder read-write) can; bob cannot list carol's share
  const denied = await fetch(`${bob.base}/api/shared/alice/${file.id}/content?name=evil.bin`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${bob.token}` },
    body: Buffer.from('overwrite'),
  });
  assert.equal(denied.status, 403);
  assert.equal(((await denied.json()) as { code: string }).code, 'denied');
  const wrote = await fetch(
    `${carol.base}/api/shared/alice/${dir.json.entry.id}/content?name=from-carol.txt`,
    {
      method: 'PUT',
      headers: { authorization: `Bearer ${carol.token}` },
      body: Buffer.from('hello from carol'),
    },
  );
  assert.equal(wrote.status, 200, await wrote.clone().text());
  const listed = await carol.call('GET', `/api/shared/alice/${dir.json.entry.id}`);
  assert.deepEqual(listed.json.entries.map((e: { name: string }) => e.name).sort(), [
    'big.bin',
    'from-carol.txt',
  ]);
  const inAlice = (await alice.call('GET', `/api/files?path=/${NAMES[2]}`)).json.entries;
  const carols = inAlice.find((e: { name: string }) => e.name === 'from-carol.txt');
  assert.equal(
    (await download(alice, `/api/files/${carols.id}/content`)).body.toString(),
    'hello from carol',
  );
  assert.equal((await bob.call('GET', `/api/shared/alice/${dir.json.entry.id}`)).json.code, 'denied');
  const bobTraversal = await carol.call('GET', `/api/shared/alice/${dir.json.entry.id}?path=/../..`);
  assert.equal(bobTraversal.json.code, 'bad_name');

  // revoked: bob can no longer fetch it, nor see it
  const revoke = await fetch(`${alice.base}/api/files/${file.id}/shares/bob`, {
    method: 'DELETE',
    headers: { authorization: `Bearer ${alice.token}` },
  });
  assert.equal(revoke.status, 204);
  assert.equal((await bob.call('GET', `/api/shared/alice/${file.id}/content`)).json.code, 'denied');
  assert.deepEqual((await bob.call('GET', '/api/shared')).json.items, []);
});

test('no file in the homes holds a file or folder name in the clear', async () => {
  for (const t of [alice, bob, carol]) {
    for (const file of walk(t.home)) {
      const text = readFileSync(file);
      for (const name of [...NAMES, 'big.bin', 'from-carol.txt', 'renamed.bin', 'hello from carol'])
        assert.equal(text.includes(name), false, `${file} holds "${name}"`);
    }
  }
});

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (statSync(p).isFile()) out.push(p);
  }
  return out;
}
