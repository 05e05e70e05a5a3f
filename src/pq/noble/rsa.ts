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
import { bigIntToBytes, bytesToBigInt, mod, modInverse, modPow, modPowPublic } from './bigint.js';
import type { RsaPrivateKey, RsaPublicKey } from './rsa-keys.js';

/** A one-shot hash function; noble's `sha256` and friends fit. */
export interface Digest {
  (data: Uint8Array): Uint8Array;
  readonly outputLen: number;
}

const digests: Record<HashAlgorithm, Digest> = { 'SHA-256': sha256, 'SHA-384': sha384, 'SHA-512': sha512 };

export function rsaDigest(alg: HashAlgorithm): Digest {
  return digests[alg];
}

/**
 * PSS parameters for `rsa_pss_pss_*` under a key whose RSASSA-PSS-params name
 * another MGF1 hash (possibly SHA-1, used only inside MGF1 here): the scheme's
 * hash, MGF1 on `mgfHash`, salt = hash length.
 */
export function restrictedPssParams(alg: HashAlgorithm, mgfHash: HashAlgorithm | 'SHA-1'): PssParams {
  const hash = digests[alg];
  return { hash, mgfHash: mgfHash === 'SHA-1' ? sha1 : digests[mgfHash], saltLength: hash.outputLen };
}

/** PSS parameters. TLS fixes them (RFC 8446 §4.2.3); Wycheproof varies them. */
export interface PssParams {
  readonly hash: Digest;
  readonly mgfHash: Digest;
  readonly saltLength: number;
}

/** The parameters TLS 1.3 mandates for `rsa_pss_rsae_*`: MGF1 with the same hash, salt = hash length. */
export function tlsPssParams(alg: HashAlgorithm): PssParams {
  const hash = digests[alg];
  return { hash, mgfHash: hash, saltLength: hash.outputLen };
}

/** MGF1 (RFC 8017 §B.2.1). */
function mgf1(hash: Digest, seed: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(length);
  const block = new Uint8Array(seed.length + 4);
  block.set(seed);
  const view = new DataView(block.buffer);
  for (let counter = 0, o = 0; o < length; counter++, o += hash.outputLen) {
    view.setUint32(seed.length, counter);
    const t = hash(block);
    out.set(t.subarray(0, Math.min(t.length, length - o)), o);
  }
  return out;
}

/** H = Hash(0x00 × 8 ‖ mHash ‖ salt), the value PSS commits to (RFC 8017 §9.1.1 steps 5–6). */
function pssHashPrime(hash: Digest, mHash: Uint8Array, salt: Uint8Array): Uint8Array {
  return hash(concat(new Uint8Array(8), mHash, salt));
}

/** EMSA-PSS-ENCODE (RFC 8017 §9.1.1) to emBits bits. */
function pssEncode(message: Uint8Array, emBits: number, params: PssParams, salt: Uint8Array): Uint8Array {
  const { hash, mgfHash } = params;
  const hLen = hash.outputLen;
  const emLen = Math.ceil(emBits / 8);
  if (emLen < hLen + salt.length + 2) throw new PqtlsError('RSA modulus too small for PSS parameters', AlertDescription.internal_error);
  const h = pssHashPrime(hash, hash(message), salt);
  const db = new Uint8Array(emLen - hLen - 1);
  db[db.length - salt.length - 1] = 0x01;
  db.set(salt, db.length - salt.length);
  const mask = mgf1(mgfHash, h, db.length);
  for (let i = 0; i < db.length; i++) db[i] = (db[i] as number) ^ (mask[i] as number);
  db[0] = (db[0] as number) & (0xff >>> (8 * emLen - emBits));
  return concat(db, h, Uint8Array.of(0xbc));
}

/** EMSA-PSS-VERIFY (RFC 8017 §9.1.2): true for "consistent". */
function pssVerifyEncoding(message: Uint8Array, em: Uint8Array, emBits: number, params: PssParams): boolean {
  const { hash, mgfHash, saltLength } = params;
  const hLen = hash.outputLen;
  const emLen = em.length;
  if (emLen < hLen + saltLength + 2 || em[emLen - 1] !== 0xbc) return false;
  const maskedDb = em.subarray(0, emLen - hLen - 1);
  const h = em.subarray(emLen - hLen - 1, emLen - 1);
  const topMask = 0xff >>> (8 * emLen - emBits);
  if (((maskedDb[0] as number) & ~topMask) !== 0) return false;
  const mask = mgf1(mgfHash, h, maskedDb.length);
  const db = maskedDb.map((b, i) => b ^ (mask[i] as number));
  db[0] = (db[0] as number) & topMask;
  const psLen = emLen - hLen - saltLength - 2;
  for (let i = 0; i < psLen; i++) if (db[i] !== 0) return false;
  if (db[psLen] !== 0x01) return false;
  const salt = db.subarray(db.length - saltLength);
  return constantTimeEqual(pssHashPrime(hash, hash(message), salt), h);
}

/** RSAVP1 (RFC 8017 §5.2.2) with the length checks of §8.1.2 step 1: undefined when out of range. */
function rsaVerifyPrimitive(key: RsaPublicKey, signature: Uint8Array): bigint | undefined {
  if (signature.length !== key.k) return undefined;
  const s = bytesToBigInt(signature);
  if (s >= key.n) return undefined;
  return modPowPublic(s, key.e, key.n);
}

/** Bytes of randomness per exponent-blinding factor (64 bits). */
export const EXPONENT_BLINDING_BYTES = 8;

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

/** RSASSA-PSS-VERIFY (RFC 8017 §8.1.2) with explicit parameters. */
export function rsaPssVerify(key: RsaPublicKey, message: Uint8Array, signature: Uint8Array, params: PssParams): boolean {
  const m = rsaVerifyPrimitive(key, signature);
  if (m === undefined) return false;
  const emBits = key.bits - 1;
  const emLen = Math.ceil(emBits / 8);
  // When emBits is a multiple of 8 the representative has a leading zero byte that EM omits.
  if (m >> BigInt(8 * emLen) !== 0n) return false;
  return pssVerifyEncoding(message, bigIntToBytes(m, emLen), emBits, params);
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
