/**
 * The impairment relay the interop cases run through (test/helpers/udp-relay.ts),
 * checked on its own with plain UDP sockets on loopback: a relay that drops the
 * wrong datagrams or forwards through a mapping it should have forgotten would
 * make every case built on it meaningless.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseDatagram, QUIC_V1_NUMBER, QUIC_V2_NUMBER } from '../helpers/quic-wire.js';
import { seededUnit, UdpRelay, type RelayOptions } from '../helpers/udp-relay.js';

interface Received { data: Uint8Array; from: RemoteInfo }

const open: { close(): unknown }[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
});

async function udp(echo = false): Promise<{ socket: Socket; port: number; got: Received[] }> {
  const socket = createSocket('udp4');
  const got: Received[] = [];
  socket.on('message', (m: Buffer, from: RemoteInfo) => {
    got.push({ data: new Uint8Array(m), from });
    if (echo) socket.send(m, from.port, from.address);
  });
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
  open.push({ close: () => new Promise<void>((r) => socket.close(() => r())) });
  return { socket, port: socket.address().port, got };
}

async function relayTo(serverPort: number, o: Partial<RelayOptions> = {}): Promise<UdpRelay> {
  const relay = await UdpRelay.start({ serverPort, seed: 'relay test', ...o });
  open.push(relay);
  return relay;
}

const tick = (ms = 30): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await tick(5);
  }
}

/** Sends datagrams one at a time (each numbered in its first byte) so their order is the send order. */
async function sendNumbered(s: Socket, port: number, n: number, size = 100): Promise<void> {
  for (let i = 1; i <= n; i++) {
    const d = new Uint8Array(size).fill(i & 0xff);
    await new Promise<void>((r) => s.send(d, port, '127.0.0.1', () => r()));
  }
}

/** A long-header packet: RFC 9000 §17.2 with a Length field covering `payload` bytes. */
function longPacket(version: number, typeBits: number, dcid: number[], payload: number, token = 0): Uint8Array {
  const header = [0xc0 | (typeBits << 4), version >>> 24, (version >>> 16) & 0xff, (version >>> 8) & 0xff, version & 0xff,
    dcid.length, ...dcid, 1, 0xaa];
  if (typeBits === 0 && version === QUIC_V1_NUMBER || typeBits === 1 && version === QUIC_V2_NUMBER) header.push(token);
  header.push(0x40 | (payload >> 8), payload & 0xff);
  return new Uint8Array([...header, ...new Array<number>(payload).fill(0)]);
}

