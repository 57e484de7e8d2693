/**
 * Shards on 0-db backends (sequential-mode namespaces), organised in groups (sites or farms).
 *
 * Placement: the k+m shards of a block go to k+m distinct backends, dealt round-robin over the
 * groups (rotated per block, so load spreads): each group receives at most ceil((k+m)/G) shards
 * of any block, so losing a whole group loses at most that many — survivable when it is ≤ m.
 */
import { ZdbClient } from '@twin/zdb';
import { QssError } from './errors.ts';
import type { ShardContext, ShardLocation, ShardStore } from './store.ts';

export interface ZdbBackendConfig {
  host: string;
  port: number;
  namespace: string;
  password?: string;
}

export interface ZdbGroupConfig {
  name: string;
  backends: ZdbBackendConfig[];
}

interface Backend {
  id: string;
  group: number;
  client: ZdbClient;
}

export const backendId = (b: ZdbBackendConfig) => `zdb://${b.host}:${b.port}/${b.namespace}`;

export class ZdbShardStore implements ShardStore {
  private readonly backends = new Map<string, Backend>();
  private readonly groups: Backend[][];

  constructor(groups: ZdbGroupConfig[], timeoutMs = 5000) {
    this.groups = groups.map((g, gi) =>
      g.backends.map((b) => {
        const backend: Backend = {
          id: backendId(b),
          group: gi,
          client: new ZdbClient({
            host: b.host,
            port: b.port,
            namespace: b.namespace,
            password: b.password,
            timeoutMs,
          }),
        };
        if (this.backends.has(backend.id))
          throw new QssError('ECONFIG', `backend ${backend.id} is listed twice`);
        this.backends.set(backend.id, backend);
        return backend;
      }),
    );
  }

  /** The most shards of one block that a single group holds with this placement. */
  perGroup(k: number, m: number): number {
    const nonEmpty = this.groups.filter((g) => g.length > 0).length;
    return Math.ceil((k + m) / Math.max(1, nonEmpty));
  }

  /** The k+m backends for a block: round-robin over the groups, rotated by block index. */
  place(block: number, count: number): Backend[] {
    if (count > this.backends.size)
      throw new QssError(
        'ECONFIG',
        `${count} shards need ${count} backends, there are ${this.backends.size}`,
      );
    const out: Backend[] = [];
    const g = this.groups.length;
    for (let round = 0; out.length < count; round++) {
      for (let i = 0; i < g && out.length < count; i++) {
        const group = this.groups[(i + block) % g]!;
        if (round < group.length) out.push(group[(round + block) % group.length]!);
      }
    }
    return out;
  }

  async putShards(shards: readonly Uint8Array[], context: ShardContext): Promise<ShardLocation[]> {
    const targets = this.place(context.block, shards.length);
    return Promise.all(
      shards.map(async (shard, i) => {
        const b = targets[i]!;
        try {
          return {
            backend: b.id,
            key: new Uint8Array(
              await b.client.append(Buffer.from(shard.buffer, shard.byteOffset, shard.byteLength)),
            ),
          };
        } catch (e) {
          throw new QssError(
            'ESTORE',
            `backend ${b.id} refused shard ${i} of block ${context.block}: ${(e as Error).message}`,
          );
        }
      }),
    );
  }

  async getShard(location: ShardLocation): Promise<Uint8Array | undefined> {
    const b = this.backends.get(location.backend);
    if (!b) throw new QssError('ECONFIG', `unknown backend ${location.backend}`);
    try {
      return (await b.client.get(Buffer.from(location.key))) ?? undefined;
    } catch {
      return undefined; // down, unreachable or refusing: an erasure
    }
  }

  async deleteShard(location: ShardLocation): Promise<void> {
    const b = this.backends.get(location.backend);
    if (!b) throw new QssError('ECONFIG', `unknown backend ${location.backend}`);
    try {
      await b.client.del(Buffer.from(location.key));
    } catch (e) {
      if (!/Key not found/.test((e as Error).message)) throw e;
    }
  }

  close(): void {
    for (const b of this.backends.values()) b.client.close();
  }
}
