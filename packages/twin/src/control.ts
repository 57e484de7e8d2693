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

export function controlPath(home: string): string {
  return join(home, 'twin.sock');
}

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

/** Sends one command to a running twin's control socket. */
export function controlCall(home: string, command: string, args: unknown): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const socket = connect(controlPath(home));
    socket.once('error', (e) =>
      reject(new Error(`the twin is not running (twin start --home ${home}): ${e.message}`)),
    );
    socket.once('connect', () => socket.write(`${JSON.stringify({ command, args })}\n`));
    createInterface({ input: socket }).once('line', (line) => {
      socket.end();
      resolve(JSON.parse(line));
    });
  });
}
