/**
 * A twin's desired state: what its 3Bot converges to and keeps. A small JSON file the owner
 * writes (`twin bot plan FILE`):
 *
 * ```json
 * {
 *   "version": 1,
 *   "qss": { "dataShards": 4, "parityShards": 2, "groups": 3, "sizePerBackend": "10 GiB" },
 *   "twin": { "on": "grid", "constraints": { "cpu": 1, "memory": "1 GiB" } },
 *   "backups": { "interval": "15m" }
 * }
 * ```
 *
 * - `qss`: the twin's Quantum Safe Storage — k data + m parity shards per block, spread over
 *   `groups` groups that must each sit on a different farm, so that a whole farm can be lost;
 *   `metaBackends` small namespaces (distinct farms where possible) hold the sealed metadata.
 * - `twin.on`: `grid` (the 3Bot deploys the twin on a node) or `here` (it runs where the owner
 *   started it; the 3Bot only manages its storage).
 * - `backups.interval`: how often the twin's state is backed up into its QSS.
 */
import { z } from 'zod';
import { BotError } from './errors.ts';
import { parseDuration, parseSize } from './units.ts';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

const size = (what: string) =>
  z.union([z.string(), z.number()]).transform((v, ctx) => {
    const n = parseSize(v);
    if (n === undefined || n <= 0) {
      ctx.addIssue({
        code: 'custom',
        message: `${what} must be a size such as "10 GiB" (got ${JSON.stringify(v)})`,
      });
      return z.NEVER;
    }
    return n;
  });

const duration = (what: string) =>
  z.union([z.string(), z.number()]).transform((v, ctx) => {
    const n = parseDuration(v);
    if (n === undefined || n < 60_000) {
      ctx.addIssue({ code: 'custom', message: `${what} must be a duration of at least 1m such as "15m"` });
      return z.NEVER;
    }
    return n;
  });

const qssSchema = z.strictObject({
  dataShards: z.number().int().min(1).max(32),
  parityShards: z.number().int().min(1).max(32),
  groups: z.number().int().min(2).max(16),
  sizePerBackend: size('qss.sizePerBackend'),
  metaBackends: z.number().int().min(1).max(7).default(3),
});

const twinSchema = z.strictObject({
  on: z.enum(['grid', 'here']),
  constraints: z
    .strictObject({
      cpu: z.number().int().min(1).max(64).default(1),
      memory: size('twin.constraints.memory').default(GiB),
      disk: size('twin.constraints.disk').default(GiB),
      /** Only nodes of these farms. */
      farms: z.array(z.number().int().positive()).max(64).optional(),
      /** Never these nodes. */
      excludeNodes: z.array(z.number().int().positive()).max(256).optional(),
    })
    .default({ cpu: 1, memory: GiB, disk: GiB }),
});

export const desiredStateSchema = z.strictObject({
  version: z.literal(1),
  qss: qssSchema.optional(),
  twin: twinSchema.optional(),
  backups: z.strictObject({ interval: duration('backups.interval').default(15 * 60_000) }).optional(),
});

export type DesiredState = z.infer<typeof desiredStateSchema>;
export type QssDesired = z.infer<typeof qssSchema>;
export type TwinDesired = z.infer<typeof twinSchema>;

/** The size of each metadata namespace (metadata is small: sealed records of a few KiB each). */
export const META_NAMESPACE_SIZE = 256 * MiB;

/**
 * How many of a block's k + m shards each group holds: as even as possible, the first groups
 * taking one more when they do not divide evenly.
 */
export function shardsPerGroup(q: Pick<QssDesired, 'dataShards' | 'parityShards' | 'groups'>): number[] {
  const n = q.dataShards + q.parityShards;
  const base = Math.floor(n / q.groups);
  return Array.from({ length: q.groups }, (_, g) => base + (g < n % q.groups ? 1 : 0));
}

/**
 * Parses and checks a desired state (the text of its file, or a parsed value). Throws
 * `bad_desired_state` naming the field and the rule, e.g. a layout where losing one farm loses
 * the data.
 */
export function parseDesiredState(input: string | unknown): DesiredState {
  let value = input;
  if (typeof input === 'string') {
    try {
      value = JSON.parse(input);
    } catch (e) {
      throw new BotError('bad_desired_state', `the desired state is not JSON: ${(e as Error).message}`);
    }
  }
  const r = desiredStateSchema.safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const where = issue.path.length ? `${issue.path.join('.')}: ` : '';
    throw new BotError('bad_desired_state', `${where}${issue.message}`);
  }
  const q = r.data.qss;
  if (q) {
    const n = q.dataShards + q.parityShards;
    if (n < q.groups)
      throw new BotError(
        'bad_desired_state',
        `qss: ${n} shards cannot fill ${q.groups} groups (at least one shard per group)`,
      );
    const largest = Math.max(...shardsPerGroup(q));
    if (largest > q.parityShards)
      throw new BotError(
        'bad_desired_state',
        `qss: ${q.dataShards}+${q.parityShards} over ${q.groups} groups puts ${largest} shards in one group, more than the ${q.parityShards} parity shards: losing that farm would lose data (use more groups or more parity)`,
      );
  }
  return r.data;
}
