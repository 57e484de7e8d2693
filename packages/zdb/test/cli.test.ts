/**
 * The zdb command (`npx zdb`, bin/zdb.js): one zdb per data directory (issue 10, item 5), and every
 * failure is one line, a non-zero exit and no stack trace (item 15).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ZdbClient, ZdbServer } from '../src/index.ts';
import { spawnZdb, ZDB_BIN } from '../src/process.ts';
import { exited, tempDir } from './helpers.ts';

/** Runs bin/zdb.js to its end (killed after 20 s). */
async function run(args: string[]): Promise<{ code: number | null; stderr: string; hung: boolean }> {
  const child = spawn(process.execPath, [ZDB_BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  let hung = false;
  const timer = setTimeout(() => {
    hung = true;
    child.kill('SIGKILL');
  }, 20_000);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  return { code, stderr, hung };
}

describe('one zdb per data directory (item 5)', () => {
  const dir = tempDir('zdb-lock-');
  const data = join(dir.path, 'data');
  const index = join(dir.path, 'index');
  after(() => dir.cleanup());

  test('a second zdb process on the same directories refuses with one line', async () => {
    const { proc } = await spawnZdb(['--data', data, '--index', index]);
    try {
      const r = await run(['--port', '0', '--data', data, '--index', join(dir.path, 'other-index')]);
      assert.notEqual(r.code, 0);
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, /^zdb: .*in use by another zdb.*\(locked\)$/m);
      // Same index directory, another data directory: refused too.
      const r2 = await run(['--port', '0', '--data', join(dir.path, 'd2'), '--index', index]);
      assert.match(r2.stderr, /in use by another zdb/);
      // compact refuses while the server runs.
      const r3 = await run(['compact', 'default', '--data', data, '--index', index]);
      assert.match(r3.stderr, /^zdb: .*in use by another zdb/);
      // In this process too.
      await assert.rejects(
        ZdbServer.start({ port: 0, data, index }),
        (e: unknown) => (e as { code?: string }).code === 'locked',
      );
    } finally {
      proc.kill('SIGTERM');
      await exited(proc);
    }
  });

  test("a crashed holder's lock does not block a restart", async () => {
    const first = await spawnZdb(['--data', data, '--index', index]);
    const c = new ZdbClient({ port: first.port });
    await c.set('kept', 'v');
    c.close();
    first.proc.kill('SIGKILL');
    await exited(first.proc);
    const second = await spawnZdb(['--data', data, '--index', index]);
    const c2 = new ZdbClient({ port: second.port });
    assert.deepEqual(await c2.get('kept'), Buffer.from('v'));
    c2.close();
    second.proc.kill('SIGTERM');
    await exited(second.proc);
  });
});

describe('zdb failures: one line, non-zero exit, no stack trace (item 15)', () => {
  const dir = tempDir('zdb-cli-');
  const busy = createServer();
  let busyPort = 0;
  before(async () => {
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
    busyPort = (busy.address() as { port: number }).port;
  });
  after(() => {
    busy.close();
    dir.cleanup();
  });
  const where = (name: string) => ['--data', join(dir.path, name, 'd'), '--index', join(dir.path, name, 'i')];

  const CASES: [string, () => string[], RegExp][] = [
    ['port in use', () => ['--port', String(busyPort), ...where('a')], /EADDRINUSE/],
    ['port not a number', () => ['--port', 'abc', ...where('b')], /--port.*port number/],
    ['--datasize too small', () => ['--datasize', '10', ...where('c')], /--datasize.*from 1024 bytes/],
    ['--datasize not a size', () => ['--datasize', 'big', ...where('d')], /--datasize/],
    ['--datasize over 4G', () => ['--datasize', '5G', ...where('e')], /--datasize/],
    [
      '--protect without --admin',
      () => ['--protect', '--port', '0', ...where('f')],
      /--protect needs an admin/,
    ],
    ['--mode unknown', () => ['--mode', 'direct', ...where('g')], /--mode/],
    ['--maxclients not a number', () => ['--maxclients', 'x', ...where('h')], /--maxclients/],
    ['compact of a missing namespace', () => ['compact', 'nope', ...where('i')], /Namespace not found/],
  ];
  for (const [what, args, expected] of CASES) {
    test(what, async () => {
      const r = await run(args());
      assert.equal(r.hung, false, 'it ended');
      assert.notEqual(r.code, 0);
      const lines = r.stderr.trimEnd().split('\n');
      assert.equal(lines.length, 1, `stderr has ${lines.length} lines:\n${r.stderr}`);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
      assert.match(lines[0]!, /^zdb: /);
      assert.match(lines[0]!, expected);
    });
  }
});
