/**
 * A progress line on stderr while long work runs: a bar when the total is known, bytes and
 * rate, redrawn at most 10 times a second, only when stderr is a terminal (scripts and logs get
 * nothing but the final result).
 */

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function formatBytes(n: number): string {
  let i = 0;
  let v = n;
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(v < 10 ? 2 : 1)} ${UNITS[i]}`;
}

export const formatRate = (bytes: number, seconds: number) =>
  `${seconds > 0 ? (bytes / seconds / 1e6).toFixed(1) : '–'} MB/s`;

export class Progress {
  private readonly started = performance.now();
  private drawn = 0;
  private readonly enabled: boolean;

  constructor(
    private readonly label: string,
    private readonly total?: number,
    stream: NodeJS.WriteStream = process.stderr,
    private readonly out = stream,
  ) {
    this.enabled = !!stream.isTTY && !process.env.CI;
  }

  get seconds(): number {
    return (performance.now() - this.started) / 1000;
  }

  update(done: number): void {
    if (!this.enabled) return;
    const now = performance.now();
    if (now - this.drawn < 100 && done !== this.total) return;
    this.drawn = now;
    const s = this.seconds;
    let line = `${this.label} ${formatBytes(done)}`;
    if (this.total !== undefined && this.total > 0) {
      const width = 24;
      const frac = Math.min(1, done / this.total);
      const fill = Math.round(frac * width);
      const eta = done > 0 ? (s * (this.total - done)) / done : 0;
      line = `${this.label} [${'#'.repeat(fill)}${'-'.repeat(width - fill)}] ${(frac * 100).toFixed(0).padStart(3)}% ${formatBytes(done)}/${formatBytes(this.total)}`;
      if (done < this.total) line += `  eta ${eta.toFixed(0)}s`;
    }
    line += `  ${formatRate(done, s)}`;
    this.out.write(`\r\x1b[K${line}`);
  }

  done(): void {
    if (this.enabled) this.out.write('\r\x1b[K');
  }
}
