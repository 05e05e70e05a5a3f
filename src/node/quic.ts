import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { EventEmitter } from 'node:events';
import { createNobleProvider } from '../pq/index.js';
import { toHex } from '../bytes.js';
import { encodeVersionNegotiation, parsePacket } from '../quic/header.js';
import { DEFAULT_QUIC_VERSIONS, versionTable } from '../quic/versions.js';
import { QuicConnection, type QuicClientOptions, type QuicEvent, type QuicServerOptions } from '../quic/connection/connection.js';
import { openFirstInitial } from '../quic/first-initial.js';
import { ConfigError } from '../errors.js';
import { RetryTokens, type ValidatedAddress } from '../quic/connection/address-validation.js';
import { encodeStatelessReset, statelessResetLength, statelessResetToken } from '../quic/stateless-reset.js';
import type { HandshakeInfo } from '../tls13/handshake/common.js';
import { resolveServerOptions } from '../tls13/config.js';
import type { EndpointEvent, RemoteAddress } from '../quic/connection/path.js';
import type { PreferredAddress } from '../quic/transport-parameters.js';

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

  /** Set by {@link quicConnect}: moves the client to a new UDP socket (see {@link migrate}). */
  rebind: (() => Promise<void>) | undefined;

  constructor(
    readonly connection: QuicConnection,
    private readonly send: (d: Uint8Array, remote: RemoteAddress) => void,
    private readonly onDone?: () => void,
  ) {
    super();
  }

  /** Feeds a datagram from `remote` (default: the current path), in order with every other call on this session. */
  receive(d: Uint8Array, remote?: RemoteAddress): void {
    if (this.queued >= MAX_QUEUED_DATAGRAMS) return;
    this.queued++;
    void this.run(() => {
      this.queued--;
      return this.connection.handleDatagram(d, now(), remote);
    });
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
    for (let t = await this.connection.pollTransmit(now()); t; t = await this.connection.pollTransmit(now())) this.send(t.data, t.remote);
    // Connection IDs to route to this session from now on, or no longer (RFC 9000 §5.1).
    for (let e = this.connection.pollEndpointEvent(); e; e = this.connection.pollEndpointEvent()) this.emit('cid', e);
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
};

/** Connects over UDP; resolves once the handshake completes. */
export async function quicConnect(options: QuicConnectOptions): Promise<QuicSession> {
  const provider = options.tls.provider ?? createNobleProvider();
  const family = options.host.includes(':') ? 'udp6' : 'udp4';
  let sock = await boundSocket(family);
  // The server's preferred address (RFC 9000 §9.6), once the connection asks to validate it: its datagrams are told apart.
  let preferred: RemoteAddress | undefined;
  const preferredAddressRemote = options.preferredAddressRemote ?? ((a: PreferredAddress): RemoteAddress | undefined => {
    preferred = family === 'udp4' ? (a.ipv4Port ? `${a.ipv4Address.join('.')}:${a.ipv4Port}` : undefined)
      : (a.ipv6Port ? `[${ipv6Text(a.ipv6Address)}]:${a.ipv6Port}` : undefined);
    return preferred;
  });
  let conn: QuicConnection;
  try {
    conn = await QuicConnection.connect({ ...options, preferredAddressRemote, tls: { ...options.tls, provider, now: options.tls.now ?? Date.now } }, now());
  } catch (e) {
    sock.close();
    throw e;
  }
  // The server's handshake address is the connection's '' (its default path); any other is named `host:port`.
  const session = new QuicSession(conn, (d, remote) => {
    const to = remote === '' ? { host: options.host, port: options.port } : parseAddress(remote);
    if (to) sendQuietly(sock, d, to.port, to.host);
  }, () => closeQuietly(sock));
  const listen = (s: Socket): void => {
    s.on('message', (msg: Buffer, from: RemoteInfo) => {
      const key = addressKey(from);
      session.receive(new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength), key === preferred ? key : '');
    });
    s.on('error', (e) => void session.run(() => {
      if (s === sock) throw e;
    }));
  };
  listen(sock);
  session.rebind = async () => {
    const next = await boundSocket(family);
    let refused: unknown;
    await session.run(async () => {
      try {
        await conn.migrate(now());
      } catch (e) {
        refused = e;
        return;
      }
      // Before this run's flush: the first packets on the new path leave from the new socket.
      const old = sock;
      sock = next;
      listen(next);
      closeQuietly(old);
    });
    if (refused !== undefined) {
      closeQuietly(next);
      throw refused;
    }
  };
  // Listening before the first run: a failure there must reach this promise, not an empty room.
  const result = new Promise<QuicSession>((resolve, reject) => {
    session.once('connected', () => resolve(session));
    session.once('closed', (e: QuicEvent) => reject(new Error(`QUIC connection closed during the handshake: ${e.type === 'closed' ? `${e.code} ${e.reason}` : ''}`)));
    session.once('error', reject);
    session.once('done', () => reject(new Error('QUIC connection ended during the handshake')));
  });
  void session.run(() => undefined);
  return result;
}

