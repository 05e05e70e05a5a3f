/**
 * Ed25519 and ECDSA (P-256/SHA-256, P-384/SHA-384) signing keys on
 * node:crypto, made from caller-supplied bytes so that a seeded random source
 * gives the same keys as the noble backend.
 */
import { createECDH, createPrivateKey, type KeyObject } from 'node:crypto';
import { ConfigError, IllegalParameterError } from '../../errors.js';
import { bigIntToBytes, bytesToBigInt } from '../../pq/bigint.js';
import { base64url } from './buffers.js';
import { ecPublicKey, okpPrivateKey, okpRawPublicKey, type NistCurve } from './key-objects.js';

export interface NodeEd25519Key {
  readonly algorithm: 'ed25519';
  /** The RFC 8032 §5.1.5 private key (the seed that is hashed), kept for export. */
  readonly secret: Uint8Array;
  readonly key: KeyObject;
  readonly publicKey: Uint8Array;
}

export function ed25519Import(secret: Uint8Array): NodeEd25519Key {
  if (secret.length !== 32) throw new ConfigError(`Ed25519 private key must be 32 bytes, got ${secret.length}`);
  const key = okpPrivateKey('Ed25519', secret);
  return { algorithm: 'ed25519', secret: secret.slice(), key, publicKey: okpRawPublicKey(key) };
}

export type EcdsaAlgorithm = 'ecdsa-p256' | 'ecdsa-p384';

interface CurveInfo {
  readonly jwk: NistCurve;
  readonly openssl: 'prime256v1' | 'secp384r1';
  readonly n: bigint;
  /** Scalar and field element length. */
  readonly size: number;
}

export const EC_CURVES: Readonly<Record<EcdsaAlgorithm, CurveInfo>> = {
  'ecdsa-p256': { jwk: 'P-256', openssl: 'prime256v1', n: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n, size: 32 },
  'ecdsa-p384': {
    jwk: 'P-384', openssl: 'secp384r1', size: 48,
    n: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
  },
};

export interface NodeEcdsaKey {
  readonly algorithm: EcdsaAlgorithm;
  /** Big-endian private scalar d, 1 ≤ d < n, fixed length; kept for export. */
  readonly secret: Uint8Array;
  readonly key: KeyObject;
  /** Uncompressed SEC 1 point. */
  readonly publicKey: Uint8Array;
}

export function ecdsaImport(algorithm: EcdsaAlgorithm, secret: Uint8Array): NodeEcdsaKey {
  const c = EC_CURVES[algorithm];
  const d = bytesToBigInt(secret);
  if (secret.length !== c.size || d === 0n || d >= c.n) {
    throw new ConfigError(`${algorithm} private key must be a ${c.size}-byte scalar in [1, n)`);
  }
  const ecdh = createECDH(c.openssl);
  ecdh.setPrivateKey(secret);
  const publicKey = new Uint8Array(ecdh.getPublicKey());
  const x = publicKey.subarray(1, 1 + c.size);
  const y = publicKey.subarray(1 + c.size);
  const key = createPrivateKey({ key: { kty: 'EC', crv: c.jwk, d: base64url(secret), x: base64url(x), y: base64url(y) }, format: 'jwk' });
  return { algorithm, secret: secret.slice(), key, publicKey };
}

/**
 * The scalar noble's `randomSecretKey` derives (FIPS 186-5 A.2.1): `size + size/2`
 * random bytes, big-endian, reduced mod n−1, plus 1.
 */
export function ecdsaScalarFromSeed(algorithm: EcdsaAlgorithm, seed: Uint8Array): Uint8Array {
  const c = EC_CURVES[algorithm];
  return bigIntToBytes((bytesToBigInt(seed) % (c.n - 1n)) + 1n, c.size);
}

export const ecdsaSeedLength = (algorithm: EcdsaAlgorithm): number => EC_CURVES[algorithm].size * 1.5;

/**
 * A peer's SEC 1 public key, compressed or uncompressed. The form and length
 * are checked here (OpenSSL would also take the hybrid form and the point at
 * infinity); OpenSSL checks the curve equation on import.
 *
 * @throws IllegalParameterError for anything that is not a valid point.
 */
export function ecdsaPublicKey(algorithm: EcdsaAlgorithm, point: Uint8Array): KeyObject {
  const c = EC_CURVES[algorithm];
  const tag = point[0];
  const wellFormed = (point.length === 1 + c.size && (tag === 0x02 || tag === 0x03)) || (point.length === 1 + 2 * c.size && tag === 0x04);
  if (wellFormed) {
    try {
      return ecPublicKey(c.jwk, point);
    } catch {
      // fall through to the refusal below
    }
  }
  throw new IllegalParameterError(`${algorithm} public key is not a valid SEC 1 point`);
}
