import { loadIdentity } from '@twin/identity';
import {
  DEFAULT_PHONEBOOK_PORT,
  DEFAULT_PHONEBOOK_URL,
  PhonebookClient,
  startPhonebook,
  type TwinRecord,
} from '@twin/phonebook';
import { Command, InvalidArgumentError } from 'commander';
import { pino } from 'pino';
import { passphrase } from './identity.ts';

const url = () => process.env.TWIN_PHONEBOOK ?? DEFAULT_PHONEBOOK_URL;
const port = (v: string) => {
  if (!/^\d+$/.test(v) || Number(v) > 65535) throw new InvalidArgumentError('a port number');
  return Number(v);
};

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
    .option('--follow <url>', 'replicate this phonebook (read-only, verifying every entry)')
    .option('--verbose', 'log every request')
    .action(async (o: { data: string; host: string; port: number; follow?: string; verbose?: boolean }) => {
      const log = pino({ name: 'phonebook' }, pino.destination(2));
      const running = await startPhonebook({
        dataDir: o.data,
        host: o.host,
        port: o.port,
        follow: o.follow,
        logger: Boolean(o.verbose),
        onFork: (reason) => log.error({ upstream: o.follow, reason }, 'refusing upstream history'),
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
      const stop = () => {
        running.close().then(() => process.exit(0));
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
  cmd
    .command('register')
    .description('register this twin (or update its addresses) from its keystore')
    .requiredOption('--home <dir>', "the twin's home directory")
    .option('--phonebook <url>', 'phonebook URL (env TWIN_PHONEBOOK)', url())
    .option('--address <multiaddr...>', 'network addresses to publish', [])
    .option('--relay <multiaddr...>', 'relays to publish', [])
    .option('--passphrase-file <file>', 'keystore passphrase (or env TWIN_PASSPHRASE)')
    .option('--json', 'print the record as JSON')
    .action(
      async (o: {
        home: string;
        phonebook: string;
        address: string[];
        relay: string[];
        passphraseFile?: string;
        json?: boolean;
      }) => {
        const identity = loadIdentity(o.home, passphrase(o.passphraseFile));
        const record = await new PhonebookClient({ url: o.phonebook }).publish(identity, o.address, o.relay);
        console.log(o.json ? JSON.stringify(record) : show(record));
      },
    );
  cmd
    .command('list')
    .description('list registered twins')
    .option('--phonebook <url>', 'phonebook URL (env TWIN_PHONEBOOK)', url())
    .option('--json', 'print JSON')
    .action(async (o: { phonebook: string; json?: boolean }) => {
      const client = new PhonebookClient({ url: o.phonebook });
      const twins: TwinRecord[] = [];
      for (let from = 1; ; ) {
        const page = await client.backend.twins(from, 1000);
        twins.push(...page);
        if (page.length < 1000) break;
        from = page[page.length - 1]!.id + 1;
      }
      if (o.json) console.log(JSON.stringify(twins));
      else
        for (const t of twins)
          console.log(`${String(t.id).padStart(6)}  ${t.name.padEnd(24)} ${t.addresses.join(' ')}`);
    });
  return cmd;
}

export function lookupCommand(): Command {
  return new Command('lookup')
    .description('find a twin by name or id; prints its verified record')
    .argument('<name-or-id>')
    .option('--phonebook <url>', 'phonebook URL (env TWIN_PHONEBOOK)', url())
    .option('--server-key <key>', 'pin the phonebook server key (base64): verify its signed checkpoint')
    .option('--json', 'print JSON')
    .action(async (ref: string, o: { phonebook: string; serverKey?: string; json?: boolean }) => {
      const record = await new PhonebookClient({ url: o.phonebook, serverKey: o.serverKey }).twin(ref);
      console.log(o.json ? JSON.stringify(record) : show(record));
    });
}
