/**
 * The QSS configuration file (JSON): the code, the backends in their groups, the metadata
 * backends, and the owner's metadata key. Parsing checks everything a store would trip over
 * later, with a message that names the field, and checks that the placement can survive what
 * `tolerate` promises.
 *
 *   {
 *     "dataShards": 4, "parityShards": 2,          // k and m
 *     "margin": 1,                                  // a write needs k + margin shards per block
 *     "blockSize": 4194304,                         // bytes (or "4MiB")
 *     "compression": "auto",                        // "auto" | "none"
 *     "tolerate": { "groups": 1, "backendsPerGroup": 0 },
 *     "key": "<64 hex digits>",                     // seals the metadata; keep it secret
 *     "password": "…",                              // default namespace password (optional)
 *     "groups": [ { "name": "site-a", "backends": ["10.0.0.1:9900/qss", …] }, … ],
 *     "meta": { "backends": ["10.0.0.9:9900/qssmeta", …], "quorum": 2 },
 *     "repair": { "intervalSeconds": 600 }
 *   }
 *
 * A backend is "HOST:PORT/NAMESPACE" ("[IPv6]:PORT/NAMESPACE"), or an object
 * { "address": "HOST:PORT/NAMESPACE", "password": "…" }.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { KEY_BYTES } from './block.ts';
import type { CompressionPolicy } from './compression.ts';
import { QssError } from './errors.ts';
import { DEFAULT_BLOCK_SIZE, MAX_BLOCK_SIZE } from './pipeline.ts';
import type { ZdbBackendConfig, ZdbGroupConfig } from './zdb-store.ts';

export interface QssConfig {
  k: number;
  m: number;
  margin: number;
  blockSize: number;
  compression: CompressionPolicy;
  tolerate: { groups: number; backendsPerGroup: number };
  key: Uint8Array;
  groups: ZdbGroupConfig[];
  meta: { backends: ZdbBackendConfig[]; quorum?: number };
  repair: { intervalSeconds: number };
}

const fail = (why: string): never => {
  throw new QssError('ECONFIG', why);
};

/** "host:port/ns" or "[v6]:port/ns" → a backend. */
export function parseBackend(spec: string, password?: string): ZdbBackendConfig {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:/[\]]+)):(\d{1,5})\/([A-Za-z0-9._-]{1,128})$/.exec(spec.trim());
  if (!m) return fail(`backend "${spec}" is not HOST:PORT/NAMESPACE`);
  const port = Number(m[3]);
  if (port < 1 || port > 65535) fail(`backend "${spec}": port out of range`);
  const out: ZdbBackendConfig = { host: (m[1] ?? m[2])!, port, namespace: m[4]! };
  if (password) out.password = password;
  return out;
}

export function formatBackend(b: ZdbBackendConfig): string {
  const host = b.host.includes(':') ? `[${b.host}]` : b.host;
  return `${host}:${b.port}/${b.namespace}`;
}

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kib: 1024, m: 1 << 20, mib: 1 << 20 };

function parseSize(v: unknown, field: string): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    const m = /^(\d+)\s*([a-z]*)$/i.exec(v.trim());
    const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
    if (m && unit) return Number(m[1]) * unit;
  }
  return fail(`${field} must be a number of bytes or like "4MiB"`);
}

function int(v: unknown, field: string, min: number, max: number, fallback?: number): number {
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    fail(`${field} must be an integer from ${min} to ${max}`);
  return v as number;
}

function backendOf(v: unknown, field: string, password?: string): ZdbBackendConfig {
  if (typeof v === 'string') return parseBackend(v, password);
  if (v && typeof v === 'object' && typeof (v as { address?: unknown }).address === 'string') {
    const o = v as { address: string; password?: unknown };
    if (o.password !== undefined && typeof o.password !== 'string')
      fail(`${field}.password must be a string`);
    return parseBackend(o.address, (o.password as string | undefined) ?? password);
  }
  return fail(`${field} must be "HOST:PORT/NAMESPACE" or { "address": …, "password": … }`);
}

/**
 * Shards of one block a group can hold (at most one per backend, at most the quota), largest
 * first, for k+m shards over these groups.
 */
function shares(k: number, m: number, groups: ZdbGroupConfig[]): number[] {
  const nonEmpty = groups.filter((g) => g.backends.length > 0);
  const quota = Math.ceil((k + m) / Math.max(1, nonEmpty.length));
  return nonEmpty.map((g) => Math.min(quota, g.backends.length)).sort((a, b) => b - a);
}

