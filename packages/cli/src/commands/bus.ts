import { loadIdentity, type TwinIdentity } from '@twin/identity';
import { createTwinHost, Mailbox, queueMessage, TwinBus } from '@twin/network';
import { PhonebookClient, PhonebookError } from '@twin/phonebook';
import { DEFAULT_API_PORT, mailboxPath, prepareHome, startDaemon } from '@twin/twin';
import { Command } from 'commander';
import { pino } from 'pino';
import { CliError } from '../errors.ts';
import {
  type Common,
  commonOptions,
  duration,
  homeOption,
  integer,
  passphrase,
  passphraseOption,
  phonebookOption,
  port,
  print,
} from '../options.ts';
import { stopOnSignals } from '../signals.ts';

/** A short-lived bus for CLI commands: same identity as the twin, not published. */
export async function ephemeralBus(o: Common, withMailbox: boolean) {
  const identity: TwinIdentity = loadIdentity(o.home, passphrase(o.passphraseFile));
  const phonebook = new PhonebookClient({ url: o.phonebook });
  const self = await phonebook.twinByKey(identity.signingPublicKey);
  if (!self)
    throw new PhonebookError(
      'not_found',
      `twin "${identity.name}" is not registered: run twin phonebook register --home ${o.home}`,
    );
  const host = await createTwinHost(identity);
  const mailbox = withMailbox ? new Mailbox(mailboxPath(prepareHome(o.home))) : undefined;
  const bus = new TwinBus({ identity, twinId: self.id, host, phonebook, mailbox });
  await bus.start();
  return {
    identity,
    self,
    bus,
    mailbox,
    async close() {
      await bus.stop();
      await host.stop();
      mailbox?.close();
    },
  };
}

export function startCommand(): Command {
  const cmd = new Command('start').description(
    'run this twin: its network host, its bus, and its phonebook record kept current',
  );
  homeOption(cmd, "the twin's home directory (the twin locks it while it runs)");
  phonebookOption(cmd);
  passphraseOption(cmd);
  return cmd
    .option('--listen <multiaddr...>', 'addresses to listen on', ['/ip4/127.0.0.1/tcp/0'])
    .option('--announce <multiaddr...>', 'publish only these addresses')
    .option('--no-yggdrasil', "don't listen on this host's Yggdrasil address")
    .option('--relay', 'act as a circuit relay for twins that cannot accept connections')
    .option(
      '--record-check <seconds>',
      'how often to check the phonebook record against the addresses',
      duration('s', 1),
    )
    .option('--qss-config <file>', 'QSS configuration to keep repaired (default: <home>/qss.json if present)')
    .option(
      '--api-port <port>',
      `local API port on 127.0.0.1 (default ${DEFAULT_API_PORT}, any free port if taken)`,
      port,
    )
    .option('--no-api', "don't serve the local API")
    .option('--web-root <dir>', 'serve the web app from this build folder (default: the built packages/web)')
    .option('--no-web', "don't serve the web app (the API only)")
    .action(
      async (
        o: Common & {
          listen: string[];
          announce?: string[];
          yggdrasil: boolean;
          relay?: boolean;
          qssConfig?: string;
          recordCheck?: number;
          apiPort?: number;
          api: boolean;
          webRoot?: string;
          web: boolean;
        },
      ) => {
        const log = pino({ name: 'twin' }, pino.destination(2));
        const daemon = await startDaemon({
          home: o.home,
          phonebook: o.phonebook,
          passphrase: passphrase(o.passphraseFile),
          listen: o.listen,
          announce: o.announce,
          yggdrasil: o.yggdrasil ? 'auto' : 'off',
          relay: o.relay,
          qss: o.qssConfig,
          recordCheckMs: o.recordCheck === undefined ? undefined : o.recordCheck * 1000,
          api: o.api ? { port: o.apiPort } : false,
          web: o.web ? o.webRoot : false,
          log: (msg, fields) => log.info(fields ?? {}, msg),
        });
        if (daemon.api) {
          console.log(`API on http://127.0.0.1:${daemon.api.port}/api (OpenAPI: /api/openapi.json)`);
          if (o.web)
            console.log(
              `Web app on http://127.0.0.1:${daemon.api.port}/ (a sign-in link: twin signin-link --home ${o.home})`,
            );
          // Printed once: when this start created it. It stays readable by this user only.
          if (daemon.api.tokenCreated)
            console.log(`API token (kept in ${o.home}/api-token, mode 0600): ${daemon.api.token}`);
        }
        daemon.bus.on('message', (m) =>
          log.info({ from: m.from, seq: m.seq, command: m.command, bytes: m.payload.length }, 'message'),
        );
        daemon.bus.on('delivery', (e) => log.debug(e, 'delivery'));
        stopOnSignals(() => daemon.stop());
      },
    );
}

export function pingCommand(): Command {
  return commonOptions(
    new Command('ping')
      .description('round trip over the bus to a running twin; prints the RTT')
      .argument('<name-or-id>'),
  )
    .option('--count <n>', 'number of pings', integer(1), 1)
    .option('--timeout <ms>', 'per ping (milliseconds, or e.g. 5s)', duration('ms', 1), 5000)
    .action(async (target: string, o: Common & { count: number; timeout: number }) => {
      const b = await ephemeralBus(o, false);
      const rtts: number[] = [];
      try {
        for (let i = 0; i < o.count; i++) {
          const t0 = performance.now();
          const nonce = Buffer.from(`ping ${i} ${Date.now()}`);
          const reply = await b.bus.request(target, 'ping', nonce, { timeoutMs: o.timeout });
          if (!reply.equals(nonce)) throw new CliError('bad_reply', 'ping reply does not match');
          rtts.push(performance.now() - t0);
          if (!o.json) print(o, null, () => `reply from ${target}: seq=${i} time=${rtts[i]!.toFixed(2)} ms`);
        }
      } finally {
        await b.close();
      }
      if (o.json) print(o, { twin: target, rttMs: rtts.map((r) => +r.toFixed(3)) }, () => '');
    });
}

export function sendCommand(): Command {
  const cmd = new Command('send')
    .description(
      'reliable one-way message: queued in the outbox, delivered exactly once (retried until its ttl)',
    )
    .argument('<name-or-id>')
    .argument('<command>')
    .argument('<payload>');
  return commonOptions(cmd)
    .option('--ttl <seconds>', 'give up after this long (seconds, or e.g. 12h)', duration('s', 1), 86_400)
    .option(
      '--wait <seconds>',
      'wait this long for delivery before leaving it to the twin daemon',
      duration('s'),
      10,
    )
    .action(
      async (target: string, command: string, payload: string, o: Common & { ttl: number; wait: number }) => {
        const b = await ephemeralBus(o, true);
        let status = 'queued';
        let id = '';
        try {
          const to = await b.bus.phonebookTwin(target);
          id = queueMessage(
            b.mailbox!,
            b.identity,
            b.self.id,
            to.id,
            command,
            Buffer.from(payload),
            o.ttl * 1000,
          ).id;
          b.bus.flushOutbox();
          const until = Date.now() + o.wait * 1000;
          for (;;) {
            status = b.mailbox!.status(id) ?? 'queued';
            if (status !== 'queued' || Date.now() >= until) break;
            await new Promise((r) => setTimeout(r, 20));
          }
        } finally {
          await b.close();
        }
        print(
          o,
          { id, to: target, status },
          () =>
            `${id} ${status}${status === 'queued' ? ' (kept in the outbox: the twin daemon keeps retrying)' : ''}`,
        );
        if (status === 'expired') process.exitCode = 1;
        else if (status === 'queued') process.exitCode = 2;
      },
    );
}
