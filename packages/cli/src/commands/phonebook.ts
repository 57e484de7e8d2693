import { loadIdentity } from '@twin/identity';
import {
  DEFAULT_PHONEBOOK_PORT,
  PhonebookClient,
  type RateLimit,
  startPhonebook,
  type TwinRecord,
} from '@twin/phonebook';
import { Command } from 'commander';
import { pino } from 'pino';
import {
  type Common,
  commonOptions,
  jsonOption,
  passphrase,
  phonebookOption,
  port,
  print,
  rate,
  url,
} from '../options.ts';
import { stopOnSignals } from '../signals.ts';
import { tfchainLookup, tfchainRegister } from '../tfchain.ts';

function show(t: TwinRecord): string {
  return [
    `twin ${t.id}: ${t.name} (verified)`,
    `  signing key     ${t.signingKey}`,
    `  encryption key  ${t.encryptionKey}`,
    `  addresses       ${t.addresses.join(' ') || '-'}`,
    `  relays          ${t.relays.join(' ') || '-'}`,
    `  updated         ${new Date(t.updated).toISOString()}`,
  ].join('\n');
}

interface ServeOptions {
  data: string;
  host: string;
  port: number;
  follow?: string;
  gossip?: string[];
  verbose?: boolean;
  clientWrites?: RateLimit;
  twinWrites?: RateLimit;
}

export function phonebookCommand(): Command {
  const cmd = new Command('phonebook').description(
    'the Twin Phonebook: verifiable registry of twins, farms and nodes',
  );
  cmd
    .command('serve')
    .description('run a phonebook server, or a read-only replica with --follow')
    .option('--data <dir>', 'data directory (ledger + server key)', './phonebook-data')
    .option('--host <addr>', 'listen address', '127.0.0.1')
    .option('--port <port>', 'listen port', port, DEFAULT_PHONEBOOK_PORT)
    .option('--follow <url>', 'replicate this phonebook (read-only, verifying every entry)', url)
    .option(
      '--client-writes <rate>',
      'writes one client address may make: BURST/INTERVAL (default 60/1s)',
      rate,
    )
    .option('--twin-writes <rate>', 'writes one twin may make: BURST/INTERVAL (default 10/6s)', rate)
    .option(
      '--gossip <url...>',
      'compare checkpoints with these phonebooks (other replicas): a server showing two histories is reported',
    )
    .option('--verbose', 'log every request')
    .action(async (o: ServeOptions) => {
      const log = pino({ name: 'phonebook' }, pino.destination(2));
      const running = await startPhonebook({
        dataDir: o.data,
        host: o.host,
        port: o.port,
        follow: o.follow,
        limits: {
          ...(o.clientWrites && { perClient: o.clientWrites }),
          ...(o.twinWrites && { perTwin: o.twinWrites }),
        },
        logger: Boolean(o.verbose),
        onFork: (reason) => log.error({ upstream: o.follow, reason }, 'refusing upstream history'),
        gossip: o.gossip?.map((u) => url(u)),
        onEquivocation: (e) =>
          log.error(
            { peer: e.peer, reason: e.reason, ours: e.ours, theirs: e.theirs },
            'the server signed two histories (evidence: both checkpoints)',
          ),
      });
      log.info(
        {
          url: running.url,
          role: o.follow ? 'replica' : 'server',
          height: running.service.state.height,
          serverKey: running.service.serverKey,
        },
        `phonebook ${o.follow ? `replica of ${o.follow}` : 'server'} listening on ${running.url}`,
      );
      stopOnSignals(() => running.close());
    });
  commonOptions(
    cmd
      .command('register')
      .description('register this twin (or update its addresses) from its keystore')
      .option('--address <multiaddr...>', 'network addresses to publish (default: keep the published ones)')
      .option('--relay <multiaddr...>', 'relays to publish (default: keep the published ones)'),
  ).action(async (o: Common & { address?: string[]; relay?: string[] }) => {
    const identity = loadIdentity(o.home, passphrase(o.passphraseFile));
    if (o.phonebook.startsWith('tfchain+')) {
      const record = await tfchainRegister(o.phonebook, identity, o.address);
      return print(o, record, () => show(record));
    }
    const client = new PhonebookClient({ url: o.phonebook });
    // Without --address (or --relay), publish() keeps what is published: registering again must
    // not wipe the addresses other twins reach this one at (a running twin keeps them current).
    const record = await client.publish(identity, o.address, o.relay);
    print(o, record, () => show(record));
  });
  jsonOption(phonebookOption(cmd.command('list').description('list registered twins'))).action(
    async (o: { phonebook: string; json?: boolean }) => {
      const client = new PhonebookClient({ url: o.phonebook });
      const twins: TwinRecord[] = [];
      for (let from = 1; ; ) {
        const page = await client.backend.twins(from, 1000);
        twins.push(...page);
        if (page.length < 1000) break;
        from = page[page.length - 1]!.id + 1;
      }
      print(o, twins, () =>
        twins
          .map((t) => `${String(t.id).padStart(6)}  ${t.name.padEnd(24)} ${t.addresses.join(' ')}`)
          .join('\n'),
      );
    },
  );
  return cmd;
}

export function lookupCommand(): Command {
  return jsonOption(
    phonebookOption(
      new Command('lookup')
        .description('find a twin by name or id; prints its verified record')
        .argument('<name-or-id>'),
    ),
  )
    .option('--server-key <key>', 'pin the phonebook server key (base64): verify its signed checkpoint')
    .action(async (ref: string, o: { phonebook: string; serverKey?: string; json?: boolean }) => {
      const record = o.phonebook.startsWith('tfchain+')
        ? await tfchainLookup(o.phonebook, ref)
        : await new PhonebookClient({ url: o.phonebook, serverKey: o.serverKey }).twin(ref);
      print(o, record, () => show(record));
    });
}
