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
import { PhonebookClient, PhonebookError, type TwinRecord } from '@twin/phonebook';
import { loadConfig, Qss, type RepairReport } from '@twin/qss';
import { ZdbClient, ZdbServer } from '@twin/zdb';
import { type ApiServer, startApi } from './api/server.ts';
import type { StorageSource } from './api/storage.ts';
import { serveControl } from './control.ts';
import { type Experiences, openExperiences } from './experiences/index.ts';
import { HomeLock, prepareHome } from './home.ts';
import { compareWithPeer, serveCheckpoint, WITNESS_INTERVAL_MS } from './witness.ts';
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
  /** How often the phonebook record is checked against the addresses (default RECORD_CHECK_INTERVAL_MS). */
  recordCheckMs?: number;
  /** How often the phonebook checkpoint is compared with a contact's (default WITNESS_INTERVAL_MS). */
  witnessMs?: number;
  /** Overrides the config's repair interval (ms). */
  qssRepairIntervalMs?: number;
  /** The local HTTP + WebSocket API (default: on loopback, DEFAULT_API_PORT); false: none. */
  api?: { port?: number } | false;
  /** The web app's build folder served by the API (default: the built packages/web); false: none. */
  web?: string | false;
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
  /** Contacts, profile and chat. */
  experiences: Experiences;
  /** The local API, unless disabled. */
  api?: ApiServer;
  stop(): Promise<void>;
}

/** Where a twin's bus mailbox (outbox, inbox, replay state) lives in its home. */
export function mailboxPath(home: string): string {
  return join(home, 'bus.sqlite');
}

/** The embedded 0-db namespace holding the twin's BCDB records. */
export const BCDB_NAMESPACE = 'bcdb';
/** The embedded 0-db namespace holding file chunks when the twin has no QSS (user keys). */
export const FILES_NAMESPACE = 'files';

/** The twin's BCDB store: the index, its 0-db (and the client the BCDB reads and writes with). */
export interface Store {
  bcdb: Bcdb;
  port: number;
  /** The BCDB's connection: SELECTed into its namespace with the namespace password, not admin. */
  zdb: ZdbClient;
  /** The files namespace's connection (user keys: `<blob>:<chunk>`), same password scheme. */
  files: ZdbClient;
  close(): Promise<void>;
}

/**
 * The twin's own 0-db (loopback only, a fresh admin password per run) holding its BCDB namespace
 * (sequential mode), and the BCDB on it. The caller holds the home's lock (HomeLock).
 */
export async function openStore(home: string, owner: number): Promise<Store> {
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
  // Other local processes can reach the loopback port: the namespace is private, with a fresh
  // password per run that only this process knows. The admin connection only sets it up; the
  // BCDB SELECTs its namespace with that password like any client (0-db v2 asks the admin for the
  // password too). ACLs are enforced above 0-db, not in it.
  const password = randomBytes(16).toString('hex');
  const setup = new ZdbClient({ port: zdb.port, admin });
  try {
    if (!(await setup.nslist()).includes(BCDB_NAMESPACE)) {
      await setup.nsnew(BCDB_NAMESPACE);
      await setup.nsset(BCDB_NAMESPACE, 'mode', 'seq');
    }
    await setup.nsset(BCDB_NAMESPACE, 'public', '0');
    await setup.nsset(BCDB_NAMESPACE, 'password', password);
    if (!(await setup.nslist()).includes(FILES_NAMESPACE)) {
      await setup.nsnew(FILES_NAMESPACE);
      await setup.nsset(FILES_NAMESPACE, 'mode', 'user');
    }
    await setup.nsset(FILES_NAMESPACE, 'public', '0');
    await setup.nsset(FILES_NAMESPACE, 'password', password);
  } finally {
    setup.close();
  }
  const client = new ZdbClient({ port: zdb.port, namespace: BCDB_NAMESPACE, password, pool: 2 });
  const files = new ZdbClient({ port: zdb.port, namespace: FILES_NAMESPACE, password, pool: 2 });
  let bcdb: Bcdb;
  try {
    bcdb = await Bcdb.open({ indexPath: join(home, 'bcdb.sqlite'), zdb: client, owner });
  } catch (e) {
    client.close();
    files.close();
    await zdb.close();
    throw e;
  }
  return {
    bcdb,
    port: zdb.port,
    zdb: client,
    files,
    async close() {
      bcdb.close();
      client.close();
      files.close();
      await zdb.close();
    },
  };
}

