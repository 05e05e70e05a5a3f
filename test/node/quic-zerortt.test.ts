/**
 * 0-RTT through the Node adapter on loopback (RFC 9001 §4.6): `quicConnect`
 * with `earlyData` and `onEarlyData` writes a request before the handshake,
 * `createQuicServer` with `tls.tickets` and `tls.earlyData` accepts it, and
 * both sides report the outcome — what the interop runner's zerortt case and
 * the CLI's `--0rtt` need.
 */
import { describe, expect, it } from 'vitest';
import { concat } from '../../src/bytes.js';
import { createQuicServer, quicConnect, type QuicSession } from '../../src/node/quic.js';
import type { StreamEvent } from '../../src/quic/connection/streams.js';
import { quicSessionKey } from '../../src/quic/connection/zero-rtt.js';
import { QUIC_V1 } from '../../src/quic/versions.js';
import { MemoryAntiReplay } from '../../src/tls13/anti-replay.js';
import { MemorySessionStore } from '../../src/tls13/session.js';
import { TicketKeyRing } from '../../src/tls13/tickets.js';
import { clock, pinnedKeyVerifier, seededProvider, testKey } from '../helpers/tls-pair.js';

const REQUEST = new TextEncoder().encode('GET /a.txt\r\n');

/** Reads stream `id` of `s` to its end. */
function readToEnd(s: QuicSession, id: number): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  return new Promise((resolve) => {
    const onStream = (ev: StreamEvent): void => {
      if (ev.type !== 'readable' || ev.id !== id) return;
      for (let r = s.connection.readStream(id); r; r = s.connection.readStream(id)) {
        parts.push(r.data);
        if (r.fin) {
          s.off('stream', onStream);
          resolve(concat(...parts));
          return;
        }
        if (r.data.length === 0) break;
      }
    };
    s.on('stream', onStream);
  });
}

describe('QUIC 0-RTT over UDP', () => {
  it('the second connection sends its request in 0-RTT; the server reads it before its handshake completes', async () => {
    const provider = seededProvider('udp-0rtt');
    const key = await testKey(provider, 'ed25519');
    const sealer = await TicketKeyRing.create(provider);
    const earlyBeforeHandshake: boolean[] = [];
    const serverSessions: QuicSession[] = [];
    const server = createQuicServer({
      tls: {
        provider, now: clock, certificate: { chain: [key.publicKey], ...key }, alpnProtocols: ['hq-interop'],
        tickets: { sealer }, earlyData: { maxSize: 1 << 14, antiReplay: new MemoryAntiReplay() },
      },
    }, (s) => {
      serverSessions.push(s);
      s.on('stream', (ev: StreamEvent) => {
        if (ev.type !== 'readable') return;
        earlyBeforeHandshake.push(s.handshake === undefined);
        for (let r = s.connection.readStream(ev.id); r; r = s.connection.readStream(ev.id)) {
          if (r.fin) void s.write(ev.id, new TextEncoder().encode('file a'), true);
          if (r.fin || r.data.length === 0) break;
        }
      });
    });
    await new Promise<void>((r) => server.bind(0, '127.0.0.1', r));
    const { port } = server.address();
    const store = new MemorySessionStore();
    const tls = { provider, now: clock, serverName: 'r', verifier: pinnedKeyVerifier(key), alpnProtocols: ['hq-interop'], sessionStore: store };
    try {
      const first = await quicConnect({ host: '127.0.0.1', port, tls, earlyData: true });
      expect(first.connection.earlyData).toBe('none');
      // The tickets come after the handshake, in 1-RTT CRYPTO frames.
      const key1 = quicSessionKey('r', QUIC_V1);
      for (let s = store.take(key1, clock()); ; s = store.take(key1, clock())) {
        if (s) {
          store.put(key1, s);
          break;
        }
        await new Promise((r) => setTimeout(r, 10));
      }
      await first.close();

      let id = -1;
      const second = await quicConnect({
        host: '127.0.0.1', port, tls, earlyData: true,
        onEarlyData: (s) => {
          id = s.connection.openStream(true);
          s.connection.writeStream(id, REQUEST, true);
        },
      });
      expect(id).toBe(0);
      expect(second.handshake?.resumed).toBe(true);
      expect(second.connection.earlyData).toBe('accepted');
      expect(new TextDecoder().decode(await readToEnd(second, id))).toBe('file a');
      expect(serverSessions[1]?.connection.earlyData).toBe('accepted');
      expect(earlyBeforeHandshake[earlyBeforeHandshake.length - 1]).toBe(true);
      await second.close();
    } finally {
      server.close();
    }
  });
});

