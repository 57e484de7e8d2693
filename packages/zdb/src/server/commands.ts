/**
 * The command table: 0-db's commands with its reply types and error texts (clients match on them).
 * Handlers are synchronous; they write their reply into `out`.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { statfsSync } from 'node:fs';
import { DEFAULT_NAMESPACE } from '../engine/engine.ts';
import { type Engine, EngineError, type Namespace, type NamespaceMode } from '../engine/types.ts';
import type { ReplyWriter } from '../resp/reply.ts';
import { LIMIT_ERRORS } from './limits.ts';
import type { Session } from './session.ts';

export interface ServerContext {
  engine: Engine;
  admin: string;
  protect: boolean;
  mode: NamespaceMode | 'mix';
  instanceId: number;
  bootTime: number;
  stats: { clients: number; commands: number; failed: number; unauthorized: number; rx: number; tx: number };
  version: string;
  dataDir: string;
  indexDir: string;
  /** WAIT: registers a one-shot watcher for a command name ('*' = any). */
  watch(session: Session, command: string, timeoutMs: number): void;
  /** A client's output limit (limits.ts): one MGET may not answer more than this. */
  maxOutput: number;
}

/** `chunks`: arguments received as chunks (index → chunks; their argv slot is empty), see parser.ts. */
type Handler = (
  ctx: ServerContext,
  s: Session,
  argv: Buffer[],
  out: ReplyWriter,
  chunks?: ReadonlyMap<number, Buffer[]> | null,
) => void;

export const MAX_KEY_LENGTH = 255;
const SCAN_PAGE = 512;

/**
 * Whether the session may write: it SELECTed its namespace with the password (or the namespace
 * has none). Being admin does not bypass a namespace password (0-db v2); with --protect, the
 * default namespace's password is the admin password, and AUTH as admin also grants it.
 */
function writable(ctx: ServerContext, s: Session): boolean {
  if (ctx.protect && s.admin && s.ns.name === DEFAULT_NAMESPACE) return true;
  return s.granted;
}

/** The password SELECT asks for: --protect gives the default namespace the admin password. */
function passwordOf(ctx: ServerContext, ns: Namespace): string {
  return ctx.protect && ns.name === DEFAULT_NAMESPACE ? ctx.admin : ns.props.password;
}

function arity(argv: Buffer[], n: number, out: ReplyWriter, allowEmpty = false): boolean {
  if (argv.length !== n) {
    out.error('Unexpected arguments');
    return false;
  }
  if (!allowEmpty) {
    for (let i = 1; i < n; i++) {
      if (argv[i]!.length === 0) {
        out.error('Invalid argument');
        return false;
      }
    }
  }
  return true;
}

function admin(ctx: ServerContext, s: Session, out: ReplyWriter): boolean {
  if (s.admin) return true;
  ctx.stats.unauthorized++;
  out.error('Permission denied');
  return false;
}

function keyArg(argv: Buffer[], out: ReplyWriter): Buffer | null {
  if (!arity(argv, 2, out)) return null;
  if (argv[1]!.length > MAX_KEY_LENGTH) {
    out.error('Invalid key');
    return null;
  }
  return argv[1]!;
}

function frozen(s: Session, out: ReplyWriter): boolean {
  if (s.ns.props.frozen) {
    out.error('Namespace is temporarily frozen');
    return true;
  }
  return false;
}

