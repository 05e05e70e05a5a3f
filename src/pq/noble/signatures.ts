/**
 * The signature half of the noble provider: ML-DSA, Ed25519 and ECDSA on
 * noble, RSA on native bigint (rsa.ts). Implements the signing and key-handling
 * members of {@link CryptoProvider} with exactly its error contract.
 *
 * ## Randomness
 * Every random byte comes from the provider's {@link RandomSource}, so a seeded
 * source reproduces keys and signatures exactly:
 * - key generation: ML-DSA one 32-byte seed ξ (FIPS 204 Alg. 1), Ed25519 the
 *   32-byte private key, ECDSA 48 (P-256) or 72 (P-384) bytes reduced to a scalar;
 * - signing: ML-DSA 32 bytes of rnd (FIPS 204 Alg. 2, hedged), ECDSA 32 bytes of
 *   extra entropy for RFC 6979 §3.6; RSA on bigint: PSS a hash-length salt,
 *   then k+8 bytes per base-blinding attempt and 2×8 bytes of exponent
 *   blinding (PKCS #1 v1.5 only the blinding); Ed25519 draws nothing.
 * - SLH-DSA (certificates only): 3n bytes SK.seed ‖ SK.prf ‖ PK.seed per key
 *   (FIPS 205 Alg. 21), n bytes of opt_rand per signature (Alg. 22, hedged).
 *
 * ## RSA private-key operations
 * By default RSA signs on the platform's WebCrypto (rsa-webcrypto.ts), whose
 * engines do fixed-width, blinded arithmetic, when the provider draws from the
 * platform CSPRNG anyway: WebCrypto makes its own salt and blinding from that
 * same generator. With an injected source (a seeded test, a replayed trace)
 * that would break reproducibility, so RSA then signs on bigint (rsa.ts),
 * which blinds base and exponent from the injected source; so does a runtime
 * without WebCrypto. {@link NobleProviderOptions.rsaPrivateOps} overrides.
 */
import { ConfigError, UnsupportedAlgorithmError } from '../../errors.js';
import type { KeyAlgorithm, MlDsaAlgorithm, RsaPssRestriction, SigningScheme } from '../ids.js';
import { SignatureScheme, isSlhDsa, pssSchemeAllowed, signingKeyAlgorithm, signingSchemeName, slhDsaSizes } from '../ids.js';
import type { KeyPair, PrivateKeyMaterial, PrivateKeyRef, VerifyOptions } from '../provider.js';
import { systemRandom, type RandomSource } from '../random.js';
import { ecdsaGenerate, ecdsaImport, ecdsaSign, ecdsaVerify, type EcdsaKey } from './ecdsa.js';
import { ed25519Generate, ed25519Import, ed25519Sign, ed25519Verify, type Ed25519Key } from './eddsa.js';
import { KeyStore } from '../keys.js';
import { mlDsaGenerate, mlDsaImport, mlDsaSign, mlDsaVerify, type MlDsaKey } from './mldsa.js';
import { slhDsaGenerate, slhDsaImport, slhDsaSign, slhDsaVerify, type SlhDsaKey } from './slhdsa.js';
import { restrictedPssParams, rsaPkcs1Sign, rsaPkcs1Verify, rsaPssSign, tlsPssParams } from './rsa.js';
import { checkPssRestriction, rsaPssVerify } from '../rsa-pss.js';
import { SIGNATURE_SCHEMES, rsaMode } from '../schemes.js';
import { RSA_MIN_SIGN_BITS, encodeRsaPublicKey, parseRsaPrivateKey, parseRsaPublicKey, type RsaPrivateKey } from '../rsa-keys.js';
import { platformSubtle, WebCryptoRsaKey, type RsaPrivateOps } from './rsa-webcrypto.js';

/** Signature schemes of the noble provider, most preferred first: all of {@link SIGNATURE_SCHEMES}. */
export const NOBLE_SCHEMES: readonly SignatureScheme[] = SIGNATURE_SCHEMES;

