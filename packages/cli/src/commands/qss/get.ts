/**
 * `twin qss get PATH`: an object's bytes to stdout, or to a file (-o) that is replaced only once
 * complete. The summary goes to stderr (stdout may carry the bytes), or as JSON with --json.
 */
import { createWriteStream, renameSync, rmSync } from 'node:fs';
import { finished } from 'node:stream/promises';
import { Command } from 'commander';
import { print } from '../../options.ts';
import { formatBytes, formatRate, Progress } from '../../progress.ts';
import { type QssOptions, qssOptions, withQss } from './common.ts';

export function getCommand(): Command {
  return qssOptions(
    new Command('get').description('retrieve an object (to stdout without -o)').argument('<path>'),
  )
    .option('-o, --output <file>', 'write to this file (replaced only once complete)')
    .action(async (path: string, o: QssOptions & { output?: string }) => {
      const toFile = o.output !== undefined && o.output !== '-';
      const partial = toFile ? `${o.output}.partial-${process.pid}` : undefined;
      const damaged: number[] = [];
      const result = await withQss(
        o,
        async (q) => {
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
        },
        // This process has nothing else to do: intact blocks are deciphered here, not handed to
        // (and copied for) a worker; only blocks that need a rebuild start the threads.
        { decodeIntactInline: true },
      );
      if (o.json) print(o, result, () => '');
      else if (toFile) {
        const note = result.damagedBlocks
          ? `; ${result.damagedBlocks} block(s) read around damage (run rebuild)`
          : '';
        console.error(
          `retrieved ${path}: ${formatBytes(result.size)}, ${formatRate(result.size, result.seconds)}${note}`,
        );
      }
    });
}
