import type { CryptoProvider, KeyAlgorithm, PrivateKeyRef } from '../../src/pq/index.js';
import { createNobleProvider } from '../../src/pq/index.js';
import { seededRandom } from '../../src/testing/index.js';
import type { CertificateVerifier, ClientOptions, ServerOptions } from '../../src/tls13/config.js';
import { TlsConnection, type TlsEvent } from '../../src/tls13/connection.js';
import { equalBytes } from '../../src/bytes.js';
import { ConfigError } from '../../src/errors.js';

/** A fixed clock for tests: 2026-11-23T00:00:00Z. */
export const NOW = Date.UTC(2026, 10, 23);
export const clock = (): number => NOW;

export interface TestKey {
  readonly keyAlgorithm: KeyAlgorithm;
  readonly privateKey: PrivateKeyRef;
  readonly publicKey: Uint8Array;
}

export async function testKey(provider: CryptoProvider, alg: KeyAlgorithm): Promise<TestKey> {
  const kp = await provider.generateKeyPair(alg);
  return { keyAlgorithm: alg, privateKey: kp.privateKey, publicKey: kp.publicKey };
}

/**
 * Verifier for engine tests that do not involve X.509: the "certificate" is
 * the raw public key, accepted only if it equals the pinned one.
 */
export function pinnedKeyVerifier(key: TestKey): CertificateVerifier {
  return {
    async verify(chain) {
      if (chain.length !== 1 || !equalBytes(chain[0] as Uint8Array, key.publicKey)) {
        throw new ConfigError('pinned key mismatch');
      }
      return { publicKey: key.publicKey, keyAlgorithm: key.keyAlgorithm };
    },
  };
}

export function seededProvider(seed: string): CryptoProvider {
  return createNobleProvider({ random: seededRandom(seed) });
}

/** Moves bytes between two connections until neither has anything to send. */
export async function pump(a: TlsConnection, b: TlsConnection, mutate?: (fromClient: boolean, bytes: Uint8Array) => Uint8Array | undefined): Promise<void> {
  for (let i = 0; i < 100; i++) {
    let moved = false;
    for (const [from, to, isA] of [[a, b, true], [b, a, false]] as const) {
      if (from.wantsWrite) {
        let bytes: Uint8Array | undefined = from.takeOutput();
        if (mutate) bytes = mutate(isA, bytes);
        if (bytes && bytes.length) await to.receive(bytes);
        moved = true;
      }
    }
    if (!moved) return;
  }
  throw new Error('pump did not settle');
}

export function drain(c: TlsConnection): TlsEvent[] {
  const out: TlsEvent[] = [];
  for (let e = c.poll(); e; e = c.poll()) out.push(e);
  return out;
}

export async function connectPair(
  client: Omit<ClientOptions, 'now'> & { now?: () => number },
  server: Omit<ServerOptions, 'now'> & { now?: () => number },
  mutate?: (fromClient: boolean, bytes: Uint8Array) => Uint8Array | undefined,
): Promise<{ client: TlsConnection; server: TlsConnection }> {
  const s = TlsConnection.server({ now: clock, ...server });
  const c = await TlsConnection.client({ now: clock, ...client });
  await pump(c, s, mutate);
  return { client: c, server: s };
}
