import { ConfigError, IllegalParameterError } from '../errors.js';
import { groupName, type NamedGroup } from './ids.js';
import type { KeyExchange, KeyShare, PrivateKeyRef } from './provider.js';
import type { RandomSource } from './random.js';

/**
 * A client's half-finished key exchange inside a backend: the share it sent
 * and a way to finish with the server's reply. Synchronous, so a hybrid can
 * chain two of them without extra microtasks.
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
 * ML-KEM parameter set, or a hybrid of two of these), as a backend implements
 * it. Every random byte comes from the `random` argument, drawn in a
 * documented, fixed order.
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

/**
 * The {@link KeyExchange} lifecycle around one {@link KexPart}, shared by every
 * backend built from parts: shares of the wrong length are refused before
 * anything is drawn, `complete` runs once and wipes the private half whatever
 * happens, and the `privateKey` is a bare `'kex'` tag.
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
