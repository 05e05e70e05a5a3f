/**
 * The signature half of the WebCrypto provider: Ed25519 (where the runtime
 * has it), ECDSA and RSA signing on SubtleCrypto; ML-DSA, SLH-DSA and RSA
 * verification delegated to a noble provider on the same random source. Same schemes, key encodings and
 * error contract as {@link NobleSigner}; keys are opaque
 * {@link PrivateKeyRef}s over non-extractable CryptoKeys (the key material is
 * kept beside them only for {@link CryptoProvider.exportPrivateKey}).
 *
 * ## Randomness
 * Draws from the provider's source exactly what the noble signer draws, in
 * the same order, so one seeded stream drives either backend to the same keys
 * and leaves it in the same state after every operation:
 * - key generation: ML-DSA a 32-byte seed (through noble), Ed25519 the 32-byte
 *   private key, ECDSA 48 (P-256) or 72 (P-384) bytes reduced to a scalar;
 *   each then imported into SubtleCrypto, which never generates a key here;
 * - signing: ML-DSA 32 bytes (through noble); ECDSA 32 bytes; RSA-PSS a
 *   hash-length salt then k+8+16 bytes; RSA PKCS #1 v1.5 k+8+16 bytes; Ed25519 nothing.
 *
 * SubtleCrypto cannot take our bytes for ECDSA's nonce, RSA-PSS's salt or
 * RSA's blinding: it draws them from the platform. The matching draws (noble's
 * RFC 6979 hedge, salt and blinding factors) are taken and discarded to keep
 * the streams in step. Ed25519 and RSA PKCS #1 v1.5 therefore give noble's
 * signatures byte for byte; ECDSA and RSA-PSS signatures differ but verify on
 * either. An RSASSA-PSS key restricted to another MGF1 hash than the
 * scheme's, which WebCrypto cannot express, signs on noble's bigint code
 * with our salt and blinding.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { p256, p384 } from '@noble/curves/nist.js';
import { ConfigError, UnsupportedAlgorithmError } from '../../errors.js';
import { integer, sequence } from '../../codec/der.js';
import {
  SignatureScheme, hashLength, isSlhDsa, pssSchemeAllowed, schemeKeyAlgorithm, signatureSchemeName, type KeyAlgorithm,
  type MlDsaAlgorithm, type RsaPssRestriction, type SigningScheme, type SlhDsaAlgorithm,
} from '../ids.js';
import { KeyStore } from '../keys.js';
import type { CryptoProvider, KeyPair, PrivateKeyMaterial, PrivateKeyRef, VerifyOptions } from '../provider.js';
import type { RandomSource } from '../random.js';
import { EXPONENT_BLINDING_BYTES, checkPssRestriction } from '../rsa-pss.js';
import { encodeRsaPublicKey, parseRsaPrivateKey, type RsaPrivateKey } from '../rsa-keys.js';
import { SIGNATURE_SCHEMES, rsaMode } from '../schemes.js';
import { checkEcdsaPublicKey, derToCompact, ecdsaGenerate, ecdsaImport, type EcdsaAlgorithm } from '../noble/ecdsa.js';
import { ed25519Generate, ed25519Import } from '../noble/eddsa.js';
import { restrictedPssParams, rsaPssSign } from '../noble/rsa.js';
import { WebCryptoRsaKey } from '../noble/rsa-webcrypto.js';
import { okpPkcs8, type SubtleFeatures } from './detect.js';
import { base64url } from './jwk.js';
import { buf } from './symmetric.js';

/** The same schemes, in the same preference order, as the noble backend. */
export const WEBCRYPTO_SCHEMES: readonly SignatureScheme[] = SIGNATURE_SCHEMES;