/** The most shards of a block lost when `groups` whole groups and `perGroup` backends of each other group are lost. */
export function worstLoss(
  k: number,
  m: number,
  groups: ZdbGroupConfig[],
  tolerate: { groups: number; backendsPerGroup: number },
): number {
  const s = shares(k, m, groups);
  return (
    s.slice(0, tolerate.groups).reduce((a, b) => a + b, 0) +
    s.slice(tolerate.groups).reduce((a, b) => a + Math.min(b, tolerate.backendsPerGroup), 0)
  );
}

/** The most whole groups these groups can lose with k+m (0 if not even one). */
export function tolerableGroups(k: number, m: number, groups: ZdbGroupConfig[]): number {
  let n = 0;
  while (n < groups.length && worstLoss(k, m, groups, { groups: n + 1, backendsPerGroup: 0 }) <= m) n++;
  return n;
}

/** Checks a parsed (or built) configuration; throws ECONFIG naming what is wrong. */
export function validateConfig(c: QssConfig): QssConfig {
  const { k, m } = c;
  if (k + m > 256) fail(`dataShards + parityShards must be at most 256, got ${k + m}`);
  if (c.key.length !== KEY_BYTES) fail(`key must be ${KEY_BYTES * 2} hex digits`);
  const names = new Set<string>();
  for (const g of c.groups) {
    if (names.has(g.name)) fail(`group "${g.name}" is listed twice`);
    names.add(g.name);
  }
  const all = c.groups.flatMap((g) => g.backends);
  const ids = new Set(all.map(formatBackend));
  if (ids.size !== all.length) fail('a backend is listed twice');
  for (const b of c.meta.backends)
    if (ids.has(formatBackend(b))) fail(`${formatBackend(b)} is both a data and a metadata backend`);
  const capacity = shares(k, m, c.groups).reduce((a, b) => a + b, 0);
  if (capacity < k + m)
    fail(
      `${k}+${m} needs ${k + m} backends spread over the groups; with ${c.groups.length} group(s) and at most ` +
        `${Math.ceil((k + m) / Math.max(1, c.groups.length))} shards per group there is room for ${capacity}`,
    );
  const loss = worstLoss(k, m, c.groups, c.tolerate);
  if (loss > m)
    fail(
      `losing ${c.tolerate.groups} group(s) and ${c.tolerate.backendsPerGroup} backend(s) in each other group ` +
        `can lose ${loss} shards of a block, more than parityShards (${m}); add groups or parity, or tolerate less`,
    );
  if (c.meta.quorum !== undefined && (c.meta.quorum < 1 || c.meta.quorum > c.meta.backends.length))
    fail(`meta.quorum must be 1..${c.meta.backends.length}`);
  return c;
}

/** Parses the JSON text of a configuration file. */
export function parseConfig(text: string): QssConfig {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return fail(`not JSON: ${(e as Error).message}`);
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) fail('the configuration must be a JSON object');
  const known = [
    'version',
    'dataShards',
    'parityShards',
    'margin',
    'blockSize',
    'compression',
    'tolerate',
    'key',
    'password',
    'groups',
    'meta',
    'repair',
  ];
  for (const f of Object.keys(raw)) if (!known.includes(f)) fail(`unknown field "${f}"`);
  if (raw.version !== undefined && raw.version !== 1) fail(`unknown version ${raw.version}`);
  const k = int(raw.dataShards, 'dataShards', 1, 255);
  const m = int(raw.parityShards, 'parityShards', 0, 255);
  const password = raw.password;
  if (password !== undefined && typeof password !== 'string') fail('password must be a string');
  if (typeof raw.key !== 'string' || !/^[0-9a-fA-F]{64}$/.test(raw.key)) fail('key must be 64 hex digits');
  if (!Array.isArray(raw.groups) || raw.groups.length === 0) fail('groups must be a non-empty list');
  const groups = (raw.groups as unknown[]).map((g, i): ZdbGroupConfig => {
    const o = g as { name?: unknown; backends?: unknown };
    if (!o || typeof o !== 'object' || !Array.isArray(o.backends) || o.backends.length === 0)
      fail(`groups[${i}] must be { "name": …, "backends": [ … ] } with at least one backend`);
    const name = o.name === undefined ? `group-${i + 1}` : o.name;
    if (typeof name !== 'string' || name === '') fail(`groups[${i}].name must be a non-empty string`);
    return {
      name: name as string,
      backends: (o.backends as unknown[]).map((b, j) =>
        backendOf(b, `groups[${i}].backends[${j}]`, password as string | undefined),
      ),
    };
  });
  const meta = raw.meta as { backends?: unknown; quorum?: unknown } | undefined;
  if (!meta || !Array.isArray(meta.backends) || meta.backends.length === 0)
    fail('meta.backends must be a non-empty list');
  const metaBackends = (meta!.backends as unknown[]).map((b, j) =>
    backendOf(b, `meta.backends[${j}]`, password as string | undefined),
  );
  const tolerate = (raw.tolerate ?? {}) as { groups?: unknown; backendsPerGroup?: unknown };
  const compression = raw.compression ?? 'auto';
  if (compression !== 'auto' && compression !== 'none') fail('compression must be "auto" or "none"');
  const repair = (raw.repair ?? {}) as { intervalSeconds?: unknown };
  const blockSize = parseSize(raw.blockSize ?? DEFAULT_BLOCK_SIZE, 'blockSize');
  return validateConfig({
    k,
    m,
    margin: int(raw.margin, 'margin', 0, m, Math.min(1, m)),
    blockSize: int(blockSize, 'blockSize', 1, MAX_BLOCK_SIZE),
    compression: compression as CompressionPolicy,
    tolerate: {
      groups: int(tolerate.groups, 'tolerate.groups', 0, groups.length, 0),
      backendsPerGroup: int(tolerate.backendsPerGroup, 'tolerate.backendsPerGroup', 0, 255, 0),
    },
    key: Buffer.from(raw.key as string, 'hex'),
    groups,
    meta: {
      backends: metaBackends,
      quorum:
        meta!.quorum === undefined ? undefined : int(meta!.quorum, 'meta.quorum', 1, metaBackends.length),
    },
    repair: { intervalSeconds: int(repair.intervalSeconds, 'repair.intervalSeconds', 1, 7 * 86400, 600) },
  });
}

