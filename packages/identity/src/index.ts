export { IdentityError, type IdentityErrorCode } from './errors.ts';
export { type InitOptions, initIdentity, loadIdentity, TwinIdentity } from './identity.ts';
export { deriveKeys, newMnemonic, normaliseMnemonic, type TwinKeys } from './keys.ts';
export { type KeystoreFile, keystorePath, readKeystore } from './keystore.ts';
export { openSealed, seal } from './seal.ts';
export { verify } from './signature.ts';
