/**
 * The QUIC UDP adapter on loopback: a server endpoint that restarted (same
 * stateless reset key, no connection state) answers the old client's packets
 * with a Stateless Reset, and the client closes (RFC 9000 §10.3).
 */
import { describe, expect, it } from 'vitest';
import { createQuicServer, quicConnect } from '../../src/node/quic.js';
import type { QuicEvent } from '../../src/quic/connection/connection.js';
import { clock, pinnedKeyVerifier, seededProvider, testKey } from '../helpers/tls-pair.js';

describe('QUIC over UDP', () => {
  it('a restarted server endpoint resets connections it no longer knows', async () => {
    const provider = seededProvider('udp-reset');
    const key = await testKey(provider, 'ed25519');
    const statelessResetKey = new Uint8Array(32).fill(9);
    const tls = { provider, now: clock, certificate: { chain: [key.publicKey], ...key }, alpnProtocols: ['r'] };
    const first = createQuicServer({ tls, statelessResetKey }, () => undefined);
    await new Promise<void>((r) => first.bind(0, '127.0.0.1', r));
    const { port } = first.address();
    const session = await quicConnect({ host: '127.0.0.1', port, tls: { provider, now: clock, serverName: 'r', verifier: pinnedKeyVerifier(key), alpnProtocols: ['r'] } });
    await new Promise((r) => setTimeout(r, 100)); // HANDSHAKE_DONE
    // The server process "restarts": a new endpoint on the same port with the same reset key and no connections.
    await new Promise<void>((r) => first.close(() => r()));
    const second = createQuicServer({ tls, statelessResetKey }, () => undefined);
    await new Promise<void>((r) => second.bind(port, '127.0.0.1', r));
    try {
      const closed = new Promise<QuicEvent>((resolve) => session.once('closed', resolve));
      const id = session.connection.openStream(true);
      await session.write(id, new Uint8Array(100), true);
      expect(await closed).toMatchObject({ type: 'closed', local: false, reason: 'stateless reset' });
    } finally {
      second.close();
    }
  });
});
