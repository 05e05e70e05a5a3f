/**
 * Key exchange for the noble backend: X25519, secp256r1, secp384r1, ML-KEM and
 * the three hybrids of draft-ietf-tls-ecdhe-mlkem, in the KEM shape of
 * {@link KeyExchange}. One file per family (kex-x25519, kex-nist, kex-mlkem,
 * kex-hybrid); this one maps NamedGroups to them and adds the KeyShare lifecycle.
 */
import { ConfigError, UnsupportedAlgorithmError } from '../../errors.js';
import { groupName, NamedGroup } from '../ids.js';
import type { KeyExchange, KeyShare, PrivateKeyRef } from '../provider.js';
import type { RandomSource } from '../random.js';
import { HybridPart } from './kex-hybrid.js';
import { MLKEM1024_PART, MLKEM512_PART, MLKEM768_PART } from './kex-mlkem.js';
import { P256_PART, P384_PART } from './kex-nist.js';
import { requireLength, type KexPart } from './kex-part.js';
import { X25519_PART } from './kex-x25519.js';

/** Groups the noble backend implements, in its preference order: hybrids, then pure ML-KEM, then classical. */
export const NOBLE_GROUPS: readonly NamedGroup[] = Object.freeze([
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

const PARTS: ReadonlyMap<NamedGroup, KexPart> = new Map<NamedGroup, KexPart>([
  [NamedGroup.X25519MLKEM768, new HybridPart('X25519MLKEM768', MLKEM768_PART, X25519_PART)],
  [NamedGroup.SecP256r1MLKEM768, new HybridPart('SecP256r1MLKEM768', P256_PART, MLKEM768_PART)],
  [NamedGroup.SecP384r1MLKEM1024, new HybridPart('SecP384r1MLKEM1024', P384_PART, MLKEM1024_PART)],
  [NamedGroup.MLKEM512, MLKEM512_PART],
  [NamedGroup.MLKEM768, MLKEM768_PART],
  [NamedGroup.MLKEM1024, MLKEM1024_PART],
  [NamedGroup.x25519, X25519_PART],
  [NamedGroup.secp256r1, P256_PART],
  [NamedGroup.secp384r1, P384_PART],
]);

/**
 * The {@link KeyExchange} for `group`.
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
 * @throws UnsupportedAlgorithmError for a group not in {@link NOBLE_GROUPS}.
 */
export function nobleKeyExchange(group: NamedGroup, providerName: string, random: RandomSource): KeyExchange {
  const part = PARTS.get(group);
  if (!part) throw new UnsupportedAlgorithmError(`noble has no key exchange for group ${groupName(group)}`);
  return keyExchangeFromPart(group, part, providerName, random);
}

/**
 * The {@link KeyExchange} lifecycle around one {@link KexPart}, shared by every
 * backend built from parts (noble's, and the node backend whose ECDH halves are
 * native): shares of the wrong length are refused before anything is drawn,
 * `complete` runs once and wipes the private half whatever happens, and the
 * `privateKey` is a bare `'kex'` tag.
 */
export function keyExchangeFromPart(group: NamedGroup, part: KexPart, providerName: string, random: RandomSource): KeyExchange {
  const label = groupName(group);

  const generate = async (): Promise<KeyShare> => {
    const pending = part.generate(random);
    // The private half lives only in this closure; the ref is a bare tag.
    const privateKey: PrivateKeyRef = Object.freeze({ algorithm: 'kex', provider: providerName });
    let done = false;
    return Object.freeze({
      group,
      share: pending.share,
      privateKey,
      complete: async (serverShare: Uint8Array): Promise<Uint8Array> => {
        if (done) throw new ConfigError(`${label} key share was already completed`);
        done = true;
        try {
          requireLength(serverShare, part.serverShareLength, `${label} server share`);
          return pending.complete(serverShare);
        } finally {
          pending.wipe();
        }
      },
    });
  };

  const encapsulate = async (clientShare: Uint8Array): Promise<{ share: Uint8Array; secret: Uint8Array }> => {
    requireLength(clientShare, part.clientShareLength, `${label} client share`);
    return part.encapsulate(clientShare, random);
  };

  return Object.freeze({
    group,
    clientShareLength: part.clientShareLength,
    serverShareLength: part.serverShareLength,
    generate,
    encapsulate,
  });
}
