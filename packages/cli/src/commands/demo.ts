/**
 * `twin demo` (what `npm start` runs): the real system on one machine, for a person to use in a
 * browser. In this process: a phonebook and the 0-db backends of Quantum Safe Storage (six data
 * backends in three groups, three metadata backends). As child processes: three twins, alice,
 * bob and carol, each a real `twin start` (the same command a user runs) with its web app and API
 * on a fixed loopback port. First run: each twin's identity is created, registered in the
 * phonebook (in this order, so alice is twin 1) and given a qss.json with namespaces of its own on
 * every backend. The twins are strangers: they find each other by name.
 *
 * It prints one sign-in link per twin (one-time, 10 minutes; `twin signin-link --home H` makes
 * another), or with --json one line per twin. Everything lives in --dir (default .demo), kept
 * across restarts; --fresh starts empty. Ctrl-C (SIGINT/SIGTERM) stops the twins, then the rest.
 * A twin that exits is reported with the command that restarts it; the others keep running.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { initIdentity, loadIdentity } from '@twin/identity';
import { PhonebookClient, type RunningPhonebook, startPhonebook } from '@twin/phonebook';
import { callApi } from '@twin/twin/client';
import { ZdbClient, ZdbServer } from '@twin/zdb';
import { Command, InvalidArgumentError } from 'commander';
import { CliError } from '../errors.ts';
import { port } from '../options.ts';
import { stopOnSignals } from '../signals.ts';

/** The demo's twins, in the order they are registered (alice is twin 1 on a fresh phonebook). */
export const DEMO_TWINS = ['alice', 'bob', 'carol'] as const;
/** QSS groups (sites) and data backends per group; then the metadata backends. */
const GROUPS = ['site-a', 'site-b', 'site-c'] as const;
const BACKENDS_PER_GROUP = 2;
const META_BACKENDS = 3;
/** The file in --dir that marks it as a demo folder and keeps its settings across restarts. */
const STATE_FILE = 'demo.json';
/** How long a twin may take to answer on its API after it was started (loaded machines are slow). */
export const TWIN_START_TIMEOUT_MS = 180_000;
/** How long a twin may take to stop on SIGTERM before it is killed. */
export const TWIN_STOP_TIMEOUT_MS = 20_000;
const DEFAULTS = { apiPort: 8741, phonebookPort: 8730, zdbPort: 9900 };

interface DemoState {
  version: 1;
  /** The 0-db admin password of every backend (the namespaces have their own). */
  admin: string;
  zdbPort: number;
}

interface Options {
  dir: string;
  fresh?: boolean;
  json?: boolean;
  apiPort: number;
  phonebookPort: number;
  zdbPort: number;
}

interface Backend {
  name: string;
  group?: string;
  port: number;
  role: 'data' | 'meta';
}

interface Twin {
  name: string;
  home: string;
  port: number;
  args: string[];
  child?: ChildProcess;
  stopping?: boolean;
}

/** One argument as a POSIX shell reads it back. */
const quote = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`);

const progress = (line: string) => process.stderr.write(`${line}\n`);

/** Refuses a port another process holds: the one-line error names the port and the flag. */
async function checkPort(p: number, what: string, flag: string): Promise<void> {
  await new Promise<void>((ok, fail) => {
    const server = createServer();
    server.once('error', (e: NodeJS.ErrnoException) =>
      fail(
        new CliError(
          'port_in_use',
          e.code === 'EADDRINUSE'
            ? `port ${p} (${what}) is in use: choose another with ${flag} <port>`
            : `cannot listen on 127.0.0.1:${p} (${what}): ${e.code ?? e.message}; choose another with ${flag} <port>`,
        ),
      ),
    );
    server.listen({ host: '127.0.0.1', port: p, exclusive: true }, () => server.close(() => ok()));
  });
}

/** The pid of this twin's process when one still runs on its port (a demo that was killed leaves it). */
function earlierTwin(t: Twin): number | undefined {
  try {
    const api = JSON.parse(readFileSync(join(t.home, 'api.json'), 'utf8')) as {
      port?: unknown;
      pid?: unknown;
    };
    if (api.port !== t.port || typeof api.pid !== 'number' || !Number.isInteger(api.pid) || api.pid <= 1)
      return undefined;
    process.kill(api.pid, 0);
    return api.pid;
  } catch {
    return undefined;
  }
}

/**
 * The demo folder's state, checked before anything is changed: undefined when the demo starts
 * empty (a new folder, or --fresh on a demo folder). Only a folder the demo made (it holds
 * STATE_FILE) or an empty one is ever used, and --fresh empties only a demo folder.
 */
function readState(dir: string, o: Options, zdbPortGiven: boolean): DemoState | undefined {
  const stateFile = join(dir, STATE_FILE);
  const used = existsSync(dir) && readdirSync(dir).length > 0;
  if (used && !existsSync(stateFile))
    throw new CliError(
      'not_demo_dir',
      `${dir} is not empty and is not a demo folder (no ${STATE_FILE}): choose another with --dir`,
    );
  if (!used || o.fresh) return undefined;
  let state: DemoState;
  try {
    state = JSON.parse(readFileSync(stateFile, 'utf8')) as DemoState;
  } catch {
    throw new CliError('not_demo_dir', `${stateFile} is not valid JSON: start over with --fresh`);
  }
  if (state.version !== 1 || typeof state.admin !== 'string' || !Number.isInteger(state.zdbPort))
    throw new CliError('not_demo_dir', `${stateFile} is not a demo state file: start over with --fresh`);
  // QSS objects name their backends by address: the backends keep the ports they were created with.
  if (!zdbPortGiven) o.zdbPort = state.zdbPort;
  return state;
}

/** Empties the folder for --fresh, then writes the state (a new one on the first run). */
function writeState(dir: string, o: Options, existing: DemoState | undefined): DemoState {
  if (o.fresh) rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const state = existing ?? { version: 1, admin: randomBytes(16).toString('hex'), zdbPort: o.zdbPort };
  state.zdbPort = o.zdbPort;
  writeFileSync(join(dir, STATE_FILE), `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  return state;
}

