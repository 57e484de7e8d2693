/**
 * What the 3Bot records about what it deployed: one JSON file in the twin's home
 * (`<home>/bot/state.json`, mode 0600: it holds the namespaces' password), replaced atomically.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import { BotError } from './errors.ts';

const backendSchema = z.strictObject({
  node: z.number().int().positive(),
  farm: z.number().int().positive(),
  contract: z.number().int().nonnegative(),
  /** HOST:PORT/NAMESPACE as the node reported it. */
  address: z.string().min(1).max(300),
});
export type DeployedBackend = z.infer<typeof backendSchema>;

const eventSchema = z.strictObject({
  at: z.number(),
  kind: z.string().max(64),
  message: z.string().max(1000),
});
export type BotEvent = z.infer<typeof eventSchema>;

const stateSchema = z.strictObject({
  version: z.literal(1),
  /** The zdb namespaces' password (random, made once). */
  password: z.string().regex(/^[a-f0-9]{32}$/),
  /** Per group, per backend (null: none deployed yet). */
  groups: z.array(z.array(backendSchema.nullable())),
  meta: z.array(backendSchema.nullable()),
  /** Contracts replaced and not yet cancelled (cancelled once their data is rebuilt elsewhere). */
  superseded: z.array(backendSchema),
  events: z.array(eventSchema),
});
export type BotState = z.infer<typeof stateSchema>;

/** How many events the state keeps (the newest). */
export const MAX_EVENTS = 200;

export function emptyState(): BotState {
  return {
    version: 1,
    password: randomBytes(16).toString('hex'),
    groups: [],
    meta: [],
    superseded: [],
    events: [],
  };
}

/** The state at `file`, or a fresh one when there is none. Throws BotError `bad_state`. */
export function loadState(file: string): BotState {
  if (!existsSync(file)) return emptyState();
  const r = stateSchema.safeParse(
    (() => {
      try {
        return JSON.parse(readFileSync(file, 'utf8'));
      } catch (e) {
        throw new BotError('bad_state', `${file} is not JSON: ${(e as Error).message}`);
      }
    })(),
  );
  if (!r.success)
    throw new BotError(
      'bad_state',
      `${file}: ${r.error.issues[0]!.path.join('.')}: ${r.error.issues[0]!.message}`,
    );
  return r.data;
}

/** Writes the state atomically (a temporary file renamed over it), mode 0600. */
export function saveState(file: string, state: BotState): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify({ ...state, events: state.events.slice(-MAX_EVENTS) }, null, 2)}\n`, {
    mode: 0o600,
  });
  renameSync(tmp, file);
}
