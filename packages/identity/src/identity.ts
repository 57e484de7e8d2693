/** A twin's identity: its name and keys, able to sign and to open what was sealed to it. */
import type { KeyObject } from 'node:crypto';
import { IdentityError } from './errors.ts';
import { deriveKeys, newMnemonic, normaliseMnemonic, type TwinKeys } from './keys.ts';
import { readKeystore, unlockMnemonic, writeKeystore } from './keystore.ts';
import { openSealed } from './seal.ts';
import { privateSigningKey, signWith } from './signature.ts';

export class TwinIdentity {
  private readonly signingKey: KeyObject;

  private constructor(
    readonly name: string,
    private readonly keys: TwinKeys,
  ) {
    this.signingKey = privateSigningKey(keys.signingSecret);
  }

  static fromMnemonic(name: string, mnemonic: string): TwinIdentity {
    return new TwinIdentity(name, deriveKeys(mnemonic));
  }

  get signingPublicKey(): Uint8Array {
    return this.keys.signingPublic;
  }

  get encryptionPublicKey(): Uint8Array {
    return this.keys.encryptionPublic;
  }

  /** The raw ed25519 secret (32 bytes): for deriving a libp2p key from the same identity. */
  get signingSecret(): Uint8Array {
    return this.keys.signingSecret;
  }

  sign(context: string, bytes: Uint8Array): Uint8Array {
    return signWith(this.signingKey, context, bytes);
  }

  open(sealed: Uint8Array): Buffer {
    return openSealed(sealed, this.keys.encryptionSecret, this.keys.encryptionPublic);
  }
}

export interface InitOptions {
  home: string;
  name: string;
  /** Restore from this mnemonic instead of generating one. */
  mnemonic?: string;
  passphrase?: string;
  force?: boolean;
}

/** Creates (or restores) a twin's keystore; returns the identity and the mnemonic to show once. */
export function initIdentity(o: InitOptions): { identity: TwinIdentity; mnemonic: string } {
  const mnemonic = o.mnemonic ? normaliseMnemonic(o.mnemonic) : newMnemonic();
  const identity = TwinIdentity.fromMnemonic(o.name, mnemonic);
  writeKeystore(
    o.home,
    {
      name: o.name,
      created: new Date().toISOString(),
      signingPublicKey: Buffer.from(identity.signingPublicKey).toString('base64'),
      encryptionPublicKey: Buffer.from(identity.encryptionPublicKey).toString('base64'),
    },
    mnemonic,
    o.passphrase,
    Boolean(o.force),
  );
  return { identity, mnemonic };
}

export function loadIdentity(home: string, passphrase?: string): TwinIdentity {
  const file = readKeystore(home);
  const identity = TwinIdentity.fromMnemonic(file.name, unlockMnemonic(file, passphrase));
  if (Buffer.from(identity.signingPublicKey).toString('base64') !== file.signingPublicKey) {
    throw new IdentityError('bad_keystore', 'keystore public key does not match its mnemonic');
  }
  return identity;
}
