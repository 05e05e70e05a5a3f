/**
 * The UDP server endpoint speaks the versions it is configured with
 * (`versions`, RFC 9000 §6.1, §15): its Version Negotiation lists exactly
 * those, and a private version works end to end, Retry included (RFC 9000 §8.1.2).
 */
import { createSocket } from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { createQuicServer, quicConnect } from '../../src/node/quic.js';
import { QUIC_V1, QUIC_V2, parsePacket } from '../../src/quic/index.js';
import { clock, pinnedKeyVerifier, seededProvider, testKey } from '../helpers/tls-pair.js';
import { PRIVATE_QUIC_VERSION } from '../helpers/private-quic-version.js';

const PRIVATE = PRIVATE_QUIC_VERSION;

async function serverTls(seed: string) {
  const provider = seededProvider(seed);
  const key = await testKey(provider, 'ed25519');
  return { provider, key, tls: { provider, now: clock, certificate: { chain: [key.publicKey], ...key }, alpnProtocols: ['v'] } };
}

describe('QUIC server endpoint versions', () => {
  it('a v2-only endpoint answers a v1 Initial with a Version Negotiation listing only v2', async () => {
    const { tls } = await serverTls('v2 only');
    const server = createQuicServer({ tls, versions: [QUIC_V2] }, () => undefined);
    await new Promise<void>((r) => server.bind(0, '127.0.0.1', r));
    const probe = createSocket('udp4');
    await new Promise<void>((r) => probe.bind(0, '127.0.0.1', r));
    try {
      const d = new Uint8Array(1200);
      d.set([0xc0 | (QUIC_V1.longTypeCodes.initial << 4), 0, 0, 0, 1, 8, 1, 2, 3, 4, 5, 6, 7, 8, 2, 0xaa, 0xbb]);
      // An endpoint that took the Initial as its own would answer nothing: fail then rather than hang.
      const reply = new Promise<Uint8Array>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('no Version Negotiation')), 10_000);
        probe.once('message', (m: Buffer) => (clearTimeout(t), resolve(new Uint8Array(m))));
      });
      probe.send(d, server.address().port, '127.0.0.1');
      const vn = parsePacket(await reply, 0, { shortDcidLength: 8 }).packet;
      expect(vn).toMatchObject({ type: 'version-negotiation', versions: [0x6b3343cf] });
    } finally {
      probe.close();
      server.close();
    }
  });

  it('a client and a Retry-validating server configured with a private version connect in it', async () => {
    const { tls, key, provider } = await serverTls('private udp');
    const server = createQuicServer({ tls, versions: [PRIVATE], retry: true }, () => undefined);
    const retries: string[] = [];
    server.on('retry', (a: string) => retries.push(a));
    await new Promise<void>((r) => server.bind(0, '127.0.0.1', r));
    try {
      const session = await quicConnect({
        host: '127.0.0.1', port: server.address().port, versions: [PRIVATE],
        tls: { provider, now: clock, serverName: 'v', verifier: pinnedKeyVerifier(key), alpnProtocols: ['v'] },
      });
      expect(session.connection.version).toBe(PRIVATE);
      expect(session.handshake?.alpn).toBe('v');
      // A hybrid ClientHello spans two Initials; each token-less one is answered with a Retry.
      expect(retries.length).toBeGreaterThan(0);
      await session.close();
    } finally {
      server.close();
    }
  });
});
