/**
 * The native backend: the CryptoProvider on node:crypto (OpenSSL) wherever
 * the runtime has the primitive, and on noble for what Node 20 lacks, ML-KEM
 * and ML-DSA. It lives outside the core because it imports
 * node:crypto; protocol code sees only the {@link CryptoProvider} interface.
 */
import { randomFillSync } from 'node:crypto';
import { UnsupportedAlgorithmError } from '../errors.js';
import { groupName, type AeadAlgorithm, type HashAlgorithm, type HeaderProtectionAlgorithm, type KeyAlgorithm, type NamedGroup, type SigningScheme } from '../pq/ids.js';
import { createNobleProvider } from '../pq/index.js';
import { RSA_MIN_SIGN_BITS } from '../pq/rsa-keys.js';
import type { AeadKey, CryptoProvider, KeyPair, PrivateKeyMaterial, PrivateKeyRef, VerifyOptions } from '../pq/provider.js';
import type { RandomSource } from '../pq/random.js';
import { NODE_GROUPS, nodeKeyExchanges } from './crypto/kex.js';
import { NODE_SCHEMES, NodeSigner } from './crypto/signer.js';
import { nativePqSupport } from './crypto/native-pq.js';
import { nodeHkdfExpand, nodeHkdfExtract, nodeHmac } from './crypto/hmac.js';
import { nodeAead, nodeHash, nodeHeaderProtection } from './crypto/symmetric.js';
import { opensslFfi, type OpensslFfi } from './crypto/openssl-ffi.js';
import { opensslPkey, type OpensslPkey } from './crypto/openssl-pkey.js';

export interface NodeCryptoProviderOptions {
  /**
   * Source of every random byte the provider decides: key generation, key
   * shares, ML-DSA hedges, RSA-PSS salts, `random()`. Defaults to OpenSSL's
   * CSPRNG. A seeded source makes runs reproducible and byte-identical to the
   * noble backend fed the same stream (ECDSA signatures aside: OpenSSL draws
   * their nonces itself).
   */
  random?: RandomSource;
  /** Smallest RSA modulus, in bits, accepted for signing keys. Default 2048; lower it only to replay published traces. */
  minRsaSigningBits?: number;
  /**
   * Run ML-KEM and ML-DSA on node:crypto when this runtime's OpenSSL has them
   * (Node ≥ 24.7; detected once by trying them, see {@link nativePqSupport}).
   * Default true; false keeps them on noble. With a `random` source of your
   * own, key generation and decapsulation stay native (they take our draws),
   * while ML-KEM encapsulation and ML-DSA signing, whose randomness OpenSSL
   * draws itself, run on noble so that every draw is still yours.
   */
  nativePostQuantum?: boolean;
  /**
   * Run the AEADs, QUIC header protection and the hashes inside HMAC and
   * HKDF on this process's OpenSSL called through koffi (see
   * ./crypto/openssl-ffi.ts): one reused OpenSSL context per key instead of
   * a node:crypto cipher object per record or packet, several times less CPU
   * per record (most on Node 24), and one call per hash. Used when koffi (an
   * optional dependency) loads, the runtime exports libcrypto's symbols and a
   * known-answer self-test passes, all checked once per process on the first
   * key; node:crypto otherwise, with the same results. Where that OpenSSL is
   * 3.5 or later (Node 24), X25519, ML-KEM and ML-DSA also run on it through
   * its EVP_PKEY API (./crypto/openssl-pkey.ts, self-tested likewise; ML-KEM
   * and ML-DSA not when `nativePostQuantum` is false), sparing node:crypto's
   * argument handling around each operation. Default true; false, or the
   * environment variable `PQTLS_FFI=0`, keeps node:crypto.
   */
  ffi?: boolean;
}

/** OpenSSL's CSPRNG as a {@link RandomSource}. */
const opensslRandom: RandomSource = (length) => randomFillSync(new Uint8Array(length));

/**
 * A {@link CryptoProvider} named `node`, with the same groups, signature
 * schemes, encodings, randomness draws and errors as `createNobleProvider()`:
 * - AES-GCM, ChaCha20-Poly1305, AES-ECB and ChaCha20 header protection on
 *   the process's OpenSSL through koffi where it is available (option `ffi`),
 *   on node:crypto otherwise;
 * - HMAC and HKDF (RFC 2104 and RFC 5869 in ./crypto/hmac.ts) on the same
 *   FFI's EVP_Digest where available, on node:crypto's one-shot hash otherwise;
 * - node:crypto: SHA-2, X25519, P-256 and P-384 ECDH, Ed25519, ECDSA,
 *   RSA-PSS and RSA PKCS #1 v1.5;
 * - ML-KEM (alone and as the ML-KEM half of the hybrids, which come from the
 *   group table both backends share, src/pq/kex-groups.ts) and ML-DSA on
 *   node:crypto where the runtime has them (Node ≥ 24.7), on noble otherwise;
 * - X25519, ML-KEM and ML-DSA on OpenSSL ≥ 3.5 through koffi where available
 *   (option `ffi`), ahead of node:crypto;
 * - an internal `createNobleProvider` on the same random source: SLH-DSA, the
 *   ML-DSA keys' exportable half, and the strict decoding of an Ed25519 key
 *   that failed to verify.
 *
 * Private keys are opaque {@link PrivateKeyRef}s owned by this provider. RSA
 * keys are imported, never generated (as with noble).
 */
