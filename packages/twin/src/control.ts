/**
 * The twin's local control socket (`<home>/twin.sock`, mode 0600): the twin's own CLI sends
 * `{"command", "args"}` lines and gets the command's JSON reply back, acting as the owner. Only
 * the twin's user can open the socket; commands go to the same handlers as bus requests.
 */
import { chmodSync, existsSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { TwinBus } from '@twin/network';
import { TwinError } from './errors.ts';

/** Where a running twin's control socket lives. */
export function controlPath(home: string): string {
  return join(home, 'twin.sock');
}

/**
 * Serves the control socket (mode 0600) for the owner's CLI: each line `{command, args}` is
 * answered by the bus handler of that command, as `owner`; bad lines answer `bad_request`.
 */
export async function serveControl(home: string, bus: TwinBus, owner: number): Promise<Server> {
  const path = controlPath(home);
  if (existsSync(path)) unlinkSync(path);
  const server = createServer((socket) => {
    socket.on('error', () => socket.destroy());
    createInterface({ input: socket }).on('line', (line) => {
      let request: { command?: unknown; args?: unknown };
      try {
        request = JSON.parse(line) as { command?: unknown; args?: unknown };
      } catch {
        socket.write(
          `${JSON.stringify({ ok: false, error: { code: 'bad_request', message: 'not JSON' } })}\n`,
        );
        return;
      }
      if (typeof request.command !== 'string') {
        socket.write(
          `${JSON.stringify({ ok: false, error: { code: 'bad_request', message: 'command missing' } })}\n`,
        );
        return;
      }
      bus.invoke(request.command, Buffer.from(JSON.stringify(request.args ?? {})), owner).then(
        (reply) => socket.write(`${reply.toString()}\n`),
        (e: Error & { code?: string }) =>
          socket.write(
            `${JSON.stringify({ ok: false, error: { code: e.code ?? 'bad_request', message: e.message } })}\n`,
          ),
      );
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  chmodSync(path, 0o600);
  return server;
}

/** How long the CLI waits for the running twin's reply on the control socket. */
export const CONTROL_REPLY_TIMEOUT_MS = 60_000;

/** Sends one command to a running twin's control socket. */
export function controlCall(home: string, command: string, args: unknown): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const socket = connect(controlPath(home));
    const fail = (e: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(e);
    };
    const timer = setTimeout(
      () =>
        fail(
          new TwinError(
            'bad_reply',
            `the twin at ${home} did not answer within ${CONTROL_REPLY_TIMEOUT_MS / 1000} s`,
          ),
        ),
      CONTROL_REPLY_TIMEOUT_MS,
    );
    // `on`, not `once`: a socket can emit more than one error, and an unhandled one is a crash.
    socket.on('error', (e: NodeJS.ErrnoException) =>
      fail(
        e.code === 'ENOENT' || e.code === 'ECONNREFUSED'
          ? notRunning(home)
          : new TwinError('bad_reply', `the twin at ${home} cannot be reached: ${e.code ?? e.message}`),
      ),
    );
    socket.once('connect', () => socket.write(`${JSON.stringify({ command, args })}\n`));
    const lines = createInterface({ input: socket });
    lines.on('error', () => {});
    lines.once('line', (line) => {
      clearTimeout(timer);
      socket.end();
      try {
        resolve(JSON.parse(line));
      } catch {
        reject(new TwinError('bad_reply', `the twin at ${home} answered something that is not JSON`));
      }
    });
    socket.once('close', () => fail(new TwinError('bad_reply', `the twin at ${home} closed the connection`)));
  });
}

/** The one-line error for commands that need the running twin. */
export function notRunning(home: string): TwinError {
  return new TwinError(
    'twin_not_running',
    `twin is not running at ${home}: start it with \`twin start --home ${home}\``,
  );
}
