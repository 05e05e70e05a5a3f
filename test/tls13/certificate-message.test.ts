/**
 * RFC 8446 §4.4.2: the server's Certificate message carries the chain it is
 * configured with. The message is encoded once per configured certificate and
 * reused: these check that reuse never sends a chain other than the one
 * configured at the moment of the handshake.
 */
import { describe, expect, it } from 'vitest';
import { equalBytes } from '../../src/bytes.js';
import { ConfigError } from '../../src/errors.js';
import type { CertificateVerifier } from '../../src/tls13/config.js';
import { connectPair, seededProvider, testKey, type TestKey } from '../helpers/tls-pair.js';

/** Accepts a chain whose leaf is `key`'s public key, and records every chain it saw. */
function recordingVerifier(key: TestKey, seen: Uint8Array[][]): CertificateVerifier {
  return {
    async verify(chain) {
      seen.push([...chain]);
      if (!equalBytes(chain[0] as Uint8Array, key.publicKey)) throw new ConfigError('unexpected leaf');
      return { publicKey: key.publicKey, keyAlgorithm: key.keyAlgorithm };
    },
  };
}

describe('the server Certificate message (RFC 8446 §4.4.2)', () => {
  it('is the configured chain in every handshake, and follows a chain replaced in the same certificate object', async () => {
    const provider = seededProvider('certificate message');
    const key = await testKey(provider, 'ed25519');
    const extra = Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x01);
    const certificate = { chain: [key.publicKey] as Uint8Array[], privateKey: key.privateKey, keyAlgorithm: key.keyAlgorithm };
    const seen: Uint8Array[][] = [];
    const client = { provider, verifier: recordingVerifier(key, seen) };
    for (let i = 0; i < 2; i++) {
      const { client: c } = await connectPair(client, { provider, certificate });
      expect(c.handshakeInfo).toBeDefined();
    }
    // The same object, its chain array changed in place: the next handshake sends the new chain.
    certificate.chain.push(extra);
    const { client: c } = await connectPair(client, { provider, certificate });
    expect(c.handshakeInfo?.peerCertificates).toEqual([key.publicKey, extra]);
    expect(seen).toEqual([[key.publicKey], [key.publicKey], [key.publicKey, extra]]);
  });
});