/**
 * `twin bcdb rebuild`: recreates the SQLite index from 0-db alone, with the twin stopped (it takes
 * the home's lock, so a running twin makes it refuse, and a start waits for nothing: it refuses).
 * Needs no phonebook: no caller is checked while rebuilding, so the owner id does not matter.
 */
export async function rebuildStore(home: string): Promise<{ records: number; ms: number }> {
  const dir = prepareHome(home);
  const lock = HomeLock.acquire(dir, 'rebuilding its BCDB index');
  try {
    const store = await openStore(dir, 0);
    try {
      const t0 = performance.now();
      const records = await store.bcdb.rebuild();
      return { records, ms: Math.round(performance.now() - t0) };
    } finally {
      await store.close();
    }
  } finally {
    lock.release();
  }
}

/** How often a running twin checks that its phonebook record still lists the addresses it listens on. */
export const RECORD_CHECK_INTERVAL_MS = 60_000;

/**
 * Starts the twin (`twin start`): locks the home, opens its BCDB, starts its host and bus,
 * publishes and keeps its phonebook record current, serves bcdb.* and the control socket, runs
 * the QSS repair sweep when configured; `stop()` stops it all in reverse order. Throws
 * TwinError (`twin_running`, `home_invalid`, `home_insecure`), IdentityError (keystore,
 * passphrase), PhonebookError (publishing) or NetworkError (listening).
 */
export async function startDaemon(o: DaemonOptions): Promise<Daemon> {
  const log = o.log ?? (() => {});
  const home = prepareHome(o.home);
  // Before anything is published: a second `twin start` must not announce its addresses.
  const lock = HomeLock.acquire(home, 'starting it again');
  // What is started so far, stopped in reverse order if the start fails half-way.
  const started: (() => unknown)[] = [() => lock.release()];
  const undo = async () => {
    for (const stop of started.reverse()) await stop();
  };
  try {
    return await run(o, home, log, lock, started);
  } catch (e) {
    await undo();
    throw e;
  }
}

