import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { lookup as dnsLookup } from 'node:dns';
import { lookup } from 'node:dns/promises';
import { EventEmitter } from 'node:events';
import { BlockList, isIP } from 'node:net';
import { createNobleProvider } from '../pq/index.js';
import type { QuicClientOptions, QuicEvent, QuicServerOptions, QuicConnection } from '../quic/connection/connection.js';
import type { RemoteAddress, Transmit } from '../quic/connection/path.js';
import type { PreferredAddress } from '../quic/transport-parameters.js';
import { DEFAULT_MAX_QUEUED_DATAGRAMS, QuicEndpoint, type QuicEndpointServerOptions } from '../quic/endpoint.js';
import { LEND_FROM } from '../buffer-pool.js';
import { releaseDatagram } from '../quic/protection.js';
import { DEFAULT_MTU_CEILING, type MtuDiscoveryOptions } from '../quic/connection/mtud.js';
import type { HandshakeInfo } from '../tls13/handshake/common.js';
import { resolveServerOptions } from '../tls13/config.js';
import { ConfigError } from '../errors.js';
import { QlogFileSink, withQlogDir } from './qlog-file.js';
import { GSO_MAX_SEGMENTS, gsoRun, gsoSender } from './udp-gso.js';

const now = (): number => performance.timeOrigin + performance.now();

/**
 * Datagrams received for one connection and not yet handled. UDP arrives as
 * fast as the sender likes (anyone can send to a known connection ID); past
 * this many waiting, more are dropped as the network could have dropped them.
 */
export const MAX_QUEUED_DATAGRAMS = DEFAULT_MAX_QUEUED_DATAGRAMS;

/**
 * Kernel buffer asked for on each UDP socket. Linux's default (≈ 200 KiB) holds
 * a fraction of a flow-control window: a burst from a fast sender would
 * overflow it while a handshake or a batch is being processed, and every
 * datagram the kernel drops costs a retransmission. The kernel caps it at
 * `net.core.rmem_max` / `wmem_max`. It counts a datagram's buffer, not the
 * datagram: about 66 KB for a 64 KiB loopback datagram, 2.3 KB for a
 * 1452-byte one, so what it holds in payload bytes is no less with the large
 * datagrams of a loopback path (default 212992: three 65507-byte datagrams,
 * ninety 1452-byte ones; this size: 126 of 65507 bytes, 8 MB, more than a
 * connection's default receive window of 2 MiB).
 */
const SOCKET_BUFFER_BYTES = 4 << 20;

/** The largest UDP payload over IPv4: 65535 less the IPv4 (20) and UDP (8) headers; a larger send fails with EMSGSIZE. */
export const MAX_UDP_PAYLOAD_IPV4 = 65_535 - 20 - 8;
/** The largest UDP payload over IPv6 that a 65536-byte loopback MTU carries unfragmented: less the IPv6 (40) and UDP (8) headers. */
export const MAX_UDP_PAYLOAD_IPV6_LOOPBACK = 65_536 - 40 - 8;

const LOOPBACK_V4 = new BlockList();
LOOPBACK_V4.addSubnet('127.0.0.0', 8, 'ipv4');
const LOOPBACK_V6 = new BlockList();
LOOPBACK_V6.addAddress('::1', 'ipv6');

/**
 * DPLPMTUD's ceiling for the path to `remote` (a path key), the default of
 * {@link quicConnect} and {@link createQuicServer}. RFC 8899 §5.1.2 bounds
 * MAX_PLPMTU by the MTU of the local interface the path leaves through.
 * Node cannot tell which interface that is, nor its MTU, so an ordinary path
 * keeps 1452 (1500-byte Ethernet less IPv6 and UDP headers, quinn's default);
 * but a datagram to a loopback address (127.0.0.0/8, ::1, ::ffff:127.x.x.x)
 * stays on the loopback interface, whose MTU is large (65536 on Linux, 16384
 * on macOS), so the search may go up to the largest UDP payload of the family.
 * Where the interface carries less, the probes are lost (a send over the
 * interface's MTU fails locally with EMSGSIZE, which is dropped like any
 * lost datagram) and the search settles below it. What a datagram costs in
 * Node hardly depends on its size (≈ 10 µs to receive one; no GRO or
 * recvmmsg; sending has GSO on Linux, ./udp-gso.ts), so a bulk transfer over
 * loopback in 64 KiB datagrams takes about a third of the CPU per MB that it
 * takes in 1452-byte ones (bench quic-transfer: ≈ 15 against ≈ 45 ms/MB,
 * client and server together, before GSO).
 */
