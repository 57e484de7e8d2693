import { Command } from 'commander';
import { type Common, common, idArg, run } from './shared.ts';

/** `twin bcdb delete ID [--twin T]`. */
export function deleteCommand(): Command {
  return common(
    new Command('delete').description('delete an object').argument('<id>', 'id', idArg),
    true,
  ).action((id: number, o: Common) => run(o, 'bcdb.delete', { id }, () => 'deleted'));
}
