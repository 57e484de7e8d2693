/**
 * The options every command shares (--home, --phonebook, --passphrase-file, --json), the
 * validated parsers for numbers, ports, sizes, durations and URLs (a wrong value is a one-line
 * usage error, never a silent NaN), and `print` for every command's result.
 */
import { readFileSync } from 'node:fs';
import { type Command, InvalidArgumentError } from 'commander';

/** The phonebook when neither --phonebook nor TWIN_PHONEBOOK says otherwise. */
export const DEFAULT_PHONEBOOK_URL = 'http://127.0.0.1:8730';
const phonebookDefault = () => process.env.TWIN_PHONEBOOK ?? DEFAULT_PHONEBOOK_URL;

export interface HomeOptions {
  home: string;
}
export interface PhonebookOptions {
  phonebook: string;
}
export interface PassphraseOptions {
  passphraseFile?: string;
}
export interface JsonOptions {
  json?: boolean;
}
export type Common = HomeOptions & PhonebookOptions & PassphraseOptions & JsonOptions;

export function homeOption(cmd: Command, what = "this twin's home directory"): Command {
  return cmd.requiredOption('--home <dir>', what);
}
export function phonebookOption(cmd: Command): Command {
  return cmd.option(
    '--phonebook <url>',
    'phonebook URL, or tfchain+ws://HOST:PORT for TFChain (env TWIN_PHONEBOOK)',
    phonebookUrl,
    phonebookDefault(),
  );
}
export function passphraseOption(cmd: Command, what = 'keystore passphrase'): Command {
  return cmd.option('--passphrase-file <file>', `${what} (or env TWIN_PASSPHRASE)`);
}
export function jsonOption(cmd: Command, what = 'print JSON'): Command {
  return cmd.option('--json', what);
}
/** --home, --phonebook, --passphrase-file and --json. */
export function commonOptions(cmd: Command): Command {
  return jsonOption(passphraseOption(phonebookOption(homeOption(cmd))));
}

/** The passphrase of a keystore: --passphrase-file, else TWIN_PASSPHRASE, else none. */
export function passphrase(file: string | undefined): string | undefined {
  if (file) return readText(file, 'passphrase file').replace(/\r?\n$/, '');
  return process.env.TWIN_PASSPHRASE || undefined;
}

/** A small text file the user named (passphrase, mnemonic): a one-line error when unreadable. */
export function readText(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new InvalidArgumentError(`cannot read the ${what} ${file} (${(e as NodeJS.ErrnoException).code})`);
  }
}

/** An integer within [min, max]: decimal digits only ("1e3", "0x10", "" and "12abc" are refused). */
export function integer(min = 0, max = Number.MAX_SAFE_INTEGER): (v: string) => number {
  return (v) => {
    const n = /^-?\d+$/.test(v.trim()) ? Number(v) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(
        max === Number.MAX_SAFE_INTEGER
          ? `expected an integer ≥ ${min}`
          : `expected an integer from ${min} to ${max}`,
      );
    return n;
  };
}

/** A TCP port (0: any free port). */
export const port = (v: string): number => {
  const n = /^\d+$/.test(v) ? Number(v) : Number.NaN;
  if (!(n >= 0 && n <= 65535)) throw new InvalidArgumentError('expected a port number from 0 to 65535');
  return n;
};

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1000,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1000 ** 4,
  tib: 1024 ** 4,
};

/** A size in bytes: 4194304, 4M, 4MiB (binary), 4MB (decimal). */
export const size = (v: string): number => {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(v.trim());
  const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
  const n = m && unit ? Math.round(Number(m[1]) * unit) : Number.NaN;
  if (!Number.isSafeInteger(n))
    throw new InvalidArgumentError('expected a size in bytes (e.g. 4096, 64K, 4MiB)');
  return n;
};

const DURATION_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A duration in `unit` (what a bare number means): "30" is 30 units; "500ms", "10s", "5m",
 * "1h", "2d" are converted. Returns a whole number of `unit`s (at least `min`).
 */
export function duration(unit: 'ms' | 's', min = 0): (v: string) => number {
  return (v) => {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(v.trim());
    const ms = m ? Number(m[1]) * DURATION_MS[m[2] ?? unit]! : Number.NaN;
    const n = Math.round(ms / DURATION_MS[unit]!);
    if (!Number.isSafeInteger(n) || n < min)
      throw new InvalidArgumentError(
        `expected a duration (a number of ${unit === 's' ? 'seconds' : 'milliseconds'}, or e.g. 500ms, 10s, 5m, 1h)`,
      );
    return n;
  };
}

/** An http(s) URL. */
/** A write rate "BURST/INTERVAL": BURST writes at once, then one more every INTERVAL ("60/1s"). */
export const rate = (v: string): { burst: number; refillMs: number } => {
  const [burst, every, extra] = v.split('/');
  if (burst === undefined || every === undefined || extra !== undefined)
    throw new InvalidArgumentError('expected BURST/INTERVAL, e.g. 60/1s (60 at once, then one a second)');
  return { burst: integer(1)(burst), refillMs: duration('ms', 1)(every) };
};

export const url = (v: string): string => {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new InvalidArgumentError('expected a URL such as http://127.0.0.1:8730');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new InvalidArgumentError('expected an http:// or https:// URL');
  return v.replace(/\/+$/, '');
};

/** A phonebook: an http(s) URL, or a TFChain node as tfchain+ws://HOST:PORT (or tfchain+wss://). */
export const phonebookUrl = (v: string): string => {
  if (/^tfchain\+wss?:\/\/[^\s/?#]+\/?$/.test(v)) return v.replace(/\/+$/, '');
  if (v.startsWith('tfchain+'))
    throw new InvalidArgumentError('expected tfchain+ws://HOST:PORT or tfchain+wss://HOST');
  return url(v);
};

/** A repeatable option's collector. */
export const collect = (v: string, prev: string[]): string[] => [...prev, v];

/** KEY=VALUE pairs (tags, grants). */
export function pairs(values: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const i = v.indexOf('=');
    if (i <= 0) throw new InvalidArgumentError(`expected KEY=VALUE, got "${v}"`);
    out[v.slice(0, i)] = v.slice(i + 1);
  }
  return out;
}

/** Prints a command's result on stdout: JSON with --json, else the human form. */
export function print(o: JsonOptions, value: unknown, human: () => string): void {
  const text = o.json ? JSON.stringify(value) : human();
  if (text !== '') console.log(text);
}
