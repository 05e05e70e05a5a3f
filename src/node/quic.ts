import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { EventEmitter } from 'node:events';
import { createNobleProvider } from '../pq/index.js';
import { toHex } from '../bytes.js';
import { encodeVersionNegotiation, parsePacket } from '../quic/header.js';
import { DEFAULT_QUIC_VERSIONS, versionTable } from '../quic/versions.js';
import { QuicConnection, type QuicClientOptions, type QuicEvent, type QuicServerOptions } from '../quic/connection/connection.js';
import { openFirstInitial } from '../quic/first-initial.js';
import { PendingZeroRtt } from '../quic/connection/zero-rtt.js';
import { ConfigError } from '../errors.js';
import { RetryTokens, type ValidatedAddress } from '../quic/connection/address-validation.js';
import { encodeStatelessReset, statelessResetLength, statelessResetToken } from '../quic/stateless-reset.js';
import type { HandshakeInfo } from '../tls13/handshake/common.js';
import { resolveServerOptions } from '../tls13/config.js';

const now = (): number => performance.timeOrigin + performance.now();

/**
 * Datagrams received for one session and not yet handled. UDP arrives as fast as
 * the sender likes (anyone can send to a known connection ID); past this many
 * waiting, more are dropped as the network could have dropped them.
 */
export const MAX_QUEUED_DATAGRAMS = 256;

/**
 * A QUIC connection on a UDP socket: the sans-IO {@link QuicConnection} plus
 * the socket, a timer and an event emitter. Emits `connected`, `stream`
 * (a stream event), `closed`.
 */
export class QuicSession extends EventEmitter {
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();
  private failed = false;
  /** Datagrams passed to {@link receive} and not yet handled. */
  private queued = 0;
  /**
   * What the handshake negotiated, once `connected` has been emitted: a
   * client from {@link quicConnect} only gets the session after that event.
   */
  handshake: HandshakeInfo | undefined;

  constructor(
    readonly connection: QuicConnection,
    private readonly send: (d: Uint8Array) => void,
    private readonly onDone?: () => void,
  ) {
    super();
  }

  /** Feeds a datagram (in order with every other call on this session). */
  receive(d: Uint8Array): void {
    if (this.queued >= MAX_QUEUED_DATAGRAMS) return;
    this.queued++;
    void this.run(() => {
      this.queued--;
      return this.connection.handleDatagram(d, now());
    });
  }

  /**
   * Runs `f` on the connection, then sends what it queued, reports events and
   * re-arms the timer. The promise never rejects: a failure ends this session
   * (see {@link fail}).
   */
  run(f: () => unknown): Promise<void> {
    this.chain = this.chain.then(async () => {
      if (this.failed) return;
      await f();
      await this.flush();
    }).catch((e: unknown) => this.fail(e));
    return this.chain;
  }

  /**
   * Something threw (the connection, the provider, a listener): this session
   * alone ends, with `error` (when anyone listens: an unheard `error` would
   * only turn into an unhandled rejection) and then `done`.
   */
  private fail(e: unknown): void {
    if (this.failed) return;
    this.failed = true;
    clearTimeout(this.timer);
    try {
      this.onDone?.();
      if (this.listenerCount('error') > 0) this.emit('error', e);
    } catch {
      // A listener threw while we reported a failure: there is no one left to tell.
    }
    try {
      this.emit('done');
    } catch {
      // as above
    }
  }

  private async flush(): Promise<void> {
    for (let d = (await this.connection.pollTransmit(now()))?.data; d; d = (await this.connection.pollTransmit(now()))?.data) this.send(d);
    for (let e: QuicEvent | undefined = this.connection.poll(); e; e = this.connection.poll()) {
      if (e.type === 'stream') this.emit('stream', e.event);
      else {
        if (e.type === 'connected') this.handshake = e.info;
        this.emit(e.type, e);
      }
    }
    clearTimeout(this.timer);
    if (this.connection.isClosed) {
      this.onDone?.();
      this.emit('done');
      return;
    }
    const t = this.connection.pollTimeout();
    if (t !== undefined) {
      this.timer = setTimeout(() => void this.run(() => this.connection.handleTimeout(now())), Math.max(0, t - now()));
      this.timer.unref();
    }
  }

  /** Opens a stream, writes `data` and optionally FIN. */
  write(id: number, data: Uint8Array, fin = false): Promise<void> {
    return this.run(() => this.connection.writeStream(id, data, fin));
  }

  close(errorCode = 0, reason = ''): Promise<void> {
    return this.run(() => this.connection.close(now(), errorCode, reason));
  }
}

export type QuicConnectOptions = Omit<QuicClientOptions, 'tls'> & {
  readonly host: string;
  readonly port: number;
  readonly tls: Omit<QuicClientOptions['tls'], 'provider' | 'now'> & Partial<Pick<QuicClientOptions['tls'], 'provider' | 'now'>>;
  /**
   * With `earlyData` and a ticket in `tls.sessionStore` that allows 0-RTT: called
   * once before the first datagram leaves, so that streams opened and written
   * on `session.connection` here go in 0-RTT packets (RFC 9001 §4.6.1). Once
   * connected, `session.connection.earlyData` (or `session.handshake.earlyData`)
   * says whether the server accepted them; rejected data is resent in 1-RTT.
   */
  readonly onEarlyData?: (session: QuicSession) => void;
};

