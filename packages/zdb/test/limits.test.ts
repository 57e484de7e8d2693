/**
 * Per-client limits (issue 10, items 7 and 8): unsent replies per client, the size of one request,
 * pending WAITs per connection, maxclients and the idle timeout. The memory cases run a real zdb
 * process and read its RSS from INFO on another connection.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ZdbClient } from '../src/index.ts';
import { spawnZdb } from '../src/process.ts';
import { ReplyParser } from '../src/resp/replies.ts';
import { ADMIN, drainedOrClosed, exchange, open, resp, startServer, tempDir, text } from './helpers.ts';

const MiB = 1024 * 1024;

async function rss(port: number): Promise<number> {
  const c = new ZdbClient({ port, timeoutMs: 30_000 });
  try {
    return Number((await c.info()).memory_rss_bytes);
  } finally {
    c.close();
  }
}

/** Highest RSS seen over `ms`. */
async function peakRss(port: number, ms: number): Promise<number> {
  let peak = 0;
  const end = Date.now() + ms;
  while (Date.now() < end) {
    peak = Math.max(peak, await rss(port));
    await new Promise((r) => setTimeout(r, 100));
  }
  return peak;
}

describe('memory a client can make the server hold (item 7)', () => {
  let proc: ChildProcess;
  let port: number;
  const dir = tempDir('zdb-limits-');
  before(async () => {
    ({ proc, port } = await spawnZdb(['--data', join(dir.path, 'data'), '--index', join(dir.path, 'index')]));
  });
  after(() => {
    proc.kill('SIGKILL');
    dir.cleanup();
  });

  test('100 pipelined GETs of an 8 MiB value whose replies are never read: RSS stays bounded', async () => {
    const c = new ZdbClient({ port, timeoutMs: 30_000 });
    await c.set('big', Buffer.alloc(8 * MiB - 64, 1));
    c.close();
    const base = await rss(port);
    const s = await open(port);
    s.pause(); // never read a reply
    const gets = Buffer.concat(Array.from({ length: 100 }, () => resp('GET', 'big')));
    s.write(gets);
    const peak = await peakRss(port, 2500);
    s.destroy();
    // Unbounded, the 100 replies (800 MiB) were held: RSS grew by 760 MB.
    assert.ok(peak - base < 160 * MiB, `RSS grew by ${Math.round((peak - base) / MiB)} MiB`);
  });

  test('an unfinished *1001 request of 1,000 × 1 MiB arguments is refused early', async () => {
    const base = await rss(port);
    const s = await open(port);
    const replies: string[] = [];
    const parser = new ReplyParser();
    s.on('data', (d) => {
      parser.push(d);
      for (let r = parser.next(); r !== undefined; r = parser.next()) replies.push(String(text(r)));
    });
    let closed = false;
    s.on('close', () => {
      closed = true;
    });
    s.on('error', () => {});
    const arg = Buffer.concat([Buffer.from(`$${MiB}\r\n`), Buffer.alloc(MiB, 2), Buffer.from('\r\n')]);
    s.write(`*1001\r\n$3\r\nSET\r\n`);
    let sent = 0;
    for (let i = 0; i < 1000 && !closed; i++) {
      sent++;
      if (!s.write(arg)) await drainedOrClosed(s);
    }
    const peak = await peakRss(port, 1000);
    s.destroy();
    assert.ok(closed, `the connection is closed (sent ${sent} arguments)`);
    assert.ok(sent < 200, `refused after ${sent} MiB`);
    assert.deepEqual(replies, ['-Request too large']);
    assert.ok(peak - base < 160 * MiB, `RSS grew by ${Math.round((peak - base) / MiB)} MiB`);
  });
});

