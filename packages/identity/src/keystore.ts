/**
 * The keystore: `<home>/keystore.json`, mode 0600. It holds the mnemonic (from which every key
 * derives), in clear or encrypted with a passphrase (scrypt → AES-256-GCM), plus the twin's name
 * and public keys in clear so tools can show them without the passphrase.
 */
import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { IdentityError } from './errors.ts';

export const KEYSTORE_FILE = 'keystore.json';

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

function passphraseKey(passphrase: string, salt: Buffer, params = SCRYPT): Buffer {
  return scryptSync(passphrase.normalize('NFKC'), salt, 32, {
    ...params,
    maxmem: 128 * params.N * params.r * 2,
  });
}

export function keystorePath(home: string): string {
  return join(home, KEYSTORE_FILE);
}

export function writeKeystore(
  home: string,
  content: Omit<KeystoreFile, 'mnemonic' | 'sealed' | 'version'>,
  mnemonic: string,
  passphrase: string | undefined,
  force: boolean,
): void {
  const path = keystorePath(home);
  if (existsSync(path) && !force) {
    throw new IdentityError('EKEYSTORE', `a keystore already exists in ${home} (use --force to replace it)`);
  }
  mkdirSync(home, { recursive: true, mode: 0o700 });
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

export function readKeystore(home: string): KeystoreFile {
  const path = keystorePath(home);
  if (!existsSync(path))
    throw new IdentityError(
      'EKEYSTORE',
      `no keystore in ${home} (run: twin init --home ${home} --name NAME)`,
    );
  let file: KeystoreFile;
  try {
    file = JSON.parse(readFileSync(path, 'utf8')) as KeystoreFile;
  } catch {
    throw new IdentityError('EKEYSTORE', `${path} is not a valid keystore`);
  }
  if (file.version !== 1 || typeof file.name !== 'string' || (!file.mnemonic && !file.sealed)) {
    throw new IdentityError('EKEYSTORE', `${path} is not a valid keystore`);
  }
  return file;
}

/** The mnemonic inside a keystore; needs the passphrase when it is encrypted. */
export function unlockMnemonic(file: KeystoreFile, passphrase: string | undefined): string {
  if (file.mnemonic) return file.mnemonic;
  const s = file.sealed!;
  if (!passphrase)
    throw new IdentityError(
      'EPASSPHRASE',
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
    throw new IdentityError('EPASSPHRASE', 'wrong passphrase (or the keystore was tampered with)');
  }
}
