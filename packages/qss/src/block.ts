/**
 * One block through the pipeline, with no I/O: plain bytes → (compression) → AES-256-GCM →
 * Reed-Solomon k+m shards, each with a checksum; and back, from whichever shards survived.
 *
 * The stored bytes of a block are ciphertext ‖ 16-byte GCM tag, cut into k data shards of
 * ceil(stored / k) bytes (the last one zero-padded). The nonce is the block index, unique
 * because every object has its own key and a key encrypts one version of one object: whoever
 * changes an object's bytes must encode it under a new key (repair re-codes shards, never
 * re-encrypts). The additional data binds index, flags and plain size.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { sameChecksum, shardChecksum } from './checksum.ts';
import { type CompressionPolicy, compressBlock, decompressBlock } from './compression.ts';
import { QssError } from './errors.ts';
import { ReedSolomon } from './reed-solomon.ts';

export const KEY_BYTES = 32;
const TAG_BYTES = 16;

/** What the metadata keeps about a block, enough to verify and decode its shards. */
export interface BlockLayout {
  index: number;
  plainSize: number;
  /** Bytes of ciphertext + tag carried by the data shards (before padding). */
  storedSize: number;
  compressed: boolean;
  /** One per shard, k data then m parity. */
  checksums: Uint8Array[];
}

export interface EncodedBlock extends BlockLayout {
  shards: Uint8Array[];
}

export interface DecodedBlock {
  plain: Uint8Array;
  /** Shards that were looked at and found absent. */
  missing: number[];
  /** Shards that were looked at and failed their checksum or size. */
  corrupt: number[];
}

export const shardSize = (storedSize: number, k: number) => Math.ceil(storedSize / k);

function nonce(index: number): Buffer {
  const n = Buffer.alloc(12);
  n.writeBigUInt64BE(BigInt(index), 4);
  return n;
}

function additionalData(index: number, compressed: boolean, plainSize: number): Buffer {
  const aad = Buffer.alloc(21);
  aad.write('qss/blk1', 0, 'latin1');
  aad.writeBigUInt64BE(BigInt(index), 8);
  aad.writeUInt8(compressed ? 1 : 0, 16);
  aad.writeUInt32BE(plainSize, 17);
  return aad;
}

/** Bytes [from, to) of the concatenation of `shards`. */
function gather(shards: readonly Uint8Array[], size: number, from: number, to: number): Buffer {
  const out = Buffer.alloc(to - from);
  for (let pos = from; pos < to; ) {
    const i = Math.floor(pos / size);
    const offset = pos - i * size;
    const n = Math.min(size - offset, to - pos);
    out.set(shards[i]!.subarray(offset, offset + n), pos - from);
    pos += n;
  }
  return out;
}

/** Throws too_few_shards when fewer than k of `shards` are present at all (before any is verified). */
export function tooFewShards(index: number, k: number, shards: ReadonlyArray<Uint8Array | undefined>): void {
  let present = 0;
  for (const s of shards) if (s) present++;
  if (present >= k) return;
  const missing = shards.flatMap((s, i) => (s ? [] : [i]));
  throw new QssError(
    'too_few_shards',
    `block ${index}: ${present} shards at hand of ${k} needed (missing ${missing})`,
  );
}

const codecs = new Map<string, BlockCodec>();

/**
 * This thread's codec for k+m (built once: its coder's tables and scratch buffer are reused).
 * Encode and decode are synchronous, so one codec serves every caller on a thread.
 */
export function blockCodec(k: number, m: number): BlockCodec {
  const key = `${k}+${m}`;
  let c = codecs.get(key);
  if (!c) {
    c = new BlockCodec(k, m);
    codecs.set(key, c);
  }
  return c;
}

export class BlockCodec {
  readonly coder: ReedSolomon;
  #buffer: Buffer = Buffer.alloc(0);

  /** A buffer of at least `n` bytes, reused from call to call (decode is synchronous). */
  #scratch(n: number): Buffer {
    if (this.#buffer.length < n) this.#buffer = Buffer.allocUnsafeSlow(n);
    return this.#buffer;
  }

  constructor(
    readonly k: number,
    readonly m: number,
  ) {
    this.coder = new ReedSolomon(k, m);
  }

  encode(plain: Uint8Array, index: number, key: Uint8Array, policy: CompressionPolicy): EncodedBlock {
    if (key.length !== KEY_BYTES) throw new QssError('bad_coding', `block key must be ${KEY_BYTES} bytes`);
    const { payload, compressed } = compressBlock(plain, policy);
    const cipher = createCipheriv('aes-256-gcm', key, nonce(index));
    cipher.setAAD(additionalData(index, compressed, plain.length));
    const ct = cipher.update(payload);
    cipher.final();
    const tag = cipher.getAuthTag();
    const storedSize = ct.length + TAG_BYTES;
    const size = shardSize(storedSize, this.k);
    const data: Uint8Array[] = [];
    for (let i = 0; i < this.k; i++) {
      const start = i * size;
      if (start + size <= ct.length) {
        data.push(ct.subarray(start, start + size));
        continue;
      }
      const shard = new Uint8Array(size);
      if (start < ct.length) shard.set(ct.subarray(start));
      for (let t = Math.max(start, ct.length); t < Math.min(start + size, storedSize); t++)
        shard[t - start] = tag[t - ct.length]!;
      data.push(shard);
    }
    const shards = [...data, ...this.coder.encode(data)];
    return {
      index,
      plainSize: plain.length,
      storedSize,
      compressed,
      checksums: shards.map(shardChecksum),
      shards,
    };
  }