interface DelegatedKey {
  readonly algorithm: MlDsaAlgorithm | SlhDsaAlgorithm;
  readonly ref: PrivateKeyRef;
  readonly publicKey: Uint8Array;
}
interface WebEd25519Key {
  readonly algorithm: 'ed25519';
  readonly secret: Uint8Array;
  readonly publicKey: Uint8Array;
  /** Absent where the runtime's SubtleCrypto has no Ed25519: noble signs. */
  readonly key?: CryptoKey;
}
interface WebEcdsaKey {
  readonly algorithm: EcdsaAlgorithm;
  readonly secret: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly key: CryptoKey;
}
interface WebRsaKey {
  readonly algorithm: 'rsa' | 'rsa-pss';
  readonly pss?: RsaPssRestriction;
  readonly key: RsaPrivateKey;
  readonly publicKey: Uint8Array;
  readonly web: WebCryptoRsaKey;
}
type SigningKey = DelegatedKey | WebEd25519Key | WebEcdsaKey | WebRsaKey;

const EC: Record<EcdsaAlgorithm, { curve: typeof p256 | typeof p384; namedCurve: 'P-256' | 'P-384'; hash: 'SHA-256' | 'SHA-384'; size: number }> = {
  'ecdsa-p256': { curve: p256, namedCurve: 'P-256', hash: 'SHA-256', size: 32 },
  'ecdsa-p384': { curve: p384, namedCurve: 'P-384', hash: 'SHA-384', size: 48 },
};

/** IEEE P1363 r ‖ s (WebCrypto's ECDSA output) as DER `Ecdsa-Sig-Value` (RFC 8446 §4.2.3). */
function compactToDer(rs: Uint8Array): Uint8Array {
  const half = rs.length / 2;
  return sequence(integer(rs.subarray(0, half)), integer(rs.subarray(half)));
}

/**
 * Signs, verifies and manages signing keys for the WebCrypto provider.
 * Errors as {@link NobleSigner}: an unknown scheme is an
 * {@link UnsupportedAlgorithmError}, a wrong or foreign key or bad material a
 * {@link ConfigError}, a malformed peer public key an {@link IllegalParameterError}.
 */
export class WebSigner {
  private readonly keys: KeyStore<SigningKey>;

  constructor(
    private readonly providerName: string,
    private readonly random: RandomSource,
    private readonly subtle: SubtleCrypto,
    private readonly features: () => Promise<SubtleFeatures>,
    private readonly minRsaBits: number,
    /** Performs ML-DSA and SLH-DSA and is the reference verifier; must draw from the same `random`. */
    private readonly noble: CryptoProvider,
  ) {
    this.keys = new KeyStore<SigningKey>(providerName);
  }

  private supported(scheme: SignatureScheme): void {
    if (!WEBCRYPTO_SCHEMES.includes(scheme)) {
      throw new UnsupportedAlgorithmError(`${this.providerName} provider has no signature scheme ${signatureSchemeName(scheme)}`);
    }
  }

  private wrap(key: SigningKey): KeyPair {
    return { privateKey: this.keys.wrap(key.algorithm, key), publicKey: key.publicKey.slice() };
  }

  private async ed25519(secret: Uint8Array): Promise<WebEd25519Key> {
    const k = ed25519Import(secret);
    if (!(await this.features()).ed25519) return k;
    const key = await this.subtle.importKey('pkcs8', okpPkcs8('Ed25519', k.secret), { name: 'Ed25519' }, false, ['sign']);
    return { ...k, key };
  }

  private async ecdsa(algorithm: EcdsaAlgorithm, k: { secret: Uint8Array; publicKey: Uint8Array }): Promise<WebEcdsaKey> {
    const { namedCurve, size } = EC[algorithm];
    const jwk: JsonWebKey = {
      kty: 'EC', crv: namedCurve, d: base64url(k.secret), x: base64url(k.publicKey.subarray(1, 1 + size)),
      y: base64url(k.publicKey.subarray(1 + size)), ext: false,
    };
    const key = await this.subtle.importKey('jwk', jwk, { name: 'ECDSA', namedCurve }, false, ['sign']);
    return { algorithm, secret: k.secret, publicKey: k.publicKey, key };
  }

