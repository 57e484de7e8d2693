/**
 * Every command's failure paths, through the real `twin` binary: each case must print exactly one
 * line on stderr (no stack trace) and exit non-zero, within a bounded time (nothing hangs).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { initIdentity } from '@twin/identity';
import { freePort, TWIN } from './helpers.ts';

/** A case that has not ended by then hangs: it is killed and fails. */
const CASE_TIMEOUT_MS = 60_000;

const root = mkdtempSync(join(tmpdir(), 'twin-failures-'));
const home = join(root, 'alice'); // a twin that exists and is not running
const empty = join(root, 'empty'); // no keystore
const bad = join(root, 'bad'); // a keystore whose mnemonic is not a string
const missing = join(root, 'no-such-file');
let busy: Server; // holds a port
let busyPort = 0;
let closedPort = 0; // nothing listens there

before(async () => {
  initIdentity({ home, name: 'alice' });
  mkdirSync(empty);
  mkdirSync(bad);
  writeFileSync(
    join(bad, 'keystore.json'),
    JSON.stringify({
      version: 1,
      name: 'bad',
      created: '',
      signingPublicKey: 'x',
      encryptionPublicKey: 'y',
      mnemonic: 42,
    }),
  );
  writeFileSync(join(root, 'qss.json'), '{"not": "a config"');
  writeFileSync(join(root, 'file.txt'), 'hello');
  busy = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
  busyPort = (busy.address() as { port: number }).port;
  closedPort = await freePort();
});
after(() => {
  busy.close();
  rmSync(root, { recursive: true, force: true });
});

function run(
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string; hung: boolean }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [TWIN, ...args], {
      env: { ...process.env, TWIN_PHONEBOOK: `http://127.0.0.1:${closedPort}`, TWIN_PASSPHRASE: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    let hung = false;
    const timer = setTimeout(() => {
      hung = true;
      child.kill('SIGKILL');
    }, CASE_TIMEOUT_MS);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, hung });
    });
  });
}

const pb = () => `http://127.0.0.1:${closedPort}`;

