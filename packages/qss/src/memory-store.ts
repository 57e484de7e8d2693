/**
 * A ShardStore in this process's memory: `backends` named slots, shard i of a block on backend
 * (block + i) mod n or the next one that is online and unused by the block, so the shards of a
 * block are on distinct backends. For tests and for callers that want the pipeline without
 * 0-db. Backends can be taken offline.
 */
import { sameChecksum, shardChecksum } from './checksum.ts';
import { QssError } from './errors.ts';
import { isAbsent, type ShardContext, type ShardLocation, type ShardStore } from './store.ts';

export class MemoryShardStore implements ShardStore {
  readonly backends: string[];
  readonly #data = new Map<string, Map<string, Uint8Array>>();
  readonly #offline = new Set<string>();
  #next = 0;

  constructor(backends: number) {
    this.backends = Array.from({ length: backends }, (_, i) => `memory:${i}`);
    for (const b of this.backends) this.#data.set(b, new Map());
  }

  async putShards(
    shards: ReadonlyArray<Uint8Array | undefined>,
    context: ShardContext,
  ): Promise<Array<ShardLocation | undefined>> {
    const n = this.backends.length;
    const used = new Set((context.held ?? []).flatMap((l) => (l && !isAbsent(l) ? [l.backend] : [])));
    return shards.map((shard, i) => {
      if (!shard) return undefined;
      for (let t = 0; t < n; t++) {
        const backend = this.backends[(context.block + i + t) % n]!;
        if (used.has(backend) || this.#offline.has(backend)) continue;
        used.add(backend);
        const key = new Uint8Array(4);
        new DataView(key.buffer).setUint32(0, this.#next++);
        this.#data.get(backend)!.set(Buffer.from(key).toString('hex'), new Uint8Array(shard));
        return { backend, key };
      }
      return undefined;
    });
  }

  async getShard(location: ShardLocation): Promise<Uint8Array | undefined> {
    if (isAbsent(location)) return undefined;
    const entries = this.#data.get(location.backend);
    if (!entries) throw new QssError('store_failed', `unknown backend ${location.backend}`);
    if (this.#offline.has(location.backend)) return undefined;
    return entries.get(Buffer.from(location.key).toString('hex'));
  }

  async deleteShard(location: ShardLocation, checksum: Uint8Array): Promise<boolean> {
    const entries = this.#data.get(location.backend);
    const id = Buffer.from(location.key).toString('hex');
    const bytes = entries?.get(id);
    if (!bytes || !sameChecksum(shardChecksum(bytes), checksum)) return false;
    return entries!.delete(id);
  }

  /** The stored bytes themselves (to damage them in tests). */
  raw(location: ShardLocation): Uint8Array | undefined {
    return this.#data.get(location.backend)?.get(Buffer.from(location.key).toString('hex'));
  }

  setOffline(backend: string, offline: boolean): void {
    if (offline) this.#offline.add(backend);
    else this.#offline.delete(backend);
  }

  get shardCount(): number {
    let n = 0;
    for (const entries of this.#data.values()) n += entries.size;
    return n;
  }
}