  async sign(scheme: SigningScheme, ref: PrivateKeyRef, message: Uint8Array): Promise<Uint8Array> {
    if (typeof scheme === 'string') {
      const key = this.keys.unwrap(ref);
      if (!('ref' in key)) throw new ConfigError(`${scheme} needs a ${scheme} key, got ${key.algorithm}`);
      return this.noble.sign(scheme, key.ref, message); // SLH-DSA
    }
    this.supported(scheme);
    const key = this.keys.unwrap(ref);
    const want = schemeKeyAlgorithm(scheme);
    if (key.algorithm !== want) throw new ConfigError(`${signatureSchemeName(scheme)} needs a ${want} key, got ${key.algorithm}`);
    if ('ref' in key) return this.noble.sign(scheme, key.ref, message);
    switch (key.algorithm) {
      case 'ed25519':
        if (!key.key) return ed25519.sign(message, key.secret);
        return new Uint8Array(await this.subtle.sign({ name: 'Ed25519' }, key.key, buf(message)));
      case 'ecdsa-p256':
      case 'ecdsa-p384': {
        this.random(32); // noble's RFC 6979 §3.6 hedge; SubtleCrypto picks its own nonce
        const rs = await this.subtle.sign({ name: 'ECDSA', hash: EC[key.algorithm].hash }, key.key, buf(message));
        return compactToDer(new Uint8Array(rs));
      }
      case 'rsa':
      case 'rsa-pss': {
        const mode = rsaMode(scheme);
        if (key.algorithm === 'rsa-pss' && !pssSchemeAllowed(scheme, key.pss)) {
          throw new ConfigError(`${signatureSchemeName(scheme)} is outside this RSASSA-PSS key's parameters (${key.pss?.hash}, salt ≥ ${key.pss?.saltLength})`);
        }
        if (mode.pss && key.pss && key.pss.mgfHash !== mode.hash) {
          // WebCrypto ties MGF1 to the message hash: such a key signs on bigint, with our salt and blinding.
          return rsaPssSign(key.key, message, restrictedPssParams(mode.hash, key.pss.mgfHash), this.random);
        }
        // noble's salt (PSS) and blinding factors, drawn to keep the streams in step; SubtleCrypto makes its own.
        this.random((mode.pss ? hashLength(mode.hash) : 0) + key.key.k + 8 + 2 * EXPONENT_BLINDING_BYTES);
        return mode.pss ? key.web.signPss(mode.hash, message) : key.web.signPkcs1(mode.hash, message);
      }
    }
  }

  /**
   * False for any signature that does not verify; {@link IllegalParameterError}
   * for a public key that is not a valid key of the scheme's type. Keys are
   * checked on noble's decoders first (a cheap, synchronous, exact statement
   * of the contract); ECDSA signatures are parsed as strict DER before
   * SubtleCrypto sees their r ‖ s; an Ed25519 signature SubtleCrypto refuses
   * is handed to noble's strict verifier, which tells a bad key from a bad
   * signature. RSA is verified on noble (see index.ts for why).
   */
  async verify(scheme: SigningScheme, publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array, options?: VerifyOptions): Promise<boolean> {
    if (typeof scheme === 'string') return this.noble.verify(scheme, publicKey, message, signature);
    this.supported(scheme);
    const alg = schemeKeyAlgorithm(scheme);
    switch (alg) {
      case 'ml-dsa-44':
      case 'ml-dsa-65':
      case 'ml-dsa-87':
        return this.noble.verify(scheme, publicKey, message, signature);
      case 'ed25519':
        return this.ed25519Verify(publicKey, message, signature);
      case 'ecdsa-p256':
      case 'ecdsa-p384':
        return this.ecdsaVerify(alg, publicKey, message, signature);
      case 'rsa':
      case 'rsa-pss': {
        // A public-exponent operation: bigint does it faster than SubtleCrypto's import and verify, and leaks nothing.
        return this.noble.verify(scheme, publicKey, message, signature, options);
      }
    }
  }