function backends(zdbPort: number): Backend[] {
  const out: Backend[] = [];
  for (const group of GROUPS)
    for (let i = 1; i <= BACKENDS_PER_GROUP; i++)
      out.push({ name: `${group}-${i}`, group, port: zdbPort + out.length, role: 'data' });
  for (let i = 1; i <= META_BACKENDS; i++)
    out.push({ name: `meta-${i}`, port: zdbPort + out.length, role: 'meta' });
  return out;
}

/**
 * A twin's QSS namespaces on every backend (created when missing, private, with the twin's
 * password) and its qss.json (written on the first run: it holds the metadata key).
 */
async function prepareQss(home: string, name: string, all: Backend[], admin: string): Promise<void> {
  const file = join(home, 'qss.json');
  let password: string;
  if (existsSync(file)) password = (JSON.parse(readFileSync(file, 'utf8')) as { password: string }).password;
  else password = randomBytes(16).toString('hex');
  for (const b of all) {
    const client = new ZdbClient({ port: b.port, admin });
    try {
      if (!(await client.nslist()).includes(name)) {
        await client.nsnew(name);
        if (b.role === 'data') await client.nsset(name, 'mode', 'seq');
      }
      await client.nsset(name, 'public', '0');
      await client.nsset(name, 'password', password);
    } finally {
      client.close();
    }
  }
  const address = (b: Backend) => `127.0.0.1:${b.port}/${name}`;
  const config = {
    dataShards: 4,
    parityShards: 2,
    tolerate: { groups: 1, backendsPerGroup: 0 },
    key: existsSync(file)
      ? (JSON.parse(readFileSync(file, 'utf8')) as { key: string }).key
      : randomBytes(32).toString('hex'),
    password,
    groups: GROUPS.map((g) => ({ name: g, backends: all.filter((b) => b.group === g).map(address) })),
    meta: { backends: all.filter((b) => b.role === 'meta').map(address), quorum: 2 },
    repair: { intervalSeconds: 600 },
  };
  writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
}

/** Starts `twin start` for one twin and resolves once its API answers on its port. */
function startTwin(
  t: Twin,
  onExit: (t: Twin, code: number | null, signal: string | null) => void,
): Promise<number> {
  // Its own process group: the terminal's Ctrl-C reaches the demo only, which stops the twins itself
  // (a second signal would end a twin in the middle of stopping).
  // The keystores have no passphrase: a TWIN_PASSPHRASE meant for another twin must not reach them.
  const { TWIN_PASSPHRASE: _, ...env } = process.env;
  const child = spawn(process.execPath, t.args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env });
  t.child = child;
  const log = createWriteStream(join(t.home, 'twin.log'), { flags: 'a', mode: 0o600 });
  child.stderr!.pipe(log);
  let out = '';
  let lastError = '';
  child.stderr!.on('data', (d: Buffer) => {
    const lines = d.toString().trim().split('\n');
    const line = lines.filter((l) => l.startsWith('twin: ')).pop();
    if (line) lastError = line.replace(/^twin: /, '');
  });
  return new Promise<number>((resolveUp, rejectUp) => {
    let up = false;
    const timer = setTimeout(() => {
      if (!up)
        rejectUp(
          new CliError(
            'twin_start_failed',
            `${t.name}'s twin did not start within ${TWIN_START_TIMEOUT_MS / 1000} s (log: ${join(t.home, 'twin.log')})`,
          ),
        );
    }, TWIN_START_TIMEOUT_MS);
    child.stdout!.on('data', (d: Buffer) => {
      if (up) return; // what it prints later is its own business (its log is on stderr)
      out += d.toString();
      const m = /API on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m && !up) {
        up = true;
        clearTimeout(timer);
        resolveUp(Number(m[1]));
      }
    });
    child.once('exit', (code, signal) => {
      log.end();
      clearTimeout(timer);
      if (!up)
        rejectUp(
          new CliError(
            'twin_start_failed',
            `${t.name}'s twin exited while starting: ${lastError || `code ${code ?? signal}`} (log: ${join(t.home, 'twin.log')})`,
          ),
        );
      else onExit(t, code, signal);
    });
  });
}