describe('0-RTT datagrams that overtake the first Initial (RFC 9001 §4.6.1)', () => {
  it('are held by the server endpoint and read once the connection exists', async () => {
    const { createSocket } = await import('node:dgram');
    const provider = seededProvider('udp-0rtt-early');
    const key = await testKey(provider, 'ed25519');
    const sealer = await TicketKeyRing.create(provider);
    let finBeforeHandshake: boolean | undefined;
    const server = createQuicServer({
      tls: {
        provider, now: clock, certificate: { chain: [key.publicKey], ...key }, alpnProtocols: ['hq-interop'],
        tickets: { sealer }, earlyData: { maxSize: 1 << 14, antiReplay: new MemoryAntiReplay() },
      },
    }, (s) => {
      s.on('stream', (ev: StreamEvent) => {
        if (ev.type !== 'readable') return;
        for (let r = s.connection.readStream(ev.id); r; r = s.connection.readStream(ev.id)) {
          if (r.fin) finBeforeHandshake ??= s.handshake === undefined;
          if (r.fin || r.data.length === 0) break;
        }
      });
    });
    await new Promise<void>((r) => server.bind(0, '127.0.0.1', r));
    const serverPort = server.address().port;
    // A relay that holds the client's Initial-bearing datagrams back 50 ms and lets the others (0-RTT only) through.
    const relay = createSocket('udp4');
    let client: { port: number; address: string } | undefined;
    relay.on('message', (msg: Buffer, from) => {
      if (from.port === serverPort) {
        if (client) relay.send(msg, client.port, client.address);
        return;
      }
      client = { port: from.port, address: from.address };
      const longType = (msg[0] ?? 0) & 0xb0;
      const initial = longType === 0x80; // long header, v1 type 0 (Initial)
      if (initial) setTimeout(() => relay.send(msg, serverPort, '127.0.0.1'), 50);
      else relay.send(msg, serverPort, '127.0.0.1');
    });
    await new Promise<void>((r) => relay.bind(0, '127.0.0.1', r));
    const store = new MemorySessionStore();
    const tls = { provider, now: clock, serverName: 'r', verifier: pinnedKeyVerifier(key), alpnProtocols: ['hq-interop'], sessionStore: store };
    try {
      const first = await quicConnect({ host: '127.0.0.1', port: serverPort, tls });
      const key1 = quicSessionKey('r', QUIC_V1);
      for (let s = store.take(key1, clock()); ; s = store.take(key1, clock())) {
        if (s) {
          store.put(key1, s);
          break;
        }
        await new Promise((r) => setTimeout(r, 10));
      }
      await first.close();
      // A request of several datagrams: those after the ClientHello's two carry only 0-RTT packets.
      const second = await quicConnect({
        host: '127.0.0.1', port: relay.address().port, tls, earlyData: true,
        onEarlyData: (s) => {
          const id = s.connection.openStream(true);
          s.connection.writeStream(id, new Uint8Array(3000).fill(7), true);
        },
      });
      expect(second.connection.earlyData).toBe('accepted');
      for (let i = 0; i < 100 && finBeforeHandshake === undefined; i++) await new Promise((r) => setTimeout(r, 10));
      // Without the endpoint holding them, the 0-RTT-only datagrams are dropped and their data comes again in 1-RTT.
      expect(finBeforeHandshake).toBe(true);
      await second.close();
    } finally {
      relay.close();
      server.close();
    }
  });
});

