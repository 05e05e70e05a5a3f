/**
 * The signature half of the node:crypto provider: Ed25519, ECDSA and RSA on
 * OpenSSL; ML-DSA on OpenSSL where the runtime has it (Node ≥ 24.7) and
 * otherwise delegated to a noble provider. Same schemes, key encodings and
 * error contract as {@link NobleSigner}.
 *
 * A native ML-DSA key is made once, at generation or import, from the seed (or
 * expanded key) the noble delegate holds, so both halves are the same key; the
 * delegate still exports it and signs when the provider has its own random
 * source, because OpenSSL draws ML-DSA's 32-byte hedge itself.
 *
 * ## Randomness
 * Draws from the provider's source exactly what the noble signer draws, in the
 * same order, so one seeded stream drives either backend to the same keys and
 * leaves it in the same state after every operation:
 * - key generation: ML-DSA a 32-byte seed (through noble), Ed25519 the 32-byte
 *   private key, ECDSA 48 (P-256) or 72 (P-384) bytes reduced to a scalar;
 * - signing: ML-DSA 32 bytes (through noble); RSA-PSS the hash-length salt, then
 *   k+8 bytes; RSA PKCS #1 v1.5 k+8 bytes; ECDSA 32 bytes; Ed25519 nothing.
 * - SLH-DSA (certificates only) is delegated to noble like ML-DSA, draws included.
 *
 * Where OpenSSL cannot take our bytes — ECDSA's nonce, RSA's blinding factor —
 * it uses its own generator, and the matching draw (noble's hedge and
 * blinding) is taken and discarded only to keep the streams in step. Ed25519,
 * RSA PKCS #1 v1.5 and RSA-PSS (whose salt we supply) therefore give the same
 * signatures as noble; ECDSA signatures differ but verify on either.
 */
import { sign, verify, type KeyObject } from 'node:crypto';
import { ConfigError, IllegalParameterError, UnsupportedAlgorithmError } from '../../errors.js';
import {
  SignatureScheme, hashLength, isSlhDsa, pssSchemeAllowed, schemeKeyAlgorithm, signatureSchemeName, type KeyAlgorithm,
  type MlDsaAlgorithm, type SigningScheme, type SlhDsaAlgorithm,
} from '../../pq/ids.js';
import { KeyStore } from '../../pq/keys.js';
import type { CryptoProvider, KeyPair, PrivateKeyMaterial, PrivateKeyRef, VerifyOptions } from '../../pq/provider.js';
import type { RandomSource } from '../../pq/random.js';
import { okpPublicKey } from './key-objects.js';
import {
  ecdsaImport, ecdsaPublicKey, ecdsaScalarFromSeed, ecdsaSeedLength, ed25519Import, type NodeEcdsaKey, type NodeEd25519Key,
} from './ec-keys.js';
import { parseRsaPublicKey } from '../../pq/rsa-keys.js';
import { EXPONENT_BLINDING_BYTES, checkPssRestriction, rsaPssVerify } from '../../pq/rsa-pss.js';
import { SIGNATURE_SCHEMES, rsaMode } from '../../pq/schemes.js';
import { nodePssParams, rsaImport, rsaPkcs1Sign, rsaPssSign, rsaVerify, type NodeRsaKey } from './rsa.js';
import { ML_DSA_PUBLIC_KEY_LENGTH, mlDsaPrivateKey, nativeMlDsaSign, nativeMlDsaVerify } from './native-pq.js';
import type { NativeKey, OpensslPkey } from './openssl-pkey.js';

/** The same schemes, in the same preference order, as the noble backend. */
export const NODE_SCHEMES: readonly SignatureScheme[] = SIGNATURE_SCHEMES;

/** An ML-DSA or SLH-DSA key lives in the delegate; we hold its reference, and OpenSSL's copy of an ML-DSA key. */
interface DelegatedKey {
  readonly algorithm: MlDsaAlgorithm | SlhDsaAlgorithm;
  readonly ref: PrivateKeyRef;
  readonly publicKey: Uint8Array;
  readonly native?: KeyObject;
  /** The key in OpenSSL through koffi (./openssl-pkey.ts), loaded once from the seed; preferred over `native`. */
  readonly ffi?: { readonly p: OpensslPkey; readonly key: NativeKey };
}

