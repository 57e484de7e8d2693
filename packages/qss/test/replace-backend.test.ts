/**
 * A backend is retired for good (a node leaves the grid): the configuration names a new one in
 * its place, and repair moves every shard the old one held onto the new one, within the group
 * rules. This is how the 3Bot heals storage after replacing a lost node's namespace.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ZdbServer } from '@twin/zdb';
import { parseConfig } from '../src/config.ts';
import { Qss } from '../src/qss.ts';

let dir: string;
const servers: ZdbServer[] = [];
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'qss-replace-'));
  for (let i = 0; i < 8; i++)
    servers.push(
      await ZdbServer.start({
        port: 0,
        mode: i < 7 ? 'seq' : 'user',
        data: join(dir, `s${i}`, 'data'),
        index: join(dir, `s${i}`, 'index'),
      }),
    );
});
after(async () => {
  for (const s of servers) await s.close().catch(() => {});
  rmSync(dir, { recursive: true, force: true });
});

const at = (i: number) => `127.0.0.1:${servers[i]!.port}/default`;
const configWith = (groups: number[][]) =>
  parseConfig(
    JSON.stringify({
      dataShards: 4,
      parityShards: 2,
      blockSize: 65536,
      tolerate: { groups: 1 },
      key: '5e'.repeat(32),
      groups: groups.map((g, i) => ({ name: `site-${i}`, backends: g.map(at) })),
      meta: { backends: [at(7)] },
    }),
  );

async function read(q: Qss, path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const b of (await q.get(path)).stream) h.update(b);
  return h.digest('hex');
}

test('a retired backend replaced in the config: repair moves its shards to the new one', async () => {
  const before = new Qss(
    configWith([
      [0, 1],
      [2, 3],
      [4, 5],
    ]),
    { workers: 0 },
  );
  const data = randomBytes(10 * 65536 + 99);
  await before.put('kept/for/years.bin', [data]);
  await before.close();

  // backend 2 leaves; backend 6 takes its place in the same site
  const retired = `:${servers[2]!.port}/default`;
  const replacement = `:${servers[6]!.port}/default`;
  await servers[2]!.close();
  const after = new Qss(
    configWith([
      [0, 1],
      [6, 3],
      [4, 5],
    ]),
    { workers: 0 },
  );
  try {
    const check = await after.check('kept/for/years.bin');
    assert.equal(check.ok, false);
    assert.ok(
      check.damaged.every((d) => d.state === 'missing' && d.backend.endsWith(retired)),
      JSON.stringify(check.damaged.slice(0, 3)),
    );
    const report = await after.repair();
    assert.deepEqual(
      [report.objects, report.degraded, report.rebuilt, report.failed, report.shards],
      [1, 1, 1, 0, check.damaged.length],
    );
    assert.equal((await after.check('kept/for/years.bin')).ok, true);
    assert.equal(await read(after, 'kept/for/years.bin'), createHash('sha256').update(data).digest('hex'));
    // every block again uses 6 distinct backends, 2 per site, the new one among them
    const s = await after.status();
    // (and its epoch marker)
    assert.equal(s.data.find((b) => b.backend.endsWith(replacement))!.entries, check.damaged.length + 1);
    // and the object survives losing a whole site again
    await servers[6]!.close();
    await servers[3]!.close();
    assert.equal(await read(after, 'kept/for/years.bin'), createHash('sha256').update(data).digest('hex'));
  } finally {
    await after.close();
  }
});