describe('UDP impairment relay', () => {
  it('forwards both ways through one mapping per client address and counts datagrams and bytes', async () => {
    const server = await udp(true);
    const relay = await relayTo(server.port);
    const client = await udp();
    await sendNumbered(client.socket, relay.port, 3, 50);
    await until(() => client.got.length === 3);
    expect(server.got.map((g) => g.data[0])).toEqual([1, 2, 3]);
    // The server sees the relay's upstream socket, not the client.
    expect(server.got[0]?.from.port).not.toBe(client.port);
    expect(relay.mappings).toHaveLength(1);
    expect(relay.counters.toServer).toMatchObject({ datagrams: 3, bytes: 150, delivered: 3, deliveredBytes: 150, dropped: 0 });
    expect(relay.counters.toClient).toMatchObject({ datagrams: 3, delivered: 3 });

    const second = await udp();
    await sendNumbered(second.socket, relay.port, 1);
    await until(() => second.got.length === 1);
    expect(relay.mappings).toHaveLength(2);
    expect(server.got[3]?.from.port).not.toBe(server.got[0]?.from.port);
  });

  it('drops by index: client datagrams 2–7 never reach the server', async () => {
    const server = await udp();
    const relay = await relayTo(server.port, { toServer: { dropIndices: [2, 3, 4, 5, 6, 7] } });
    const client = await udp();
    await sendNumbered(client.socket, relay.port, 10);
    await until(() => server.got.length === 4);
    await tick();
    expect(server.got.map((g) => g.data[0])).toEqual([1, 8, 9, 10]);
    expect(relay.counters.toServer.dropped).toBe(6);
  });

  it('drops by seeded rate, the same datagrams for the same seed, never more than maxBurst in a row', async () => {
    const runOnce = async (): Promise<number[]> => {
      const server = await udp();
      const relay = await relayTo(server.port, { seed: 'loss', toServer: { dropRate: 0.3, maxBurst: 3 } });
      const client = await udp();
      await sendNumbered(client.socket, relay.port, 200, 20);
      await until(() => relay.counters.toServer.datagrams === 200);
      await until(() => server.got.length === relay.counters.toServer.delivered);
      return server.got.map((g) => g.data[0] as number);
    };
    const a = await runOnce();
    const b = await runOnce();
    expect(a).toEqual(b);
    const lost = 200 - a.length;
    expect(lost).toBeGreaterThan(35);
    expect(lost).toBeLessThan(80);
    // Gaps between consecutive survivors are at most 3 lost datagrams.
    const gaps = a.slice(1).map((x, i) => ((x - (a[i] as number) + 256) % 256) - 1);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(3);
    expect(Math.max(...gaps)).toBeGreaterThan(0);
  });

  it('seededUnit is deterministic and spread over [0, 1)', () => {
    const a = seededUnit('x');
    const b = seededUnit('x');
    const xs = Array.from({ length: 1000 }, () => a());
    expect(xs).toEqual(Array.from({ length: 1000 }, () => b()));
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    expect(xs.filter((x) => x < 0.5).length).toBeGreaterThan(400);
    expect(seededUnit('y')()).not.toBe(xs[0]);
  });

  it('corrupts: each corrupted datagram differs from the original in exactly one byte', async () => {
    const server = await udp();
    const relay = await relayTo(server.port, { toServer: { corruptRate: 1 } });
    const client = await udp();
    await sendNumbered(client.socket, relay.port, 20, 64);
    await until(() => server.got.length === 20);
    for (const g of server.got) {
      const counts = new Map<number, number>();
      for (const x of g.data) counts.set(x, (counts.get(x) ?? 0) + 1);
      // 64 equal bytes, one of them flipped: two distinct values, one of which occurs once.
      expect([...counts.values()].sort((p, q) => p - q)).toEqual([1, 63]);
    }
    expect(relay.counters.toServer.corrupted).toBe(20);
  });

  it('delays by a fixed one-way time and bounds the delay line', async () => {
    const server = await udp();
    const relay = await relayTo(server.port, { toServer: { delayMs: 300, maxQueue: 5 } });
    const client = await udp();
    const sent = Date.now();
    await sendNumbered(client.socket, relay.port, 8);
    await tick(150);
    expect(server.got).toHaveLength(0);
    await until(() => server.got.length === 5);
    expect(Date.now() - sent).toBeGreaterThanOrEqual(290);
    expect(relay.counters.toServer.queueDrops).toBe(3);
    expect(server.got.map((g) => g.data[0])).toEqual([1, 2, 3, 4, 5]);
  });

  it('carries what a 1500-byte link carries (the interop runner\'s), no more: a larger datagram is dropped as too big', async () => {
    const server = await udp();
    const relay = await relayTo(server.port);
    const client = await udp();
    // 1472 bytes of UDP payload + 28 bytes of IPv4 and UDP headers = 1500.
    await sendNumbered(client.socket, relay.port, 1, 1472);
    await sendNumbered(client.socket, relay.port, 1, 1473);
    await sendNumbered(client.socket, relay.port, 1, 65_000);
    await sendNumbered(client.socket, relay.port, 1, 100);
    await until(() => server.got.length === 2);
    await tick();
    expect(server.got.map((g) => g.data.length)).toEqual([1472, 100]);
    expect(relay.counters.toServer).toMatchObject({ datagrams: 4, delivered: 2, tooBig: 2, dropped: 0 });
  });

  it('takes another link MTU when told', async () => {
    const server = await udp();
    const relay = await relayTo(server.port, { linkMtu: 9000 });
    const client = await udp();
    await sendNumbered(client.socket, relay.port, 1, 8972);
    await sendNumbered(client.socket, relay.port, 1, 8973);
    await until(() => server.got.length === 1);
    await tick();
    expect(server.got[0]?.data.length).toBe(8972);
    expect(relay.counters.toServer.tooBig).toBe(1);
  });

  it('blacks out both directions for a while, then forwards again', async () => {
    const server = await udp(true);
    const relay = await relayTo(server.port);
    const client = await udp();
    relay.blackout(200);
    await sendNumbered(client.socket, relay.port, 3);
    await tick(100);
    expect(server.got).toHaveLength(0);
    expect(relay.counters.toServer.blackedOut).toBe(3);
    await tick(150);
    await sendNumbered(client.socket, relay.port, 1);
    await until(() => client.got.length === 1);
  });

  it('runs a trigger once when its condition first holds', async () => {
    const server = await udp();
    const relay = await relayTo(server.port);
    const client = await udp();
    let fired = 0;
    relay.when(() => relay.counters.toServer.datagrams >= 3, () => void fired++);
    await sendNumbered(client.socket, relay.port, 6);
    await until(() => server.got.length === 6);
    expect(fired).toBe(1);
  });

  for (const kind of ['port', 'address'] as const) {
    it(`rebinds the ${kind} toward the server and stops forwarding through the old mapping (as a NAT)`, async () => {
      const server = await udp();
      const relay = await relayTo(server.port);
      const client = await udp();
      await sendNumbered(client.socket, relay.port, 1);
      await until(() => server.got.length === 1);
      const before = server.got[0]?.from as RemoteInfo;
      await relay.rebind(kind);
      await sendNumbered(client.socket, relay.port, 1);
      await until(() => server.got.length === 2);
      const after = server.got[1]?.from as RemoteInfo;
      if (kind === 'port') {
        expect(after.address).toBe(before.address);
        expect(after.port).not.toBe(before.port);
      } else {
        expect(after.address).toBe('127.0.0.2');
      }
      expect(relay.mappings[0]?.upstreams).toEqual([`${before.address}:${before.port}`, `${after.address}:${after.port}`]);
      // The server answers the old 4-tuple: nothing reaches the client; the new one works.
      server.socket.send(new Uint8Array([1]), before.port, before.address);
      await until(() => relay.counters.toClient.stale === 1);
      server.socket.send(new Uint8Array([2]), after.port, after.address);
      await until(() => client.got.length === 1);
      expect(client.got.map((g) => g.data[0])).toEqual([2]);
    });
  }

  it('tracks, per mapping, the bytes each way until a client Handshake packet reaches the server', async () => {
    const server = await udp();
    const relay = await relayTo(server.port);
    const client = await udp();
    const initial = longPacket(QUIC_V1_NUMBER, 0, [1, 2, 3, 4, 5, 6, 7, 8], 1180);
    await new Promise<void>((r) => client.socket.send(initial, relay.port, '127.0.0.1', () => r()));
    await until(() => server.got.length === 1);
    const upstream = server.got[0]?.from as RemoteInfo;
    server.socket.send(new Uint8Array(1000), upstream.port, upstream.address);
    await until(() => client.got.length === 1);
    // A datagram with an Initial coalesced before a Handshake packet validates (RFC 9000 §8.1).
    const coalesced = new Uint8Array([...longPacket(QUIC_V1_NUMBER, 0, [9], 100), ...longPacket(QUIC_V1_NUMBER, 2, [9], 50)]);
    await new Promise<void>((r) => client.socket.send(coalesced, relay.port, '127.0.0.1', () => r()));
    await until(() => server.got.length === 2);
    server.socket.send(new Uint8Array(1400), upstream.port, upstream.address);
    await until(() => client.got.length === 2);
    const m = relay.mappings[0];
    expect(m?.validated).toBe(true);
    expect(m?.toServerBeforeValidation).toBe(initial.length + coalesced.length);
    expect(m?.toClientBeforeValidation).toBe(1000);
    const types = relay.records.filter((r) => r.dir === 'toServer').map((r) => r.packets.map((p) => (p.form === 'long' ? p.type : 'short')));
    expect(types).toEqual([['initial'], ['initial', 'handshake']]);
  });

  it('keeps the 1-RTT tail of delivered datagrams, coalesced behind long-header packets or alone', async () => {
    const server = await udp();
    const relay = await relayTo(server.port, { keepShortHeaders: 2 });
    const client = await udp();
    const short = new Uint8Array([0x41, 9, 9, 9, 9, 9, 9, 9, 9, 9]);
    const coalesced = new Uint8Array([...longPacket(QUIC_V1_NUMBER, 2, [9], 30), ...short]);
    for (const d of [coalesced, short, short]) await new Promise<void>((r) => client.socket.send(d, relay.port, '127.0.0.1', () => r()));
    await until(() => server.got.length === 3);
    expect(relay.shortRecords.map((r) => [...r.data])).toEqual([[...short], [...short]]);
    expect(relay.mappings[0]?.shortHeaderFrom.get(relay.mappings[0].upstream)).toBe(2);
  });

  it('parses v2 long headers, Retry and Version Negotiation', () => {
    const v2 = parseDatagram(longPacket(QUIC_V2_NUMBER, 3, [1], 20));
    expect(v2).toMatchObject([{ form: 'long', version: QUIC_V2_NUMBER, type: 'handshake' }]);
    const retry = parseDatagram(new Uint8Array([0xf0, 0, 0, 0, 1, 1, 7, 1, 8, 1, 2, 3]));
    expect(retry).toMatchObject([{ type: 'retry', version: 1 }]);
    const vn = parseDatagram(new Uint8Array([0x80, 0, 0, 0, 0, 1, 7, 1, 8, 0, 0, 0, 1, 0x6b, 0x33, 0x43, 0xcf]));
    expect(vn).toMatchObject([{ type: 'version-negotiation', versions: [1, QUIC_V2_NUMBER] }]);
    // Truncated input yields what could be read, without throwing.
    expect(parseDatagram(new Uint8Array([0xc0, 0, 0]))).toEqual([]);
  });

  it('writes what it delivered as a pcap file (raw IPv4/UDP)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pqtls-relay-'));
    try {
      const server = await udp(true);
      const pcapFile = join(dir, 'relay.pcap');
      const relay = await UdpRelay.start({ serverPort: server.port, seed: 'pcap', pcapFile });
      const client = await udp();
      await sendNumbered(client.socket, relay.port, 2, 40);
      await until(() => client.got.length === 2);
      await relay.close();
      const pcap = readFileSync(pcapFile);
      expect(pcap.readUInt32LE(0)).toBe(0xa1b2c3d4);
      expect(pcap.readUInt32LE(20)).toBe(101);
      expect(pcap.length).toBe(24 + 4 * (16 + 28 + 40));
      // First record: IPv4 to the server's port with our payload after the UDP header.
      expect(pcap[24 + 16]).toBe(0x45);
      expect(pcap.readUInt16BE(24 + 16 + 22)).toBe(server.port);
      expect(pcap[24 + 16 + 28]).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
