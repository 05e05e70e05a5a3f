/**
 * A UDP impairment relay on the loopback interface, in the manner of the QUIC
 * interop runner's network simulator: clients send to the relay, the relay
 * forwards to one server, and each direction can lose, corrupt or delay
 * datagrams. Like a NAT it gives every client address its own upstream
 * socket (a "mapping"), so the server sees one 4-tuple per client address, and
 * a rebinding replaces a mapping's upstream socket (a new port, or a new
 * address: all of 127.0.0.0/8 is loopback on Linux) and stops forwarding
 * through the old one, as a NAT that forgot the binding would.
 *
 * Randomness is seeded: the same seed and the same traffic give the same
 * drops. Every queue is bounded (`maxQueue` for the delay line).
 *
 * Counters per direction, per mapping, and the long headers of every
 * datagram (parsed with {@link parseDatagram}) let a test check what the
 * interop runner checks on the wire: a Retry was sent, the version used, the
 * server stayed within 3× what it received before the client's address was
 * validated (RFC 9000 §8.1), 0-RTT packets were sent.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { parseDatagram, type WirePacket } from './quic-wire.js';

export type Direction = 'toServer' | 'toClient';

/** Impairments of one direction; all optional, all combinable. */
export interface Impairment {
  /** Probability (0–1) that a datagram is dropped. */
  readonly dropRate?: number;
  /** With `dropRate`: at most this many consecutive drops (then one datagram passes). */
  readonly maxBurst?: number;
  /** 1-based indices, counted over this direction's datagrams, to drop (e.g. client datagrams 2–7). */
  readonly dropIndices?: readonly number[];
  /** Probability (0–1) that one byte of a datagram is flipped (XOR with a random nonzero byte). */
  readonly corruptRate?: number;
  /** Fixed one-way delay in milliseconds. */
  readonly delayMs?: number;
  /** Datagrams held in the delay line at most; more are dropped (default 4096). */
  readonly maxQueue?: number;
}

export interface DirectionCounters {
  /** Datagrams and bytes that arrived at the relay in this direction. */
  datagrams: number;
  bytes: number;
  /** Datagrams and bytes passed on (after drops; corrupted ones count here). */
  delivered: number;
  deliveredBytes: number;
  dropped: number;
  corrupted: number;
  /** Dropped because the delay line was full. */
  queueDrops: number;
  /** Dropped during a blackout. */
  blackedOut: number;
  /** Server datagrams that arrived on an abandoned (rebound) mapping and were not forwarded. */
  stale: number;
  /** Dropped because they were larger than the link carries (`linkMtu`): a DPLPMTUD probe, typically. */
  tooBig: number;
}

/** One client address and its upstream socket toward the server. */
export interface Mapping {
  readonly index: number;
  readonly client: { readonly address: string; readonly port: number };
  /** The address:port the server sees now (changes with each rebinding). */
  upstream: string;
  /** Every address:port this mapping used, oldest first. */
  readonly upstreams: string[];
  /** Bytes delivered to the server and to the client before the first Handshake packet from the client reached the server. */
  toServerBeforeValidation: number;
  toClientBeforeValidation: number;
  /** Whether a client Handshake packet was delivered (RFC 9000 §8.1: this validates the client's address). */
  validated: boolean;
  /** Short-header (1-RTT) datagrams delivered to the server from each upstream address. */
  readonly shortHeaderFrom: Map<string, number>;
}

/** A datagram with long-header packets, as seen (and what became of it). */
export interface WireRecord {
  readonly t: number;
  readonly dir: Direction;
  readonly mapping: number;
  readonly size: number;
  readonly packets: readonly WirePacket[];
  readonly fate: 'delivered' | 'corrupted' | 'dropped';
}

export interface RelayOptions {
  /** The server's UDP port on `serverHost` (127.0.0.1). */
  readonly serverPort: number;
  readonly serverHost?: string;
  /** Seed for drops and corruption. */
  readonly seed: string;
  readonly toServer?: Impairment;
  readonly toClient?: Impairment;
  /** Write every datagram as delivered, on the server side of the relay, to this pcap file on close. */
  readonly pcapFile?: string;
  /** Write a JSON line per datagram to this file on close. */
  readonly logFile?: string;
  /** Bound on the wire records kept (default 200 000); later ones are not kept. */
  readonly maxRecords?: number;
  /** Keep up to this many short-header (1-RTT) datagrams as delivered, for checks that decrypt them (default 0). */
  readonly keepShortHeaders?: number;
  /**
   * The MTU of the simulated link, IP header included (default 1500, as the
   * interop runner's simulated links have): a datagram whose IPv4 packet would
   * not fit is dropped, as a router with DF set would drop it. Without it a
   * loopback relay would carry 64 KiB datagrams, which no real path does: a
   * QUIC stack's DPLPMTUD would find them, and a loss or corruption rate per
   * datagram would then touch a few dozen datagrams per transfer, too few
   * for a case to be sure of hitting any.
   */
  readonly linkMtu?: number;
}

