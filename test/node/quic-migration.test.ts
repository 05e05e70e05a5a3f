/**
 * Connection migration through the UDP adapter on loopback (RFC 9000 §9):
 * a client that moves to a new socket mid-download, and a client that moves
 * to the server's preferred address (§9.6) after the handshake.
 */
import { createSocket } from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { createQuicServer, quicConnect, type QuicListenOptions, type QuicSession } from '../../src/node/quic.js';
import type { Paths } from '../../src/quic/connection/paths.js';
import type { StreamEvent } from '../../src/quic/connection/streams.js';
import { clock, pinnedKeyVerifier, seededProvider, testKey } from '../helpers/tls-pair.js';

const pathsOf = (s: QuicSession): Paths => (s.connection as unknown as { paths: Paths }).paths;

async function freePort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** A server that answers a stream's FIN with `size` bytes; the client downloads them, calling `midway` at a third. */
async function download(seed: string, size: number, listen: Partial<QuicListenOptions>, midway?: (s: QuicSession) => Promise<void>) {
  const provider = seededProvider(seed);
  const key = await testKey(provider, 'ed25519');
  let serverSession: QuicSession | undefined;
  const server = createQuicServer({ tls: { provider, now: clock, certificate: { chain: [key.publicKey], ...key }, alpnProtocols: ['m'] }, ...listen }, (s) => {
    serverSession = s;
    s.on('stream', (e: StreamEvent) => {
      if (e.type !== 'readable' && e.type !== 'finished') return;
      for (let r = s.connection.readStream(e.id); r && (r.data.length || r.fin); r = s.connection.readStream(e.id)) {
        if (r.fin) void s.write(e.id, new Uint8Array(size).fill(0x5a), true);
        if (r.fin) break;
      }
    });
  });
  await new Promise<void>((r) => server.bind(0, '127.0.0.1', r));
  const client = await quicConnect({ host: '127.0.0.1', port: server.address().port, tls: { provider, now: clock, serverName: 'm', verifier: pinnedKeyVerifier(key), alpnProtocols: ['m'] } });
  try {
    await new Promise((r) => setTimeout(r, 100)); // HANDSHAKE_DONE: the client's handshake is confirmed
    const before = serverSession && pathsOf(serverSession).current.remote;
    const id = client.connection.openStream(true);
    let got = 0;
    let moved: Promise<void> | undefined;
    const done = new Promise<void>((resolve, reject) => {
      client.on('closed', (e: { reason: string }) => reject(new Error(`closed: ${e.reason}`)));
      client.on('stream', (e: StreamEvent) => {
        if (!('id' in e) || e.id !== id) return;
        for (let r = client.connection.readStream(id); r && (r.data.length || r.fin); r = client.connection.readStream(id)) {
          got += r.data.length;
          if (midway && !moved && got >= size / 3) moved = midway(client);
          if (r.fin) return resolve();
        }
      });
    });
    await client.write(id, new TextEncoder().encode('GET'), true);
    await done;
    await moved;
    expect(got).toBe(size);
    return { client, server: serverSession as QuicSession, before };
  } finally {
    await client.close();
    server.close();
  }
}

describe('QUIC connection migration over UDP (RFC 9000 §9)', () => {
  it('a client that rebinds its socket mid-download keeps the connection; the server moves to the new port', async () => {
    const { server, before } = await download('udp-migrate', 400_000, {}, (s) => s.migrate());
    const path = pathsOf(server).current;
    expect(before).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(path.remote).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(path.remote).not.toBe(before);
    expect(path.validated).toBe(true);
  });

  it('a client moves to the server\'s preferred address after the handshake (§9.6)', async () => {
    const port = await freePort();
    const { client, server } = await download('udp-preferred', 200_000, { preferredAddress: { ipv4: { address: new Uint8Array([127, 0, 0, 1]), port } } });
    expect(pathsOf(client).current.remote).toBe(`127.0.0.1:${port}`);
    expect(pathsOf(server).current.remote).toMatch(/^pref\|127\.0\.0\.1:\d+$/);
  });
});
