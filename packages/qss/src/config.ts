/**
 * The QSS configuration file (JSON): the code, the backends in their groups, the metadata
 * backends, and the owner's metadata key. Parsing checks the file's shape with a zod schema
 * (zod/mini: every `twin qss` command parses it at start, and the mini build loads no more than
 * it uses), then what depends on several fields and that the placement can survive what
 * `tolerate` promises; every failure is one QssError bad_config naming the field as the file spells
 * it (`groups[0].backends[1]`). Nothing here knows the CLI's flags.
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
import * as z from 'zod/mini';
import { KEY_BYTES } from './block.ts';
import type { CompressionPolicy } from './compression.ts';
import { QssError } from './errors.ts';
import { DEFAULT_BLOCK_SIZE, MAX_BLOCK_SIZE } from './pipeline.ts';
import type { ZdbBackendConfig, ZdbGroupConfig } from './zdb-store.ts';

/** Seconds between repair sweeps when the file does not say. */
export const DEFAULT_REPAIR_INTERVAL_SECONDS = 600;
/** The longest repair interval a file may ask for (a week). */
const MAX_REPAIR_INTERVAL_SECONDS = 7 * 86400;

/** A parsed, validated configuration: what Qss.open takes. */
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
  throw new QssError('bad_config', why);
};

/**
 * "host:port/ns" or "[v6]:port/ns" → a backend.
 * @throws QssError bad_config when `spec` is not HOST:PORT/NAMESPACE or the port is out of range.
 */
export function parseBackend(spec: string, password?: string): ZdbBackendConfig {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:/[\]]+)):(\d{1,5})\/([A-Za-z0-9._-]{1,128})$/.exec(spec.trim());
  if (!m) return fail(`backend "${spec}" is not HOST:PORT/NAMESPACE`);
  const port = Number(m[3]);
  if (port < 1 || port > 65535) fail(`backend "${spec}": port out of range`);
  const out: ZdbBackendConfig = { host: (m[1] ?? m[2])!, port, namespace: m[4]! };
  if (password) out.password = password;
  return out;
}

/** A backend as "HOST:PORT/NAMESPACE" ("[IPv6]:PORT/NAMESPACE"), the inverse of parseBackend. */
export function formatBackend(b: ZdbBackendConfig): string {
  const host = b.host.includes(':') ? `[${b.host}]` : b.host;
  return `${host}:${b.port}/${b.namespace}`;
}

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kib: 1024, m: 1 << 20, mib: 1 << 20 };

/** A block size: a number of bytes, or a string such as "4MiB"; undefined when it is neither. */
function sizeOf(v: number | string): number | undefined {
  if (typeof v === 'number') return v;
  const m = /^(\d+)\s*([a-z]*)$/i.exec(v.trim());
  const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
  return m && unit ? Number(m[1]) * unit : undefined;
}

/** The rule a field breaks, worded after its name (the same words for each way of breaking it). */
const RULES: Array<[RegExp, (field: string) => string]> = [
  [/^dataShards$/, (f) => `${f} must be an integer from 1 to 255`],
  [/^parityShards$/, (f) => `${f} must be an integer from 0 to 255`],
  [/^(margin|tolerate\.groups|meta\.quorum)$/, (f) => `${f} must be an integer`],
  [/^tolerate\.backendsPerGroup$/, (f) => `${f} must be an integer from 0 to 255`],
  [/^tolerate$|^repair$/, (f) => `${f} must be an object`],
  [/^repair\.intervalSeconds$/, (f) => `${f} must be an integer from 1 to ${MAX_REPAIR_INTERVAL_SECONDS}`],
  [/^blockSize$/, (f) => `${f} must be a number of bytes or like "4MiB"`],
  [/^compression$/, (f) => `${f} must be "auto" or "none"`],
  [/^key$/, (f) => `${f} must be 64 hex digits`],
  [/^password$|\.password$/, (f) => `${f} must be a string`],
  [/^groups$/, (f) => `${f} must be a non-empty list`],
  [
    /^groups\[\d+\](\.backends)?$/,
    (f) =>
      `${f.replace(/\.backends$/, '')} must be { "name": …, "backends": [ … ] } with at least one backend`,
  ],
  [/^groups\[\d+\]\.name$/, (f) => `${f} must be a non-empty string`],
  [/^meta(\.backends)?$/, () => 'meta.backends must be a non-empty list'],
  [/\.backends\[\d+\]/, (f) => `${f} must be "HOST:PORT/NAMESPACE" or { "address": …, "password": … }`],
];

