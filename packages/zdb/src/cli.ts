import { Command } from 'commander';

/** `zdb` / `twin zdb`: runs a 0-db compatible server. Flags follow 0-db's zdb. */
export function zdbCommand(name: string): Command {
  return new Command(name).description('run a 0-db compatible server').action(() => {
    throw new Error('zdb server: not built yet');
  });
}
