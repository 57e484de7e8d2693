/**
 * Twin bus envelopes. A frame is
 *   u16 header length ‖ header (JSON) ‖ payload [‖ proof]
 * where the proof is a 64-byte ed25519 signature over the exact bytes before it (context
 * "twin/bus/envelope/v1"), or, for an envelope sealed in a batch (its header has `leaf` and
 * `depth`), `depth` 32-byte Merkle sibling hashes and the signature of the batch's Merkle root
 * (context "twin/bus/batch/v1"): one signature for up to MAX_SEAL_BATCH envelopes, and still a
 * proof that each envelope, alone, can be checked with (see sealEnvelopes). A signed header is
 * canonical JSON; receivers verify the exact bytes they got and re-serialise nothing. An envelope
 * framed without a signature says so in its header (`signed: false`); what vouches for it is the
 * Noise session it arrives on (see the package doc for which is which). Headers from other twins
 * are validated with a zod schema before anything reads them.
 */
import { createHash, randomFillSync } from 'node:crypto';
import type { TwinIdentity } from '@twin/identity';
import { verify } from '@twin/identity';
import { canonical } from '@twin/phonebook';
import { z } from 'zod';
import {
  MAX_COMMAND,
  MAX_ERROR_MESSAGE,
  MAX_HEADER,
  MAX_SEAL_BATCH_DEPTH,
  REQUEST_TTL_MS,
} from './constants.ts';
import { NetworkError, type NetworkErrorCode } from './errors.ts';

export const ENVELOPE_CONTEXT = 'twin/bus/envelope/v1';
/** The signature context of a batch's Merkle root (never valid as an envelope signature). */
export const BATCH_CONTEXT = 'twin/bus/batch/v1';
const SIGNATURE = 64;
const HASH = 32;

/** A request, its response, a one-way message, or the opening of a byte stream (streams.ts). */
export type EnvelopeKind = 'request' | 'response' | 'message' | 'stream';

export interface EnvelopeHeader {
  /** Unique per sender (random 128-bit hex). */
  id: string;
  kind: EnvelopeKind;
  from: number;
  to: number;
  command: string;
  /** Milliseconds since the epoch. */
  created: number;
  /** Milliseconds the envelope stays valid after `created`. */
  ttl: number;
  /** For responses: the id of the envelope answered. */
  re?: string;
  /** For error responses. */
  error?: { code: NetworkErrorCode; message: string };
  /** For one-way messages: the sender's epoch (16 hex digits; a sender that lost its state starts a new one). */
  epoch?: string;
  /** For one-way messages: sequence number within the sender's epoch, from 1 (delivery order). */
  seq?: number;
  /** `false` on an envelope framed without a signature (vouched for by its connection). */
  signed?: false;
  /** For an envelope sealed in a batch: its position among the batch's leaves … */
  leaf?: number;
  /** … and the height of the batch's Merkle tree (the proof holds this many sibling hashes). */
  depth?: number;
}

export interface Envelope {
  header: EnvelopeHeader;
  payload: Buffer;
  /** The exact signed bytes (everything before the signature). */
  signed: Buffer;
  /**
   * The proof: the 64-byte signature, or for a batch-sealed envelope its sibling hashes and the
   * root's signature; empty for an envelope framed without a signature.
   */
  signature: Buffer;
}

const headerSchema = z.object({
  id: z.string().min(1).max(64),
  kind: z.enum(['request', 'response', 'message', 'stream']),
  from: z.number().int().nonnegative(),
  to: z.number().int().nonnegative(),
  command: z.string().max(MAX_COMMAND),
  created: z.number().int(),
  ttl: z.number().int(),
  re: z.string().max(64).optional(),
  error: z
    .object({ code: z.string().regex(/^[a-z_]{1,64}$/), message: z.string().max(MAX_ERROR_MESSAGE) })
    .optional(),
  epoch: z
    .string()
    .regex(/^[0-9a-f]{16}$/)
    .optional(),
  seq: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional(),
  signed: z.literal(false).optional(),
  leaf: z.number().int().nonnegative().optional(),
  depth: z.number().int().min(1).max(MAX_SEAL_BATCH_DEPTH).optional(),
});

/** What a new header needs besides its kind, parties and command. */
export type HeaderFields = Partial<Pick<EnvelopeHeader, 'ttl' | 're' | 'error' | 'epoch' | 'seq'>>;

const ID_BYTES = 16;
const idPool = Buffer.allocUnsafe(ID_BYTES * 256);
let idOffset = idPool.length;

