/**
 * The compiled build (dist/, what `npm ci` builds and the `twin` binary runs): it exists for every
 * export, `twin --version` and `twin --help` run from it without tsx and without loading any
 * subcommand's dependencies, and the QSS worker threads run compiled too.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { TWIN } from './helpers.ts';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const PACKAGES = ['bcdb', 'cli', 'identity', 'network', 'phonebook', 'qss', 'twin', 'zdb'];
const scratch = mkdtempSync(join(tmpdir(), 'twin-build-'));

/** Node as a user runs it: no "source" condition, no tsx. */
function node(args: string[], extra: Record<string, string> = {}) {
  return spawnSync(process.execPath, args, {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, NODE_OPTIONS: '', ...extra },
  });
}

before(() => {
  const built = spawnSync(process.execPath, ['scripts/build.js'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(built.status, 0, built.stderr);
});
after(() => rmSync(scratch, { recursive: true, force: true }));

test('every package export has both its source and its compiled file', () => {
  for (const name of PACKAGES) {
    const dir = join(ROOT, 'packages', name);
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
      exports: Record<string, { source: string; default: string }>;
    };
    for (const [sub, target] of Object.entries(pkg.exports)) {
      assert.ok(existsSync(join(dir, target.source)), `${name} ${sub}: ${target.source}`);
      assert.ok(existsSync(join(dir, target.default)), `${name} ${sub}: ${target.default}`);
    }
  }
  assert.ok(existsSync(join(ROOT, 'packages/qss/dist/block-worker.js')));
});

test('twin --version and twin --help run the compiled CLI and load no subcommand', () => {
  // Records every module URL this process resolves, to see what --help pulls in.
  const log = join(scratch, 'resolved.log');
  const hooks = join(scratch, 'hooks.mjs');
  writeFileSync(
    hooks,
    `import { appendFileSync } from 'node:fs';
     export async function resolve(specifier, context, next) {
       const r = await next(specifier, context);
       appendFileSync(${JSON.stringify(log)}, r.url + '\\n');
       return r;
     }`,
  );
  const register = join(scratch, 'register.mjs');
  writeFileSync(
    register,
    `import { register } from 'node:module'; register(${JSON.stringify(`file://${hooks}`)});`,
  );
  const version = node([TWIN, '--version']);
  assert.equal(version.status, 0, version.stderr);
  const pkg = JSON.parse(readFileSync(join(ROOT, 'packages/cli/package.json'), 'utf8')) as {
    version: string;
  };
  assert.equal(version.stdout.trim(), `twin ${pkg.version}`);

  const help = node(['--import', register, TWIN, '--help']);
  assert.equal(help.status, 0, help.stderr);
  for (const cmd of ['init', 'start', 'bcdb', 'qss', 'zdb', 'phonebook', 'lookup', 'ping', 'send', 'demo'])
    assert.match(help.stdout, new RegExp(`\\n  ${cmd} `), `--help lists ${cmd}`);
  const loaded = readFileSync(log, 'utf8').split('\n').filter(Boolean);
  assert.ok(
    loaded.some((u) => u.endsWith('/packages/cli/dist/main.js')),
    'the compiled main ran',
  );
  const heavy = loaded.filter((u) =>
    /libp2p|better-sqlite3|fastify|pino|tsx|\/src\/.*\.ts$|\/commands\//.test(u),
  );
  assert.deepEqual(heavy, [], 'twin --help loads only commander and the CLI entry');
});

test('a subcommand runs compiled too, and `--conditions=source` runs the sources through tsx', () => {
  const compiled = node([TWIN, 'bcdb', '--help']);
  assert.equal(compiled.status, 0, compiled.stderr);
  assert.match(compiled.stdout, /rebuild/);
  const source = node(['--conditions=source', TWIN, '--version']);
  assert.equal(source.status, 0, source.stderr);
  assert.equal(source.stdout.trim(), version());
});

function version(): string {
  return node([TWIN, '--version']).stdout.trim();
}

test('QSS worker threads run the compiled worker', () => {
  const script = `
    import { WorkerPool } from '@twin/qss';
    const pool = new WorkerPool(1);
    const plain = new Uint8Array(100_000).fill(7);
    const block = await pool.encode(2, 1, plain.slice(), 0, new Uint8Array(32).fill(1), 'none');
    const back = await pool.decode(2, 1, block, block.shards, new Uint8Array(32).fill(1));
    console.log(block.shards.length, Buffer.from(back.plain).equals(Buffer.from(plain)), import.meta.resolve('@twin/qss'));
    await pool.close();`;
  const r = node(['--input-type=module', '-e', script]);
  assert.equal(r.status, 0, r.stderr);
  const [shards, same, url] = r.stdout.trim().split(' ');
  assert.equal(shards, '3');
  assert.equal(same, 'true');
  assert.match(url!, /\/packages\/qss\/dist\/index\.js$/);
});
