/**
 * Rotation of a key stored on a QUAC card while the server keeps running. The
 * card keeps every key under its label and `quac_key_find` returns the newest
 * (quac100.h), so a rotation is a new key generated under the same label on
 * the same card (`storedKey(label)` names it from then on), with the old one
 * left to sign for the handshakes already using it for a grace period, then
 * destroyed. A key never leaves the card, so there is no other way: the new
 * certificate has to carry a new public key.
 */
import { ConfigError } from '../../errors.js';
import type { KeyPair } from '../../pq/provider.js';
import { realClock, type QuacClock } from './clock.js';
import type { QuacProvider } from './provider.js';
import type { QuacKeyRef } from './signing.js';

/** Longest grace period: a day. A longer one would keep a retired key on the card (and a timer) for no handshake's sake. */
export const MAX_ROTATION_GRACE_MS = 86_400_000;

export interface KeyRotationOptions {
  /** How long the old key keeps signing after the new one exists; then it is destroyed. 0 … {@link MAX_ROTATION_GRACE_MS}. */
  readonly graceMs: number;
  /** Time for the grace period (a VirtualClock in tests). Default {@link realClock}. */
  readonly clock?: QuacClock;
}

export interface StoredKeyRotation {
  /** The new key: what `storedKey(label)` returns from now on. */
  readonly key: KeyPair;
  /** The key it replaces, destroyed when the grace period ends. */
  readonly previous: KeyPair;
  /** Settles once the previous key is destroyed; rejects if the card refused to destroy it. */
  readonly retired: Promise<void>;
  /** Ends the grace period now (server shutdown): the timer is released and the previous key destroyed; resolves when it is. */
  close(): Promise<void>;
}

/** Labels being rotated, per provider: two rotations at once would both retire the same key. */
const rotating = new WeakMap<QuacProvider, Set<string>>();

/**
 * Generates a new ML-DSA key labelled `label` on the card holding the current
 * one (same algorithm, same persistence) and schedules the current one's
 * destruction after `graceMs`.
 * @throws KeyUnavailableError when no card holds a key labelled `label`;
 *   ConfigError for a grace period out of range or a rotation of `label` already
 *   generating its key.
 */
export async function rotateStoredKey(provider: QuacProvider, label: string, options: KeyRotationOptions): Promise<StoredKeyRotation> {
  const { graceMs } = options;
  if (!(graceMs >= 0 && graceMs <= MAX_ROTATION_GRACE_MS)) throw new ConfigError(`graceMs must be between 0 and ${MAX_ROTATION_GRACE_MS}`);
  const clock = options.clock ?? realClock;
  const busy = rotating.get(provider) ?? new Set<string>();
  rotating.set(provider, busy);
  if (busy.has(label)) throw new ConfigError(`a rotation of stored key ${JSON.stringify(label)} is already in progress`);
  busy.add(label);
  let previous: KeyPair;
  let key: KeyPair;
  try {
    previous = await provider.storedKey(label);
    const old = previous.privateKey as QuacKeyRef;
    const { persistent } = await provider.storedKeyAttributes(old);
    key = await provider.createStoredKey(old.algorithm, label, { persistent, device: old.device });
  } finally {
    busy.delete(label);
  }
  const abort = new AbortController();
  const retired = clock.sleep(graceMs, abort.signal).catch(() => undefined).then(() => provider.destroyStoredKey(previous.privateKey));
  // Whoever does not wait for `retired` must not get an unhandled rejection from a card that refused.
  retired.catch(() => undefined);
  return {
    key,
    previous,
    retired,
    close: () => {
      abort.abort();
      return retired;
    },
  };
}
