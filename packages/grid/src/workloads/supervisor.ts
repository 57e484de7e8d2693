/**
 * A supervised child process: started, its output kept in a bounded log, restarted after a crash
 * with exponential backoff (RESTART_MIN_MS doubling up to RESTART_MAX_MS); after MAX_CRASHES
 * crashes in a row (each within CRASH_WINDOW_MS of its start) it stops trying and reports
 * `error` with the reason — the workload stays, visible, never deleted silently.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, renameSync, statSync } from 'node:fs';
import {
  CRASH_WINDOW_MS,
  MAX_CRASHES,
  MAX_LOG_BYTES,
  RESTART_MAX_MS,
  RESTART_MIN_MS,
  STOP_GRACE_MS,
} from '../limits.ts';
import type { Cgroup } from './cgroup.ts';

export interface SupervisorOptions {
  command: string[];
  env: Record<string, string>;
  cwd: string;
  logFile: string;
  cgroup: Cgroup | null;
  /** Called on every state change: running (ok), restarting, error. */
  onState: (state: 'ok' | 'restarting' | 'error', message: string, pid?: number) => void;
}

export class Supervisor {
  private child: ChildProcess | null = null;
  private crashes = 0;
  private startedAt = 0;
  private timer: NodeJS.Timeout | null = null;
  private stopping = false;
  private ooms = 0;
  restarts = 0;

  constructor(private readonly o: SupervisorOptions) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    this.stopping = false;
    const [cmd, ...args] = this.o.command;
    const child = spawn(cmd!, args, {
      cwd: this.o.cwd,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...this.o.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.startedAt = Date.now();
    if (child.pid !== undefined) {
      try {
        this.o.cgroup?.add(child.pid);
      } catch (e) {
        this.log(`[node] could not move pid ${child.pid} into its cgroup: ${(e as Error).message}\n`);
      }
    }
    child.stdout!.on('data', (b: Buffer) => this.log(b));
    child.stderr!.on('data', (b: Buffer) => this.log(b));
    child.once('error', (e) => this.log(`[node] spawn failed: ${e.message}\n`));
    child.once('close', (code, signal) => this.exited(code, signal));
    this.o.onState('ok', `running (pid ${child.pid})`, child.pid);
  }

  private exited(code: number | null, signal: NodeJS.Signals | null): void {
    this.child = null;
    if (this.stopping) return;
    const ran = Date.now() - this.startedAt;
    this.crashes = ran > CRASH_WINDOW_MS ? 1 : this.crashes + 1;
    const ooms = this.o.cgroup?.oomKills() ?? 0;
    const oom = ooms > this.ooms ? ', killed by the out-of-memory killer at its memory limit' : '';
    this.ooms = ooms;
    const reason = `exited with ${signal ? `signal ${signal}` : `code ${code}`}${oom}`;
    this.log(`[node] process ${reason}\n`);
    if (this.crashes >= MAX_CRASHES) {
      this.o.onState('error', `crashed ${this.crashes} times in a row, last ${reason}; not restarted`);
      return;
    }
    const delay = Math.min(RESTART_MAX_MS, RESTART_MIN_MS * 2 ** (this.crashes - 1));
    this.o.onState('restarting', `${reason}; restart ${this.crashes} in ${delay} ms`);
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.stopping) return;
      this.restarts++;
      this.start();
    }, delay);
  }

  private log(chunk: Buffer | string): void {
    try {
      if (existsSync(this.o.logFile) && statSync(this.o.logFile).size > MAX_LOG_BYTES / 2)
        renameSync(this.o.logFile, `${this.o.logFile}.1`);
      appendFileSync(this.o.logFile, chunk);
    } catch {
      // a full disk must not take the supervisor down
    }
  }

  /** The log's tail (at most MAX_LOG_BYTES). */
  logs(): string {
    const read = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8') : '');
    return (read(`${this.o.logFile}.1`) + read(this.o.logFile)).slice(-MAX_LOG_BYTES);
  }

  /** Stops the process (SIGTERM, then SIGKILL after STOP_GRACE_MS) and any pending restart. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      const kill = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      child.once('close', () => {
        clearTimeout(kill);
        resolve();
      });
      child.kill('SIGTERM');
    });
  }
}
