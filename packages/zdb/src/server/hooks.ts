/** Runs the `--hook` program for server events, as 0-db does: `HOOK <event> <instance-id> [args...]`. */
import { spawn } from 'node:child_process';

export type HookRunner = (event: string, args: string[]) => void;

export function hookRunner(
  program: string | undefined,
  instanceId: number,
  onError: (e: Error) => void,
): HookRunner {
  if (!program) return () => {};
  return (event, args) => {
    try {
      const child = spawn(program, [event, String(instanceId), ...args], {
        stdio: 'ignore',
        detached: false,
      });
      child.on('error', onError);
    } catch (e) {
      onError(e as Error);
    }
  };
}
