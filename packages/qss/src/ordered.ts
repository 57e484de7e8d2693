/**
 * In-order bounded concurrency: starts fn on up to `limit` items at once and yields results in
 * source order. The source is pulled only when a slot is free, so at most `limit` items and
 * results are held at a time, whatever the length of the source.
 */
export async function* mapOrdered<T, R>(
  source: AsyncIterable<T> | Iterable<T>,
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): AsyncGenerator<R> {
  const pending: Promise<R>[] = [];
  let index = 0;
  for await (const item of source) {
    const p = fn(item, index++);
    p.catch(() => {}); // awaited below in order; this only stops an early rejection from being "unhandled"
    pending.push(p);
    if (pending.length >= limit) yield await pending.shift()!;
  }
  while (pending.length > 0) yield await pending.shift()!;
}

/** Buffers given to the pipeline for good (see handOver). */
const handedOver = new WeakSet<Uint8Array>();

/**
 * Marks `block` as given to fixedBlocks for good: when it is exactly one block and arrives at a
 * block boundary, it becomes that block as it is (no copy), and may be transferred to a worker
 * thread (detached here). Returns it.
 */
export function handOver<T extends Uint8Array>(block: T): T {
  handedOver.add(block);
  return block;
}

/**
 * Fixed-size blocks from a byte stream (the last one shorter); each block is a fresh buffer, or
 * a chunk that was handed over (handOver) and is exactly one block at a block boundary.
 */
export async function* fixedBlocks(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  blockSize: number,
): AsyncGenerator<Uint8Array> {
  let block = Buffer.allocUnsafeSlow(blockSize);
  let filled = 0;
  for await (const chunk of source) {
    if (filled === 0 && chunk.length === blockSize && handedOver.has(chunk)) {
      yield chunk;
      continue;
    }
    let offset = 0;
    while (offset < chunk.length) {
      const n = Math.min(blockSize - filled, chunk.length - offset);
      block.set(chunk.subarray(offset, offset + n), filled);
      filled += n;
      offset += n;
      if (filled === blockSize) {
        yield block;
        block = Buffer.allocUnsafeSlow(blockSize);
        filled = 0;
      }
    }
  }
  if (filled > 0) yield block.subarray(0, filled);
}
