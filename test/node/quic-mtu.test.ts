/**
 * DPLPMTUD over the Node UDP adapter (RFC 9000 §14.3, RFC 8899). RFC 8899
 * §5.1.2 bounds MAX_PLPMTU by the local interface's MTU: Node cannot tell a
 * path's interface, but a loopback address stays on the loopback interface,
 * whose MTU is large, so the adapter lets a loopback path search up to the
 * largest UDP payload and keeps 1452 elsewhere; the application's own
 * `mtuDiscovery` wins. A datagram too big to send is a lost probe (RFC 8899
 * §4.1), never the end of a connection.
 */
import { Socket } from 'node:dgram';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  createQuicServer, MAX_UDP_PAYLOAD_IPV4, MAX_UDP_PAYLOAD_IPV6_LOOPBACK, quicConnect, udpPathMtuCeiling, type QuicSession,
} from '../../src/node/quic.js';
import type { MtuDiscoveryOptions } from '../../src/quic/connection/mtud.js';
import { clock, pinnedKeyVerifier, seededProvider, testKey } from '../helpers/tls-pair.js';

describe('RFC 8899 §5.1.2: the adapter\'s DPLPMTUD ceiling for a path', () => {
  it('is the largest UDP payload of the family to a loopback address, 1452 to any other', () => {
    expect(MAX_UDP_PAYLOAD_IPV4).toBe(65_507);
    expect(MAX_UDP_PAYLOAD_IPV6_LOOPBACK).toBe(65_488);
    expect(udpPathMtuCeiling('127.0.0.1:4433')).toBe(65_507);
    expect(udpPathMtuCeiling('127.255.0.9:1')).toBe(65_507); // all of 127.0.0.0/8
    expect(udpPathMtuCeiling('[::1]:4433')).toBe(65_488);
    expect(udpPathMtuCeiling('[0:0:0:0:0:0:0:1]:4433')).toBe(65_488);
    expect(udpPathMtuCeiling('[::ffff:127.0.0.1]:4433')).toBe(65_507); // leaves as IPv4
    expect(udpPathMtuCeiling('pref|127.0.0.1:4433')).toBe(65_507); // through the server's preferred-address socket
    for (const far of ['10.0.0.1:443', '128.0.0.1:443', '192.0.2.1:443', '[2001:db8::1]:443', '[::2]:443', '[::ffff:10.0.0.1]:443', '[fe80::1]:443', 'pref|192.0.2.1:443', 'example.com:443']) {
      expect(udpPathMtuCeiling(far)).toBe(1452);
    }
  });
});

const SIZE = 1 << 20;

/**
 * Over real loopback UDP: the client uploads SIZE bytes, the server answers
 * with as many (so both sides' windows grow enough for a 64 KiB probe).
 * Returns both connections' datagram sizes at the end and the largest
 * datagram the server's socket received.
 */
