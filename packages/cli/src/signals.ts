/**
 * How every long-running command (`twin start`, `twin phonebook serve`, `twin demo`) ends: on
 * the first SIGINT or SIGTERM it stops its services, then exits 0; when stopping fails it prints
 * one line (`twin: could not stop cleanly: <reason> (stop_failed)`) and exits 1, never a stack
 * trace or an unhandled rejection. A second signal while stopping ends the process at once
 * (Node's default for the signal).
 */
import { CliError, oneLine } from './errors.ts';

/** The signals that stop a long-running command. */
export const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];

/**
 * Calls `stop` on the first of {@link STOP_SIGNALS}, then exits the process: 0 when `stop`
 * resolves, 1 with a one-line `stop_failed` reason on stderr when it rejects or throws.
 */
export function stopOnSignals(stop: () => Promise<void> | void): void {
  const onSignal = () => {
    for (const s of STOP_SIGNALS) process.removeListener(s, onSignal);
    Promise.resolve()
      .then(stop)
      .then(
        () => process.exit(0),
        (e: unknown) => {
          const reason = e instanceof Error ? e.message : String(e);
          console.error(
            oneLine(new CliError('stop_failed', `could not stop cleanly: ${reason}`, { cause: e })),
          );
          process.exit(1);
        },
      );
  };
  for (const s of STOP_SIGNALS) process.once(s, onSignal);
}
