import { UnsupportedAlgorithmError } from '../../errors.js';
import type { AeadAlgorithm, HashAlgorithm, HeaderProtectionAlgorithm, KeyAlgorithm, NamedGroup, SigningScheme } from '../ids.js';
import { groupName } from '../ids.js';
import type { CryptoProvider, KeyPair, PrivateKeyMaterial, PrivateKeyRef, VerifyOptions } from '../provider.js';
import { systemRandom, type RandomSource } from '../random.js';
import { NOBLE_GROUPS, nobleKeyExchanges } from './kex.js';
import { NobleSigner, NOBLE_SCHEMES } from './signatures.js';
import type { RsaPrivateOps } from './rsa-webcrypto.js';
import { nobleAead, nobleHash, nobleHeaderProtection, nobleHkdfExpand, nobleHkdfExtract, nobleHmac } from './symmetric.js';

export type { RsaPrivateOps } from './rsa-webcrypto.js';

export interface NobleProviderOptions {
  /**
   * Source of every random byte the provider uses: key generation, key shares,
   * hedged signatures, `random()`. Defaults to the platform CSPRNG; tests pass
   * a seeded source from `pqtls/testing` for reproducible runs.
   */
  random?: RandomSource;
  /**
   * Smallest RSA modulus, in bits, that a private key may have to be imported
   * for signing. Default 2048. Lower it only to reproduce published traces
   * (RFC 8448's server key has 1024 bits), never for real keys.
   */
  minRsaSigningBits?: number;
  /**
   * Where RSA private-key operations run. `auto` (the default) uses the
   * platform's WebCrypto when `random` is the platform CSPRNG and WebCrypto is
   * present, and the pure-bigint code otherwise, so that an injected source
   * reproduces RSA signatures exactly. `webcrypto` insists on WebCrypto (its
   * RSA-PSS salt then comes from the platform, not from `random`); `bigint`
   * forces the pure code, which blinds base and exponent from `random`.
   */
  rsaPrivateOps?: RsaPrivateOps;
}

/**
 * The default backend: pure TypeScript on @noble/post-quantum, curves, ciphers
 * and hashes, running unchanged in Node, browsers, Workers, Deno and Bun.
 */
export function createNobleProvider(options: NobleProviderOptions = {}): CryptoProvider {
  const random = options.random ?? systemRandom;
  const name = 'noble';
  const signer = new NobleSigner(name, random, options.minRsaSigningBits, options.rsaPrivateOps);
  const kex = nobleKeyExchanges(name, random);

  return Object.freeze({
    name,
    groups: NOBLE_GROUPS,
    signatureSchemes: NOBLE_SCHEMES,
    random: async (length: number) => random(length),
    hash: (alg: HashAlgorithm) => nobleHash(alg),
    // Pure TypeScript on this thread: the symmetric operations are offered synchronously too (MaybeSync in ../provider.ts).
    hmac: Object.assign(async (alg: HashAlgorithm, key: Uint8Array, data: Uint8Array) => nobleHmac(alg, key, data), { sync: nobleHmac }),
    hkdfExtract: Object.assign(async (alg: HashAlgorithm, salt: Uint8Array, ikm: Uint8Array) => nobleHkdfExtract(alg, salt, ikm), { sync: nobleHkdfExtract }),
    hkdfExpand: Object.assign(
      async (alg: HashAlgorithm, prk: Uint8Array, info: Uint8Array, length: number) => nobleHkdfExpand(alg, prk, info, length), { sync: nobleHkdfExpand },
    ),
    aead: Object.assign(async (alg: AeadAlgorithm, key: Uint8Array) => nobleAead(alg, key), { sync: nobleAead }),
    headerProtection: async (alg: HeaderProtectionAlgorithm, key: Uint8Array) => nobleHeaderProtection(alg, key),
    keyExchange: (group: NamedGroup) => {
      const k = kex.get(group);
      if (!k) throw new UnsupportedAlgorithmError(`noble provider has no key exchange for group ${groupName(group)}`);
      return k;
    },
    sign: async (scheme: SigningScheme, key: PrivateKeyRef, message: Uint8Array) => signer.sign(scheme, key, message),
    verify: async (scheme: SigningScheme, publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array, options?: VerifyOptions) =>
      signer.verify(scheme, publicKey, message, signature, options),
    generateKeyPair: async (alg: KeyAlgorithm): Promise<KeyPair> => signer.generateKeyPair(alg),
    importPrivateKey: async (material: PrivateKeyMaterial): Promise<KeyPair> => signer.importPrivateKey(material),
    exportPrivateKey: async (key: PrivateKeyRef): Promise<PrivateKeyMaterial> => signer.exportPrivateKey(key),
  });
}
