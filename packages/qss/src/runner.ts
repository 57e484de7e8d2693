/**
 * Where block encode/decode runs: inline on the calling thread, or on a pool of worker threads
 * so that a stream keeps both cores busy. Both take the same requests and give the same results.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { type BlockLayout, blockCodec, type DecodedBlock, type EncodedBlock, tooFewShards } from './block.ts';
import type { CompressionPolicy } from './compression.ts';
import { QssError } from './errors.ts';
import { type BlockRequest, type BlockResponse, compact, transferList } from './runner-protocol.ts';

export interface BlockRunner {
  /**
   * Encodes one block. `plain` is handed over: if it spans its whole ArrayBuffer, a worker runner
   * transfers (detaches) that buffer instead of copying it.
   */
  encode(
    k: number,
    m: number,
    plain: Uint8Array,
    index: number,
    key: Uint8Array,
    policy: CompressionPolicy,
  ): Promise<EncodedBlock>;
  decode(
    k: number,
    m: number,
    layout: BlockLayout,
    shards: Array<Uint8Array | undefined>,
    key: Uint8Array,
  ): Promise<DecodedBlock>;
  close(): Promise<void>;
}

/** Runs blocks on the calling thread. */
export class InlineRunner implements BlockRunner {
  async encode(
    k: number,
    m: number,
    plain: Uint8Array,
    index: number,
    key: Uint8Array,
    policy: CompressionPolicy,
  ) {
    return blockCodec(k, m).encode(plain, index, key, policy);
  }

  async decode(
    k: number,
    m: number,
    layout: BlockLayout,
    shards: Array<Uint8Array | undefined>,
    key: Uint8Array,
  ) {
    return blockCodec(k, m).decode(layout, shards, key);
  }

  async close() {}
}

interface Task {
  request: BlockRequest;
  transfer: ArrayBuffer[];
  resolve(response: BlockResponse & { ok: true }): void;
  reject(error: Error): void;
}

interface Slot {
  worker: Worker;
  task: Task | undefined;
}

/** The worker entry, loaded through tsx's loader (the package is TypeScript, run without a build). */
function workerSource(): string {
  // Compiled (dist/, built next to this module): the worker is plain JavaScript.
  if (!import.meta.url.endsWith('.ts'))
    return `import(${JSON.stringify(new URL('./block-worker.js', import.meta.url).href)})`;
  // The sources (tests, development): the worker runs through tsx like its parent.
  const tsx = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./block-worker.ts', import.meta.url).href;
  return `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`;
}

/**
 * Runs blocks on `size` worker threads (default: one per core); a thread that dies is replaced.
 * Its encode/decode reject with the coder's QssError (bad_coding, too_few_shards, decrypt_failed, bad_block), or
 * worker_failed when a thread fails or the pool is closed.
 */
export class WorkerPool implements BlockRunner {
  readonly #slots: Slot[] = [];
  readonly #queue: Task[] = [];
  #nextId = 1;
  #closed = false;

  constructor(readonly size = availableParallelism()) {
    for (let i = 0; i < size; i++) this.#slots.push(this.#spawn());
  }

  #spawn(): Slot {
    const slot: Slot = { worker: new Worker(workerSource(), { eval: true }), task: undefined };
    slot.worker.unref();
    slot.worker.on('message', (res: BlockResponse) => {
      const task = slot.task;
      slot.task = undefined;
      slot.worker.unref();
      if (task) {
        if (res.ok) task.resolve(res);
        else task.reject(new QssError(res.code ?? 'worker_failed', res.message));
      }
      this.#dispatch();
    });
    // A thread that dies (uncaught error, or exit for any reason) fails its task and is replaced.
    const replace = (error: Error) => {
      slot.task?.reject(error);
      slot.task = undefined;
      const i = this.#slots.indexOf(slot);
      if (this.#closed || i < 0) return;
      this.#slots[i] = this.#spawn();
      this.#dispatch();
    };
    slot.worker.on('error', (e) =>
      replace(new QssError('worker_failed', `block worker failed: ${e.message}`, { cause: e })),
    );
    slot.worker.on('exit', (code) =>
      replace(new QssError('worker_failed', `block worker exited with code ${code}`)),
    );
    return slot;
  }

  #dispatch(): void {
    for (const slot of this.#slots) {
      if (slot.task || this.#queue.length === 0) continue;
      const task = this.#queue.shift()!;
      try {
        slot.worker.postMessage(task.request, task.transfer);
      } catch (error) {
        task.reject(error as Error);
        continue;
      }
      slot.task = task;
      slot.worker.ref();
    }
  }

  #run(request: BlockRequest, transfer: ArrayBuffer[]): Promise<BlockResponse & { ok: true }> {
    if (this.#closed) return Promise.reject(new QssError('worker_failed', 'worker pool is closed'));
    return new Promise((resolve, reject) => {
      this.#queue.push({ request, transfer, resolve, reject });
      this.#dispatch();
    });
  }

  async encode(
    k: number,
    m: number,
    plain: Uint8Array,
    index: number,
    key: Uint8Array,
    policy: CompressionPolicy,
  ) {
    // A view into a larger buffer is copied first, so only the block's own bytes are handed over.
    const own = compact(plain);
    const res = await this.#run(
      { id: this.#nextId++, op: 'encode', k, m, plain: own, index, key, policy },
      transferList([own]),
    );
    if (res.op !== 'encode') throw new QssError('worker_failed', 'worker answered another request');
    return res.block;
  }

  async decode(
    k: number,
    m: number,
    layout: BlockLayout,
    shards: Array<Uint8Array | undefined>,
    key: Uint8Array,
  ) {
    // Fewer than k shards: no need to post the block to find out.
    tooFewShards(layout.index, k, shards);
    // Shards may be views into buffers the caller still uses: post compact copies, never detach.
    // (Shards backed by a SharedArrayBuffer, as the zdb client returns large values, are shared.)
    const own = shards.map((s) => (s ? compact(s) : undefined));
    const transfer = transferList(own.filter((s, i) => s !== shards[i]));
    const res = await this.#run(
      { id: this.#nextId++, op: 'decode', k, m, layout, shards: own, key },
      transfer,
    );
    if (res.op !== 'decode') throw new QssError('worker_failed', 'worker answered another request');
    return res.block;
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const t of this.#queue.splice(0)) t.reject(new QssError('worker_failed', 'worker pool closed'));
    await Promise.all(this.#slots.map((s) => s.worker.terminate()));
  }
}
