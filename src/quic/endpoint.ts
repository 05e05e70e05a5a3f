import { ConfigError } from '../errors.js';
import type { QlogSink } from './qlog.js';
import { PendingZeroRtt } from './connection/zero-rtt.js';
import type { CryptoProvider } from '../pq/provider.js';
import { resolveServerOptions } from '../tls13/config.js';
import { QuicConnection, type QuicClientOptions, type QuicEvent, type QuicServerOptions } from './connection/connection.js';
import { RetryTokens, type ValidatedAddress } from './connection/address-validation.js';
import type { RemoteAddress, Transmit } from './connection/path.js';
import { openFirstInitial } from './first-initial.js';
import { encodeVersionNegotiation, parsePacket, type Packet } from './header.js';
import { encodeStatelessReset, statelessResetLength, statelessResetToken } from './stateless-reset.js';
import { DEFAULT_QUIC_VERSIONS, versionTable, type QuicVersion, type QuicVersionTable } from './versions.js';
import { ConnectionTable, cidKey, type ConnectionEntry } from './endpoint/routing.js';
import { TimerHeap } from './endpoint/timers.js';
import { initialClose, startsClientHello } from './endpoint/stateless.js';
import { TransportErrorCode } from './errors.js';

/** Datagrams waiting for one connection by default; past it more are dropped, as the network could drop them. */
export const DEFAULT_MAX_QUEUED_DATAGRAMS = 1024;
/** Server connections in handshake at once, by default. */
export const DEFAULT_MAX_CONCURRENT_HANDSHAKES = 256;
/** How long a server connection may take to complete its handshake, by default (ms). */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
/** Datagrams for no known connection (first Initials, stray packets) waiting to be looked at. */
const MAX_UNROUTED_QUEUED = 256;
/** Retry, Version Negotiation and Stateless Reset packets waiting for {@link QuicEndpoint.pollTransmit}. */
const MAX_OWN_TRANSMITS = 256;
/** Endpoint events not yet polled; past it no new connection is accepted and Retry reports are dropped. */
const MAX_EVENTS = 4096;
/** The length of the connection IDs this library issues (short headers do not carry it). */
const CID_LENGTH = 8;
/** RFC 9000 §14.1: the smallest datagram that may carry a client's first Initial. */
const MIN_INITIAL_DATAGRAM = 1200;
/** RFC 9000 §10.3: the smallest datagram that can be a Stateless Reset (5 bytes that look like a header, then the 16-byte token). */
const MIN_STATELESS_RESET = 21;

/** What a {@link QuicEndpoint} needs to accept connections. */
export interface QuicEndpointServerOptions extends QuicServerOptions {
  /**
   * Validate client addresses with a stateless Retry before any handshake work
   * (RFC 9000 §8.1.2): `true` for tokens under a fresh key, or a shared issuer.
   */
  readonly retry?: boolean | RetryTokens;
  /**
   * Server connections in handshake at once (default 256). Beyond it a new
   * client's Initial gets a Retry when `retry` is on and it brings no valid
   * token, and is dropped otherwise: no state is created for it.
   */
  readonly maxConcurrentHandshakes?: number;
  /**
   * A server connection whose handshake has not completed after this long is
   * closed and stops counting against `maxConcurrentHandshakes` (default
   * 10 000 ms; `Infinity` for none). The idle timeout alone does not bound it:
   * every packet the client sends restarts that.
   */
  readonly handshakeTimeoutMs?: number;
  /**
   * A qlog sink for each accepted connection (a `qlog` sink in these options
   * would be shared by all of them): e.g. one file per connection.
   */
  readonly qlogPerConnection?: () => QlogSink | undefined;
}

/** How a {@link QuicEndpoint} is set up (quinn-proto's `EndpointConfig` and `ServerConfig`). */
export interface QuicEndpointOptions {
  /** Randomness and primitives for Retry tokens, stateless resets and first-Initial checks. */
  readonly provider: CryptoProvider;
  /** The versions routed and answered (default: the server's `versions`, else v1 then v2). */
  readonly versions?: readonly QuicVersion[];
  /**
   * Secret (≥ 32 bytes) the endpoint's stateless reset tokens come from (RFC
   * 9000 §10.3.2), default the server options' `statelessResetKey`. Without
   * one the endpoint neither sends resets nor gives its connections tokens.
   */
  readonly statelessResetKey?: Uint8Array;
  /** Accept incoming connections with these options; without them the endpoint is a client only. */
  readonly server?: QuicEndpointServerOptions;
  /** Datagrams waiting for one connection before more are dropped (default {@link DEFAULT_MAX_QUEUED_DATAGRAMS}). */
  readonly maxQueuedDatagrams?: number;
}

