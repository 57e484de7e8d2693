/**
 * `twin node start`: runs a node agent. The node is a twin of its own: its identity lives in the
 * node's data directory (created on first start); `--home` is the farm owner's, whose key admits
 * the node to the farm on its first registration.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { machineCapacity, NodeAgent, type TwinData } from '@twin/grid';
import { initIdentity, loadIdentity } from '@twin/identity';
import { type Capacity, PhonebookClient } from '@twin/phonebook';
import { Command, InvalidArgumentError } from 'commander';
import { pino } from 'pino';
import {
  type Common,
  duration,
  homeOption,
  integer,
  passphrase,
  passphraseOption,
  phonebookOption,
  port,
  size,
} from '../../options.ts';

/** "cpu=2,memory=8GiB,disk=100GiB": any subset; the rest from this machine. */
export function capacity(v: string): Capacity {
  const out = machineCapacity();
  for (const part of v.split(',')) {
    const [k, val] = part.split('=');
    if (!k || val === undefined) throw new InvalidArgumentError('expected cpu=N,memory=SIZE,disk=SIZE');
    if (k === 'cpu') out.cpu = integer(1)(val);
    else if (k === 'memory') out.memory = size(val);
    else if (k === 'disk' || k === 'storage') out.storage = size(val);
    else throw new InvalidArgumentError(`unknown capacity "${k}": use cpu, memory, disk`);
  }
  return out;
}

export function nodeCommand(): Command {
  const node = new Command('node').description('run a grid node (Zero-OS): storage, compute, network');
  const start = node
    .command('start')
    .description('run a node agent in a farm; the node is a twin of its own (its keys live in --data)');
  homeOption(start, "the farm owner's home (its key admits the node to the farm)");
  phonebookOption(start);
  passphraseOption(start);
  start
    .requiredOption('--farm <id>', 'the farm this node belongs to', integer(1))
    .option('--data <dir>', "the node's data directory (default: <home>/nodes/<farm>)")
    .option(
      '--capacity <list>',
      'what the node offers: cpu=2,memory=8GiB,disk=100GiB (default: this machine)',
      capacity,
    )
    .option('--listen <multiaddr...>', 'bus addresses to listen on', ['/ip4/127.0.0.1/tcp/0'])
    .option('--zdb-listen <ip>', "the node's 0-db listen address", '127.0.0.1')
    .option('--zdb-port <port>', "the node's 0-db port (0: any)", port, 0)
    .option('--zdb-host <ip...>', 'addresses to publish in zdb results (default: the listen address)')
    .option('--heartbeat <seconds>', 'heartbeat period', duration('ms', 1000), 5000)
    .action(
      async (
        o: Common & {
          farm: number;
          data?: string;
          capacity?: Capacity;
          listen: string[];
          zdbListen: string;
          zdbPort: number;
          zdbHost?: string[];
          heartbeat: number;
        },
      ) => {
        const farmer = loadIdentity(o.home, passphrase(o.passphraseFile));
        const data = o.data ?? join(o.home, 'nodes', String(o.farm));
        const keys = join(data, 'identity');
        const identity = existsSync(join(keys, 'keystore.json'))
          ? loadIdentity(keys)
          : initIdentity({ home: keys, name: `${farmer.name}-node-${Date.now().toString(36)}` }).identity;
        const log = pino({ name: 'grid-node' }, pino.destination(2));
        const twinBin = process.argv[1]!;
        const agent = new NodeAgent({
          identity,
          farmer,
          farm: o.farm,
          dataDir: data,
          phonebook: new PhonebookClient({ url: o.phonebook }),
          capacity: o.capacity,
          listen: o.listen,
          zdbListen: o.zdbListen,
          zdbPort: o.zdbPort,
          hosts: o.zdbHost,
          heartbeatMs: o.heartbeat,
          twinLauncher: {
            prepare: async (home: string, d: TwinData) => {
              initIdentity({ home, name: d.name });
            },
            command: (home: string) => [
              process.execPath,
              twinBin,
              'start',
              '--home',
              home,
              '--phonebook',
              o.phonebook,
            ],
          },
          log: (level, msg, fields) => log[level](fields ?? {}, msg),
        });
        await agent.start();
        log.info(
          { node: agent.nodeId, farm: o.farm, twin: identity.name, addresses: agent.addresses },
          'node up',
        );
        console.log(`node ${agent.nodeId} up in farm ${o.farm} (twin ${identity.name})`);
        const stop = () => {
          agent.stop().then(() => process.exit(0));
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      },
    );
  return node;
}