/**
 * A fresh random 128-bit envelope id (32 hex digits), cut from a pool refilled 256 ids at a time:
 * one call into the system's random source per 256 envelopes instead of one per envelope.
 */
export function newEnvelopeId(): string {
  if (idOffset === idPool.length) {
    randomFillSync(idPool);
    idOffset = 0;
  }
  idOffset += ID_BYTES;
  return idPool.toString('hex', idOffset - ID_BYTES, idOffset);
}

/** The one way headers are made: a fresh random id, `created` now, `ttl` 60 s unless given. */
export function envelopeHeader(
  kind: EnvelopeKind,
  from: number,
  to: number,
  command: string,
  fields: HeaderFields = {},
): EnvelopeHeader {
  return {
    id: newEnvelopeId(),
    kind,
    from,
    to,
    command,
    created: Date.now(),
    ...fields,
    ttl: fields.ttl ?? REQUEST_TTL_MS,
  };
}

function withLength(header: Buffer): Buffer {
  if (header.length > MAX_HEADER) throw new NetworkError('too_large', 'envelope header too large');
  const len = Buffer.allocUnsafe(2);
  len.writeUInt16BE(header.length);
  return len;
}

/** u16 length ‖ canonical header ‖ payload: the bytes a signature (or a batch leaf) covers. */
function signedBody(header: EnvelopeHeader, payload: Uint8Array): Buffer {
  const { signed: _, ...fields } = header;
  const h = Buffer.from(canonical(fields as unknown as Parameters<typeof canonical>[0]));
  return Buffer.concat([withLength(h), h, payload]);
}

/**
 * A signed frame: canonical header, payload, the identity's signature over both.
 * Throws NetworkError `too_large` when the header exceeds 64 KiB.
 */
export function sealEnvelope(identity: TwinIdentity, header: EnvelopeHeader, payload: Uint8Array): Buffer {
  const signed = signedBody(header, payload);
  return Buffer.concat([signed, identity.sign(ENVELOPE_CONTEXT, signed)]);
}

const LEAF_TAG = Buffer.from([0]);
const NODE_TAG = Buffer.from([1]);
/** The hash standing for the leaves a batch does not fill (its tree is always complete). */
const NO_LEAF = createHash('sha256')
  .update(Buffer.from([2]))
  .digest();

const leafHash = (body: Uint8Array) => createHash('sha256').update(LEAF_TAG).update(body).digest();
const nodeHash = (left: Buffer, right: Buffer) =>
  createHash('sha256').update(NODE_TAG).update(left).update(right).digest();

/**
 * Signed frames for envelopes sealed together, with one signature: each body (header with its
 * `leaf` index and the tree's `depth`, payload) is a leaf of a complete Merkle tree (leaves and
 * inner nodes hashed with distinct prefixes, unfilled leaves a fixed hash), the identity signs
 * the root under BATCH_CONTEXT, and each frame carries its body, its sibling hashes from leaf to
 * root and that signature: every frame is verified, stored and later re-verified on its own
 * (verifyEnvelope), exactly like a singly signed one. One envelope is sealed singly. At most
 * 2^MAX_SEAL_BATCH_DEPTH envelopes. Throws NetworkError `too_large` when a header exceeds 64 KiB.
 */
export function sealEnvelopes(
  identity: TwinIdentity,
  items: readonly { header: EnvelopeHeader; payload: Uint8Array }[],
): Buffer[] {
  if (items.length === 1) return [sealEnvelope(identity, items[0]!.header, items[0]!.payload)];
  const depth = Math.max(1, Math.ceil(Math.log2(items.length)));
  if (depth > MAX_SEAL_BATCH_DEPTH)
    throw new NetworkError('too_large', `${items.length} envelopes are too many for one batch`);
  const bodies = items.map((it, leaf) => signedBody({ ...it.header, leaf, depth }, it.payload));
  const levels: Buffer[][] = [
    Array.from({ length: 2 ** depth }, (_, i) => (bodies[i] ? leafHash(bodies[i]) : NO_LEAF)),
  ];
  for (let d = 0; d < depth; d++) {
    const below = levels[d]!;
    levels.push(
      Array.from({ length: below.length / 2 }, (_, i) => nodeHash(below[2 * i]!, below[2 * i + 1]!)),
    );
  }
  const signature = identity.sign(BATCH_CONTEXT, levels[depth]![0]!);
  return bodies.map((body, leaf) => {
    const path = levels.slice(0, depth).map((level, d) => level[(leaf >> d) ^ 1]!);
    return Buffer.concat([body, ...path, signature]);
  });
}

