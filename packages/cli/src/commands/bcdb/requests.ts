import { Command } from 'commander';
import { type Common, common, idArg, run } from './shared.ts';

/** `twin bcdb requests [--status S]`: access requests to this twin. */
export function requestsCommand(): Command {
  return common(new Command('requests').description('access requests to this twin'))
    .option('--status <status>', 'pending, approved or declined', 'pending')
    .action((o: Common & { status: string }) =>
      run(o, 'bcdb.requests.list', { status: o.status }, (r) =>
        (r as unknown[]).map((x) => JSON.stringify(x)).join('\n'),
      ),
    );
}

/** `twin bcdb approve ID` and `twin bcdb decline ID`: decides a pending access request. */
export function decideCommand(decision: 'approve' | 'decline'): Command {
  const done = decision === 'approve' ? 'approved' : 'declined';
  return common(
    new Command(decision)
      .description(`${decision} an access request`)
      .argument('<request>', 'request id', idArg),
  ).action((id: number, o: Common) => run(o, `bcdb.requests.${decision}`, { id }, () => done));
}
