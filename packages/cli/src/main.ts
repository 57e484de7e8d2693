import { zdbCommand } from '@twin/zdb';
import { Command } from 'commander';
import { demoCommand } from './commands/demo.ts';

export function program(): Command {
  const root = new Command('twin')
    .description("Digital Twin: a person's own server on a peer-to-peer grid")
    .showHelpAfterError();
  root.addCommand(zdbCommand('zdb'));
  root.addCommand(demoCommand());
  return root;
}

export async function main(argv: string[]): Promise<void> {
  await program().parseAsync(argv);
}
