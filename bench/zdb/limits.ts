/**
 * bench/zdb/limits: what a stranger on the port can make one zdb hold, against the documented
 * per-client limits (README "0-db limits"; packages/zdb/src/server/limits.ts). Each row runs a
 * load of issue 10's items 7 and 8 against a fresh zdb process (the compiled dist: run
 * `npm run build` first) and reports the server's peak RSS growth (from /proc) next to the limit.
 *
 *   node --conditions=source --import tsx bench/zdb/limits.ts [--json]
 *
 * Rows:
 * - 100 pipelined GETs of an 8 MiB value, replies never read (1 and 8 clients at once);
 * - one unfinished `*1001` request of 1,000 × 1 MiB arguments;
 * - 100,000 WAITs on one connection: another client's GET latency, quiet and during;
 * - 1,100 idle connections against --maxclients 1000: refused, open descriptors.
 */
import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { DEFAULT_CLIENT_LIMITS, spawnZdb, ZdbClient } from '../../packages/zdb/src/index.ts';
import { drainedOrClosed, open, resp, tempDir } from '../../packages/zdb/test/helpers.ts';

const MiB = 1024 * 1024;
const json = process.argv.includes('--json');
const log = (s: string) => process.stderr.write(`${s}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function rss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

/** Highest RSS of `pid` over `ms`, sampled every 50 ms. */
async function peak(pid: number, ms: number): Promise<number> {
  let max = 0;
  for (const end = Date.now() + ms; Date.now() < end; await sleep(50)) max = Math.max(max, rss(pid));
  return max;
}

async function withZdb<T>(args: string[], run: (port: number, proc: ChildProcess) => Promise<T>): Promise<T> {
  const dir = tempDir('bench-zdb-limits-');
  const { proc, port } = await spawnZdb([
    '--data',
    join(dir.path, 'data'),
    '--index',
    join(dir.path, 'index'),
    ...args,
  ]);
  try {
    return await run(port, proc);
  } finally {
    proc.kill('SIGKILL');
    dir.cleanup();
  }
}

interface Row {
  load: string;
  rssGrowthMiB: number;
  limitMiB: number | null;
  note: string;
}
const rows: Row[] = [];
const mib = (n: number) => Math.round((n / MiB) * 10) / 10;
const L = DEFAULT_CLIENT_LIMITS;

async function unreadGets(clients: number): Promise<void> {
  await withZdb([], async (port, proc) => {
    const c = new ZdbClient({ port, timeoutMs: 60_000 });
    await c.set('big', Buffer.alloc(8 * MiB - 64, 1));
    c.close();
    await sleep(300);
    const base = rss(proc.pid!);
    const gets = Buffer.concat(Array.from({ length: 100 }, () => resp('GET', 'big')));
    const socks = await Promise.all(Array.from({ length: clients }, () => open(port)));
    for (const s of socks) {
      s.pause();
      s.write(gets);
    }
    const top = await peak(proc.pid!, 3000);
    for (const s of socks) s.destroy();
    rows.push({
      load: `100 pipelined GETs of 8 MiB, never read, ${clients} client${clients > 1 ? 's' : ''}`,
      rssGrowthMiB: mib(top - base),
      limitMiB: mib(clients * (L.maxOutput + 8 * MiB)),
      note: `${clients} × (--max-output ${mib(L.maxOutput)} MiB + one 8 MiB value)`,
    });
  });
}

async function unfinishedRequest(): Promise<void> {
  await withZdb([], async (port, proc) => {
    await sleep(300);
    const base = rss(proc.pid!);
    const s = await open(port);
    let closed = false;
    s.on('close', () => {
      closed = true;
    });
    s.on('error', () => {});
    s.on('data', () => {});
    const arg = Buffer.concat([Buffer.from(`$${MiB}\r\n`), Buffer.alloc(MiB, 2), Buffer.from('\r\n')]);
    s.write('*1001\r\n$3\r\nSET\r\n');
    let sent = 0;
    const watch = peak(proc.pid!, 2000);
    for (; sent < 1000 && !closed; sent++) {
      if (!s.write(arg)) await drainedOrClosed(s);
    }
    const top = await watch;
    s.destroy();
    rows.push({
      load: 'one unfinished *1001 request of 1,000 × 1 MiB arguments',
      rssGrowthMiB: mib(top - base),
      limitMiB: mib(2 * L.maxRequest),
      note: `refused after ${sent} MiB written; limit: --max-request ${mib(L.maxRequest)} MiB, held and copied once until collected`,
    });
  });
}

async function waits(): Promise<void> {
  await withZdb([], async (port, proc) => {
    const c = new ZdbClient({ port });
    await c.set('k', 'v');
    const time = async () => {
      const t0 = performance.now();
      for (let i = 0; i < 2000; i++) await c.get('k');
      return (performance.now() - t0) / 2000;
    };
    await time();
    const quiet = Math.min(await time(), await time());
    const base = rss(proc.pid!);
    const w = await open(port);
    w.pause();
    w.write(Buffer.concat(Array.from({ length: 100_000 }, () => resp('WAIT', 'SET', '60000'))));
    await sleep(500);
    const busy = Math.min(await time(), await time());
    const top = await peak(proc.pid!, 500);
    w.destroy();
    c.close();
    rows.push({
      load: '100,000 WAITs on one connection',
      rssGrowthMiB: mib(top - base),
      limitMiB: mib(L.maxOutput + L.maxRequest),
      note: `another client's GET: ${(quiet * 1000).toFixed(0)} µs quiet, ${(busy * 1000).toFixed(0)} µs during (${(busy / quiet).toFixed(2)}×); --max-waits ${L.maxWaits}`,
    });
  });
}

async function idleConnections(): Promise<void> {
  const max = 1000;
  await withZdb(['--maxclients', String(max)], async (port, proc) => {
    await sleep(300);
    const base = rss(proc.pid!);
    const fdsBefore = readdirSync(`/proc/${proc.pid}/fd`).length;
    const socks: Socket[] = [];
    let refused = 0;
    for (let i = 0; i < max + 100; i++) {
      const s = await open(port);
      s.on('error', () => {});
      s.on('data', (d) => {
        if (d.toString().startsWith('-Max number of clients reached')) refused++;
      });
      socks.push(s);
    }
    await sleep(1500);
    const fds = readdirSync(`/proc/${proc.pid}/fd`).length - fdsBefore;
    const top = rss(proc.pid!);
    for (const s of socks) s.destroy();
    rows.push({
      load: `${max + 100} idle connections, --maxclients ${max}`,
      rssGrowthMiB: mib(top - base),
      limitMiB: null,
      note: `${refused} refused with -Max number of clients reached; ${fds} descriptors held; idle ones closed after --idle-timeout ${L.idleTimeout} s`,
    });
  });
}

log('100 unread GETs, 1 client ...');
await unreadGets(1);
log('100 unread GETs, 8 clients ...');
await unreadGets(8);
log('unfinished *1001 request ...');
await unfinishedRequest();
log('100,000 WAITs ...');
await waits();
log('idle connections ...');
await idleConnections();

if (json) console.log(JSON.stringify(rows, null, 2));
else {
  console.log('| load | peak RSS growth | limit | note |');
  console.log('| --- | ---: | ---: | --- |');
  for (const r of rows)
    console.log(
      `| ${r.load} | ${r.rssGrowthMiB} MiB | ${r.limitMiB === null ? '–' : `${r.limitMiB} MiB`} | ${r.note} |`,
    );
}