const integer = (min: number, max: number) => z.number().check(z.int(), z.minimum(min), z.maximum(max));
const backend = z.union([z.string(), z.object({ address: z.string(), password: z.optional(z.string()) })]);

/**
 * The file's shape. Ranges that depend on other fields (margin ≤ parityShards, tolerate.groups ≤
 * the groups, meta.quorum ≤ the metadata backends) and the placement are checked after it.
 */
const configFile = z.strictObject({
  version: z.optional(z.unknown()),
  dataShards: integer(1, 255),
  parityShards: integer(0, 255),
  margin: z.optional(z.number().check(z.int())),
  blockSize: z.optional(z.union([z.number(), z.string()])),
  compression: z.optional(z.enum(['auto', 'none'])),
  tolerate: z.optional(
    z.object({
      groups: z.optional(z.number().check(z.int())),
      backendsPerGroup: z.optional(integer(0, 255)),
    }),
  ),
  key: z.string().check(z.regex(/^[0-9a-fA-F]{64}$/)),
  password: z.optional(z.string()),
  groups: z
    .array(
      z.object({
        name: z.optional(z.string().check(z.minLength(1))),
        backends: z.array(backend).check(z.minLength(1)),
      }),
    )
    .check(z.minLength(1)),
  meta: z.object({
    backends: z.array(backend).check(z.minLength(1)),
    quorum: z.optional(z.number().check(z.int())),
  }),
  repair: z.optional(z.object({ intervalSeconds: z.optional(integer(1, MAX_REPAIR_INTERVAL_SECONDS)) })),
});

/** The first thing wrong with a file's contents, as one sentence naming the field. */
function problem(issue: z.core.$ZodIssue, raw: Record<string, unknown>): string {
  if (issue.code === 'unrecognized_keys') {
    const where = issue.path.length ? ` in ${fieldName(issue.path)}` : '';
    return `unknown field "${issue.keys[0]}"${where}`;
  }
  const field = fieldName(issue.path);
  if (field === 'version') return `unknown version ${JSON.stringify(raw.version)}`;
  const rule = RULES.find(([re]) => re.test(field));
  return rule ? rule[1](field) : `${field || 'the configuration'}: ${issue.message}`;
}

/** A path as written in the file: groups[0].backends[1]. */
const fieldName = (path: ReadonlyArray<PropertyKey>): string =>
  path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join('');