export function udpPathMtuCeiling(remote: RemoteAddress): number {
  const { address } = parseAddressKey(remote.startsWith(PREFERRED) ? remote.slice(PREFERRED.length) : remote);
  const family = isIP(address);
  // An IPv4-mapped IPv6 address is checked against the IPv4 rules and leaves as IPv4.
  if (family !== 0 && LOOPBACK_V4.check(address, family === 4 ? 'ipv4' : 'ipv6')) return MAX_UDP_PAYLOAD_IPV4;
  if (family === 6 && LOOPBACK_V6.check(address, 'ipv6')) return MAX_UDP_PAYLOAD_IPV6_LOOPBACK;
  return DEFAULT_MTU_CEILING;
}

/** `mtuDiscovery` with the adapter's per-path ceiling, unless the application chose a ceiling or turned discovery off. */
function withPathMtuCeiling(mtu: MtuDiscoveryOptions | false | undefined): MtuDiscoveryOptions | false {
  if (mtu === false || mtu?.ceiling !== undefined) return mtu;
  return { ...mtu, ceiling: udpPathMtuCeiling };
}

/** A datagram's source as the core sees it: `host:port`, `[v6]:port`. */
function addressKey(from: Pick<RemoteInfo, 'address' | 'port'>): RemoteAddress {
  return from.address.includes(':') ? `[${from.address}]:${from.port}` : `${from.address}:${from.port}`;
}

function parseAddressKey(key: RemoteAddress): { address: string; port: number } {
  const i = key.lastIndexOf(':');
  const host = key.slice(0, i);
  return { address: host.startsWith('[') ? host.slice(1, -1) : host, port: Number(key.slice(i + 1)) };
}

/**
 * A socket's name resolution for `send`: a path key holds an IP literal, which
 * is answered at once. dgram's default (`dns.lookup`) answers a literal on the
 * next tick, so each datagram cost a tick, a closure and a second trip through
 * dgram before it reached the kernel; anything else still goes to `dns.lookup`.
 */
function literalLookup(host: string, family: unknown, callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void): void {
  const literal = isIP(host);
  if (literal) callback(null, host, literal);
  else dnsLookup(host, family as number, callback);
}

function udpSocket(family: 'udp4' | 'udp6'): Socket {
  return createSocket({ type: family, lookup: literalLookup });
}

/** The last path key {@link destination} parsed: a connection sends thousands of datagrams to the same one. */
let lastKey: { key: RemoteAddress; address: string; port: number; literal: boolean } | undefined;

/** A path key's address and port, and whether the address is an IP literal. */
function destination(to: RemoteAddress): { address: string; port: number; literal: boolean } {
  if (lastKey?.key !== to) {
    const { address, port } = parseAddressKey(to);
    lastKey = { key: to, address, port, literal: isIP(address) !== 0 };
  }
  return lastKey;
}

/**
 * UDP is best effort: a send that fails (socket closed, unroutable address) is a lost datagram, not a crash.
 * To an IP literal without a callback: dgram then neither makes nor schedules one per datagram, and a failed
 * send is dropped as the callback did. A name keeps the callback, through which a failed lookup is reported
 * (without one, dgram would emit it as the socket's `error`). A large datagram (a large path MTU) gets a
 * callback too: dgram holds the bytes until it runs, and then they go back to the core to build a later packet
 * in (`releaseDatagram`) instead of a fresh 64 KiB buffer; for such datagrams the callback costs little.
 */
function sendQuietly(sock: Socket, d: Uint8Array, to: RemoteAddress): void {
  const { address, port, literal } = destination(to);
  try {
    if (d.length >= LEND_FROM) sock.send(d, port, address, () => releaseDatagram(d));
    else if (literal) sock.send(d, port, address);
    else sock.send(d, port, address, () => undefined);
  } catch {
    // lost
  }
}

/**
 * A failed send reported as the socket's `error` event. dgram documents that a
 * send without a callback (ours, to an IP literal) reports its failure that
 * way; Node 20 and 24 in fact drop a failed send of a literal silently, but
 * whichever it does, a datagram the kernel refused (EMSGSIZE for a DPLPMTUD
 * probe larger than the interface carries, ENOBUFS, an unreachable network)
 * is a lost datagram, which QUIC's loss detection deals with (RFC 8899 §4.1:
 * a probe too big for the path is simply lost). It must not end the socket's
 * connection, nor any other on the socket.
 */
function isSendError(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { syscall?: unknown }).syscall === 'send';
}

async function boundSocket(family: 'udp4' | 'udp6'): Promise<Socket> {
  const s = udpSocket(family);
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind(0, () => {
      s.off('error', reject);
      resolve();
    });
  });
  sizeBuffers(s);
  return s;
}