  private async ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
    if (publicKey.length === 32 && signature.length === 64 && (await this.features()).ed25519) {
      try {
        const k = await this.subtle.importKey('raw', buf(publicKey), { name: 'Ed25519' }, false, ['verify']);
        if (await this.subtle.verify({ name: 'Ed25519' }, k, buf(signature), buf(message))) return true;
      } catch {
        // a key the runtime will not import: noble tells a bad key from a bad signature
      }
    }
    // noble's strict RFC 8032 §5.1.7 verifier decodes the key first: IllegalParameterError for a bad key, else its verdict.
    return this.noble.verify(SignatureScheme.ed25519, publicKey, message, signature);
  }

  private async ecdsaVerify(alg: EcdsaAlgorithm, publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
    checkEcdsaPublicKey(alg, publicKey);
    const compact = derToCompact(alg, signature);
    if (!compact) return false;
    const { curve, namedCurve, hash, size } = EC[alg];
    // Not every runtime imports a compressed point; the uncompressed form of a checked point is accepted everywhere.
    const point = publicKey.length === 1 + 2 * size ? publicKey : curve.Point.fromBytes(publicKey).toBytes(false);
    try {
      const k = await this.subtle.importKey('raw', buf(point), { name: 'ECDSA', namedCurve }, false, ['verify']);
      return await this.subtle.verify({ name: 'ECDSA', hash }, k, buf(compact), buf(message));
    } catch {
      return false;
    }
  }

  private async delegated(pair: KeyPair, algorithm: MlDsaAlgorithm | SlhDsaAlgorithm): Promise<KeyPair> {
    return this.wrap({ algorithm, ref: pair.privateKey, publicKey: pair.publicKey });
  }

  /** Generates from `random` as noble does; RSA is refused, as by noble, since a prime search cannot draw from our source. */
  async generateKeyPair(alg: KeyAlgorithm): Promise<KeyPair> {
    if (isSlhDsa(alg)) return this.delegated(await this.noble.generateKeyPair(alg), alg);
    switch (alg) {
      case 'ml-dsa-44':
      case 'ml-dsa-65':
      case 'ml-dsa-87':
        return this.delegated(await this.noble.generateKeyPair(alg), alg);
      case 'ed25519':
        return this.wrap(await this.ed25519(ed25519Generate(this.random).secret));
      case 'ecdsa-p256':
      case 'ecdsa-p384':
        return this.wrap(await this.ecdsa(alg, ecdsaGenerate(alg, this.random)));
      case 'rsa':
      case 'rsa-pss':
        throw new UnsupportedAlgorithmError(`${this.providerName} provider does not generate RSA keys; import one instead`);
      default:
        throw new UnsupportedAlgorithmError(`${this.providerName} provider has no key algorithm ${String(alg)}`);
    }
  }

  async importPrivateKey(material: PrivateKeyMaterial): Promise<KeyPair> {
    if ('secretKey' in material) return this.delegated(await this.noble.importPrivateKey(material), material.algorithm);
    switch (material.algorithm) {
      case 'ml-dsa-44':
      case 'ml-dsa-65':
      case 'ml-dsa-87':
        return this.delegated(await this.noble.importPrivateKey(material), material.algorithm);
      case 'ed25519':
        return this.wrap(await this.ed25519(material.secret));
      case 'ecdsa-p256':
      case 'ecdsa-p384':
        return this.wrap(await this.ecdsa(material.algorithm, ecdsaImport(material.algorithm, material.secret)));
      case 'rsa':
      case 'rsa-pss': {
        const key = parseRsaPrivateKey(material.pkcs1, this.minRsaBits);
        const pss = material.algorithm === 'rsa-pss' ? material.pss : undefined;
        if (pss) checkPssRestriction(pss, key.bits);
        return this.wrap({
          algorithm: material.algorithm, key, publicKey: encodeRsaPublicKey(key), web: new WebCryptoRsaKey(this.subtle, key.pkcs1), ...(pss ? { pss } : {}),
        });
      }
      default:
        throw new UnsupportedAlgorithmError(`${this.providerName} provider has no key algorithm ${String((material as { algorithm: unknown }).algorithm)}`);
    }
  }

  async exportPrivateKey(ref: PrivateKeyRef): Promise<PrivateKeyMaterial> {
    const key = this.keys.unwrap(ref);
    if ('ref' in key) return this.noble.exportPrivateKey(key.ref);
    switch (key.algorithm) {
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

