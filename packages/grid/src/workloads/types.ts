/**
 * Workload types a node offers — exactly the three primitives: storage (`zdb`), compute (`twin`),
 * and network (each compute workload's addresses, published in its result). Each type's `data`
 * is validated here, before anything is reserved or provisioned.
 */
import { z } from 'zod';
import { GridError } from '../errors.ts';
import { MAX_ENV, MAX_ENV_VALUE } from '../limits.ts';

export const WORKLOAD_NAME = /^[a-z][a-z0-9-]{0,31}$/;

export const WORKLOAD_TYPES = ['zdb', 'twin'] as const;
export type WorkloadType = (typeof WORKLOAD_TYPES)[number];

/** A workload's state, as ThreeFold's: init → ok | error; deleted when its deployment goes. */
export type WorkloadState = 'init' | 'ok' | 'error' | 'deleted';

export interface WorkloadResult {
  state: WorkloadState;
  message: string;
  data: Record<string, unknown>;
  /** When the state last changed (ms). */
  created: number;
}

export const zdbData = z.strictObject({
  /** Size limit of the namespace, bytes. */
  size: z.number().int().positive(),
  mode: z.enum(['user', 'seq']),
  /** Empty: no password (then it must not be public). */
  password: z
    .string()
    .max(63)
    .regex(/^[^\s*]*$/, 'no spaces or *'),
  /** Readable without the password. */
  public: z.boolean(),
});
export type ZdbData = z.infer<typeof zdbData>;

export const twinData = z.strictObject({
  /** The twin instance's name in the phonebook (a new twin of its own). */
  name: z.string().regex(/^(?!\d+$)[a-z0-9][a-z0-9\-_.]{2,63}$/),
  /** CPU limit in cores (fractions allowed) and memory limit in bytes. */
  cpu: z.number().positive().max(256),
  memory: z
    .number()
    .int()
    .min(32 * 1024 * 1024),
  /** Disk the instance may use, bytes (reserved). */
  disk: z.number().int().nonnegative().default(0),
  env: z
    .record(z.string().regex(/^[A-Z][A-Z0-9_]{0,63}$/), z.string().max(MAX_ENV_VALUE))
    .refine((e) => Object.keys(e).length <= MAX_ENV, `at most ${MAX_ENV} variables`)
    .default({}),
});
export type TwinData = z.infer<typeof twinData>;

export interface WorkloadLike {
  name: string;
  type: string;
  data: Record<string, unknown>;
}

/** Validates a workload's type and data; throws GridError invalid_workload. */
export function checkWorkload(w: WorkloadLike): void {
  const schema = w.type === 'zdb' ? zdbData : w.type === 'twin' ? twinData : null;
  if (!schema)
    throw new GridError(
      'invalid_workload',
      `workload "${w.name}" has type "${w.type}": this node offers ${WORKLOAD_TYPES.join(', ')}`,
    );
  const r = schema.safeParse(w.data);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new GridError(
      'invalid_workload',
      `workload "${w.name}" (${w.type}): ${issue?.path.join('.') || 'data'}: ${issue?.message ?? 'invalid'}`,
    );
  }
  if (w.type === 'zdb') {
    const z = r.data as ZdbData;
    if (z.public && !z.password) {
      // a public namespace without a password would be writable by anyone
      throw new GridError(
        'invalid_workload',
        `workload "${w.name}": a public zdb namespace needs a password`,
      );
    }
  }
}

/** What a workload reserves on its node. */
export interface Reservation {
  cpu: number;
  memory: number;
  storage: number;
}

export function reservationOf(w: WorkloadLike): Reservation {
  if (w.type === 'zdb') return { cpu: 0, memory: 0, storage: (w.data as ZdbData).size };
  const t = twinData.parse(w.data);
  return { cpu: t.cpu, memory: t.memory, storage: t.disk };
}