function ipv6Text(a: Uint8Array): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((a[i] as number) << 8) | (a[i + 1] as number)).toString(16));
  return groups.join(':');
}

/** Prefix of the path key of a client reached through the server's preferred-address socket. */
const PREFERRED = 'pref|';

function closeQuietly(sock: Socket): void {
  try {
    sock.close();
  } catch {
    // already closed
  }
}

/** Larger kernel buffers where the system allows them; the defaults otherwise. */
function sizeBuffers(sock: Socket): void {
  for (const set of [(n: number) => sock.setRecvBufferSize(n), (n: number) => sock.setSendBufferSize(n)]) {
    try {
      set(SOCKET_BUFFER_BYTES);
    } catch {
      // Not permitted or not supported: the default buffer still works, with more drops under load.
    }
  }
}

/**
 * Datagrams read from the socket in one turn of the event loop and not yet
 * handed to the endpoint. libuv reads a few dozen per turn, so this is a
 * bound that a working server does not reach.
 */
const MAX_BATCH = 1024;

/**
 * Datagrams libuv reads from a socket per readiness event (`uv__udp_io`): a
 * turn that read a whole multiple of this likely left more in the socket.
 */
const UV_READS_PER_EVENT = 32;

/** Turns of the event loop a batch waits for more datagrams (see {@link UdpDriver.schedule}). */
const MAX_BATCH_TURNS = 4;

/**
 * Datagrams asked of the endpoint at a time. One call per datagram cost a chain
 * of promises and their garbage each time; all of a batch is stamped with the
 * time it was asked for, so it stays short: a few datagrams' work (tens of µs
 * each), like the time the datagrams of one received batch share.
 */
const TRANSMIT_BATCH = 8;

/** Bytes of datagrams held before they are sent (see {@link UdpDriver.flush}): most of a GSO send, 64 KB. */
const OUTBOX_BYTES = 48 * 1024;

/**
 * Bytes of a batch handed to the endpoint before each flush (see
 * {@link UdpDriver.handleSlices}). A batch can be a whole receive window: 31
 * datagrams of 64 KB from a sender that then waits, blocked, for the credit
 * that the application's reads hand back, which left only after the whole
 * batch, so the two sides took turns. A flush per 256 KiB (quinn reads 32
 * datagrams per batch) lets credit and ACKs out while the rest is worked on.
 */
export const SLICE_BYTES = 256 * 1024;

/** Where the slice of `batch` that starts at `from` ends: once it holds `bytes`, or at the batch's end. */
export function sliceEnd(batch: readonly { readonly data: Uint8Array }[], from: number, bytes: number): number {
  let end = from;
  for (let n = 0; end < batch.length && n < bytes; end++) n += (batch[end] as { data: Uint8Array }).data.length;
  return end;
}

/**
 * One UDP socket driving one {@link QuicEndpoint}: datagrams in, transmits
 * out, one timer. What the socket delivers in one turn of the event loop is
 * read first and handed to the endpoint as one batch (which it queues, bounded
 * per connection, and runs in order); the sending, the events and the timer run
 * once per batch, or per {@link SLICE_BYTES} of a large one, not once per
 * datagram, so acknowledgments are coalesced and the socket is read again sooner.
 */
class UdpDriver {
  private timer: NodeJS.Timeout | undefined;
  /** When {@link timer} fires (the deadline it was set for), or undefined with none set. */
  private armedAt: number | undefined;
  private flushing = false;
  private again = false;
  private scheduled = false;
  /** Turns the batch has waited, and its length at the last look (see {@link schedule}). */
  private turns = 0;
  private seen = 0;
  private closed = false;
  private batch: { data: Uint8Array; remote: RemoteAddress }[] = [];
  /** Transmits polled and not yet sent (see {@link sendOut}), and their bytes. */
  private outbox: Transmit[] = [];
  private outboxBytes = 0;
  readonly sessions = new Map<QuicConnection, QuicSession>();

  /** A second socket the server also receives on (its preferred address, RFC 9000 §9.6): paths through it are keyed `pref|host:port`. */
  preferredSocket: Socket | undefined;

  constructor(
    private sock: Socket,
    readonly endpoint: QuicEndpoint,
    private readonly onConnection?: (s: QuicSession) => void,
    private readonly onRetry?: (remote: RemoteAddress) => void,
  ) {}

