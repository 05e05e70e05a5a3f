import type { ECDSA } from '@noble/curves/abstract/weierstrass.js';
import { p256, p384 } from '@noble/curves/nist.js';
import { ConfigError, IllegalParameterError } from '../../errors.js';
import type { RandomSource } from '../random.js';
import { requireLength, type KexPart, type PendingShare } from '../kex-part.js';

/** Draws far beyond any plausible rejection streak (P-256 rejects with probability ~2^-32). */
const MAX_SCALAR_DRAWS = 64;

/**
 * ECDHE over secp256r1 or secp384r1 as RFC 8446 §4.2.8.2 and §7.4.2 define it:
 * shares are uncompressed SEC1 points (0x04 ‖ X ‖ Y), each peer point is checked
 * to lie on the curve, and the shared secret is the X coordinate of the product,
 * big-endian, field-length bytes.
 *
 * Randomness: each `generate` / `encapsulate` draws a field-length chunk (32
 * bytes for P-256, 48 for P-384) and uses it as the big-endian private scalar;
 * a chunk that is zero or not below the group order is discarded and another drawn.
 */
export class NistEcdhPart implements KexPart {
  readonly clientShareLength: number;
  readonly serverShareLength: number;
  readonly secretLength: number;
  private readonly Point: ECDSA['Point'];

  constructor(readonly name: string, private readonly curve: ECDSA) {
    this.Point = curve.Point;
    this.secretLength = this.Point.Fp.BYTES;
    this.clientShareLength = this.serverShareLength = 1 + 2 * this.secretLength;
    Object.freeze(this);
  }

  /** Draws a private scalar in [1, n-1] by rejection, as the class TSDoc describes. */
  drawScalar(random: RandomSource): Uint8Array {
    for (let i = 0; i < MAX_SCALAR_DRAWS; i++) {
      const candidate = random(this.secretLength);
      if (this.curve.utils.isValidSecretKey(candidate)) return candidate;
      candidate.fill(0);
    }
    throw new ConfigError(`random source gave ${MAX_SCALAR_DRAWS} invalid ${this.name} scalars in a row`);
  }

  /** Parses and validates a peer share; only the uncompressed form is legal in TLS 1.3. */
  parsePeer(share: Uint8Array): InstanceType<ECDSA['Point']> {
    requireLength(share, this.clientShareLength, `${this.name} share`);
    if (share[0] !== 0x04) {
      throw new IllegalParameterError(`${this.name} share is not an uncompressed point (RFC 8446 §4.2.8.2)`);
    }
    try {
      // fromBytes checks the curve equation and refuses the point at infinity.
      return this.Point.fromBytes(share);
    } catch {
      throw new IllegalParameterError(`${this.name} share is not a point on the curve (RFC 8446 §4.2.8.2)`);
    }
  }

  /** The X coordinate of scalar·peer (RFC 8446 §7.4.2). */
  sharedSecret(scalar: Uint8Array, peer: InstanceType<ECDSA['Point']>): Uint8Array {
    const product = peer.multiply(this.Point.Fn.fromBytes(scalar));
    return this.Point.Fp.toBytes(product.toAffine().x);
  }

  generate(random: RandomSource): PendingShare {
    const scalar = this.drawScalar(random);
    return {
      share: this.curve.getPublicKey(scalar, false),
      complete: (serverShare: Uint8Array) => this.sharedSecret(scalar, this.parsePeer(serverShare)),
      wipe: () => scalar.fill(0),
    };
  }

  encapsulate(clientShare: Uint8Array, random: RandomSource): { share: Uint8Array; secret: Uint8Array } {
    // Validate before drawing, so a bad share costs no randomness and no multiplication.
    const peer = this.parsePeer(clientShare);
    const scalar = this.drawScalar(random);
    try {
      return { share: this.curve.getPublicKey(scalar, false), secret: this.sharedSecret(scalar, peer) };
    } finally {
      scalar.fill(0);
    }
  }
}

export const P256_PART = new NistEcdhPart('secp256r1', p256);
export const P384_PART = new NistEcdhPart('secp384r1', p384);
