/**
 * A client's reads through one reused buffer (issue 13): `connect()` opens its
 * TCP socket with `onread`, so every read lands in the same SocketReader buffer
 * instead of a fresh one per 'data' event. What must hold: nothing handed to
 * the application is a view of that buffer (a later read would overwrite it),
 * bytes that arrive before the TLS connection exists wait in it, and reading
 * stops while a read is still being processed.
 */
import { connect as netConnect, createServer as netCreateServer, type AddressInfo, type Socket } from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import { concat, equalBytes } from '../../src/bytes.js';
import { createNodeCryptoProvider, PqTlsSocket } from '../../src/node/index.js';
import { lendBuffer } from '../../src/buffer-pool.js';
import { READ_BUFFER_BYTES, SocketReader } from '../../src/node/socket-reader.js';
import { seededRandom } from '../../src/testing/index.js';
import { TlsConnection } from '../../src/tls13/connection.js';
import { tcpPair } from '../helpers/node-sockets.js';
import { clock, pinnedKeyVerifier, testKey } from '../helpers/tls-pair.js';

describe('SocketReader', () => {
  it('a read before anyone listens stops the socket and is delivered on attach; later reads go straight through', () => {
    const r = new SocketReader();
    const buffer = r.onread.buffer as Uint8Array;
    expect(buffer.length).toBe(READ_BUFFER_BYTES);
    buffer.set([1, 2, 3]);
    // false: Node stops reading, so the three bytes stay where they are until attach.
    expect(r.onread.callback(3, buffer)).toBe(false);
    const got: Uint8Array[] = [];
    r.attach((chunk) => got.push(chunk.slice()));
    expect(got).toEqual([Uint8Array.of(1, 2, 3)]);
    buffer.set([9, 8]);
    expect(r.onread.callback(2, buffer)).not.toBe(false);
    expect(got).toEqual([Uint8Array.of(1, 2, 3), Uint8Array.of(9, 8)]);
  });
});

describe('connect() reads into one buffer of its own', () => {
  it('8 MiB from the server arrive intact with no data event on the TCP socket; every chunk the application kept is still right at the end', async () => {
    const { server, sock, peer } = await tcpPair('socket reader');
    try {
      let rawDataEvents = 0;
      sock.socket.on('data', () => rawDataEvents++);
      const data = seededRandom('socket reader data')(8 << 20);
      // Kept as handed out, not copied: a chunk viewing the reused read buffer would be overwritten by later reads.
      const kept: Uint8Array[] = [];
      const ended = new Promise<void>((resolve) => {
        sock.on('data', (d: Uint8Array) => kept.push(d));
        sock.on('end', resolve);
      });
      // Odd write sizes, so records and reads cut across each other everywhere.
      for (let o = 0, n = 1; o < data.length; o += n, n = (n * 7 + 12_345) % 100_000 + 1) peer.write(data.subarray(o, o + n));
      peer.end();
      await ended;
      expect(rawDataEvents).toBe(0);
      expect(equalBytes(concat(...kept), data)).toBe(true);
    } finally {
      sock.destroy();
      server.close();
    }
  });

  it('a connection\'s read buffer goes back to the pool (../buffer-pool.ts) once its TCP socket has closed, and the next reader reads into it', async () => {
    // Earlier tests' sockets finish closing (giving their buffers back too), then the pool is emptied of what
    // they gave back: what comes out of it next is what this test put in.
    await new Promise((r) => setTimeout(r, 100));
    while (lendBuffer(1).buffer.byteLength !== 1);
    const attach = vi.spyOn(SocketReader.prototype, 'attach');
    const release = vi.spyOn(SocketReader.prototype, 'release');
    const { server, sock, peer } = await tcpPair('socket reader reuse');
    try {
      // Given back once the TCP socket has closed (Node reads into it no more), after the TLS stream's close.
      const closed = new Promise((r) => sock.socket.once('close', r));
      peer.end();
      sock.resume();
      await closed;
      const ours = attach.mock.contexts[0] as SocketReader;
      expect(release.mock.contexts).toHaveLength(1);
      expect(release.mock.contexts[0]).toBe(ours);
      expect((new SocketReader().onread.buffer as Uint8Array).buffer).toBe((ours.onread.buffer as Uint8Array).buffer);
    } finally {
      attach.mockRestore();
      release.mockRestore();
      sock.destroy();
      server.close();
    }
  });

  it('bytes that arrive before the TLS connection exists wait in the buffer, and reading goes on after: an alert cut in two there fails the handshake with that alert (RFC 8446 §6)', async () => {
    // A fatal handshake_failure alert in a plaintext record: its first three bytes the moment the connection is
    // accepted, the rest later, which the client reads only if its socket was resumed after the early read.
    const alert = Uint8Array.of(21, 3, 3, 0, 2, 2, 40);
    const raw = netCreateServer((s: Socket) => {
      s.on('error', () => undefined);
      s.write(alert.subarray(0, 3));
      setTimeout(() => s.end(alert.subarray(3)), 50);
    });
    await new Promise<void>((r) => raw.listen(0, '127.0.0.1', r));
    const { port } = raw.address() as AddressInfo;
    try {
      const reader = new SocketReader();
      const callback = reader.onread.callback;
      let early = 0;
      const arrived = new Promise<void>((resolve) => {
        reader.onread.callback = (n, buf) => {
          const more = callback(n, buf);
          if (more === false) {
            early += n;
            resolve();
          }
          return more;
        };
      });
      const sock = netConnect({ host: '127.0.0.1', port, allowHalfOpen: true, onread: reader.onread });
      // The alert's start is read, and the socket stopped, before any TLS connection exists.
      await arrived;
      expect(early).toBe(3);
      const provider = createNodeCryptoProvider({ random: seededRandom('early alert') });
      const key = await testKey(provider, 'ed25519');
      const conn = await TlsConnection.client({ provider, now: clock, verifier: pinnedKeyVerifier(key) });
      const s = new PqTlsSocket(conn, sock, 'client', reader);
      const err = await new Promise<Error>((resolve) => s.once('error', resolve));
      expect(err.message).toMatch(/handshake_failure/);
    } finally {
      raw.close();
    }
  }, 10_000);
});