  /**
   * One datagram from the socket. libuv reads each into a 64 KiB buffer, so
   * every UDP payload (65507 bytes at most over IPv4, 65527 over IPv6) arrives
   * whole: the max_udp_payload_size we advertise by default, 65527 (RFC 9000
   * §18.2), is what we can receive.
   */
  receive(msg: Buffer, from: RemoteInfo, via = ''): void {
    if (this.closed || this.batch.length >= MAX_BATCH) return;
    this.batch.push({ data: new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength), remote: via + addressKey(from) });
    this.schedule();
  }

  /** Sends from the socket a path key names: `pref|host:port` from the preferred address's, others from the main one. */
  private send(t: Transmit): void {
    if (t.remote.startsWith(PREFERRED)) {
      if (this.preferredSocket) sendQuietly(this.preferredSocket, t.data, t.remote.slice(PREFERRED.length));
      return;
    }
    sendQuietly(this.sock, t.data, t.remote);
  }

  /**
   * Sends the outbox. Runs of equal-sized datagrams to one address go in one
   * system call each where the socket can (UDP GSO, ./udp-gso.ts): that cut
   * the sending side's CPU per datagram by more than half, in a bulk
   * transfer in 1452-byte datagrams. Once the kernel has the bytes, they go
   * back to the core's pool (`releaseDatagram`). The rest go one by one.
   */
  private sendOut(): void {
    const out = this.outbox;
    for (let i = 0; i < out.length;) {
      const t = out[i] as Transmit;
      const n = gsoRun(out, i);
      if (n > 1 && !t.remote.startsWith(PREFERRED)) {
        const { address, port, literal } = destination(t.remote);
        if (literal && gsoSender(this.sock)?.send(out, i, n, address, port)) {
          for (let k = i; k < i + n; k++) releaseDatagram((out[k] as Transmit).data);
          i += n;
          continue;
        }
      }
      for (let k = i; k < i + n; k++) this.send(out[k] as Transmit);
      i += n;
    }
    out.length = 0;
    this.outboxBytes = 0;
  }

  /** A client's move to a new local socket (RFC 9000 §9.2): what is sent from now on leaves from `next`. */
  replaceSocket(next: Socket): Socket {
    const old = this.sock;
    this.sock = next;
    return old;
  }

  /**
   * The batch, then a flush, once this turn of the event loop has read what
   * the socket had. A turn that read a whole multiple of what libuv reads per
   * readiness event most likely left more queued in the socket (a sender's
   * burst): the batch waits a turn for those, a few turns at most, so that one
   * round of sending answers all of it — one ACK-only packet and one pass
   * over the connection instead of one per 32 datagrams.
   */
  schedule(): void {
    if (this.scheduled || this.closed) return;
    this.scheduled = true;
    this.turns = 0;
    this.seen = 0;
    setImmediate(this.handleBatch);
  }

  private readonly handleBatch = (): void => {
    const read = this.batch.length - this.seen;
    this.seen = this.batch.length;
    if (!this.closed && read > 0 && read % UV_READS_PER_EVENT === 0 && ++this.turns < MAX_BATCH_TURNS && this.batch.length < MAX_BATCH) {
      setImmediate(this.handleBatch);
      return;
    }
    this.scheduled = false;
    const batch = this.batch;
    this.batch = [];
    this.handleSlices(batch).catch(() => undefined);
  };

  /**
   * The batch, {@link SLICE_BYTES} at a time, each slice followed by a flush:
   * one round of sending answers a whole slice (ACKs coalesce), and the
   * application reads what a slice brought before the next one is opened.
   * Over loopback in 64 KB datagrams, where a batch was a whole 2 MiB window,
   * 64 MiB took a median 0.46 s instead of 0.51 s (8 interleaved runs each).
   */
  private async handleSlices(batch: readonly { data: Uint8Array; remote: RemoteAddress }[]): Promise<void> {
    let from = 0;
    do {
      const end = sliceEnd(batch, from, SLICE_BYTES);
      if (end > from) await this.endpoint.handleDatagrams(end - from === batch.length ? batch : batch.slice(from, end), now());
      from = end;
      await this.flush();
    } while (from < batch.length && !this.closed);
  }

  /** Sends what the endpoint has, reports events, re-arms the timer; one at a time, again if asked meanwhile. */
  async flush(): Promise<void> {
    if (this.flushing) {
      this.again = true;
      return;
    }
    this.flushing = true;
    try {
      do {
        this.again = false;
        // Held until a GSO send's worth has been polled (or nothing more is to be sent now): a run of them then
        // leaves in one system call. They wait for their successors' sealing, tens of µs each, as in ngtcp2.
        for (let ts = await this.endpoint.pollTransmits(now(), TRANSMIT_BATCH); ts.length; ts = await this.endpoint.pollTransmits(now(), TRANSMIT_BATCH)) {
          for (const t of ts) {
            this.outbox.push(t);
            this.outboxBytes += t.data.length;
          }
          if (this.outboxBytes >= OUTBOX_BYTES || this.outbox.length >= GSO_MAX_SEGMENTS - TRANSMIT_BATCH) this.sendOut();
        }
        this.sendOut();
        // Then the events, and once more round if there were any: what the application does on hearing them
        // (reading a stream, above all) may owe the peer frames — the credit a read hands back, MAX_STREAM_DATA
        // and MAX_DATA — which must leave now. Held until the next datagram arrived, they would stall a sender
        // that used its whole window: it sends nothing more until it hears of new credit. (Reporting before the
        // first transmits instead put a client's request in the datagram of its Finished, and quiche's server
        // then reset that request stream, code 0, in the interop matrix.)
        if (this.report()) this.again = true;
      } while (this.again);
    } finally {
      this.flushing = false;
    }
    this.arm();
  }

  /** Reports the endpoint's and the sessions' events; true if any session had some. */
  private report(): boolean {
    for (let e = this.endpoint.poll(); e; e = this.endpoint.poll()) {
      if (e.type === 'retry') this.onRetry?.(e.remote);
      else if (e.type === 'connection') this.accepted(e.connection);
      else this.sessions.get(e.connection)?.end(e.error);
    }
    // Only connections the endpoint knows to have events are asked (its event queue): a server with many idle
    // connections pays nothing for them per batch.
    let any = false;
    for (let ce = this.endpoint.pollConnectionEvent(); ce; ce = this.endpoint.pollConnectionEvent()) {
      if (this.sessions.get(ce.connection)?.deliver(ce.event)) any = true;
    }
    return any;
  }

  private accepted(connection: QuicConnection): void {
    const s = new QuicSession(connection, this);
    this.sessions.set(connection, s);
    try {
      this.onConnection?.(s);
    } catch (e) {
      // The application's handler threw: that ends this connection (with `error` to whoever listens), not the endpoint.
      s.fail(e);
    }
  }

  private arm(): void {
    const t = this.closed ? undefined : this.endpoint.pollTimeout();
    // A timer already set to fire no later is kept: re-setting one per flush (each batch, each paced send) was a
    // clearTimeout and a setTimeout every time. Firing early costs one handleTimeout that finds nothing due, and
    // the flush after it re-arms for the deadline then current.
    if (t !== undefined && this.armedAt !== undefined && this.armedAt <= t) return;
    clearTimeout(this.timer);
    this.armedAt = t;
    if (t === undefined) return;
    this.timer = setTimeout(() => {
      this.armedAt = undefined;
      this.endpoint.handleTimeout(now()).then(() => this.flush()).catch(() => undefined);
    }, Math.max(0, t - now()));
    this.timer.unref();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.armedAt = undefined;
  }
}

