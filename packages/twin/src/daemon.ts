/**
 * The twin process (`twin start`): the twin's libp2p host and bus, its mailbox, and its
 * phonebook record kept current. When a Yggdrasil daemon runs on the host, the twin also listens
 * on its 200::/7 address and publishes it. Later issues add BCDB, QSS and the web app here.
 */
import { join } from 'node:path';
import { loadIdentity, type TwinIdentity } from '@twin/identity';
import { createTwinHost, Mailbox, TwinBus, type TwinHost } from '@twin/network';
import { PhonebookClient, type TwinRecord } from '@twin/phonebook';
import { freePort, yggdrasilAddresses } from './yggdrasil.ts';

export interface DaemonOptions {
  home: string;
  phonebook?: string;
  passphrase?: string;
  /** Multiaddrs to listen on (default TCP on 127.0.0.1, any port). */
  listen?: string[];
  /** 'auto' (default): also listen on this host's Yggdrasil address if it has one. */
  yggdrasil?: 'auto' | 'off';
  /** Only these addresses are published (default: every address the host listens on). */
  announce?: string[];
  /** Serve as a circuit relay for twins that cannot accept connections. */
  relay?: boolean;
  /** How often queued messages written by other processes are picked up (default 1 s). */
  outboxPollMs?: number;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

export interface Daemon {
  identity: TwinIdentity;
  record: TwinRecord;
  host: TwinHost;
  bus: TwinBus;
  mailbox: Mailbox;
  phonebook: PhonebookClient;
  stop(): Promise<void>;
}

export function mailboxPath(home: string): string {
  return join(home, 'bus.sqlite');
}

export async function startDaemon(o: DaemonOptions): Promise<Daemon> {
  const log = o.log ?? (() => {});
  const identity = loadIdentity(o.home, o.passphrase);
  const listen = [...(o.listen ?? ['/ip4/127.0.0.1/tcp/0'])];
  // The Planetary Network: listen on this host's Yggdrasil address and announce it outright.
  const planetary: string[] = [];
  if ((o.yggdrasil ?? 'auto') === 'auto') {
    for (const ip of yggdrasilAddresses()) planetary.push(`/ip6/${ip}/tcp/${await freePort(ip)}`);
  }
  const host = await createTwinHost(identity, {
    listen: [...listen, ...planetary],
    relay: o.relay,
    appendAnnounce: planetary,
  });
  const phonebook = new PhonebookClient({ url: o.phonebook });
  const addresses = () => o.announce ?? host.getMultiaddrs().map(String);
  let record = await phonebook.publish(identity, addresses());
  const mailbox = new Mailbox(mailboxPath(o.home));
  const bus = new TwinBus({ identity, twinId: record.id, host, phonebook, mailbox });
  bus.handle('ping', (payload) => payload);
  await bus.start();
  log('twin started', { twin: record.id, name: record.name, addresses: record.addresses });

  // Keep the phonebook record current when our addresses change (new listener, relay reservation).
  let publishing = Promise.resolve();
  const republish = () => {
    publishing = publishing
      .then(async () => {
        const next = addresses();
        if (next.join() !== record.addresses.join()) {
          record = await phonebook.publish(identity, next);
          log('addresses published', { addresses: record.addresses });
        }
      })
      .catch((e: Error) => log('publishing addresses failed', { error: e.message }));
  };
  host.addEventListener('self:peer:update', republish);
  const poll = setInterval(() => bus.flushOutbox(), o.outboxPollMs ?? 1000);
  poll.unref();

  return {
    identity,
    get record() {
      return record;
    },
    host,
    bus,
    mailbox,
    phonebook,
    async stop() {
      clearInterval(poll);
      host.removeEventListener('self:peer:update', republish);
      await publishing;
      await bus.stop();
      await host.stop();
      mailbox.close();
    },
  };
}
