/**
 * The Node adapters under hostile or failing conditions. The attacker rule:
 * bad peer input, or a failure inside, ends that one connection (an `error`
 * event and a close) — never the process through an unhandled rejection —
 * and what a peer can make the server hold is capped in number, size and time.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createServer as netCreateServer, connect as netConnect, type AddressInfo, type Server, type Socket } from 'node:net';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { once } from 'node:events';
import { connect, createServer, PqTlsSocket } from '../../src/node/index.js';
import { createQuicServer, QuicSession } from '../../src/node/quic.js';
import { QuicConnection } from '../../src/quic/connection/connection.js';
import { parsePacket } from '../../src/quic/header.js';
import { RecordReader } from '../../src/tls13/record-layer.js';
import type { TlsConnection } from '../../src/tls13/connection.js';
import type { CryptoProvider } from '../../src/pq/provider.js';
import { clock, pinnedKeyVerifier, seededProvider, testKey } from '../helpers/tls-pair.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Records every unhandled rejection while a test runs. */
let unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
beforeEach(() => {
  unhandled = [];
  process.on('unhandledRejection', onUnhandled);
});
afterEach(() => {
  process.off('unhandledRejection', onUnhandled);
});

/** A TCP connection to ourselves: the accepted end and the connecting end. */
async function tcpPair(): Promise<{ server: Server; accepted: Socket; client: Socket }> {
  const server = netCreateServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const acceptedP = once(server, 'connection') as Promise<[Socket]>;
  const client = netConnect((server.address() as AddressInfo).port, '127.0.0.1');
  const [accepted] = await acceptedP;
  return { server, accepted, client };
}

describe('adapters never leave a promise unhandled', () => {
  it('TLS: a connection whose receive() rejects gives an error event on that socket and a close', async () => {
    const { server, accepted, client } = await tcpPair();
    const failing = {
      receive: () => Promise.reject(new Error('provider failed')),
      receiveSync: () => Promise.reject(new Error('provider failed')),
      write: () => Promise.resolve(),
      close: () => Promise.resolve(),
      poll: () => undefined,
      takeOutput: () => new Uint8Array(0),
      keyingMaterialExporter: () => undefined,
      wantsWrite: false,
      error: undefined,
    } as unknown as TlsConnection;
    const s = new PqTlsSocket(failing, accepted, 'server');
    const error = once(s, 'error') as Promise<[Error]>;
    const clientClosed = once(client, 'close');
    client.write('hello');
    const [err] = await error;
    expect(err.message).toBe('provider failed');
    await clientClosed;
    expect(accepted.destroyed).toBe(true);
    await sleep(50); // unhandled rejections are reported after the microtask queue drains
    expect(unhandled).toEqual([]);
    client.destroy();
    server.close();
  });

  it('QUIC: a session whose application handler throws ends with done, and with error only when someone listens', async () => {
    const provider = seededProvider('quic-session-fails');
    const key = await testKey(provider, 'ed25519');
    const sessions: QuicSession[] = [];
    const log: string[] = [];
    const server = createQuicServer({ tls: { provider, now: clock, certificate: { chain: [key.publicKey], ...key }, alpnProtocols: ['f'] } }, (s) => {
      const n = sessions.push(s);
      s.once('done', () => log.push(`${n} done`));
      // The second session's application listens for errors; the first does not (and must not crash the process).
      if (n === 2) s.on('error', (e: Error) => log.push(`${n} error ${e.message}`));
      throw new Error('handler failed');
    });
    await new Promise<void>((r) => server.bind(0, '127.0.0.1', r));
    const probe = createSocket('udp4');
    await new Promise<void>((r) => probe.bind(0, '127.0.0.1', r));
    try {
      for (let i = 1; i <= 2; i++) {
        const c = await QuicConnection.connect({ tls: { provider, now: clock, serverName: 'f', verifier: pinnedKeyVerifier(key), alpnProtocols: ['f'] } }, 0);
        probe.send(((await c.pollTransmit(0))?.data) as Uint8Array, server.address().port, '127.0.0.1');
        for (let t = 0; t < 250 && !log.includes(`${i} done`); t++) await sleep(20);
        // Later calls are ignored rather than run on a failed connection.
        await (sessions[i - 1] as QuicSession).run(() => {
          throw new Error('must not run');
        });
      }
      expect(log).toEqual(['1 done', '2 error handler failed', '2 done']);
      await sleep(50);
      expect(unhandled).toEqual([]);
    } finally {
      probe.close();
      server.close();
    }
  });

  it('QUIC: a server whose Retry key cannot be made does not crash the process', async () => {
    const good = seededProvider('faulty-retry');
    const key = await testKey(good, 'ed25519');
    const faulty: CryptoProvider = { ...good, random: () => Promise.reject(new Error('entropy source failed')) };
    const server = createQuicServer(
      { retry: true, tls: { provider: faulty, now: clock, certificate: { chain: [key.publicKey], ...key }, alpnProtocols: ['f'] } },
      () => undefined,
    );
    await new Promise<void>((r) => server.bind(0, '127.0.0.1', r));
    await sleep(50);
    expect(unhandled).toEqual([]);
    server.close();
  });
});

