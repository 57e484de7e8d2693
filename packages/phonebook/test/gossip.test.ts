/**
 * Checkpoint gossip between replicas: a server that keeps each replica on its own branch (two
 * servers sharing one key) is caught when the replicas compare checkpoints; honest replicas at
 * different heights agree; a peer lying with a bogus consistency proof cannot make a replica
 * report a fork (the upstream's own proof settles it).
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { newMnemonic, TwinIdentity } from '@twin/identity';
import Fastify from 'fastify';
import {
  type Equivocation,
  PhonebookClient,
  type PhonebookServerOptions,
  type RunningPhonebook,
  startPhonebook,
} from '../src/index.ts';

const dirs: string[] = [];
const running: RunningPhonebook[] = [];
const closers: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of closers) await c().catch(() => {});
  for (const r of running.reverse()) await r.close().catch(() => {});
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function server(extra: Partial<PhonebookServerOptions> = {}): Promise<RunningPhonebook> {
  const dataDir = extra.dataDir ?? mkdtempSync(join(tmpdir(), 'phonebook-gossip-'));
  dirs.push(dataDir);
  const r = await startPhonebook({ port: 0, pollMs: 50, ...extra, dataDir });
  running.push(r);
  return r;
}
const twin = (name: string) => TwinIdentity.fromMnemonic(name, newMnemonic());
const until = async (what: string, f: () => boolean | Promise<boolean>, ms = 15_000) => {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

/** An honest server and a liar with the same key: one shared prefix, then two histories. */
async function forkedServers() {
  const honest = await server();
  const writer = new PhonebookClient({ url: honest.url });
  await writer.publish(twin('dan'));
  await writer.publish(twin('eli'));
  const dataDir = mkdtempSync(join(tmpdir(), 'phonebook-gossip-'));
  cpSync(join(honest.service.dataDir, 'server-key'), join(dataDir, 'server-key'), { recursive: true });
  const liar = await server({ dataDir });
  const liarWriter = new PhonebookClient({ url: liar.url });
  for (const e of honest.service.ledger(1, 10)) await liarWriter.submit({ tx: e.tx, signature: e.signature });
  assert.equal(liar.service.state.head, honest.service.state.head);
  return { honest, liar, writer, liarWriter };
}

test('two replicas kept on two branches by one server key find it by comparing checkpoints', async () => {
  const { honest, liar, writer, liarWriter } = await forkedServers();
  for (let i = 0; i < 3; i++) await writer.publish(twin(`fay-${i}`));
  for (let i = 0; i < 2; i++) await liarWriter.publish(twin(`gus-${i}`));
  const seen: Equivocation[] = [];
  const a = await server({ follow: honest.url });
  const b = await server({
    follow: liar.url,
    gossip: [a.url],
    gossipMs: 50,
    onEquivocation: (e) => seen.push(e),
  });
  // each follows its upstream happily: alone, neither can tell
  assert.equal(a.replica!.fork, null);
  await until('b finds two histories', () => seen.length > 0);
  assert.match(seen[0]!.reason, /two histories|signs root/);
  assert.equal(
    seen[0]!.ours.serverKey,
    seen[0]!.theirs.serverKey,
    'both checkpoints are signed by the same key',
  );
  assert.notEqual(seen[0]!.ours.checkpoint.root, seen[0]!.theirs.checkpoint.root);
  const health = await fetch(`${b.url}/health`);
  assert.equal(health.status, 503);
  const body = (await health.json()) as { fork: string; gossip: { equivocation: Equivocation } };
  assert.match(body.fork, /gossip with/);
  assert.ok(body.gossip.equivocation.theirs.signature, 'the evidence is served');
  assert.match(b.replica!.fork ?? '', /gossip/, 'the replica stops following');
  // the same height with different roots is caught too (the other direction)
  const c = await server({ follow: honest.url, gossip: [b.url], gossipMs: 50 });
  await until('c finds it as well', () => c.gossip!.equivocation !== null);
});

test('honest replicas at different heights agree; a peer lying with a bogus proof cannot fake a fork', async () => {
  const pb = await server();
  const writer = new PhonebookClient({ url: pb.url });
  for (let i = 0; i < 3; i++) await writer.publish(twin(`ann-${i}`));
  // `slow` syncs once at start and then rarely: it stays behind while the others move on
  const slow = await server({ follow: pb.url, pollMs: 600_000 });
  const fast = await server({ follow: pb.url, gossip: [slow.url], gossipMs: 50 });
  for (let i = 0; i < 4; i++) await writer.publish(twin(`bea-${i}`));
  await fast.replica!.sync();
  await fast.gossip!.round();
  assert.equal(fast.gossip!.equivocation, null);
  // a peer that relays the server's newer checkpoint with a bogus consistency proof
  const liarPeer = Fastify();
  liarPeer.get('/v1/checkpoint', async () => pb.service.checkpoint());
  liarPeer.get('/v1/consistency', async () => ({ proof: ['00'.repeat(32)] }));
  await liarPeer.listen({ host: '127.0.0.1', port: 0 });
  closers.push(() => liarPeer.close());
  const peerUrl = `http://127.0.0.1:${(liarPeer.server.address() as { port: number }).port}`;
  const behind = await server({ follow: pb.url, pollMs: 600_000, gossip: [peerUrl, fast.url], gossipMs: 50 });
  for (let i = 0; i < 2; i++) await writer.publish(twin(`cid-${i}`));
  await behind.gossip!.round();
  await behind.gossip!.round();
  assert.ok(pb.service.state.height > behind.service.state.height, 'the replica is behind its peers');
  assert.equal(behind.gossip!.equivocation, null, 'the upstream proved consistency: no false fork');
  assert.equal(behind.replica!.fork, null);
  assert.equal((await fetch(`${behind.url}/health`)).status, 200);
});

test('a client holding a checkpoint refuses a peer checkpoint of another branch (what twins compare)', async () => {
  const { honest, liar, writer, liarWriter } = await forkedServers();
  for (let i = 0; i < 2; i++) await writer.publish(twin(`hoy-${i}`));
  for (let i = 0; i < 2; i++) await liarWriter.publish(twin(`ivy-${i}`));
  const client = new PhonebookClient({
    url: honest.url,
    serverKey: honest.service.serverKey,
    checkpointGraceMs: 0,
  });
  await client.checkpoint();
  await assert.rejects(
    client.compareCheckpoint(liar.service.checkpoint()),
    (e: Error & { code?: string }) => e.code === 'unverified',
  );
  // a later checkpoint of the honest server is accepted
  await writer.publish(twin('jon'));
  await client.compareCheckpoint(honest.service.checkpoint());
  // and a checkpoint not signed by the pinned key is refused outright
  const other = await server();
  await assert.rejects(client.compareCheckpoint(other.service.checkpoint()));
});
