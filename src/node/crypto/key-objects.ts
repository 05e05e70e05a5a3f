/**
 * node:crypto KeyObjects from raw key bytes: X25519 and Ed25519 through JWK
 * (RFC 8037), EC public keys through a DER SubjectPublicKeyInfo (RFC 5480).
 *
 * Why JWK for the OKP curves: Node 20's OpenSSL 3.0 DER decoders take ~380 µs
 * per PKCS #8 import and ~80 µs per SPKI, against ~40 and ~7 µs for JWK, and
 * an X25519 exchange imports several keys. (For EC keys the two cost the same.)
 */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { concat } from '../../bytes.js';
import { base64url } from './buffers.js';

export type OkpCurve = 'X25519' | 'Ed25519';

/** RFC 8410 §7 OneAsymmetricKey prefixes: the 32-byte private key follows. */
const PKCS8_PREFIX: Readonly<Record<OkpCurve, Uint8Array>> = {
  X25519: Uint8Array.of(0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20),
  Ed25519: Uint8Array.of(0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20),
};

/**
 * A JWK private key must carry `x`, the public key we are importing the
 * private key to learn. Node builds the key from `d` alone (OpenSSL's raw
 * private-key constructor derives the public half), so any well-formed `x`
 * will do. Whether that holds is checked once, on RFC 7748 §6.1's key pair;
 * if a runtime ever reads `x`, imports fall back to the slow PKCS #8 path.
 */
const PLACEHOLDER_X = base64url(new Uint8Array(32));
const jwkIgnoresX = ((): boolean => {
  try {
    const alice = Uint8Array.from(Buffer.from('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a', 'hex'));
    const key = createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d: base64url(alice), x: PLACEHOLDER_X }, format: 'jwk' });
    return Buffer.from(okpRawPublicKey(key)).toString('hex') === '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a';
  } catch {
    return false;
  }
})();

export function okpPrivateKey(curve: OkpCurve, secret: Uint8Array): KeyObject {
  if (jwkIgnoresX) return createPrivateKey({ key: { kty: 'OKP', crv: curve, d: base64url(secret), x: PLACEHOLDER_X }, format: 'jwk' });
  return okpPrivateKeyPkcs8(curve, secret);
}

/** The slow, unambiguous import through PKCS #8 (the fallback of {@link okpPrivateKey}). */
export function okpPrivateKeyPkcs8(curve: OkpCurve, secret: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.from(concat(PKCS8_PREFIX[curve], secret)), format: 'der', type: 'pkcs8' });
}

export function okpPublicKey(curve: OkpCurve, raw: Uint8Array): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv: curve, x: base64url(raw) }, format: 'jwk' });
}

/** The raw 32-byte public key of an X25519 or Ed25519 key. */
export function okpRawPublicKey(key: KeyObject): Uint8Array {
  const { x } = createPublicKey(key).export({ format: 'jwk' });
  if (typeof x !== 'string') throw new Error('node:crypto exported an OKP JWK without x');
  return Uint8Array.from(Buffer.from(x, 'base64url'));
}

/** AlgorithmIdentifier { id-ecPublicKey, namedCurve } (RFC 5480 §2.1.1). */
const EC_ALGORITHM = {
  'P-256': Uint8Array.of(0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07),
  'P-384': Uint8Array.of(0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22),
} as const;

export type NistCurve = keyof typeof EC_ALGORITHM;

/**
 * An EC public key from a SEC 1 point, compressed or not. OpenSSL decodes the
 * point on import and refuses one that is not on the curve, so a throw here
 * means an invalid key.
 */
export function ecPublicKey(curve: NistCurve, point: Uint8Array): KeyObject {
  const alg = EC_ALGORITHM[curve];
  const bitString = concat(Uint8Array.of(0x03, point.length + 1, 0x00), point);
  const spki = concat(Uint8Array.of(0x30, alg.length + bitString.length), alg, bitString);
  return createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
}
