import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { EventEmitter } from 'node:events';
import { createNobleProvider } from '../pq/noble/index.js';
import { toHex } from '../bytes.js';
import { encodeVersionNegotiation, parsePacket } from '../quic/header.js';
import { DEFAULT_QUIC_VERSIONS, versionTable } from '../quic/versions.js';
import { QuicConnection, type QuicClientOptions, type QuicEvent, type QuicServerOptions } from '../quic/connection/connection.js';
import { RetryTokens, type ValidatedAddress } from '../quic/connection/address-validation.js';
import { encodeStatelessReset, statelessResetLength, statelessResetToken } from '../quic/stateless-reset.js';
import type { HandshakeInfo } from '../tls13/handshake/common.js';

const now = (): number => performance.timeOrigin + performance.now();

/**
 * A QUIC connection on a UDP socket: the sans-IO {@link QuicConnection} plus
 * the socket, a timer and an event emitter. Emits `connected`, `stream`
 * (a stream event), `closed`.
 */
export class QuicSession extends EventEmitter {
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();
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
    this.run(() => this.connection.handleDatagram(d, now()));
  }

  /** Runs `f` on the connection, then sends what it queued, reports events and re-arms the timer. */
  run(f: () => unknown): Promise<void> {
    this.chain = this.chain.then(async () => {
      await f();
      await this.flush();
    }).catch((e: unknown) => {
      this.emit('error', e);
    });
    return this.chain;
  }

  private async flush(): Promise<void> {
    for (let d = await this.connection.pollTransmit(now()); d; d = await this.connection.pollTransmit(now())) this.send(d);
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
  const sock: Socket = createSocket(options.host.includes(':') ? 'udp6' : 'udp4');
  await new Promise<void>((resolve) => sock.bind(0, resolve));
  const conn = await QuicConnection.connect({ ...options, tls: { ...options.tls, provider, now: options.tls.now ?? Date.now } }, now());
  const session = new QuicSession(conn, (d) => sock.send(d, options.port, options.host), () => sock.close());
  sock.on('message', (msg: Buffer) => session.receive(new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength)));
  await session.run(() => undefined);
  return new Promise((resolve, reject) => {
    session.once('connected', () => resolve(session));
    session.once('closed', (e: QuicEvent) => reject(new Error(`QUIC connection closed during the handshake: ${e.type === 'closed' ? `${e.code} ${e.reason}` : ''}`)));
    session.once('error', reject);
  });
}

export type QuicListenOptions = Omit<QuicServerOptions, 'tls'> & {
  readonly tls: Omit<QuicServerOptions['tls'], 'provider' | 'now'> & Partial<Pick<QuicServerOptions['tls'], 'provider' | 'now'>>;
  /** Validate client addresses with a stateless Retry before any handshake work (RFC 9000 §8.1.2). */
  readonly retry?: boolean;
};

/**
 * A QUIC server endpoint on one UDP socket: routes datagrams by destination
 * connection ID, accepts new connections from Initial packets, and hands each
 * session to `onConnection` as soon as it exists (listen for `connected`).
 * With `retry`, the socket emits `retry` (with the client's address) for each
 * Retry it sends.
 */
export function createQuicServer(options: QuicListenOptions, onConnection: (s: QuicSession) => void): Socket {
  const provider = options.tls.provider ?? createNobleProvider();
  // One reset key per endpoint: it answers packets for connections it no longer has (RFC 9000 §10.3).
  const resetKey = options.statelessResetKey ?? globalThis.crypto.getRandomValues(new Uint8Array(32));
  const opts: QuicServerOptions = { ...options, statelessResetKey: resetKey, tls: { ...options.tls, provider, now: options.tls.now ?? Date.now } };
  const sock = createSocket('udp4');
  const versions = versionTable(options.versions ?? DEFAULT_QUIC_VERSIONS);
  const tokens = options.retry ? RetryTokens.create(provider, { versions: versions.versions }) : undefined;
  const byCid = new Map<string, QuicSession>();
  const starting = new Map<string, Promise<QuicSession | undefined>>();
  sock.on('message', (msg: Buffer, from: RemoteInfo) => {
    const d = new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength);
    let dcid: string;
    let shortHeader: boolean;
    try {
      const packet = parsePacket(d, 0, { shortDcidLength: 8, versions }).packet;
      if (packet.type === 'unsupported-version') {
        // §6.1: a datagram big enough to start a connection, in a version we do not speak, gets our list.
        if (d.length >= 1200) sock.send(encodeVersionNegotiation(packet.dcid, packet.scid, versions.numbers), from.port, from.address);
        return;
      }
      dcid = toHex(packet.dcid);
      shortHeader = 'pnOffset' in packet && packet.type === '1rtt';
    } catch {
      return; // not a QUIC packet we can route
    }
    const known = byCid.get(dcid);
    if (known) return known.receive(d);
    if (shortHeader) {
      void statelessReset(d, from);
      return;
    }
    const pending = starting.get(dcid);
    if (pending) {
      void pending.then((s) => s?.receive(d));
      return;
    }
    const p = admit(d, `${from.address}:${from.port}`).then((validated) => {
      if (validated === 'retried') throw new Error('retried');
      return QuicConnection.accept(opts, d, now(), validated);
    }).then(
      (conn) => {
        const keys = [dcid, toHex(conn.localCid)];
        const s = new QuicSession(conn, (out) => sock.send(out, from.port, from.address), () => keys.forEach((k) => byCid.delete(k)));
        for (const k of keys) byCid.set(k, s);
        starting.delete(dcid);
        onConnection(s);
        void s.run(() => undefined);
        return s;
      },
      () => {
        starting.delete(dcid);
        return undefined; // not a valid first Initial: dropped, as RFC 9000 §5.2.2 allows
      },
    );
    starting.set(dcid, p);
  });
  /** A 1-RTT packet for a connection we do not have: answer with a Stateless Reset, smaller than the trigger (§10.3). */
  async function statelessReset(d: Uint8Array, from: RemoteInfo): Promise<void> {
    const len = statelessResetLength(d.length);
    if (len === undefined) return;
    const token = await statelessResetToken(provider, resetKey, parsePacket(d, 0, { shortDcidLength: 8 }).packet.dcid);
    sock.send(encodeStatelessReset(token, await provider.random(len - 16)), from.port, from.address);
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
      sock.send(retry, port, host);
      sock.emit('retry', address);
    }
    return 'retried';
  }
  return sock;
}
