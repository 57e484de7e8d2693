/**
 * The twin process (`twin start`): the twin's libp2p host and bus, its mailbox, and its
 * phonebook record kept current. When a Yggdrasil daemon runs on the host, the twin also listens
 * on its 200::/7 address and publishes it. It runs its own 0-db with the BCDB on it, and when
 * it has a QSS configuration, the QSS repair sweep (every repair.intervalSeconds).
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { AccessRequests, Bcdb, serveBcdb, serveOwner } from '@twin/bcdb';
import { loadIdentity, type TwinIdentity } from '@twin/identity';
import { createTwinHost, Mailbox, TwinBus, type TwinHost } from '@twin/network';
import { PhonebookClient, type TwinRecord } from '@twin/phonebook';
import { loadConfig, Qss, type RepairReport } from '@twin/qss';
import { ZdbClient, ZdbServer } from '@twin/zdb';
import { serveControl } from './control.ts';
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
  /**
   * QSS configuration file (default: `<home>/qss.json` when it exists; false: none). With one,
   * the twin keeps a Qss open and sweeps it for repair every `repair.intervalSeconds`.
   */
  qss?: string | false;
  /** Overrides the config's repair interval (ms). */
  qssRepairIntervalMs?: number;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

export interface Daemon {
  identity: TwinIdentity;
  /** The twin's own database (objects, tags, ACLs) on its embedded 0-db. */
  bcdb: Bcdb;
  record: TwinRecord;
  host: TwinHost;
  bus: TwinBus;
  mailbox: Mailbox;
  phonebook: PhonebookClient;
  /** The twin's Quantum Safe Storage, when configured. */
  qss?: Qss;
  /** The latest repair sweep's report. */
  lastRepair?: RepairReport;
  stop(): Promise<void>;
}

export function mailboxPath(home: string): string {
  return join(home, 'bus.sqlite');
}

export const BCDB_NAMESPACE = 'bcdb';

/**
 * The twin's own 0-db (loopback only, a fresh admin password per run) holding its BCDB namespace
 * (sequential mode), and the BCDB on it. Also used by `twin bcdb rebuild` while the twin is stopped.
 */
export async function openStore(
  home: string,
  owner: number,
): Promise<{ bcdb: Bcdb; port: number; close(): Promise<void> }> {
  const admin = randomBytes(16).toString('hex');
  const zdb = await ZdbServer.start({
    listen: '127.0.0.1',
    port: 0,
    data: join(home, 'zdb', 'data'),
    index: join(home, 'zdb', 'index'),
    mode: 'mix',
    admin,
    // the default namespace is read-only without the admin password
    protect: true,
  });
  const setup = new ZdbClient({ port: zdb.port, admin });
  if (!(await setup.nslist()).includes(BCDB_NAMESPACE)) {
    await setup.nsnew(BCDB_NAMESPACE);
    await setup.nsset(BCDB_NAMESPACE, 'mode', 'seq');
  }
  // Other local processes can reach the loopback port: the namespace is private, with a password
  // nobody knows (this run's BCDB connects as admin). ACLs are enforced above 0-db, not in it.
  await setup.nsset(BCDB_NAMESPACE, 'public', '0');
  await setup.nsset(BCDB_NAMESPACE, 'password', randomBytes(16).toString('hex'));
  setup.close();
  const client = new ZdbClient({ port: zdb.port, admin, namespace: BCDB_NAMESPACE, pool: 2 });
  const bcdb = await Bcdb.open({ indexPath: join(home, 'bcdb.sqlite'), zdb: client, owner });
  return {
    bcdb,
    port: zdb.port,
    async close() {
      bcdb.close();
      client.close();
      await zdb.close();
    },
  };
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
  const store = await openStore(o.home, record.id);
  serveBcdb(bus, store.bcdb, (msg, fields) => log(msg, fields));
  serveOwner(bus, store.bcdb, new AccessRequests(store.bcdb, bus));
  await bus.start();
  const control = await serveControl(o.home, bus, record.id);
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

  // Quantum Safe Storage: the repair sweep runs in the background for as long as the twin does.
  const qssFile = o.qss === false ? undefined : (o.qss ?? join(o.home, 'qss.json'));
  const qss =
    qssFile && (o.qss || existsSync(qssFile)) ? Qss.open(loadConfig(qssFile), { workers: 1 }) : undefined;
  const sweeping = new AbortController();
  let sweep: Promise<void> = Promise.resolve();
  if (qss) {
    const interval = o.qssRepairIntervalMs ?? qss.config.repair.intervalSeconds * 1000;
    sweep = qss.watch(
      interval,
      (r) => {
        daemon.lastRepair = r;
        log('qss repair sweep', { ...r, errors: r.errors.slice(0, 5) });
      },
      sweeping.signal,
    );
  }

  const daemon: Daemon = {
    identity,
    bcdb: store.bcdb,
    get record() {
      return record;
    },
    host,
    bus,
    mailbox,
    phonebook,
    qss,
    async stop() {
      clearInterval(poll);
      sweeping.abort();
      await sweep;
      await qss?.close();
      host.removeEventListener('self:peer:update', republish);
      await publishing;
      await new Promise<void>((r) => control.close(() => r()));
      await bus.stop();
      await host.stop();
      mailbox.close();
      await store.close();
    },
  };
  return daemon;
}
