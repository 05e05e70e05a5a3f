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

/** A half-finished exchange whose completion may be asynchronous (on a device). */
export interface AsyncPendingShare {
  readonly share: Uint8Array;
  complete(serverShare: Uint8Array): Uint8Array | Promise<Uint8Array>;
  wipe(): void;
}

/** A key-exchange part whose operations may be asynchronous (a device's), its randomness its own business. */
export interface AsyncKexPart {
  readonly clientShareLength: number;
  readonly serverShareLength: number;
  generate(): AsyncPendingShare | Promise<AsyncPendingShare>;
  encapsulate(clientShare: Uint8Array): { share: Uint8Array; secret: Uint8Array } | Promise<{ share: Uint8Array; secret: Uint8Array }>;
}

/**
 * The {@link KeyExchange} lifecycle around one part, shared by every backend
 * (software parts through {@link keyExchangeFromPart}, device parts directly):
 * shares of the wrong length are refused before anything is drawn, `complete`
 * runs once and wipes the private half whatever happens, and the `privateKey`
 * is a bare `'kex'` tag.
 */
export function keyExchangeLifecycle(group: NamedGroup, part: AsyncKexPart, providerName: string): KeyExchange {
  const label = groupName(group);

  const generate = async (): Promise<KeyShare> => {
    const pending = await part.generate();
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
          return await pending.complete(serverShare);
        } finally {
          pending.wipe();
        }
      },
    });
  };

  const encapsulate = async (clientShare: Uint8Array): Promise<{ share: Uint8Array; secret: Uint8Array }> => {
    requireLength(clientShare, part.clientShareLength, `${label} client share`);
    return part.encapsulate(clientShare);
  };

  return Object.freeze({
    group,
    clientShareLength: part.clientShareLength,
    serverShareLength: part.serverShareLength,
    generate,
    encapsulate,
  });
}

/** {@link keyExchangeLifecycle} for a software {@link KexPart} drawing from `random`. */
export function keyExchangeFromPart(group: NamedGroup, part: KexPart, providerName: string, random: RandomSource): KeyExchange {
  return keyExchangeLifecycle(group, {
    clientShareLength: part.clientShareLength,
    serverShareLength: part.serverShareLength,
    generate: () => part.generate(random),
    encapsulate: (clientShare) => part.encapsulate(clientShare, random),
  }, providerName);
}
