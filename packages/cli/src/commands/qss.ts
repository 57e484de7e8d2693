import { createWriteStream, existsSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { finished } from 'node:stream/promises';
import {
  buildConfig,
  type CheckResult,
  loadConfig,
  type ObjectInfo,
  Qss,
  type QssStatus,
  type RepairReport,
  renderConfig,
  worstLoss,
} from '@twin/qss';
import { Command, InvalidArgumentError } from 'commander';
import { integer as nonNegative, size } from '../options.ts';
import { formatBytes, formatRate, Progress } from '../progress.ts';

interface Common {
  config: string;
  json?: boolean;
  workers?: number;
}

const DEFAULT_CONFIG = () => process.env.TWIN_QSS_CONFIG ?? 'qss.json';

const integer = nonNegative(0);

function common(cmd: Command): Command {
  return cmd
    .option('--config <file>', 'QSS configuration (env TWIN_QSS_CONFIG)', DEFAULT_CONFIG())
    .option('--workers <n>', 'encoding threads (default: one per core, 0: none)', integer)
    .option('--json', 'print JSON');
}

/** Opens the store from the config, runs `fn`, closes it. */
async function withQss<T>(o: Common, fn: (q: Qss) => Promise<T>): Promise<T> {
  const config = loadConfig(o.config);
  if (statSync(o.config).mode & 0o077)
    console.error(`twin: warning: ${o.config} holds the metadata key and others can read it (chmod 600 it)`);
  const q = Qss.open(config, { workers: o.workers });
  try {
    return await fn(q);
  } finally {
    await q.close();
  }
}

const print = (o: { json?: boolean }, value: unknown, human: () => string) =>
  console.log(o.json ? JSON.stringify(value) : human());

const when = (ms: number) => new Date(ms).toISOString().replace('T', ' ').slice(0, 19);

const infoLine = (i: ObjectInfo) =>
  `${formatBytes(i.size).padStart(10)}  ${when(i.time)}  ${i.k}+${i.m}${i.absentShards ? `  degraded (${i.absentShards} shards absent)` : ''}  ${i.path}`;

function damageText(r: CheckResult): string {
  if (r.ok) return `${r.path}: ok, ${r.blocks} blocks, ${r.shards} shards intact`;
  const lines = [
    `${r.path}: ${r.damaged.length} of ${r.shards} shards damaged in ${r.blocks} blocks${r.lost.length ? `, ${r.lost.length} block(s) LOST` : ' (all blocks recoverable: run rebuild)'}`,
  ];
  for (const d of r.damaged.slice(0, 20))
    lines.push(`  block ${d.block} shard ${d.shard}: ${d.state}  ${d.backend}`);
  if (r.damaged.length > 20) lines.push(`  … ${r.damaged.length - 20} more`);
  return lines.join('\n');
}

function statusText(s: QssStatus, loss: number): string {
  const row = (b: QssStatus['data'][number]) =>
    `  ${b.reachable ? 'up  ' : 'DOWN'}  ${b.group.padEnd(10)} ${b.backend.padEnd(36)} ${
      b.reachable
        ? `${String(b.entries).padStart(8)} entries  ${formatBytes(b.usedBytes ?? 0).padStart(10)} used  ${formatBytes(b.freeBytes ?? 0).padStart(10)} free  ${(b.latencyMs ?? 0).toFixed(1)} ms`
        : (b.error ?? '')
    }`;
  return [
    `code ${s.k}+${s.m}; survives losing ${s.tolerate.groups} group(s) and ${s.tolerate.backendsPerGroup} backend(s) per other group (up to ${loss} shards of a block)`,
    `writable: ${s.writable ? 'yes' : 'NO'}   readable: ${s.readable ? 'yes' : 'NO'}`,
    'data backends:',
    ...s.data.map(row),
    `metadata backends (quorum ${s.metaQuorum}):`,
    ...s.meta.map(row),
  ].join('\n');
}

const repairText = (r: RepairReport) =>
  [
    `objects ${r.objects}  degraded ${r.degraded}  rebuilt ${r.rebuilt}  failed ${r.failed}  (shards written ${r.shards}, metadata copies ${r.metadataCopied})`,
    ...r.errors.map((e) => `  ${e.path}: ${e.error}`),
  ].join('\n');

export function qssCommand(): Command {
  const cmd = new Command('qss').description(
    'Quantum Safe Storage: files encrypted, erasure-coded and dispersed over 0-db backends',
  );

  common(cmd.command('put').description('store a file ("-" for stdin)').argument('<file>'))
    .option('--as <path>', 'the object path (default: the file name)')
    .action(async (file: string, o: Common & { as?: string }) => {
      const path = o.as ?? (file === '-' ? undefined : basename(file));
      if (!path) throw new InvalidArgumentError('reading stdin needs --as PATH');
      const total = file === '-' ? undefined : statSync(file).size;
      const bar = new Progress(`put ${path}`, total);
      const onProgress = (n: number) => bar.update(n);
      const info = await withQss(o, (q) =>
        file === '-' ? q.put(path, process.stdin, { onProgress }) : q.putFile(path, file, { onProgress }),
      );
      bar.done();
      const seconds = bar.seconds;
      print(o, { ...info, seconds }, () => {
        const degraded = info.absentShards
          ? `; degraded: ${info.absentShards} shards absent until repair`
          : '';
        return `stored ${path}: ${formatBytes(info.size)} in ${info.blocks} blocks (${info.k}+${info.m}), ${formatRate(info.size, seconds)}${degraded}`;
      });
    });

  common(cmd.command('get').description('retrieve an object (to stdout without -o)').argument('<path>'))
    .option('-o, --output <file>', 'write to this file (replaced only once complete)')
    .action(async (path: string, o: Common & { output?: string }) => {
      const toFile = o.output !== undefined && o.output !== '-';
      const partial = toFile ? `${o.output}.partial-${process.pid}` : undefined;
      const damaged: number[] = [];
      const result = await withQss(o, async (q) => {
        const { info, stream } = await q.get(path, { onDamage: (d) => damaged.push(d.block) });
        const out: NodeJS.WritableStream = partial
          ? createWriteStream(partial, { mode: 0o600 })
          : process.stdout;
        const bar = new Progress(`get ${path}`, info.size);
        let n = 0;
        try {
          for await (const chunk of stream) {
            if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
            n += chunk.length;
            bar.update(n);
          }
          if (partial) {
            out.end();
            await finished(out);
            renameSync(partial, o.output!);
          }
        } catch (e) {
          if (partial) {
            (out as NodeJS.WritableStream & { destroy(): void }).destroy();
            rmSync(partial, { force: true });
          }
          throw e;
        } finally {
          bar.done();
        }
        return { ...info, seconds: bar.seconds, damagedBlocks: new Set(damaged).size };
      });
      if (toFile || o.json) {
        const note = result.damagedBlocks
          ? `; ${result.damagedBlocks} block(s) read around damage (run rebuild)`
          : '';
        const text = `retrieved ${path}: ${formatBytes(result.size)}, ${formatRate(result.size, result.seconds)}${note}`;
        if (o.json) console.log(JSON.stringify(result));
        else console.error(text);
      }
    });

  common(
    cmd
      .command('check')
      .description('verify every shard of an object (exit 1 when damaged)')
      .argument('<path>'),
  )
    .option('--quick', 'ask the backends to verify their copies instead of fetching every shard')
    .action(async (path: string, o: Common & { quick?: boolean }) => {
      const r = await withQss(o, (q) => q.check(path, { deep: !o.quick }));
      print(o, r, () => damageText(r));
      if (!r.ok) process.exitCode = 1;
    });

  common(
    cmd
      .command('rebuild')
      .description('re-code damaged or absent shards onto healthy backends')
      .argument('<path>'),
  )
    .option('--quick', 'find damage by asking the backends instead of fetching every shard')
    .action(async (path: string, o: Common & { quick?: boolean }) => {
      const r = await withQss(o, (q) => q.rebuild(path, { deep: !o.quick }));
      print(o, r, () =>
        r.damaged === 0
          ? `${path}: nothing to rebuild`
          : `${path}: ${r.rebuilt} of ${r.damaged} damaged shards rebuilt${r.remaining ? `, ${r.remaining} still damaged (not enough healthy backends)` : ''}${r.lost.length ? `; ${r.lost.length} block(s) lost` : ''}`,
      );
      if (r.remaining > 0 || r.lost.length > 0) process.exitCode = 1;
    });

  common(cmd.command('repair').description('sweep every object and rebuild what is damaged'))
    .option('--watch', 'keep sweeping (every repair.intervalSeconds of the config, or --interval)')
    .option('--interval <seconds>', 'seconds between sweeps with --watch', integer)
    .option('--deep', 'fetch and verify every shard (default: the backends verify their own copies)')
    .action(async (o: Common & { watch?: boolean; interval?: number; deep?: boolean }) => {
      await withQss(o, async (q) => {
        const show = (r: RepairReport) =>
          print(o, { time: Date.now(), ...r }, () => `${when(Date.now())}  ${repairText(r)}`);
        if (!o.watch) {
          const r = await q.repair({ deep: o.deep });
          print(o, r, () => repairText(r));
          if (r.failed > 0) process.exitCode = 1;
          return;
        }
        const stop = new AbortController();
        const quit = () => stop.abort();
        process.once('SIGINT', quit);
        process.once('SIGTERM', quit);
        const interval = (o.interval ?? q.config.repair.intervalSeconds) * 1000;
        await q.watch(interval, show, stop.signal, { deep: o.deep });
      });
    });

  common(cmd.command('status').description('health of every backend')).action(async (o: Common) => {
    await withQss(o, async (q) => {
      const s = await q.status();
      const loss = worstLoss(q.config.k, q.config.m, q.config.groups, q.config.tolerate);
      print(o, s, () => statusText(s, loss));
      if (!s.readable) process.exitCode = 1;
    });
  });

  common(cmd.command('ls').description('objects, by path').argument('[prefix]')).action(
    async (prefix: string | undefined, o: Common) => {
      const list = await withQss(o, (q) => q.list(prefix ?? ''));
      print(o, list, () => list.map(infoLine).join('\n') || '(no objects)');
    },
  );

  common(cmd.command('rm').description('delete an object and its shards').argument('<path>')).action(
    async (path: string, o: Common) => {
      await withQss(o, (q) => q.delete(path));
      print(o, { path, deleted: true }, () => `deleted ${path}`);
    },
  );

  common(cmd.command('gc').description('delete shards no object references (older than the grace period)'))
    .option('--grace <seconds>', 'keep entries younger than this (writes in progress)', integer, 3600)
    .option('--dry-run', 'count, delete nothing')
    .action(async (o: Common & { grace: number; dryRun?: boolean }) => {
      const r = await withQss(o, (q) => q.collectGarbage({ graceSeconds: o.grace, dryRun: o.dryRun }));
      print(o, r, () =>
        [
          `${r.dryRun ? 'would delete' : 'deleted'} ${r.garbage} unreferenced shard(s), ${formatBytes(r.garbageBytes)}; ` +
            `${r.scanned} entries scanned, ${r.referenced} referenced by ${r.objects} object(s)`,
          ...r.unreachable.map((b) => `  not swept (unreachable): ${b}`),
        ].join('\n'),
      );
      if (r.unreachable.length > 0) process.exitCode = 1;
    });

  const collect = (v: string, prev: string[]) => [...prev, v];
  cmd
    .command('config')
    .description('write a ready configuration, with a fresh metadata key')
    .requiredOption('--data-shards <k>', 'data shards per block', integer)
    .requiredOption('--parity-shards <m>', 'parity shards per block', integer)
    .requiredOption('--group <backends>', 'HOST:PORT/NS,… of one group (site); repeat per group', collect, [])
    .requiredOption('--meta <backends>', 'HOST:PORT/NS,… metadata backends (user-mode namespaces)')
    .requiredOption('--out <file>', 'where to write it (refuses to overwrite without --force)')
    .option('--password <password>', 'namespace password of every backend')
    .option('--margin <n>', 'extra shards a write needs beyond k (default 1)', integer)
    .option('--block-size <bytes>', 'block size in bytes, or e.g. 1MiB (default 4 MiB)', size)
    .option('--force', 'overwrite --out')
    .option('--json', 'print JSON')
    .action(
      (o: {
        dataShards: number;
        parityShards: number;
        group: string[];
        meta: string;
        out: string;
        password?: string;
        margin?: number;
        blockSize?: number;
        force?: boolean;
        json?: boolean;
      }) => {
        if (existsSync(o.out) && !o.force) throw new Error(`${o.out} exists (use --force to replace it)`);
        const split = (s: string) =>
          s
            .split(',')
            .map((x) => x.trim())
            .filter(Boolean);
        const config = buildConfig({
          k: o.dataShards,
          m: o.parityShards,
          groups: o.group.map(split),
          meta: split(o.meta),
          password: o.password,
          margin: o.margin,
          blockSize: o.blockSize,
        });
        writeFileSync(o.out, renderConfig(config), { mode: 0o600 });
        const summary = {
          file: o.out,
          k: config.k,
          m: config.m,
          groups: config.groups.length,
          backends: config.groups.reduce((a, g) => a + g.backends.length, 0),
          meta: config.meta.backends.length,
          tolerate: config.tolerate,
        };
        print(
          o,
          summary,
          () =>
            `wrote ${o.out}: ${config.k}+${config.m} over ${summary.backends} backends in ${summary.groups} group(s), ` +
            `${summary.meta} metadata backend(s); survives losing ${config.tolerate.groups} whole group(s). ` +
            'It holds the metadata key: keep it private and backed up.',
        );
      },
    );
  return cmd;
}