/** How ML-DSA runs: on OpenSSL or not, and whether OpenSSL may draw the signing hedge itself. */
export interface NodeMlDsa {
  readonly native: boolean;
  readonly ownRandomness: boolean;
  /** ML-DSA on OpenSSL through koffi whenever this returns the binding (probed on the first key or verification). */
  readonly pkey?: () => OpensslPkey | undefined;
}

const isMlDsa = (alg: KeyAlgorithm): alg is MlDsaAlgorithm => alg === 'ml-dsa-44' || alg === 'ml-dsa-65' || alg === 'ml-dsa-87';
type SigningKey = DelegatedKey | NodeEd25519Key | NodeEcdsaKey | NodeRsaKey;


const ecdsaHash = (alg: 'ecdsa-p256' | 'ecdsa-p384'): string => (alg === 'ecdsa-p256' ? 'sha256' : 'sha384');

/**
 * Signs, verifies and manages signing keys for the node provider; callers hold
 * opaque {@link PrivateKeyRef}s naming this provider, ML-DSA ones included.
 */
export class NodeSigner {
  private readonly keys: KeyStore<SigningKey>;

  constructor(
    private readonly providerName: string,
    private readonly random: RandomSource,
    private readonly minRsaBits: number,
    /** Performs ML-DSA and SLH-DSA, and decodes Ed25519 keys; must draw from the same `random`. */
    private readonly mlDsa: CryptoProvider,
    private readonly native: NodeMlDsa = { native: false, ownRandomness: false },
  ) {
    this.keys = new KeyStore<SigningKey>(providerName);
  }

  private supported(scheme: SignatureScheme): void {
    if (!NODE_SCHEMES.includes(scheme)) {
      throw new UnsupportedAlgorithmError(`${this.providerName} provider has no signature scheme ${signatureSchemeName(scheme)}`);
    }
  }

  private wrap(key: SigningKey): KeyPair {
    return { privateKey: this.keys.wrap(key.algorithm, key), publicKey: key.publicKey.slice() };
  }

  private async delegated(pair: KeyPair, algorithm: MlDsaAlgorithm | SlhDsaAlgorithm): Promise<KeyPair> {
    const p = isMlDsa(algorithm) ? this.native.pkey?.() : undefined;
    if (!isMlDsa(algorithm) || (!this.native.native && !p)) return this.wrap({ algorithm, ref: pair.privateKey, publicKey: pair.publicKey });
    const material = await this.mlDsa.exportPrivateKey(pair.privateKey);
    if (!('seed' in material || 'expanded' in material)) throw new ConfigError(`${algorithm} key material has neither seed nor expanded key`);
    const { seed, expanded } = material as { seed?: Uint8Array; expanded?: Uint8Array };
    // On the FFI from the seed only (an expanded key stays on node:crypto), and only if OpenSSL derives noble's public key from it.
    if (p && seed) {
      const key = p.fromSeed(algorithm, seed);
      const pub = p.publicKey(key);
      if (pub.length === ML_DSA_PUBLIC_KEY_LENGTH[algorithm] && pub.every((b, i) => b === pair.publicKey[i])) {
        return this.wrap({ algorithm, ref: pair.privateKey, publicKey: pair.publicKey, ffi: { p, key } });
      }
      p.free(key);
    }
    if (!this.native.native) return this.wrap({ algorithm, ref: pair.privateKey, publicKey: pair.publicKey });
    const native = mlDsaPrivateKey(algorithm, seed ? { seed } : { ...(expanded ? { expanded } : {}) });
    return this.wrap({ algorithm, ref: pair.privateKey, publicKey: pair.publicKey, native });
  }

  /** ML-DSA signing: on OpenSSL when it may pick the hedge, else the delegate draws it from our source. */
  private mlDsaSign(scheme: SigningScheme, key: DelegatedKey, message: Uint8Array): Promise<Uint8Array> {
    if (key.ffi && this.native.ownRandomness) return Promise.resolve(key.ffi.p.sign(key.algorithm as MlDsaAlgorithm, key.ffi.key, message));
    if (key.native && this.native.ownRandomness) return Promise.resolve(nativeMlDsaSign(key.native, message));
    return this.mlDsa.sign(scheme, key.ref, message);
  }

