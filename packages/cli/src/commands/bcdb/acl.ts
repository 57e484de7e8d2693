import { Command } from 'commander';
import { collect, pairs } from '../../options.ts';
import { type Common, common, idArg, run, twinId } from './shared.ts';

/** `twin bcdb acl create|get|list|grant|revoke`: this twin's access control lists. */
export function aclCommand(): Command {
  const acl = new Command('acl').description('access control lists');
  common(acl.command('create').description('a new ACL; prints its id'))
    .option('--grant <twin=perms>', 'e.g. 12=rw (repeatable)', collect, [])
    .action((o: Common & { grant: string[] }) =>
      run(o, 'bcdb.acl.create', { entries: pairs(o.grant) }, (r) => String((r as { id: number }).id)),
    );
  common(acl.command('get').argument('<id>', 'id', idArg)).action((id: number, o: Common) =>
    run(o, 'bcdb.acl.get', { id }, (r) => JSON.stringify(r)),
  );
  common(acl.command('list')).action((o: Common) =>
    run(o, 'bcdb.acl.list', {}, (r) => (r as unknown[]).map((x) => JSON.stringify(x)).join('\n')),
  );
  common(acl.command('grant').argument('<id>', 'id', idArg).argument('<twins...>', 'twin ids', twinId))
    .requiredOption('--perms <rwd>', 'permissions to add')
    .action((id: number, twins: number[], o: Common & { perms: string }) =>
      run(o, 'bcdb.acl.grant', { id, twins, perms: o.perms }, (r) => JSON.stringify(r)),
    );
  common(
    acl.command('revoke').argument('<id>', 'id', idArg).argument('<twins...>', 'twin ids', twinId),
  ).action((id: number, twins: number[], o: Common) =>
    run(o, 'bcdb.acl.revoke', { id, twins }, (r) => JSON.stringify(r)),
  );
  return acl;
}
