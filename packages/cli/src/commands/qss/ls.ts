/** `twin qss ls [PREFIX]`: the objects, by path. */
import type { ObjectInfo } from '@twin/qss';
import { Command } from 'commander';
import { print } from '../../options.ts';
import { formatBytes } from '../../progress.ts';
import { type QssOptions, qssOptions, when, withQss } from './common.ts';

const infoLine = (i: ObjectInfo) =>
  `${formatBytes(i.size).padStart(10)}  ${when(i.time)}  ${i.k}+${i.m}${i.absentShards ? `  degraded (${i.absentShards} shards absent)` : ''}  ${i.path}`;

export function lsCommand(): Command {
  return qssOptions(new Command('ls').description('objects, by path').argument('[prefix]')).action(
    async (prefix: string | undefined, o: QssOptions) => {
      const list = await withQss(o, (q) => q.list(prefix ?? ''));
      print(o, list, () => list.map(infoLine).join('\n') || '(no objects)');
    },
  );
}
