/**
 * The one hybrid table both backends build from (draft-ietf-tls-ecdhe-mlkem
 * §3.1): which halves each group joins, in which order, and the sizes the
 * draft states; and the size check that keeps a backend's wrong component
 * from shifting the split between the halves.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { COMPONENT_SIZES, HYBRID_LAYOUTS, HybridPart, type KexComponent } from '../../src/pq/hybrid.js';
import { NamedGroup } from '../../src/pq/ids.js';
import type { KexPart } from '../../src/pq/kex-part.js';

/** A part with the sizes of `c` that must never be run. */
function stub(c: KexComponent, over: Partial<KexPart> = {}): KexPart {
  const never = (): never => {
    throw new Error('not run in this test');
  };
  return { name: c, ...COMPONENT_SIZES[c], generate: never, encapsulate: never, ...over };
}

const ALL: Record<KexComponent, KexPart> = {
  'X25519': stub('X25519'), 'secp256r1': stub('secp256r1'), 'secp384r1': stub('secp384r1'),
  'ML-KEM-512': stub('ML-KEM-512'), 'ML-KEM-768': stub('ML-KEM-768'), 'ML-KEM-1024': stub('ML-KEM-1024'),
};

describe('hybrid layouts (draft-ietf-tls-ecdhe-mlkem §3.1)', () => {
  it('X25519MLKEM768 puts ML-KEM first; the NIST hybrids put ECDH first', () => {
    expect(HYBRID_LAYOUTS.map((l) => [l.group, l.first, l.second])).toEqual([
      [NamedGroup.X25519MLKEM768, 'ML-KEM-768', 'X25519'],
      [NamedGroup.SecP256r1MLKEM768, 'secp256r1', 'ML-KEM-768'],
      [NamedGroup.SecP384r1MLKEM1024, 'secp384r1', 'ML-KEM-1024'],
    ]);
  });

  it('has the client share, server share and secret sizes §3.1.1-3.1.3 state', () => {
    const sizes = HYBRID_LAYOUTS.map((l) => {
      const h = new HybridPart(l, ALL);
      return [h.name, h.clientShareLength, h.serverShareLength, h.secretLength];
    });
    expect(sizes).toEqual([
      ['X25519MLKEM768', 1216, 1120, 64],
      ['SecP256r1MLKEM768', 1249, 1153, 64],
      ['SecP384r1MLKEM1024', 1665, 1665, 80],
    ]);
  });

  it('refuses a backend component whose sizes are not its own', () => {
    const wrong = { ...ALL, 'X25519': stub('X25519', { serverShareLength: 33 }) };
    expect(() => new HybridPart(HYBRID_LAYOUTS[0] as (typeof HYBRID_LAYOUTS)[number], wrong)).toThrow(ConfigError);
  });
});