describe('connections and WAIT (item 8)', () => {
  test('100,000 WAITs on one connection do not slow other clients', async () => {
    const s = await startServer();
    const c = new ZdbClient({ port: s.port });
    await c.set('k', 'v');
    const time = async () => {
      const t0 = performance.now();
      for (let i = 0; i < 300; i++) await c.get('k');
      return performance.now() - t0;
    };
    await time();
    const quiet = Math.min(await time(), await time());
    const waiter = await open(s.port);
    waiter.pause();
    const waits = Buffer.concat(Array.from({ length: 100_000 }, () => resp('WAIT', 'SET', '60000')));
    const seen = s.server.stats.commands;
    waiter.write(waits);
    // Measure once the burst has been read: what is left is what the WAITs keep costing.
    for (let i = 0; i < 400 && s.server.stats.commands < seen + 100_000; i++)
      await new Promise((r) => setTimeout(r, 50));
    const busy = Math.min(await time(), await time());
    waiter.destroy();
    // Unlimited, every command of every client walked 100,000 watchers: 30-70× slower.
    assert.ok(
      busy < quiet * 4 + 50,
      `300 GETs: ${quiet.toFixed(0)} ms quiet, ${busy.toFixed(0)} ms with the WAITs`,
    );
    c.close();
    await s.stop();
  });

  test('WAITs beyond the per-connection limit are refused in order', async () => {
    const s = await startServer({ maxWaits: 2 });
    const { replies } = await exchange(
      s.port,
      [
        Buffer.concat([
          resp('WAIT', 'SET', '200'),
          resp('WAIT', 'SET', '200'),
          resp('WAIT', 'SET', '200'),
          resp('PING'),
        ]),
      ],
      4,
    );
    assert.deepEqual(replies.map(text), [
      '-Timeout',
      '-Timeout',
      '-Too many pending WAIT on this connection',
      '+PONG',
    ]);
    await s.stop();
  });

  test('connections beyond --maxclients are refused with an error; a freed slot is reused', async () => {
    const s = await startServer({ maxclients: 5 });
    const clients = Array.from({ length: 5 }, () => new ZdbClient({ port: s.port }));
    for (const c of clients) assert.equal(await c.ping(), 'PONG');
    const { replies, closed } = await exchange(s.port, [resp('PING')], 2);
    assert.deepEqual(replies.map(text), ['-Max number of clients reached']);
    assert.ok(closed);
    clients.pop()!.close();
    await new Promise((r) => setTimeout(r, 100));
    const again = new ZdbClient({ port: s.port });
    assert.equal(await again.ping(), 'PONG');
    for (const c of [...clients, again]) c.close();
    await s.stop();
  });

  test('an idle connection is closed after --idle-timeout; a waiting one is not', async () => {
    const s = await startServer({ idleTimeout: 1 });
    const idle = await open(s.port);
    let idleClosed = false;
    idle.on('close', () => {
      idleClosed = true;
    });
    const waiting = exchange(s.port, [resp('WAIT', 'SET', '2500')], 1);
    await new Promise((r) => setTimeout(r, 1800));
    assert.ok(idleClosed, 'the idle connection was closed');
    const { replies } = await waiting;
    assert.deepEqual(replies.map(text), ['-Timeout']);
    await s.stop();
  });

  test('the client closes its own idle connections first, and reopens them (replaying SELECT)', async () => {
    const s = await startServer({ idleTimeout: 2 });
    const admin = new ZdbClient({ port: s.port, admin: ADMIN });
    await admin.nsnew('idle');
    admin.close();
    const c = new ZdbClient({ port: s.port, namespace: 'idle', idleMs: 300 });
    await c.set('k', 'v');
    const before = s.server.stats.clients;
    await new Promise((r) => setTimeout(r, 700));
    assert.deepEqual(await c.get('k'), Buffer.from('v'), 'reconnected into its namespace');
    assert.equal(s.server.stats.clients, before + 1, 'a new connection was opened');
    c.close();
    await s.stop();
  });
});

test('an MGET whose values would pass the output limit is refused whole; below it, answered', async () => {
  const s = await startServer({ maxOutput: 1024 * 1024 });
  const c = new ZdbClient({ port: s.port });
  try {
    await c.set('a', Buffer.alloc(600 * 1024, 1));
    await c.set('b', Buffer.alloc(600 * 1024, 2));
    const one = await c.mget('a', 'absent');
    assert.equal((one[0] as Buffer).length, 600 * 1024);
    assert.equal(one[1], null);
    await assert.rejects(c.mget('a', 'b'), (e: unknown) => (e as Error).message === 'Reply too large');
    assert.equal(await c.ping(), 'PONG', 'the connection stays usable');
  } finally {
    c.close();
    await s.stop();
  }
});
