/**
 * The hybrid groups' layout, the one place the QUAC provider learns which
 * component stands first in each hybrid (draft-ietf-tls-ecdhe-mlkem §3.1).
 *
 * The shared table is moving to `src/pq/hybrid.ts` (HYBRID_LAYOUTS, same shape
 * as below); until it is on this branch the table is written here. When it
 * lands, this file becomes
 * `export { HYBRID_LAYOUTS, type HybridLayout, type KexComponent } from '../../pq/hybrid.js';`
 * and nothing else in src/hw changes.
 */
import { NamedGroup } from '../../pq/ids.js';

export type KexComponent = 'X25519' | 'secp256r1' | 'secp384r1' | 'ML-KEM-512' | 'ML-KEM-768' | 'ML-KEM-1024';

export interface HybridLayout {
  readonly group: NamedGroup;
  readonly name: string;
  readonly first: KexComponent;
  readonly second: KexComponent;
}

/** X25519MLKEM768 puts ML-KEM-768 first (the historical order); the NIST-curve hybrids put the ECDH part first. */
export const HYBRID_LAYOUTS: readonly HybridLayout[] = Object.freeze([
  Object.freeze({ group: NamedGroup.X25519MLKEM768, name: 'X25519MLKEM768', first: 'ML-KEM-768', second: 'X25519' }),
  Object.freeze({ group: NamedGroup.SecP256r1MLKEM768, name: 'SecP256r1MLKEM768', first: 'secp256r1', second: 'ML-KEM-768' }),
  Object.freeze({ group: NamedGroup.SecP384r1MLKEM1024, name: 'SecP384r1MLKEM1024', first: 'secp384r1', second: 'ML-KEM-1024' }),
] as const);
