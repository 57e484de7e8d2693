import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { ZdbClient, ZdbServer } from '@twin/zdb';
import { Bcdb } from '../src/index.ts';

/** Acknowledged writes before the writer is killed. */
const ACKS = 3000;
/** How long the writer may take to acknowledge them (generous: the machine may be loaded). */
const ACK_TIMEOUT_MS = 120_000;

test('killed during a burst of writes: after restart, index and 0-db agree and every acknowledged write is there', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bcdb-crash-'));
  const server = await ZdbServer.start({
    port: 0,
    data: join(dir, 'zd'),
    index: join(dir, 'zi'),
    mode: 'mix',
    admin: 'adm',
  });
  const admin = new ZdbClient({ port: server.port, admin: 'adm' });
  await admin.nsnew('burst');
  await admin.nsset('burst', 'mode', 'seq');
  admin.close();
  const index = join(dir, 'bcdb.sqlite');
  const writer = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      new URL('./fixtures/writer.ts', import.meta.url).pathname,
      String(server.port),
      'burst',
      index,
    ],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const acked = new Set<number>();
  const lines = createInterface({ input: writer.stdout! });
  // A writer that stalls or dies early fails the test after ACK_TIMEOUT_MS instead of hanging it.
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      writer.kill('SIGKILL');
      reject(new Error(`${acked.size} of ${ACKS} writes acknowledged within ${ACK_TIMEOUT_MS / 1000} s`));
    }, ACK_TIMEOUT_MS);
    writer.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(
        new Error(`the writer exited (${signal ?? code}) after ${acked.size} of ${ACKS} acknowledgements`),
      );
    });
    lines.on('line', (l) => {
      acked.add(Number(l));
      if (acked.size === ACKS) {
        clearTimeout(timer);
        resolve();
        writer.kill('SIGKILL');
      }
    });
  });
  await new Promise((r) => writer.once('exit', r));

  const zdb = new ZdbClient({ port: server.port, admin: 'adm', namespace: 'burst' });
  const db = await Bcdb.open({ indexPath: index, zdb, owner: 1 });
  const all = async (d: Bcdb) => {
    const out: string[] = [];
    for await (const o of d.stream({ collection: 'burst', order: 'asc', limit: 1000 }))
      out.push(`${o.id}:${o.version}:${JSON.stringify(o.tags)}`);
    return out;
  };
  const recovered = await all(db);
  for (const id of acked) assert.ok(db.catalog.object(id), `acknowledged object ${id} is in the index`);
  // the index agrees with one rebuilt from 0-db alone: nothing in one and not the other
  const truth = await Bcdb.open({ indexPath: join(dir, 'truth.sqlite'), zdb, owner: 1 });
  assert.deepEqual(recovered, await all(truth));
  assert.ok(recovered.length >= acked.size);
  // and writing continues where the crashed process stopped
  const next = await db.set('burst', Buffer.from('after the crash'));
  assert.ok(next.id > Math.max(...acked));
  truth.close();
  db.close();
  zdb.close();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});
