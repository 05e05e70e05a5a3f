/**
 * Hashes, the TLS 1.3 AEADs and QUIC header protection on node:crypto
 * (OpenSSL; HMAC and HKDF are in ./hmac.ts), with exactly the checks and error types of the noble
 * backend (src/pq/noble/symmetric.ts), so either can stand in for the other.
 */
import { createCipheriv, createDecipheriv, createHash, createSecretKey, type Hash, type KeyObject } from 'node:crypto';
import { ConfigError } from '../../errors.js';
import { aeadKeyLength, hashLength, type AeadAlgorithm, type HashAlgorithm, type HeaderProtectionAlgorithm } from '../../pq/ids.js';
import type { AeadKey, HashContext, HashFunction, HeaderProtectionKey } from '../../pq/provider.js';
import { plain } from './buffers.js';

/** OpenSSL digest names. */
const DIGEST: Record<HashAlgorithm, string> = { 'SHA-256': 'sha256', 'SHA-384': 'sha384', 'SHA-512': 'sha512' };

export function nodeDigestName(alg: HashAlgorithm): string {
  return DIGEST[alg];
}

class NodeHashContext implements HashContext {
  constructor(private readonly h: Hash) {}
  update(data: Uint8Array): this {
    this.h.update(data);
    return this;
  }
  digest(): Uint8Array {
    // digest() finalises a node Hash; a copy keeps this context usable.
    return plain(this.h.copy().digest());
  }
  clone(): HashContext {
    return new NodeHashContext(this.h.copy());
  }
}

function makeHash(alg: HashAlgorithm): HashFunction {
  const name = DIGEST[alg];
  return Object.freeze({
    algorithm: alg,
    outputLength: hashLength(alg),
    blockLength: alg === 'SHA-256' ? 64 : 128,
    create: () => new NodeHashContext(createHash(name)),
    digest: (data: Uint8Array) => plain(createHash(name).update(data).digest()),
  });
}
const HASHES: Record<HashAlgorithm, HashFunction> = {
  'SHA-256': makeHash('SHA-256'),
  'SHA-384': makeHash('SHA-384'),
  'SHA-512': makeHash('SHA-512'),
};
export const nodeHash = (alg: HashAlgorithm): HashFunction => HASHES[alg];

function checkKey(what: string, key: Uint8Array, len: number): void {
  if (key.length !== len) throw new ConfigError(`${what} key must be ${len} bytes, got ${key.length}`);
}

const CIPHER = { 'AES-128-GCM': 'aes-128-gcm', 'AES-256-GCM': 'aes-256-gcm', 'CHACHA20-POLY1305': 'chacha20-poly1305' } as const;

/** One options object for every context: a record's worth of work allocates as little as it can. */
const TAG_16 = { authTagLength: 16 } as const;

// node's typings pick the AEAD overload per literal cipher name, hence the branch on each.
function sealer(cipher: (typeof CIPHER)[AeadAlgorithm], key: KeyObject, nonce: Uint8Array) {
  return cipher === 'chacha20-poly1305' ? createCipheriv(cipher, key, nonce, TAG_16) : createCipheriv(cipher, key, nonce, TAG_16);
}
function opener(cipher: (typeof CIPHER)[AeadAlgorithm], key: KeyObject, nonce: Uint8Array) {
  return cipher === 'chacha20-poly1305' ? createDecipheriv(cipher, key, nonce, TAG_16) : createDecipheriv(cipher, key, nonce, TAG_16);
}

/**
 * An AEAD keyed once: the key becomes a KeyObject (a copy, so the caller may
 * wipe theirs), and each record gets a fresh OpenSSL context, since a GCM or
 * ChaCha20-Poly1305 context cannot be re-nonced through node's API.
 */
