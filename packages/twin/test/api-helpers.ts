/** Test helpers: twins started in this process with their API, and calls to that API. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { initIdentity, keystorePath } from '@twin/identity';
import WebSocket from 'ws';
import { type Daemon, startDaemon, type TwinEvent } from '../src/index.ts';

export interface TestTwin {
  name: string;
  home: string;
  daemon: Daemon;
  id: number;
  base: string;
  token: string;
  // biome-ignore lint/suspicious/noExplicitAny: tests read whatever JSON the API answers
  call(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }>;
}

export async function startTwin(
  root: string,
  name: string,
  phonebook: string,
  passphrase?: string,
): Promise<TestTwin> {
  const home = join(root, name);
  if (!existsSync(keystorePath(home))) initIdentity({ home, name, passphrase });
  const daemon = await startDaemon({
    home,
    phonebook,
    passphrase,
    yggdrasil: 'off',
    api: { port: 0 },
    log: (msg, fields) => /error|failed/.test(msg) && console.error(name, msg, fields),
  });
  const base = `http://127.0.0.1:${daemon.api!.port}`;
  const token = readFileSync(join(home, 'api-token'), 'utf8').trim();
  return {
    name,
    home,
    daemon,
    id: daemon.record.id,
    base,
    token,
    async call(method, path, body) {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, json: text ? JSON.parse(text) : null };
    },
  };
}

/** Collects a twin's API events from its WebSocket. */
export async function events(t: TestTwin): Promise<{
  list: TwinEvent[];
  until(f: (e: TwinEvent[]) => boolean, ms?: number): Promise<void>;
  close(): void;
}> {
  const ws = new WebSocket(`ws://127.0.0.1:${t.daemon.api!.port}/api/events`, {
    headers: { authorization: `Bearer ${t.token}` },
  });
  const list: TwinEvent[] = [];
  ws.on('message', (d) => list.push(JSON.parse(String(d)) as TwinEvent));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return {
    list,
    until: (f, ms = 20_000) => waitFor(() => f(list), ms),
    close: () => ws.close(),
  };
}

export async function waitFor(f: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 25));
  }
}
