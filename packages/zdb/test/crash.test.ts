import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ZdbClient, ZdbError } from '../src/index.ts';
import { exited, freePort, startZdbProcess, tempDir } from './helpers.ts';

const value = (i: number) => Buffer.from(`value-${i}-`.repeat(1 + (i % 13)));

test('SIGKILL mid-stream under --sync loses no acknowledged write', async () => {
  const dir = tempDir('zdb-crash-');
  const port = await freePort();
  const args = [
    '--data',
    join(dir.path, 'data'),
    '--index',
    join(dir.path, 'index'),
    '--sync',
    '--datasize',
    String(64 * 1024),
  ];
  const child = await startZdbProcess(args, port);
  const writer = new ZdbClient({ port, timeoutMs: 0 });
  const acked = new Set<number>();
  const sent = new Set<number>();
  let next = 0;
  let killed = false;
  // 8 pipelined streams of SETs; kill the server once enough have been acknowledged.
  const stream = async () => {
    while (!killed) {
      const i = next++;
      sent.add(i);
      try {
        const reply = await writer.set(`key-${i}`, value(i));
        assert.deepEqual(reply, Buffer.from(`key-${i}`));
        acked.add(i);
        if (acked.size === 3000 && !killed) {
          killed = true;
          child.kill('SIGKILL');
        }
      } catch (e) {
        assert.ok(e instanceof ZdbError && e.kind === 'connection', String(e));
        return;
      }
    }
  };
  await Promise.all(Array.from({ length: 64 }, stream));
  await exited(child);
  writer.close();
  assert.ok(acked.size >= 3000);

  const restarted = await startZdbProcess(args, port);
  const reader = new ZdbClient({ port });
  let presentUnacked = 0;
  for (const i of sent) {
    const got = await reader.get(`key-${i}`);
    if (acked.has(i)) {
      assert.deepEqual(got, value(i), `acknowledged key-${i} must be present and intact`);
      assert.equal(await reader.check(`key-${i}`), true);
    } else if (got !== null) {
      assert.deepEqual(got, value(i), `unacknowledged key-${i} is either whole or absent`);
      presentUnacked++;
    }
  }
  assert.equal(await reader.dbsize(), acked.size + presentUnacked);
  reader.close();
  restarted.kill('SIGTERM');
  assert.equal(await exited(restarted), 0);
  dir.cleanup();
});

test('one corrupted byte in a data file: CHECK reports it, GET errors, other keys are fine', async () => {
  const dir = tempDir('zdb-corrupt-');
  const port = await freePort();
  const args = ['--data', join(dir.path, 'data'), '--index', join(dir.path, 'index')];
  let child = await startZdbProcess(args, port);
  let c = new ZdbClient({ port });
  for (let i = 0; i < 100; i++) await c.set(`k${i}`, `payload-${i}`.padEnd(64, '.'));
  await c.set('victim', 'THE-VICTIM-PAYLOAD'.padEnd(64, '#'));
  for (let i = 100; i < 200; i++) await c.set(`k${i}`, `payload-${i}`.padEnd(64, '.'));
  c.close();
  child.kill('SIGTERM');
  assert.equal(await exited(child), 0);

  const dataDir = join(dir.path, 'data', 'default');
  const file = join(dataDir, readdirSync(dataDir).find((f) => f.startsWith('zdb-data-'))!);
  const bytes = readFileSync(file);
  const at = bytes.indexOf('THE-VICTIM-PAYLOAD');
  assert.ok(at > 0);
  bytes[at + 5] = bytes[at + 5]! ^ 0x20;
  writeFileSync(file, bytes);

  child = await startZdbProcess(args, port);
  c = new ZdbClient({ port });
  assert.equal(await c.check('victim'), false);
  await assert.rejects(c.get('victim'), (e: unknown) => e instanceof ZdbError && /corrupt/i.test(e.message));
  assert.deepEqual(await c.mget('victim', 'k5'), [null, Buffer.from('payload-5'.padEnd(64, '.'))]);
  for (const i of [0, 99, 100, 199]) {
    assert.equal(await c.check(`k${i}`), true);
    assert.deepEqual(await c.get(`k${i}`), Buffer.from(`payload-${i}`.padEnd(64, '.')));
  }
  c.close();
  child.kill('SIGTERM');
  await exited(child);
  dir.cleanup();
});
