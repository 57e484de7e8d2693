/**
 * Provisions and removes workloads on this node: zdb namespaces on the node's 0-db, and twin
 * instances as supervised processes in their own cgroup. Every operation is idempotent, so a
 * durable job run twice (after a crash) or a restore after a restart lands in the same place.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Workload } from '../deployment.ts';
import { GridError } from '../errors.ts';
import { Cgroup } from './cgroup.ts';
import { Supervisor } from './supervisor.ts';
import { type TwinData, twinData, type WorkloadResult, type ZdbData } from './types.ts';
import type { NodeZdb } from './zdb.ts';

/** How a node runs a twin instance: its argv for a home directory (the CLI supplies its own `twin start`). */
export interface TwinLauncher {
  /** Prepares the instance's home once (e.g. `twin init`); called when the home is new. */
  prepare?(home: string, data: TwinData): Promise<void>;
  command(home: string, data: TwinData): string[];
}

type Report = (contract: number, workload: string, result: Omit<WorkloadResult, 'created'>) => void;

interface Running {
  supervisor: Supervisor;
  cgroup: Cgroup | null;
}

export class WorkloadRuntime {
  private readonly compute = new Map<string, Running>();

  constructor(
    private readonly dataDir: string,
    private readonly zdb: NodeZdb,
    private readonly launcher: TwinLauncher | undefined,
    private readonly report: Report,
    private readonly nodeId: () => number,
  ) {}

  static namespace(contract: number, name: string): string {
    return `c${contract}-${name}`;
  }

  private dir(contract: number, name: string): string {
    return join(this.dataDir, 'workloads', `c${contract}-${name}`);
  }

  /** Provisions `w` for `contract`; returns its result data, throws GridError provision_failed. */
  async provision(contract: number, w: Workload): Promise<Record<string, unknown>> {
    if (w.type === 'zdb') {
      const r = await this.zdb.provision(WorkloadRuntime.namespace(contract, w.name), w.data as ZdbData);
      return { ...r };
    }
    return this.startTwin(contract, w.name, twinData.parse(w.data));
  }

  private async startTwin(contract: number, name: string, data: TwinData): Promise<Record<string, unknown>> {
    const key = `${contract}/${name}`;
    await this.stopTwin(contract, name);
    if (!this.launcher)
      throw new GridError('provision_failed', 'this node is not configured to run twin instances');
    const dir = this.dir(contract, name);
    const home = join(dir, 'home');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const fresh = !existsSync(home);
    if (fresh) {
      mkdirSync(home, { recursive: true, mode: 0o700 });
      try {
        await this.launcher.prepare?.(home, data);
      } catch (e) {
        rmSync(home, { recursive: true, force: true });
        throw new GridError('provision_failed', `twin ${data.name}: ${(e as Error).message}`);
      }
    }
    const made = Cgroup.create(`twin-grid-n${this.nodeId()}-c${contract}-${name}`, data);
    const cgroup = typeof made === 'string' ? null : made;
    const limits = typeof made === 'string' ? `no limits enforced: ${made}` : made.note;
    const supervisor = new Supervisor({
      command: this.launcher.command(home, data),
      env: data.env,
      cwd: dir,
      logFile: join(dir, 'output.log'),
      cgroup,
      onState: (state, message, pid) =>
        this.report(contract, name, {
          state: state === 'ok' ? 'ok' : state === 'error' ? 'error' : 'init',
          message,
          data: {
            name: data.name,
            pid: pid ?? null,
            limits,
            network: 'host network (no namespace of its own yet)',
          },
        }),
    });
    this.compute.set(key, { supervisor, cgroup });
    supervisor.start();
    return {
      name: data.name,
      pid: supervisor.pid ?? null,
      limits,
      network: 'host network (no namespace of its own yet)',
    };
  }

  private async stopTwin(contract: number, name: string): Promise<void> {
    const key = `${contract}/${name}`;
    const running = this.compute.get(key);
    if (!running) return;
    this.compute.delete(key);
    await running.supervisor.stop();
    running.cgroup?.remove();
  }

  /** Removes a workload and its data. */
  async remove(contract: number, w: Pick<Workload, 'name' | 'type'>): Promise<void> {
    if (w.type === 'zdb') await this.zdb.remove(WorkloadRuntime.namespace(contract, w.name));
    else {
      await this.stopTwin(contract, w.name);
      rmSync(this.dir(contract, w.name), { recursive: true, force: true });
    }
  }

  logs(contract: number, name: string): string | null {
    return this.compute.get(`${contract}/${name}`)?.supervisor.logs() ?? null;
  }

  /** A running compute workload's pid and cgroup (tests, statistics). */
  process(contract: number, name: string): { pid?: number; restarts: number; cgroup: Cgroup | null } | null {
    const r = this.compute.get(`${contract}/${name}`);
    return r ? { pid: r.supervisor.pid, restarts: r.supervisor.restarts, cgroup: r.cgroup } : null;
  }

  /** Stops every compute process (the agent stopping; workloads stay, restored on start). */
  async stop(): Promise<void> {
    await Promise.all(
      [...this.compute.values()].map(async (r) => {
        await r.supervisor.stop();
        r.cgroup?.remove();
      }),
    );
    this.compute.clear();
  }
}