type RsaKey = {
  /** `rsa-pss`: an id-RSASSA-PSS key, which signs only `rsa_pss_pss_*` within its restriction. */
  readonly algorithm: 'rsa' | 'rsa-pss';
  readonly pss?: RsaPssRestriction;
  readonly key: RsaPrivateKey;
  readonly publicKey: Uint8Array;
  /** The key imported into WebCrypto, when private operations run there. */
  readonly webCrypto?: WebCryptoRsaKey;
};
/** What a {@link PrivateKeyRef} of this signer stands for. */
type SigningKey = MlDsaKey | Ed25519Key | EcdsaKey | RsaKey | SlhDsaKey;

function rsaKey(
  algorithm: 'rsa' | 'rsa-pss', pkcs1: Uint8Array, pss: RsaPssRestriction | undefined, minBits: number, subtle: SubtleCrypto | undefined,
): RsaKey {
  const key = parseRsaPrivateKey(pkcs1, minBits);
  if (pss) checkPssRestriction(pss, key.bits);
  return {
    algorithm, key, publicKey: encodeRsaPublicKey(key),
    ...(pss ? { pss } : {}),
    ...(subtle ? { webCrypto: new WebCryptoRsaKey(subtle, key.pkcs1) } : {}),
  };
}

/** Resolves {@link RsaPrivateOps} to the SubtleCrypto to sign on, or undefined for bigint. */
function rsaSubtle(ops: RsaPrivateOps, random: RandomSource): SubtleCrypto | undefined {
  switch (ops) {
    case 'bigint':
      return undefined;
    case 'webcrypto': {
      const subtle = platformSubtle();
      if (!subtle) throw new ConfigError('rsaPrivateOps "webcrypto": this runtime has no crypto.subtle');
      return subtle;
    }
    case 'auto':
      return random === systemRandom ? platformSubtle() : undefined;
  }
}

/**
 * Signs, verifies and manages signing keys for the noble provider. Private keys
 * never leave it except through {@link NobleSigner.exportPrivateKey}; callers
 * hold opaque {@link PrivateKeyRef}s.
 *
 * Errors: a scheme outside {@link NOBLE_SCHEMES} is an
 * {@link UnsupportedAlgorithmError}; a key of another algorithm than the scheme
 * needs, a key from another provider, or invalid private key material is a
 * {@link ConfigError}; a malformed peer public key is an
 * {@link IllegalParameterError}.
 */
export class NobleSigner {
  private readonly keys: KeyStore<SigningKey>;
  private readonly subtle: SubtleCrypto | undefined;

  constructor(
    providerName: string,
    private readonly random: RandomSource,
    /** Smallest RSA modulus accepted for signing (see {@link NobleProviderOptions.minRsaSigningBits}). */
    private readonly minRsaBits: number = RSA_MIN_SIGN_BITS,
    /** Where RSA private-key operations run (see {@link NobleProviderOptions.rsaPrivateOps}). */
    rsaPrivateOps: RsaPrivateOps = 'auto',
  ) {
    this.keys = new KeyStore<SigningKey>(providerName);
    this.subtle = rsaSubtle(rsaPrivateOps, random);
  }

  /** TLS schemes of {@link NOBLE_SCHEMES}, and every SLH-DSA parameter set as a certificate-only scheme. */
  private static supported(scheme: SigningScheme): void {
    if (typeof scheme === 'string' ? !isSlhDsa(scheme) : !NOBLE_SCHEMES.includes(scheme)) {
      throw new UnsupportedAlgorithmError(`noble provider has no signature scheme ${signingSchemeName(scheme)}`);
    }
  }

  private wrap(key: SigningKey): KeyPair {
    return { privateKey: this.keys.wrap(key.algorithm, key), publicKey: key.publicKey.slice() };
  }

