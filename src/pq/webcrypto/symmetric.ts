/**
 * HMAC, HKDF and AES-GCM on SubtleCrypto, with exactly the checks and error
 * types of the noble backend (src/pq/noble/symmetric.ts). ChaCha20-Poly1305,
 * QUIC header protection and incremental hashing stay on noble (see index.ts).
 */
import { ConfigError } from '../../errors.js';
import { aeadKeyLength, hashLength, type AeadAlgorithm, type HashAlgorithm } from '../ids.js';
import type { AeadKey } from '../provider.js';

/**
 * The bytes as a view SubtleCrypto's typings accept (over an `ArrayBuffer`,
 * not a `SharedArrayBuffer`), copied only when they are not. SubtleCrypto
 * copies its inputs when called (WebCrypto §10, "get a copy of the buffer
 * source"), so the caller may reuse them as soon as the call returns.
 */
export const buf = (b: Uint8Array): Uint8Array<ArrayBuffer> =>
  b.buffer instanceof ArrayBuffer ? (b as Uint8Array<ArrayBuffer>) : new Uint8Array(b);

const blockLength = (alg: HashAlgorithm): number => (alg === 'SHA-256' ? 64 : 128);

/**
 * HMAC keys are zero-padded to the hash's block length (RFC 2104 §2), so an
 * empty key, which WebCrypto refuses to import, is the same key as a block of
 * zeros, which it takes.
 */
function hmacKey(subtle: SubtleCrypto, alg: HashAlgorithm, key: Uint8Array): Promise<CryptoKey> {
  const raw = key.length === 0 ? new Uint8Array(blockLength(alg)) : buf(key);
  return subtle.importKey('raw', raw, { name: 'HMAC', hash: alg }, false, ['sign']);
}

export async function webHmac(subtle: SubtleCrypto, alg: HashAlgorithm, key: Uint8Array, data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await subtle.sign('HMAC', await hmacKey(subtle, alg, key), buf(data)));
}

/**
 * HKDF-Extract (RFC 5869 §2.2) is HMAC(salt, IKM). WebCrypto's HKDF fuses
 * Extract and Expand, while TLS 1.3's key schedule needs them apart, so both
 * halves are built on its HMAC.
 */
export function webHkdfExtract(subtle: SubtleCrypto, alg: HashAlgorithm, salt: Uint8Array, ikm: Uint8Array): Promise<Uint8Array> {
  return webHmac(subtle, alg, salt.length === 0 ? new Uint8Array(hashLength(alg)) : salt, ikm);
}

/** HKDF-Expand (RFC 5869 §2.3): T(i) = HMAC(PRK, T(i−1) ‖ info ‖ i), the PRK imported once. */
export async function webHkdfExpand(subtle: SubtleCrypto, alg: HashAlgorithm, prk: Uint8Array, info: Uint8Array, length: number): Promise<Uint8Array> {
  const hLen = hashLength(alg);
  if (!Number.isInteger(length) || length < 0 || length > 255 * hLen) {
    throw new ConfigError(`HKDF-Expand length ${length} out of range for ${alg}`);
  }
  if (prk.length < hLen) throw new ConfigError(`HKDF-Expand PRK shorter than ${alg} output`);
  const out = new Uint8Array(length);
  if (length === 0) return out;
  const key = await hmacKey(subtle, alg, prk);
  const input = new Uint8Array(hLen + info.length + 1);
  input.set(info, hLen);
  for (let i = 1, o = 0; o < length; i++, o += hLen) {
    input[input.length - 1] = i;
    // T(1) has no previous block: HMAC over info ‖ 1 only.
    const t = new Uint8Array(await subtle.sign('HMAC', key, i === 1 ? input.subarray(hLen) : input));
    out.set(t.subarray(0, Math.min(hLen, length - o)), o);
    input.set(t);
  }
  return out;
}

/**
 * AES-GCM keyed once into a non-extractable CryptoKey. No `sealInto`: the
 * cipher runs behind a promise, so the record layers take the `seal` path.
 */
export async function webAesGcm(subtle: SubtleCrypto, alg: Exclude<AeadAlgorithm, 'CHACHA20-POLY1305'>, key: Uint8Array): Promise<AeadKey> {
  const len = aeadKeyLength(alg);
  if (key.length !== len) throw new ConfigError(`${alg} key must be ${len} bytes, got ${key.length}`);
  const k = await subtle.importKey('raw', buf(key), 'AES-GCM', false, ['encrypt', 'decrypt']);
  return Object.freeze({
    algorithm: alg,
    tagLength: 16 as const,
    nonceLength: 12 as const,
    seal: async (nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array) => {
      // TLS 1.3 and QUIC always use 96-bit nonces (RFC 8446 §5.3); anything else is a caller bug.
      if (nonce.length !== 12) throw new ConfigError(`${alg} nonce must be 12 bytes, got ${nonce.length}`);
      return new Uint8Array(await subtle.encrypt({ name: 'AES-GCM', iv: buf(nonce), additionalData: buf(aad), tagLength: 128 }, k, buf(plaintext)));
    },
    open: async (nonce: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array) => {
      if (nonce.length !== 12 || ciphertext.length < 16) return null;
      try {
        return new Uint8Array(await subtle.decrypt({ name: 'AES-GCM', iv: buf(nonce), additionalData: buf(aad), tagLength: 128 }, k, buf(ciphertext)));
      } catch {
        // OperationError: the tag did not verify.
        return null;
      }
    },
  });
}
