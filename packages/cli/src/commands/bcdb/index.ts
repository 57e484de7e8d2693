/**
 * `twin bcdb`: the twin's own database, one module per subcommand. Each talks to the running
 * twin through its control socket as the owner, or, with `--twin`, to another twin's BCDB over
 * the bus (where that twin's ACLs allow); `rebuild` works on a stopped twin's files.
 */
import { Command } from 'commander';
import { aclCommand } from './acl.ts';
import { deleteCommand } from './delete.ts';
import { findCommand } from './find.ts';
import { getCommand } from './get.ts';
import { rebuildCommand } from './rebuild.ts';
import { requestCommand } from './request.ts';
import { decideCommand, requestsCommand } from './requests.ts';
import { setCommand } from './set.ts';
import { updateCommand } from './update.ts';

/** The `twin bcdb` command with every subcommand. */
export function bcdbCommand(): Command {
  const cmd = new Command('bcdb').description(
    "the twin's own database: objects with tags and ACLs (talks to the running twin)",
  );
  for (const sub of [
    setCommand(),
    getCommand(),
    findCommand(),
    updateCommand(),
    deleteCommand(),
    aclCommand(),
    requestCommand(),
    requestsCommand(),
    decideCommand('approve'),
    decideCommand('decline'),
    rebuildCommand(),
  ])
    cmd.addCommand(sub);
  return cmd;
}
