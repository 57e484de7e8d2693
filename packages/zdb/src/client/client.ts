/**
 * A 0-db client: promise API over pipelined connections (many concurrent calls share a socket,
 * replies are matched in order), a small pool, lazy reconnect that replays AUTH/SELECT, timeouts,
 * and typed errors carrying the server's error text.
 */
import { createHash } from 'node:crypto';
import { type Reply, Status } from '../resp/replies.ts';
import { type Arg, type Endpoint, IDLE_CLOSE_MS, PipelinedConnection } from './connection.ts';
import { ZDB_CODES, ZdbError } from './errors.ts';

export interface ZdbClientOptions extends Endpoint {
  /** Connections in the pool (default 1). Calls go to the least busy one. */
  pool?: number;
  /** Milliseconds without a reply before the connection is dropped (default 10,000; 0 = none). */
  timeoutMs?: number;
  /**
   * Milliseconds unused before the client closes a connection itself (default 60,000, below the
   * server's --idle-timeout); the next command opens it again.
   */
  idleMs?: number;
  /** Admin password: AUTH on every connection. */
  admin?: string;
  /** Namespace to SELECT on every connection, with its password. */
  namespace?: string;
  password?: string;
}

export interface NamespaceInfo {
  name: string;
  entries: number;
  public: boolean;
  password: boolean;
  dataSizeBytes: number;
  dataLimitsBytes: number;
  indexSizeBytes: number;
  mode: string;
  dataDiskFreespaceBytes: number;
  indexDiskFreespaceBytes: number;
  /** Every field as the server printed it. */
  raw: Record<string, string>;
}

export interface ScanResult {
  cursor: Buffer;
  entries: { key: Buffer; size: number; timestamp: number }[];
}

export interface HistoryResult {
  previous: Buffer | null;
  timestamp: number;
  payload: Buffer;
}

function asBuffer(r: Reply): Buffer | null {
  if (r === null || Buffer.isBuffer(r)) return r;
  if (r instanceof Status) return Buffer.from(r.value);
  throw new ZdbError('unexpected_reply', `unexpected reply ${String(r)}`, { kind: 'reply' });
}

function asNumber(r: Reply): number {
  if (typeof r === 'number') return r;
  throw new ZdbError('unexpected_reply', `unexpected reply ${String(r)}`, { kind: 'reply' });
}

function asText(r: Reply): string {
  const b = asBuffer(r);
  return b === null ? '' : b.toString();
}

/**
 * A 0-db client: pipelined connections (a pool), reconnecting and replaying AUTH/SELECT.
 * Buffer arguments of 64 KiB or more are written by reference, not copied: do not change one
 * until its command has resolved.
 */
export class ZdbClient {
  private readonly conns: PipelinedConnection[];
  private selected: { name: string; password?: string } | null;
  private admin: string | undefined;

  constructor(readonly options: ZdbClientOptions = {}) {
    this.admin = options.admin;
    this.selected = options.namespace ? { name: options.namespace, password: options.password } : null;
    const size = Math.max(1, options.pool ?? 1);
    this.conns = Array.from(
      { length: size },
      () =>
        new PipelinedConnection(
          options,
          options.timeoutMs ?? 10_000,
          () => this.setupCommands(),
          options.idleMs ?? IDLE_CLOSE_MS,
        ),
    );
  }

  private setupCommands(): Arg[][] {
    const out: Arg[][] = [];
    if (this.admin) out.push(['AUTH', this.admin]);
    if (this.selected) {
      out.push(
        this.selected.password
          ? ['SELECT', this.selected.name, this.selected.password]
          : ['SELECT', this.selected.name],
      );
    }
    return out;
  }

  private pick(): PipelinedConnection {
    let best = this.conns[0]!;
    for (const c of this.conns) if (c.inflight < best.inflight) best = c;
    return best;
  }

  /** Sends any command; resolves with the raw reply, rejects with ZdbError on an error reply. */
  command(...args: Arg[]): Promise<Reply> {
    return this.pick().command(args);
  }

  private async everywhere(args: Arg[]): Promise<void> {
    await Promise.all(this.conns.map((c) => c.command(args)));
  }

  async ping(): Promise<string> {
    return asText(await this.command('PING'));
  }

  async set(key: Arg, value: Arg): Promise<Buffer | null> {
    return asBuffer(await this.command('SET', key, value));
  }

  /** Sequential-mode append: returns the new id (8 bytes little-endian). */
  async append(value: Arg): Promise<Buffer> {
    const id = asBuffer(await this.command('SET', '', value));
    if (!id) throw new ZdbError('unexpected_reply', 'SET returned no id', { kind: 'reply' });
    return id;
  }

  async get(key: Arg): Promise<Buffer | null> {
    return asBuffer(await this.command('GET', key));
  }

  async mget(...keys: Arg[]): Promise<(Buffer | null)[]> {
    const r = await this.command('MGET', ...keys);
    return (r as Reply[]).map(asBuffer);
  }

  async del(key: Arg): Promise<void> {
    await this.command('DEL', key);
  }

