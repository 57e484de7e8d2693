import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { initIdentity, type TwinIdentity } from '@twin/identity';
import { Mailbox, queueMessage } from '@twin/network';
import { PhonebookClient, type RunningPhonebook, startPhonebook } from '@twin/phonebook';
import { mailboxPath } from '../src/index.ts';

const TWIN = new URL('../../cli/bin/twin.js', import.meta.url).pathname;
let root: string;
let pb: RunningPhonebook;
const children = new Set<ChildProcess>();

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'twin-proc-'));
  pb = await startPhonebook({ dataDir: join(root, 'pb'), port: 0 });
});
after(async () => {
  for (const c of children) c.kill('SIGKILL');
  await pb.close();
  rmSync(root, { recursive: true, force: true });
});

function makeTwin(name: string): { home: string; identity: TwinIdentity } {
  const home = join(root, name);
  return { home, identity: initIdentity({ home, name }).identity };
}

/** Starts `twin start` and resolves once its record (with the given address count) is published. */
async function start(home: string, identity: TwinIdentity): Promise<ChildProcess> {
  const client = new PhonebookClient({ url: pb.url, cacheTtlMs: 0 });
  const before = (await client.twinByKey(identity.signingPublicKey))?.nonce ?? -1;
  const child = spawn(
    process.execPath,
    [TWIN, 'start', '--home', home, '--phonebook', pb.url, '--no-yggdrasil'],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr += d;
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  for (let i = 0; i < 300; i++) {
    const r = await client.twinByKey(identity.signingPublicKey).catch(() => null);
    if (r && r.nonce > before && /twin started/.test(stderr)) return child;
    if (child.exitCode !== null) throw new Error(`twin start exited: ${stderr}`);
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error(`twin start did not come up: ${stderr}`);
}

function kill(child: ChildProcess): Promise<void> {
  return new Promise((r) => {
    child.once('exit', () => r());
    child.kill('SIGKILL');
  });
}

async function waitFor(what: string, cond: () => boolean, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function run1000(kind: 'receiver' | 'sender', downMs: number): Promise<void> {
  const a = makeTwin(`alice-${kind}`);
  const b = makeTwin(`bob-${kind}`);
  let alice = await start(a.home, a.identity);
  let bob = await start(b.home, b.identity);
  const client = new PhonebookClient({ url: pb.url });
  const aliceId = (await client.twin(`alice-${kind}`)).id;
  const bobId = (await client.twin(`bob-${kind}`)).id;
  // 1,000 reliable sends, queued in alice's durable outbox (her daemon delivers them).
  const outbox = new Mailbox(mailboxPath(a.home));
  const ids: string[] = [];
  for (let i = 1; i <= 1000; i++)
    ids.push(queueMessage(outbox, a.identity, aliceId, bobId, 'note', Buffer.from(`n${i}`)).id);
  const inbox = new Mailbox(mailboxPath(b.home));
  const received = () => inbox.inbox(aliceId, 0, 5000).length;
  await waitFor('first deliveries', () => received() >= 50, 30_000);
  assert.ok(received() < 1000, 'the crash happens with sends still in flight');
  if (kind === 'receiver') {
    await kill(bob);
    await new Promise((r) => setTimeout(r, downMs));
    bob = await start(b.home, b.identity);
  } else {
    await kill(alice);
    await new Promise((r) => setTimeout(r, downMs));
    alice = await start(a.home, a.identity);
  }
  await waitFor(
    'every message acknowledged',
    () => ids.every((id) => outbox.status(id) === 'delivered'),
    90_000,
  );
  const messages = inbox.inbox(aliceId, 0, 5000);
  assert.equal(messages.length, 1000, 'each message stored exactly once');
  messages.forEach((m, i) => {
    assert.equal(m.seq, i + 1, 'in per-sender order');
    assert.equal(m.payload.toString(), `n${i + 1}`);
  });
  outbox.close();
  inbox.close();
  await kill(alice);
  await kill(bob);
}

test('receiver killed with SIGKILL while 1,000 reliable sends are in flight, back 10 s later: all delivered exactly once, in order', async () => {
  await run1000('receiver', 10_000);
});

test('sender killed with SIGKILL mid-stream resumes its outbox after restart', async () => {
  await run1000('sender', 1000);
});

test('twin ping and twin send between real processes, with and without the sender running', async () => {
  const a = makeTwin('carol');
  const b = makeTwin('dave');
  const dave = await start(b.home, b.identity);
  await new PhonebookClient({ url: pb.url }).publish(a.identity);
  const run = (...args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const c = spawn(process.execPath, [TWIN, ...args, '--home', a.home, '--phonebook', pb.url]);
      let stdout = '';
      let stderr = '';
      c.stdout.on('data', (d) => {
        stdout += d;
      });
      c.stderr.on('data', (d) => {
        stderr += d;
      });
      c.on('exit', (code) => resolve({ code, stdout, stderr }));
    });
  const ping = await run('ping', 'dave', '--count', '3', '--json');
  assert.equal(ping.code, 0, ping.stderr);
  assert.equal((JSON.parse(ping.stdout) as { rttMs: number[] }).rttMs.length, 3);
  const sent = await run('send', 'dave', 'note', 'hello dave', '--json');
  assert.equal(sent.code, 0, sent.stderr);
  assert.equal((JSON.parse(sent.stdout) as { status: string }).status, 'delivered');
  const inbox = new Mailbox(mailboxPath(b.home));
  assert.equal(
    inbox.inbox((await new PhonebookClient({ url: pb.url }).twin('carol')).id)[0]?.payload.toString(),
    'hello dave',
  );
  inbox.close();
  await kill(dave);
  const down = await run('ping', 'dave', '--timeout', '1000');
  assert.notEqual(down.code, 0, 'unreachable twin: non-zero exit');
  assert.match(down.stderr, /unreachable|timeout/);
});