export function createNodeCryptoProvider(options: NodeCryptoProviderOptions = {}): CryptoProvider {
  const random = options.random ?? opensslRandom;
  const name = 'node';
  const noble = createNobleProvider({ random, ...(options.minRsaSigningBits !== undefined ? { minRsaSigningBits: options.minRsaSigningBits } : {}) });
  const native = options.nativePostQuantum === false ? { mlKem: false, mlDsa: false } : nativePqSupport();
  const ownRandomness = options.random === undefined;
  const wantFfi = options.ffi !== false && process.env['PQTLS_FFI'] !== '0';
  // Probed on the first key, not here: a provider that never keys an AEAD never loads koffi.
  const ffi = (): OpensslFfi | undefined => (wantFfi ? opensslFfi() : undefined);
  // X25519, ML-KEM and ML-DSA on the same FFI (OpenSSL ≥ 3.5), probed on the first key exchange or ML-DSA key;
  // ML-KEM and ML-DSA only where native post-quantum is not turned off.
  const pkey = wantFfi ? (): OpensslPkey | undefined => opensslPkey() : undefined;
  const pqPkey = options.nativePostQuantum === false ? undefined : pkey;
  const signer = new NodeSigner(name, random, options.minRsaSigningBits ?? RSA_MIN_SIGN_BITS, noble, {
    native: native.mlDsa, ownRandomness, ...(pqPkey ? { pkey: pqPkey } : {}),
  });
  const kex = nodeKeyExchanges(name, random, { native: native.mlKem, ownRandomness, ...(pkey ? { pkey, mlKemFfi: pqPkey !== undefined } : {}) });

  // Everything symmetric runs on this thread, so each is also offered synchronously (MaybeSync in src/pq/provider.ts).
  const hmac = (alg: HashAlgorithm, key: Uint8Array, data: Uint8Array): Uint8Array => nodeHmac(alg, key, data, ffi()?.digestInto);
  const hkdfExtract = (alg: HashAlgorithm, salt: Uint8Array, ikm: Uint8Array): Uint8Array => nodeHkdfExtract(alg, salt, ikm, ffi()?.digestInto);
  const hkdfExpand = (alg: HashAlgorithm, prk: Uint8Array, info: Uint8Array, length: number): Uint8Array =>
    nodeHkdfExpand(alg, prk, info, length, ffi()?.digestInto);
  const aead = (alg: AeadAlgorithm, key: Uint8Array): AeadKey => ffi()?.aead(alg, key) ?? nodeAead(alg, key);

  return Object.freeze({
    name,
    groups: NODE_GROUPS,
    signatureSchemes: NODE_SCHEMES,
    random: async (length: number) => random(length),
    hash: (alg: HashAlgorithm) => ffi()?.hash(alg) ?? nodeHash(alg),
    hmac: Object.assign(async (alg: HashAlgorithm, key: Uint8Array, data: Uint8Array) => hmac(alg, key, data), { sync: hmac }),
    hkdfExtract: Object.assign(async (alg: HashAlgorithm, salt: Uint8Array, ikm: Uint8Array) => hkdfExtract(alg, salt, ikm), { sync: hkdfExtract }),
    hkdfExpand: Object.assign(
      async (alg: HashAlgorithm, prk: Uint8Array, info: Uint8Array, length: number) => hkdfExpand(alg, prk, info, length), { sync: hkdfExpand },
    ),
    aead: Object.assign(async (alg: AeadAlgorithm, key: Uint8Array) => aead(alg, key), { sync: aead }),
    headerProtection: async (alg: HeaderProtectionAlgorithm, key: Uint8Array) => ffi()?.headerProtection(alg, key) ?? nodeHeaderProtection(alg, key),
    keyExchange: (group: NamedGroup) => {
      const k = kex.get(group);
      if (!k) throw new UnsupportedAlgorithmError(`node provider has no key exchange for group ${groupName(group)}`);
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
