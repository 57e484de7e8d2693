/**
 * cgroup limits for compute workloads: cgroup v2 when this machine has a writable unified
 * hierarchy with the memory controller, else cgroup v1's `memory` and `cpu` controllers, else
 * none — and then a clear reason, published in the workload's result (never a silent no-op).
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = '/sys/fs/cgroup';
const CPU_PERIOD_US = 100_000;

export interface CgroupLimits {
  /** Cores (fractions allowed). */
  cpu: number;
  /** Bytes. */
  memory: number;
}

/** This process's path in a v1 controller's hierarchy (from /proc/self/cgroup). */
function ownPath(controller: string): string {
  for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
    const [, controllers, path] = line.split(':');
    if (controllers?.split(',').includes(controller)) return path ?? '/';
  }
  return '/';
}

function unifiedDir(): string | null {
  const controllers = join(ROOT, 'cgroup.controllers');
  if (!existsSync(controllers)) return null;
  if (!readFileSync(controllers, 'utf8').split(/\s+/).includes('memory')) return null;
  const line = readFileSync('/proc/self/cgroup', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('0::'));
  return join(ROOT, line?.slice(3) ?? '/');
}

export class Cgroup {
  private constructor(
    readonly kind: 'v1' | 'v2',
    /** Directories made (v2: one; v1: memory, then cpu when available). */
    private readonly dirs: string[],
    readonly note: string,
  ) {}

  /**
   * Creates a cgroup named `name` with `limits`; returns a reason string when this machine offers
   * no usable cgroup (not root, no memory controller, read-only hierarchy).
   */
  static create(name: string, limits: CgroupLimits): Cgroup | string {
    const memory = String(Math.floor(limits.memory));
    const quota = String(Math.max(1000, Math.round(limits.cpu * CPU_PERIOD_US)));
    const v2 = unifiedDir();
    if (v2) {
      try {
        const dir = join(v2, name);
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, 'memory.max'), memory);
        try {
          writeFileSync(join(dir, 'memory.swap.max'), '0');
        } catch {
          // no swap control
        }
        try {
          writeFileSync(join(dir, 'cpu.max'), `${quota} ${CPU_PERIOD_US}`);
          return new Cgroup('v2', [dir], 'cgroup v2: memory.max and cpu.max');
        } catch {
          return new Cgroup('v2', [dir], 'cgroup v2: memory.max (cpu controller not enabled here)');
        }
      } catch {
        // fall through to v1
      }
    }
    const memRoot = join(ROOT, 'memory');
    if (!existsSync(join(memRoot, 'cgroup.procs'))) return 'no cgroup memory controller on this machine';
    let memDir: string;
    try {
      memDir = join(memRoot, ownPath('memory'), name);
      mkdirSync(memDir, { recursive: true });
      writeFileSync(join(memDir, 'memory.limit_in_bytes'), memory);
      try {
        writeFileSync(join(memDir, 'memory.memsw.limit_in_bytes'), memory);
      } catch {
        // no swap accounting: the memory limit alone holds
      }
    } catch (e) {
      return `cgroup v1 memory controller not writable (${(e as NodeJS.ErrnoException).code}): run the node as root`;
    }
    const cpuRoot = join(ROOT, 'cpu');
    try {
      const cpuDir = join(cpuRoot, ownPath('cpu'), name);
      mkdirSync(cpuDir, { recursive: true });
      writeFileSync(join(cpuDir, 'cpu.cfs_period_us'), String(CPU_PERIOD_US));
      writeFileSync(join(cpuDir, 'cpu.cfs_quota_us'), quota);
      return new Cgroup('v1', [memDir, cpuDir], 'cgroup v1: memory.limit_in_bytes and cpu.cfs_quota_us');
    } catch {
      return new Cgroup('v1', [memDir], 'cgroup v1: memory.limit_in_bytes (cpu controller not writable)');
    }
  }

  /** Moves a process into every directory of this cgroup. */
  add(pid: number): void {
    for (const d of this.dirs) writeFileSync(join(d, 'cgroup.procs'), String(pid));
  }

  /** Times the kernel's OOM killer acted in this cgroup (v1: oom_control's oom_kill; v2: memory.events). */
  oomKills(): number {
    try {
      const file = this.kind === 'v1' ? 'memory.oom_control' : 'memory.events';
      const m = /oom_kill (\d+)/.exec(readFileSync(join(this.dirs[0]!, file), 'utf8'));
      return m ? Number(m[1]) : 0;
    } catch {
      return 0;
    }
  }

  /** Peak memory use, bytes (v1: max_usage_in_bytes; v2: memory.peak where the kernel has it). */
  memoryPeak(): number {
    try {
      const file = this.kind === 'v1' ? 'memory.max_usage_in_bytes' : 'memory.peak';
      return Number(readFileSync(join(this.dirs[0]!, file), 'utf8').trim());
    } catch {
      return 0;
    }
  }

  /** Removes the directories (their processes must have exited). */
  remove(): void {
    for (const d of [...this.dirs].reverse()) {
      try {
        rmdirSync(d);
      } catch {
        // still busy or already gone: the kernel frees it once empty on the next removal
      }
    }
  }
}
