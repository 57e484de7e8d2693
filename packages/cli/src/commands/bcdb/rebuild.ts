import { rebuildStore } from '@twin/twin';
import { Command } from 'commander';
import { homeOption, jsonOption, print } from '../../options.ts';

/** `twin bcdb rebuild --home H`: recreates the SQLite index from 0-db alone, with the twin stopped. */
export function rebuildCommand(): Command {
  const rebuild = new Command('rebuild').description(
    'recreate the SQLite index from 0-db alone (refused while the twin runs)',
  );
  homeOption(rebuild);
  return jsonOption(rebuild).action(async (o: { home: string; json?: boolean }) => {
    const r = await rebuildStore(o.home);
    print(o, r, () => `rebuilt the index from ${r.records} 0-db records in ${r.ms} ms`);
  });
}
