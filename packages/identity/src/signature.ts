/**
 * Signatures with domain separation: the signed message is
 *   "digital-twin/sig/v1" 0x00 <context> 0x00 <bytes>
 * so a signature made for one kind of message (a phonebook transaction, a bus envelope) can never
 * be replayed as another. Signing and verifying use node:crypto's native ed25519.
 */
import {
  createPrivateKey,
  createPublicKey,
  type KeyObject,
  sign as nodeSign,
  verify as nodeVerify,
} from 'node:crypto';
import { IdentityError } from './errors.ts';

const PREFIX = Buffer.from('digital-twin/sig/v1\0');
const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_ED25519 = Buffer.from('302a300506032b6570032100', 'hex');

/**
 * The bytes actually signed: prefix, context, NUL, bytes.
 * @throws IdentityError `bad_key` when `context` is empty or contains a NUL
 */
export function signedMessage(context: string, bytes: Uint8Array): Buffer {
  if (context.length === 0 || context.includes('\0'))
    throw new IdentityError('bad_key', 'invalid signature context');
  return Buffer.concat([PREFIX, Buffer.from(context), Buffer.from([0]), bytes]);
}

/**
 * A node:crypto private key from a raw ed25519 secret.
 * @throws IdentityError `bad_key` unless it is 32 bytes
 */
export function privateSigningKey(secret: Uint8Array): KeyObject {
  if (secret.length !== 32) throw new IdentityError('bad_key', 'ed25519 secret must be 32 bytes');
  return createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, secret]), format: 'der', type: 'pkcs8' });
}

const publicKeys = new Map<string, KeyObject>();

function publicKeyObject(pub: Uint8Array): KeyObject {
  const id = Buffer.from(pub).toString('base64');
  let key = publicKeys.get(id);
  if (!key) {
    if (pub.length !== 32) throw new IdentityError('bad_key', 'ed25519 public key must be 32 bytes');
    key = createPublicKey({ key: Buffer.concat([SPKI_ED25519, pub]), format: 'der', type: 'spki' });
    if (publicKeys.size > 100_000) publicKeys.clear();
    publicKeys.set(id, key);
  }
  return key;
}

/** Signs `bytes` under `context` with a private key from {@link privateSigningKey}. */
export function signWith(key: KeyObject, context: string, bytes: Uint8Array): Uint8Array {
  return nodeSign(null, signedMessage(context, bytes), key);
}

/**
 * True when `signature` is `pub`'s signature of `bytes` under `context`; false for anything
 * malformed (never throws).
 * @example
 * verify('my-app/v1', bytes, alice.sign('my-app/v1', bytes), alice.signingPublicKey) // true
 */
export function verify(context: string, bytes: Uint8Array, signature: Uint8Array, pub: Uint8Array): boolean {
  if (signature.length !== 64 || pub.length !== 32) return false;
  try {
    return nodeVerify(null, signedMessage(context, bytes), publicKeyObject(pub), signature);
  } catch {
    return false;
  }
}
