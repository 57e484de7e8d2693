import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newMnemonic, TwinIdentity } from '@twin/identity';
import { createTwinHost, TwinBus, type TwinHost } from '@twin/network';
import { PhonebookClient, type RunningPhonebook, startPhonebook, UNLIMITED } from '@twin/phonebook';
import { GridClient, NodeAgent, type NodeAgentOptions } from '../src/index.ts';

export const GiB = 1024 ** 3;
export const MiB = 1024 ** 2;

export class World {
  readonly dirs: string[] = [];
  readonly agents: NodeAgent[] = [];
  readonly hosts: TwinHost[] = [];
  readonly buses: TwinBus[] = [];
  pb!: RunningPhonebook;
  client!: PhonebookClient;

  dir(prefix = 'grid-'): string {
    const d = mkdtempSync(join(tmpdir(), prefix));
    this.dirs.push(d);
    return d;
  }

  async start(): Promise<this> {
    this.pb = await startPhonebook({
      dataDir: this.dir('grid-pb-'),
      port: 0,
      limits: { perClient: UNLIMITED, perTwin: UNLIMITED },
    });
    this.client = new PhonebookClient({ url: this.pb.url, serverKey: this.pb.service.serverKey });
    return this;
  }

  twin(name: string): TwinIdentity {
    return TwinIdentity.fromMnemonic(name, newMnemonic());
  }

  async farm(owner: TwinIdentity, name: string): Promise<number> {
    await this.client.publish(owner);
    const r = await this.client.submitAs(owner, (me, nonce, timestamp) => ({
      kind: 'farm.create',
      twin: me.id,
      nonce,
      timestamp,
      name,
    }));
    return r.farm!;
  }

  async node(o: Partial<NodeAgentOptions> & { farm: number; farmer: TwinIdentity }): Promise<NodeAgent> {
    const agent = new NodeAgent({
      identity: o.identity ?? this.twin(`node-${this.agents.length + 1}-${Date.now() % 100000}`),
      dataDir: o.dataDir ?? this.dir('grid-node-'),
      phonebook: new PhonebookClient({ url: this.pb.url, serverKey: this.pb.service.serverKey }),
      heartbeatMs: 1000,
      followMs: 200,
      capacity: { cpu: 4, memory: 8 * GiB, storage: 10 * GiB },
      log: () => {},
      ...o,
    });
    await agent.start();
    this.agents.push(agent);
    return agent;
  }

  /** A user twin with a bus and a grid client. */
  async user(name: string): Promise<{ identity: TwinIdentity; id: number; grid: GridClient; bus: TwinBus }> {
    const identity = this.twin(name);
    const record = await this.client.publish(identity);
    const host = await createTwinHost(identity);
    const phonebook = new PhonebookClient({ url: this.pb.url, serverKey: this.pb.service.serverKey });
    const bus = new TwinBus({ identity, twinId: record.id, host, phonebook, logger: silent });
    await bus.start();
    await phonebook.publish(identity, host.getMultiaddrs().map(String));
    this.hosts.push(host);
    this.buses.push(bus);
    return {
      identity,
      id: record.id,
      bus,
      grid: new GridClient({ identity, twin: record.id, bus, phonebook }),
    };
  }

  async stop(): Promise<void> {
    for (const b of this.buses) await b.stop().catch(() => {});
    for (const h of this.hosts) await Promise.resolve(h.stop()).catch(() => {});
    for (const a of this.agents) await a.stop().catch(() => {});
    if (this.pb) await this.pb.close().catch(() => {});
    for (const d of this.dirs) rmSync(d, { recursive: true, force: true });
  }
}

const noop = () => {};
export const silent = { info: noop, warn: noop, error: noop, debug: noop } as never;

export async function until(
  what: string,
  f: () => boolean | Promise<boolean>,
  timeoutMs = 20_000,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await f())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
