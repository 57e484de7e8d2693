/** Test helpers: the `twin` binary run as a user runs it, free ports. */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { freePort as freePortOn } from '@twin/twin';

export const TWIN = new URL('../bin/twin.js', import.meta.url).pathname;
const run = promisify(execFile);

/** Runs `twin ...args` to completion; never rejects: the exit code is in the result. */
export async function twin(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const r = await run(process.execPath, [TWIN, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
    return { ...r, code: 0 };
  } catch (e) {
    const err = e as { stdout: string; stderr: string; code: number };
    return { stdout: err.stdout, stderr: err.stderr, code: err.code };
  }
}

/** A free TCP port on loopback (the one implementation is the twin package's `freePort`). */
export const freePort = (): Promise<number> => freePortOn('127.0.0.1');

/** Polls `f` every 200 ms until it holds; throws naming `what` after `ms`. */
export async function until(what: string, f: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * Starts `twin node start` (a grid node agent) for the farm owned by `home`, with 1 s heartbeats;
 * resolves once it says it is up, with its node id. The caller kills it (keep `proc`).
 */
export function startNodeAgent(o: {
  home: string;
  farm: number;
  data: string;
  phonebook: string;
  capacity?: string;
  /** The process is added here as soon as it is spawned (for the test's clean-up). */
  track: ChildProcess[];
}): Promise<{ proc: ChildProcess; node: number }> {
  const proc = spawn(
    process.execPath,
    [
      TWIN,
      'node',
      'start',
      '--home',
      o.home,
      '--farm',
      String(o.farm),
      '--data',
      o.data,
      '--capacity',
      o.capacity ?? 'cpu=2,memory=4GiB,disk=1GiB',
      '--heartbeat',
      '1s',
      '--phonebook',
      o.phonebook,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  o.track.push(proc);
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    proc.stdout!.on('data', (b: Buffer) => {
      out += b;
      const m = /node (\d+) up/.exec(out);
      if (m) resolve({ proc, node: Number(m[1]) });
    });
    proc.stderr!.on('data', (b: Buffer) => {
      err += b;
    });
    proc.once('exit', (code) => reject(new Error(`node agent exited ${code}: ${err.slice(-500)}`)));
  });
}
