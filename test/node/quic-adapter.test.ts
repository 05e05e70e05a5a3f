/**
 * The QUIC UDP adapter on loopback: a server endpoint that restarted (same
 * stateless reset key, no connection state) answers the old client's packets
 * with a Stateless Reset, and the client closes (RFC 9000 §10.3).
 */
import { Socket } from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { SLICE_BYTES, createQuicServer, quicConnect, sliceEnd, type QuicSession } from '../../src/node/quic.js';
import type { QuicEvent } from '../../src/quic/connection/connection.js';
import { QuicEndpoint } from '../../src/quic/endpoint.js';
import { createNodeCryptoProvider } from '../../src/node/index.js';
import { seededRandom } from '../../src/testing/index.js';
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

describe('QUIC over UDP: credit handed back as the application reads', () => {
  it('a MAX_STREAM_DATA a read makes due leaves at once, without waiting for the peer to send again', async () => {
    // A 4 KiB stream window that stays put: the server fills it in one flight of a few datagrams, which the
    // client reads in one batch. The read makes MAX_STREAM_DATA due; were it held until the next datagram
    // arrives, nothing would arrive — the server has sent all the window allowed and its STREAM_DATA_BLOCKED
    // was acknowledged — and the transfer would hang until the idle timeout closed the connection.
    const provider = seededProvider('udp-credit');
    const key = await testKey(provider, 'ed25519');
    const size = 256 * 1024;
    const server = createQuicServer({ tls: { provider, now: clock, certificate: { chain: [key.publicKey], ...key }, alpnProtocols: ['c'] } }, (s) => {
      s.on('stream', (ev: { type: string; id: number }) => {
        if (ev.type !== 'readable') return;
        for (let r = s.connection.readStream(ev.id); r && (r.data.length || r.fin); r = s.connection.readStream(ev.id)) {
          if (r.fin) void s.write(ev.id, new Uint8Array(size).fill(7), true);
        }
      });
    });
    await new Promise<void>((r) => server.bind(0, '127.0.0.1', r));
    try {
      const session = await quicConnect({
        host: '127.0.0.1', port: server.address().port,
        transportParameters: { maxIdleTimeout: 5_000, initialMaxData: 1 << 20, initialMaxStreamDataBidiLocal: 4096, initialMaxStreamsBidi: 4 },
        receiveWindowLimits: { maxStreamWindow: 0, maxConnectionWindow: 0 },
        tls: { provider, now: clock, serverName: 'c', verifier: pinnedKeyVerifier(key), alpnProtocols: ['c'] },
      });
      const id = session.connection.openStream(true);
      let got = 0;
      const done = new Promise<string>((resolve) => {
        session.on('closed', (e: QuicEvent) => resolve(e.type === 'closed' ? e.reason : 'closed'));
        session.on('stream', (ev: { type: string; id: number }) => {
          if (ev.type !== 'readable' || ev.id !== id) return;
          for (let r = session.connection.readStream(id); r && (r.data.length || r.fin); r = session.connection.readStream(id)) {
            got += r.data.length;
            if (r.fin) resolve('fin');
          }
        });
      });
      await session.write(id, new Uint8Array([1]), true);
      expect(await done).toBe('fin');
      expect(got).toBe(size);
      await session.close();
    } finally {
      server.close();
    }
  }, 20_000);
});

describe('QUIC over UDP: a server with many connections', () => {
  it('asks only connections with events for them: idle ones cost nothing per batch of another', async () => {
    const provider = seededProvider('udp-idle');
    const key = await testKey(provider, 'ed25519');
    const size = 128 * 1024;
    const accepted: QuicSession[] = [];
    const server = createQuicServer({ tls: { provider, now: clock, certificate: { chain: [key.publicKey], ...key }, alpnProtocols: ['i'] } }, (s) => {
      accepted.push(s);
      s.on('stream', (ev: { type: string; id: number }) => {
        if (ev.type !== 'readable') return;
        for (let r = s.connection.readStream(ev.id); r && (r.data.length || r.fin); r = s.connection.readStream(ev.id)) {
          if (r.fin) void s.write(ev.id, new Uint8Array(size).fill(3), true);
        }
      });
    });
    await new Promise<void>((r) => server.bind(0, '127.0.0.1', r));
    const clients: QuicSession[] = [];
    try {
      for (let i = 0; i < 4; i++) {
        clients.push(await quicConnect({
          host: '127.0.0.1', port: server.address().port,
          tls: { provider, now: clock, serverName: 'i', verifier: pinnedKeyVerifier(key), alpnProtocols: ['i'] },
        }));
      }
      await new Promise((r) => setTimeout(r, 200)); // HANDSHAKE_DONE and its ACKs: every connection falls idle
      expect(accepted).toHaveLength(4);
      // Count how often the three idle server connections are asked for events while the fourth transfers.
      let idlePolls = 0;
      for (const s of accepted.slice(1)) {
        const poll = s.connection.poll.bind(s.connection);
        s.connection.poll = () => {
          idlePolls++;
          return poll();
        };
      }
      const active = clients[0] as QuicSession;
      const id = active.connection.openStream(true);
      let got = 0;
      const done = new Promise<void>((resolve) => active.on('stream', (ev: { type: string; id: number }) => {
        if (ev.type !== 'readable' || ev.id !== id) return;
        for (let r = active.connection.readStream(id); r && (r.data.length || r.fin); r = active.connection.readStream(id)) {
          got += r.data.length;
          if (r.fin) resolve();
        }
      }));
      await active.write(id, new Uint8Array([1]), true);
      await done;
      expect(got).toBe(size);
      // The transfer took a few dozen server batches; each used to ask every session (30 polls of the idle ones).
      expect(idlePolls).toBe(0);
    } finally {
      for (const c of clients) await c.close();
      server.close();
    }
  }, 20_000);
});

