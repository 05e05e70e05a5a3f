/**
 * The TCP adapter lets records be decrypted in place (issue 13) only where the
 * receive buffers are its own to consume: a net.Socket hands each read over in
 * a buffer it never touches again, so application data arrives as views of
 * those very chunks; any other transport (a user's Duplex, whose chunks may be
 * shared or reused) has its chunks only read, never written.
 */
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { concat, equalBytes } from '../../src/bytes.js';
import { createNodeCryptoProvider } from '../../src/node/index.js';
import { PqTlsSocket as PqTlsSocketClass } from '../../src/node/socket.js';
import { seededRandom } from '../../src/testing/index.js';
import { TlsConnection } from '../../src/tls13/connection.js';
import { FakeSocket, tcpPair } from '../helpers/node-sockets.js';
import { clock, pinnedKeyVerifier, testKey } from '../helpers/tls-pair.js';

describe('PqTlsSocket: in-place decryption only in a net.Socket\'s own chunks', () => {
  it('over a real TCP connection 4 MiB arrive intact, as views of the chunks the net.Socket delivered', async () => {
    const { server, sock, peer } = await tcpPair('in place tcp');
    try {
      const raw = new Set<ArrayBufferLike>();
      peer.socket.prependListener('data', (d: Buffer) => raw.add(d.buffer));
      const data = seededRandom('in place tcp data')(4 << 20);
      const got: Uint8Array[] = [];
      let have = 0;
      let views = 0;
      const done = new Promise<void>((resolve) => {
        peer.on('data', (d: Buffer) => {
          if (raw.has(d.buffer)) views++;
          got.push(new Uint8Array(d));
          have += d.length;
          if (have >= data.length) resolve();
        });
      });
      for (let o = 0; o < data.length; o += 64 << 10) sock.write(data.subarray(o, o + (64 << 10)));
      await done;
      expect(equalBytes(concat(...got), data)).toBe(true);
      // Most records lie whole in one read: their data is the read buffer itself.
      expect(views).toBeGreaterThan(got.length / 2);
    } finally {
      sock.destroy();
      server.close();
    }
  });

  it('over another transport the chunks are never written: the same chunk object fed twice, and every chunk kept, compare equal afterwards', async () => {
    const provider = createNodeCryptoProvider({ random: seededRandom('in place duplex') });
    const key = await testKey(provider, 'ed25519');
    const fake = new FakeSocket();
    const server = new PqTlsSocketClass(
      TlsConnection.server({ provider, now: clock, certificate: { chain: [key.publicKey], ...key } }),
      fake as unknown as Socket, 'server',
    );
    const received: Uint8Array[] = [];
    server.on('data', (d: Buffer) => received.push(new Uint8Array(d)));
    const client = await TlsConnection.client({ provider, now: clock, serverName: 'x', verifier: pinnedKeyVerifier(key) });
    fake.emit('data', Buffer.from(client.takeOutput()));
    while (fake.written.length === 0) await new Promise((r) => setTimeout(r, 1));
    await client.receive(concat(...fake.written.splice(0)));
    expect(client.handshakeInfo).toBeDefined();
    fake.emit('data', Buffer.from(client.takeOutput()));
    const payloads = [seededRandom('duplex a')(40_000), seededRandom('duplex b')(40_000)];
    // One chunk object carrying whole records, fed, then refilled with the next records and fed again (a
    // transport that reuses its read buffer); a copy of what it held each time to compare against.
    let chunk: Buffer | undefined;
    for (const p of payloads) {
      await client.write(p);
      const out = client.takeOutput();
      if (chunk) chunk.set(out);
      else chunk = Buffer.from(out);
      expect(chunk.length).toBe(out.length);
      fake.emit('data', chunk);
      await new Promise((r) => setTimeout(r, 10));
      expect(equalBytes(chunk, out)).toBe(true);
    }
    expect(equalBytes(concat(...received), concat(...payloads))).toBe(true);
    server.destroy();
  });
});