/** A 1200-byte datagram with a QUIC v1 Initial header, DCID number `n`, and arbitrary bytes where the protected payload goes. */
function junkInitial(n: number): Uint8Array {
  const d = new Uint8Array(1200);
  const header = [0xc3, 0, 0, 0, 1, 8, (n >> 8) & 0xff, n & 0xff, 0xd1, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0];
  const length = d.length - header.length - 2;
  d.set([...header, 0x40 | (length >> 8), length & 0xff]);
  for (let i = header.length + 2; i < d.length; i++) d[i] = (n * 7919 + i * 104729) & 0xff;
  return d;
}

describe('QUIC server creates state only for Initials that decrypt (RFC 9001 §5.2, §5.5)', () => {
  async function quicServer(seed: string, extra: { maxConcurrentHandshakes?: number; handshakeTimeoutMs?: number } = {}, serverProvider?: (p: CryptoProvider) => CryptoProvider) {
    const provider = seededProvider(seed);
    const key = await testKey(provider, 'ed25519');
    const accepted: QuicSession[] = [];
    const server = createQuicServer(
      { ...extra, tls: { provider: serverProvider?.(provider) ?? provider, now: clock, certificate: { chain: [key.publicKey], ...key }, alpnProtocols: ['h'] } },
      (s) => void accepted.push(s),
    );
    await new Promise<void>((r) => server.bind(0, '127.0.0.1', r));
    const probe = createSocket('udp4');
    await new Promise<void>((r) => probe.bind(0, '127.0.0.1', r));
    const port = server.address().port;
    return { provider, key, server, probe, port, accepted };
  }

  /** Sends a Version Negotiation trigger and waits for the answer: every datagram sent before it has been routed. */
  async function barrier(probe: UdpSocket, port: number): Promise<void> {
    const vn = new Uint8Array(1200);
    vn.set([0xc0, 0x1a, 0x2a, 0x3a, 0x4a, 8, 9, 9, 9, 9, 9, 9, 9, 9, 0]);
    // The server may be too busy to read for a while and the kernel may drop datagrams meanwhile: ask again.
    let answered = false;
    const reply = once(probe, 'message').then(() => void (answered = true));
    while (!answered) {
      probe.send(vn, port, '127.0.0.1');
      await Promise.race([reply, sleep(500)]);
    }
  }

  /** A real client's first Initial datagram, and the client's Source Connection ID. */
  async function clientInitial(provider: CryptoProvider): Promise<{ datagram: Uint8Array; scid: Uint8Array }> {
    const c = await QuicConnection.connect({ tls: { provider, now: clock, serverName: 'h', verifier: { verify: () => Promise.reject(new Error('unused')) }, alpnProtocols: ['h'] } }, 0);
    const datagram = ((await c.pollTransmit(0))?.data) as Uint8Array;
    return { datagram, scid: parsePacket(datagram, 0, { shortDcidLength: 8 }).packet.scid.slice() };
  }

  it('500 junk datagrams with a v1 Initial header create no connection and no onConnection call', async () => {
    const accept = vi.spyOn(QuicConnection, 'accept');
    accept.mockClear();
    const { server, probe, port, accepted } = await quicServer('junk');
    try {
      for (let n = 0; n < 500; n++) {
        probe.send(junkInitial(n), port, '127.0.0.1');
        if (n % 100 === 99) await barrier(probe, port); // do not overrun the socket's receive buffer
      }
      await barrier(probe, port);
      await sleep(200); // the stateless decryptions in flight
      expect(accept).not.toHaveBeenCalled();
      expect(accepted).toHaveLength(0);
    } finally {
      accept.mockRestore();
      probe.close();
      server.close();
    }
  });

  it('a corrupted copy of the first Initial does not fix the connection IDs: the server answers the real client', async () => {
    // A provider that answers later, as an asynchronous backend would: the real Initial arrives while the
    // corrupted one is still being decrypted.
    const slow = (p: CryptoProvider): CryptoProvider => ({ ...p, hkdfExtract: async (...a) => (await sleep(20), p.hkdfExtract(...a)) });
    const { provider, server, probe, port, accepted } = await quicServer('corrupt-first', {}, slow);
    try {
      const { datagram, scid } = await clientInitial(provider);
      // Same DCID, another SCID: the header is the AEAD's associated data, so this copy cannot decrypt.
      const corrupt = datagram.slice();
      corrupt.set([0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee], 1 + 4 + 1 + 8 + 1);
      const reply = once(probe, 'message') as Promise<[Buffer]>;
      probe.send(corrupt, port, '127.0.0.1');
      probe.send(datagram, port, '127.0.0.1');
      const [answer] = await reply;
      const dcid = parsePacket(new Uint8Array(answer), 0, { shortDcidLength: 8 }).packet.dcid;
      expect(Array.from(dcid)).toEqual(Array.from(scid));
      expect(accepted).toHaveLength(1);
    } finally {
      probe.close();
      server.close();
    }
  });

  it('maxConcurrentHandshakes caps connections in handshake; Initials beyond it are dropped without state', async () => {
    const accept = vi.spyOn(QuicConnection, 'accept');
    accept.mockClear();
    const { provider, server, probe, port, accepted } = await quicServer('cap', { maxConcurrentHandshakes: 2 });
    try {
      const initials = [];
      for (let i = 0; i < 4; i++) initials.push(await clientInitial(provider));
      for (const { datagram } of initials) probe.send(datagram, port, '127.0.0.1');
      await barrier(probe, port);
      while (accepted.length < 2) await sleep(20);
      await sleep(200);
      expect(accepted).toHaveLength(2);
      expect(accept).toHaveBeenCalledTimes(2);
    } finally {
      accept.mockRestore();
      probe.close();
      server.close();
    }
  });

  it('a handshake that never completes is closed after handshakeTimeoutMs and frees its slot for the next client', async () => {
    const { provider, server, probe, port, accepted } = await quicServer('hs-timeout', { maxConcurrentHandshakes: 1, handshakeTimeoutMs: 300 });
    try {
      const [stalled, next] = [await clientInitial(provider), await clientInitial(provider)];
      // A client that sends its first Initial and never answers: it holds the only handshake slot.
      probe.send(stalled.datagram, port, '127.0.0.1');
      while (accepted.length < 1) await sleep(20);
      const closed = once(accepted[0] as QuicSession, 'closed');
      probe.send(next.datagram, port, '127.0.0.1');
      await barrier(probe, port);
      await sleep(100);
      expect(accepted).toHaveLength(1);
      // Well within the 30 s idle timeout, which each packet from the client would restart anyway.
      const [event] = await Promise.race([closed, sleep(3000).then(() => [undefined])]);
      expect(event).toMatchObject({ type: 'closed', local: true, reason: 'handshake timeout' });
      probe.send(next.datagram, port, '127.0.0.1');
      for (let i = 0; i < 100 && accepted.length < 2; i++) await sleep(20);
      expect(accepted).toHaveLength(2);
    } finally {
      probe.close();
      server.close();
    }
  });
});