function boundSocket(family: 'udp4' | 'udp6', port = 0, address?: string): Promise<Socket> {
  const s = createSocket(family);
  return new Promise<Socket>((resolve, reject) => {
    s.once('error', reject);
    s.bind(port, address, () => {
      s.off('error', reject);
      resolve(s);
    });
  });
}

/** A peer's address as the path key of RFC 9000 §9 (src/quic/connection/path.ts): `host:port`, `[v6]:port`. */
function addressKey(from: { address: string; port: number }): RemoteAddress {
  return from.address.includes(':') ? `[${from.address}]:${from.port}` : `${from.address}:${from.port}`;
}

function parseAddress(key: RemoteAddress): { host: string; port: number } | undefined {
  const m = /^\[?([^\]]*)\]?:(\d+)$/.exec(key);
  return m ? { host: m[1] as string, port: Number(m[2]) } : undefined;
}

function ipv6Text(a: Uint8Array): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((a[i] as number) << 8) | (a[i + 1] as number)).toString(16));
  return groups.join(':');
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
/** Prefix of the path key of a client reached through the preferred address's socket. */
const PREFERRED = 'pref|';
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
  const send = (d: Uint8Array, from: RemoteInfo): void => sendQuietly(sock, d, from.port, from.address);
  sock.on('message', (msg: Buffer, from: RemoteInfo) => onDatagram(new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength), from));
  // The preferred address (RFC 9000 §9.6) is a second socket: a path through it is keyed `pref|host:port`, and answered from it.
  const pa = options.preferredAddress?.ipv4;
  let prefSock: Socket | undefined;
  if (pa) {
    prefSock = createSocket('udp4');
    prefSock.on('message', (msg: Buffer, from: RemoteInfo) => onDatagram(new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength), from, PREFERRED));
    prefSock.on('error', () => undefined);
    prefSock.bind(pa.port, pa.address.join('.'));
    sock.once('close', () => closeQuietly(prefSock as Socket));
  }
  /** Sends to a path key: `host:port` from the main socket, `pref|host:port` from the preferred one. */
  const sendTo = (d: Uint8Array, remote: RemoteAddress): void => {
    const viaPref = remote.startsWith(PREFERRED);
    const to = parseAddress(viaPref ? remote.slice(PREFERRED.length) : remote);
    if (to) sendQuietly(viaPref && prefSock ? prefSock : sock, d, to.port, to.host);
  };
  function onDatagram(d: Uint8Array, from: RemoteInfo, via = ''): void {
    const remote = via + addressKey(from);
    let dcid: string;
    let shortHeader: boolean;
    let initial: boolean;
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
    } catch {
      return; // not a QUIC packet we can route
    }
    const known = byCid.get(dcid);
    if (known) return known.receive(d, remote);
    if (shortHeader) {
      statelessReset(d, from).catch(() => undefined);
      return;
    }
    const pending = starting.get(dcid);
    if (pending) {
      // If the datagram that got there first does not decrypt (a corrupted or forged copy), a queued one
      // may still start the connection: it is looked at afresh once the first is dropped.
      if (pending.queued++ < MAX_QUEUED_WHILE_STARTING) void pending.session.then((s) => (s ? s.receive(d, remote) : onDatagram(d, from, via)));
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
      const conn = await QuicConnection.accept(opts, d, now(), validated, remote);
      const keys = [dcid, toHex(conn.localCid)];
      // A client that keeps its handshake alive without finishing it (each packet restarts the idle
      // timer) would otherwise hold its slot for ever: the handshake's lifetime is capped too.
      const deadline = setTimeout(() => {
        if (!handshaking.delete(s)) return;
        void s.close(0, 'handshake timeout');
      }, handshakeTimeoutMs);
      deadline.unref();
      const s = new QuicSession(conn, sendTo, () => {
        keys.forEach((k) => byCid.delete(k));
        handshaking.delete(s);
        clearTimeout(deadline);
      });
      for (const k of keys) byCid.set(k, s);
      // Connection IDs it issues are routed to it until retired or the session ends (RFC 9000 §5.1).
      s.on('cid', (e: EndpointEvent) => {
        const k = toHex(e.cid);
        if (e.type === 'cid-issued') {
          keys.push(k);
          byCid.set(k, s);
        } else if (byCid.get(k) === s) byCid.delete(k);
      });
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
