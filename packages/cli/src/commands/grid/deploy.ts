/**
 * `twin deploy FILE --node ID`, `twin deployments`, `twin deployment get CONTRACT`,
 * `twin cancel CONTRACT`: a twin's deployments on grid nodes, through its own bus.
 */
import { readFileSync } from 'node:fs';
import { type DeploymentInfo, GridClient, GridError, type UnsignedDeployment } from '@twin/grid';
import { loadIdentity } from '@twin/identity';
import { PhonebookClient, PhonebookError } from '@twin/phonebook';
import { Command, InvalidArgumentError } from 'commander';
import { z } from 'zod';
import { type Common, commonOptions, duration, integer, passphrase, print } from '../../options.ts';
import { ephemeralBus } from '../bus.ts';

/** What a deployment file holds: the twin, node and version are filled in by `twin deploy`. */
const fileSchema = z.strictObject({
  metadata: z.string().default(''),
  workloads: z.array(
    z.object({
      name: z.string(),
      type: z.string(),
      version: z.number().int().default(0),
      data: z.record(z.string(), z.unknown()),
    }),
  ),
});

function readDeploymentFile(file: string): z.infer<typeof fileSchema> {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new InvalidArgumentError(`cannot read the deployment file ${file}: ${(e as Error).message}`);
  }
  const r = fileSchema.safeParse(json);
  if (!r.success)
    throw new InvalidArgumentError(
      `deployment file ${file}: ${r.error.issues[0]?.path.join('.') || 'file'}: ${r.error.issues[0]?.message}`,
    );
  return r.data;
}

/** Runs `f` with a GridClient on a bus of this twin's own (closed after). */
export async function withGrid<T>(o: Common, f: (grid: GridClient, twin: number) => Promise<T>): Promise<T> {
  const b = await ephemeralBus(o, false);
  try {
    const grid = new GridClient({
      identity: b.identity,
      twin: b.self.id,
      bus: b.bus,
      phonebook: new PhonebookClient({ url: o.phonebook }),
    });
    return await f(grid, b.self.id);
  } finally {
    await b.close();
  }
}

const states = (d: DeploymentInfo) =>
  Object.entries(d.results)
    .map(
      ([name, r]) =>
        `  ${name}\t${r.state}\t${r.message}${Object.keys(r.data).length ? `\t${JSON.stringify(r.data)}` : ''}`,
    )
    .join('\n');

export function deployCommand(): Command {
  const cmd = new Command('deploy')
    .description('deploy workloads on a node: records the contract, sends the signed deployment')
    .argument('<file>', 'JSON: {metadata?, workloads: [{name, type, data}]}');
  return commonOptions(cmd)
    .requiredOption('--node <id>', 'the node to deploy on', integer(1))
    .option('--wait', "show each workload's state until ok or error")
    .option('--timeout <seconds>', 'how long --wait waits', duration('s', 1), 120)
    .action(async (file: string, o: Common & { node: number; wait?: boolean; timeout: number }) => {
      const spec = readDeploymentFile(file);
      await withGrid(o, async (grid, twin) => {
        const d: UnsignedDeployment = {
          version: 0,
          twin,
          node: o.node,
          metadata: spec.metadata,
          workloads: spec.workloads,
        };
        const contract = await grid.deploy(d);
        if (!o.wait)
          return print(
            o,
            { contract, node: o.node },
            () => `contract ${contract}: deployment sent to node ${o.node}`,
          );
        if (!o.json) console.log(`contract ${contract}: deployment sent to node ${o.node}`);
        const info = await grid.wait(o.node, contract, o.timeout * 1000, (v) => {
          if (!o.json) console.log(states(v));
        });
        if (o.json) print(o, info, () => '');
        if (Object.values(info.results).some((r) => r.state === 'error')) process.exitCode = 1;
      });
    });
}

export function deploymentsCommand(): Command {
  return commonOptions(new Command('deployments').description("this twin's contracts on the grid")).action(
    async (o: Common) => {
      const client = new PhonebookClient({ url: o.phonebook });
      const me = await client.twinByKey(loadIdentity(o.home, passphrase(o.passphraseFile)).signingPublicKey);
      if (!me) throw new PhonebookError('not_found', 'this twin is not registered');
      const contracts = await client.backend.contracts({ twin: me.id });
      print(o, contracts, () =>
        contracts.length === 0
          ? 'no deployments'
          : [
              'CONTRACT\tNODE\tSTATE\tHASH',
              ...contracts.map((c) => `${c.id}\t${c.node}\t${c.state}\t${c.deploymentHash.slice(0, 16)}…`),
            ].join('\n'),
      );
    },
  );
}

export function deploymentCommand(): Command {
  const cmd = new Command('deployment').description('one deployment');
  commonOptions(
    cmd
      .command('get')
      .description("a deployment's workloads and their state, from its node")
      .argument('<contract>'),
  ).action(async (contract: string, o: Common) => {
    const id = integer(1)(contract);
    const verified = await new PhonebookClient({ url: o.phonebook }).contract(id);
    if (!verified) throw new GridError('not_found', `there is no contract ${id}`);
    await withGrid(o, async (grid) => {
      const info = await grid.get(verified.contract.node, id);
      print(o, { contract: verified.contract, deployment: info }, () =>
        [
          `contract ${id} on node ${verified.contract.node}: ${verified.contract.state}, deployment v${info.version} ${info.state}`,
          states(info),
        ].join('\n'),
      );
    });
  });
  return cmd;
}

export function cancelCommand(): Command {
  return commonOptions(
    new Command('cancel')
      .description('cancel a contract: its node removes the workloads')
      .argument('<contract>'),
  ).action(async (contract: string, o: Common) => {
    const id = integer(1)(contract);
    const identity = loadIdentity(o.home, passphrase(o.passphraseFile));
    await new PhonebookClient({ url: o.phonebook }).submitAs(identity, (me, nonce, timestamp) => ({
      kind: 'contract.cancel',
      twin: me.id,
      nonce,
      timestamp,
      contract: id,
    }));
    print(o, { contract: id, state: 'cancelled' }, () => `contract ${id} cancelled`);
  });
}
