/**
 * RSA signatures for TLS (RFC 8446 §4.2.3): RSASSA-PSS with MGF1 and
 * salt length = hash length (`rsa_pss_rsae_*`), and RSASSA-PKCS1-v1_5
 * (`rsa_pkcs1_*`, which TLS 1.3 accepts only in certificates). noble has no RSA,
 * so this is RFC 8017 on native bigint.
 *
 * This is the fallback for runtimes without WebCrypto, and the path taken
 * when a seeded source must reproduce signatures exactly (signatures.ts
 * chooses). The private-key operation uses the CRT with both base and exponent
 * blinding, fresh for every signature from the provider's random source, and
 * checks s^e mod n = m before a signature leaves, so that a computation fault
 * cannot expose the primes. Native bigint arithmetic is not constant-time
 * (see bigint.ts); blinding is what keeps a timing observer from learning
 * about d_p, d_q or the message representative, since each operation works on
 * values that are never used again.
 */
import { sha1 } from '@noble/hashes/legacy.js';
import { sha256, sha384, sha512 } from '@noble/hashes/sha2.js';
import { AlertDescription, PqtlsError } from '../../errors.js';
import { concat, constantTimeEqual } from '../../bytes.js';
import type { HashAlgorithm } from '../ids.js';
import type { RandomSource } from '../random.js';
import { bigIntToBytes, bytesToBigInt, mod, modInverse, modPow, modPowPublic } from '../bigint.js';
import type { RsaPrivateKey, RsaPublicKey } from '../rsa-keys.js';
import { EXPONENT_BLINDING_BYTES, pssEncode, pssParams, rsaVerifyPrimitive, type Digest, type PssParams } from '../rsa-pss.js';

const digests: Record<HashAlgorithm, Digest> = { 'SHA-256': sha256, 'SHA-384': sha384, 'SHA-512': sha512 };
const digest = (alg: HashAlgorithm | 'SHA-1'): Digest => (alg === 'SHA-1' ? sha1 : digests[alg]);

/**
 * PSS parameters for `rsa_pss_pss_*` under a key whose RSASSA-PSS-params name
 * another MGF1 hash (possibly SHA-1, used only inside MGF1 here): the scheme's
 * hash, MGF1 on `mgfHash`, salt = hash length.
 */
export function restrictedPssParams(alg: HashAlgorithm, mgfHash: HashAlgorithm | 'SHA-1'): PssParams {
  return pssParams(digest, alg, mgfHash);
}

/** The parameters TLS 1.3 mandates for `rsa_pss_rsae_*`: MGF1 with the same hash, salt = hash length. */
export function tlsPssParams(alg: HashAlgorithm): PssParams {
  return pssParams(digest, alg);
}

/**
 * Observes the blinded CRT exponents of one private-key operation. Tests use it
 * to see that the exponents differ per call; production code passes nothing.
 */
export type BlindedExponentObserver = (dp: bigint, dq: bigint) => void;

/**
 * RSASP1 (RFC 8017 §5.2.1) through the CRT, blinded twice:
 * - the base: the exponentiation sees m·r^e for a fresh random r, and the
 *   result is unblinded with r^-1;
 * - the exponents: d_p' = d_p + r₁·(p−1) and d_q' = d_q + r₂·(q−1) with fresh
 *   64-bit r₁, r₂. By Fermat x^(p−1) ≡ 1 mod p for the (invertible, since
 *   blinded) base, so the result is unchanged, but the bits the
 *   exponentiation walks differ on every call.
 * The signature is checked with the public exponent before it is returned.
 *
 * Randomness drawn, in order: k+8 bytes per base-blinding attempt, then 8
 * bytes for r₁ and 8 for r₂.
 */