/**
 * A frame without a signature (`signed: false` in its header), for envelopes that the Noise
 * session they travel on vouches for. Throws NetworkError `too_large` when the header exceeds 64 KiB.
 */
export function frameEnvelope(header: EnvelopeHeader, payload: Uint8Array): Buffer {
  const h = Buffer.from(JSON.stringify({ ...header, signed: false }));
  return Buffer.concat([withLength(h), h, payload]);
}

/**
 * The answer to `request` from twin `from`, framed without a signature (the connection vouches
 * for it): a response naming the request's id, with `error` when it is refused.
 */
export function responseFrame(
  from: number,
  request: EnvelopeHeader,
  payload: Uint8Array,
  error?: { code: NetworkErrorCode; message: string },
): Buffer {
  const header = envelopeHeader('response', from, request.from, request.command, {
    re: request.id,
    ...(error ? { error } : {}),
  });
  return frameEnvelope(header, payload);
}

/**
 * Parses and validates a frame (no signature check yet: that needs the sender's key).
 * Throws NetworkError `bad_envelope` for anything malformed.
 */
export function openEnvelope(frame: Uint8Array): Envelope {
  const buf = Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
  if (buf.length < 2) throw new NetworkError('bad_envelope', 'frame too short');
  const headerEnd = 2 + buf.readUInt16BE(0);
  if (headerEnd > buf.length) throw new NetworkError('bad_envelope', 'header length out of range');
  let json: unknown;
  try {
    json = JSON.parse(buf.toString('utf8', 2, headerEnd));
  } catch (e) {
    throw new NetworkError('bad_envelope', 'header is not JSON', { cause: e });
  }
  const parsed = headerSchema.safeParse(json);
  if (!parsed.success)
    throw new NetworkError('bad_envelope', 'header fields missing or mistyped', { cause: parsed.error });
  const header = parsed.data as EnvelopeHeader;
  if (header.signed === false)
    return { header, payload: buf.subarray(headerEnd), signed: buf, signature: buf.subarray(0, 0) };
  if (header.depth !== undefined && (header.leaf === undefined || header.leaf >= 2 ** header.depth))
    throw new NetworkError('bad_envelope', 'batch leaf out of range');
  if (header.leaf !== undefined && header.depth === undefined)
    throw new NetworkError('bad_envelope', 'batch leaf without a depth');
  const signedEnd = buf.length - SIGNATURE - HASH * (header.depth ?? 0);
  if (headerEnd > signedEnd) throw new NetworkError('bad_envelope', 'signature missing');
  return {
    header,
    payload: buf.subarray(headerEnd, signedEnd),
    signed: buf.subarray(0, signedEnd),
    signature: buf.subarray(signedEnd),
  };
}

/** Batch roots whose signature was verified: key ‖ signature → root (bounded; cleared when full). */
const verifiedRoots = new Map<string, string>();
const MAX_VERIFIED_ROOTS = 1024;

/**
 * True when the envelope carries a valid signature by `signingKey` (base64): over its bytes, or
 * for a batch-sealed envelope over the Merkle root its bytes and sibling hashes lead to (a root
 * already verified with this key and these signature bytes is not verified again). Never throws.
 */
export function verifyEnvelope(e: Envelope, signingKey: string): boolean {
  const depth = e.header.depth;
  if (depth === undefined) {
    if (e.signature.length !== SIGNATURE) return false;
    return verify(ENVELOPE_CONTEXT, e.signed, e.signature, Buffer.from(signingKey, 'base64'));
  }
  const leaf = e.header.leaf;
  if (leaf === undefined || e.signature.length !== HASH * depth + SIGNATURE) return false;
  let node = leafHash(e.signed);
  for (let d = 0; d < depth; d++) {
    const sibling = e.signature.subarray(HASH * d, HASH * (d + 1));
    node = (leaf >> d) & 1 ? nodeHash(sibling, node) : nodeHash(node, sibling);
  }
  const signature = e.signature.subarray(HASH * depth);
  const key = `${signingKey}:${signature.toString('base64')}`;
  const root = node.toString('base64');
  if (verifiedRoots.get(key) === root) return true;
  if (!verify(BATCH_CONTEXT, node, signature, Buffer.from(signingKey, 'base64'))) return false;
  if (verifiedRoots.size >= MAX_VERIFIED_ROOTS) verifiedRoots.clear();
  verifiedRoots.set(key, root);
  return true;
}
