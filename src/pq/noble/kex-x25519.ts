import { x25519 } from '@noble/curves/ed25519.js';
import { IllegalParameterError } from '../../errors.js';
import type { RandomSource } from '../random.js';
import { requireLength, type KexPart, type PendingShare } from '../kex-part.js';

/**
 * X25519 shared secret with the checks of RFC 8446 §7.4.2: the peer share must
 * be 32 bytes and the result must not be all-zero. noble refuses the five
 * low-order u-coordinates (the only inputs that give zero with a clamped scalar)
 * before running the ladder, so any refusal here is that case.
 */
export function x25519SharedSecret(privateKey: Uint8Array, peerShare: Uint8Array): Uint8Array {
  requireLength(peerShare, 32, 'X25519 share');
  try {
    return x25519.getSharedSecret(privateKey, peerShare);
  } catch {
    throw new IllegalParameterError('X25519 share is a low-order point: the shared secret is all-zero (RFC 8446 §7.4.2)');
  }
}

/**
 * X25519 (RFC 7748) as a TLS key exchange. Randomness: `generate` and
 * `encapsulate` each draw exactly one 32-byte chunk, which is the private key
 * itself (clamped by X25519), so a scripted source reproduces a published key share.
 */
export const X25519_PART: KexPart = Object.freeze({
  name: 'X25519',
  clientShareLength: 32,
  serverShareLength: 32,
  secretLength: 32,
  generate(random: RandomSource): PendingShare {
    const privateKey = random(32);
    return {
      share: x25519.getPublicKey(privateKey),
      complete: (serverShare: Uint8Array) => x25519SharedSecret(privateKey, serverShare),
      wipe: () => privateKey.fill(0),
    };
  },
  encapsulate(clientShare: Uint8Array, random: RandomSource) {
    const privateKey = random(32);
    try {
      // The secret first: a low-order client share fails before we spend a base-point multiplication.
      const secret = x25519SharedSecret(privateKey, clientShare);
      return { share: x25519.getPublicKey(privateKey), secret };
    } finally {
      privateKey.fill(0);
    }
  },
});
