/**
 * `twin qss config`: writes a ready configuration with a fresh metadata key. The flags are
 * checked here (the library's messages name the file's fields, not these flags).
 */
import { existsSync, writeFileSync } from 'node:fs';
import { buildConfig, renderConfig } from '@twin/qss';
import { Command, InvalidArgumentError } from 'commander';
import { collect, integer, type JsonOptions, jsonOption, print, size } from '../../options.ts';
import { count } from './common.ts';

interface ConfigOptions extends JsonOptions {
  dataShards: number;
  parityShards: number;
  group: string[];
  meta: string;
  out: string;
  password?: string;
  margin?: number;
  blockSize?: number;
  force?: boolean;
}

/** "a,b, c" → ["a", "b", "c"]. */
const list = (s: string) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

export function configCommand(): Command {
  return jsonOption(
    new Command('config')
      .description('write a ready configuration, with a fresh metadata key')
      .requiredOption('--data-shards <k>', 'data shards per block', integer(1, 255))
      .requiredOption('--parity-shards <m>', 'parity shards per block', integer(0, 255))
      .requiredOption(
        '--group <backends>',
        'HOST:PORT/NS,… of one group (site); repeat per group',
        collect,
        [],
      )
      .requiredOption('--meta <backends>', 'HOST:PORT/NS,… metadata backends (user-mode namespaces)')
      .requiredOption('--out <file>', 'where to write it (refuses to overwrite without --force)')
      .option('--password <password>', 'namespace password of every backend')
      .option('--margin <n>', 'extra shards a write needs beyond k (default 1)', count)
      .option('--block-size <bytes>', 'block size in bytes, or e.g. 1MiB (default 4 MiB)', size)
      .option('--force', 'overwrite --out'),
  ).action((o: ConfigOptions) => {
    if (o.group.length === 0) throw new InvalidArgumentError('give at least one --group HOST:PORT/NS,…');
    if (list(o.meta).length === 0) throw new InvalidArgumentError('--meta needs at least one HOST:PORT/NS');
    if (existsSync(o.out) && !o.force)
      throw new InvalidArgumentError(`${o.out} exists (use --force to replace it)`);
    const config = buildConfig({
      k: o.dataShards,
      m: o.parityShards,
      groups: o.group.map(list),
      meta: list(o.meta),
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
  });
}
