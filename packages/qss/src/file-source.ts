/**
 * A file as a stream of whole blocks, read straight into the buffers that are encoded: no read
 * stream's chunks to copy into blocks, and one block read ahead while the previous one is handed
 * on. Each full block is handed over (see `handOver`): the pipeline takes it as it is and may
 * transfer it to a worker thread.
 */
import { open } from 'node:fs/promises';
import { handOver } from './ordered.ts';

/** Reads `file` as blocks of `blockSize` bytes (the last one shorter), one block ahead. */
export async function* fileBlocks(file: string, blockSize: number): AsyncGenerator<Uint8Array> {
  const handle = await open(file, 'r');
  try {
    const readBlock = async (): Promise<Uint8Array> => {
      const block = Buffer.allocUnsafeSlow(blockSize);
      let filled = 0;
      while (filled < blockSize) {
        const { bytesRead } = await handle.read(block, filled, blockSize - filled, null);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      return filled === blockSize ? handOver(block) : block.subarray(0, filled);
    };
    let next = readBlock();
    for (;;) {
      const block = await next;
      if (block.length === 0) return;
      if (block.length < blockSize) {
        yield block;
        return;
      }
      next = readBlock();
      next.catch(() => {}); // awaited on the next turn; a failure then is the caller's
      yield block;
    }
  } finally {
    await handle.close();
  }
}
