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

describe('QUIC version negotiation at the server endpoint (RFC 9000 §6.1)', () => {
  it('a 1200-byte Initial in an unknown version gets a Version Negotiation listing v1 and v2', async () => {
    const { createSocket } = await import('node:dgram');
    const { parsePacket } = await import('../../src/quic/header.js');
    const provider = seededProvider('vn');
    const key = await testKey(provider, 'ed25519');
    const server = createQuicServer({ tls: { provider, now: clock, certificate: { chain: [key.publicKey], ...key }, alpnProtocols: ['v'] } }, () => undefined);
    await new Promise<void>((r) => server.bind(0, '127.0.0.1', r));
    const probe = createSocket('udp4');
    await new Promise<void>((r) => probe.bind(0, '127.0.0.1', r));
    try {
      // A long header in version 0x1a2a3a4a (reserved for exercising negotiation), DCID 01..08, SCID aa bb.
      const d = new Uint8Array(1200);
      d.set([0xc0, 0x1a, 0x2a, 0x3a, 0x4a, 8, 1, 2, 3, 4, 5, 6, 7, 8, 2, 0xaa, 0xbb]);
      const reply = new Promise<Uint8Array>((resolve) => probe.once('message', (m: Buffer) => resolve(new Uint8Array(m))));
      probe.send(d, server.address().port, '127.0.0.1');
      const vn = parsePacket(await reply, 0, { shortDcidLength: 8 }).packet;
      expect(vn.type).toBe('version-negotiation');
      if (vn.type !== 'version-negotiation') return;
      // The client's connection IDs come back swapped.
      expect(Array.from(vn.dcid)).toEqual([0xaa, 0xbb]);
      expect(Array.from(vn.scid)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      expect(vn.versions).toEqual(expect.arrayContaining([0x00000001, 0x6b3343cf]));
    } finally {
      probe.close();
      server.close();
    }
  });

  it('the server socket asks the kernel for a 4 MiB receive and send buffer, as far as net.core.rmem_max/wmem_max allow', async () => {
    const { readFileSync } = await import('node:fs');
    const limit = (name: string): number | undefined => {
      try {
        return Number(readFileSync(`/proc/sys/net/core/${name}`, 'utf8'));
      } catch {
        return undefined; // not Linux: nothing to compare with
      }
    };
    const [rmax, wmax] = [limit('rmem_max'), limit('wmem_max')];
    if (rmax === undefined || wmax === undefined) return;
    const provider = seededProvider('buffers');
    const key = await testKey(provider, 'ed25519');
    const server = createQuicServer({ tls: { provider, now: clock, certificate: { chain: [key.publicKey], ...key }, alpnProtocols: ['b'] } }, () => undefined);
    await new Promise<void>((r) => server.bind(0, '127.0.0.1', r));
    try {
      // Linux doubles what is asked for (bookkeeping overhead) and caps the request at the sysctl.
      expect(server.getRecvBufferSize()).toBe(2 * Math.min(4 << 20, rmax));
      expect(server.getSendBufferSize()).toBe(2 * Math.min(4 << 20, wmax));
    } finally {
      server.close();
    }
  });
});
