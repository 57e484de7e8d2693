/**
 * A zdb server as a child process of this one (tests, benchmarks, and whoever runs zdb beside
 * itself): spawned from this package's binary, ready once it logs the port it listens on.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { ZdbError } from './client/errors.ts';

export const ZDB_BIN = new URL('../bin/zdb.js', import.meta.url).pathname;

export interface ZdbProcessOptions {
  /** Port to listen on (default 0: any free port, read from the server's ready line). */
  port?: number;
  /** Flags for node itself (e.g. --cpu-prof), before the script. */
  nodeArgs?: string[];
  /** Give up (and kill it) when it is not ready by then (default 15 s). */
  timeoutMs?: number;
}

/**
 * Spawns `zdb --port PORT ...args` and resolves with the process and its port once it is ready.
 * @throws ZdbError `not_ready` with what it printed, when it exits (or is not ready in time) first.
 */
export function spawnZdb(
  args: string[],
  options: ZdbProcessOptions = {},
): Promise<{ proc: ChildProcess; port: number }> {
  const proc = spawn(
    process.execPath,
    [...(options.nodeArgs ?? []), ZDB_BIN, '--port', String(options.port ?? 0), ...args],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  return new Promise((resolve, reject) => {
    let err = '';
    const done = () => {
      clearTimeout(timer);
      proc.stderr!.off('data', onData);
      proc.off('exit', onExit);
      proc.stderr!.resume(); // keep draining what it logs later
    };
    const onData = (chunk: Buffer) => {
      err += chunk.toString();
      const port = /"port":(\d+)/.exec(err)?.[1];
      if (!port) return;
      done();
      resolve({ proc, port: Number(port) });
    };
    const onExit = (code: number | null, signal: string | null) => {
      done();
      reject(
        new ZdbError('not_ready', `zdb exited (${signal ?? code}) before it was ready: ${err}`, {
          kind: 'connection',
        }),
      );
    };
    const timer = setTimeout(() => {
      done();
      proc.kill('SIGKILL');
      reject(
        new ZdbError('not_ready', `zdb was not ready within ${options.timeoutMs ?? 15_000} ms: ${err}`, {
          kind: 'timeout',
        }),
      );
    }, options.timeoutMs ?? 15_000);
    proc.stderr!.on('data', onData);
    proc.once('exit', onExit);
  });
}