/**
 * A QUIC connection on a UDP socket: the sans-IO {@link QuicConnection},
 * driven through the socket's {@link QuicEndpoint}, plus an event emitter.
 * Emits `connected`, `stream` (a stream event), `datagram`, `closed`, and
 * `done` once the endpoint has forgotten the connection (`error` first, when
 * anyone listens, if something threw).
 */
export class QuicSession extends EventEmitter {
  private failed = false;
  private ended = false;
  /**
   * What the handshake negotiated, once `connected` has been emitted: a
   * client from {@link quicConnect} only gets the session after that event.
   */
  handshake: HandshakeInfo | undefined;

  /** Set by {@link quicConnect}: moves the client to a new UDP socket (see {@link migrate}). */
  rebind: (() => Promise<void>) | undefined;

  /** Sessions are made by {@link quicConnect} and {@link createQuicServer}. */
  constructor(
    readonly connection: QuicConnection,
    private readonly driver: UdpDriver,
    private readonly onDone?: () => void,
  ) {
    super();
  }

  /**
   * Runs `f` (something done to the connection), then sends what it queued,
   * reports events and re-arms the timer. The promise never rejects: a failure
   * ends this session (see {@link fail}).
   */
  async run(f: () => unknown): Promise<void> {
    if (this.failed || this.ended) return;
    try {
      await f();
    } catch (e) {
      this.fail(e);
      return;
    }
    await this.driver.flush();
  }

  /**
   * A client moves to a new local UDP port (RFC 9000 §9.2): a new socket,
   * a new connection ID, path validation, and the transfer goes on. Rejects
   * (leaving the session as it was) before the handshake is confirmed, when
   * the server disabled active migration, or without a spare connection ID.
   */
  async migrate(): Promise<void> {
    if (!this.rebind) throw new ConfigError('only a client session from quicConnect migrates');
    await this.rebind();
  }

