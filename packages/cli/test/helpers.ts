/** Test helpers: the `twin` binary run as a user runs it, free ports. */
import { execFile } from 'node:child_process';
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
