import { gcm, unsafe as aesUnsafe } from '@noble/ciphers/aes.js';
import { chacha20, chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { extract, expand } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256, sha384, sha512 } from '@noble/hashes/sha2.js';
import { ConfigError } from '../../errors.js';
import { aeadKeyLength, hashLength, type AeadAlgorithm, type HashAlgorithm, type HeaderProtectionAlgorithm } from '../ids.js';
import type { AeadKey, HashContext, HashFunction, HeaderProtectionKey } from '../provider.js';

type NobleHash = typeof sha256 | typeof sha384 | typeof sha512;

export function nobleHashOf(alg: HashAlgorithm): NobleHash {
  switch (alg) {
    case 'SHA-256': return sha256;
    case 'SHA-384': return sha384;
    case 'SHA-512': return sha512;
  }
}

type NobleHashState = ReturnType<NobleHash['create']>;

class NobleHashContext implements HashContext {
  constructor(private readonly h: NobleHashState) {}
  update(data: Uint8Array): this {
    this.h.update(data);
    return this;
  }
  digest(): Uint8Array {
    return this.h.clone().digest();
  }
  clone(): HashContext {
    return new NobleHashContext(this.h.clone());
  }
}

function makeHash(alg: HashAlgorithm): HashFunction {
  const h = nobleHashOf(alg);
  return Object.freeze({
    algorithm: alg,
    outputLength: h.outputLen,
    blockLength: h.blockLen,
    create: () => new NobleHashContext(h.create()),
    digest: (data: Uint8Array) => h(data),
  });
}
const HASHES: Record<HashAlgorithm, HashFunction> = {
  'SHA-256': makeHash('SHA-256'),
  'SHA-384': makeHash('SHA-384'),
  'SHA-512': makeHash('SHA-512'),
};
export const nobleHash = (alg: HashAlgorithm): HashFunction => HASHES[alg];

export function nobleHmac(alg: HashAlgorithm, key: Uint8Array, data: Uint8Array): Uint8Array {
  return hmac(nobleHashOf(alg), key, data);
}

export function nobleHkdfExtract(alg: HashAlgorithm, salt: Uint8Array, ikm: Uint8Array): Uint8Array {
  // RFC 5869: an absent salt is HashLen zeros; noble does the same for an empty one.
  return extract(nobleHashOf(alg), ikm, salt.length === 0 ? new Uint8Array(hashLength(alg)) : salt);
}

export function nobleHkdfExpand(alg: HashAlgorithm, prk: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  if (!Number.isInteger(length) || length < 0 || length > 255 * hashLength(alg)) {
    throw new ConfigError(`HKDF-Expand length ${length} out of range for ${alg}`);
  }
  if (prk.length < hashLength(alg)) throw new ConfigError(`HKDF-Expand PRK shorter than ${alg} output`);
  return expand(nobleHashOf(alg), prk, info, length);
}

function checkKey(what: string, key: Uint8Array, len: number): void {
  if (key.length !== len) throw new ConfigError(`${what} key must be ${len} bytes, got ${key.length}`);
}

/**
 * noble's AEADs take the key per call and expand it there; we keep the key
 * bytes (copied, so the caller may wipe theirs) and pay that expansion per
 * record, the same as calling noble directly.
 */
export function nobleAead(alg: AeadAlgorithm, key: Uint8Array): AeadKey {
  checkKey(alg, key, aeadKeyLength(alg));
  const k = key.slice();
  const make = alg === 'CHACHA20-POLY1305' ? chacha20poly1305 : gcm;
  const seal = (nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Uint8Array => {
    // TLS 1.3 and QUIC always use 96-bit nonces (RFC 8446 §5.3); anything else is a caller bug.
    if (nonce.length !== 12) throw new ConfigError(`${alg} nonce must be 12 bytes, got ${nonce.length}`);
    return make(k, nonce, aad).encrypt(plaintext);
  };
  const open = (nonce: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array): Uint8Array | null => {
    if (nonce.length !== 12 || ciphertext.length < 16) return null;
    try {
      return make(k, nonce, aad).decrypt(ciphertext);
    } catch {
      return null;
    }
  };
  return Object.freeze({
    algorithm: alg,
    tagLength: 16 as const,
    nonceLength: 12 as const,
    seal: async (nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array) => seal(nonce, aad, plaintext),
    sealInto: (nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array, output: Uint8Array) => {
      if (output.length !== plaintext.length + 16) throw new ConfigError(`${alg} output must be ${plaintext.length + 16} bytes, got ${output.length}`);
      output.set(seal(nonce, aad, plaintext));
    },
    open: async (nonce: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array) => open(nonce, aad, ciphertext),
    openSync: open,
  });
}

/** RFC 9001 §5.4.3 (AES) and §5.4.4 (ChaCha20) header-protection masks. */
export function nobleHeaderProtection(alg: HeaderProtectionAlgorithm, key: Uint8Array): HeaderProtectionKey {
  checkKey(alg, key, alg === 'AES-128-ECB' ? 16 : 32);
  const k = key.slice();
  if (alg === 'CHACHA20') {
    const zeros = new Uint8Array(5);
    const maskSync = (sample: Uint8Array): Uint8Array => {
      if (sample.length !== 16) throw new ConfigError('header-protection sample must be 16 bytes');
      // counter = sample[0..3] little-endian, nonce = sample[4..15]
      const counter = (sample[0] as number) | ((sample[1] as number) << 8) | ((sample[2] as number) << 16) | (((sample[3] as number) << 24) >>> 0);
      return chacha20(k, sample.subarray(4, 16), zeros, undefined, counter >>> 0);
    };
    return Object.freeze({ algorithm: alg, mask: async (sample: Uint8Array) => maskSync(sample), maskSync });
  }
  // AES-ECB of one block is the raw block cipher: expand the key once and encrypt each sample
  // with noble's block primitive (its ecb() objects refuse a second encrypt()).
  const xk = aesUnsafe.expandKeyLE(k);
  const maskSync = (sample: Uint8Array): Uint8Array => {
    if (sample.length !== 16) throw new ConfigError('header-protection sample must be 16 bytes');
    return aesUnsafe.encryptBlock(xk, sample.slice()).subarray(0, 5);
  };
  return Object.freeze({ algorithm: alg, mask: async (sample: Uint8Array) => maskSync(sample), maskSync });
}