function rsaSignPrimitive(key: RsaPrivateKey, m: bigint, random: RandomSource, observe?: BlindedExponentObserver): bigint {
  const { n, e, p, q, dp, dq, qInv } = key;
  let r = 0n;
  let rInv: bigint | undefined;
  while (rInv === undefined || r < 2n) {
    // 64 extra bits make the reduction mod n statistically uniform.
    r = bytesToBigInt(random(key.k + 8)) % n;
    rInv = modInverse(r, n);
  }
  const dpBlinded = dp + bytesToBigInt(random(EXPONENT_BLINDING_BYTES)) * (p - 1n);
  const dqBlinded = dq + bytesToBigInt(random(EXPONENT_BLINDING_BYTES)) * (q - 1n);
  observe?.(dpBlinded, dqBlinded);
  const blinded = (m * modPowPublic(r, e, n)) % n;
  const m1 = modPow(blinded % p, dpBlinded, p);
  const m2 = modPow(blinded % q, dqBlinded, q);
  const h = mod(qInv * (m1 - m2), p);
  const s = ((m2 + h * q) * rInv) % n;
  if (modPowPublic(s, e, n) !== m) {
    throw new PqtlsError('RSA signature failed its self-check (fault or corrupted key); not released', AlertDescription.internal_error);
  }
  return s;
}

/** RSASSA-PSS-SIGN (RFC 8017 §8.1.1) with a fresh salt of `params.saltLength` bytes. */
export function rsaPssSign(
  key: RsaPrivateKey, message: Uint8Array, params: PssParams, random: RandomSource, observe?: BlindedExponentObserver,
): Uint8Array {
  const em = pssEncode(message, key.bits - 1, params, random(params.saltLength));
  return bigIntToBytes(rsaSignPrimitive(key, bytesToBigInt(em), random, observe), key.k);
}

/** DER DigestInfo prefixes (RFC 8017 §9.2 note 1): the hash's AlgorithmIdentifier with NULL parameters. */
const digestInfoPrefix: Record<HashAlgorithm, Uint8Array> = {
  'SHA-256': Uint8Array.of(0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20),
  'SHA-384': Uint8Array.of(0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30),
  'SHA-512': Uint8Array.of(0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40),
};

/** EMSA-PKCS1-v1_5-ENCODE (RFC 8017 §9.2), or undefined if emLen is too short. */
function pkcs1Encode(message: Uint8Array, alg: HashAlgorithm, emLen: number): Uint8Array | undefined {
  const t = concat(digestInfoPrefix[alg], digests[alg](message));
  if (emLen < t.length + 11) return undefined;
  const em = new Uint8Array(emLen).fill(0xff);
  em[0] = 0x00;
  em[1] = 0x01;
  em[emLen - t.length - 1] = 0x00;
  em.set(t, emLen - t.length);
  return em;
}

/** RSASSA-PKCS1-V1_5-SIGN (RFC 8017 §8.2.1). Deterministic apart from the blinding. */
export function rsaPkcs1Sign(
  key: RsaPrivateKey, message: Uint8Array, alg: HashAlgorithm, random: RandomSource, observe?: BlindedExponentObserver,
): Uint8Array {
  const em = pkcs1Encode(message, alg, key.k);
  if (!em) throw new PqtlsError('RSA modulus too small for PKCS #1 v1.5', AlertDescription.internal_error);
  return bigIntToBytes(rsaSignPrimitive(key, bytesToBigInt(em), random, observe), key.k);
}

/**
 * RSASSA-PKCS1-V1_5-VERIFY (RFC 8017 §8.2.2) by re-encoding and comparing, as
 * the RFC prescribes, so no lenient parse of the padding or DigestInfo (missing
 * NULL, BER lengths, trailing garbage) can be accepted.
 */
export function rsaPkcs1Verify(key: RsaPublicKey, message: Uint8Array, signature: Uint8Array, alg: HashAlgorithm): boolean {
  const m = rsaVerifyPrimitive(key, signature);
  if (m === undefined) return false;
  const expected = pkcs1Encode(message, alg, key.k);
  return expected !== undefined && constantTimeEqual(bigIntToBytes(m, key.k), expected);
}
