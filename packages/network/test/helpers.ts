/**
 * What the network tests share: a phonebook on loopback in a temporary directory, started before
 * a file's tests and stopped after them, and twins booted through it (host, bus, optional
 * mailbox), each stopped after the tests if a test left it running.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { newMnemonic, TwinIdentity } from '@twin/identity';
import { PhonebookClient, type RunningPhonebook, startPhonebook } from '@twin/phonebook';
import {
  type BusLogger,
  createTwinHost,
  type InboxMessage,
  Mailbox,
  TwinBus,
  type TwinHost,
} from '../src/index.ts';

export interface BootOptions {
  /** Addresses to listen on (default: the host's). */
  listen?: string[];
  /** A mailbox: true for `<dir>/<name>/bus.sqlite`, a path for that file; none by default. */
  mailbox?: boolean | string;
  /** The twin's phonebook client (default: one of this phonebook, caching records `cacheTtlMs`). */
  phonebook?: PhonebookClient;
  /** How long the default phonebook client caches records (default 0). */
  cacheTtlMs?: number;
  maxPayload?: number;
  logger?: BusLogger;
}

export interface TestTwin {
  identity: TwinIdentity;
  id: number;
  host: TwinHost;
  bus: TwinBus;
  phonebook: PhonebookClient;
  mailbox: Mailbox | undefined;
  /** Every message the bus stored ('message' events). */
  received: InboxMessage[];
  /** Stops the bus and the host and closes the mailbox; again is a no-op. */
  stop(): Promise<void>;
}

/**
 * Registers a phonebook for this test file (started in `before`, closed in `after`, with its
 * directory) and returns how to reach it and boot twins through it.
 */
export function testNetwork(prefix: string) {
  let dir = '';
  let pb: RunningPhonebook | undefined;
  const running = new Set<TestTwin>();
  const cleanups: (() => Promise<void>)[] = [];
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
    pb = await startPhonebook({ dataDir: join(dir, 'pb'), port: 0 });
  });
  after(async () => {
    for (const t of [...running].reverse()) await t.stop();
    for (const c of cleanups.reverse()) await c();
    await pb?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const net = {
    /** The temporary directory (valid once the tests run). */
    get dir(): string {
      return dir;
    },
    /** The phonebook's URL. */
    get url(): string {
      return pb!.url;
    },
    /** Runs `cleanup` after the file's tests (before the phonebook closes). */
    onCleanup(cleanup: () => Promise<void>): void {
      cleanups.push(cleanup);
    },
    /** A libp2p host of a fresh identity that is no twin, stopped after the tests. */
    async stranger(): Promise<TwinHost> {
      const host = await createTwinHost(TwinIdentity.fromMnemonic('stranger', newMnemonic()));
      cleanups.push(async () => {
        await host.stop();
      });
      return host;
    },
    /** A twin (a fresh identity named `who`, or `who`) registered in the phonebook, its bus started. */
    async boot(who: string | TwinIdentity, o: BootOptions = {}): Promise<TestTwin> {
      const identity = typeof who === 'string' ? TwinIdentity.fromMnemonic(who, newMnemonic()) : who;
      const host = await createTwinHost(identity, { listen: o.listen });
      const phonebook = o.phonebook ?? new PhonebookClient({ url: pb!.url, cacheTtlMs: o.cacheTtlMs ?? 0 });
      const record = await phonebook.publish(identity, host.getMultiaddrs().map(String));
      const path = o.mailbox === true ? join(dir, identity.name, 'bus.sqlite') : o.mailbox || undefined;
      const mailbox = path ? new Mailbox(path) : undefined;
      const bus = new TwinBus({
        identity,
        twinId: record.id,
        host,
        phonebook,
        mailbox,
        maxPayload: o.maxPayload,
        logger: o.logger,
      });
      const received: InboxMessage[] = [];
      bus.on('message', (m) => received.push(m));
      await bus.start();
      let stopped = false;
      const twin: TestTwin = {
        identity,
        id: record.id,
        host,
        bus,
        phonebook,
        mailbox,
        received,
        async stop() {
          if (stopped) return;
          stopped = true;
          running.delete(twin);
          await bus.stop();
          await host.stop();
          if (mailbox?.db.open) mailbox.close();
        },
      };
      running.add(twin);
      return twin;
    },
    /** {@link boot} with a mailbox (`<dir>/<name>/bus.sqlite` unless `mailbox` names the file). */
    async withMailbox(
      who: string | TwinIdentity,
      o: Omit<BootOptions, 'mailbox'> & { mailbox?: string } = {},
    ): Promise<TestTwin & { mailbox: Mailbox }> {
      return (await net.boot(who, { ...o, mailbox: o.mailbox ?? true })) as TestTwin & { mailbox: Mailbox };
    },
  };
  return net;
}