describe('TLS server: half-open handshakes are bounded in time and number', () => {
  async function tlsServer(options: { handshakeTimeoutMs?: number; maxConcurrentHandshakes?: number }) {
    const provider = seededProvider('half-open');
    const key = await testKey(provider, 'ed25519');
    const errors: Error[] = [];
    const server = createServer({ provider, now: clock, certificate: { chain: [key.publicKey], ...key }, ...options }, () => undefined);
    server.on('tlsClientError', (e: Error) => errors.push(e));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return { server, errors, port: (server.address() as AddressInfo).port };
  }

  /** Whether `sock` closes within `ms` (a bound on the wait, not a measurement). */
  const closesWithin = (sock: Socket, ms: number): Promise<boolean> =>
    Promise.race([once(sock, 'close').then(() => true), sleep(ms).then(() => false)]);

  it('a client that sends 10 bytes and stops is disconnected after handshakeTimeoutMs', async () => {
    const { server, errors, port } = await tlsServer({ handshakeTimeoutMs: 200 });
    try {
      const sock = netConnect(port, '127.0.0.1');
      sock.on('error', () => undefined);
      await once(sock, 'connect');
      sock.write(new Uint8Array([22, 3, 1, 0, 200, 1, 0, 0, 196, 3]));
      expect(await closesWithin(sock, 5000)).toBe(true);
      expect(errors.map((e) => e.message)).toEqual(['TLS handshake not complete after 200 ms']);
    } finally {
      server.close();
    }
  });

  it('connections beyond maxConcurrentHandshakes are closed at once; the others stay', async () => {
    const { server, port } = await tlsServer({ maxConcurrentHandshakes: 2 });
    const socks: Socket[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const s = netConnect(port, '127.0.0.1');
        s.on('error', () => undefined);
        socks.push(s);
        await once(s, 'connect');
      }
      expect(await closesWithin(socks[2] as Socket, 5000)).toBe(true);
      expect(socks[0]?.closed).toBe(false);
      expect(socks[1]?.closed).toBe(false);
    } finally {
      socks.forEach((s) => s.destroy());
      server.close();
    }
  });

  it('connect() gives up on a server that accepts the connection and never answers', async () => {
    const { server, accepted } = await (async () => {
      const server = netCreateServer();
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      return { server, accepted: once(server, 'connection') as Promise<[Socket]> };
    })();
    try {
      const provider = seededProvider('silent-server');
      const key = await testKey(provider, 'ed25519');
      const attempt = connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, provider, now: clock, verifier: pinnedKeyVerifier(key), handshakeTimeoutMs: 200 });
      await expect(attempt).rejects.toThrow('TLS handshake not complete after 200 ms');
      // The client's socket is gone too: the server sees the end of the stream once it reads.
      const [peer] = await accepted;
      peer.resume();
      if (!peer.closed) await once(peer, 'close');
    } finally {
      server.close();
    }
  });

  it('the record reader allocates nothing until bytes arrive, then only what they need', () => {
    const r = new RecordReader();
    expect(r.capacity).toBe(0);
    r.push(new Uint8Array(10));
    expect(r.capacity).toBeLessThanOrEqual(64);
  });
});

