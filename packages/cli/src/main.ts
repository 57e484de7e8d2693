import { zdbCommand } from '@twin/zdb';
import { Command } from 'commander';
import { bcdbCommand } from './commands/bcdb.ts';
import { pingCommand, sendCommand, startCommand } from './commands/bus.ts';
import { demoCommand } from './commands/demo.ts';
import { initCommand } from './commands/identity.ts';
import { lookupCommand, phonebookCommand } from './commands/phonebook.ts';
import { qssCommand } from './commands/qss.ts';

export function program(): Command {
  const root = new Command('twin')
    .description("Digital Twin: a person's own server on a peer-to-peer grid")
    .showHelpAfterError();
  root.addCommand(zdbCommand('zdb'));
  root.addCommand(demoCommand());
  root.addCommand(initCommand());
  root.addCommand(phonebookCommand());
  root.addCommand(lookupCommand());
  root.addCommand(startCommand());
  root.addCommand(pingCommand());
  root.addCommand(sendCommand());
  root.addCommand(bcdbCommand());
  root.addCommand(qssCommand());
  return root;
}

/** Runs the CLI: a failure prints a one-line reason and exits non-zero. */
export async function main(argv: string[]): Promise<void> {
  try {
    await program().parseAsync(argv);
  } catch (e) {
    const err = e as Error & { code?: string };
    console.error(
      `twin: ${err.message}${err.code && !err.code.startsWith('commander') ? ` (${err.code})` : ''}`,
    );
    process.exit(1);
  }
}