export function loadConfig(file: string): QssConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    return fail(`cannot read ${file}: ${(e as Error).message}`);
  }
  try {
    return parseConfig(text);
  } catch (e) {
    if (e instanceof QssError) throw new QssError('ECONFIG', `${file}: ${e.message}`);
    throw e;
  }
}

/** The configuration as the JSON text of a file (the inverse of parseConfig). */
export function renderConfig(c: QssConfig): string {
  const backend = (b: ZdbBackendConfig) =>
    b.password ? { address: formatBackend(b), password: b.password } : formatBackend(b);
  return `${JSON.stringify(
    {
      version: 1,
      dataShards: c.k,
      parityShards: c.m,
      margin: c.margin,
      blockSize: c.blockSize,
      compression: c.compression,
      tolerate: c.tolerate,
      key: Buffer.from(c.key).toString('hex'),
      groups: c.groups.map((g) => ({ name: g.name, backends: g.backends.map(backend) })),
      meta: { backends: c.meta.backends.map(backend), ...(c.meta.quorum ? { quorum: c.meta.quorum } : {}) },
      repair: c.repair,
    },
    null,
    2,
  )}\n`;
}

export interface BuildConfigOptions {
  k: number;
  m: number;
  /** One list of "HOST:PORT/NS" per group. */
  groups: string[][];
  meta: string[];
  password?: string;
  margin?: number;
  blockSize?: number;
  /** Default: as many whole groups as the layout can lose. */
  tolerateGroups?: number;
}

/** A ready configuration with a fresh random key (for `twin qss config`). */
export function buildConfig(o: BuildConfigOptions): QssConfig {
  if (!Number.isInteger(o.k) || o.k < 1) fail('--data-shards must be a positive integer');
  if (!Number.isInteger(o.m) || o.m < 0) fail('--parity-shards must be a non-negative integer');
  if (o.groups.length === 0) fail('give at least one --group');
  if (o.meta.length === 0) fail('give --meta with at least one metadata backend');
  const groups = o.groups.map((list, i) => ({
    name: `group-${i + 1}`,
    backends: list.map((b) => parseBackend(b, o.password)),
  }));
  return validateConfig({
    k: o.k,
    m: o.m,
    margin: o.margin ?? Math.min(1, o.m),
    blockSize: o.blockSize ?? DEFAULT_BLOCK_SIZE,
    compression: 'auto',
    tolerate: { groups: o.tolerateGroups ?? tolerableGroups(o.k, o.m, groups), backendsPerGroup: 0 },
    key: randomBytes(KEY_BYTES),
    groups,
    meta: { backends: o.meta.map((b) => parseBackend(b, o.password)) },
    repair: { intervalSeconds: 600 },
  });
}