  /** Reports every event the connection still has (its last ones, as the endpoint forgets it); true if there were any. */
  report(): boolean {
    let any = false;
    for (let e: QuicEvent | undefined = this.connection.poll(); e; e = this.connection.poll()) if (this.deliver(e)) any = true;
    return any;
  }

  /** Emits one of the connection's events; false once this session has failed (its events are dropped). */
  deliver(e: QuicEvent): boolean {
    if (this.failed) return false;
    try {
      if (e.type === 'stream') this.emit('stream', e.event);
      else {
        if (e.type === 'connected') this.handshake = e.info;
        this.emit(e.type, e);
      }
    } catch (err) {
      // A listener threw: this session ends.
      this.fail(err);
    }
    return true;
  }

  /** The endpoint forgot the connection: its last events, then `done`. */
  end(error?: unknown): void {
    if (error !== undefined) return this.fail(error);
    if (this.ended || this.failed) return;
    this.report();
    this.finish();
  }

  /**
   * Something threw (the connection, the provider, a listener): this session
   * alone ends, with `error` (when anyone listens: an unheard `error` would
   * only turn into an unhandled rejection) and then `done`.
   */
  fail(e: unknown): void {
    if (this.failed || this.ended) return;
    this.failed = true;
    this.driver.endpoint.abandon(this.connection);
    try {
      if (this.listenerCount('error') > 0) this.emit('error', e);
    } catch {
      // A listener threw while we reported a failure: there is no one left to tell.
    }
    this.finish();
  }

  private finish(): void {
    this.ended = true;
    this.driver.sessions.delete(this.connection);
    try {
      this.onDone?.();
    } catch {
      // as below
    }
    try {
      this.emit('done');
    } catch {
      // A listener threw: there is no one left to tell.
    }
  }

  /** Writes `data` and optionally FIN on stream `id`; `options` as {@link QuicConnection.writeStream}'s (`copy: false`: zero-copy). */
  write(id: number, data: Uint8Array, fin = false, options?: { readonly copy?: boolean }): Promise<void> {
    return this.run(() => this.connection.writeStream(id, data, fin, options));
  }

  close(errorCode = 0, reason = ''): Promise<void> {
    return this.run(() => this.connection.close(now(), errorCode, reason));
  }
}

export type QuicConnectOptions = Omit<QuicClientOptions, 'tls'> & {
  /** Write this connection's qlog to `<dir>/<odcid hex>_client.sqlog` (ignored when `qlog` is given). */
  readonly qlogDir?: string;
  readonly host: string;
  readonly port: number;
  /**
   * Called with the session as soon as it exists, before the handshake: a
   * listener added here hears everything the session emits, `connected` and
   * the stream events that arrive with the end of the handshake too (the
   * promise resolves only after those have been emitted).
   */
  readonly onSession?: (s: QuicSession) => void;
  /**
   * With `earlyData` and a ticket in `tls.sessionStore` that allows 0-RTT: called
   * once before the first datagram leaves, so that streams opened and written
   * on `session.connection` here go in 0-RTT packets (RFC 9001 §4.6.1). Once
   * connected, `session.connection.earlyData` (or `session.handshake.earlyData`)
   * says whether the server accepted them; rejected data is resent in 1-RTT.
   */
  readonly onEarlyData?: (session: QuicSession) => void;
  readonly tls: Omit<QuicClientOptions['tls'], 'provider' | 'now'> & Partial<Pick<QuicClientOptions['tls'], 'provider' | 'now'>>;
};

/**
 * Connects over UDP; resolves once the handshake completes. Without an
 * `mtuDiscovery` ceiling of the application's, DPLPMTUD searches up to
 * {@link udpPathMtuCeiling} of the path (the largest UDP payload to a loopback address).
 */