export function nodeAead(alg: AeadAlgorithm, key: Uint8Array): AeadKey {
  checkKey(alg, key, aeadKeyLength(alg));
  const k: KeyObject = createSecretKey(key);
  const cipher = CIPHER[alg];
  const sealInto = (nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array, output: Uint8Array): void => {
    // TLS 1.3 and QUIC always use 96-bit nonces (RFC 8446 §5.3); anything else is a caller bug.
    if (nonce.length !== 12) throw new ConfigError(`${alg} nonce must be 12 bytes, got ${nonce.length}`);
    if (output.length !== plaintext.length + 16) throw new ConfigError(`${alg} output must be ${plaintext.length + 16} bytes, got ${output.length}`);
    const c = sealer(cipher, k, nonce);
    c.setAAD(aad, { plaintextLength: plaintext.length });
    // update() has read all of plaintext before its result is written over it (in place).
    const body = c.update(plaintext);
    output.set(body);
    const tail = c.final();
    output.set(tail, body.length);
    output.set(c.getAuthTag(), body.length + tail.length);
  };
  // Each update() returns a new Buffer owning its memory: handed out as is (as plain arrays), not joined.
  const sealParts = (nonce: Uint8Array, aad: Uint8Array, plaintext: readonly Uint8Array[]): Uint8Array[] => {
    if (nonce.length !== 12) throw new ConfigError(`${alg} nonce must be 12 bytes, got ${nonce.length}`);
    let length = 0;
    for (let i = 0; i < plaintext.length; i++) length += (plaintext[i] as Uint8Array).length;
    const c = sealer(cipher, k, nonce);
    c.setAAD(aad, { plaintextLength: length });
    const out: Uint8Array[] = [];
    for (let i = 0; i < plaintext.length; i++) {
      const p = plaintext[i] as Uint8Array;
      if (p.length === 0) continue;
      const b = c.update(p);
      if (b.length) out.push(plain(b));
    }
    const tail = c.final();
    if (tail.length) out.push(plain(tail));
    out.push(plain(c.getAuthTag()));
    return out;
  };
  const open = (nonce: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array): Uint8Array | null => {
    if (nonce.length !== 12 || ciphertext.length < 16) return null;
    const split = ciphertext.length - 16;
    try {
      const d = opener(cipher, k, nonce);
      d.setAAD(aad, { plaintextLength: split });
      d.setAuthTag(ciphertext.subarray(split));
      const body = d.update(ciphertext.subarray(0, split));
      // final() throws when the tag does not verify; nothing of `body` escapes before it.
      const tail = d.final();
      return tail.length === 0 ? plain(body) : new Uint8Array(Buffer.concat([body, tail]));
    } catch {
      return null;
    }
  };
  return Object.freeze({
    algorithm: alg,
    tagLength: 16 as const,
    nonceLength: 12 as const,
    seal: async (nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array) => {
      const out = new Uint8Array(plaintext.length + 16);
      sealInto(nonce, aad, plaintext, out);
      return out;
    },
    sealInto,
    sealParts,
    open: async (nonce: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array) => open(nonce, aad, ciphertext),
    openSync: open,
  });
}

/**
 * RFC 9001 §5.4.3 (AES) and §5.4.4 (ChaCha20) header-protection masks.
 *
 * AES: one ECB context for the key's lifetime. ECB chains nothing between
 * blocks, and with padding off `update` of one block returns its encryption
 * at once, so the context serves every sample and `final` is never called.
 *
 * ChaCha20: OpenSSL's 16-byte IV is counter (4 bytes, little-endian) ‖ nonce
 * (12 bytes), which is exactly the sample's layout in §5.4.4, so the sample is
 * the IV and the mask is the first 5 keystream bytes.
 */
export function nodeHeaderProtection(alg: HeaderProtectionAlgorithm, key: Uint8Array): HeaderProtectionKey {
  checkKey(alg, key, alg === 'AES-128-ECB' ? 16 : 32);
  const k = createSecretKey(key);
  if (alg === 'CHACHA20') {
    const zeros = new Uint8Array(5);
    const maskSync = (sample: Uint8Array): Uint8Array => {
      if (sample.length !== 16) throw new ConfigError('header-protection sample must be 16 bytes');
      return new Uint8Array(createCipheriv('chacha20', k, sample).update(zeros));
    };
    return Object.freeze({ algorithm: alg, mask: async (sample: Uint8Array) => maskSync(sample), maskSync });
  }
  const ecb = createCipheriv(alg === 'AES-128-ECB' ? 'aes-128-ecb' : 'aes-256-ecb', k, null);
  ecb.setAutoPadding(false);
  const maskSync = (sample: Uint8Array): Uint8Array => {
    if (sample.length !== 16) throw new ConfigError('header-protection sample must be 16 bytes');
    return new Uint8Array(ecb.update(sample).subarray(0, 5));
  };
  return Object.freeze({ algorithm: alg, mask: async (sample: Uint8Array) => maskSync(sample), maskSync });
}