/** An integer within [min, max] that the schema could not bound (its range depends on another field). */
function within(v: number, field: string, min: number, max: number): number {
  if (v < min || v > max) fail(`${field} must be an integer from ${min} to ${max}`);
  return v;
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

/**
 * The most shards of a block lost when `tolerate.groups` whole groups and
 * `tolerate.backendsPerGroup` backends of each other group are lost. Throws nothing.
 */
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

/** The most whole groups these groups can lose with k+m (0 if not even one). Throws nothing. */
export function tolerableGroups(k: number, m: number, groups: ZdbGroupConfig[]): number {
  let n = 0;
  while (n < groups.length && worstLoss(k, m, groups, { groups: n + 1, backendsPerGroup: 0 }) <= m) n++;
  return n;
}

/**
 * Checks a parsed (or built) configuration: the code fits, the key is whole, no backend is
 * listed twice or is both a data and a metadata backend, the groups have room for k+m shards,
 * and losing what `tolerate` names costs at most m shards of a block.
 * @throws QssError bad_config naming what is wrong.
 */
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

/**
 * Parses the JSON text of a configuration file (schema first, then the placement).
 * @throws QssError bad_config naming the first field that is wrong, or why the placement cannot
 *   survive what `tolerate` promises.
 */
export function parseConfig(text: string): QssConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return fail(`not JSON: ${(e as Error).message}`);
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw))
    return fail('the configuration must be a JSON object');
  const fields = raw as Record<string, unknown>;
  if (fields.version !== undefined && fields.version !== 1)
    fail(`unknown version ${JSON.stringify(fields.version)}`);
  const parsed = configFile.safeParse(raw);
  if (!parsed.success) return fail(problem(parsed.error.issues[0]!, fields));
  const c = parsed.data;
  const groups = c.groups.map(
    (g, i): ZdbGroupConfig => ({
      name: g.name ?? `group-${i + 1}`,
      backends: g.backends.map((b) => backendOf(b, c.password)),
    }),
  );
  const metaBackends = c.meta.backends.map((b) => backendOf(b, c.password));
  const blockSize = sizeOf(c.blockSize ?? DEFAULT_BLOCK_SIZE);
  if (blockSize === undefined) return fail('blockSize must be a number of bytes or like "4MiB"');
  const m = c.parityShards;
  return validateConfig({
    k: c.dataShards,
    m,
    margin: within(c.margin ?? Math.min(1, m), 'margin', 0, m),
    blockSize: within(blockSize, 'blockSize', 1, MAX_BLOCK_SIZE),
    compression: c.compression ?? 'auto',
    tolerate: {
      groups: within(c.tolerate?.groups ?? 0, 'tolerate.groups', 0, groups.length),
      backendsPerGroup: c.tolerate?.backendsPerGroup ?? 0,
    },
    key: Buffer.from(c.key, 'hex'),
    groups,
    meta: {
      backends: metaBackends,
      quorum:
        c.meta.quorum === undefined
          ? undefined
          : within(c.meta.quorum, 'meta.quorum', 1, metaBackends.length),
    },
    repair: { intervalSeconds: c.repair?.intervalSeconds ?? DEFAULT_REPAIR_INTERVAL_SECONDS },
  });
}

/** A backend as the file gives it: "HOST:PORT/NS", or { address, password } (its own password wins). */
function backendOf(b: string | { address: string; password?: string }, password?: string): ZdbBackendConfig {
  return typeof b === 'string' ? parseBackend(b, password) : parseBackend(b.address, b.password ?? password);
}

/**
 * Reads and parses the configuration file at `file`.
 * @throws QssError bad_config when the file cannot be read or is not a valid configuration (the
 *   message starts with the file's name).
 */
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
    if (e instanceof QssError) throw new QssError('bad_config', `${file}: ${e.message}`);
    throw e;
  }
}

/** The configuration as the JSON text of a file (the inverse of parseConfig). Throws nothing. */
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

/** What buildConfig needs: the code, the backends by group, the metadata backends. */
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

/**
 * A ready configuration with a fresh random metadata key (what `twin qss config` writes).
 * @throws QssError bad_config when k or m is out of range, there is no group or no metadata
 *   backend, a backend is not HOST:PORT/NAMESPACE, or the placement fails validateConfig.
 */
export function buildConfig(o: BuildConfigOptions): QssConfig {
  if (!Number.isInteger(o.k) || o.k < 1 || o.k > 255)
    fail('the data shards (k) must be an integer from 1 to 255');
  if (!Number.isInteger(o.m) || o.m < 0 || o.m > 255)
    fail('the parity shards (m) must be an integer from 0 to 255');
  if (o.groups.length === 0) fail('at least one group of backends is needed');
  if (o.meta.length === 0) fail('at least one metadata backend is needed');
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
    repair: { intervalSeconds: DEFAULT_REPAIR_INTERVAL_SECONDS },
  });
}
