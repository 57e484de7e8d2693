/**
 * The keystore: `<home>/keystore.json`, mode 0600. It holds the mnemonic (from which every key
 * derives), in clear or encrypted with a passphrase (scrypt → AES-256-GCM), plus the twin's name
 * and public keys in clear so tools can show them without the passphrase.
 */
import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeDirectory } from './directory.ts';
import { IdentityError } from './errors.ts';

/** The keystore's file name inside a twin's home. */
export const KEYSTORE_FILE = 'keystore.json';

/** The keystore file's content: public parts in clear, the mnemonic in clear or sealed. */
export interface KeystoreFile {
  version: 1;
  name: string;
  created: string;
  signingPublicKey: string;
  encryptionPublicKey: string;
  /** Present when not encrypted. */
  mnemonic?: string;
  /** Present when encrypted. */
  sealed?: {
    kdf: 'scrypt';
    N: number;
    r: number;
    p: number;
    salt: string;
    nonce: string;
    ciphertext: string;
  };
}

const SCRYPT = { N: 1 << 15, r: 8, p: 1 };
/** A keystore asking for more than this (memory: 128·N·r bytes) is refused, not obeyed. */
const SCRYPT_MAX = { N: 1 << 20, r: 16, p: 4 };

function passphraseKey(passphrase: string, salt: Buffer, params = SCRYPT): Buffer {
  return scryptSync(passphrase.normalize('NFKC'), salt, 32, {
    ...params,
    maxmem: 128 * params.N * params.r * 2,
  });
}

/** Where `home`'s keystore lives. */
export function keystorePath(home: string): string {
  return join(home, KEYSTORE_FILE);
}

/**
 * Writes the keystore atomically (temp file + rename, mode 0600), sealing the mnemonic when a
 * passphrase is given.
 * @throws IdentityError `bad_keystore` when one exists and `force` is false, or `home` cannot be created
 */
export function writeKeystore(
  home: string,
  content: Omit<KeystoreFile, 'mnemonic' | 'sealed' | 'version'>,
  mnemonic: string,
  passphrase: string | undefined,
  force: boolean,
): void {
  const path = keystorePath(home);
  if (existsSync(path) && !force) {
    throw new IdentityError(
      'bad_keystore',
      `a keystore already exists in ${home} (use --force to replace it)`,
    );
  }
  try {
    makeDirectory(home);
  } catch (e) {
    throw new IdentityError('bad_keystore', (e as Error).message, { cause: e });
  }
  const file: KeystoreFile = { version: 1, ...content };
  if (passphrase) {
    const salt = randomBytes(16);
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', passphraseKey(passphrase, salt), nonce);
    cipher.setAAD(Buffer.from(content.signingPublicKey));
    const ciphertext = Buffer.concat([cipher.update(mnemonic), cipher.final(), cipher.getAuthTag()]);
    file.sealed = {
      kdf: 'scrypt',
      ...SCRYPT,
      salt: salt.toString('base64'),
      nonce: nonce.toString('base64'),
      ciphertext: ciphertext.toString('base64'),
    };
  } else {
    file.mnemonic = mnemonic;
  }
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

/**
 * `home`'s keystore, its shape checked field by field (scrypt parameters bounded).
 * @throws IdentityError `bad_keystore` when it is missing, not JSON or malformed
 */
export function readKeystore(home: string): KeystoreFile {
  const path = keystorePath(home);
  if (!existsSync(path))
    throw new IdentityError(
      'bad_keystore',
      `no keystore in ${home} (run: twin init --home ${home} --name NAME)`,
    );
  let file: KeystoreFile;
  try {
    file = JSON.parse(readFileSync(path, 'utf8')) as KeystoreFile;
  } catch {
    throw new IdentityError('bad_keystore', `${path} is not a valid keystore`);
  }
  if (!isKeystore(file)) throw new IdentityError('bad_keystore', `${path} is not a valid keystore`);
  return file;
}

const isString = (v: unknown): v is string => typeof v === 'string';

/** The file's shape, checked field by field before anything uses it (it may be edited by hand). */
function isKeystore(f: unknown): f is KeystoreFile {
  if (typeof f !== 'object' || f === null) return false;
  const k = f as Record<string, unknown>;
  if (k.version !== 1 || !isString(k.name) || !isString(k.signingPublicKey)) return false;
  if (k.mnemonic !== undefined) return isString(k.mnemonic) && k.mnemonic.length > 0;
  const s = k.sealed as Record<string, unknown> | undefined;
  return (
    typeof s === 'object' &&
    s !== null &&
    s.kdf === 'scrypt' &&
    [s.N, s.r, s.p].every((n) => Number.isSafeInteger(n) && (n as number) > 0) &&
    (s.N as number) <= SCRYPT_MAX.N &&
    (s.r as number) <= SCRYPT_MAX.r &&
    (s.p as number) <= SCRYPT_MAX.p &&
    [s.salt, s.nonce, s.ciphertext].every(isString)
  );
}

/**
 * The mnemonic inside a keystore; needs the passphrase when it is encrypted.
 * @throws IdentityError `bad_passphrase` when it is missing or wrong (or the keystore was tampered with)
 */
export function unlockMnemonic(file: KeystoreFile, passphrase: string | undefined): string {
  if (file.mnemonic) return file.mnemonic;
  const s = file.sealed!;
  if (!passphrase)
    throw new IdentityError(
      'bad_passphrase',
      'the keystore is encrypted: give its passphrase (--passphrase-file or TWIN_PASSPHRASE)',
    );
  const data = Buffer.from(s.ciphertext, 'base64');
  const decipher = createDecipheriv(
    'aes-256-gcm',
    passphraseKey(passphrase, Buffer.from(s.salt, 'base64'), s),
    Buffer.from(s.nonce, 'base64'),
  );
  decipher.setAAD(Buffer.from(file.signingPublicKey));
  decipher.setAuthTag(data.subarray(data.length - 16));
  try {
    return Buffer.concat([decipher.update(data.subarray(0, data.length - 16)), decipher.final()]).toString();
  } catch {
    throw new IdentityError('bad_passphrase', 'wrong passphrase (or the keystore was tampered with)');
  }
}
