/**
 * bench/bcdb: 100,000 objects with two tags — sets/s, gets/s and a two-tag find (p50/p99 ms) —
 * against a real zdb server process, side by side in the same run with the same operations on
 * plain better-sqlite3 tables holding the data inline.
 *
 *   node --import tsx bench/bcdb/run.ts [--json] [--objects N]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Bcdb } from '@twin/bcdb';
import { ZdbClient } from '@twin/zdb';
import Database from 'better-sqlite3';

const json = process.argv.includes('--json');
const n = Number(process.argv[process.argv.indexOf('--objects') + 1]) || 100_000;
const log = (s: string) => process.stderr.write(`${s}\n`);
const dir = mkdtempSync(join(tmpdir(), 'bench-bcdb-'));
const port = 19950 + Math.floor(Math.random() * 40);
const zdbBin = new URL('../../packages/zdb/bin/zdb.js', import.meta.url).pathname;
const zdb = spawn(
  process.execPath,
  [
    zdbBin,
    '--port',
    String(port),
    '--data',
    join(dir, 'zd'),
    '--index',
    join(dir, 'zi'),
    '--mode',
    'mix',
    '--admin',
    'adm',
  ],
  {
    stdio: 'ignore',
  },
);
for (let up = false; !up; ) {
  up = await new Promise<boolean>((r) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      r(true);
    });
    s.once('error', () => r(false));
  });
  if (!up) await new Promise((r) => setTimeout(r, 50));
}
const admin = new ZdbClient({ port, admin: 'adm' });
await admin.nsnew('bench');
await admin.nsset('bench', 'mode', 'seq');
admin.close();

const payload = Buffer.alloc(200, 'x');
const tagsOf = (i: number) => ({ chat: `chat-${i % 100}`, author: `twin-${i % 37}` });
const pct = (xs: number[], p: number) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length * p)]!;

async function timed(
  label: string,
  count: number,
  fn: (i: number) => Promise<unknown> | unknown,
  concurrency: number,
): Promise<number> {
  log(`${label} ...`);
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await fn(next++);
    }),
  );
  return Math.round(count / ((performance.now() - t0) / 1000));
}

function finds(find: (i: number) => unknown): { p50: number; p99: number; results: number } {
  const times: number[] = [];
  let results = 0;
  for (let i = 0; i < 1000; i++) {
    const t0 = performance.now();
    results += (find(i) as unknown[]).length;
    times.push(performance.now() - t0);
  }
  return { p50: +pct(times, 0.5).toFixed(3), p99: +pct(times, 0.99).toFixed(3), results };
}

// --- BCDB on zdb ---
const client = new ZdbClient({ port, admin: 'adm', namespace: 'bench', pool: 4, timeoutMs: 0 });
const db = await Bcdb.open({ indexPath: join(dir, 'bcdb.sqlite'), zdb: client, owner: 1 });
const bcdbSets = await timed(
  `bcdb: ${n} sets`,
  n,
  (i) => db.set('messages', payload, { tags: tagsOf(i) }),
  64,
);
const bcdbGets = await timed('bcdb: gets', n, (i) => db.get(1 + ((i * 7919) % n)), 64);
const bcdbFind = finds((i) => db.find({ collection: 'messages', tags: tagsOf(i), limit: 100 }).objects);

// --- plain better-sqlite3, data inline ---
const sql = new Database(join(dir, 'plain.sqlite'));
sql.pragma('journal_mode = WAL');
sql.pragma('synchronous = NORMAL');
sql.exec(`CREATE TABLE objects (id INTEGER PRIMARY KEY, collection TEXT, updated INTEGER, data BLOB);
  CREATE TABLE tags (object INTEGER, key TEXT, value TEXT, PRIMARY KEY (object, key));
  CREATE INDEX tags_by_value ON tags (key, value, object);
  CREATE INDEX objects_by_time ON objects (collection, updated, id);`);
const ins = sql.prepare('INSERT INTO objects (collection, updated, data) VALUES (?, ?, ?)');
const tag = sql.prepare('INSERT INTO tags (object, key, value) VALUES (?, ?, ?)');
const insert = sql.transaction((i: number) => {
  const id = Number(ins.run('messages', Date.now(), payload).lastInsertRowid);
  for (const [k, v] of Object.entries(tagsOf(i))) tag.run(id, k, v);
});
const get = sql.prepare('SELECT * FROM objects WHERE id = ?');
// the same query plan as BCDB's: start from the first tag's index entries
const find = sql.prepare(`SELECT o.id FROM tags t0 CROSS JOIN objects o ON o.id = t0.object
  JOIN tags t1 ON t1.object = o.id AND t1.key = 'author' AND t1.value = ?
  WHERE o.collection = ? AND t0.key = 'chat' AND t0.value = ?
  ORDER BY o.updated DESC, o.id DESC LIMIT 100`);
const plainSets = await timed('sqlite: sets', n, (i) => insert(i), 1);
const plainGets = await timed('sqlite: gets', n, (i) => get.get(1 + ((i * 7919) % n)), 1);
const plainFind = finds((i) => find.all(tagsOf(i).author, 'messages', tagsOf(i).chat));

db.close();
client.close();
sql.close();
zdb.kill('SIGTERM');
await new Promise((r) => setTimeout(r, 300));
rmSync(dir, { recursive: true, force: true });

const result = {
  objects: n,
  bcdb: { setsPerSec: bcdbSets, getsPerSec: bcdbGets, twoTagFindMs: bcdbFind },
  sqliteInline: { setsPerSec: plainSets, getsPerSec: plainGets, twoTagFindMs: plainFind },
};
if (json) console.log(JSON.stringify(result, null, 2));
else {
  console.log(`\n${n} objects, two tags        sets/s     gets/s   find p50 ms   find p99 ms`);
  for (const [name, r] of [
    ['bcdb (zdb + SQLite index)', result.bcdb],
    ['plain better-sqlite3', result.sqliteInline],
  ] as const) {
    console.log(
      `${name.padEnd(27)} ${String(r.setsPerSec).padStart(9)} ${String(r.getsPerSec).padStart(10)} ${String(r.twoTagFindMs.p50).padStart(13)} ${String(r.twoTagFindMs.p99).padStart(13)}`,
    );
  }
}
