/**
 * The key-exchange groups every backend offers, and the table that maps each
 * to one component part or to a hybrid of two ({@link HYBRID_LAYOUTS}): a
 * backend supplies its component implementations and gets its
 * {@link KeyExchange}s from here, with the lifecycle of {@link keyExchangeFromPart}.
 */
import { NamedGroup } from './ids.js';
import { checkedComponent, HYBRID_LAYOUTS, HybridPart, type KexComponent } from './hybrid.js';
import { keyExchangeFromPart, type KexPart } from './kex-part.js';
import type { KeyExchange } from './provider.js';
import type { RandomSource } from './random.js';

/** The groups, in preference order: hybrids, then pure ML-KEM, then classical. */
export const KEX_GROUPS: readonly NamedGroup[] = Object.freeze([
  NamedGroup.X25519MLKEM768,
  NamedGroup.SecP256r1MLKEM768,
  NamedGroup.SecP384r1MLKEM1024,
  NamedGroup.MLKEM768,
  NamedGroup.MLKEM1024,
  NamedGroup.MLKEM512,
  NamedGroup.x25519,
  NamedGroup.secp256r1,
  NamedGroup.secp384r1,
]);

/** The groups that are one component alone (draft-ietf-tls-mlkem; RFC 8446 §4.2.7). */
const SINGLE_GROUPS: ReadonlyMap<NamedGroup, KexComponent> = new Map<NamedGroup, KexComponent>([
  [NamedGroup.MLKEM512, 'ML-KEM-512'],
  [NamedGroup.MLKEM768, 'ML-KEM-768'],
  [NamedGroup.MLKEM1024, 'ML-KEM-1024'],
  [NamedGroup.x25519, 'X25519'],
  [NamedGroup.secp256r1, 'secp256r1'],
  [NamedGroup.secp384r1, 'secp384r1'],
]);

/**
 * The {@link KeyExchange}s of every group in {@link KEX_GROUPS}, on a backend's
 * component parts, keyed by group. Every backend draws and checks the same way:
 *
 * ## Randomness (for replaying traces with `scriptedRandom`)
 * Every random byte is drawn from `random`, synchronously, in this order:
 * - `x25519`: one 32-byte chunk per `generate` / `encapsulate`, which IS the private
 *   key, so `scriptedRandom([privateKey])` reproduces a published key share (RFC 8448 §3).
 * - `secp256r1` / `secp384r1`: one 32- / 48-byte chunk, the big-endian private scalar;
 *   a chunk that is 0 or ≥ the group order is discarded and another drawn (RFC 8448 §5's
 *   P-256 keys replay the same way).
 * - `MLKEM512/768/1024`: `generate` draws one 64-byte seed d ‖ z (FIPS 203 Alg. 16),
 *   `encapsulate` one 32-byte message m (Alg. 17).
 * - Hybrids draw per part in share layout order: X25519MLKEM768 draws ML-KEM first
 *   (seed or m), then the X25519 key; SecP256r1MLKEM768 and SecP384r1MLKEM1024 draw
 *   the ECDH scalar first, then the ML-KEM seed or m.
 * - A share of the wrong length is refused before anything is drawn.
 *
 * ## Checks
 * Peer shares of the wrong length (short or long), ML-KEM encapsulation keys
 * failing the FIPS 203 modulus check, EC points that are compressed, off the
 * curve or the identity, and X25519 shares giving an all-zero secret raise
 * {@link IllegalParameterError} (illegal_parameter). A well-formed but wrong
 * ML-KEM ciphertext is not an error: it yields the implicit-rejection secret.
 *
 * Each {@link KeyShare}'s `complete` runs once: the private half is zeroed after
 * the first call, whether it succeeded or not, and a second call throws
 * {@link ConfigError}. Its `privateKey` is an opaque `'kex'` reference carrying
 * no key bytes.
 *
 * @throws ConfigError if a component does not have its group's sizes.
 */
export function groupKeyExchanges(
  components: Readonly<Record<KexComponent, KexPart>>, providerName: string, random: RandomSource,
): ReadonlyMap<NamedGroup, KeyExchange> {
  const parts = new Map<NamedGroup, KexPart>();
  for (const layout of HYBRID_LAYOUTS) parts.set(layout.group, new HybridPart(layout, components));
  for (const [group, component] of SINGLE_GROUPS) parts.set(group, checkedComponent(component, components[component]));
  return new Map(KEX_GROUPS.map((g) => [g, keyExchangeFromPart(g, parts.get(g) as KexPart, providerName, random)]));
}
