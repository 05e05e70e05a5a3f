/**
 * Key exchange for the noble backend: its component parts (kex-x25519,
 * kex-nist, and ML-KEM on @noble/post-quantum) plugged into the shared group
 * table (src/pq/kex-groups.ts), which builds the hybrids and the lifecycle.
 */
import { ml_kem1024, ml_kem512, ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import { UnsupportedAlgorithmError } from '../../errors.js';
import { groupKeyExchanges, KEX_GROUPS } from '../kex-groups.js';
import type { KexComponent } from '../hybrid.js';
import { groupName, type NamedGroup } from '../ids.js';
import type { KexPart } from '../kex-part.js';
import { mlKemParts } from '../mlkem.js';
import type { KeyExchange } from '../provider.js';
import type { RandomSource } from '../random.js';
import { P256_PART, P384_PART } from './kex-nist.js';
import { X25519_PART } from './kex-x25519.js';

/** Groups the noble backend implements, in its preference order: all of {@link KEX_GROUPS}. */
export const NOBLE_GROUPS: readonly NamedGroup[] = KEX_GROUPS;

const COMPONENTS: Readonly<Record<KexComponent, KexPart>> = Object.freeze({
  'X25519': X25519_PART,
  'secp256r1': P256_PART,
  'secp384r1': P384_PART,
  ...mlKemParts({ 'ML-KEM-512': ml_kem512, 'ML-KEM-768': ml_kem768, 'ML-KEM-1024': ml_kem1024 }),
});

/** Every group's {@link KeyExchange} on noble, drawing from `random` as {@link groupKeyExchanges} documents. */
export function nobleKeyExchanges(providerName: string, random: RandomSource): ReadonlyMap<NamedGroup, KeyExchange> {
  return groupKeyExchanges(COMPONENTS, providerName, random);
}

/**
 * The {@link KeyExchange} for one `group` (see {@link groupKeyExchanges}).
 * @throws UnsupportedAlgorithmError for a group not in {@link NOBLE_GROUPS}.
 */
export function nobleKeyExchange(group: NamedGroup, providerName: string, random: RandomSource): KeyExchange {
  const k = nobleKeyExchanges(providerName, random).get(group);
  if (!k) throw new UnsupportedAlgorithmError(`noble has no key exchange for group ${groupName(group)}`);
  return k;
}