  private mlDsaVerify(scheme: SigningScheme, alg: MlDsaAlgorithm, publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
    const p = this.native.pkey?.();
    if (p) {
      const want = ML_DSA_PUBLIC_KEY_LENGTH[alg];
      if (publicKey.length !== want) return Promise.reject(new IllegalParameterError(`${alg} public key must be ${want} bytes, got ${publicKey.length}`));
      return Promise.resolve(p.verify(alg, publicKey, message, signature));
    }
    if (this.native.native) return Promise.resolve(nativeMlDsaVerify(alg, publicKey, message, signature));
    return this.mlDsa.verify(scheme, publicKey, message, signature);
  }

  async sign(scheme: SigningScheme, ref: PrivateKeyRef, message: Uint8Array): Promise<Uint8Array> {
    if (typeof scheme === 'string') {
      const key = this.keys.unwrap(ref);
      if (!('ref' in key)) throw new ConfigError(`${scheme} needs a ${scheme} key, got ${key.algorithm}`);
      return this.mlDsa.sign(scheme, key.ref, message); // SLH-DSA
    }
    this.supported(scheme);
    const key = this.keys.unwrap(ref);
    const want = schemeKeyAlgorithm(scheme);
    if (key.algorithm !== want) throw new ConfigError(`${signatureSchemeName(scheme)} needs a ${want} key, got ${key.algorithm}`);
    if ('ref' in key) return this.mlDsaSign(scheme, key, message);
    switch (key.algorithm) {
      case 'ed25519':
        return new Uint8Array(sign(null, message, key.key));
      case 'ecdsa-p256':
      case 'ecdsa-p384':
        this.random(32); // noble's RFC 6979 §3.6 hedge; OpenSSL picks its own nonce
        return new Uint8Array(sign(ecdsaHash(key.algorithm), message, { key: key.key, dsaEncoding: 'der' }));
      case 'rsa':
      case 'rsa-pss': {
        const mode = rsaMode(scheme);
        if (key.algorithm === 'rsa-pss' && !pssSchemeAllowed(scheme, key.pss)) {
          throw new ConfigError(`${signatureSchemeName(scheme)} is outside this RSASSA-PSS key's parameters (${key.pss?.hash}, salt ≥ ${key.pss?.saltLength})`);
        }
        const signature = mode.pss
          ? rsaPssSign(key, mode.hash, message, this.random(hashLength(mode.hash)))
          : rsaPkcs1Sign(key, mode.hash, message);
        // noble's bigint path draws a base-blinding factor and two exponent-blinding factors here; OpenSSL
        // blinds with its own generator, but the draws keep the two backends' streams in step.
        this.random(key.k + 8 + 2 * EXPONENT_BLINDING_BYTES);
        return signature;
      }
    }
  }

  /**
   * False for any signature that does not verify; {@link IllegalParameterError}
   * for a public key that is not a valid key of the scheme's type.
   */
  async verify(scheme: SigningScheme, publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array, options?: VerifyOptions): Promise<boolean> {
    if (typeof scheme === 'string') return this.mlDsa.verify(scheme, publicKey, message, signature);
    this.supported(scheme);
    const alg = schemeKeyAlgorithm(scheme);
    switch (alg) {
      case 'ml-dsa-44':
      case 'ml-dsa-65':
      case 'ml-dsa-87':
        return this.mlDsaVerify(scheme, alg, publicKey, message, signature);
      case 'ed25519':
        return this.ed25519Verify(publicKey, message, signature);
      case 'ecdsa-p256':
      case 'ecdsa-p384': {
        const key = ecdsaPublicKey(alg, publicKey);
        try {
          return verify(ecdsaHash(alg), message, { key, dsaEncoding: 'der' }, signature);
        } catch {
          return false;
        }
      }
      case 'rsa':
      case 'rsa-pss': {
        const mode = rsaMode(scheme);
        const mgf = alg === 'rsa-pss' ? options?.rsaPss?.mgfHash : undefined;
        if (mode.pss && mgf && mgf !== mode.hash) {
          // node's verify cannot take another MGF1 hash; the encoding check is the shared code's, on OpenSSL's hashes.
          return rsaPssVerify(parseRsaPublicKey(publicKey), message, signature, nodePssParams(mode.hash, mgf));
        }
        return rsaVerify(publicKey, mode.pss, mode.hash, message, signature);
      }
    }
  }

