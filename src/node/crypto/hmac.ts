/**
 * HMAC (RFC 2104) and HKDF (RFC 5869) for the node provider, on node:crypto's
 * one-shot `hash`: HMAC(K, m) = H((K' ⊕ opad) ‖ H((K' ⊕ ipad) ‖ m)).
 *
 * Why not `createHmac`: a TLS 1.3 key schedule makes about 23 HMACs per
 * handshake and side, each over a few dozen bytes. node's Hmac is a stream
 * object keyed through a KeyObject (itself one more native object, since raw
 * key bytes cost a thrown-and-caught TypeError on Node 24), and those objects,
 * not the four compression-function calls, were most of the ~0.25 ms a server
 * handshake spent in HKDF. Two one-shot hashes over buffers built here do the
 * same arithmetic, in OpenSSL, with no object per call. With the OpenSSL FFI
 * backend (./openssl-ffi.ts) the hashes are EVP_Digest calls that write where
 * the next step reads (the inner hash straight into the outer block), which
 * costs less again than `hash` and its Buffer per call.
 */
import { hash } from 'node:crypto';
import { ConfigError } from '../../errors.js';
import { hashLength, type HashAlgorithm } from '../../pq/ids.js';
import { plain } from './buffers.js';
import type { OpensslFfi } from './openssl-ffi.js';
import { nodeDigestName } from './symmetric.js';

/** The one-shot hash these functions use: node:crypto's, or the FFI backend's `digestInto`. */
type DigestInto = OpensslFfi['digestInto'];

const BLOCK: Readonly<Record<HashAlgorithm, number>> = { 'SHA-256': 64, 'SHA-384': 128, 'SHA-512': 128 };

/**
 * Where the hash inputs are built. A Uint8Array over 64 bytes lives outside
 * V8's heap (malloc, then freed by a GC sweep), and every HMAC needs two of
 * ~100–250 bytes: these are reused instead, which is safe because `hash` is
 * synchronous and they are zeroed before each function returns or throws. Inputs that do
 * not fit (long HMAC messages, outside the key schedule) get fresh arrays.
 */
const SCRATCH_INNER = new Uint8Array(512);
const SCRATCH_OUTER = new Uint8Array(128 + 64);
/** Where a hash lands before it is copied out (FFI only: node's `hash` returns a new Buffer anyway). */
const SCRATCH_DIGEST = new Uint8Array(64);
/**
 * Views made once, not per call: where in SCRATCH_OUTER the inner hash lands
 * (after the pad block), and SCRATCH_DIGEST cut to each hash's length. With
 * them and explicit input lengths, the FFI path allocates nothing per HMAC but
 * its result (a key schedule makes dozens; each view was an object to collect).
 */
const OUTER_TAIL: Readonly<Record<HashAlgorithm, Uint8Array>> = {
  'SHA-256': SCRATCH_OUTER.subarray(64), 'SHA-384': SCRATCH_OUTER.subarray(128), 'SHA-512': SCRATCH_OUTER.subarray(128),
};
const DIGEST_VIEW: Readonly<Record<HashAlgorithm, Uint8Array>> = {
  'SHA-256': SCRATCH_DIGEST.subarray(0, 32), 'SHA-384': SCRATCH_DIGEST.subarray(0, 48), 'SHA-512': SCRATCH_DIGEST,
};

/** SCRATCH_INNER when `length` bytes fit in it, else a fresh array of that length. */
const innerBuffer = (length: number): Uint8Array => (length <= SCRATCH_INNER.length ? SCRATCH_INNER : new Uint8Array(length));

/**
 * HMAC's two hashes, once the pads are in place: H(inner[0..innerLength))
 * goes after the pad block of SCRATCH_OUTER, and H(that outer input) is
 * returned, a view of scratch memory under the FFI (valid until the next call
 * here), node's own Buffer otherwise.
 */