/** SIGTERM, then SIGKILL after TWIN_STOP_TIMEOUT_MS; resolves when the process is gone. */
function stopTwin(t: Twin): Promise<void> {
  const child = t.child;
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  t.stopping = true;
  return new Promise<void>((done) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), TWIN_STOP_TIMEOUT_MS);
    child.once('exit', () => {
      clearTimeout(kill);
      done();
    });
    child.kill('SIGTERM');
  });
}

/** A port that is the first of `n` consecutive ones (0, "any port", cannot be: the others follow it). */
const firstOf =
  (n: number) =>
  (v: string): number => {
    const p = port(v);
    if (p < 1 || p + n - 1 > 65535) throw new InvalidArgumentError(`expected a port from 1 to ${65536 - n}`);
    return p;
  };

export function demoCommand(): Command {
  const cmd = new Command('demo')
    .description(
      'run alice, bob and carol: three real twins with their web apps, a phonebook and QSS backends',
    )
    .option(
      '--dir <dir>',
      'where the demo keeps its data (kept across restarts)',
      process.env.TWIN_DEMO_DIR ?? '.demo',
    )
    .option('--fresh', 'start empty: delete the demo folder first')
    .option('--json', 'print one JSON line per twin (name, twin, url, link, pid, home, restart)')
    .option(
      '--api-port <port>',
      "alice's web app and API port; bob's and carol's follow it",
      firstOf(DEMO_TWINS.length),
      DEFAULTS.apiPort,
    )
    .option('--phonebook-port <port>', "the phonebook's port", firstOf(1), DEFAULTS.phonebookPort)
    .option(
      '--zdb-port <port>',
      `the first of the ${GROUPS.length * BACKENDS_PER_GROUP + META_BACKENDS} QSS 0-db backends' ports (kept from the first run)`,
      firstOf(GROUPS.length * BACKENDS_PER_GROUP + META_BACKENDS),
      DEFAULTS.zdbPort,
    );
  return cmd.action(async (o: Options) => {
    await runDemo(o, cmd.getOptionValueSource('zdbPort') === 'cli');
  });
}

