/**
 * `twin qss`: Quantum Safe Storage from the command line. One module per subcommand in qss/;
 * their shared options and opening of the store are in qss/common.ts.
 */
import { Command } from 'commander';
import { checkCommand } from './qss/check.ts';
import { configCommand } from './qss/config.ts';
import { gcCommand } from './qss/gc.ts';
import { getCommand } from './qss/get.ts';
import { lsCommand } from './qss/ls.ts';
import { putCommand } from './qss/put.ts';
import { rebuildCommand } from './qss/rebuild.ts';
import { repairCommand } from './qss/repair.ts';
import { rmCommand } from './qss/rm.ts';
import { statusCommand } from './qss/status.ts';

export function qssCommand(): Command {
  const cmd = new Command('qss').description(
    'Quantum Safe Storage: files encrypted, erasure-coded and dispersed over 0-db backends',
  );
  for (const sub of [
    putCommand(),
    getCommand(),
    checkCommand(),
    rebuildCommand(),
    repairCommand(),
    statusCommand(),
    lsCommand(),
    rmCommand(),
    gcCommand(),
    configCommand(),
  ])
    cmd.addCommand(sub);
  return cmd;
}
