import { chacha20 } from '@noble/ciphers/chacha.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { utf8 } from '../bytes.js';
import type { RandomSource } from '../pq/random.js';

/**
 * A deterministic stream for reproducible tests and traces: the ChaCha20
 * keystream under SHA-256(seed). Never use it for real keys.
 */
export function seededRandom(seed: Uint8Array | string): RandomSource {
  const key = sha256(typeof seed === 'string' ? utf8(seed) : seed);
  const nonce = new Uint8Array(12);
  let counter = 0;
  let pool = new Uint8Array(0);
  let used = 0;
  return (length) => {
    const out = new Uint8Array(length);
    let o = 0;
    while (o < length) {
      if (used === pool.length) {
        // 64 blocks at a time; the counter is in blocks.
        pool = chacha20(key, nonce, new Uint8Array(4096), undefined, counter);
        counter += 64;
        used = 0;
      }
      const n = Math.min(length - o, pool.length - used);
      out.set(pool.subarray(used, used + n), o);
      used += n;
      o += n;
    }
    return out;
  };
}

/**
 * Replays fixed byte strings in order, then fails: for reproducing published
 * traces (RFC 8448) whose randoms and private keys are given.
 */
export function scriptedRandom(chunks: readonly Uint8Array[]): RandomSource {
  const queue = [...chunks];
  return (length) => {
    const next = queue.shift();
    if (!next) throw new Error(`scripted random source exhausted (asked for ${length} bytes)`);
    if (next.length !== length) throw new Error(`scripted random: next chunk has ${next.length} bytes, asked for ${length}`);
    return next.slice();
  };
}
