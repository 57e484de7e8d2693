/** Messages between the block worker pool and its threads. */
import type { BlockLayout, DecodedBlock, EncodedBlock } from './block.ts';
import type { CompressionPolicy } from './compression.ts';
import type { QssErrorCode } from './errors.ts';

export type BlockRequest =
  | {
      id: number;
      op: 'encode';
      k: number;
      m: number;
      plain: Uint8Array;
      index: number;
      key: Uint8Array;
      policy: CompressionPolicy;
    }
  | {
      id: number;
      op: 'decode';
      k: number;
      m: number;
      layout: BlockLayout;
      shards: Array<Uint8Array | undefined>;
      key: Uint8Array;
    };

export type BlockResponse =
  | { id: number; ok: true; op: 'encode'; block: EncodedBlock }
  | { id: number; ok: true; op: 'decode'; block: DecodedBlock }
  | { id: number; ok: false; code: QssErrorCode | undefined; message: string };

/**
 * The distinct ArrayBuffers behind `views`, to transfer rather than copy. Buffers of Node's
 * small-allocation pool (Buffer.poolSize bytes, shared between unrelated Buffers) are left out.
 */
export function transferList(views: ReadonlyArray<Uint8Array | undefined>): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  for (const v of views)
    if (v && v.buffer instanceof ArrayBuffer && v.buffer.byteLength > Buffer.poolSize) out.add(v.buffer);
  return [...out];
}

/** A copy of `view` that owns exactly its bytes (so posting it neither copies nor detaches more). */
export function compact(view: Uint8Array): Uint8Array {
  return view.byteOffset === 0 && view.byteLength === view.buffer.byteLength ? view : new Uint8Array(view);
}