describe('PqTlsSocket write backpressure', () => {
  it('writing to a peer that never reads: write() returns false and the TCP socket buffers a bounded amount', async () => {
    const provider = seededProvider('write-backpressure');
    const key = await testKey(provider, 'ed25519');
    // The server never reads: its socket pauses, the kernel buffers fill, and then nothing drains.
    const server = createServer({ provider, now: clock, certificate: { chain: [key.publicKey], ...key } }, () => undefined);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const sock = await connect({ host: '127.0.0.1', port, provider, now: clock, verifier: pinnedKeyVerifier(key) });
    try {
      const raw = sock.socket;
      let maxBuffered = 0;
      const write = raw.write.bind(raw) as (b: Uint8Array) => boolean;
      (raw as unknown as { write: (b: Uint8Array) => boolean }).write = (b) => {
        const ok = write(b);
        maxBuffered = Math.max(maxBuffered, raw.writableLength);
        return ok;
      };
      const chunk = new Uint8Array(64 * 1024);
      const target = 32 << 20;
      let written = 0;
      let sawFalse = false;
      while (written < target) {
        const ok = sock.write(chunk);
        written += chunk.length;
        if (ok) continue;
        sawFalse = true;
        // Well-behaved writer: wait for drain. When the peer reads nothing, drain must stop coming.
        const drained = await Promise.race([once(sock, 'drain').then(() => true), sleep(1000).then(() => false)]);
        if (!drained) break;
      }
      expect(sawFalse).toBe(true);
      expect(written).toBeLessThan(target);
      expect(sock.writableLength).toBeGreaterThan(0);
      // At most one chunk's records beyond the socket's high-water mark, never the data written so far.
      expect(maxBuffered).toBeLessThan(256 * 1024);
    } finally {
      sock.destroy();
      server.close();
    }
  });
});