/** Connects over UDP; resolves once the handshake completes. */
export async function quicConnect(options: QuicConnectOptions): Promise<QuicSession> {
  const provider = options.tls.provider ?? createNobleProvider();
  const sock: Socket = createSocket(options.host.includes(':') ? 'udp6' : 'udp4');
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(0, () => {
      sock.off('error', reject);
      resolve();
    });
  });
  let conn: QuicConnection;
  try {
    conn = await QuicConnection.connect({ ...options, tls: { ...options.tls, provider, now: options.tls.now ?? Date.now } }, now());
  } catch (e) {
    sock.close();
    throw e;
  }
  const session = new QuicSession(conn, (d) => sendQuietly(sock, d, options.port, options.host), () => closeQuietly(sock));
  sock.on('message', (msg: Buffer) => session.receive(new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength)));
  sock.on('error', (e) => void session.run(() => {
    throw e;
  }));
  // Listening before the first run: a failure there must reach this promise, not an empty room.
  const result = new Promise<QuicSession>((resolve, reject) => {
    session.once('connected', () => resolve(session));
    session.once('closed', (e: QuicEvent) => reject(new Error(`QUIC connection closed during the handshake: ${e.type === 'closed' ? `${e.code} ${e.reason}` : ''}`)));
    session.once('error', reject);
    session.once('done', () => reject(new Error('QUIC connection ended during the handshake')));
  });
  void session.run(() => {
    if (options.onEarlyData && conn.earlyData === 'attempted') options.onEarlyData(session);
  });
  return result;
}

/** UDP is best effort: a send that fails (socket closed, unroutable address) is a lost datagram, not a crash. */
function sendQuietly(sock: Socket, d: Uint8Array, port: number, address: string): void {
  try {
    sock.send(d, port, address, () => undefined);
  } catch {
    // lost
  }
}

function closeQuietly(sock: Socket): void {
  try {
    sock.close();
  } catch {
    // already closed
  }
}