async function run(
  o: DaemonOptions,
  home: string,
  log: NonNullable<DaemonOptions['log']>,
  lock: HomeLock,
  started: (() => unknown)[],
): Promise<Daemon> {
  const identity = loadIdentity(home, o.passphrase);
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
  started.push(() => host.stop());
  const phonebook = new PhonebookClient({ url: o.phonebook });
  const addresses = () => o.announce ?? host.getMultiaddrs().map(String);
  let record = await phonebook.publish(identity, addresses());
  const mailbox = new Mailbox(mailboxPath(home));
  started.push(() => mailbox.close());
  const bus = new TwinBus({ identity, twinId: record.id, host, phonebook, mailbox });
  bus.handle('ping', (payload) => payload);
  serveCheckpoint(bus, phonebook);
  const store = await openStore(home, record.id);
  started.push(() => store.close());
  // the Qss is opened further down; files written before it is are kept in the 0-db
  let daemon: Daemon | undefined;
  serveBcdb(bus, store.bcdb, (msg, fields) => log(msg, fields));
  serveOwner(bus, store.bcdb, new AccessRequests(store.bcdb, bus), (msg, fields) => log(msg, fields));
  // Before the bus starts: no experience message may arrive unhandled.
  const experiences = openExperiences({
    home,
    identity,
    self: record.id,
    name: record.name,
    bus,
    mailbox,
    bcdb: store.bcdb,
    files: store.files,
    qss: () => daemon?.qss,
    log,
  });
  started.push(() => experiences.close());
  await bus.start();
  started.push(() => bus.stop());
  await experiences.resume();
  // QSS opens later: the storage route reads what the daemon holds when it is asked.
  let storage: StorageSource = {};
  const api =
    o.api === false
      ? undefined
      : await startApi({ home, port: o.api?.port, experiences, log, web: o.web, storage: () => storage });
  if (api) started.push(() => api.close());
  const control = await serveControl(home, bus, record.id);
  started.push(() => new Promise<void>((r) => control.close(() => r())));
  log('twin started', {
    twin: record.id,
    name: record.name,
    addresses: record.addresses,
    ...(api ? { api: `http://127.0.0.1:${api.port}` } : {}),
  });

  // Keep the phonebook record current: when our addresses change (new listener, relay
  // reservation), and every RECORD_CHECK_INTERVAL_MS against what the phonebook holds, since
  // another process with this twin's keys (`twin phonebook register`) may have replaced it.
  // publish() reads the verified record and writes only when it differs.
  let publishing = Promise.resolve();
  let retry: NodeJS.Timeout | undefined;
  const republish = () => {
    publishing = publishing
      .then(async () => {
        const next = await phonebook.publish(identity, addresses());
        if (next.addresses.join() !== record.addresses.join() || next.updated !== record.updated)
          log('addresses published', { addresses: next.addresses });
        record = next;
      })
      .catch((e: Error) => {
        log('publishing addresses failed', { error: e.message });
        // Throttled: try again once the phonebook says a write will be accepted.
        const wait = e instanceof PhonebookError ? e.retryAfterMs : undefined;
        if (wait !== undefined) {
          clearTimeout(retry);
          retry = setTimeout(republish, wait + 100).unref();
        }
      });
  };
  host.addEventListener('self:peer:update', republish);
  const recordCheck = setInterval(republish, o.recordCheckMs ?? RECORD_CHECK_INTERVAL_MS);
  recordCheck.unref();
  const poll = setInterval(() => bus.flushOutbox(), o.outboxPollMs ?? 1000);
  poll.unref();
  // Compare the phonebook's checkpoint with one contact's, in turn (see witness.ts).
  let witnessed = 0;
  const witness = setInterval(() => {
    const contacts = experiences.contacts.list();
    if (contacts.length === 0) return;
    const peer = contacts[witnessed++ % contacts.length]!.twin;
    compareWithPeer(bus, phonebook, peer).then(
      (r) => {
        if (r.result === 'two_histories')
          log('the phonebook showed this twin and a contact two histories', { peer, reason: r.message });
      },
      () => {}, // the contact is offline: another one next time
    );
  }, o.witnessMs ?? WITNESS_INTERVAL_MS);
  witness.unref();
  started.push(() => {
    clearInterval(poll);
    clearInterval(witness);
    clearInterval(recordCheck);
    clearTimeout(retry);
    host.removeEventListener('self:peer:update', republish);
  });

  // Quantum Safe Storage: the repair sweep runs in the background for as long as the twin does.
  const qssFile = o.qss === false ? undefined : (o.qss ?? join(home, 'qss.json'));
  const qss =
    qssFile && (o.qss || existsSync(qssFile)) ? Qss.open(loadConfig(qssFile), { workers: 1 }) : undefined;
  storage = { qss };
  const sweeping = new AbortController();
  let sweep: Promise<void> = Promise.resolve();
  if (qss) {
    const interval = o.qssRepairIntervalMs ?? qss.config.repair.intervalSeconds * 1000;
    sweep = qss.watch(
      interval,
      (r) => {
        if (daemon) daemon.lastRepair = r;
        storage = { qss, lastRepair: { at: Date.now(), report: r } };
        log('qss repair sweep', { ...r, errors: r.errors.slice(0, 5) });
      },
      sweeping.signal,
    );
  }

  daemon = {
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
    experiences,
    api,
    async stop() {
      await api?.close();
      clearInterval(poll);
      clearInterval(recordCheck);
      clearTimeout(retry);
      sweeping.abort();
      await sweep;
      await qss?.close();
      host.removeEventListener('self:peer:update', republish);
      await publishing;
      await new Promise<void>((r) => control.close(() => r()));
      await bus.stop();
      await host.stop();
      await experiences.close();
      mailbox.close();
      await store.close();
      lock.release();
    },
  };
  return daemon;
}