describe('PqTlsSocket answers a peer that does not read', () => {
  it('KeyUpdate(update_requested) with data, from a peer that never reads: the answers stay bounded, reading pauses (RFC 8446 §4.6.3)', async () => {
    const provider = seededProvider('ku-answers');
    const key = await testKey(provider, 'ed25519');
    let serverSock: PqTlsSocket | undefined;
    const server = createServer({ provider, now: clock, certificate: { chain: [key.publicKey], ...key } }, (s) => {
      serverSock = s;
      s.resume(); // the application reads all data: only our answers back up
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const raw = netConnect((server.address() as AddressInfo).port, '127.0.0.1');
    raw.on('error', () => undefined);
    try {
      await once(raw, 'connect');
      const { TlsConnection } = await import('../../src/tls13/connection.js');
      const client = await TlsConnection.client({ provider, now: clock, verifier: pinnedKeyVerifier(key) });
      raw.write(client.takeOutput());
      const onData = (d: Buffer): void => void client.receive(new Uint8Array(d)).then(() => client.wantsWrite && raw.write(client.takeOutput()));
      raw.on('data', onData);
      while (!client.handshakeInfo || !serverSock) await sleep(10);
      // From here on the attacker reads nothing: our answers can only pile up.
      raw.off('data', onData);
      raw.pause();
      const server = serverSock as PqTlsSocket;
      // Fill the kernel's buffers first, so that whatever we answer from now on stays in the process.
      server.socket.write(new Uint8Array(16 << 20));
      const baseline = server.socket.writableLength;
      // Each round: 1 byte of data (so the limit on KeyUpdates between data never trips) and a KeyUpdate asking for ours.
      for (let i = 0; i < 20_000; i++) {
        await client.write(new Uint8Array([i & 0xff]));
        await client.keyUpdate(true);
        if (i % 500 === 499) raw.write(client.takeOutput());
      }
      raw.write(client.takeOutput());
      await sleep(2000);
      expect(server.destroyed).toBe(false);
      // Unbounded, ~26 bytes were queued per KeyUpdate: 520 KB. Reading pauses once the socket needs to drain.
      expect(server.socket.writableLength - baseline).toBeLessThan(64 * 1024);
    } finally {
      raw.destroy();
      serverSock?.destroy();
      server.close();
    }
  }, 60_000);
});

describe('FileSessionStore', () => {
  it('a corrupted session file is no session, not a failed connection', async () => {
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { FileSessionStore } = await import('../../src/node/session-file.js');
    const dir = mkdtempSync(join(tmpdir(), 'pqtls-session-'));
    try {
      const file = join(dir, 's.b64');
      writeFileSync(file, Buffer.from([1, 2, 3, 250, 251]).toString('base64'));
      expect(new FileSessionStore(file).take('k', clock())).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
