/**
 * Storage: each `zdb` workload is a namespace on the node's own 0-db server, with the size limit,
 * mode, password and visibility the deployment asks. The server runs inside the agent; the agent
 * administers it with an admin password only it knows.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ZdbClient, ZdbServer } from '@twin/zdb';
import { GridError } from '../errors.ts';
import type { ZdbData } from './types.ts';

export interface ZdbResult {
  namespace: string;
  /** host:port strings clients can use (loopback, LAN, Planetary where the node has them). */
  addresses: string[];
  port: number;
}

export class NodeZdb {
  private server: ZdbServer | null = null;
  private admin: ZdbClient | null = null;

  constructor(
    private readonly dir: string,
    private readonly listen: string,
    private readonly port: number,
    /** The node's reachable IPs, in the order to publish them. */
    private readonly hosts: () => string[],
  ) {}

  async start(): Promise<void> {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const secretFile = join(this.dir, 'admin-password');
    if (!existsSync(secretFile)) writeFileSync(secretFile, randomBytes(24).toString('hex'), { mode: 0o600 });
    const admin = readFileSync(secretFile, 'utf8').trim();
    this.server = await ZdbServer.start({
      listen: this.listen,
      port: this.port,
      data: join(this.dir, 'data'),
      index: join(this.dir, 'index'),
      mode: 'mix',
      admin,
      protect: true,
    });
    this.admin = new ZdbClient({ host: this.connectHost(), port: this.server.port, admin });
    await this.admin.ping();
  }

  get serverPort(): number {
    return this.server?.port ?? 0;
  }

  private connectHost(): string {
    return this.listen === '0.0.0.0' ? '127.0.0.1' : this.listen === '::' ? '::1' : this.listen;
  }

  /** Creates (or brings up to date) the namespace; idempotent, so a restore can replay it. */
  async provision(namespace: string, d: ZdbData): Promise<ZdbResult> {
    const admin = this.client();
    try {
      const existing = await admin.nslist();
      if (!existing.includes(namespace)) {
        await admin.nsnew(namespace);
        await admin.nsset(namespace, 'mode', d.mode);
      } else {
        const info = await admin.nsinfo(namespace);
        const mode = info.mode === 'sequential' || info.mode === 'seq' ? 'seq' : 'user';
        if (mode !== d.mode) await admin.nsset(namespace, 'mode', d.mode);
      }
      await admin.nsset(namespace, 'maxsize', String(d.size));
      await admin.nsset(namespace, 'password', d.password === '' ? '*' : d.password);
      await admin.nsset(namespace, 'public', d.public ? '1' : '0');
    } catch (e) {
      throw new GridError('provision_failed', `zdb namespace ${namespace}: ${(e as Error).message}`);
    }
    const port = this.serverPort;
    return {
      namespace,
      port,
      addresses: this.hosts().map((h) => (h.includes(':') ? `[${h}]:${port}` : `${h}:${port}`)),
    };
  }

  async remove(namespace: string): Promise<void> {
    const admin = this.client();
    if ((await admin.nslist()).includes(namespace)) await admin.nsdel(namespace);
  }

  async namespaces(): Promise<string[]> {
    return this.client().nslist();
  }

  private client(): ZdbClient {
    if (!this.admin) throw new GridError('unavailable', 'the node 0-db server is not running');
    return this.admin;
  }

  async stop(): Promise<void> {
    this.admin?.close();
    await this.server?.close();
    this.admin = null;
    this.server = null;
  }
}
