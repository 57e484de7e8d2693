/**
 * @twin/identity: a twin's keys. One 24-word BIP-39 mnemonic derives, by HKDF with separate
 * labels, an ed25519 signing key and an x25519 encryption key; the keystore
 * (`<home>/keystore.json`, 0600, optionally sealed with a passphrase) holds the mnemonic.
 * Signatures are domain-separated by a context string, so a signature made for one kind of
 * message never verifies as another; sealed boxes encrypt to a twin's x25519 key.
 *
 * Main types: {@link TwinIdentity} (name + keys: sign, open), {@link initIdentity} /
 * {@link loadIdentity} (keystore), {@link verify}, {@link seal} / {@link openSealed}.
 * Errors: {@link IdentityError} with codes `bad_mnemonic`, `bad_keystore`, `bad_passphrase`,
 * `bad_sealed_box`, `bad_key`.
 *
 * @example
 * ```ts
 * const { identity, mnemonic } = initIdentity({ home, name: 'alice', passphrase }); // show mnemonic once
 * const sig = identity.sign('my-app/v1', bytes);
 * verify('my-app/v1', bytes, sig, identity.signingPublicKey); // true
 * const box = seal(Buffer.from('hi'), bob.encryptionPublicKey); // only bob can open it
 * ```
 */
export { makeDirectory } from './directory.ts';
export { IdentityError, type IdentityErrorCode } from './errors.ts';
export { type InitOptions, initIdentity, loadIdentity, TwinIdentity } from './identity.ts';
export { deriveKeys, newMnemonic, normaliseMnemonic, type TwinKeys } from './keys.ts';
export { type KeystoreFile, keystorePath, readKeystore } from './keystore.ts';
export { openSealed, seal } from './seal.ts';
export { verify } from './signature.ts';