  /**
   * Verifies shards in order and uses the first k intact ones; rebuilds missing data shards,
   * decrypts and inflates. `shards[i]` undefined means shard i could not be read.
   */
  decode(layout: BlockLayout, shards: ReadonlyArray<Uint8Array | undefined>, key: Uint8Array): DecodedBlock {
    const { k, m } = this;
    if (key.length !== KEY_BYTES) throw new QssError('bad_coding', `block key must be ${KEY_BYTES} bytes`);
    if (shards.length !== k + m || layout.checksums.length !== k + m)
      throw new QssError('bad_coding', `block ${layout.index}: expected ${k + m} shards`);
    const size = shardSize(layout.storedSize, k);
    // Fewer than k shards at hand: fail before hashing any (the caller fetches the others).
    tooFewShards(layout.index, k, shards);
    // Every data shard at hand: decipher first, verify after. GCM authenticates every byte of
    // ciphertext ‖ tag and the padding must be zero, so when it passes every byte of the k data
    // shards is what was encoded (each would match its checksum) and hashing them is not needed.
    // When it fails, the shards are verified one by one below, as always.
    if (this.#complete(shards, size, layout.storedSize)) {
      const payload = this.#open(layout, shards as Uint8Array[], size, key);
      if (payload) return { plain: this.#finish(layout, payload), missing: [], corrupt: [] };
    }
    const missing: number[] = [];
    const corrupt: number[] = [];
    const good: Array<Uint8Array | undefined> = new Array(k + m).fill(undefined);
    let count = 0;
    for (let i = 0; i < k + m && count < k; i++) {
      const s = shards[i];
      if (!s) missing.push(i);
      else if (s.length !== size || !sameChecksum(shardChecksum(s), layout.checksums[i]!)) corrupt.push(i);
      else {
        good[i] = s;
        count++;
      }
    }
    if (count < k)
      throw new QssError(
        'too_few_shards',
        `block ${layout.index}: ${count} intact shards of ${k} needed (missing ${missing}, corrupt ${corrupt})`,
      );
    const lost = [...Array(k).keys()].filter((i) => !good[i]);
    if (lost.length > 0) {
      const rebuilt = this.coder.reconstruct(good, lost);
      lost.forEach((i, n) => {
        good[i] = rebuilt[n];
      });
    }
    const payload = this.#open(layout, good.slice(0, k) as Uint8Array[], size, key);
    if (!payload) throw new QssError('decrypt_failed', `block ${layout.index}: authentication failed`);
    return { plain: this.#finish(layout, payload), missing, corrupt };
  }

  /** All k data shards present, of the right size, with zero padding after the stored bytes. */
  #complete(shards: ReadonlyArray<Uint8Array | undefined>, size: number, storedSize: number): boolean {
    for (let i = 0; i < this.k; i++) if (shards[i]?.length !== size) return false;
    for (let pos = storedSize; pos < this.k * size; pos++)
      if (shards[Math.floor(pos / size)]![pos % size] !== 0) return false;
    return true;
  }

  /** Deciphers the k data shards; null when authentication fails. */
  #open(layout: BlockLayout, data: readonly Uint8Array[], size: number, key: Uint8Array): Buffer | null {
    const ctSize = layout.storedSize - TAG_BYTES;
    const decipher = createDecipheriv('aes-256-gcm', key, nonce(layout.index));
    decipher.setAAD(additionalData(layout.index, layout.compressed, layout.plainSize));
    decipher.setAuthTag(gather(data, size, ctSize, layout.storedSize));
    // The ciphertext is gathered into this codec's scratch buffer (reused block after block), then
    // deciphered in one call: the only fresh buffer is the plain text handed back.
    const ct = this.#scratch(ctSize);
    for (let i = 0; i * size < ctSize; i++)
      ct.set(data[i]!.subarray(0, Math.min(size, ctSize - i * size)), i * size);
    const payload = decipher.update(ct.subarray(0, ctSize));
    try {
      decipher.final();
    } catch {
      return null;
    }
    return payload;
  }

  /** Inflates when compressed; checks the size. */
  #finish(layout: BlockLayout, payload: Buffer): Buffer {
    const plain = layout.compressed ? decompressBlock(payload, layout.plainSize) : payload;
    if (plain.length !== layout.plainSize)
      throw new QssError(
        'bad_block',
        `block ${layout.index}: ${plain.length} bytes, expected ${layout.plainSize}`,
      );
    return plain;
  }
}
