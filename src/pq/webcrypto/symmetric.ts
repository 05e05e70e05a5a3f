/**
 * AES-GCM on SubtleCrypto, with exactly the checks and error types of the
 * noble backend (src/pq/noble/symmetric.ts). Why the other symmetric
 * primitives stay on noble: see index.ts.
 */
import { ConfigError } from '../../errors.js';
import { aeadKeyLength, type AeadAlgorithm } from '../ids.js';
import type { AeadKey } from '../provider.js';

/**
 * The bytes as a view SubtleCrypto's typings accept (over an `ArrayBuffer`,
 * not a `SharedArrayBuffer`), copied only when they are not. SubtleCrypto
 * copies its inputs when called (WebCrypto §10, "get a copy of the buffer
 * source"), so the caller may reuse them as soon as the call returns.
 */
export const buf = (b: Uint8Array): Uint8Array<ArrayBuffer> =>
  b.buffer instanceof ArrayBuffer ? (b as Uint8Array<ArrayBuffer>) : new Uint8Array(b);

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
