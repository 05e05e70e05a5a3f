import type { RandomSource } from '../random.js';
import type { KexPart, PendingShare } from './kex-part.js';

/** a ‖ b in one allocation; zeroes both inputs (they are secrets the caller no longer needs). */
function joinSecrets(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  a.fill(0);
  b.fill(0);
  return out;
}

function joinShares(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/**
 * A hybrid group as draft-ietf-tls-ecdhe-mlkem §3.1 builds it: client share,
 * server share and shared secret are each `first ‖ second`, plain concatenation
 * with no length prefixes. For X25519MLKEM768 `first` is ML-KEM-768 (the
 * historical order); for SecP256r1MLKEM768 and SecP384r1MLKEM1024 it is the ECDH part.
 *
 * Randomness is drawn in layout order: all of `first`'s draws, then `second`'s.
 * The caller has checked the total share length; each part checks its own slice.
 */
export class HybridPart implements KexPart {
  readonly name: string;
  readonly clientShareLength: number;
  readonly serverShareLength: number;
  readonly secretLength: number;

  constructor(name: string, private readonly first: KexPart, private readonly second: KexPart) {
    this.name = name;
    this.clientShareLength = first.clientShareLength + second.clientShareLength;
    this.serverShareLength = first.serverShareLength + second.serverShareLength;
    this.secretLength = first.secretLength + second.secretLength;
    Object.freeze(this);
  }

  generate(random: RandomSource): PendingShare {
    const a = this.first.generate(random);
    let b: PendingShare;
    try {
      b = this.second.generate(random);
    } catch (e) {
      a.wipe();
      throw e;
    }
    const split = this.first.serverShareLength;
    return {
      share: joinShares(a.share, b.share),
      complete: (serverShare: Uint8Array) => {
        const sa = a.complete(serverShare.subarray(0, split));
        let sb: Uint8Array;
        try {
          sb = b.complete(serverShare.subarray(split));
        } catch (e) {
          sa.fill(0);
          throw e;
        }
        return joinSecrets(sa, sb);
      },
      wipe: () => {
        a.wipe();
        b.wipe();
      },
    };
  }

  encapsulate(clientShare: Uint8Array, random: RandomSource): { share: Uint8Array; secret: Uint8Array } {
    const split = this.first.clientShareLength;
    const x = this.first.encapsulate(clientShare.subarray(0, split), random);
    let y: { share: Uint8Array; secret: Uint8Array };
    try {
      y = this.second.encapsulate(clientShare.subarray(split), random);
    } catch (e) {
      x.secret.fill(0);
      throw e;
    }
    return { share: joinShares(x.share, y.share), secret: joinSecrets(x.secret, y.secret) };
  }
}
