/**
 * Twin bus envelopes. A frame is
 *   u16 header length ‖ header (JSON) ‖ payload [‖ 64-byte ed25519 signature]
 * A signed envelope's signature covers the exact bytes before it (context "twin/bus/envelope/v1")
 * and its header is canonical JSON; receivers verify the exact bytes they got and re-serialise
 * nothing. An envelope framed without a signature says so in its header (`signed: false`); what
 * vouches for it is the Noise session it arrives on (see the package doc for which is which).
 * Headers from other twins are validated with a zod schema before anything reads them.
 */
import { randomFillSync } from 'node:crypto';
import type { TwinIdentity } from '@twin/identity';
import { verify } from '@twin/identity';
import { canonical } from '@twin/phonebook';
import { z } from 'zod';
import { MAX_COMMAND, MAX_ERROR_MESSAGE, MAX_HEADER, REQUEST_TTL_MS } from './constants.ts';
import { NetworkError, type NetworkErrorCode } from './errors.ts';

export const ENVELOPE_CONTEXT = 'twin/bus/envelope/v1';
const SIGNATURE = 64;

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
}

export interface Envelope {
  header: EnvelopeHeader;
  payload: Buffer;
  /** The exact signed bytes (everything before the signature). */
  signed: Buffer;
  /** Empty for an envelope framed without a signature. */
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

/**
 * A signed frame: canonical header, payload, the identity's signature over both.
 * Throws NetworkError `too_large` when the header exceeds 64 KiB.
 */
export function sealEnvelope(identity: TwinIdentity, header: EnvelopeHeader, payload: Uint8Array): Buffer {
  const { signed: _, ...fields } = header;
  const h = Buffer.from(canonical(fields as unknown as Parameters<typeof canonical>[0]));
  const signed = Buffer.concat([withLength(h), h, payload]);
  return Buffer.concat([signed, identity.sign(ENVELOPE_CONTEXT, signed)]);
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
  const signedEnd = buf.length - SIGNATURE;
  if (headerEnd > signedEnd) throw new NetworkError('bad_envelope', 'signature missing');
  return {
    header,
    payload: buf.subarray(headerEnd, signedEnd),
    signed: buf.subarray(0, signedEnd),
    signature: buf.subarray(signedEnd),
  };
}

/** True when the envelope carries a valid signature by `signingKey` (base64); never throws. */
export function verifyEnvelope(e: Envelope, signingKey: string): boolean {
  if (e.signature.length !== SIGNATURE) return false;
  return verify(ENVELOPE_CONTEXT, e.signed, e.signature, Buffer.from(signingKey, 'base64'));
}
