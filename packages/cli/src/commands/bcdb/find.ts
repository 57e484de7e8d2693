import { MAX_PAGE_SIZE } from '@twin/bcdb';
import { Command } from 'commander';
import { collect, integer, pairs } from '../../options.ts';
import { type Common, common, line, type Meta, run } from './shared.ts';

/** `twin bcdb find --collection C [--tag k=v ...] [--prefix k=v] [--limit N] [--cursor X] [--twin T]`. */
export function findCommand(): Command {
  return common(new Command('find').description('objects of a collection by tags (AND), newest first'), true)
    .requiredOption('--collection <name>', 'collection')
    .option('--tag <key=value>', 'tag equality (repeatable)', collect, [])
    .option('--prefix <key=value>', 'tag value prefix')
    .option('--limit <n>', 'page size', integer(1, MAX_PAGE_SIZE), 100)
    .option('--cursor <cursor>', 'continue after a previous page')
    .action(
      (
        o: Common & { collection: string; tag: string[]; prefix?: string; limit: number; cursor?: string },
      ) => {
        const prefix = o.prefix
          ? Object.entries(pairs([o.prefix])).map(([key, value]) => ({ key, value }))[0]
          : undefined;
        return run(
          o,
          'bcdb.find',
          { collection: o.collection, tags: pairs(o.tag), prefix, limit: o.limit, cursor: o.cursor },
          (r) => {
            const page = r as { objects: Meta[]; cursor: string | null };
            return [...page.objects.map(line), page.cursor ? `(more: --cursor ${page.cursor})` : '']
              .filter(Boolean)
              .join('\n');
          },
        );
      },
    );
}