/** The short-header (1-RTT) packet of a delivered datagram: the datagram's tail after any long-header packets. */
export interface ShortRecord {
  readonly dir: Direction;
  readonly mapping: number;
  readonly data: Uint8Array;
}

/** mulberry32 over a string hash: small, fast, and the same everywhere. */
export function seededUnit(seed: string): () => number {
  let h = 1779033703 ^ seed.length;
  for (let i = 0; i < seed.length; i++) {
    h = Math.imul(h ^ seed.charCodeAt(i), 3432918353);
    h = (h << 13) | (h >>> 19);
  }
  let a = h >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const DEFAULT_MAX_QUEUE = 4096;
const DEFAULT_LINK_MTU = 1500;
/** IPv4 (20) and UDP (8) headers: what a datagram adds to its payload on the link. */
const IPV4_UDP_HEADERS = 28;
const DEFAULT_MAX_RECORDS = 200_000;

interface LiveMapping extends Mapping {
  socket: Socket;
  /** Datagrams that arrived before the upstream socket was bound. */
  pending: Uint8Array[] | undefined;
}

function key(address: string, port: number): string {
  return `${address}:${port}`;
}

function emptyCounters(): DirectionCounters {
  return { datagrams: 0, bytes: 0, delivered: 0, deliveredBytes: 0, dropped: 0, corrupted: 0, queueDrops: 0, blackedOut: 0, stale: 0, tooBig: 0 };
}

export class UdpRelay {
  readonly counters: Record<Direction, DirectionCounters> = { toServer: emptyCounters(), toClient: emptyCounters() };
  readonly mappings: Mapping[] = [];
  readonly records: WireRecord[] = [];
  readonly shortRecords: ShortRecord[] = [];
  private readonly front: Socket;
  private readonly byClient = new Map<string, LiveMapping>();
  private readonly abandoned: Socket[] = [];
  private readonly impairment: Record<Direction, Impairment>;
  private readonly random: () => number;
  private readonly burst: Record<Direction, number> = { toServer: 0, toClient: 0 };
  private readonly queued: Record<Direction, number> = { toServer: 0, toClient: 0 };
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private readonly triggers: { check: () => boolean; action: () => void }[] = [];
  private readonly pcap: { t: number; src: string; dst: string; data: Uint8Array }[] = [];
  private readonly started = Date.now();
  private blackoutUntil = 0;
  private nextAddress = 2;
  private closed = false;

  private constructor(private readonly options: RelayOptions, front: Socket) {
    this.front = front;
    this.impairment = { toServer: options.toServer ?? {}, toClient: options.toClient ?? {} };
    this.random = seededUnit(options.seed);
    front.on('message', (msg: Buffer, from: RemoteInfo) => this.fromClient(new Uint8Array(msg), from));
  }

  /** Starts a relay on an ephemeral port of 127.0.0.1. */
  static async start(options: RelayOptions): Promise<UdpRelay> {
    const front = createSocket('udp4');
    await bindSocket(front, '127.0.0.1');
    return new UdpRelay(options, front);
  }

  /** The port clients send to. */
  get port(): number {
    return this.front.address().port;
  }

  private get serverHost(): string {
    return this.options.serverHost ?? '127.0.0.1';
  }

  /** Milliseconds since the relay started. */
  elapsed(): number {
    return Date.now() - this.started;
  }

  /** Replaces a direction's impairments from now on. */
  impair(dir: Direction, impairment: Impairment): void {
    this.impairment[dir] = impairment;
  }

  /** Drops every datagram in both directions for `ms` milliseconds from now. */
  blackout(ms: number): void {
    this.blackoutUntil = Math.max(this.blackoutUntil, Date.now() + ms);
  }

  /** Runs `action` once, the first time `check` holds after a datagram passes the relay. */
  when(check: () => boolean, action: () => void): void {
    this.triggers.push({ check, action });
  }

  /**
   * Gives every live mapping a new upstream socket: a new port on the same
   * address (`'port'`) or a new loopback address (`'address'`). Datagrams the
   * server sends to the old one are counted as stale and go nowhere.
   */
  async rebind(kind: 'port' | 'address'): Promise<void> {
    for (const m of this.byClient.values()) {
      const address = kind === 'port' ? m.socket.address().address : `127.0.0.${this.nextAddress++}`;
      const fresh = createSocket('udp4');
      await bindSocket(fresh, address);
      const old = m.socket;
      old.removeAllListeners('message');
      old.on('message', () => {
        this.counters.toClient.stale++;
      });
      this.abandoned.push(old);
      m.socket = fresh;
      m.upstream = key(fresh.address().address, fresh.address().port);
      m.upstreams.push(m.upstream);
      fresh.on('message', (msg: Buffer) => this.fromServer(new Uint8Array(msg), m));
    }
  }

  private fromClient(data: Uint8Array, from: RemoteInfo): void {
    if (this.closed) return;
    const k = key(from.address, from.port);
    const known = this.byClient.get(k);
    if (known?.pending) {
      known.pending.push(data);
    } else if (known) {
      this.pass('toServer', data, known);
    } else {
      this.newMapping(k, from, data);
    }
  }

  /** A new client address: a fresh upstream socket; its datagrams wait until the socket is bound. */
  private newMapping(k: string, from: RemoteInfo, first: Uint8Array): void {
    const socket = createSocket('udp4');
    const m: LiveMapping = {
      index: this.mappings.length, client: { address: from.address, port: from.port }, upstream: '', upstreams: [],
      toServerBeforeValidation: 0, toClientBeforeValidation: 0, validated: false, shortHeaderFrom: new Map(), socket,
      pending: [first],
    };
    this.byClient.set(k, m);
    this.mappings.push(m);
    socket.on('message', (msg: Buffer) => this.fromServer(new Uint8Array(msg), m));
    void bindSocket(socket, '127.0.0.1').then(() => {
      m.upstream = key(socket.address().address, socket.address().port);
      m.upstreams.push(m.upstream);
      const waiting = m.pending ?? [];
      m.pending = undefined;
      for (const d of waiting) this.pass('toServer', d, m);
    }, () => {});
  }

  private fromServer(data: Uint8Array, m: LiveMapping): void {
    if (this.closed) return;
    this.pass('toClient', data, m);
  }

  /** Applies the direction's impairments and forwards (now or after the delay). */
  private pass(dir: Direction, data: Uint8Array, m: LiveMapping): void {
    const c = this.counters[dir];
    c.datagrams++;
    c.bytes += data.length;
    const index = c.datagrams;
    const imp = this.impairment[dir];
    const packets = parseDatagram(data);
    let fate: WireRecord['fate'] = 'delivered';
    if (data.length + IPV4_UDP_HEADERS > (this.options.linkMtu ?? DEFAULT_LINK_MTU)) {
      c.tooBig++;
      fate = 'dropped';
    } else if (Date.now() < this.blackoutUntil) {
      c.blackedOut++;
      fate = 'dropped';
    } else if (imp.dropIndices?.includes(index)) {
      c.dropped++;
      fate = 'dropped';
    } else if (imp.dropRate !== undefined && imp.dropRate > 0) {
      const capped = imp.maxBurst !== undefined && this.burst[dir] >= imp.maxBurst;
      if (!capped && this.random() < imp.dropRate) {
        this.burst[dir]++;
        c.dropped++;
        fate = 'dropped';
      } else {
        this.burst[dir] = 0;
      }
    }
    let out = data;
    if (fate === 'delivered' && imp.corruptRate !== undefined && imp.corruptRate > 0 && this.random() < imp.corruptRate) {
      out = data.slice();
      const at = Math.floor(this.random() * out.length);
      out[at] = (out[at] as number) ^ (1 + Math.floor(this.random() * 255));
      c.corrupted++;
      fate = 'corrupted';
    }
    if (packets.some((p) => p.form === 'long') && this.records.length < (this.options.maxRecords ?? DEFAULT_MAX_RECORDS)) {
      this.records.push({ t: this.elapsed(), dir, mapping: m.index, size: data.length, packets, fate });
    }
    if (fate !== 'dropped') this.deliverLater(dir, out, m, packets, imp);
    this.runTriggers();
  }

  private deliverLater(dir: Direction, data: Uint8Array, m: LiveMapping, packets: readonly WirePacket[], imp: Impairment): void {
    const delay = imp.delayMs ?? 0;
    if (delay <= 0) {
      this.deliver(dir, data, m, packets);
      return;
    }
    if (this.queued[dir] >= (imp.maxQueue ?? DEFAULT_MAX_QUEUE)) {
      this.counters[dir].queueDrops++;
      return;
    }
    this.queued[dir]++;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.queued[dir]--;
      this.deliver(dir, data, m, packets);
    }, delay);
    this.timers.add(timer);
  }

  private deliver(dir: Direction, data: Uint8Array, m: LiveMapping, packets: readonly WirePacket[]): void {
    if (this.closed) return;
    const c = this.counters[dir];
    c.delivered++;
    c.deliveredBytes += data.length;
    const last = packets[packets.length - 1];
    if (last?.form === 'short' && this.shortRecords.length < (this.options.keepShortHeaders ?? 0)) {
      // A 1-RTT packet runs to the end of the datagram, after any coalesced long-header packets.
      this.shortRecords.push({ dir, mapping: m.index, data: data.subarray(data.length - last.size) });
    }
    if (dir === 'toServer') {
      if (!m.validated) {
        m.toServerBeforeValidation += data.length;
        if (packets.some((p) => p.form === 'long' && p.type === 'handshake')) m.validated = true;
      }
      if (packets[0]?.form === 'short') m.shortHeaderFrom.set(m.upstream, (m.shortHeaderFrom.get(m.upstream) ?? 0) + 1);
      this.record(m.upstream, key(this.serverHost, this.options.serverPort), data);
      m.socket.send(data, this.options.serverPort, this.serverHost);
    } else {
      if (!m.validated) m.toClientBeforeValidation += data.length;
      this.record(key(this.serverHost, this.options.serverPort), m.upstream, data);
      this.front.send(data, m.client.port, m.client.address);
    }
  }

  private record(src: string, dst: string, data: Uint8Array): void {
    if ((this.options.pcapFile || this.options.logFile) && this.pcap.length < (this.options.maxRecords ?? DEFAULT_MAX_RECORDS)) {
      this.pcap.push({ t: Date.now(), src, dst, data });
    }
  }

  private runTriggers(): void {
    for (let i = 0; i < this.triggers.length; ) {
      const t = this.triggers[i] as (typeof this.triggers)[number];
      if (t.check()) {
        this.triggers.splice(i, 1);
        t.action();
      } else {
        i++;
      }
    }
  }

  /** Stops forwarding, closes every socket, drops what is still delayed, and writes the pcap/log. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const sockets = [this.front, ...[...this.byClient.values()].map((m) => m.socket), ...this.abandoned];
    await Promise.all(sockets.map((s) => new Promise<void>((r) => {
      try {
        s.close(() => r());
      } catch {
        r(); // never bound
      }
    })));
    if (this.options.pcapFile) writeFileSync(this.options.pcapFile, pcapBytes(this.pcap));
    if (this.options.logFile) {
      writeFileSync(this.options.logFile, this.pcap.map((p) => JSON.stringify({
        t: p.t - this.started, src: p.src, dst: p.dst, size: p.data.length,
        packets: parseDatagram(p.data).map((w) => (w.form === 'short' ? 'short' : `${w.type ?? '?'}/v${w.version.toString(16)}`)),
      })).join('\n') + '\n');
    }
  }
}

function bindSocket(s: Socket, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    s.once('error', reject);
    s.bind(0, address, () => {
      s.off('error', reject);
      // A late ICMP error (e.g. port unreachable after a peer exits) must not crash the test worker.
      s.on('error', () => {});
      resolve();
    });
  });
}

/** A pcap file (LINKTYPE_RAW: IPv4 + UDP headers we write) of what the relay delivered. */
function pcapBytes(entries: readonly { t: number; src: string; dst: string; data: Uint8Array }[]): Uint8Array {
  const parts: Buffer[] = [];
  const global = Buffer.alloc(24);
  global.writeUInt32LE(0xa1b2c3d4, 0);
  global.writeUInt16LE(2, 4);
  global.writeUInt16LE(4, 6);
  global.writeUInt32LE(65535, 16);
  global.writeUInt32LE(101, 20);
  parts.push(global);
  for (const e of entries) {
    const [sa, sp] = splitHostPort(e.src);
    const [da, dp] = splitHostPort(e.dst);
    const ip = Buffer.alloc(28);
    ip[0] = 0x45;
    ip.writeUInt16BE(28 + e.data.length, 2);
    ip[8] = 64;
    ip[9] = 17;
    sa.forEach((b, i) => void (ip[12 + i] = b));
    da.forEach((b, i) => void (ip[16 + i] = b));
    let sum = 0;
    for (let i = 0; i < 20; i += 2) sum += ip.readUInt16BE(i);
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    ip.writeUInt16BE(~sum & 0xffff, 10);
    ip.writeUInt16BE(sp, 20);
    ip.writeUInt16BE(dp, 22);
    ip.writeUInt16BE(8 + e.data.length, 24);
    const rec = Buffer.alloc(16);
    rec.writeUInt32LE(Math.floor(e.t / 1000), 0);
    rec.writeUInt32LE((e.t % 1000) * 1000, 4);
    rec.writeUInt32LE(28 + e.data.length, 8);
    rec.writeUInt32LE(28 + e.data.length, 12);
    parts.push(rec, ip, Buffer.from(e.data));
  }
  return new Uint8Array(Buffer.concat(parts));
}

function splitHostPort(s: string): [number[], number] {
  const i = s.lastIndexOf(':');
  return [s.slice(0, i).split('.').map(Number), Number(s.slice(i + 1))];
}
