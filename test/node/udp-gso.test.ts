/**
 * UDP GSO on the QUIC adapter's sending side (src/node/udp-gso.ts): a run of
 * equal-sized datagrams (the last may be shorter) leaves in one `sendmsg`
 * with `UDP_SEGMENT`, and the receiver sees exactly the datagrams that
 * one `send` each would have given it, in order. Where GSO cannot be used
 * the adapter sends as before. Linux only: elsewhere there is no sender and
 * the adapter tests cover the dgram path.
 */
import { createSocket, type Socket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { createQuicServer, quicConnect } from '../../src/node/quic.js';
import { GSO_MAX_BYTES, GSO_MAX_SEGMENTS, gsoCounters, gsoRun, gsoSender } from '../../src/node/udp-gso.js';
import { clock, pinnedKeyVerifier, seededProvider, testKey } from '../helpers/tls-pair.js';

const linux = process.platform === 'linux' && (process.arch === 'x64' || process.arch === 'arm64');

const t = (length: number, remote = '127.0.0.1:1'): { data: Uint8Array; remote: string } => ({ data: new Uint8Array(length), remote });

describe('gsoRun: what one GSO send may carry', () => {
  it('equal sizes to one path, ended by a shorter datagram, another path or a longer one', () => {
    expect(gsoRun([t(1200), t(1200), t(1200), t(700), t(1200)], 0)).toBe(4);
    expect(gsoRun([t(1200), t(1200), t(1200, '127.0.0.1:2'), t(1200)], 0)).toBe(2);
    expect(gsoRun([t(1200), t(1200), t(1452), t(1200)], 0)).toBe(2);
    expect(gsoRun([t(1200), t(1200), t(1452), t(1452)], 2)).toBe(2);
  });

  it('a datagram unlike the next goes alone: a DPLPMTUD probe followed by smaller data, or a lone shorter one', () => {
    expect(gsoRun([t(9000), t(1452), t(1452)], 0)).toBe(1);
    expect(gsoRun([t(1452), t(700)], 0)).toBe(1);
    expect(gsoRun([t(1452)], 0)).toBe(1);
  });

  it('never more than the kernel takes: 64 segments, 65507 bytes', () => {
    expect(gsoRun(Array.from({ length: 100 }, () => t(100)), 0)).toBe(GSO_MAX_SEGMENTS);
    expect(gsoRun(Array.from({ length: 100 }, () => t(1452)), 0)).toBe(Math.floor(GSO_MAX_BYTES / 1452));
    expect(gsoRun([t(40_000), t(40_000)], 0)).toBe(1);
  });
});

describe.runIf(linux)('gsoSender over loopback (Linux UDP_SEGMENT)', () => {
  const sockets: Socket[] = [];
  afterEach(() => {
    for (const s of sockets.splice(0)) s.close();
    delete process.env['PQTLS_UDP_GSO'];
  });

  async function bound(type: 'udp4' | 'udp6' = 'udp4', address = type === 'udp4' ? '127.0.0.1' : '::1'): Promise<Socket> {
    const s = createSocket(type);
    sockets.push(s);
    await new Promise<void>((r) => s.bind(0, address, r));
    return s;
  }

  async function receive(rx: Socket, n: number): Promise<Uint8Array[]> {
    const got: Uint8Array[] = [];
    return new Promise((resolve) => {
      rx.on('message', (m: Buffer) => {
        got.push(new Uint8Array(m));
        if (got.length === n) resolve(got);
      });
    });
  }

  it('a run arrives as its datagrams, each whole and in order, the shorter last one too', async () => {
    const [tx, rx] = [await bound(), await bound()];
    const gso = gsoSender(tx);
    expect(gso).toBeDefined();
    const run = [...Array.from({ length: 5 }, (_, i) => new Uint8Array(1200).fill(i + 1)), new Uint8Array(700).fill(9)].map((data) => ({ data }));
    const arrived = receive(rx, run.length);
    const before = { ...gsoCounters };
    expect(gso?.send(run, 0, run.length, '127.0.0.1', rx.address().port)).toBe(true);
    expect(await arrived).toEqual(run.map((r) => r.data));
    expect(gsoCounters.sends - before.sends).toBe(1);
    expect(gsoCounters.datagrams - before.datagrams).toBe(6);
  });

  it('datagrams cut end to end from one buffer (as the core cuts packets from a slab) and apart, mixed', async () => {
    const [tx, rx] = [await bound(), await bound()];
    const slab = new Uint8Array(4 * 1000).map((_, i) => i & 0xff);
    const run = [slab.subarray(0, 1000), slab.subarray(1000, 2000), new Uint8Array(1000).fill(7), slab.subarray(3000, 4000), slab.subarray(2000, 2500)]
      .map((data) => ({ data }));
    const arrived = receive(rx, run.length);
    expect(gsoSender(tx)?.send(run, 0, run.length, '127.0.0.1', rx.address().port)).toBe(true);
    expect(await arrived).toEqual(run.map((r) => new Uint8Array(r.data)));
  });

  it('refuses what it cannot carry, so the caller sends it another way: unequal sizes, a name, too many', async () => {
    const tx = await bound();
    const gso = gsoSender(tx);
    const port = 9;
    expect(gso?.send([{ data: new Uint8Array(100) }, { data: new Uint8Array(200) }], 0, 2, '127.0.0.1', port)).toBe(false);
    expect(gso?.send([{ data: new Uint8Array(100) }, { data: new Uint8Array(50) }, { data: new Uint8Array(50) }], 0, 3, '127.0.0.1', port)).toBe(false);
    expect(gso?.send([{ data: new Uint8Array(100) }, { data: new Uint8Array(100) }], 0, 2, 'localhost', port)).toBe(false);
    const many = Array.from({ length: GSO_MAX_SEGMENTS + 1 }, () => ({ data: new Uint8Array(10) }));
    expect(gso?.send(many, 0, many.length, '127.0.0.1', port)).toBe(false);
  });

  it('a closed socket\'s sender sends nothing: its descriptor\'s number may belong to another socket by then', async () => {
    const rx = await bound();
    let got = 0;
    rx.on('message', () => got++);
    const tx = createSocket('udp4');
    await new Promise<void>((r) => tx.bind(0, '127.0.0.1', r));
    const gso = gsoSender(tx);
    expect(gso).toBeDefined();
    await new Promise<void>((r) => tx.close(r));
    // The kernel hands out the lowest free descriptor: most likely the one tx had.
    await bound();
    const before = { ...gsoCounters };
    expect(gso?.send([{ data: new Uint8Array(100) }, { data: new Uint8Array(100) }], 0, 2, '127.0.0.1', rx.address().port)).toBe(false);
    await new Promise((r) => setTimeout(r, 50));
    expect(got).toBe(0);
    expect(gsoCounters).toEqual(before);
  });

  it('no sender for an unbound socket, an IPv6 one, or with PQTLS_UDP_GSO=0', async () => {
    const unbound = createSocket('udp4');
    expect(gsoSender(unbound)).toBeUndefined();
    unbound.close();
    expect(gsoSender(await bound('udp6'))).toBeUndefined();
    process.env['PQTLS_UDP_GSO'] = '0';
    expect(gsoSender(await bound())).toBeUndefined();
  });
});

describe.runIf(linux)('the QUIC adapter sends bulk data in GSO runs', () => {
  it('a 1 MB answer in 1452-byte datagrams arrives whole, most of it in GSO sends', async () => {
    const provider = seededProvider('udp-gso');
    const key = await testKey(provider, 'ed25519');
    const size = 1 << 20;
    const body = new Uint8Array(size).map((_, i) => (i * 31 + 7) & 0xff);
    const params = { maxIdleTimeout: 10_000, initialMaxData: 8 << 20, initialMaxStreamDataBidiLocal: 4 << 20, initialMaxStreamDataBidiRemote: 4 << 20, initialMaxStreamsBidi: 4 };
    const mtuDiscovery = { ceiling: 1452 };
    const server = createQuicServer({ mtuDiscovery, transportParameters: params, tls: { provider, now: clock, certificate: { chain: [key.publicKey], ...key }, alpnProtocols: ['m'] } }, (s) => {
      s.on('stream', (ev: { type: string; id: number }) => {
        if (ev.type !== 'readable') return;
        for (let r = s.connection.readStream(ev.id); r && (r.data.length || r.fin); r = s.connection.readStream(ev.id)) {
          if (r.fin) void s.write(ev.id, body, true);
        }
      });
    });
    await new Promise<void>((r) => server.bind(0, '127.0.0.1', r));
    const before = { ...gsoCounters };
    try {
      const session = await quicConnect({
        mtuDiscovery, host: '127.0.0.1', port: server.address().port, transportParameters: params,
        tls: { provider, now: clock, serverName: 'm', verifier: pinnedKeyVerifier(key), alpnProtocols: ['m'] },
      });
      const id = session.connection.openStream(true);
      const parts: Uint8Array[] = [];
      const done = new Promise<void>((resolve, reject) => {
        session.on('closed', (e: { reason?: string }) => reject(new Error(`closed: ${e.reason ?? ''}`)));
        session.on('stream', (ev: { type: string; id: number }) => {
          if (ev.type !== 'readable' || ev.id !== id) return;
          for (let r = session.connection.readStream(id); r && (r.data.length || r.fin); r = session.connection.readStream(id)) {
            parts.push(r.data.slice());
            if (r.fin) resolve();
          }
        });
      });
      await session.write(id, new Uint8Array([1]), true);
      await done;
      await session.close();
      expect(Buffer.concat(parts).equals(Buffer.from(body))).toBe(true);
      // 1 MB is about 730 datagrams of 1452 bytes; a congestion window's flights go out in runs.
      expect(gsoCounters.datagrams - before.datagrams).toBeGreaterThan(300);
      expect(gsoCounters.sends - before.sends).toBeLessThan((gsoCounters.datagrams - before.datagrams) / 4);
    } finally {
      server.close();
    }
  }, 30_000);
});
