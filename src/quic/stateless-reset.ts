import { constantTimeEqual } from '../bytes.js';
import { ConfigError } from '../errors.js';
import type { CryptoProvider } from '../pq/provider.js';

/** Length of a stateless reset token (RFC 9000 §10.3). */
export const STATELESS_RESET_TOKEN_LENGTH = 16;
/** Smallest Stateless Reset: 5 bytes that look like a short header, then the token (RFC 9000 §10.3). */
export const MIN_STATELESS_RESET_LENGTH = 21;

/**
 * The stateless reset token for a connection ID: HMAC-SHA256 under a static
 * key, truncated to 16 bytes (RFC 9000 §10.3.2), so that a server that lost
 * its state can still compute it. The key must be secret and at least 32
 * random bytes; each connection ID gets a different token.
 */
export async function statelessResetToken(provider: CryptoProvider, staticKey: Uint8Array, connectionId: Uint8Array): Promise<Uint8Array> {
  if (staticKey.length < 32) throw new ConfigError('stateless reset key must be at least 32 bytes');
  const mac = await provider.hmac('SHA-256', staticKey, connectionId);
  return mac.slice(0, STATELESS_RESET_TOKEN_LENGTH);
}

/**
 * The size of a Stateless Reset answering a packet of `triggerLength` bytes
 * (RFC 9000 §10.3, §10.3.3): smaller than the trigger so resets cannot loop,
 * one byte shorter for small triggers, at most `maxLength` otherwise. Undefined
 * when the trigger is too small for any reset to be sent.
 */
export function statelessResetLength(triggerLength: number, maxLength = 43): number | undefined {
  const len = Math.min(triggerLength - 1, Math.max(maxLength, MIN_STATELESS_RESET_LENGTH));
  return len < MIN_STATELESS_RESET_LENGTH ? undefined : len;
}

/**
 * Builds a Stateless Reset (RFC 9000 §10.3): a short-header first byte
 * (0b01 then random bits), unpredictable bytes, and the token last.
 * `unpredictable` supplies every byte before the token (so its length sets the
 * packet's); pass fresh random bytes from the provider.
 */
export function encodeStatelessReset(token: Uint8Array, unpredictable: Uint8Array): Uint8Array {
  if (token.length !== STATELESS_RESET_TOKEN_LENGTH) throw new ConfigError('stateless reset token must be 16 bytes');
  if (unpredictable.length + STATELESS_RESET_TOKEN_LENGTH < MIN_STATELESS_RESET_LENGTH) {
    throw new ConfigError(`a Stateless Reset is at least ${MIN_STATELESS_RESET_LENGTH} bytes`);
  }
  const out = new Uint8Array(unpredictable.length + STATELESS_RESET_TOKEN_LENGTH);
  out.set(unpredictable);
  out[0] = 0x40 | ((unpredictable[0] as number) & 0x3f);
  out.set(token, unpredictable.length);
  return out;
}

/**
 * Whether a datagram that could not be processed is a Stateless Reset: its
 * last 16 bytes equal one of the tokens the peer issued for connection IDs in
 * use (RFC 9000 §10.3.1). Compared in constant time; any header form counts,
 * since other versions may send resets with long headers.
 */
export function isStatelessReset(datagram: Uint8Array, tokens: Iterable<Uint8Array>): boolean {
  if (datagram.length < MIN_STATELESS_RESET_LENGTH) return false;
  const tail = datagram.subarray(datagram.length - STATELESS_RESET_TOKEN_LENGTH);
  let found = false;
  // Check every token, not stopping at a match, so timing does not reveal which one matched.
  for (const t of tokens) found = constantTimeEqual(tail, t) || found;
  return found;
}
