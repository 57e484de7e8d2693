/** `twin qss put FILE`: stores a file (or stdin) as an object. */
import { statSync } from 'node:fs';
import { basename } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { print } from '../../options.ts';
import { formatBytes, formatRate, Progress } from '../../progress.ts';
import { type QssOptions, qssOptions, withQss } from './common.ts';

export function putCommand(): Command {
  return qssOptions(new Command('put').description('store a file ("-" for stdin)').argument('<file>'))
    .option('--as <path>', 'the object path (default: the file name)')
    .action(async (file: string, o: QssOptions & { as?: string }) => {
      const path = o.as ?? (file === '-' ? undefined : basename(file));
      if (!path) throw new InvalidArgumentError('reading stdin needs --as PATH');
      const total = file === '-' ? undefined : statSync(file).size;
      const bar = new Progress(`put ${path}`, total);
      const onProgress = (n: number) => bar.update(n);
      // A file is read straight into the blocks that are encoded; stdin as the stream it is.
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
}
