/**
 * Encryption at rest of what the experiences keep. The key is derived from the twin's identity
 * with its own HKDF label (never the signing or the sealing key itself): message texts, contact
 * request messages and group states are stored as AES-256-GCM ciphertext (fresh nonce each), and
 * the full-text index holds keyed hashes of words (HMAC-SHA256, a second derived key), not words.
 *
 * What the index leaks, and why: equal words give equal tokens, so someone with the file sees how
 * often each (unknown) word occurs and which messages share words; that is the price of searching
 * on the owner's side without decrypting every message. Search matches whole words, not prefixes.
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { TwinError } from '../errors.ts';

export const AT_REST_LABEL = 'digital-twin/experiences/at-rest/v1';
export const INDEX_LABEL = 'digital-twin/experiences/search-index/v1';
/** The key that encrypts file chunks kept in the twin's own 0-db. */
export const FILES_LABEL = 'digital-twin/experiences/files/v1';
const PREFIX = 'v1:';

export class Vault {
  private readonly key: Buffer;
  private readonly indexKey: Buffer;
  /** AES-256-GCM key of the file chunks kept in the embedded 0-db (blobs.ts). */
  readonly filesKey: Buffer;

  constructor(secret: Uint8Array) {
    this.filesKey = Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), FILES_LABEL, 32));
    this.key = Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), AT_REST_LABEL, 32));
    this.indexKey = Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), INDEX_LABEL, 32));
  }

  seal(text: string): string {
    if (text === '') return '';
    const nonce = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.key, nonce);
    const body = Buffer.concat([c.update(text, 'utf8'), c.final()]);
    return PREFIX + Buffer.concat([nonce, c.getAuthTag(), body]).toString('base64');
  }

  open(stored: string): string {
    if (stored === '') return '';
    if (!stored.startsWith(PREFIX)) throw new TwinError('bad_reply', 'a stored value is not sealed');
    const raw = Buffer.from(stored.slice(PREFIX.length), 'base64');
    const d = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
    d.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([d.update(raw.subarray(28)), d.final()]).toString('utf8');
  }

  /** The words of a text (letters and digits, lower-cased). */
  static words(text: string): string[] {
    return (text.toLowerCase().match(/[\p{L}\p{N}_]+/gu) ?? []).slice(0, 4096);
  }

  /** The keyed tokens the full-text index holds for a text. */
  tokens(text: string): string {
    return [...new Set(Vault.words(text))].map((w) => this.token(w)).join(' ');
  }

  token(word: string): string {
    return `t${createHmac('sha256', this.indexKey).update(word).digest('hex').slice(0, 24)}`;
  }
}