export async function quicConnect(options: QuicConnectOptions): Promise<QuicSession> {
  const provider = options.tls.provider ?? createNobleProvider();
  // The server's address as the socket will report its datagrams' source: a name would look like another path.
  // A name is looked up in IPv4 (as a udp4 socket sending to it would), an IPv6 literal in IPv6.
  const { address, family } = await lookup(options.host, { family: options.host.includes(':') ? 6 : 4 });
  const udp = family === 6 ? 'udp6' : 'udp4';
  let sock = await boundSocket(udp);
  // The server's preferred address (RFC 9000 §9.6), in this socket's family, as a path key: the connection
  // validates it once the handshake is confirmed and moves there if that succeeds.
  const preferredAddressRemote = options.preferredAddressRemote ?? ((a: PreferredAddress): RemoteAddress | undefined => (
    udp === 'udp4' ? (a.ipv4Port ? `${a.ipv4Address.join('.')}:${a.ipv4Port}` : undefined)
      : (a.ipv6Port ? `[${ipv6Text(a.ipv6Address)}]:${a.ipv6Port}` : undefined)));
  let session: QuicSession;
  let driver: UdpDriver;
  const listen = (s: Socket): void => {
    s.on('message', (msg: Buffer, from: RemoteInfo) => driver.receive(msg, from));
    s.on('error', (e) => {
      if (s === sock && !isSendError(e)) session.fail(e);
    });
  };
  try {
    const endpoint = await QuicEndpoint.create({ provider, ...(options.versions ? { versions: options.versions } : {}) });
    driver = new UdpDriver(sock, endpoint);
    const { host: _h, port: _p, onSession: _s, onEarlyData: _e, qlogDir: _q, ...rest } = withQlogDir(options);
    const remote = addressKey({ address, port: options.port });
    const conn = await endpoint.connect({ ...rest, mtuDiscovery: withPathMtuCeiling(rest.mtuDiscovery), preferredAddressRemote, tls: { ...options.tls, provider, now: options.tls.now ?? Date.now } }, remote, now());
    session = new QuicSession(conn, driver, () => {
      driver.close();
      closeQuietly(sock);
    });
    driver.sessions.set(conn, session);
    options.onSession?.(session);
    listen(sock);
  } catch (e) {
    closeQuietly(sock);
    throw e;
  }
  session.rebind = async () => {
    const next = await boundSocket(udp);
    let refused: unknown;
    await session.run(async () => {
      try {
        await session.connection.migrate(now());
      } catch (e) {
        refused = e;
        return;
      }
      // Before this run's flush: the first packets on the new path leave from the new socket.
      sock = next;
      listen(next);
      closeQuietly(driver.replaceSocket(next));
    });
    if (refused !== undefined) {
      closeQuietly(next);
      throw refused;
    }
  };
  // Listening before the first flush: a failure there must reach this promise, not an empty room.
  const result = new Promise<QuicSession>((resolve, reject) => {
    session.once('connected', () => resolve(session));
    session.once('closed', (e: QuicEvent) => reject(new Error(`QUIC connection closed during the handshake: ${e.type === 'closed' ? `${e.code} ${e.reason}` : ''}`)));
    session.once('error', reject);
    session.once('done', () => reject(new Error('QUIC connection ended during the handshake')));
  });
  void session.run(() => {
    if (options.onEarlyData && session.connection.earlyData === 'attempted') options.onEarlyData(session);
  });
  return result;
}

export type QuicListenOptions = Omit<QuicServerOptions, 'tls'> & {
  /** Write each connection's qlog to `<dir>/<odcid hex>_server.sqlog` (a `qlog` sink would be shared by all: use this). */
  readonly qlogDir?: string;
  readonly tls: Omit<QuicServerOptions['tls'], 'provider' | 'now'> & Partial<Pick<QuicServerOptions['tls'], 'provider' | 'now'>>;
  /** Validate client addresses with a stateless Retry before any handshake work (RFC 9000 §8.1.2). */
  readonly retry?: boolean;
  /**
   * Connections in handshake at once (default 256). Beyond it a new client's
   * Initial gets a Retry when `retry` is on and it has no valid token, and is
   * dropped otherwise: no state is created for it.
   */
  readonly maxConcurrentHandshakes?: number;
  /**
   * A connection whose handshake has not completed after this long is closed and
   * stops counting against `maxConcurrentHandshakes` (default 10 000 ms). The idle
   * timeout alone does not bound it: every packet the client sends restarts that.
   */
  readonly handshakeTimeoutMs?: number;
};

/**
 * The UDP socket of {@link createQuicServer}, plus credential rotation without a
 * restart: `setCertificate` checks the new certificate and key as TLS server
 * options are checked (throwing, and keeping the old one, if they are
 * unusable); connections accepted afterwards use them, those already accepted
 * keep theirs.
 */
export type QuicServerSocket = Socket & { setCertificate(certificate: QuicServerOptions['tls']['certificate']): void };

/** Datagrams that arrive while the endpoint is still being made (a Retry key drawn); more are dropped. */
const MAX_EARLY_DATAGRAMS = 64;

