/**
 * What every `twin qss` subcommand shares: its options (--config, --workers, --json), opening
 * the store from the configuration file (and closing it), and how times are shown.
 */
import { statSync } from 'node:fs';
import { loadConfig, type QssOptions as OpenOptions, Qss } from '@twin/qss';
import type { Command } from 'commander';
import { integer, type JsonOptions, jsonOption } from '../../options.ts';

/** The options of every subcommand that opens the store. */
export interface QssOptions extends JsonOptions {
  config: string;
  workers?: number;
}

/** The configuration file when --config is not given: TWIN_QSS_CONFIG, else ./qss.json. */
const defaultConfig = () => process.env.TWIN_QSS_CONFIG ?? 'qss.json';

/** A non-negative integer option (--workers, --interval, --grace). */
export const count = integer(0);

/** Adds --config, --workers and --json. */
export function qssOptions(cmd: Command): Command {
  return jsonOption(
    cmd
      .option('--config <file>', 'QSS configuration (env TWIN_QSS_CONFIG)', defaultConfig())
      .option('--workers <n>', 'encoding threads (default: one per core, 0: none)', count),
  );
}

/**
 * Opens the store from --config (with `open` beside --workers), runs `fn`, closes it. Warns
 * (stderr) when others can read the file: it holds the metadata key.
 */
export async function withQss<T>(
  o: QssOptions,
  fn: (q: Qss) => Promise<T>,
  open: Omit<OpenOptions, 'workers'> = {},
): Promise<T> {
  const config = loadConfig(o.config);
  if (statSync(o.config).mode & 0o077)
    console.error(`twin: warning: ${o.config} holds the metadata key and others can read it (chmod 600 it)`);
  const q = Qss.open(config, { ...open, workers: o.workers });
  try {
    return await fn(q);
  } finally {
    await q.close();
  }
}

/** A time as "2026-01-31 12:00:00" (UTC). */
export const when = (ms: number) => new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
