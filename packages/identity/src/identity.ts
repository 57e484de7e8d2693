/** A twin's identity: its name and keys, able to sign and to open what was sealed to it. */
import type { KeyObject } from 'node:crypto';
import { IdentityError } from './errors.ts';
import { deriveKeys, newMnemonic, normaliseMnemonic, type TwinKeys } from './keys.ts';
import { readKeystore, unlockMnemonic, writeKeystore } from './keystore.ts';
import { openSealed } from './seal.ts';
import { privateSigningKey, signWith } from './signature.ts';

/**
 * A twin's identity: its name and the keys derived from its mnemonic. It signs (ed25519, with a
 * domain-separating context) and opens boxes sealed to its x25519 key; the secrets never leave it
 * except `signingSecret`, for deriving the libp2p key of the same twin.
 */
export class TwinIdentity {
  private readonly signingKey: KeyObject;

  private constructor(
    readonly name: string,
    private readonly keys: TwinKeys,
  ) {
    this.signingKey = privateSigningKey(keys.signingSecret);
  }

  /**
   * The identity of `name` derived from `mnemonic`.
   * @throws IdentityError `bad_mnemonic` when it is not a valid 24-word BIP-39 mnemonic
   */
  static fromMnemonic(name: string, mnemonic: string): TwinIdentity {
    return new TwinIdentity(name, deriveKeys(mnemonic));
  }

  /** The ed25519 public key (32 bytes): what the phonebook publishes and signatures verify against. */
  get signingPublicKey(): Uint8Array {
    return this.keys.signingPublic;
  }

  /** The x25519 public key (32 bytes): what others seal to. */
  get encryptionPublicKey(): Uint8Array {
    return this.keys.encryptionPublic;
  }

  /** The raw ed25519 secret (32 bytes): for deriving a libp2p key from the same identity. */
  get signingSecret(): Uint8Array {
    return this.keys.signingSecret;
  }

  /**
   * The 64-byte signature of `bytes` under `context` (e.g. 'phonebook/tx'); verify with {@link verify}.
   * @throws IdentityError `bad_key` when `context` is empty or contains a NUL
   */
  sign(context: string, bytes: Uint8Array): Uint8Array {
    return signWith(this.signingKey, context, bytes);
  }

  /**
   * The plaintext of a box sealed to this twin.
   * @throws IdentityError `bad_sealed_box` when it is malformed, tampered with, or not for this key
   */
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

/**
 * Creates (or, with `mnemonic`, restores) a twin's keystore in `home`; returns the identity and
 * the mnemonic to show once.
 * @throws IdentityError `bad_mnemonic` (a given mnemonic is invalid), `bad_keystore` (one exists
 * and `force` is not set, or `home` cannot be created)
 */
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

/**
 * The identity kept in `home`'s keystore.
 * @throws IdentityError `bad_keystore` (missing, malformed, or its public key does not match its
 * mnemonic), `bad_passphrase` (encrypted and no passphrase, or the wrong one)
 */
export function loadIdentity(home: string, passphrase?: string): TwinIdentity {
  const file = readKeystore(home);
  const identity = TwinIdentity.fromMnemonic(file.name, unlockMnemonic(file, passphrase));
  if (Buffer.from(identity.signingPublicKey).toString('base64') !== file.signingPublicKey) {
    throw new IdentityError('bad_keystore', 'keystore public key does not match its mnemonic');
  }
  return identity;
}