/** What a {@link QuicEndpoint} reports; read them with {@link QuicEndpoint.poll}. */
export type QuicEndpointEvent =
  /** A client's Initial that decrypted (and, with Retry, brought a valid token) made a new server connection. */
  | { readonly type: 'connection'; readonly connection: QuicConnection; readonly remote: RemoteAddress }
  /** A Retry was queued for a client at `remote`. */
  | { readonly type: 'retry'; readonly remote: RemoteAddress }
  /**
   * The endpoint forgot a connection: it closed, or a call into it threw
   * (`error`: a failing crypto provider, say). Its last events can still be
   * read with its `poll()`.
   */
  | { readonly type: 'done'; readonly connection: QuicConnection; readonly error?: unknown };

interface ServerState {
  options: QuicServerOptions;
  qlogPerConnection: (() => QlogSink | undefined) | undefined;
  readonly tokens: RetryTokens | undefined;
  readonly maxHandshakes: number;
  readonly handshakeTimeoutMs: number;
}

/**
 * A QUIC endpoint, sans-IO in the manner of quinn-proto's `Endpoint`: one
 * place where datagrams of many connections arrive and leave. It routes each
 * datagram by its Destination Connection ID to the connection that issued
 * that ID (RFC 9000 §5.2), creates a server connection only for a client
 * Initial that decrypts (RFC 9001 §5.2, after an optional Retry, RFC 9000
 * §8.1.2), answers unknown versions with Version Negotiation (§6.1) and
 * packets for connections it does not have with a Stateless Reset (§10.3),
 * and bounds handshakes in number and in time. Clients start here too
 * ({@link connect}), so one endpoint can be both, as quinn's can.
 *
 * Drive it as a connection is driven: {@link handleDatagram} for each UDP
 * datagram with its source address, send what {@link pollTransmit} returns
 * to the address it names, call {@link handleTimeout} at {@link pollTimeout},
 * and read {@link poll}. Its asynchronous calls run one after another in call
 * order, so a transport may hand over a burst of datagrams without awaiting
 * each. Nothing here opens a socket, starts a timer or reads a clock.
 */
