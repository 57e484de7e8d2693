/**
 * Sealed boxes: encrypt bytes to a twin's x25519 key.
 *   ephemeral x25519 key pair → ECDH with the recipient → HKDF-SHA256 (salt = ephemeral public
 *   key ‖ recipient public key) → AES-256-GCM.
 * Layout: version (1) ‖ ephemeral public key (32) ‖ nonce (12) ‖ ciphertext ‖ tag (16).
 *
 * The x25519 and HKDF steps run in node:crypto (OpenSSL): about 20× faster than the pure-JS
 * curve they replace, with the same bytes on the wire, so boxes sealed before still open.
 */
import {
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  type KeyObject,
  randomBytes,
} from 'node:crypto';
import { IdentityError } from './errors.ts';

const VERSION = 1;
const INFO = Buffer.from('digital-twin/seal/v1');
const OVERHEAD = 1 + 32 + 12 + 16;
/** Recipients' public keys kept as KeyObjects (a twin seals to few others, again and again). */
const PUBLIC_CACHE = 1024;

const b64url = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');

const publicKeys = new Map<string, KeyObject>();
function publicKey(raw: Uint8Array): KeyObject {
  const x = b64url(raw);
  let key = publicKeys.get(x);
  if (!key) {
    key = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x }, format: 'jwk' });
    if (publicKeys.size >= PUBLIC_CACHE) publicKeys.delete(publicKeys.keys().next().value!);
    publicKeys.set(x, key);
  }
  return key;
}

const privateKeys = new WeakMap<Uint8Array, KeyObject>();
function privateKey(secret: Uint8Array, pub: Uint8Array): KeyObject {
  let key = privateKeys.get(secret);
  if (!key) {
    key = createPrivateKey({
      key: { kty: 'OKP', crv: 'X25519', d: b64url(secret), x: b64url(pub) },
      format: 'jwk',
    });
    privateKeys.set(secret, key);
  }
  return key;
}

/** The x25519 shared secret; IdentityError `bad_key` for a low-order point (an all-zero secret). */
function sharedSecret(privateKey: KeyObject, publicKey: KeyObject): Buffer {
  try {
    return diffieHellman({ privateKey, publicKey });
  } catch (e) {
    throw new IdentityError('bad_key', 'x25519 key agreement failed (a low-order public key)', { cause: e });
  }
}

function boxKey(shared: Uint8Array, ephemeral: Uint8Array, recipient: Uint8Array): Buffer {
  return Buffer.from(hkdfSync('sha256', shared, Buffer.concat([ephemeral, recipient]), INFO, 32));
}

/**
 * Encrypts `plaintext` so that only the holder of `recipientPublic`'s secret can read it.
 * @throws IdentityError `bad_key` when the key is not 32 bytes
 * @example
 * const box = seal(Buffer.from('hi'), bob.encryptionPublicKey); // bob.open(box) → 'hi'
 */
export function seal(plaintext: Uint8Array, recipientPublic: Uint8Array): Buffer {
  if (recipientPublic.length !== 32) throw new IdentityError('bad_key', 'x25519 public key must be 32 bytes');
  const pair = generateKeyPairSync('x25519');
  const ephemeral = Buffer.from(pair.publicKey.export({ format: 'jwk' }).x!, 'base64url');
  const key = boxKey(sharedSecret(pair.privateKey, publicKey(recipientPublic)), ephemeral, recipientPublic);
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
  let shared: Buffer;
  try {
    shared = sharedSecret(privateKey(recipientSecret, recipientPublic), publicKey(ephemeral));
  } catch {
    throw new IdentityError('bad_sealed_box', 'not a sealed box (its ephemeral key is not usable)');
  }
  const key = boxKey(shared, ephemeral, recipientPublic);
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