  async exists(key: Arg): Promise<boolean> {
    return asNumber(await this.command('EXISTS', key)) === 1;
  }

  /** null when absent, true when the stored payload matches its checksum. */
  async check(key: Arg): Promise<boolean | null> {
    const r = await this.command('CHECK', key);
    return r === null ? null : asNumber(r) === 1;
  }

  async length(key: Arg): Promise<number | null> {
    const r = await this.command('LENGTH', key);
    return r === null ? null : asNumber(r);
  }

  async keytime(key: Arg): Promise<number | null> {
    const r = await this.command('KEYTIME', key);
    return r === null ? null : asNumber(r);
  }

  async keycur(key: Arg): Promise<Buffer> {
    return asBuffer(await this.command('KEYCUR', key))!;
  }

  private async scanWith(cmd: 'SCAN' | 'RSCAN', cursor?: Buffer): Promise<ScanResult | null> {
    try {
      const r = (await this.command(...(cursor ? [cmd, cursor] : [cmd]))) as Reply[];
      const entries = (r[1] as Reply[][]).map((e) => ({
        key: e[0] as Buffer,
        size: e[1] as number,
        timestamp: e[2] as number,
      }));
      return { cursor: r[0] as Buffer, entries };
    } catch (e) {
      if (e instanceof ZdbError && e.code === ZDB_CODES.noMoreData) return null;
      throw e;
    }
  }

  /** One page forward from `cursor` (start when omitted); null when there is no more data. */
  scan(cursor?: Buffer): Promise<ScanResult | null> {
    return this.scanWith('SCAN', cursor);
  }

  rscan(cursor?: Buffer): Promise<ScanResult | null> {
    return this.scanWith('RSCAN', cursor);
  }

  /** Every live key, in write order. */
  async *keys(): AsyncGenerator<ScanResult['entries'][number]> {
    let page = await this.scan();
    while (page) {
      yield* page.entries;
      page = await this.scan(page.cursor);
    }
  }

  async history(key: Arg, position?: Buffer): Promise<HistoryResult> {
    const r = (await this.command(...(position ? ['HISTORY', key, position] : ['HISTORY', key]))) as Reply[];
    return { previous: r[0] as Buffer | null, timestamp: Number(asText(r[1]!)), payload: r[2] as Buffer };
  }

  async dbsize(): Promise<number> {
    return asNumber(await this.command('DBSIZE'));
  }

  async time(): Promise<{ seconds: number; micros: number }> {
    const r = (await this.command('TIME')) as Reply[];
    return { seconds: Number(asText(r[0]!)), micros: Number(asText(r[1]!)) };
  }

  async info(): Promise<Record<string, string>> {
    return parseFields(asText(await this.command('INFO')));
  }

  /** Authenticates every pooled connection (and future reconnects) as admin. */
  async auth(password: string): Promise<void> {
    this.admin = password;
    await this.everywhere(['AUTH', password]);
  }

  /** Challenge-response admin authentication: the password never crosses the wire. */
  async authSecure(password: string): Promise<void> {
    for (const c of this.conns) {
      const nonce = asText(await c.command(['AUTH', 'SECURE', 'CHALLENGE']));
      const hash = createHash('sha1').update(`${nonce}:${password}`).digest('hex');
      await c.command(['AUTH', 'SECURE', hash]);
    }
    this.admin = password;
  }

  async select(namespace: string, password?: string): Promise<void> {
    await this.everywhere(password ? ['SELECT', namespace, password] : ['SELECT', namespace]);
    this.selected = { name: namespace, password };
  }

  async nsnew(namespace: string): Promise<void> {
    await this.command('NSNEW', namespace);
  }

  async nsdel(namespace: string): Promise<void> {
    await this.command('NSDEL', namespace);
  }

  async nslist(): Promise<string[]> {
    return ((await this.command('NSLIST')) as Buffer[]).map((b) => b.toString());
  }

  async nsset(
    namespace: string,
    property: 'maxsize' | 'password' | 'public' | 'mode' | 'lock' | 'freeze',
    value: Arg,
  ): Promise<void> {
    await this.command('NSSET', namespace, property, value);
  }

  async nsinfo(namespace: string): Promise<NamespaceInfo> {
    const raw = parseFields(asText(await this.command('NSINFO', namespace)));
    const n = (k: string) => Number(raw[k] ?? 0);
    return {
      name: raw.name ?? namespace,
      entries: n('entries'),
      public: raw.public === 'yes',
      password: raw.password === 'yes',
      dataSizeBytes: n('data_size_bytes'),
      dataLimitsBytes: n('data_limits_bytes'),
      indexSizeBytes: n('index_size_bytes'),
      mode: raw.mode ?? 'userkey',
      dataDiskFreespaceBytes: n('data_disk_freespace_bytes'),
      indexDiskFreespaceBytes: n('index_disk_freespace_bytes'),
      raw,
    };
  }

  async flush(): Promise<void> {
    await this.command('FLUSH');
  }

  close(): void {
    for (const c of this.conns) c.close();
  }
}

function parseFields(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const i = line.indexOf(': ');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 2);
  }
  return out;
}