export type QuicListenOptions = Omit<QuicServerOptions, 'tls'> & {
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

const DEFAULT_MAX_CONCURRENT_HANDSHAKES = 256;
const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
/** Datagrams for a connection still being set up that wait for it; more are dropped (the client retransmits). */
const MAX_QUEUED_WHILE_STARTING = 8;

/**
 * A QUIC server endpoint on one UDP socket: routes datagrams by destination
 * connection ID, accepts new connections from Initial packets that decrypt,
 * and hands each session to `onConnection` as soon as it exists (listen for
 * `connected`). With `retry`, the socket emits `retry` (with the client's
 * address) for each Retry it sends.
 */
export function createQuicServer(options: QuicListenOptions, onConnection: (s: QuicSession) => void): QuicServerSocket {
  const provider = options.tls.provider ?? createNobleProvider();
  // One reset key per endpoint: it answers packets for connections it no longer has (RFC 9000 §10.3).
  const resetKey = options.statelessResetKey ?? globalThis.crypto.getRandomValues(new Uint8Array(32));
  let opts: QuicServerOptions = { ...options, statelessResetKey: resetKey, tls: { ...options.tls, provider, now: options.tls.now ?? Date.now } };
  const maxHandshakes = options.maxConcurrentHandshakes ?? DEFAULT_MAX_CONCURRENT_HANDSHAKES;
  if (!Number.isInteger(maxHandshakes) || maxHandshakes < 1) throw new ConfigError('maxConcurrentHandshakes must be a positive integer');
  const handshakeTimeoutMs = options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
  if (!(handshakeTimeoutMs > 0)) throw new ConfigError('handshakeTimeoutMs must be positive');
  const sock = createSocket('udp4');
  const versions = versionTable(options.versions ?? DEFAULT_QUIC_VERSIONS);
  const tokens = options.retry ? RetryTokens.create(provider, { versions: versions.versions }) : undefined;
  // Awaited on each Initial; a failure there must not also surface as an unhandled rejection now.
  tokens?.catch(() => undefined);
  const byCid = new Map<string, QuicSession>();
  /** First Initials being checked and accepted, by their DCID, with how many later datagrams wait on each. */
  const starting = new Map<string, { session: Promise<QuicSession | undefined>; queued: number }>();
  /** Sessions whose handshake has not completed. */
  const handshaking = new Set<QuicSession>();
  /** 0-RTT datagrams that overtook their connection's first Initial (bounded). */
  const early = new PendingZeroRtt();
  const send = (d: Uint8Array, from: RemoteInfo): void => sendQuietly(sock, d, from.port, from.address);
  sock.on('message', (msg: Buffer, from: RemoteInfo) => onDatagram(new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength), from));
  function onDatagram(d: Uint8Array, from: RemoteInfo): void {
    let dcid: string;
    let shortHeader: boolean;
    let initial: boolean;
    let zeroRtt: boolean;
    try {
      const packet = parsePacket(d, 0, { shortDcidLength: 8, versions }).packet;
      if (packet.type === 'unsupported-version') {
        // §6.1: a datagram big enough to start a connection, in a version we do not speak, gets our list.
        if (d.length >= 1200) send(encodeVersionNegotiation(packet.dcid, packet.scid, versions.numbers), from);
        return;
      }
      dcid = toHex(packet.dcid);
      shortHeader = 'pnOffset' in packet && packet.type === '1rtt';
      initial = 'pnOffset' in packet && packet.type === 'initial';
      zeroRtt = 'pnOffset' in packet && packet.type === '0rtt';
    } catch {
      return; // not a QUIC packet we can route
    }
    const known = byCid.get(dcid);
    if (known) return known.receive(d);
    if (shortHeader) {
      statelessReset(d, from).catch(() => undefined);
      return;
    }
    const pending = starting.get(dcid);
    if (pending) {
      // If the datagram that got there first does not decrypt (a corrupted or forged copy), a queued one
      // may still start the connection: it is looked at afresh once the first is dropped.
      if (pending.queued++ < MAX_QUEUED_WHILE_STARTING) void pending.session.then((s) => (s ? s.receive(d) : onDatagram(d, from)));
      return;
    }
    if (zeroRtt) {
      early.add(dcid, d, now());
      return;
    }
    // Only a client's Initial, in a datagram of full size (RFC 9000 §14.1), may start a connection.
    if (!initial || d.length < 1200) return;
    const busy = handshaking.size + starting.size >= maxHandshakes;
    if (busy && !tokens) return;
    const address = `${from.address}:${from.port}`;
    const session = admit(d, address).then(async (validated) => {
      if (validated === 'retried' || busy) return undefined;
      // Stateless first: a datagram that only looks like an Initial costs a key derivation and a failed
      // decryption, never a connection; the client's connection IDs come from a packet that authenticated.
      if (!(await openFirstInitial(provider, d, versions))) return undefined;
      // The options of the moment this connection is accepted: a later setCertificate does not reach it.
      const conn = await QuicConnection.accept(opts, d, now(), validated);
      const keys = [dcid, toHex(conn.localCid)];
      // A client that keeps its handshake alive without finishing it (each packet restarts the idle
      // timer) would otherwise hold its slot for ever: the handshake's lifetime is capped too.
      const deadline = setTimeout(() => {
        if (!handshaking.delete(s)) return;
        void s.close(0, 'handshake timeout');
      }, handshakeTimeoutMs);
      deadline.unref();
      const s = new QuicSession(conn, (out) => send(out, from), () => {
        keys.forEach((k) => byCid.delete(k));
        handshaking.delete(s);
        clearTimeout(deadline);
      });
      for (const k of keys) byCid.set(k, s);
      handshaking.add(s);
      s.once('connected', () => {
        handshaking.delete(s);
        clearTimeout(deadline);
      });
      try {
        onConnection(s);
      } catch (e) {
        // The application's handler threw: that ends this connection (with `error` to whoever listens), not the endpoint.
        void s.run(() => {
          throw e;
        });
        return s;
      }
      void s.run(() => undefined);
      for (const e of early.take(dcid, now())) s.receive(e);
      return s;
    }).catch(() => undefined) // not a valid first Initial, or the provider failed: dropped, as RFC 9000 §5.2.2 allows
      .finally(() => {
        if (starting.get(dcid)?.session === session) starting.delete(dcid);
      });
    // Over the cap, Retries are stateless: they are not tracked as connections starting.
    if (!busy) starting.set(dcid, { session, queued: 0 });
  }
  /** A 1-RTT packet for a connection we do not have: answer with a Stateless Reset, smaller than the trigger (§10.3). */
  async function statelessReset(d: Uint8Array, from: RemoteInfo): Promise<void> {
    const len = statelessResetLength(d.length);
    if (len === undefined) return;
    const token = await statelessResetToken(provider, resetKey, parsePacket(d, 0, { shortDcidLength: 8 }).packet.dcid);
    send(encodeStatelessReset(token, await provider.random(len - 16)), from);
  }

  /** With Retry on: a token-less Initial gets a Retry; one with a valid token is admitted with what it proves. */
  async function admit(d: Uint8Array, address: string): Promise<ValidatedAddress | undefined | 'retried'> {
    if (!tokens) return undefined;
    const t = await tokens;
    const validated = await t.validate(d, address, now());
    if (validated) return validated;
    const retry = await t.retryFor(d, address, now());
    const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
    if (retry) {
      sendQuietly(sock, retry, port, host);
      sock.emit('retry', address);
    }
    return 'retried';
  }
  const setCertificate = (certificate: QuicServerOptions['tls']['certificate']): void => {
    const next: QuicServerOptions = { ...opts, tls: { ...opts.tls, certificate } };
    resolveServerOptions(next.tls);
    opts = next;
  };
  return Object.assign(sock, { setCertificate });
}
