/**
 * ECDSA on P-256 with SHA-256 and P-384 with SHA-384 (FIPS 186-5, SEC 1), as
 * the TLS schemes `ecdsa_secp256r1_sha256` and `ecdsa_secp384r1_sha384`.
 * Signatures are DER `Ecdsa-Sig-Value` (RFC 8446 §4.2.3, RFC 5480); the DER is
 * parsed strictly here rather than by noble, so BER variants are refused.
 * High-S signatures verify (TLS has no low-S rule); signing is hedged RFC 6979
 * with entropy from the provider's source.
 */
import { p256, p384 } from '@noble/curves/nist.js';
import { ConfigError, IllegalParameterError } from '../../errors.js';
import { concat } from '../../bytes.js';
import type { RandomSource } from '../random.js';
import { contents, decodeDer, Tag, unsignedIntegerBytes } from '../../codec/der.js';
import { bigIntToBytes, bytesToBigInt } from '../bigint.js';

export type EcdsaAlgorithm = 'ecdsa-p256' | 'ecdsa-p384';

const curves = { 'ecdsa-p256': p256, 'ecdsa-p384': p384 } as const;
/** Scalar and field element length in bytes. */
const scalarLength: Record<EcdsaAlgorithm, number> = { 'ecdsa-p256': 32, 'ecdsa-p384': 48 };

export interface EcdsaKey {
  readonly algorithm: EcdsaAlgorithm;
  /** Big-endian private scalar d, 1 ≤ d < n, fixed length. */
  readonly secret: Uint8Array;
  /** Uncompressed SEC 1 point. */
  readonly publicKey: Uint8Array;
}

export function ecdsaImport(algorithm: EcdsaAlgorithm, secret: Uint8Array): EcdsaKey {
  const curve = curves[algorithm];
  if (secret.length !== scalarLength[algorithm] || !curve.utils.isValidSecretKey(secret)) {
    throw new ConfigError(`${algorithm} private key must be a ${scalarLength[algorithm]}-byte scalar in [1, n)`);
  }
  return { algorithm, secret: secret.slice(), publicKey: curve.getPublicKey(secret, false) };
}

/** A uniform scalar derived from random bytes (FIPS 186-5 A.2.1: extra bytes, reduced mod n−1, plus 1). */
export function ecdsaGenerate(algorithm: EcdsaAlgorithm, random: RandomSource): EcdsaKey {
  const curve = curves[algorithm];
  const seedLength = curve.lengths.seed ?? scalarLength[algorithm] + 16;
  return ecdsaImport(algorithm, curve.utils.randomSecretKey(random(seedLength)));
}

export function ecdsaSign(key: EcdsaKey, message: Uint8Array, random: RandomSource): Uint8Array {
  return curves[key.algorithm].sign(message, key.secret, { prehash: true, format: 'der', extraEntropy: random(32) });
}

/** Throws {@link IllegalParameterError} unless `publicKey` is a SEC 1 encoding of a point on the curve (not infinity). */
export function checkEcdsaPublicKey(algorithm: EcdsaAlgorithm, publicKey: Uint8Array): void {
  try {
    curves[algorithm].Point.fromBytes(publicKey).assertValidity();
  } catch {
    throw new IllegalParameterError(`${algorithm} public key is not a valid SEC 1 point`);
  }
}

/** Strict DER `Ecdsa-Sig-Value` to fixed-length r ‖ s, or undefined if malformed or out of range. */
export function derToCompact(algorithm: EcdsaAlgorithm, der: Uint8Array): Uint8Array | undefined {
  try {
    const seq = contents(decodeDer(der, 'Ecdsa-Sig-Value'), 'Ecdsa-Sig-Value');
    const r = bytesToBigInt(unsignedIntegerBytes(seq.expect(Tag.INTEGER, 'r'), 'r'));
    const s = bytesToBigInt(unsignedIntegerBytes(seq.expect(Tag.INTEGER, 's'), 's'));
    seq.end();
    const len = scalarLength[algorithm];
    return concat(bigIntToBytes(r, len), bigIntToBytes(s, len));
  } catch {
    return undefined;
  }
}

export function ecdsaVerify(algorithm: EcdsaAlgorithm, publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  checkEcdsaPublicKey(algorithm, publicKey);
  const compact = derToCompact(algorithm, signature);
  if (!compact) return false;
  try {
    return curves[algorithm].verify(compact, message, publicKey, { prehash: true, format: 'compact', lowS: false });
  } catch {
    return false;
  }
}
