/** The grid commands' failure paths: one line on stderr, non-zero exit, no stack trace. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { initIdentity } from '@twin/identity';
import { freePort, twin } from './helpers.ts';

const root = mkdtempSync(join(tmpdir(), 'twin-grid-fail-'));
after(() => rmSync(root, { recursive: true, force: true }));
const home = join(root, 'alice');
initIdentity({ home, name: 'alice' });

test('grid commands fail with one line', async () => {
  const closed = `http://127.0.0.1:${await freePort()}`;
  const bad = join(root, 'bad.json');
  writeFileSync(bad, '{"workloads": [{"name": "x"}]}');
  const cases: [string[], RegExp][] = [
    [['farm', 'create', 'farm-a', '--home', home, '--phonebook', closed], /unreachable/],
    [['farm', 'list', '--phonebook', 'ftp://x'], /http/],
    [['nodes', '--farm', 'abc', '--phonebook', closed], /integer/],
    [['nodes', '--phonebook', closed], /unreachable/],
    [['node', 'start', '--home', home, '--farm', '0', '--phonebook', closed], /integer/],
    [
      ['node', 'start', '--home', home, '--farm', '1', '--capacity', 'gpu=1', '--phonebook', closed],
      /unknown capacity "gpu"/,
    ],
    [
      ['node', 'start', '--home', home, '--farm', '1', '--data', join(root, 'n'), '--phonebook', closed],
      /unreachable/,
    ],
    [
      ['deploy', join(root, 'missing.json'), '--node', '1', '--home', home, '--phonebook', closed],
      /cannot read the deployment file/,
    ],
    [['deploy', bad, '--node', '1', '--home', home, '--phonebook', closed], /deployment file .*workloads/],
    [['deploy', bad, '--home', home], /--node/],
    [['deployment', 'get', 'x', '--home', home, '--phonebook', closed], /integer/],
    [['cancel', '7', '--home', home, '--phonebook', closed], /unreachable/],
    [['deployments', '--home', join(root, 'nobody'), '--phonebook', closed], /./],
  ];
  for (const [args, pattern] of cases) {
    const r = await twin(...args);
    assert.notEqual(r.code, 0, `twin ${args.join(' ')} succeeded`);
    assert.equal(r.stderr.split('\n').filter(Boolean).length, 1, `twin ${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /^twin: /);
    assert.match(r.stderr, pattern, `twin ${args.join(' ')}: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  }
});