/**
 * What a fresh server's endpoint is asked when `count` datagrams of `size` bytes arrive in one burst: `handle N`
 * for each handleDatagrams call, `flush` where transmits were polled after it. The datagrams are not QUIC (fixed
 * bit 0, RFC 9000 §17.2: discarded), so nothing answers them; sent in one turn, they are all in the server
 * socket's queue (4 MiB asked for) before its event loop reads any. One goes first, alone: the sending socket's
 * first send takes a turn of its own.
 */
/**
 * What the endpoint is handed for `count` datagrams of `size` bytes that arrive together: sent over loopback,
 * or with `inOneTurn` given to the socket's 'message' listeners in one turn of the event loop, as libuv delivers
 * a batch it read (what the slicing does with a batch, whatever the kernel's timing under load).
 */
async function burstLog(name: string, count: number, size: number, inOneTurn = false): Promise<string[]> {
  const { createSocket } = await import('node:dgram');
  const provider = seededProvider(name);
  const key = await testKey(provider, 'ed25519');
  const server = createQuicServer({ tls: { provider, now: clock, certificate: { chain: [key.publicKey], ...key }, alpnProtocols: ['b'] } }, () => undefined);
  await new Promise<void>((r) => server.bind(0, '127.0.0.1', r));
  const log: string[] = [];
  let arrived = 0;
  const handle = QuicEndpoint.prototype.handleDatagrams;
  const poll = QuicEndpoint.prototype.pollTransmits;
  QuicEndpoint.prototype.handleDatagrams = function (this: QuicEndpoint, datagrams, now) {
    const n = [...datagrams].length;
    arrived += n;
    log.push(`handle ${n}`);
    return handle.call(this, datagrams, now);
  };
  QuicEndpoint.prototype.pollTransmits = function (this: QuicEndpoint, now, max) {
    // A flush before the burst's first batch (a timer's, or the warm-up datagram's running late on a loaded
    // machine) answers nothing of the burst: only flushes after a batch are logged.
    if (log.length > 0 && log[log.length - 1] !== 'flush') log.push('flush');
    return poll.call(this, now, max);
  };
  const sender = createSocket('udp4');
  try {
    await new Promise<void>((r) => sender.bind(0, '127.0.0.1', r));
    const until = async (n: number): Promise<void> => {
      for (let t = 0; t < 100 && arrived < n; t++) await new Promise((r) => setTimeout(r, 10));
      await new Promise((r) => setTimeout(r, 20));
    };
    const junk = new Uint8Array(size);
    sender.send(junk, server.address().port, '127.0.0.1');
    await until(1);
    log.length = 0;
    arrived = 0;
    const from = { address: '127.0.0.1', family: 'IPv4' as const, port: sender.address().port, size };
    for (let i = 0; i < count; i++) {
      if (inOneTurn) server.emit('message', Buffer.from(junk), from);
      else sender.send(junk, server.address().port, '127.0.0.1');
    }
    await until(count);
    return log;
  } finally {
    QuicEndpoint.prototype.handleDatagrams = handle;
    QuicEndpoint.prototype.pollTransmits = poll;
    sender.close();
    server.close();
  }
}

describe('QUIC over UDP: what a burst brings is handled as one batch', () => {
  it('96 datagrams queued at once reach the endpoint in one batch, not one per 32 libuv reads per readiness event', async () => {
    // Before: [32, 32, 32] — a flush, and an ACK-only packet per connection that had data, for each.
    expect((await burstLog('udp-burst', 96, 100)).filter((l) => l !== 'flush')).toEqual(['handle 96']);
  });
});