async function runDemo(o: Options, zdbPortGiven: boolean): Promise<void> {
  const t0 = performance.now();
  const dir = resolve(o.dir);
  const existing = readState(dir, o, zdbPortGiven);
  const all = backends(o.zdbPort);
  const bin = process.argv[1]!;
  const twins: Twin[] = DEMO_TWINS.map((name, i) => ({
    name,
    home: join(dir, name),
    port: o.apiPort + i,
    args: [],
  }));
  await checkPort(o.phonebookPort, 'the phonebook', '--phonebook-port');
  for (const b of all) await checkPort(b.port, `QSS backend ${b.name}`, '--zdb-port');
  for (const t of twins)
    await checkPort(t.port, `${t.name}'s web app`, '--api-port').catch((e) => {
      const earlier = earlierTwin(t);
      if (!earlier) throw e;
      throw new CliError(
        'port_in_use',
        `port ${t.port} is in use by ${t.name}'s twin from an earlier demo (pid ${earlier}): stop it with \`kill ${earlier}\`, or choose another port with --api-port <port>`,
      );
    });
  const state = writeState(dir, o, existing);

  const zdbs: ZdbServer[] = [];
  let phonebook: RunningPhonebook | undefined;
  let stopping = false;
  const stopAll = async () => {
    stopping = true;
    await Promise.all(twins.map(stopTwin));
    for (const z of zdbs.splice(0)) await z.close();
    await phonebook?.close();
    phonebook = undefined;
  };
  stopOnSignals(async () => {
    progress('stopping the twins, the phonebook and the QSS backends ...');
    await stopAll();
    progress(`demo stopped; data kept in ${dir}`);
  });
  // A closed terminal stops the demo like Ctrl-C (the twins, in their own process groups, get no SIGHUP).
  process.once('SIGHUP', () => process.kill(process.pid, 'SIGTERM'));
  // Whatever ends this process, no twin is left behind.
  process.once('exit', () => {
    for (const t of twins) if (t.child && t.child.exitCode === null) t.child.kill('SIGKILL');
  });

  try {
    progress(`Digital Twin demo in ${dir}`);
    phonebook = await startPhonebook({ dataDir: join(dir, 'phonebook'), port: o.phonebookPort });
    progress(`  phonebook            ${phonebook.url}`);
    for (const b of all)
      zdbs.push(
        await ZdbServer.start({
          listen: '127.0.0.1',
          port: b.port,
          data: join(dir, 'zdb', b.name, 'data'),
          index: join(dir, 'zdb', b.name, 'index'),
          mode: 'mix',
          admin: state.admin,
          protect: true,
        }),
      );
    progress(
      `  QSS 0-db backends    ${GROUPS.map(
        (g) =>
          `${g}: ${all
            .filter((b) => b.group === g)
            .map((b) => b.port)
            .join(',')}`,
      ).join('; ')}; metadata: ${all
        .filter((b) => b.role === 'meta')
        .map((b) => b.port)
        .join(',')}`,
    );
    const pb = new PhonebookClient({ url: phonebook.url });
    for (const t of twins) {
      if (!existsSync(join(t.home, 'keystore.json'))) {
        initIdentity({ home: t.home, name: t.name });
        progress(`  ${t.name.padEnd(6)} identity created in ${t.home}`);
      }
      const record = await pb.publish(loadIdentity(t.home), undefined);
      await prepareQss(t.home, t.name, all, state.admin);
      const url = phonebook.url;
      t.args = [
        bin,
        'start',
        '--home',
        t.home,
        '--phonebook',
        url,
        '--api-port',
        String(t.port),
        '--no-yggdrasil',
      ];
      progress(`  ${t.name.padEnd(6)} twin ${record.id} registered; starting ...`);
    }
    const onExit = (t: Twin, code: number | null, signal: string | null) => {
      if (stopping || t.stopping) return;
      console.error(
        `twin: ${t.name}'s twin exited (${signal ?? `code ${code}`}; log: ${join(t.home, 'twin.log')}): restart it with ${restartCommand(t)}`,
      );
    };
    await Promise.all(twins.map(async (t) => startTwin(t, onExit)));
    const seconds = ((performance.now() - t0) / 1000).toFixed(1);
    const page = await fetch(`http://127.0.0.1:${twins[0]!.port}/`, { method: 'HEAD' }).catch(
      () => undefined,
    );
    if (page?.status === 503)
      progress(
        '  the web app is not built: the links open a page that says so (build it: npm run build --workspace @twin/web)',
      );
    for (const t of twins) {
      const link = await callApi<{ url: string }>(t.home, 'POST', '/api/session/link');
      const me = await callApi<{ twin: number; name: string }>(t.home, 'GET', '/api/me');
      if (o.json)
        console.log(
          JSON.stringify({
            name: t.name,
            twin: me.twin,
            url: `http://127.0.0.1:${t.port}/`,
            link: link.url,
            pid: t.child!.pid,
            home: t.home,
            restart: restartCommand(t),
            command: [process.execPath, ...t.args],
          }),
        );
      else console.log(`  ${t.name.padEnd(6)} twin ${String(me.twin).padEnd(3)} ${link.url}`);
    }
    if (!o.json) {
      console.log(
        `Digital Twin demo: alice, bob and carol are up (${seconds} s). Open a link to sign in as that twin.`,
      );
      console.log(
        `  Each link signs in once, within 10 minutes; another one: npx twin signin-link --home ${shown(twins[0]!.home)}`,
      );
      console.log(`  Data in ${dir} (kept; --fresh starts empty). Ctrl-C stops everything.`);
    } else progress(`  all twins up in ${seconds} s`);
  } catch (e) {
    if (!stopping) await stopAll().catch(() => {});
    throw e;
  }
}

/** A path as the user would type it here: relative to the working directory when inside it. */
function shown(path: string): string {
  const r = relative(process.cwd(), path);
  return r && !r.startsWith('..') && !isAbsolute(r) ? r : path;
}

function restartCommand(t: Twin): string {
  return [process.execPath, ...t.args].map(quote).join(' ');
}