export class QuicEndpoint {
  private readonly table = new ConnectionTable();
  private readonly own: Transmit[] = [];
  private readonly events: QuicEndpointEvent[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  /** 0-RTT datagrams that arrived before their connection's first Initial (bounded: src/quic/connection/zero-rtt.ts). */
  private readonly pendingZeroRtt = new PendingZeroRtt();
  /** Datagrams for no known connection, handed over and not yet looked at. */
  private unrouted = 0;
  /** Server connections whose handshake has not completed. */
  private handshaking = 0;
  /**
   * Connections that may have something to send, in the order {@link
   * pollTransmit} visits them (one that sent goes to the back, so a busy
   * connection does not starve the others). A connection leaves when it has
   * nothing to send and comes back on its `onActivity` cue (a datagram, a
   * timer, an application write or close): an idle connection costs nothing
   * per poll, where polling them all made each poll O(connections). What
   * blocks a connection that has data (congestion, pacing, the 3× limit) ends
   * with an acknowledgment, a datagram or a timer, each such a cue.
   */
  private readonly ready = new Set<ConnectionEntry>();
  /**
   * Each connection's next deadline (its own timers and the handshake's), so
   * that {@link pollTimeout} and {@link handleTimeout} cost O(log n) and touch
   * only due connections, not all of them per call (quinn keeps a timer per
   * connection in its driver; a sans-IO endpoint has one wake-up for all).
   */
  private readonly timers = new TimerHeap<ConnectionEntry>();
  /**
   * Connections whose deadline may have moved since it was keyed: those that
   * were called (afterCall) or gave their `onActivity` cue. Their deadlines are
   * read again at the next {@link pollTimeout} or {@link handleTimeout}, once
   * each however many cues came; an idle connection's stays as it was.
   */
  private readonly rekey = new Set<ConnectionEntry>();
  /**
   * Connections that may have events for {@link pollConnectionEvent}: a
   * connection makes events only in a call (a datagram, a timer, a transmit,
   * an application call, each one a cue or an afterCall), and one leaves when
   * it has none, so a poll visits no idle connection.
   */
  private readonly eventful = new Set<ConnectionEntry>();
  /**
   * The peers' stateless reset tokens (RFC 9000 §10.3.1), as {@link tokenKey},
   * to the connection each one ends: a short-header packet to an unknown
   * connection ID is a reset for at most that one connection, found here in
   * one lookup instead of being tried on every client connection.
   */
  private readonly resetTokens = new Map<string, ConnectionEntry>();

  private constructor(
    private readonly provider: CryptoProvider,
    private readonly versions: QuicVersionTable,
    private readonly resetKey: Uint8Array | undefined,
    private readonly server: ServerState | undefined,
    private readonly maxQueued: number,
  ) {}

  /** An endpoint (asynchronous: a Retry token key may have to be drawn). */
  static async create(options: QuicEndpointOptions): Promise<QuicEndpoint> {
    const maxQueued = options.maxQueuedDatagrams ?? DEFAULT_MAX_QUEUED_DATAGRAMS;
    if (!Number.isInteger(maxQueued) || maxQueued < 1) throw new ConfigError('maxQueuedDatagrams must be a positive integer');
    const s = options.server;
    const versions = versionTable(options.versions ?? s?.versions ?? DEFAULT_QUIC_VERSIONS);
    const resetKey = options.statelessResetKey ?? s?.statelessResetKey;
    if (resetKey && resetKey.length < 32) throw new ConfigError('stateless reset key must be at least 32 bytes');
    let server: ServerState | undefined;
    if (s) {
      const maxHandshakes = s.maxConcurrentHandshakes ?? DEFAULT_MAX_CONCURRENT_HANDSHAKES;
      if (!Number.isInteger(maxHandshakes) || maxHandshakes < 1) throw new ConfigError('maxConcurrentHandshakes must be a positive integer');
      const handshakeTimeoutMs = s.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
      if (!(handshakeTimeoutMs > 0)) throw new ConfigError('handshakeTimeoutMs must be positive');
      const tokens = s.retry === true ? await RetryTokens.create(options.provider, { versions: versions.versions }) : s.retry || undefined;
      server = { options: serverOptions(s, resetKey), qlogPerConnection: s.qlogPerConnection, tokens, maxHandshakes, handshakeTimeoutMs };
    }
    return new QuicEndpoint(options.provider, versions, resetKey, server, maxQueued);
  }

  /** Connections the endpoint routes to. */
  get connectionCount(): number {
    return this.table.size;
  }

  /** Server connections still in their handshake (what `maxConcurrentHandshakes` caps). */
  get handshakeCount(): number {
    return this.handshaking;
  }

  /**
   * Options for connections accepted from now on (certificate rotation without
   * a restart): checked as TLS server options are (throwing, and keeping the
   * old ones, if unusable). Connections already accepted keep theirs.
   */
  setServerOptions(options: QuicServerOptions | QuicEndpointServerOptions): void {
    if (!this.server) throw new ConfigError('this endpoint does not accept connections');
    resolveServerOptions(options.tls);
    this.server.options = serverOptions(options, this.resetKey);
    if ('qlogPerConnection' in options) this.server.qlogPerConnection = options.qlogPerConnection;
  }

  /**
   * Starts a client connection to `remote`; its first Initial is ready in
   * {@link pollTransmit}, and datagrams to its connection IDs reach it.
   */
  connect(options: QuicClientOptions, remote: RemoteAddress, now: number): Promise<QuicConnection> {
    return this.serial(async () => {
      const connection = await QuicConnection.connect({ ...options, remote }, now);
      this.afterCall(this.track(this.table.add(connection, remote, [connection.localCid])));
      return connection;
    });
  }

  /**
   * Routes to a connection made elsewhere (with `QuicConnection.connect` or
   * `accept`): datagrams to its own connection ID, and to those it issues,
   * reach it, and its transmits leave through {@link pollTransmit}.
   */
  adopt(connection: QuicConnection, remote: RemoteAddress = ''): void {
    if (this.table.get(connection)) return;
    this.afterCall(this.track(this.table.add(connection, remote, [connection.localCid])));
  }

  /**
   * Takes one UDP datagram received from `remote`. Never rejects: whatever
   * the bytes, the worst outcome is a closed connection. Datagrams beyond a
   * connection's queue bound are dropped here, as the network could have.
   * The datagram is given up, as to {@link QuicConnection.handleDatagram}:
   * it is decrypted in place and may be kept, so it must not be reused.
   */
  handleDatagram(datagram: Uint8Array, remote: RemoteAddress, now: number): Promise<void> {
    return this.handleDatagrams([{ data: datagram, remote }], now);
  }

  /**
   * Takes a batch of datagrams (what a socket delivered since the last batch),
   * handled in order in one turn: the connections run once over all of them,
   * so what they send afterwards (acknowledgments) covers the batch. As
   * {@link handleDatagram}, never rejects, and drops past the queue bounds.
   */
  handleDatagrams(datagrams: Iterable<{ readonly data: Uint8Array; readonly remote: RemoteAddress }>, now: number): Promise<void> {
    const taken: { data: Uint8Array; remote: RemoteAddress; packet: Packet; entry: ConnectionEntry | undefined }[] = [];
    for (const { data, remote } of datagrams) {
      let packet: Packet;
      try {
        packet = parsePacket(data, 0, { shortDcidLength: CID_LENGTH, versions: this.versions }).packet;
      } catch {
        continue; // not a QUIC packet we can route (RFC 9000 §5.2: discarded)
      }
      // Counted where the datagram is routed now, so that a flood to one connection ID is cut here, before it is held.
      const entry = packet.type === 'unsupported-version' ? undefined : this.table.byConnectionId(packet.dcid);
      if (entry) {
        if (entry.queued >= this.maxQueued) continue;
        entry.queued++;
      } else {
        if (this.unrouted >= MAX_UNROUTED_QUEUED) continue;
        this.unrouted++;
      }
      taken.push({ data, remote, packet, entry });
    }
    if (!taken.length) return Promise.resolve();
    return this.serial(async () => {
      for (const t of taken) {
        if (t.entry) t.entry.queued--;
        else this.unrouted--;
        try {
          await this.route(t.data, t.packet, t.remote, now);
        } catch {
          // A failure outside any connection (the provider, making a Retry or a reset): this datagram is dropped.
        }
      }
    }).catch(() => undefined);
  }

  /** Routes again when the datagram's turn comes: a connection may have been created or ended meanwhile. */
  private async route(datagram: Uint8Array, packet: Packet, remote: RemoteAddress, now: number): Promise<void> {
    const entry = packet.type === 'unsupported-version' ? undefined : this.table.byConnectionId(packet.dcid);
    if (entry) {
      // Marked here as well as by the connection's own cue: whatever it is, a datagram may call for an answer.
      this.ready.add(entry);
      return this.call(entry, (c) => c.handleDatagram(datagram, now, remote));
    }
    if (packet.type === 'unsupported-version') {
      // §6.1: a datagram big enough to start a connection, in a version we do not speak, gets our list.
      if (this.server && datagram.length >= MIN_INITIAL_DATAGRAM) this.send(encodeVersionNegotiation(packet.dcid, packet.scid, this.versions.numbers), remote);
      return;
    }
    if (packet.type === '1rtt') return this.unknownShortHeader(datagram, packet.dcid, remote, now);
    // 0-RTT that overtook its connection's first Initial (reordering): held, bounded, until that Initial is accepted.
    if (this.server && packet.type === '0rtt') return this.pendingZeroRtt.add(cidKey(packet.dcid), datagram, now);
    // Only a client's Initial, in a datagram of full size (RFC 9000 §14.1), may start a connection.
    if (this.server && packet.type === 'initial' && datagram.length >= MIN_INITIAL_DATAGRAM) await this.admit(this.server, datagram, packet.dcid, remote, now);
  }

  /**
   * A short-header packet to a connection ID we do not route. From the peer of
   * one of our clients it may be that server's Stateless Reset, whose first
   * bytes are random (RFC 9000 §10.3.1): the client checks its token. Otherwise
   * the sender has a connection we lost: we answer with a Stateless Reset,
   * smaller than the trigger so two endpoints cannot loop (§10.3.3).
   */
  private async unknownShortHeader(datagram: Uint8Array, dcid: Uint8Array, remote: RemoteAddress, now: number): Promise<void> {
    // §10.3.1: a reset ends in the token; the connection it names checks it again (and drains).
    const target = datagram.length >= MIN_STATELESS_RESET ? this.resetTokens.get(tokenKey(datagram, datagram.length - 16)) : undefined;
    if (target) {
      this.ready.add(target);
      return this.call(target, (c) => c.handleDatagram(datagram, now, remote));
    }
    if (!this.resetKey) return;
    const len = statelessResetLength(datagram.length);
    if (len === undefined) return;
    const token = await statelessResetToken(this.provider, this.resetKey, dcid);
    this.send(encodeStatelessReset(token, await this.provider.random(len - 16)), remote);
  }

  /** A client's first Initial: a Retry, an INVALID_TOKEN close, nothing, or a new connection. */
  private async admit(s: ServerState, datagram: Uint8Array, dcid: Uint8Array, remote: RemoteAddress, now: number): Promise<void> {
    if (!s.tokens && (this.handshaking >= s.maxHandshakes || this.events.length >= MAX_EVENTS)) return;
    // Stateless first: a datagram that only looks like an Initial costs a key derivation and a failed
    // decryption, never a connection or a Retry; the client's connection IDs come from a packet that authenticated.
    const first = await openFirstInitial(this.provider, datagram, this.versions);
    const version = first?.packet.version;
    if (!first || !version) return;
    let validated: ValidatedAddress | undefined;
    if (s.tokens) {
      const token = await s.tokens.check(datagram, remote, now);
      if (token.kind === 'invalid-retry') {
        // RFC 9000 §8.1.2: the client will not take another Retry; a close tells it now rather than at its timeout.
        this.send(await initialClose(this.provider, version, first.packet, TransportErrorCode.INVALID_TOKEN), remote);
        return;
      }
      if (token.kind === 'none') {
        // One Retry per connection attempt, decided statelessly (src/quic/endpoint/stateless.ts).
        if (!startsClientHello(first)) return;
        const retry = await s.tokens.retryFor(datagram, remote, now);
        if (retry) {
          this.send(retry, remote);
          if (this.events.length < MAX_EVENTS) this.events.push({ type: 'retry', remote });
        }
        return;
      }
      validated = token.address;
    }
    if (this.handshaking >= s.maxHandshakes || this.events.length >= MAX_EVENTS) return;
    // The options of the moment this connection is accepted: a later setServerOptions does not reach it.
    const qlog = s.qlogPerConnection?.();
    const connection = await QuicConnection.accept(qlog ? { ...s.options, qlog } : s.options, datagram, now, validated, remote);
    // The client sends to its first DCID until our first packet reaches it: that routes here too.
    const entry = this.track(this.table.add(connection, remote, [dcid, connection.localCid], now + s.handshakeTimeoutMs));
    this.handshaking++;
    this.events.push({ type: 'connection', connection, remote });
    this.afterCall(entry);
    for (const d of this.pendingZeroRtt.take(cidKey(dcid), now)) {
      if (this.table.get(connection) !== entry) break;
      this.ready.add(entry);
      await this.call(entry, (c) => c.handleDatagram(d, now, remote));
    }
  }

  /** Starts listening to a new entry's activity cue; it may have something to send at once. */
  private track(entry: ConnectionEntry): ConnectionEntry {
    entry.connection.onActivity = () => {
      if (this.table.get(entry.connection) !== entry) return;
      this.ready.add(entry);
      this.rekey.add(entry);
      this.eventful.add(entry);
    };
    this.ready.add(entry);
    this.rekey.add(entry);
    this.eventful.add(entry);
    return entry;
  }

  private send(data: Uint8Array, remote: RemoteAddress): void {
    if (this.own.length < MAX_OWN_TRANSMITS) this.own.push({ data, remote });
  }

  /**
   * Calls into a connection; a throw ends that connection alone. `received`:
   * the call may have taken in the peer's frames (a datagram, a timer), so
   * its reset tokens may have changed; a transmit brings none.
   */
  private async call(entry: ConnectionEntry, f: (c: QuicConnection) => Promise<unknown>, received = true): Promise<void> {
    try {
      await f(entry.connection);
    } catch (e) {
      this.finish(entry, e);
      return;
    }
    this.afterCall(entry, received);
  }

  /** What changed in a connection after a call: connection IDs to route or forget, handshake done, closed. */
  private afterCall(entry: ConnectionEntry, received = true): void {
    const c = entry.connection;
    if (this.table.get(c) !== entry) return;
    for (let e = c.pollEndpointEvent(); e; e = c.pollEndpointEvent()) {
      if (e.type === 'cid-issued') this.table.route(entry, e.cid);
      else this.table.unroute(entry, e.cid);
    }
    if (entry.handshakeDeadline !== undefined && c.isHandshakeComplete) this.endHandshake(entry);
    if (c.isClosed) {
      this.finish(entry);
      return;
    }
    // Whatever the call was, it may have moved the connection's timers, made events or brought reset tokens.
    this.rekey.add(entry);
    this.eventful.add(entry);
    if (received) this.syncResetTokens(entry);
  }

  /**
   * Indexes the connection's peer reset tokens when they changed: the
   * connection keeps each token object for as long as it holds it, so a
   * comparison by identity (no bytes, no allocation but the list) tells.
   */
  private syncResetTokens(entry: ConnectionEntry): void {
    const now = entry.connection.peerResetTokens();
    const was = entry.resetTokens;
    if (now === was || (now.length === was.length && now.every((t, i) => t === was[i]))) return;
    this.dropResetTokens(entry);
    for (const t of now) {
      const key = tokenKey(t, 0);
      // A token another connection holds already stays with it: tokens are random, a clash is an attack or a bug.
      if (!this.resetTokens.has(key)) this.resetTokens.set(key, entry);
    }
    entry.resetTokens = now;
  }

  private dropResetTokens(entry: ConnectionEntry): void {
    for (const t of entry.resetTokens) {
      const key = tokenKey(t, 0);
      if (this.resetTokens.get(key) === entry) this.resetTokens.delete(key);
    }
    entry.resetTokens = [];
  }

  private endHandshake(entry: ConnectionEntry): void {
    if (entry.handshakeDeadline === undefined) return;
    entry.handshakeDeadline = undefined;
    this.handshaking--;
  }

  private finish(entry: ConnectionEntry, error?: unknown): void {
    if (this.table.get(entry.connection) !== entry) return;
    this.endHandshake(entry);
    this.table.remove(entry);
    this.ready.delete(entry);
    this.rekey.delete(entry);
    this.eventful.delete(entry);
    this.timers.set(entry, undefined);
    this.dropResetTokens(entry);
    entry.connection.onActivity = undefined;
    this.events.push(error === undefined ? { type: 'done', connection: entry.connection } : { type: 'done', connection: entry.connection, error });
  }

  /**
   * Forgets a connection at once (the application gave up on it): datagrams to
   * its connection IDs are then treated as for an unknown connection.
   */
  abandon(connection: QuicConnection): void {
    const entry = this.table.get(connection);
    if (entry) this.finish(entry);
  }

  /**
   * The next datagram to send and where to: the endpoint's own (Retry,
   * Version Negotiation, Stateless Reset) first, then its connections' in
   * turn. Undefined when none has anything to send now.
   */
  pollTransmit(now: number): Promise<Transmit | undefined> {
    return this.serial(async () => {
      const own = this.own.shift();
      if (own) return own;
      for (const entry of [...this.ready]) {
        // Out before the poll: a cue that comes while it runs (an application write) puts it back.
        this.ready.delete(entry);
        // What `call` does, written out: this runs for every datagram, and its closure and promises were garbage each time.
        let t: Transmit | undefined;
        try {
          t = await entry.connection.pollTransmit(now);
        } catch (e) {
          this.finish(entry, e);
          continue;
        }
        this.afterCall(entry, false);
        if (t) {
          if (this.table.get(entry.connection) === entry) this.ready.add(entry);
          return t;
        }
      }
      return undefined;
    });
  }

  /**
   * Up to `max` datagrams to send, as that many calls of {@link pollTransmit}
   * at `now` would give them (the endpoint's own first, then its connections'
   * in turn, a connection that filled its share going to the back): fewer only
   * when none has more to send now. One call, and one call into a connection,
   * for a run of datagrams rather than one each.
   */
  pollTransmits(now: number, max: number): Promise<Transmit[]> {
    return this.serial(async () => {
      const out: Transmit[] = [];
      while (out.length < max) {
        const own = this.own.shift();
        if (!own) break;
        out.push(own);
      }
      for (const entry of [...this.ready]) {
        if (out.length >= max) break;
        // Out before the poll: a cue that comes while it runs (an application write) puts it back.
        this.ready.delete(entry);
        let ts: Transmit[];
        try {
          ts = await entry.connection.pollTransmits(now, max - out.length);
        } catch (e) {
          this.finish(entry, e);
          continue;
        }
        this.afterCall(entry, false);
        for (const t of ts) out.push(t);
        // A connection that gave all it was asked for may have more: it stays ready, at the back.
        if (out.length >= max && this.table.get(entry.connection) === entry) this.ready.add(entry);
      }
      return out;
    });
  }

  /** When {@link handleTimeout} should next be called: the earliest of the connections' timers and the handshake deadlines. */
  pollTimeout(): number | undefined {
    this.rekeyTimers();
    return this.timers.peek();
  }

  /** Keys again the deadlines that may have moved. */
  private rekeyTimers(): void {
    for (const entry of this.rekey) {
      let next = entry.connection.pollTimeout();
      if (next !== undefined && !Number.isFinite(next)) next = undefined;
      const h = entry.handshakeDeadline;
      if (h !== undefined && (next === undefined || h < next)) next = h;
      this.timers.set(entry, next);
    }
    this.rekey.clear();
  }

  /** Runs the timers that are due: connections' timers, and handshakes past their deadline are closed. */
  handleTimeout(now: number): Promise<void> {
    return this.serial(async () => {
      this.rekeyTimers();
      // Taken out first: a deadline a due connection sets while it runs (it may be `now` again) waits for the next call.
      const due: ConnectionEntry[] = [];
      for (let e = this.timers.popDue(now); e; e = this.timers.popDue(now)) due.push(e);
      for (const entry of due) {
        if (this.table.get(entry.connection) !== entry) continue;
        const c = entry.connection;
        // Keyed again after this, whatever happens below.
        this.rekey.add(entry);
        if (entry.handshakeDeadline !== undefined && now >= entry.handshakeDeadline) {
          // A client that keeps its handshake alive without finishing it would otherwise hold its slot for ever.
          this.endHandshake(entry);
          c.close(now, 0, 'handshake timeout');
          this.ready.add(entry);
        }
        const t = c.pollTimeout();
        if (t !== undefined && t <= now) {
          this.ready.add(entry);
          await this.call(entry, (conn) => conn.handleTimeout(now));
        } else this.afterCall(entry);
      }
    }).catch(() => undefined);
  }

  /** The next endpoint event, or undefined. A connection's own events are read with its `poll()`. */
  poll(): QuicEndpointEvent | undefined {
    return this.events.shift();
  }

  /** The next event of any connection the endpoint routes to, with the connection, or undefined. */
  pollConnectionEvent(): { readonly connection: QuicConnection; readonly event: QuicEvent } | undefined {
    for (const e of this.eventful) {
      const event = e.connection.poll();
      if (event) return { connection: e.connection, event };
      this.eventful.delete(e);
    }
    return undefined;
  }

  /** Runs `f` after every call made before it (as {@link QuicConnection}'s calls are run). */
  private serial<T>(f: () => Promise<T>): Promise<T> {
    const run = this.queue.then(f);
    this.queue = run.catch(() => undefined);
    return run;
  }
}

/** 16 bytes of `b` from `at` (a stateless reset token) as a map key, as {@link cidKey} makes one: two bytes a UTF-16 code unit. */
function tokenKey(b: Uint8Array, at: number): string {
  let s = '';
  for (let i = at; i < at + 16; i += 2) s += String.fromCharCode((b[i] as number) << 8 | (b[i + 1] as number));
  return s;
}

/** The options a new server connection gets: the endpoint's reset key, so its tokens match the resets we send. */
function serverOptions(o: QuicServerOptions, resetKey: Uint8Array | undefined): QuicServerOptions {
  const { retry: _r, maxConcurrentHandshakes: _m, handshakeTimeoutMs: _h, qlogPerConnection: _q, ...rest } = o as QuicEndpointServerOptions;
  return resetKey ? { ...rest, statelessResetKey: resetKey } : rest;
}