  /**
   * Signs `message` under `scheme`. ML-DSA is hedged (32 bytes of `random` per
   * signature, empty context); ECDSA is hedged RFC 6979 with DER output; RSA-PSS
   * draws a hash-length salt; Ed25519 and RSA PKCS #1 v1.5 are deterministic.
   * SLH-DSA (certificate-only, named by parameter set) is hedged with n bytes
   * of opt_rand and empty context, and checked by verification before return.
   */
  sign(scheme: SigningScheme, ref: PrivateKeyRef, message: Uint8Array): Uint8Array | Promise<Uint8Array> {
    NobleSigner.supported(scheme);
    const key = this.keys.unwrap(ref);
    const want = signingKeyAlgorithm(scheme);
    if (key.algorithm !== want) {
      throw new ConfigError(`${signingSchemeName(scheme)} needs a ${want} key, got ${key.algorithm}`);
    }
    if ('secretKey' in key) return slhDsaSign(key, message, this.random(slhDsaSizes(key.algorithm).n));
    switch (key.algorithm) {
      case 'ml-dsa-44':
      case 'ml-dsa-65':
      case 'ml-dsa-87':
        return mlDsaSign(key, message, this.random(32));
      case 'ed25519':
        return ed25519Sign(key, message);
      case 'ecdsa-p256':
      case 'ecdsa-p384':
        return ecdsaSign(key, message, this.random);
      case 'rsa':
      case 'rsa-pss': {
        const mode = rsaMode(scheme as SignatureScheme);
        if (key.algorithm === 'rsa-pss' && !pssSchemeAllowed(scheme as SignatureScheme, key.pss)) {
          throw new ConfigError(`${signingSchemeName(scheme)} is outside this RSASSA-PSS key's parameters (${key.pss?.hash}, salt ≥ ${key.pss?.saltLength})`);
        }
        if (key.pss && key.pss.mgfHash !== mode.hash) {
          // WebCrypto ties MGF1 to the message hash, so a key restricted to another MGF1 hash signs on bigint.
          return rsaPssSign(key.key, message, restrictedPssParams(mode.hash, key.pss.mgfHash), this.random);
        }
        if (key.webCrypto) return mode.pss ? key.webCrypto.signPss(mode.hash, message) : key.webCrypto.signPkcs1(mode.hash, message);
        return mode.pss
          ? rsaPssSign(key.key, message, tlsPssParams(mode.hash), this.random)
          : rsaPkcs1Sign(key.key, message, mode.hash, this.random);
      }
    }
  }

  /**
   * Verifies per the {@link CryptoProvider.verify} contract: false for any bad
   * signature, {@link IllegalParameterError} for a public key that is not a
   * valid key of the scheme's type (wrong length, not on the curve, malformed
   * `RSAPublicKey`, RSA modulus under 1024 bits).
   */
  verify(scheme: SigningScheme, publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array, options?: VerifyOptions): boolean {
    NobleSigner.supported(scheme);
    const alg = signingKeyAlgorithm(scheme);
    if (isSlhDsa(alg)) return slhDsaVerify(alg, publicKey, message, signature);
    switch (alg) {
      case 'ml-dsa-44':
      case 'ml-dsa-65':
      case 'ml-dsa-87':
        return mlDsaVerify(alg, publicKey, message, signature);
      case 'ed25519':
        return ed25519Verify(publicKey, message, signature);
      case 'ecdsa-p256':
      case 'ecdsa-p384':
        return ecdsaVerify(alg, publicKey, message, signature);
      case 'rsa':
      case 'rsa-pss': {
        const key = parseRsaPublicKey(publicKey);
        const mode = rsaMode(scheme as SignatureScheme);
        const mgf = alg === 'rsa-pss' ? options?.rsaPss?.mgfHash : undefined;
        return mode.pss
          ? rsaPssVerify(key, message, signature, mgf && mgf !== mode.hash ? restrictedPssParams(mode.hash, mgf) : tlsPssParams(mode.hash))
          : rsaPkcs1Verify(key, message, signature, mode.hash);
      }
    }
  }

