/**
 * RSASSA-PSS as both backends need it (RFC 8017 §8.1, §9.1): EMSA-PSS
 * encoding and verification with MGF1, the RSAVP1 public operation on bigint,
 * and the rules for keys restricted to RSASSA-PSS (RFC 4055). The hash
 * functions are the backend's ({@link Digest}); the private-key operation
 * stays in each backend.
 */
import { AlertDescription, ConfigError, PqtlsError } from '../errors.js';
import { concat, constantTimeEqual } from '../bytes.js';
import { bigIntToBytes, bytesToBigInt, modPowPublic } from './bigint.js';
import { hashLength, type HashAlgorithm, type RsaPssRestriction } from './ids.js';
import type { RsaPublicKey } from './rsa-keys.js';

/** A one-shot hash function; noble's `sha256` and friends fit. */
export interface Digest {
  (data: Uint8Array): Uint8Array;
  readonly outputLen: number;
}

/** PSS parameters. TLS fixes them (RFC 8446 §4.2.3); Wycheproof varies them. */
export interface PssParams {
  readonly hash: Digest;
  readonly mgfHash: Digest;
  readonly saltLength: number;
}

/**
 * The parameters TLS 1.3 signs and verifies with: the scheme's hash, MGF1 on
 * the same hash (`rsa_pss_rsae_*`) or on the one an id-RSASSA-PSS key's
 * parameters name (possibly SHA-1, used only inside MGF1), and salt = hash length.
 */
export function pssParams(digest: (alg: HashAlgorithm | 'SHA-1') => Digest, alg: HashAlgorithm, mgfHash: HashAlgorithm | 'SHA-1' = alg): PssParams {
  const hash = digest(alg);
  return { hash, mgfHash: mgfHash === alg ? hash : digest(mgfHash), saltLength: hash.outputLen };
}

/** Bytes of randomness per exponent-blinding factor (64 bits); both backends draw two per RSA signature. */
export const EXPONENT_BLINDING_BYTES = 8;

/** A restriction no TLS scheme can satisfy, or that no signature fits in the modulus, is refused at import. */
export function checkPssRestriction(pss: RsaPssRestriction, bits: number): void {
  const hLen = hashLength(pss.hash);
  if (!Number.isInteger(pss.saltLength) || pss.saltLength < 0) throw new ConfigError(`RSASSA-PSS salt length ${pss.saltLength} is invalid`);
  if (pss.saltLength > hLen) {
    throw new ConfigError(`RSASSA-PSS key requires salts of at least ${pss.saltLength} bytes; TLS signs with ${hLen} (RFC 8446 §4.2.3)`);
  }
  if (Math.ceil((bits - 1) / 8) < hLen + hLen + 2) throw new ConfigError(`RSA modulus of ${bits} bits is too small for RSASSA-PSS with ${pss.hash}`);
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
export function pssEncode(message: Uint8Array, emBits: number, params: PssParams, salt: Uint8Array): Uint8Array {
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
export function rsaVerifyPrimitive(key: RsaPublicKey, signature: Uint8Array): bigint | undefined {
  if (signature.length !== key.k) return undefined;
  const s = bytesToBigInt(signature);
  if (s >= key.n) return undefined;
  return modPowPublic(s, key.e, key.n);
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
