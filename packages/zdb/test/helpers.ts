/** Test helpers: temp dirs, free ports, raw RESP exchanges, zdb child processes. */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnZdb } from '../src/process.ts';
import { type Reply, ReplyError, ReplyParser, Status } from '../src/resp/replies.ts';
import { ZdbServer, type ZdbServerOptions } from '../src/server/server.ts';

export const ADMIN = 'admin-secret';

/** A server in this process on a fresh temp dir (admin password ADMIN), and how to stop it. */
export async function startServer(extra: Partial<ZdbServerOptions> = {}) {
  const dir = tempDir('zdb-server-');
  const server = await ZdbServer.start({
    port: 0,
    data: join(dir.path, 'data'),
    index: join(dir.path, 'index'),
    admin: ADMIN,
    ...extra,
  });
  return {
    server,
    port: server.port,
    dir: dir.path,
    stop: async () => {
      await server.close();
      dir.cleanup();
    },
  };
}

/** A reply as text: `+status`, `-error`, or the value itself. */
export const text = (r: Reply): unknown =>
  r instanceof ReplyError
    ? `-${r.message}`
    : r instanceof Status
      ? `+${r.value}`
      : Buffer.isBuffer(r)
        ? r.toString()
        : r;

export function tempDir(prefix: string): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/**
 * Writes `chunks` (each written separately, `gapMs` apart) on a fresh connection and collects
 * `expected` replies; resolves early with what came if the server closes the connection.
 */
export function exchange(
  port: number,
  chunks: (string | Buffer)[],
  expected: number,
  gapMs = 0,
): Promise<{ replies: Reply[]; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    const parser = new ReplyParser();
    const replies: Reply[] = [];
    let closed = false;
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`timeout: got ${replies.length}/${expected} replies`));
    }, 15_000);
    const done = () => {
      clearTimeout(timer);
      s.destroy();
      resolve({ replies, closed });
    };
    s.on('data', (d) => {
      parser.push(d);
      for (let r = parser.next(); r !== undefined; r = parser.next()) replies.push(r);
      if (replies.length >= expected) done();
    });
    s.on('close', () => {
      closed = true;
      done();
    });
    s.on('error', () => {});
    s.on('connect', async () => {
      for (const c of chunks) {
        s.write(c);
        if (gapMs) await new Promise((r) => setTimeout(r, gapMs));
      }
    });
  });
}

export function resp(...args: (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = Buffer.isBuffer(a) ? a : Buffer.from(a);
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** Resolves on the socket's next 'drain' or its 'close' (one listener of each, removed after). */
export function drainedOrClosed(s: Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      s.off('drain', done);
      s.off('close', done);
      resolve();
    };
    s.on('drain', done);
    s.on('close', done);
  });
}

/** A raw TCP connection to a zdb on loopback, once connected. */
export function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** Starts `zdb` as a real child process and resolves once it accepts connections. */
export async function startZdbProcess(args: string[], port: number): Promise<ChildProcess> {
  return (await spawnZdb(args, { port })).proc;
}

export function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((r) => child.once('exit', (code) => r(code)));
}