async function exchange(seed: string, mtuDiscovery?: MtuDiscoveryOptions | false) {
  const provider = seededProvider(seed);
  const key = await testKey(provider, 'ed25519');
  const params = { maxIdleTimeout: 10_000, initialMaxData: 8 << 20, initialMaxStreamDataBidiLocal: 4 << 20, initialMaxStreamDataBidiRemote: 4 << 20, initialMaxStreamsBidi: 4 };
  const mtu = mtuDiscovery === undefined ? {} : { mtuDiscovery };
  const errors: unknown[] = [];
  let serverSession: QuicSession | undefined;
  const server = createQuicServer({ ...mtu, transportParameters: params, tls: { provider, now: clock, certificate: { chain: [key.publicKey], ...key }, alpnProtocols: ['m'] } }, (s) => {
    serverSession = s;
    s.on('error', (e) => errors.push(e));
    let got = 0;
    s.on('stream', (ev: { type: string; id: number }) => {
      if (ev.type !== 'readable') return;
      for (let r = s.connection.readStream(ev.id); r && (r.data.length || r.fin); r = s.connection.readStream(ev.id)) {
        got += r.data.length;
        if (r.fin) void s.write(ev.id, new Uint8Array(got).fill(3), true);
      }
    });
  });
  let received = 0;
  server.on('message', (m: Buffer) => {
    received = Math.max(received, m.length);
  });
  await new Promise<void>((r) => server.bind(0, '127.0.0.1', r));
  try {
    const session = await quicConnect({
      ...mtu, host: '127.0.0.1', port: server.address().port, transportParameters: params,
      tls: { provider, now: clock, serverName: 'm', verifier: pinnedKeyVerifier(key), alpnProtocols: ['m'] },
    });
    session.on('error', (e) => errors.push(e));
    const id = session.connection.openStream(true);
    let got = 0;
    const done = new Promise<string>((resolve) => {
      session.on('closed', (e: { reason?: string }) => resolve(`closed: ${e.reason ?? ''}`));
      session.on('done', () => resolve('done'));
      session.on('stream', (ev: { type: string; id: number }) => {
        if (ev.type !== 'readable' || ev.id !== id) return;
        for (let r = session.connection.readStream(id); r && (r.data.length || r.fin); r = session.connection.readStream(id)) {
          got += r.data.length;
          if (r.fin) resolve('fin');
        }
      });
    });
    await session.write(id, new Uint8Array(SIZE).fill(1), true);
    const outcome = await done;
    const result = { outcome, got, errors, client: session.connection.maxDatagramSize, server: serverSession?.connection.maxDatagramSize, received };
    await session.close();
    return result;
  } finally {
    server.close();
  }
}

describe('DPLPMTUD over real loopback UDP', () => {
  it('by default a loopback path grows past 1452-byte datagrams, both ways', async () => {
    const r = await exchange('mtu-loopback');
    expect(r.outcome).toBe('fin');
    expect(r.got).toBe(SIZE);
    expect(r.errors).toEqual([]);
    // Linux's lo carries 65536-byte packets: the first probe, the ceiling, gets through; macOS's lo0 (16384) less.
    for (const size of [r.client, r.server, r.received]) {
      expect(size).toBeGreaterThan(1452);
      expect(size).toBeLessThanOrEqual(MAX_UDP_PAYLOAD_IPV4);
    }
  }, 30_000);

  it('the application\'s ceiling wins: 1452 keeps datagrams at 1452 at most, and false at 1200', async () => {
    const capped = await exchange('mtu-capped', { ceiling: 1452 });
    expect(capped.outcome).toBe('fin');
    expect(capped.client).toBe(1452);
    expect(capped.server).toBe(1452);
    expect(capped.received).toBeLessThanOrEqual(1452);
    const off = await exchange('mtu-off', false);
    expect(off.outcome).toBe('fin');
    expect(off.client).toBe(1200);
    expect(off.server).toBe(1200);
    expect(off.received).toBeLessThanOrEqual(1200);
  }, 30_000);
});

describe('RFC 8899 §4.1: a datagram too big to send is a lost probe', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('a send failing with EMSGSIZE, reported as the socket\'s error event, ends neither connection nor endpoint', async () => {
    // An interface that carries 1452-byte payloads at most, failing larger sends the way dgram documents for a
    // send without a callback: an `error` event on the socket (syscall 'send').
    const send = Socket.prototype.send;
    let failed = 0;
    vi.spyOn(Socket.prototype, 'send').mockImplementation(function (this: Socket, ...args: unknown[]) {
      const msg = args[0] as Uint8Array;
      if (msg.length <= 1452) return (send as (...a: unknown[]) => void).apply(this, args);
      failed++;
      const e = Object.assign(new Error(`send EMSGSIZE ${String(args[2])}:${String(args[1])}`), { code: 'EMSGSIZE', errno: -90, syscall: 'send' });
      process.nextTick(() => this.emit('error', e));
    });
    const r = await exchange('mtu-emsgsize', { ceiling: 9000 });
    expect(r.outcome).toBe('fin');
    expect(r.got).toBe(SIZE);
    expect(r.errors).toEqual([]);
    expect(failed).toBeGreaterThan(0);
    expect(r.client).toBeLessThanOrEqual(1452);
    expect(r.server).toBeLessThanOrEqual(1452);
    expect(r.received).toBeLessThanOrEqual(1452);
  }, 30_000);
});
