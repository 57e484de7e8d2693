/**
 * Twin bus envelopes. The signed bytes are
 *   u16 header length ‖ header (canonical JSON) ‖ payload
 * and the frame on the wire is those bytes followed by the sender's 64-byte ed25519 signature
 * (context "twin/bus/envelope/v1"). Receivers verify the exact bytes they got; nothing is
 * re-serialised before verification.
 */

import type { TwinIdentity } from '@twin/identity';
import { verify } from '@twin/identity';
import { canonical } from '@twin/phonebook';
import { BusError, type BusErrorCode } from './errors.ts';

export const ENVELOPE_CONTEXT = 'twin/bus/envelope/v1';
const SIGNATURE = 64;

export type EnvelopeKind = 'request' | 'response' | 'message' | 'ack';

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
  /** For responses and acks: the id of the envelope answered. */
  re?: string;
  /** For error responses. */
  error?: { code: BusErrorCode; message: string };
  /** For one-way messages: per-sender sequence number (delivery order). */
  seq?: number;
}

export interface Envelope {
  header: EnvelopeHeader;
  payload: Buffer;
  /** The exact signed bytes. */
  signed: Buffer;
  signature: Buffer;
}

export function sealEnvelope(identity: TwinIdentity, header: EnvelopeHeader, payload: Uint8Array): Buffer {
  const h = Buffer.from(canonical(header as unknown as Parameters<typeof canonical>[0]));
  if (h.length > 0xffff) throw new BusError('too_large', 'envelope header too large');
  const len = Buffer.allocUnsafe(2);
  len.writeUInt16BE(h.length);
  const signed = Buffer.concat([len, h, payload]);
  return Buffer.concat([signed, identity.sign(ENVELOPE_CONTEXT, signed)]);
}

/** Parses a frame (no signature check yet: that needs the sender's key). */
export function openEnvelope(frame: Uint8Array): Envelope {
  const buf = Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
  if (buf.length < 2 + SIGNATURE) throw new BusError('bad_envelope', 'frame too short');
  const headerLength = buf.readUInt16BE(0);
  const signedEnd = buf.length - SIGNATURE;
  if (2 + headerLength > signedEnd) throw new BusError('bad_envelope', 'header length out of range');
  let header: EnvelopeHeader;
  try {
    header = JSON.parse(buf.toString('utf8', 2, 2 + headerLength)) as EnvelopeHeader;
  } catch {
    throw new BusError('bad_envelope', 'header is not JSON');
  }
  if (
    typeof header.id !== 'string' ||
    typeof header.from !== 'number' ||
    typeof header.to !== 'number' ||
    typeof header.command !== 'string' ||
    typeof header.created !== 'number' ||
    typeof header.ttl !== 'number' ||
    !['request', 'response', 'message', 'ack'].includes(header.kind)
  ) {
    throw new BusError('bad_envelope', 'header fields missing or mistyped');
  }
  return {
    header,
    payload: buf.subarray(2 + headerLength, signedEnd),
    signed: buf.subarray(0, signedEnd),
    signature: buf.subarray(signedEnd),
  };
}

export function verifyEnvelope(e: Envelope, signingKey: string): boolean {
  return verify(ENVELOPE_CONTEXT, e.signed, e.signature, Buffer.from(signingKey, 'base64'));
}
