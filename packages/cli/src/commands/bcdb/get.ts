import { Command } from 'commander';
import { type Common, common, idArg, line, type Meta, run } from './shared.ts';

/** `twin bcdb get ID [--twin T]`: an object's metadata and data. */
export function getCommand(): Command {
  return common(
    new Command('get').description('an object and its data').argument('<id>', 'id', idArg),
    true,
  ).action((id: number, o: Common) =>
    run(o, 'bcdb.get', { id }, (r) => {
      const m = r as Meta & { data: string };
      return `${line(m)}\n${Buffer.from(m.data, 'base64').toString()}`;
    }),
  );
}
