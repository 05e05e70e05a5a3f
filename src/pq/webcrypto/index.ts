/**
 * The WebCrypto backend: a {@link CryptoProvider} for runtimes without
 * `node:crypto` (browsers, Workers, Deno, Bun; Node has
 * `globalThis.crypto.subtle` too), with the same groups, signature schemes,
 * encodings, randomness draws and errors as `createNobleProvider()`.
 * @module
 */
import { ConfigError, UnsupportedAlgorithmError } from '../../errors.js';
import { groupName, type AeadAlgorithm, type HashAlgorithm, type HeaderProtectionAlgorithm, type KeyAlgorithm, type NamedGroup, type SigningScheme } from '../ids.js';
import { createNobleProvider } from '../noble/index.js';
import { nobleAead, nobleHash, nobleHeaderProtection, nobleHkdfExpand, nobleHkdfExtract, nobleHmac } from '../noble/symmetric.js';
import { platformSubtle } from '../noble/rsa-webcrypto.js';
import type { CryptoProvider, KeyPair, PrivateKeyMaterial, PrivateKeyRef, VerifyOptions } from '../provider.js';
import { systemRandom, type RandomSource } from '../random.js';
import { RSA_MIN_SIGN_BITS } from '../rsa-keys.js';
import { subtleFeatures, type SubtleFeatures } from './detect.js';
import { WEBCRYPTO_GROUPS, webKeyExchanges } from './kex.js';
import { WEBCRYPTO_SCHEMES, WebSigner } from './signer.js';
import { webAesGcm } from './symmetric.js';

export interface WebCryptoProviderOptions {
  /**
   * Source of every random byte the provider decides: key generation, key
   * shares, ML-DSA hedges, `random()`. Defaults to the platform CSPRNG. A
   * seeded source makes runs reproducible and byte-identical to the noble
   * backend fed the same stream, ECDSA and RSA-PSS signatures aside:
   * SubtleCrypto draws their nonce and salt itself.
   */
  random?: RandomSource;
  /** The SubtleCrypto to use. Defaults to `globalThis.crypto.subtle`. */
  subtle?: SubtleCrypto;
  /** Smallest RSA modulus, in bits, accepted for signing keys. Default 2048; lower it only to replay published traces. */
  minRsaSigningBits?: number;
}

/**
 * A {@link CryptoProvider} named `webcrypto`. Each primitive runs where it is
 * faster, as measured by `npm run bench -- webcrypto` (figures from Node 20's
 * SubtleCrypto, where every call is a promise and a hop to a worker thread,
 * as in browsers):
 * - SubtleCrypto: AES-128/256-GCM (×3–10 on 16 KiB records, about even at 1200 B),
 *   P-256 and P-384 ECDH, ECDSA signing and verification, RSA-PSS and RSA
 *   PKCS #1 v1.5 signing (constant-time and blinded, unlike bigint), and
 *   X25519 and Ed25519 where the runtime has them (detected once per
 *   SubtleCrypto by reproducing their RFC test vectors; noble otherwise);
 * - noble: ML-KEM (alone and in the hybrids), ML-DSA, SLH-DSA,
 *   ChaCha20-Poly1305 (not in WebCrypto); SHA-2 (transcripts are
 *   incremental and forked, which SubtleCrypto's one-shot `digest` cannot
 *   do); HMAC and HKDF, whose inputs in TLS and QUIC are a few dozen bytes, so
 *   that SubtleCrypto's per-call cost makes them 15–30 times slower there; RSA
 *   verification, a public-exponent operation that bigint does 2–3 times faster
 *   than an SPKI import and a verify; and QUIC header protection: SubtleCrypto
 *   has no AES-ECB, and the same mask from one block of AES-CTR with the sample
 *   as counter is ~30 times slower than noble's block cipher on a key expanded once.
 *
 * Private keys are opaque {@link PrivateKeyRef}s owned by this provider over
 * non-extractable CryptoKeys. RSA keys are imported, never generated (as with noble).
 *
 * @throws ConfigError if there is no SubtleCrypto (no `options.subtle` and none on `globalThis.crypto`).
 */
export function createWebCryptoProvider(options: WebCryptoProviderOptions = {}): CryptoProvider {
  const subtle = options.subtle ?? platformSubtle();
  if (!subtle) throw new ConfigError('createWebCryptoProvider: this runtime has no crypto.subtle; use createNobleProvider()');
  const random = options.random ?? systemRandom;
  const name = 'webcrypto';
  const minRsaSigningBits = options.minRsaSigningBits ?? RSA_MIN_SIGN_BITS;
  // ML-DSA, SLH-DSA and the reference verifier; RSA never signs there, so its RSA path is moot.
  const noble = createNobleProvider({ random, minRsaSigningBits, rsaPrivateOps: 'bigint' });
  // Detected on first use, not here: a Worker may build its provider in global scope, where workerd refuses
  // asynchronous work; later providers on the same SubtleCrypto reuse the first detection.
  const features = (): Promise<SubtleFeatures> => subtleFeatures(subtle);
  const signer = new WebSigner(name, random, subtle, features, minRsaSigningBits, noble);
  const kex = webKeyExchanges(name, random, subtle, features);

  return Object.freeze({
    name,
    groups: WEBCRYPTO_GROUPS,
    signatureSchemes: WEBCRYPTO_SCHEMES,
    random: async (length: number) => random(length),
    hash: (alg: HashAlgorithm) => nobleHash(alg),
    hmac: async (alg: HashAlgorithm, key: Uint8Array, data: Uint8Array) => nobleHmac(alg, key, data),
    hkdfExtract: async (alg: HashAlgorithm, salt: Uint8Array, ikm: Uint8Array) => nobleHkdfExtract(alg, salt, ikm),
    hkdfExpand: async (alg: HashAlgorithm, prk: Uint8Array, info: Uint8Array, length: number) => nobleHkdfExpand(alg, prk, info, length),
    aead: async (alg: AeadAlgorithm, key: Uint8Array) => (alg === 'CHACHA20-POLY1305' ? nobleAead(alg, key) : webAesGcm(subtle, alg, key)),
    headerProtection: async (alg: HeaderProtectionAlgorithm, key: Uint8Array) => nobleHeaderProtection(alg, key),
    keyExchange: (group: NamedGroup) => {
      const k = kex.get(group);
      if (!k) throw new UnsupportedAlgorithmError(`webcrypto provider has no key exchange for group ${groupName(group)}`);
      return k;
    },
    sign: (scheme: SigningScheme, key: PrivateKeyRef, message: Uint8Array) => signer.sign(scheme, key, message),
    verify: (scheme: SigningScheme, publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array, options?: VerifyOptions) =>
      signer.verify(scheme, publicKey, message, signature, options),
    generateKeyPair: (alg: KeyAlgorithm): Promise<KeyPair> => signer.generateKeyPair(alg),
    importPrivateKey: (material: PrivateKeyMaterial): Promise<KeyPair> => signer.importPrivateKey(material),
    exportPrivateKey: (key: PrivateKeyRef): Promise<PrivateKeyMaterial> => signer.exportPrivateKey(key),
  });
}
