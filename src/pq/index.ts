/**
 * The crypto provider interface, algorithm identifiers and the default noble backend.
 * @module
 */
export * from './ids.js';
export type {
  CryptoProvider, HashFunction, HashContext, AeadKey, HeaderProtectionKey, KeyExchange, KeyShare, PrivateKeyRef,
  KeyPair, PrivateKeyMaterial, VerifyOptions,
} from './provider.js';
export { createNobleProvider, type NobleProviderOptions } from './noble/index.js';
export type { RsaPrivateOps } from './noble/rsa-webcrypto.js';
export { systemRandom, seededRandom, scriptedRandom, type RandomSource } from './random.js';
