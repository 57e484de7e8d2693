/**
 * The node agent (Zero-OS's role): a node is a twin of its own. It registers itself in its farm,
 * sends heartbeats, runs its own 0-db, and serves exactly the grid commands (protocol.ts) on the
 * bus — nothing that runs arbitrary code or a shell. Each deployment is verified (sender, node,
 * signatures, a pending or active contract for this node holding exactly its hash, version + 1 on
 * update, capacity) before anything is reserved or provisioned; accepted ones are stored with
 * their signed bytes, provisioned from a durable queue, and the contract accepted. The agent
 * follows the ledger (a cancelled or expired contract's workloads are removed within
 * LEDGER_FOLLOW_MS) and, on start, re-verifies and restores every active deployment.
 */
import { mkdirSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import type { TwinIdentity } from '@twin/identity';
import { createTwinHost, TwinBus, type TwinHost } from '@twin/network';
import {
  type Capacity,
  type Location,
  type NodeRecord,
  PhonebookClient,
  PhonebookError,
  signFarmGrant,
} from '@twin/phonebook';
import { pino } from 'pino';
import { type Deployment, decodeDeployment, deploymentHash, verifySignatures } from './deployment.ts';
import { GridError } from './errors.ts';
import { DEFAULT_HEARTBEAT_MS, LEDGER_FOLLOW_MS, MAX_QUEUED } from './limits.ts';
import {
  type Answer,
  COMMANDS,
  contractRequest,
  type DeploymentInfo,
  deployRequest,
  logsRequest,
  type NodeStatistics,
} from './protocol.ts';
import { NodeStore, type StoredDeployment } from './store.ts';
import { type TwinLauncher, WorkloadRuntime } from './workloads/runtime.ts';
import { type Reservation, reservationOf, type WorkloadResult } from './workloads/types.ts';
import { NodeZdb } from './workloads/zdb.ts';

export const AGENT_VERSION = '0.1.0';
/** How long stop() waits for queued jobs before stopping the workloads anyway. */
export const STOP_WAIT_MS = 10_000;

export interface NodeAgentOptions {
  /** The node's own twin identity. */
  identity: TwinIdentity;
  farm: number;
  /** The farm owner's identity, to sign the grant admitting this node (first registration only). */
  farmer?: TwinIdentity;
  dataDir: string;
  phonebook: PhonebookClient | string;
  /** What the node offers (default: this machine's cores, memory, and 100 GiB of storage). */
  capacity?: Capacity;
  location?: Location;
  /** libp2p listen addresses (default TCP on 127.0.0.1). */
  listen?: string[];
  /** Where the node's 0-db listens (default 127.0.0.1, any port). */
  zdbListen?: string;
  zdbPort?: number;
  /** IPs published in zdb results (default: the zdb listen address, or 127.0.0.1). */
  hosts?: string[];
  heartbeatMs?: number;
  followMs?: number;
  /** How to run twin instances (without one, `twin` workloads fail to provision with a reason). */
  twinLauncher?: TwinLauncher;
  log?: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
}

const DEFAULT_STORAGE = 100 * 1024 ** 3;

export function machineCapacity(): Capacity {
  return { cpu: cpus().length, memory: totalmem(), storage: DEFAULT_STORAGE };
}

const add = (a: Reservation, b: Reservation): Reservation => ({
  cpu: a.cpu + b.cpu,
  memory: a.memory + b.memory,
  storage: a.storage + b.storage,
});
const ZERO: Reservation = { cpu: 0, memory: 0, storage: 0 };

export class NodeAgent {
  readonly phonebook: PhonebookClient;
  readonly capacity: Capacity;
  private store!: NodeStore;
  private zdb!: NodeZdb;
  runtime!: WorkloadRuntime;
  private host: TwinHost | null = null;
  private bus: TwinBus | null = null;
  private record: NodeRecord | null = null;
  private twinId = 0;
  private timers: NodeJS.Timeout[] = [];
  private queue: Promise<void> = Promise.resolve();
  private queued = 0;
  /** Active deployments not yet re-verified since start (restored once verified). */
  private readonly unrestored = new Set<number>();
  private following = false;
  private readonly removing = new Set<number>();
  /** Reservations of stored deployments by contract, valid while the stored hash is the same. */
  private readonly reservations = new Map<number, { hash: string; reservation: Reservation }>();
  private readonly log: NonNullable<NodeAgentOptions['log']>;

  constructor(readonly o: NodeAgentOptions) {
    this.phonebook =
      typeof o.phonebook === 'string' ? new PhonebookClient({ url: o.phonebook }) : o.phonebook;
    this.capacity = o.capacity ?? machineCapacity();
    const p = pino({ name: 'grid-node' }, pino.destination(2));
    this.log = o.log ?? ((level, msg, fields) => p[level](fields ?? {}, msg));
  }

  get nodeId(): number {
    if (!this.record) throw new GridError('unavailable', 'the node is not registered yet');
    return this.record.id;
  }

  get node(): NodeRecord | null {
    return this.record;
  }

  get addresses(): string[] {
    return this.host ? this.host.getMultiaddrs().map(String) : [];
  }

  async start(): Promise<void> {
    mkdirSync(this.o.dataDir, { recursive: true, mode: 0o700 });
    this.store = new NodeStore(join(this.o.dataDir, 'node.sqlite'));
    const zdbListen = this.o.zdbListen ?? '127.0.0.1';
    const hosts = this.o.hosts ?? [zdbListen === '0.0.0.0' || zdbListen === '::' ? '127.0.0.1' : zdbListen];
    this.zdb = new NodeZdb(join(this.o.dataDir, 'zdb'), zdbListen, this.o.zdbPort ?? 0, () => hosts);
    await this.zdb.start();
    this.runtime = new WorkloadRuntime(
      this.o.dataDir,
      this.zdb,
      this.o.twinLauncher,
      (c, w, r) => this.setResult(c, w, r),
      () => this.record?.id ?? 0,
    );
    this.host = await createTwinHost(this.o.identity, { listen: this.o.listen });
    await this.register();
    this.bus = new TwinBus({
      identity: this.o.identity,
      twinId: this.twinId,
      host: this.host,
      phonebook: this.phonebook,
    });
    this.serve(this.bus);
    await this.bus.start();
    await this.heartbeat();
    const every = (ms: number, f: () => Promise<void>) => {
      const t = setInterval(
        () =>
          void f().catch((e) => this.log('warn', 'periodic task failed', { error: (e as Error).message })),
        ms,
      );
      t.unref();
      this.timers.push(t);
    };
    every(this.o.heartbeatMs ?? DEFAULT_HEARTBEAT_MS, () => this.heartbeat());
    for (const d of this.store.list('active')) this.unrestored.add(d.contract);
    for (const job of this.store.jobs())
      if (job.op === 'delete') this.schedule(job.id, job.contract, 'delete');
    every(this.o.followMs ?? LEDGER_FOLLOW_MS, () => this.follow());
    await this.follow().catch((e) =>
      this.log('warn', 'first ledger read failed', { error: (e as Error).message }),
    );
  }

  /** Publishes the node's twin and registers the node in its farm (once). */
  private async register(): Promise<void> {
    const me = await this.phonebook.publish(this.o.identity, this.addresses);
    this.twinId = me.id;
    const existing = (await this.phonebook.backend.nodes()).find((n) => n.twin === me.id);
    if (existing) {
      if (existing.farm !== this.o.farm)
        throw new GridError(
          'forbidden',
          `this node is registered in farm ${existing.farm}, not ${this.o.farm}`,
        );
      this.record = existing;
      return;
    }
    if (!this.o.farmer)
      throw new GridError('forbidden', `registering in farm ${this.o.farm} needs the farm owner's grant`);
    const grant = signFarmGrant(
      this.o.farmer,
      this.o.farm,
      Buffer.from(this.o.identity.signingPublicKey).toString('base64'),
    );
    const r = await this.phonebook.submitAs(this.o.identity, (t, nonce, timestamp) => ({
      kind: 'node.register',
      twin: t.id,
      nonce,
      timestamp,
      farm: this.o.farm,
      capacity: this.capacity,
      location: this.o.location ?? { country: '', city: '' },
      addresses: this.addresses.slice(0, 8),
      grant,
    }));
    this.record = (await this.phonebook.backend.nodes()).find((n) => n.id === r.node) ?? null;
    this.log('info', 'node registered', { node: r.node, farm: this.o.farm });
  }

  private async heartbeat(): Promise<void> {
    const used = this.statistics().used;
    await this.phonebook.heartbeat(this.o.identity, this.nodeId, this.o.heartbeatMs ?? DEFAULT_HEARTBEAT_MS, {
      ...used,
      cpu: Math.round(used.cpu * 1000) / 1000,
    });
  }

  private serve(bus: TwinBus): void {
    const answer =
      <T>(f: (payload: unknown, from: number) => Promise<T> | T) =>
      async (payload: Buffer, ctx: { from: number }) => {
        let out: Answer<T>;
        try {
          let json: unknown;
          try {
            json = JSON.parse(payload.toString('utf8') || 'null');
          } catch {
            throw new GridError('bad_deployment', 'request is not JSON');
          }
          out = { ok: true, value: await f(json, ctx.from) };
        } catch (e) {
          const code =
            e instanceof GridError ? e.code : e instanceof PhonebookError ? 'unavailable' : 'bad_deployment';
          const message =
            e instanceof GridError || e instanceof PhonebookError ? e.message : 'invalid request';
          out = { ok: false, code, message };
        }
        return Buffer.from(JSON.stringify(out));
      };
    bus.handle(
      COMMANDS.deploy,
      answer((p, from) => this.deploy(p, from, 'deploy')),
    );
    bus.handle(
      COMMANDS.update,
      answer((p, from) => this.deploy(p, from, 'update')),
    );
    bus.handle(
      COMMANDS.get,
      answer((p, from) => this.info(this.owned(p, from))),
    );
    bus.handle(
      COMMANDS.list,
      answer((_p, from) =>
        this.store
          .list()
          .filter((d) => d.twin === from)
          .map((d) => this.info(d)),
      ),
    );
    bus.handle(
      COMMANDS.changes,
      answer((p, from) => this.store.changes(this.owned(p, from).contract)),
    );
    bus.handle(
      COMMANDS.logs,
      answer((p, from) => {
        const { contract, workload } = parse(logsRequest, p);
        this.owned({ contract }, from);
        return { logs: this.runtime.logs(contract, workload) ?? '' };
      }),
    );
    bus.handle(
      COMMANDS.statistics,
      answer(() => this.statistics()),
    );
    bus.handle(
      COMMANDS.version,
      answer(() => ({ version: AGENT_VERSION, types: ['zdb', 'twin'] })),
    );
  }

  private owned(p: unknown, from: number): StoredDeployment {
    const { contract } = parse(contractRequest, p);
    const d = this.store.get(contract);
    if (!d) throw new GridError('not_found', `no deployment for contract ${contract} on this node`);
    if (d.twin !== from) throw new GridError('forbidden', `contract ${contract} is another twin's`);
    return d;
  }

  private info(d: StoredDeployment): DeploymentInfo {
    return {
      contract: d.contract,
      twin: d.twin,
      version: d.version,
      hash: d.hash,
      state: d.state,
      deployment: JSON.parse(d.bytes.toString('utf8')),
      results: d.results,
    };
  }

  statistics(): NodeStatistics {
    const active = this.store.list('active');
    const used = active.reduce((sum, d) => add(sum, this.reservationOf(d)), ZERO);
    return {
      node: this.nodeId,
      total: this.capacity,
      used,
      deployments: active.length,
      workloads: active.reduce((n, d) => n + Object.keys(d.results).length, 0),
    };
  }

  private reserved(d: Deployment): Reservation {
    return d.workloads.reduce((sum, w) => add(sum, reservationOf(w)), ZERO);
  }

  /** What a stored deployment reserves, decoded once per contract and hash (heartbeats and deploys ask often). */
  private reservationOf(s: StoredDeployment): Reservation {
    const cached = this.reservations.get(s.contract);
    if (cached?.hash === s.hash) return cached.reservation;
    const reservation = this.reserved(decodeDeployment(s.bytes));
    this.reservations.set(s.contract, { hash: s.hash, reservation });
    return reservation;
  }

  /**
   * Verifies a deployment against the bus sender, this node and the ledger. Throws GridError with
   * the refusal's code; returns the decoded deployment and its hash.
   */
  async verify(contract: number, bytes: Buffer, from: number): Promise<{ d: Deployment; hash: string }> {
    const d = decodeDeployment(bytes);
    if (d.twin !== from)
      throw new GridError('wrong_sender', `the deployment is twin ${d.twin}'s, sent by twin ${from}`);
    if (d.node !== this.nodeId)
      throw new GridError('wrong_node', `the deployment is for node ${d.node}, this is node ${this.nodeId}`);
    const owner = await this.phonebook.twin(d.twin, true);
    const verified = await this.phonebook.contract(contract);
    if (!verified) throw new GridError('no_contract', `there is no contract ${contract}`);
    const c = verified.contract;
    if (c.node !== this.nodeId)
      throw new GridError('wrong_node', `contract ${contract} is for node ${c.node}`);
    if (
      c.twin !== d.twin ||
      verified.creatorKey !== owner.signingKey ||
      verified.hashKey !== owner.signingKey
    )
      throw new GridError('no_contract', `contract ${contract} is not twin ${d.twin}'s`);
    if (c.state !== 'pending' && c.state !== 'active')
      throw new GridError('no_contract', `contract ${contract} is ${c.state}`);
    const hash = deploymentHash(d);
    if (c.deploymentHash !== hash)
      throw new GridError(
        'hash_mismatch',
        `contract ${contract} holds hash ${c.deploymentHash.slice(0, 12)}…, the deployment's is ${hash.slice(0, 12)}…`,
      );
    await verifySignatures(
      d,
      async (twin) => {
        if (twin === owner.id) return owner.signingKey; // fetched fresh above
        try {
          return (await this.phonebook.twin(twin, true)).signingKey;
        } catch (e) {
          if (e instanceof PhonebookError && e.code === 'not_found') return null;
          throw e;
        }
      },
      hash,
    );
    return { d, hash };
  }

  private async deploy(
    p: unknown,
    from: number,
    op: 'deploy' | 'update',
  ): Promise<{ contract: number; version: number; hash: string }> {
    const req = parse(deployRequest, p);
    const bytes = Buffer.from(req.deployment, 'base64');
    const { d, hash } = await this.verify(req.contract, bytes, from);
    // From here on everything is synchronous: no other request interleaves between the checks
    // and the reservation.
    const current = this.store.get(req.contract);
    const live = current?.state === 'active' ? current : null;
    if (op === 'deploy') {
      if (live?.hash === hash) return { contract: req.contract, version: live.version, hash };
      if (live) throw new GridError('exists', `contract ${req.contract} already has a deployment: update it`);
    } else {
      if (!live) throw new GridError('not_found', `no deployment for contract ${req.contract} to update`);
      if (d.version !== live.version + 1)
        throw new GridError(
          'bad_version',
          `version ${d.version} refused: the deployment is at ${live.version}, an update is ${live.version + 1}`,
        );
    }
    const others = this.store
      .list('active')
      .filter((s) => s.contract !== req.contract)
      .reduce((sum, s) => add(sum, this.reservationOf(s)), ZERO);
    const want = this.reserved(d);
    const total = add(others, want);
    for (const k of ['cpu', 'memory', 'storage'] as const)
      if (total[k] > this.capacity[k])
        throw new GridError(
          'over_capacity',
          `not enough ${k}: asked ${want[k]}, free ${Math.max(0, this.capacity[k] - others[k])} of ${this.capacity[k]}`,
        );
    if (this.queued >= MAX_QUEUED)
      throw new GridError('busy', 'the node has too many deployments waiting: retry later');
    const now = Date.now();
    const results: Record<string, WorkloadResult> = {};
    const before = live ? decodeDeployment(live.bytes) : null;
    for (const w of d.workloads) {
      const same = before?.workloads.find(
        (b) => b.name === w.name && b.type === w.type && sameData(b.data, w.data),
      );
      results[w.name] =
        same && live?.results[w.name]
          ? live.results[w.name]!
          : { state: 'init', message: 'queued', data: {}, created: now };
    }
    this.store.put({
      contract: req.contract,
      twin: d.twin,
      version: d.version,
      hash,
      bytes,
      state: 'active',
      results,
      updated: now,
    });
    const job = this.store.enqueue(req.contract, op, live?.bytes ?? null);
    this.schedule(job, req.contract, op, before);
    return { contract: req.contract, version: d.version, hash };
  }

  /** Runs a job after the ones before it (one at a time, in order). */
  private schedule(
    job: number,
    contract: number,
    op: 'deploy' | 'update' | 'delete' | 'restore',
    before: Deployment | null = null,
  ): void {
    this.queued++;
    this.queue = this.queue
      .then(() => this.run(contract, op, before))
      .catch((e) => this.log('error', 'job failed', { contract, op, error: (e as Error).message }))
      .finally(() => {
        this.queued--;
        if (job > 0) this.store.done(job);
      });
  }

  private async run(
    contract: number,
    op: 'deploy' | 'update' | 'delete' | 'restore',
    before: Deployment | null,
  ): Promise<void> {
    const stored = this.store.get(contract);
    if (!stored) return;
    if (op === 'delete') {
      for (const w of decodeDeployment(stored.bytes).workloads) {
        await this.runtime.remove(contract, w);
        this.setResult(contract, w.name, { state: 'deleted', message: 'contract ended', data: {} });
      }
      this.store.setState(contract, 'deleted');
      return;
    }
    if (stored.state !== 'active') return;
    const d = decodeDeployment(stored.bytes);
    // workloads gone from (or changed in) the new version are removed first
    for (const w of before?.workloads ?? []) {
      const kept = d.workloads.find((n) => n.name === w.name && n.type === w.type);
      if (!kept) await this.runtime.remove(contract, w);
    }
    let failed = false;
    for (const w of d.workloads) {
      const prior = before?.workloads.find((b) => b.name === w.name && b.type === w.type);
      const unchanged = prior && sameData(prior.data, w.data) && stored.results[w.name]?.state === 'ok';
      if (unchanged && op !== 'restore') continue;
      try {
        const data = await this.runtime.provision(contract, w);
        this.setResult(contract, w.name, {
          state: 'ok',
          message: op === 'restore' ? 'restored' : 'provisioned',
          data,
        });
      } catch (e) {
        failed = true;
        this.setResult(contract, w.name, { state: 'error', message: (e as Error).message, data: {} });
      }
    }
    if (op === 'deploy' && failed) {
      // Nothing half-provisioned stays: remove it, and cancel the contract this node never accepted.
      for (const w of d.workloads) await this.runtime.remove(contract, w).catch(() => {});
      this.store.setState(contract, 'deleted');
      await this.cancelPending(contract);
      return;
    }
    await this.acceptIfPending(contract, stored.hash);
  }

  private async acceptIfPending(contract: number, hash: string): Promise<void> {
    const v = await this.phonebook.contract(contract);
    if (v?.contract.state !== 'pending' || v.contract.deploymentHash !== hash) return;
    await this.phonebook.submitAs(this.o.identity, (t, nonce, timestamp) => ({
      kind: 'contract.accept',
      twin: t.id,
      nonce,
      timestamp,
      contract,
      deploymentHash: hash,
    }));
  }

  private async cancelPending(contract: number): Promise<void> {
    await this.phonebook
      .submitAs(this.o.identity, (t, nonce, timestamp) => ({
        kind: 'contract.cancel',
        twin: t.id,
        nonce,
        timestamp,
        contract,
      }))
      .catch((e) =>
        this.log('warn', 'could not cancel a contract it could not provision', {
          contract,
          error: (e as Error).message,
        }),
      );
  }

  private setResult(contract: number, workload: string, r: Omit<WorkloadResult, 'created'>): void {
    if (this.store.get(contract)?.state === 'deleted' && r.state !== 'deleted') return;
    this.store.setResult(contract, workload, { ...r, created: Date.now() });
  }

  /**
   * Follows the ledger: restores what is unrestored once re-verified, removes deployments whose
   * contract was cancelled or expired (confirmed from a verified proof, not the listing alone),
   * and accepts provisioned contracts still pending (an earlier acceptance that failed).
   */
  private async follow(): Promise<void> {
    if (this.following) return;
    this.following = true;
    try {
      const listed = new Map(
        (await this.phonebook.backend.contracts({ node: this.nodeId })).map((c) => [c.id, c]),
      );
      for (const d of this.store.list('active')) {
        const seen = listed.get(d.contract);
        const ended =
          !seen || seen.state === 'cancelled' || seen.state === 'expired' || seen.deploymentHash !== d.hash;
        if (this.unrestored.has(d.contract)) {
          this.unrestored.delete(d.contract);
          try {
            await this.verify(d.contract, d.bytes, d.twin);
            this.schedule(0, d.contract, 'restore');
          } catch (e) {
            if (e instanceof PhonebookError && e.code === 'unavailable') {
              this.unrestored.add(d.contract);
              continue;
            }
            this.log('warn', 'a stored deployment no longer verifies: removing it', {
              contract: d.contract,
              error: (e as Error).message,
            });
            this.remove(d.contract);
          }
          continue;
        }
        if (ended) {
          const v = await this.phonebook.contract(d.contract);
          const state = v?.contract.state;
          if (!v || state === 'cancelled' || state === 'expired') {
            this.log('info', 'contract ended: removing its workloads', { contract: d.contract, state });
            this.remove(d.contract);
          }
        } else if (seen.state === 'pending' && Object.values(d.results).every((r) => r.state === 'ok')) {
          await this.acceptIfPending(d.contract, d.hash);
        }
      }
    } finally {
      this.following = false;
    }
  }

  /** Queues a deployment's removal once (durably). */
  private remove(contract: number): void {
    if (this.removing.has(contract)) return;
    this.removing.add(contract);
    this.schedule(this.store.enqueue(contract, 'delete', null), contract, 'delete');
  }

  /** Waits for the provisioning queue to drain (tests, shutdown). */
  async idle(): Promise<void> {
    let q: Promise<void>;
    do {
      q = this.queue;
      await q;
    } while (q !== this.queue);
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.bus?.stop();
    // a job stuck on an unreachable phonebook must not keep the processes running
    await Promise.race([this.idle(), new Promise((r) => setTimeout(r, STOP_WAIT_MS).unref())]);
    await this.runtime?.stop();
    await this.host?.stop();
    await this.zdb?.stop();
    this.store?.close();
  }
}

function parse<T>(
  schema: {
    safeParse(
      v: unknown,
    ): { success: true; data: T } | { success: false; error: { issues: { message: string }[] } };
  },
  v: unknown,
): T {
  const r = schema.safeParse(v);
  if (!r.success)
    throw new GridError('bad_deployment', `invalid request: ${r.error.issues[0]?.message ?? 'shape'}`);
  return r.data;
}

function sameData(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