function hmacHashes(alg: HashAlgorithm, inner: Uint8Array, innerLength: number, digestInto: DigestInto | undefined): Uint8Array {
  const block = BLOCK[alg];
  const outerLength = block + hashLength(alg);
  if (digestInto) {
    digestInto(alg, inner, OUTER_TAIL[alg], innerLength);
    digestInto(alg, SCRATCH_OUTER, SCRATCH_DIGEST, outerLength);
    return DIGEST_VIEW[alg];
  }
  const name = nodeDigestName(alg);
  SCRATCH_OUTER.set(hash(name, inner.subarray(0, innerLength), 'buffer'), block);
  return plain(hash(name, SCRATCH_OUTER.subarray(0, outerLength), 'buffer'));
}

/**
 * Writes K' ⊕ ipad into `inner` and K' ⊕ opad into `outer` (their first block
 * each), K' being the key, hashed first if longer than a block (RFC 2104 §2).
 */
function pads(alg: HashAlgorithm, key: Uint8Array, inner: Uint8Array, outer: Uint8Array): void {
  const block = BLOCK[alg];
  const k = key.length > block ? hash(nodeDigestName(alg), key, 'buffer') : key;
  inner.fill(0x36, 0, block);
  outer.fill(0x5c, 0, block);
  for (let i = 0; i < k.length; i++) {
    const b = k[i] as number;
    inner[i] = b ^ 0x36;
    outer[i] = b ^ 0x5c;
  }
}

export function nodeHmac(alg: HashAlgorithm, key: Uint8Array, data: Uint8Array, digestInto?: DigestInto): Uint8Array {
  const block = BLOCK[alg];
  const innerLength = block + data.length;
  const inner = innerBuffer(innerLength);
  try {
    pads(alg, key, inner, SCRATCH_OUTER);
    inner.set(data, block);
    return hmacHashes(alg, inner, innerLength, digestInto).slice();
  } finally {
    // The padded key is as secret as the key; the rest held the message and the inner hash.
    inner.fill(0, 0, innerLength);
    SCRATCH_OUTER.fill(0);
    SCRATCH_DIGEST.fill(0);
  }
}

/** HKDF-Extract (RFC 5869 §2.2) is HMAC(salt, IKM); an absent salt is HashLen zeros. */
export function nodeHkdfExtract(alg: HashAlgorithm, salt: Uint8Array, ikm: Uint8Array, digestInto?: DigestInto): Uint8Array {
  return nodeHmac(alg, salt.length === 0 ? new Uint8Array(hashLength(alg)) : salt, ikm, digestInto);
}

/**
 * HKDF-Expand (RFC 5869 §2.3): T(i) = HMAC(PRK, T(i−1) ‖ info ‖ i),
 * concatenated and truncated; the pads are made once for all blocks.
 */
export function nodeHkdfExpand(alg: HashAlgorithm, prk: Uint8Array, info: Uint8Array, length: number, digestInto?: DigestInto): Uint8Array {
  const hLen = hashLength(alg);
  if (!Number.isInteger(length) || length < 0 || length > 255 * hLen) {
    throw new ConfigError(`HKDF-Expand length ${length} out of range for ${alg}`);
  }
  if (prk.length < hLen) throw new ConfigError(`HKDF-Expand PRK shorter than ${alg} output`);
  const block = BLOCK[alg];
  // inner: ipad block ‖ T(i−1) (absent for i = 1) ‖ info ‖ i; outer: opad block ‖ inner hash.
  const innerMax = block + hLen + info.length + 1;
  const inner = innerBuffer(innerMax);
  const out = new Uint8Array(length);
  try {
    pads(alg, prk, inner, SCRATCH_OUTER);
    let previous = 0;
    for (let i = 1, o = 0; o < length; i++, o += hLen) {
      const end = block + previous + info.length + 1;
      inner.set(info, block + previous);
      inner[end - 1] = i;
      const t = hmacHashes(alg, inner, end, digestInto);
      if (length - o >= hLen) out.set(t, o);
      else for (let j = 0; o + j < length; j++) out[o + j] = t[j] as number;
      inner.set(t, block);
      previous = hLen;
    }
    return out;
  } finally {
    inner.fill(0, 0, innerMax);
    SCRATCH_OUTER.fill(0);
    SCRATCH_DIGEST.fill(0);
  }
}