  /**
   * Ed25519 verification (RFC 8032 §5.1.7). OpenSSL does not validate a raw
   * public key on import, so when verification fails the delegate's verifier,
   * which decodes the key strictly first, tells a bad key
   * (IllegalParameterError) from a bad signature (false).
   */
  private async ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
    let ok = false;
    if (publicKey.length === 32 && signature.length === 64) {
      try {
        ok = verify(null, message, okpPublicKey('Ed25519', publicKey), signature);
      } catch {
        ok = false;
      }
    }
    if (!ok) await this.mlDsa.verify(SignatureScheme.ed25519, publicKey, message, signature);
    return ok;
  }

  /** Generates from `random`; RSA is refused, as by noble, since OpenSSL's prime search cannot draw from our source. */
  async generateKeyPair(alg: KeyAlgorithm): Promise<KeyPair> {
    if (isSlhDsa(alg)) return this.delegated(await this.mlDsa.generateKeyPair(alg), alg);
    switch (alg) {
      case 'ml-dsa-44':
      case 'ml-dsa-65':
      case 'ml-dsa-87':
        return this.delegated(await this.mlDsa.generateKeyPair(alg), alg);
      case 'ed25519':
        return this.wrap(ed25519Import(this.random(32)));
      case 'ecdsa-p256':
      case 'ecdsa-p384':
        return this.wrap(ecdsaImport(alg, ecdsaScalarFromSeed(alg, this.random(ecdsaSeedLength(alg)))));
      case 'rsa':
      case 'rsa-pss':
        throw new UnsupportedAlgorithmError(`${this.providerName} provider does not generate RSA keys; import one instead`);
      default:
        throw new UnsupportedAlgorithmError(`${this.providerName} provider has no key algorithm ${String(alg)}`);
    }
  }

  async importPrivateKey(material: PrivateKeyMaterial): Promise<KeyPair> {
    if ('secretKey' in material) return this.delegated(await this.mlDsa.importPrivateKey(material), material.algorithm);
    switch (material.algorithm) {
      case 'ml-dsa-44':
      case 'ml-dsa-65':
      case 'ml-dsa-87':
        return this.delegated(await this.mlDsa.importPrivateKey(material), material.algorithm);
      case 'ed25519':
        return this.wrap(ed25519Import(material.secret));
      case 'ecdsa-p256':
      case 'ecdsa-p384':
        return this.wrap(ecdsaImport(material.algorithm, material.secret));
      case 'rsa':
        return this.wrap(rsaImport(material.pkcs1, this.minRsaBits));
      case 'rsa-pss': {
        const key = rsaImport(material.pkcs1, this.minRsaBits, 'rsa-pss', material.pss);
        if (material.pss) checkPssRestriction(material.pss, key.bits);
        return this.wrap(key);
      }
      default:
        throw new UnsupportedAlgorithmError(`${this.providerName} provider has no key algorithm ${String((material as { algorithm: unknown }).algorithm)}`);
    }
  }

  async exportPrivateKey(ref: PrivateKeyRef): Promise<PrivateKeyMaterial> {
    const key = this.keys.unwrap(ref);
    if ('ref' in key) return this.mlDsa.exportPrivateKey(key.ref);
    switch (key.algorithm) {
      case 'ed25519':
      case 'ecdsa-p256':
      case 'ecdsa-p384':
        return { algorithm: key.algorithm, secret: key.secret.slice() };
      case 'rsa':
        return { algorithm: 'rsa', pkcs1: key.pkcs1.slice() };
      case 'rsa-pss':
        return key.pss ? { algorithm: 'rsa-pss', pkcs1: key.pkcs1.slice(), pss: key.pss } : { algorithm: 'rsa-pss', pkcs1: key.pkcs1.slice() };
    }
  }
}
