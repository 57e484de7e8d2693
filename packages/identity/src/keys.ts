/**
 * Key derivation: BIP-39 mnemonic → seed → two independent keys by HKDF-SHA256 with distinct
 * labels: an ed25519 signing key and an x25519 encryption key. One key is never used for both.
 */
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { generateMnemonic, mnemonicToSeedSync, validateMnemonic } from '@scure/bip39';
import { wordlist } from '@scure/bip39/wordlists/english.js';
import { IdentityError } from './errors.ts';

const SALT = new TextEncoder().encode('digital-twin/keys/v1');
const SIGNING_LABEL = new TextEncoder().encode('twin/signing/ed25519');
const ENCRYPTION_LABEL = new TextEncoder().encode('twin/encryption/x25519');

/** The four keys of a twin, raw 32-byte values. */
export interface TwinKeys {
  signingSecret: Uint8Array;
  signingPublic: Uint8Array;
  encryptionSecret: Uint8Array;
  encryptionPublic: Uint8Array;
}

/** A fresh 24-word English mnemonic (256 bits of entropy). */
export function newMnemonic(): string {
  return generateMnemonic(wordlist, 256);
}

/**
 * The mnemonic in its one canonical form (lower case, single spaces).
 * @throws IdentityError `bad_mnemonic` unless it is 24 valid English BIP-39 words with a good checksum
 */
export function normaliseMnemonic(text: string): string {
  const words = text.trim().toLowerCase().split(/\s+/);
  const mnemonic = words.join(' ');
  if (words.length !== 24 || !validateMnemonic(mnemonic, wordlist)) {
    throw new IdentityError('bad_mnemonic', 'not a valid 24-word BIP-39 mnemonic (wrong word or checksum)');
  }
  return mnemonic;
}

/**
 * The twin's keys from its mnemonic: seed → HKDF-SHA256 with one label per key.
 * @throws IdentityError `bad_mnemonic`
 */
export function deriveKeys(mnemonic: string): TwinKeys {
  const seed = mnemonicToSeedSync(normaliseMnemonic(mnemonic));
  const signingSecret = hkdf(sha256, seed, SALT, SIGNING_LABEL, 32);
  const encryptionSecret = hkdf(sha256, seed, SALT, ENCRYPTION_LABEL, 32);
  return {
    signingSecret,
    signingPublic: ed25519.getPublicKey(signingSecret),
    encryptionSecret,
    encryptionPublic: x25519.getPublicKey(encryptionSecret),
  };
}
