/**
 * The crypto provider interface, algorithm identifiers, the default noble
 * backend, the WebCrypto backend and the system random source.
 *
 * Exported flat, like every pqtls entry, with the shared error classes
 * (`PqtlsError` and its subclasses, `AlertDescription`).
 * @module
 */
export * from '../errors.js';
export * from './ids.js';
export type {
  CryptoProvider, HashFunction, HashContext, AeadKey, HeaderProtectionKey, KeyExchange, KeyShare, PrivateKeyRef,
  KeyPair, PrivateKeyMaterial, VerifyOptions,
} from './provider.js';
export { createNobleProvider, type NobleProviderOptions, type RsaPrivateOps } from './noble/index.js';
export { createWebCryptoProvider, type WebCryptoProviderOptions } from './webcrypto/index.js';
export { systemRandom, type RandomSource } from './random.js';
