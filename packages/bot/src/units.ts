/**
 * Sizes and durations as people write them in a desired-state file ("10 GiB", "512 MiB", "15m",
 * "1h"), or as plain numbers (bytes, milliseconds).
 */

const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
};

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

function parse(text: string, units: Record<string, number>): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  if (!m) return undefined;
  const unit = units[(m[2] || Object.keys(units)[0]!).toLowerCase()];
  if (unit === undefined) return undefined;
  const n = Math.round(Number(m[1]) * unit);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** Bytes from "10 GiB", "1.5 GB", "4096" (or a number); undefined when it is not a size. */
export const parseSize = (v: string | number): number | undefined =>
  typeof v === 'number' ? (Number.isSafeInteger(v) ? v : undefined) : parse(v, SIZE_UNITS);

/** Milliseconds from "15m", "1h", "30s", "250ms" (a bare number is milliseconds). */
export const parseDuration = (v: string | number): number | undefined =>
  typeof v === 'number' ? (Number.isSafeInteger(v) ? v : undefined) : parse(v, DURATION_UNITS);

/** "10.0 GiB" for people. */
export function formatSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let n = bytes;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${n.toFixed(1)} ${units[i]}`;
}