export function sha1Hex(s: string): string {
  return createHash('sha1').update(s).digest('hex');
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function engineError(e: unknown, out: ReplyWriter): void {
  if (e instanceof EngineError && e.code === 'data_corrupted') {
    out.error('Internal Error: data corrupted (checksum mismatch)');
  } else if (e instanceof EngineError && e.code !== 'io_error') {
    out.error(e.message); // 0-db's own text for this failure
  } else {
    out.error(`Internal Error: ${(e as Error).message}`);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A namespace name from its bytes; '' when they are not UTF-8 (no such namespace can exist). */
function decodeName(b: Buffer): string {
  try {
    return utf8.decode(b);
  } catch {
    return '';
  }
}

/**
 * The namespace name argument, decoded as strict UTF-8 so that distinct byte strings are distinct
 * names; null (after replying) when it is too long. Invalid UTF-8 gives '', which names nothing.
 */
function namespaceArg(argv: Buffer[], out: ReplyWriter): string | null {
  if (argv[1]!.length > 128) {
    out.error('Namespace too long');
    return null;
  }
  return decodeName(argv[1]!);
}

const set: Handler = (ctx, s, argv, out, chunks) => {
  if (argv.length !== 3) return out.error('Unexpected arguments');
  if (argv[1]!.length > MAX_KEY_LENGTH) return out.error('Key too large');
  if (!writable(ctx, s)) return out.error('Namespace is in read-only mode');
  try {
    const key = s.ns.set(argv[1]!, chunks?.get(2) ?? argv[2]!);
    if (key === null) out.nil();
    else out.bulk(key);
  } catch (e) {
    engineError(e, out);
  }
};

const get: Handler = (_ctx, s, argv, out) => {
  const key = keyArg(argv, out);
  if (!key) return;
  try {
    const value = s.ns.get(key);
    if (value === null) out.nil();
    else out.bulk(value);
  } catch (e) {
    engineError(e, out);
  }
};

const mget: Handler = (ctx, s, argv, out) => {
  if (argv.length < 2) return out.error('Unexpected arguments');
  // One lookup per key; the values are held until all are read, and the reading stops as soon as
  // they exceed the client's output limit (so at most that limit and one value are held).
  const values: (Buffer | null)[] = [];
  let total = 0;
  for (let i = 1; i < argv.length; i++) {
    let value: Buffer | null = null;
    try {
      if (argv[i]!.length <= MAX_KEY_LENGTH) value = s.ns.get(argv[i]!);
    } catch {
      // a corrupt entry answers nil
    }
    total += value?.length ?? 0;
    if (total > ctx.maxOutput) return out.error(LIMIT_ERRORS.reply);
    values.push(value);
  }
  out.array(values.length);
  for (const value of values) {
    if (value === null) out.nil();
    else out.bulk(value);
  }
};

const del: Handler = (ctx, s, argv, out) => {
  const key = keyArg(argv, out);
  if (!key) return;
  if (!writable(ctx, s)) return out.error('Namespace is in read-only mode');
  try {
    s.ns.del(key);
    out.ok();
  } catch (e) {
    engineError(e, out);
  }
};

const exists: Handler = (_ctx, s, argv, out) => {
  const key = keyArg(argv, out);
  if (!key || frozen(s, out)) return;
  out.integer(s.ns.exists(key) ? 1 : 0);
};

const check: Handler = (_ctx, s, argv, out) => {
  const key = keyArg(argv, out);
  if (!key || frozen(s, out)) return;
  try {
    const ok = s.ns.check(key);
    if (ok === null) out.nil();
    else out.integer(ok ? 1 : 0);
  } catch {
    out.integer(0);
  }
};

const length: Handler = (_ctx, s, argv, out) => {
  const key = keyArg(argv, out);
  if (!key) return;
  const info = s.ns.info(key);
  if (info === null) out.nil();
  else out.integer(info.size);
};

const keytime: Handler = (_ctx, s, argv, out) => {
  const key = keyArg(argv, out);
  if (!key) return;
  const info = s.ns.info(key);
  if (info === null) out.nil();
  else out.integer(info.timestamp);
};

const keycur: Handler = (_ctx, s, argv, out) => {
  if (!arity(argv, 2, out)) return;
  const cursor = argv[1]!.length <= MAX_KEY_LENGTH ? s.ns.cursorOf(argv[1]!) : null;
  if (cursor === null) out.error('Key not found');
  else out.bulk(cursor);
};

function scanner(reverse: boolean): Handler {
  return (_ctx, s, argv, out) => {
    if (argv.length > 2) return out.error('Unexpected arguments');
    if (frozen(s, out)) return;
    const cursor = argv.length === 2 ? argv[1]! : null;
    if (cursor && cursor.length !== 8) return out.error('Invalid key format');
    let page: ReturnType<Namespace['scan']>;
    try {
      page = s.ns.scan(cursor, SCAN_PAGE, reverse);
    } catch {
      return out.error('Invalid key format');
    }
    if (page.entries.length === 0) return out.error('No more data');
    out.array(2);
    out.bulk(page.cursor);
    out.array(page.entries.length);
    for (const e of page.entries) {
      out.array(3);
      out.bulk(e.key);
      out.integer(e.size);
      out.integer(e.timestamp);
    }
  };
}

const history: Handler = (_ctx, s, argv, out) => {
  if (argv.length !== 2 && argv.length !== 3) return out.error('Invalid arguments');
  if (frozen(s, out)) return;
  const key = argv[1]!;
  if (key.length === 0 || key.length > MAX_KEY_LENGTH) return out.error('Invalid arguments');
  let position: Buffer | null = null;
  if (argv.length === 3) {
    position = argv[2]!;
    if (position.length !== 8) return out.error('Invalid arguments');
    if (position.every((x) => x === 0)) return out.error('No more history');
  }
  try {
    const h = s.ns.history(key, position);
    if (!h) return out.error('Key not found');
    out.array(3);
    if (h.previous) out.bulk(h.previous);
    else out.nil();
    out.bulkString(String(h.timestamp));
    out.bulk(h.payload);
  } catch (e) {
    engineError(e, out);
  }
};

const ping: Handler = (_ctx, _s, _argv, out) => out.status('PONG');

const time: Handler = (_ctx, _s, _argv, out) => {
  const now = Date.now();
  out.array(2);
  out.bulkString(String(Math.floor(now / 1000)));
  out.bulkString(String((now % 1000) * 1000));
};

const auth: Handler = (ctx, s, argv, out) => {
  if (argv.length === 2) {
    if (!ctx.admin) return out.error('Authentication disabled');
    if (argv[1]!.length > 128) return out.error('Password too long');
    if (same(argv[1]!.toString(), ctx.admin)) {
      s.admin = true;
      return out.ok();
    }
    ctx.stats.unauthorized++;
    return out.error('Access denied');
  }
  if (argv.length !== 3) return out.error('Unexpected arguments');
  if (argv[1]!.toString().toUpperCase() !== 'SECURE') return out.error('Only SECURE extra method supported');
  if (argv[2]!.toString().toUpperCase() === 'CHALLENGE') {
    s.nonce = randomBytes(16).toString('hex');
    return out.status(s.nonce);
  }
  if (!ctx.admin) return out.error('Authentication disabled');
  if (s.nonce === null) return out.error('No CHALLENGE requested, secure authentication not available');
  if (argv[2]!.length !== 40) return out.error('Invalid hash length');
  const expected = sha1Hex(`${s.nonce}:${ctx.admin}`);
  s.nonce = null;
  if (same(argv[2]!.toString().toLowerCase(), expected)) {
    s.admin = true;
    return out.ok();
  }
  ctx.stats.unauthorized++;
  out.error('Access denied');
};

const select: Handler = (ctx, s, argv, out) => {
  if (argv.length < 2 || argv.length > 4) return out.error('Invalid argument');
  const name = namespaceArg(argv, out);
  if (name === null) return;
  const ns = ctx.engine.namespace(name);
  if (!ns) return out.error('Namespace not found');
  let granted = true;
  // Every client needs the password, the admin included (0-db v2).
  const password = passwordOf(ctx, ns);
  if (password) {
    if (argv.length === 2) {
      if (!ns.props.public) return out.error('Namespace protected and private');
      granted = false;
    } else if (argv.length === 4) {
      if (argv[2]!.toString().toUpperCase() !== 'SECURE')
        return out.error('Only SECURE extra method supported');
      if (s.nonce === null) return out.error('No CHALLENGE requested, secure authentication not available');
      if (argv[3]!.length !== 40) return out.error('Invalid hash length');
      const expected = sha1Hex(`${s.nonce}:${password}`);
      s.nonce = null;
      if (!same(argv[3]!.toString().toLowerCase(), expected)) return out.error('Access denied');
    } else {
      if (argv[2]!.length > 255) return out.error('Password too long');
      if (!same(argv[2]!.toString(), password)) return out.error('Access denied');
    }
  }
  s.ns = ns;
  s.granted = granted;
  out.ok();
};

const nsnew: Handler = (ctx, s, argv, out) => {
  if (!admin(ctx, s, out) || !arity(argv, 2, out)) return;
  const name = namespaceArg(argv, out);
  if (name === null) return;
  try {
    ctx.engine.create(name);
    out.ok();
  } catch (e) {
    engineError(e, out);
  }
};

const nsdel: Handler = (ctx, s, argv, out) => {
  if (!admin(ctx, s, out) || !arity(argv, 2, out)) return;
  const name = namespaceArg(argv, out);
  if (name === null) return;
  if (name === DEFAULT_NAMESPACE) return out.error('Cannot remove default namespace');
  const ns = ctx.engine.namespace(name);
  if (!ns) return out.error("This namespace doesn't exists");
  if (s.ns === ns) return out.error("Cannot remove namespace you're currently using.");
  try {
    ctx.engine.remove(name);
    out.ok();
  } catch (e) {
    engineError(e, out);
  }
};

const reload: Handler = (ctx, s, argv, out) => {
  if (!admin(ctx, s, out) || !arity(argv, 2, out)) return;
  const name = namespaceArg(argv, out);
  if (name === null) return;
  if (!ctx.engine.namespace(name)) return out.error('Namespace not found');
  try {
    ctx.engine.reload(name);
    out.ok();
  } catch (e) {
    engineError(e, out);
  }
};

const nslist: Handler = (ctx, _s, _argv, out) => {
  const names = ctx.engine.list();
  out.array(names.length);
  for (const n of names) out.bulkString(n);
};

function freeSpace(path: string): number {
  try {
    const st = statfsSync(path);
    return st.bavail * st.bsize;
  } catch {
    return 0;
  }
}

const mb = (n: number) => (n / (1024 * 1024)).toFixed(2);

const nsinfo: Handler = (ctx, _s, argv, out) => {
  if (!arity(argv, 2, out)) return;
  const name = namespaceArg(argv, out);
  if (name === null) return;
  const ns = ctx.engine.namespace(name);
  if (!ns) return out.error('Namespace not found');
  const st = ns.stats();
  const p = ns.props;
  const indexFree = freeSpace(ctx.indexDir);
  const dataFree = freeSpace(ctx.dataDir);
  const lines = [
    '# namespace',
    `name: ${ns.name}`,
    `entries: ${st.entries}`,
    `public: ${p.public ? 'yes' : 'no'}`,
    `password: ${p.password ? 'yes' : 'no'}`,
    `data_size_bytes: ${st.dataSizeBytes}`,
    `data_size_mb: ${mb(st.dataSizeBytes)}`,
    `data_limits_bytes: ${p.maxsize}`,
    `index_size_bytes: ${st.indexDiskBytes}`,
    `index_size_kb: ${(st.indexDiskBytes / 1024).toFixed(2)}`,
    `data_disk_bytes: ${st.dataDiskBytes}`,
    `data_current_id: ${st.dataFileId}`,
    `index_current_id: ${st.indexFileId}`,
    `mode: ${p.mode === 'seq' ? 'sequential' : 'userkey'}`,
    `locked: ${p.locked ? 'yes' : 'no'}`,
    `frozen: ${p.frozen ? 'yes' : 'no'}`,
    `next_id: ${st.nextId}`,
    `index_disk_freespace_bytes: ${indexFree}`,
    `index_disk_freespace_mb: ${mb(indexFree)}`,
    `data_disk_freespace_bytes: ${dataFree}`,
    `data_disk_freespace_mb: ${mb(dataFree)}`,
  ];
  out.bulkString(`${lines.join('\n')}\n`);
};

const flag = (v: string) => v === '1' || v.toLowerCase() === 'yes' || v.toLowerCase() === 'true';

const nsset: Handler = (ctx, s, argv, out) => {
  if (!admin(ctx, s, out) || !arity(argv, 4, out)) return;
  const name = namespaceArg(argv, out);
  if (name === null) return;
  if (argv[3]!.length > 63) return out.error('Invalid value');
  const property = argv[2]!.toString();
  const value = argv[3]!.toString();
  const ns = ctx.engine.namespace(name);
  if (!ns) return out.error('Namespace not found');
  // mode, lock and freeze apply to any namespace, the default one included (as in 0-db).
  if (name === DEFAULT_NAMESPACE && property !== 'lock' && property !== 'freeze' && property !== 'mode') {
    return out.error('Cannot update default namespace');
  }
  switch (property) {
    case 'maxsize': {
      if (!/^\d+$/.test(value)) return out.error('Invalid value');
      ns.setProps({ maxsize: Number(value) });
      break;
    }
    case 'password':
      ns.setProps({ password: value === '*' ? '' : value });
      break;
    case 'public':
      ns.setProps({ public: flag(value) });
      break;
    case 'lock':
      ns.setProps({ locked: flag(value) });
      break;
    case 'freeze':
      ns.setProps({ frozen: flag(value) });
      break;
    case 'mode': {
      if (ctx.mode !== 'mix')
        return out.error('This server instance is configured to use a single runtime mode');
      if (!ns.fresh()) return out.error('Cannot change mode of used namespace');
      if (value !== 'user' && value !== 'seq')
        return out.error('Invalid property value (expected: user, seq)');
      ns.setProps({ mode: value });
      break;
    }
    default:
      return out.error('Invalid property');
  }
  out.ok();
};

const dbsize: Handler = (_ctx, s, _argv, out) => out.integer(s.ns.stats().entries);

const flush: Handler = (ctx, s, _argv, out) => {
  if (!s.admin && (s.ns.props.public || !s.ns.props.password))
    return out.error('Flushing public namespace denied');
  if (!writable(ctx, s)) return out.error('Namespace is in read-only mode');
  s.ns.flush();
  out.ok();
};

const info: Handler = (ctx, _s, _argv, out) => {
  const now = Math.floor(Date.now() / 1000);
  const mem = process.memoryUsage();
  const lines = [
    '# server',
    'server_name: 0-db (zdb)',
    `server_revision: twin-zdb ${ctx.version}`,
    `instance_id: ${ctx.instanceId}`,
    `boot_time: ${ctx.bootTime}`,
    `uptime: ${now - ctx.bootTime}`,
    `mode: ${ctx.mode === 'seq' ? 'sequential' : ctx.mode === 'mix' ? 'mixed' : 'userkey'}`,
    '',
    '# clients',
    `clients_lifetime: ${ctx.stats.clients}`,
    '',
    '# stats',
    `commands_executed: ${ctx.stats.commands}`,
    `commands_failed: ${ctx.stats.failed}`,
    `commands_unauthorized: ${ctx.stats.unauthorized}`,
    `network_rx_bytes: ${ctx.stats.rx}`,
    `network_tx_bytes: ${ctx.stats.tx}`,
    `namespaces: ${ctx.engine.list().length}`,
    '',
    '# memory',
    `memory_rss_bytes: ${mem.rss}`,
    `memory_heap_used_bytes: ${mem.heapUsed}`,
  ];
  out.bulkString(`${lines.join('\n')}\n`);
};

const wait: Handler = (ctx, s, argv, out) => {
  if (argv.length !== 2 && argv.length !== 3) return out.error('Invalid arguments');
  const command = argv[1]!.toString().toUpperCase();
  if (command !== '*' && !COMMANDS.has(command)) return out.error('Unknown command to watch');
  let timeout = 5000;
  if (argv.length === 3) {
    timeout = Number(argv[2]!.toString());
    if (!Number.isInteger(timeout) || timeout < 100 || timeout > 30 * 60 * 1000)
      return out.error('Invalid timeout');
  }
  ctx.watch(s, command, timeout);
};

/** COMMAND / CONFIG: redis tools probe these; an empty list tells them there is nothing to learn. */
const command: Handler = (_ctx, _s, _argv, out) => out.array(0);

export const COMMANDS = new Map<string, Handler>([
  ['PING', ping],
  ['TIME', time],
  ['AUTH', auth],
  ['SET', set],
  ['SETX', set],
  ['GET', get],
  ['MGET', mget],
  ['DEL', del],
  ['EXISTS', exists],
  ['CHECK', check],
  ['LENGTH', length],
  ['KEYTIME', keytime],
  ['KEYCUR', keycur],
  ['SCAN', scanner(false)],
  ['SCANX', scanner(false)],
  ['RSCAN', scanner(true)],
  ['HISTORY', history],
  ['INFO', info],
  ['DBSIZE', dbsize],
  ['NSNEW', nsnew],
  ['NSDEL', nsdel],
  ['NSLIST', nslist],
  ['NSSET', nsset],
  ['NSINFO', nsinfo],
  ['SELECT', select],
  ['RELOAD', reload],
  ['FLUSH', flush],
  ['WAIT', wait],
  ['COMMAND', command],
  ['CONFIG', command],
]);

/** Commands that may append to the data files (the server syncs before acknowledging them in --sync). */
export const WRITES = new Set(['SET', 'SETX', 'DEL', 'FLUSH', 'NSNEW', 'NSDEL', 'NSSET']);
