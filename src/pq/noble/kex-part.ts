import { IllegalParameterError } from '../../errors.js';
import type { RandomSource } from '../random.js';

/**
 * A client's half-finished key exchange inside the noble backend: the share
 * it sent and a way to finish with the server's reply. Synchronous, so a hybrid
 * can chain two of them without extra microtasks.
 */
export interface PendingShare {
  /** The client share (for hybrids, this part's slice of it). */
  readonly share: Uint8Array;
  /** Derives this part's secret from the server share; may throw {@link IllegalParameterError}. */
  complete(serverShare: Uint8Array): Uint8Array;
  /** Zeroes the private half; the share is unusable afterwards. */
  wipe(): void;
}

/**
 * One key-exchange algorithm in TLS KEM shape (X25519, an NIST curve, an
 * ML-KEM parameter set, or a hybrid of two of these). Every random byte comes
 * from the `random` argument, drawn in a documented, fixed order.
 */
export interface KexPart {
  readonly name: string;
  readonly clientShareLength: number;
  readonly serverShareLength: number;
  readonly secretLength: number;
  generate(random: RandomSource): PendingShare;
  encapsulate(clientShare: Uint8Array, random: RandomSource): { share: Uint8Array; secret: Uint8Array };
}

/** Rejects a peer value of the wrong length, short or long, with illegal_parameter. */
export function requireLength(bytes: Uint8Array, length: number, what: string): void {
  if (bytes.length !== length) {
    throw new IllegalParameterError(`${what} has ${bytes.length} bytes, expected ${length}`);
  }
}