/**
 * A QUIC server endpoint on one UDP socket (a {@link QuicEndpoint}): routes
 * datagrams by destination connection ID, accepts new connections from
 * Initial packets that decrypt, and hands each session to `onConnection` as
 * soon as it exists (listen for `connected`). With `retry`, the socket emits
 * `retry` (with the client's address) for each Retry it sends. Without an
 * `mtuDiscovery` ceiling of the application's, DPLPMTUD searches up to
 * {@link udpPathMtuCeiling} of each client's path. A failed send is a lost
 * datagram, not an `error` of the socket.
 */
export function createQuicServer(options: QuicListenOptions, onConnection: (s: QuicSession) => void): QuicServerSocket {
  const provider = options.tls.provider ?? createNobleProvider();
  // One reset key per endpoint: it answers packets for connections it no longer has (RFC 9000 §10.3).
  const resetKey = options.statelessResetKey ?? globalThis.crypto.getRandomValues(new Uint8Array(32));
  const { qlogDir, ...rest } = options;
  let opts: QuicEndpointServerOptions = {
    ...rest, mtuDiscovery: withPathMtuCeiling(rest.mtuDiscovery), statelessResetKey: resetKey, tls: { ...options.tls, provider, now: options.tls.now ?? Date.now },
    // The driver below follows pollTimeout, which the TLS step held behind the ClientHello's ACK needs.
    ackClientHelloFirst: options.ackClientHelloFirst ?? true,
    // Paths through the preferred-address socket are keyed `pref|host:port` (below): RFC 9000 §9.6.2 needs to know them.
    ...(options.preferredAddress && !options.viaPreferredAddress ? { viaPreferredAddress: (r: string) => r.startsWith(PREFERRED) } : {}),
    ...(qlogDir !== undefined && !options.qlog ? { qlogPerConnection: () => new QlogFileSink(qlogDir) } : {}),
  };
  // Checked here so that a bad value throws to the caller, as before the endpoint existed.
  if (opts.maxConcurrentHandshakes !== undefined && (!Number.isInteger(opts.maxConcurrentHandshakes) || opts.maxConcurrentHandshakes < 1)) {
    throw new ConfigError('maxConcurrentHandshakes must be a positive integer');
  }
  if (opts.handshakeTimeoutMs !== undefined && !(opts.handshakeTimeoutMs > 0)) throw new ConfigError('handshakeTimeoutMs must be positive');
  const sock = udpSocket('udp4');
  // A failed send is a lost datagram (see isSendError). Any other error is the application's, as on any socket:
  // with no listener of its own it is thrown, as an unheard `error` event would be.
  const onError = (e: unknown): void => {
    if (!isSendError(e) && sock.listenerCount('error') === 1) throw e;
  };
  sock.on('error', onError);
  sock.once('listening', () => sizeBuffers(sock));
  let driver: UdpDriver | undefined;
  const early: [Buffer, RemoteInfo, string][] = [];
  const onMessage = (via: string) => (msg: Buffer, from: RemoteInfo): void => {
    if (driver) driver.receive(msg, from, via);
    else if (early.length < MAX_EARLY_DATAGRAMS) early.push([msg, from, via]);
  };
  sock.on('message', onMessage(''));
  // The preferred address (RFC 9000 §9.6) is a second socket: a path through it is keyed `pref|host:port`, and answered from it.
  const pa = options.preferredAddress?.ipv4;
  let preferredSocket: Socket | undefined;
  if (pa) {
    const ps = udpSocket('udp4');
    preferredSocket = ps;
    ps.on('message', onMessage(PREFERRED));
    ps.on('error', () => undefined);
    ps.bind(pa.port, pa.address.join('.'));
    sock.once('close', () => closeQuietly(ps));
  }
  sock.once('close', () => driver?.close());
  QuicEndpoint.create({ provider, statelessResetKey: resetKey, server: opts }).then((endpoint) => {
    // A certificate set while the endpoint was being made.
    endpoint.setServerOptions(opts);
    driver = new UdpDriver(sock, endpoint, onConnection, (remote) => sock.emit('retry', remote));
    driver.preferredSocket = preferredSocket;
    for (const [msg, from, via] of early.splice(0)) driver.receive(msg, from, via);
  }).catch(() => {
    // The provider failed (no Retry key): the server cannot answer anyone; datagrams are dropped.
    early.length = 0;
  });
  const setCertificate = (certificate: QuicServerOptions['tls']['certificate']): void => {
    const next: QuicEndpointServerOptions = { ...opts, tls: { ...opts.tls, certificate } };
    resolveServerOptions(next.tls);
    opts = next;
    driver?.endpoint.setServerOptions(next);
  };
  return Object.assign(sock, { setCertificate });
}