/** [what, argv, the one line must match]. */
const CASES: [string, () => string[], RegExp][] = [
  // usage
  ['unknown command', () => ['nosuch'], /unknown command 'nosuch'/],
  ['unknown option', () => ['bcdb', 'get', '1', '--home', home, '--bogus'], /unknown option '--bogus'/],
  ['missing --home', () => ['bcdb', 'get', '1'], /required option '--home <dir>' not specified/],
  ['missing argument', () => ['bcdb', 'get', '--home', home], /missing required argument 'id'/],
  // numbers, ports, durations, URLs
  ['NaN object id', () => ['bcdb', 'get', 'abc', '--home', home], /argument 'id'.*expected an integer/],
  [
    'NaN twin id',
    () => ['bcdb', 'acl', 'grant', '1', 'x', '--perms', 'r', '--home', home],
    /expected an integer/,
  ],
  [
    'NaN --acl',
    () => ['bcdb', 'set', 'x', '--collection', 'c', '--acl', 'one', '--home', home],
    /--acl.*integer/,
  ],
  [
    '--limit 0',
    () => ['bcdb', 'find', '--collection', 'c', '--limit', '0', '--home', home],
    /--limit.*1 to 1000/,
  ],
  ['NaN --count', () => ['ping', 'bob', '--home', home, '--count', 'abc'], /--count.*expected an integer/],
  ['float --count', () => ['ping', 'bob', '--home', home, '--count', '1.5'], /--count.*expected an integer/],
  ['bad --timeout', () => ['ping', 'bob', '--home', home, '--timeout', '5x'], /--timeout.*duration/],
  ['bad --ttl', () => ['send', 'bob', 'hi', 'x', '--home', home, '--ttl', '0'], /--ttl.*duration/],
  [
    'bad --record-check',
    () => ['start', '--home', home, '--record-check', 'soon'],
    /--record-check.*duration/,
  ],
  ['port out of range', () => ['phonebook', 'serve', '--port', '70000'], /--port.*port number/],
  ['NaN demo port', () => ['demo', '--zdb-port', 'abc'], /--zdb-port.*port number/],
  ['bad phonebook URL', () => ['lookup', 'bob', '--phonebook', 'not a url'], /--phonebook.*URL/],
  ['ftp phonebook URL', () => ['lookup', 'bob', '--phonebook', 'ftp://x'], /--phonebook.*http/],
  ['NaN zdb port', () => ['zdb', '--port', 'abc'], /--port/],
  // files
  [
    'missing mnemonic file',
    () => ['init', '--home', join(root, 'n1'), '--name', 'nina', '--mnemonic-file', missing],
    /cannot read the mnemonic file/,
  ],
  [
    'missing passphrase file',
    () => ['phonebook', 'register', '--home', home, '--passphrase-file', missing],
    /cannot read the passphrase file/,
  ],
  [
    'home under /proc',
    () => ['init', '--home', '/proc/x/twin', '--name', 'alice'],
    /cannot use \/proc\/x\/twin as a twin home/,
  ],
  ['home is a file', () => ['init', '--home', join(root, 'file.txt'), '--name', 'alice'], /not a directory/],
  ['bad twin name', () => ['init', '--home', join(root, 'n2'), '--name', 'Not OK!'], /name/],
  ['keystore exists', () => ['init', '--home', home, '--name', 'alice'], /already exists/],
  ['no keystore', () => ['phonebook', 'register', '--home', empty], /no keystore in/],
  ['mnemonic not a string', () => ['phonebook', 'register', '--home', bad], /is not a valid keystore/],
  ['bad keystore, bus', () => ['ping', 'bob', '--home', bad], /is not a valid keystore/],
  // the twin is stopped
  [
    'bcdb get, twin stopped',
    () => ['bcdb', 'get', '1', '--home', home],
    /twin is not running at .*: start it with `twin start --home /,
  ],
  [
    'bcdb set, twin stopped',
    () => ['bcdb', 'set', 'x', '--collection', 'c', '--home', home],
    /twin is not running at/,
  ],
  [
    'bcdb find, twin stopped',
    () => ['bcdb', 'find', '--collection', 'c', '--home', home],
    /twin is not running at/,
  ],
  ['bcdb acl list, twin stopped', () => ['bcdb', 'acl', 'list', '--home', home], /twin is not running at/],
  // the phonebook is unreachable
  [
    'lookup, no phonebook',
    () => ['lookup', 'bob', '--phonebook', pb()],
    /ECONNREFUSED|fetch failed|unreachable|connect/i,
  ],
  [
    'register, no phonebook',
    () => ['phonebook', 'register', '--home', home],
    /ECONNREFUSED|fetch failed|unreachable|connect/i,
  ],
  ['list, no phonebook', () => ['phonebook', 'list'], /ECONNREFUSED|fetch failed|unreachable|connect/i],
  [
    'ping, no phonebook',
    () => ['ping', 'bob', '--home', home],
    /ECONNREFUSED|fetch failed|unreachable|connect/i,
  ],
  [
    'remote bcdb, no phonebook',
    () => ['bcdb', 'get', '1', '--twin', 'bob', '--home', home],
    /ECONNREFUSED|fetch failed|unreachable|connect/i,
  ],
  [
    'start, no phonebook',
    () => ['start', '--home', home, '--no-yggdrasil'],
    /ECONNREFUSED|fetch failed|unreachable|connect/i,
  ],
  // a port in use
  [
    'phonebook serve, port in use',
    () => ['phonebook', 'serve', '--port', String(busyPort), '--data', join(root, 'pbd')],
    /EADDRINUSE|in use/,
  ],
  [
    'demo, port in use',
    () => ['demo', '--dir', join(root, 'demo'), '--zdb-port', String(busyPort)],
    /EADDRINUSE|in use/,
  ],
  [
    'zdb, port in use',
    () => ['zdb', '--port', String(busyPort), '--data', join(root, 'zd'), '--index', join(root, 'zi')],
    /EADDRINUSE|in use/,
  ],
  // QSS
  ['qss, config missing', () => ['qss', 'status', '--config', missing], /no-such-file/],
  ['qss, config not JSON', () => ['qss', 'ls', '--config', join(root, 'qss.json')], /qss\.json/],
  [
    'qss, NaN --workers',
    () => ['qss', 'status', '--config', missing, '--workers', 'many'],
    /--workers.*integer/,
  ],
  ['qss, NaN --grace', () => ['qss', 'gc', '--config', missing, '--grace', '-1'], /--grace.*integer/],
  [
    'qss, NaN --interval',
    () => ['qss', 'repair', '--watch', '--interval', 'x', '--config', missing],
    /--interval.*integer/,
  ],
  [
    'qss config, NaN shards',
    () => [
      'qss',
      'config',
      '--data-shards',
      'k',
      '--parity-shards',
      '2',
      '--group',
      'a',
      '--meta',
      'b',
      '--out',
      'c',
    ],
    /--data-shards.*integer/,
  ],
];

for (const [what, args, expected] of CASES) {
  test(`one line, no stack trace, exit ≠ 0: ${what}`, async () => {
    const r = await run(args());
    assert.equal(r.hung, false, `twin ${args().join(' ')} did not end`);
    assert.notEqual(r.code, 0, `exit code 0; stdout: ${r.stdout}`);
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, `stderr has ${lines.length} lines:\n${r.stderr}`);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
    assert.match(lines[0]!, /^twin: /);
    assert.match(lines[0]!, expected);
  });
}
