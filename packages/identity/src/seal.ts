/**
 * Sealed boxes: encrypt bytes to a twin's x25519 key.
 *   ephemeral x25519 key pair → ECDH with the recipient → HKDF-SHA256 (salt = ephemeral public
 *   key ‖ recipient public key) → AES-256-GCM.
 * Layout: version (1) ‖ ephemeral public key (32) ‖ nonce (12) ‖ ciphertext ‖ tag (16).
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { x25519 } from '@noble/curves/ed25519.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { IdentityError } from './errors.ts';

const VERSION = 1;
const INFO = new TextEncoder().encode('digital-twin/seal/v1');
const OVERHEAD = 1 + 32 + 12 + 16;

function boxKey(shared: Uint8Array, ephemeral: Uint8Array, recipient: Uint8Array): Buffer {
  return Buffer.from(hkdf(sha256, shared, Buffer.concat([ephemeral, recipient]), INFO, 32));
}

/**
 * Encrypts `plaintext` so that only the holder of `recipientPublic`'s secret can read it.
 * @throws IdentityError `bad_key` when the key is not 32 bytes
 * @example
 * const box = seal(Buffer.from('hi'), bob.encryptionPublicKey); // bob.open(box) → 'hi'
 */
export function seal(plaintext: Uint8Array, recipientPublic: Uint8Array): Buffer {
  if (recipientPublic.length !== 32) throw new IdentityError('bad_key', 'x25519 public key must be 32 bytes');
  const ephemeralSecret = randomBytes(32);
  const ephemeral = x25519.getPublicKey(ephemeralSecret);
  const key = boxKey(x25519.getSharedSecret(ephemeralSecret, recipientPublic), ephemeral, recipientPublic);
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  const header = Buffer.concat([Buffer.from([VERSION]), ephemeral, nonce]);
  cipher.setAAD(header);
  return Buffer.concat([header, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
}

/**
 * Decrypts a sealed box with the recipient's x25519 key pair (TwinIdentity.open does this).
 * @throws IdentityError `bad_sealed_box` when it is malformed, tampered with, or not for this key
 */
export function openSealed(
  sealed: Uint8Array,
  recipientSecret: Uint8Array,
  recipientPublic: Uint8Array,
): Buffer {
  const box = Buffer.from(sealed);
  if (box.length < OVERHEAD || box[0] !== VERSION)
    throw new IdentityError('bad_sealed_box', 'not a sealed box');
  const ephemeral = box.subarray(1, 33);
  const nonce = box.subarray(33, 45);
  const key = boxKey(x25519.getSharedSecret(recipientSecret, ephemeral), ephemeral, recipientPublic);
  const decipher = createDecipheriv('aes-256-gcm', key, nonce);
  decipher.setAAD(box.subarray(0, 45));
  decipher.setAuthTag(box.subarray(box.length - 16));
  try {
    return Buffer.concat([decipher.update(box.subarray(45, box.length - 16)), decipher.final()]);
  } catch {
    throw new IdentityError(
      'bad_sealed_box',
      'sealed box failed authentication (tampered, or not for this key)',
    );
  }
}
