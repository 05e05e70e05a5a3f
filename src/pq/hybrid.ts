/**
 * The hybrid groups of draft-ietf-tls-ecdhe-mlkem as data, in the manner of
 * rustls's `Hybrid` and its layout: for each NamedGroup, which two components
 * it joins and in which order they stand in the client share, the server share
 * and the shared secret. Every backend builds its hybrids from this one table
 * with its own component implementations, so the safety-critical order
 * (ML-KEM first only in X25519MLKEM768) is written once.
 */
import { ConfigError } from '../errors.js';
import { NamedGroup } from './ids.js';
import type { KexPart, PendingShare } from './kex-part.js';
import type { MlKemName } from './mlkem.js';
import type { RandomSource } from './random.js';

/** A key-exchange algorithm a backend implements as a {@link KexPart}: alone it is a group, in pairs a hybrid. */
export type KexComponent = 'X25519' | 'secp256r1' | 'secp384r1' | MlKemName;

/** Share and secret sizes of each component (RFC 8446 §4.2.8.2, §7.4.2; FIPS 203 Table 3). */
export const COMPONENT_SIZES: Readonly<Record<KexComponent, { clientShareLength: number; serverShareLength: number; secretLength: number }>> = {
  'X25519': { clientShareLength: 32, serverShareLength: 32, secretLength: 32 },
  'secp256r1': { clientShareLength: 65, serverShareLength: 65, secretLength: 32 },
  'secp384r1': { clientShareLength: 97, serverShareLength: 97, secretLength: 48 },
  'ML-KEM-512': { clientShareLength: 800, serverShareLength: 768, secretLength: 32 },
  'ML-KEM-768': { clientShareLength: 1184, serverShareLength: 1088, secretLength: 32 },
  'ML-KEM-1024': { clientShareLength: 1568, serverShareLength: 1568, secretLength: 32 },
};

/**
 * One hybrid group. Client share, server share and shared secret are each
 * `first ‖ second` (draft-ietf-tls-ecdhe-mlkem §3.1), plain concatenation
 * with no length prefixes, and `first` draws its randomness first.
 */
export interface HybridLayout {
  readonly group: NamedGroup;
  readonly name: string;
  readonly first: KexComponent;
  readonly second: KexComponent;
}

/**
 * draft-ietf-tls-ecdhe-mlkem §3.1: X25519MLKEM768 puts ML-KEM-768 first (the
 * historical order, §3); SecP256r1MLKEM768 and SecP384r1MLKEM1024 put the
 * ECDH part first, so the FIPS-approved secret leads.
 */
export const HYBRID_LAYOUTS: readonly HybridLayout[] = Object.freeze([
  Object.freeze({ group: NamedGroup.X25519MLKEM768, name: 'X25519MLKEM768', first: 'ML-KEM-768', second: 'X25519' }),
  Object.freeze({ group: NamedGroup.SecP256r1MLKEM768, name: 'SecP256r1MLKEM768', first: 'secp256r1', second: 'ML-KEM-768' }),
  Object.freeze({ group: NamedGroup.SecP384r1MLKEM1024, name: 'SecP384r1MLKEM1024', first: 'secp384r1', second: 'ML-KEM-1024' }),
] as const);

/** a ‖ b in one allocation; zeroes both inputs (they are secrets the caller no longer needs). */
function joinSecrets(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = joinShares(a, b);
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

/** A backend's component, checked against {@link COMPONENT_SIZES} so a wrong part cannot shift the split. */
export function checkedComponent(component: KexComponent, part: KexPart): KexPart {
  const want = COMPONENT_SIZES[component];
  if (part.clientShareLength !== want.clientShareLength || part.serverShareLength !== want.serverShareLength ||
    part.secretLength !== want.secretLength) {
    throw new ConfigError(`${part.name} does not have the sizes of ${component}`);
  }
  return part;
}

/**
 * The combinator: a {@link HybridLayout} over a backend's two component parts.
 * Randomness is drawn in layout order: all of `first`'s draws, then `second`'s.
 * The caller has checked the total share length; each part checks its own slice.
 */
export class HybridPart implements KexPart {
  readonly name: string;
  readonly clientShareLength: number;
  readonly serverShareLength: number;
  readonly secretLength: number;
  private readonly first: KexPart;
  private readonly second: KexPart;

  constructor(layout: HybridLayout, parts: Readonly<Record<KexComponent, KexPart>>) {
    this.name = layout.name;
    this.first = checkedComponent(layout.first, parts[layout.first]);
    this.second = checkedComponent(layout.second, parts[layout.second]);
    this.clientShareLength = this.first.clientShareLength + this.second.clientShareLength;
    this.serverShareLength = this.first.serverShareLength + this.second.serverShareLength;
    this.secretLength = this.first.secretLength + this.second.secretLength;
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