describe('QUIC over UDP: a large batch a slice at a time', () => {
  it('slices end once they hold SLICE_BYTES, or at the batch end', () => {
    const of = (...sizes: number[]) => sizes.map((n) => ({ data: new Uint8Array(n) }));
    expect(sliceEnd(of(), 0, 10)).toBe(0);
    expect(sliceEnd(of(4, 4, 4), 0, 10)).toBe(3);
    expect(sliceEnd(of(4, 6, 4), 0, 10)).toBe(2);
    expect(sliceEnd(of(4, 6, 4), 2, 10)).toBe(3);
    expect(sliceEnd(of(20, 1), 0, 10)).toBe(1);
  });

  it('a burst of 12 × SLICE_BYTES/8 reaches the endpoint as slices of 8 and 4, with a flush after each', async () => {
    // The flush after a slice sends its ACKs and lets the application read, which hands credit back: before,
    // one flush answered the whole batch, and a sender blocked on a window this size waited for all of it.
    // Before: ['handle 12', 'flush'].
    expect(await burstLog('udp-slices', 12, SLICE_BYTES / 8, true)).toEqual(['handle 8', 'flush', 'handle 4', 'flush']);
  });
});

describe('QUIC over UDP: datagrams of a large path MTU', () => {
  it('a datagram of up to 64 KiB (DPLPMTUD on loopback) is given back for reuse only once dgram has sent it', async () => {
    // Each large datagram goes back to the packet pool when dgram's send completes, and a later one is built in
    // its memory. On loopback the kernel takes each datagram at once; here every send is put off a turn, as
    // libuv queues one the socket cannot take yet, and the bytes it then sends must still be those it was given.
    const sent = { large: 0, changed: 0 };
    const send = Socket.prototype.send;
    const deferred = function (this: Socket, msg: Uint8Array, ...rest: unknown[]): void {
      const callback = typeof rest[rest.length - 1] === 'function' ? rest.pop() as () => void : undefined;
      const copy = msg.slice();
      setImmediate(() => {
        if (msg.length > 8192) sent.large++;
        if (Buffer.compare(msg, copy) !== 0) sent.changed++;
        (send as (...a: unknown[]) => void).call(this, msg, ...rest, callback ?? (() => undefined));
      });
    };
    Socket.prototype.send = deferred as typeof Socket.prototype.send;
    const provider = createNodeCryptoProvider({ random: seededRandom('udp-large-mtu') });
    const key = await testKey(provider, 'ed25519');
    const body = new Uint8Array(8 << 20);
    for (let i = 0, x = 1; i < body.length; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      body[i] = x >>> 24;
    }
    const mtuDiscovery = { ceiling: 65_000 };
    const server = createQuicServer({ mtuDiscovery, tls: { provider, now: clock, certificate: { chain: [key.publicKey], ...key }, alpnProtocols: ['m'] } }, (s) => {
      s.on('stream', (ev: { type: string; id: number }) => {
        if (ev.type !== 'readable') return;
        for (let r = s.connection.readStream(ev.id); r && (r.data.length || r.fin); r = s.connection.readStream(ev.id)) {
          if (!r.fin) continue;
          for (let at = 0; at < body.length; at += 1 << 20) void s.write(ev.id, body.subarray(at, at + (1 << 20)), at + (1 << 20) >= body.length);
        }
      });
    });
    try {
      await new Promise<void>((r) => server.bind(0, '127.0.0.1', r));
      const session = await quicConnect({
        host: '127.0.0.1', port: server.address().port, mtuDiscovery,
        tls: { provider, now: clock, serverName: 'm', verifier: pinnedKeyVerifier(key), alpnProtocols: ['m'] },
      });
      const id = session.connection.openStream(true);
      const got: Uint8Array[] = [];
      const done = new Promise<string>((resolve) => {
        session.on('closed', (e: QuicEvent) => resolve(e.type === 'closed' ? e.reason : 'closed'));
        session.on('stream', (ev: { type: string; id: number }) => {
          if (ev.type !== 'readable' || ev.id !== id) return;
          for (let r = session.connection.readStream(id); r && (r.data.length || r.fin); r = session.connection.readStream(id)) {
            got.push(r.data.slice());
            if (r.fin) resolve('fin');
          }
        });
      });
      await session.write(id, new Uint8Array([1]), true);
      expect(await done).toBe('fin');
      expect(Buffer.compare(Buffer.concat(got), body)).toBe(0);
      expect(sent.large).toBeGreaterThan(50);
      expect(sent.changed).toBe(0);
      await session.close();
    } finally {
      Socket.prototype.send = send;
      server.close();
    }
  }, 30_000);
});