  /**
   * Generates a key pair from `random`. RSA is refused with
   * {@link UnsupportedAlgorithmError}: this backend does not generate RSA keys
   * (prime generation on bigint is slow and easy to get subtly wrong); import an
   * existing `RSAPrivateKey` instead.
   */
  generateKeyPair(alg: KeyAlgorithm): KeyPair {
    if (isSlhDsa(alg)) return this.wrap(slhDsaGenerate(alg, this.random));
    switch (alg) {
      case 'ml-dsa-44':
      case 'ml-dsa-65':
      case 'ml-dsa-87':
        return this.wrap(mlDsaGenerate(alg, this.random));
      case 'ed25519':
        return this.wrap(ed25519Generate(this.random));
      case 'ecdsa-p256':
      case 'ecdsa-p384':
        return this.wrap(ecdsaGenerate(alg, this.random));
      case 'rsa':
      case 'rsa-pss':
        throw new UnsupportedAlgorithmError('noble provider does not generate RSA keys; import one instead');
      default:
        throw new UnsupportedAlgorithmError(`noble provider has no key algorithm ${String(alg)}`);
    }
  }

  /**
   * Imports and validates private key material. ML-DSA accepts a seed, an
   * expanded key or both (which must agree); invalid material of any kind is a
   * {@link ConfigError}, since private keys come from local configuration.
   */
  importPrivateKey(material: PrivateKeyMaterial): KeyPair {
    if ('secretKey' in material) {
      if (!isSlhDsa(material.algorithm)) throw new UnsupportedAlgorithmError(`noble provider has no key algorithm ${String(material.algorithm)}`);
      return this.wrap(slhDsaImport(material.algorithm, material.secretKey));
    }
    switch (material.algorithm) {
      case 'ml-dsa-44':
      case 'ml-dsa-65':
      case 'ml-dsa-87':
        return this.wrap(mlDsaImport(material.algorithm, material.seed, material.expanded));
      case 'ed25519':
        return this.wrap(ed25519Import(material.secret));
      case 'ecdsa-p256':
      case 'ecdsa-p384':
        return this.wrap(ecdsaImport(material.algorithm, material.secret));
      case 'rsa':
        return this.wrap(rsaKey('rsa', material.pkcs1, undefined, this.minRsaBits, this.subtle));
      case 'rsa-pss':
        return this.wrap(rsaKey('rsa-pss', material.pkcs1, material.pss, this.minRsaBits, this.subtle));
      default:
        throw new UnsupportedAlgorithmError(`noble provider has no key algorithm ${String((material as { algorithm: unknown }).algorithm)}`);
    }
  }

  /** Exports a key's material; ML-DSA gives the seed and expanded key when the seed is known, else the expanded key only. */
  exportPrivateKey(ref: PrivateKeyRef): PrivateKeyMaterial {
    const key = this.keys.unwrap(ref);
    if ('secretKey' in key) return { algorithm: key.algorithm, secretKey: key.secretKey.slice() };
    switch (key.algorithm) {
      case 'ml-dsa-44':
      case 'ml-dsa-65':
      case 'ml-dsa-87': {
        const algorithm: MlDsaAlgorithm = key.algorithm;
        return key.seed
          ? { algorithm, seed: key.seed.slice(), expanded: key.expanded.slice() }
          : { algorithm, expanded: key.expanded.slice() };
      }
      case 'ed25519':
      case 'ecdsa-p256':
      case 'ecdsa-p384':
        return { algorithm: key.algorithm, secret: key.secret.slice() };
      case 'rsa':
        return { algorithm: 'rsa', pkcs1: key.key.pkcs1.slice() };
      case 'rsa-pss':
        return key.pss ? { algorithm: 'rsa-pss', pkcs1: key.key.pkcs1.slice(), pss: key.pss } : { algorithm: 'rsa-pss', pkcs1: key.key.pkcs1.slice() };
    }
  }
}
