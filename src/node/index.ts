/**
 * Node.js adapters: TLS over TCP (`connect`, `createServer`), QUIC over UDP
 * (`quicConnect`, `createQuicServer`), a crypto provider on `node:crypto`, and
 * a file-backed session store. The only entry that imports `node:*`; not part
 * of the root `pqtls` entry.
 *
 * Exported flat, like every pqtls entry.
 * @module
 */
import { connect as netConnect, createServer as netCreateServer, type Server, type Socket } from 'node:net';
import { createNobleProvider } from '../pq/index.js';
import type { CryptoProvider } from '../pq/provider.js';
import { TicketKeyRing, type TicketSealer } from '../tls13/tickets.js';
import type { ClientOptions, ServerOptions } from '../tls13/config.js';
import { TlsConnection, type ConnectionLimits } from '../tls13/connection.js';
import { ConfigError } from '../errors.js';
import { PqTlsSocket, envKeyLog } from './socket.js';
import { SocketReader } from './socket-reader.js';

export { PqTlsSocket } from './socket.js';
export { createNodeCryptoProvider, type NodeCryptoProviderOptions } from './crypto-provider.js';
export { nativePqSupport, type NativePqSupport } from './crypto/native-pq.js';
export { FileSessionStore } from './session-file.js';
export { QuicSession, quicConnect, createQuicServer, udpPathMtuCeiling, type QuicConnectOptions, type QuicListenOptions, type QuicServerSocket } from './quic.js';
export { nativeQuacLibrary, NativeQuac100, type NativeQuacOptions } from '../hw/quac100/native.js';
export { fileQuacStorage } from './quac-state.js';
export { QlogFileSink, qlogDirFromEnv } from './qlog-file.js';
export { createWebSocketRelay, type WebSocketRelayOptions } from './websocket-relay.js';

type WithDefaults<T> = Omit<T, 'provider' | 'now'> & Partial<Pick<ClientOptions, 'provider' | 'now'>>;

/** Options for {@link connect}: the client options, where provider and clock default to noble and `Date.now`. */
export type ConnectOptions = WithDefaults<ClientOptions> & {
  host: string;
  port: number;
  limits?: ConnectionLimits;
  /** The promise rejects and the connection is destroyed if the handshake has not completed after this long. Default 10 000 ms. */
  handshakeTimeoutMs?: number;
};
export type PqTlsServerOptions = WithDefaults<ServerOptions> & {
  limits?: ConnectionLimits;
  /** A connection whose handshake has not completed after this long is destroyed. Default 10 000 ms. */
  handshakeTimeoutMs?: number;
  /** Connections in handshake at once; a connection beyond this is closed as soon as it is accepted. Default 1024. */
  maxConcurrentHandshakes?: number;
};

/**
 * The `net.Server` of {@link createServer}, plus credential rotation without a
 * restart: `setCertificate` checks the new certificate and key as the options
 * were checked (throwing, and keeping the old one, if they are unusable); every
 * connection accepted afterwards uses them, connections already accepted keep
 * the one they started with.
 */
export type PqTlsServer = Server & { setCertificate(certificate: ServerOptions['certificate']): void };

const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_CONCURRENT_HANDSHAKES = 1024;

/** Opens a TCP connection and runs a TLS 1.3 client over it. `secureConnect` fires when the handshake completes. */
export function connect(options: ConnectOptions): Promise<PqTlsSocket> {
  const provider = options.provider ?? createNobleProvider();
  const timeoutMs = options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    // Half-open capable: a peer's FIN ends its direction only; ours ends with close_notify when the application ends it.
    const reader = SocketReader.supported ? new SocketReader() : undefined;
    const sock: Socket = netConnect({ host: options.host, port: options.port, allowHalfOpen: true, ...(reader && { onread: reader.onread }) });
    let s: PqTlsSocket | undefined;
    // A server that accepts the connection and then says nothing must not hold the caller forever.
    const timer = setTimeout(() => {
      const err = new Error(`TLS handshake not complete after ${timeoutMs} ms`);
      if (s) s.destroy(err);
      else fail(err);
    }, timeoutMs);
    timer.unref();
    const fail = (err: unknown): void => {
      clearTimeout(timer);
      sock.destroy();
      reject(err);
    };
    sock.once('error', fail);
    // Closed before a PqTlsSocket took the reader over (which then gives its buffer back): nothing reads it.
    if (reader) sock.once('close', () => s === undefined && reader.release());
    sock.once('connect', () => {
      TlsConnection.client({ ...options, provider, now: options.now ?? Date.now, keyLog: options.keyLog ?? envKeyLog() }, options.limits).then(
        (conn) => {
          s = new PqTlsSocket(conn, sock, 'client', reader);
          sock.off('error', fail);
          s.once('secureConnect', () => {
            clearTimeout(timer);
            resolve(s as PqTlsSocket);
          });
          s.once('error', fail);
          s.once('close', () => fail(new Error('connection closed before the handshake completed')));
        },
        fail,
      ).catch(
        // Setting up the socket threw (a listener, say): this connection fails, the process goes on.
        fail,
      );
    });
  });
}

/** A ticket key ring created on first use, so `createServer` can stay synchronous. */
function lazyTicketRing(provider: CryptoProvider): TicketSealer {
  let ring: Promise<TicketKeyRing> | undefined;
  const get = (): Promise<TicketKeyRing> => (ring ??= TicketKeyRing.create(provider));
  return { seal: async (p) => (await get()).seal(p), open: async (t) => (await get()).open(t) };
}

/**
 * A TCP server speaking TLS 1.3. `onConnection` receives each socket once its
 * handshake completes; failed handshakes emit `tlsClientError` on the server.
 */
export function createServer(options: PqTlsServerOptions, onConnection: (socket: PqTlsSocket) => void): PqTlsServer {
  const provider = options.provider ?? createNobleProvider();
  let opts: ServerOptions = {
    ...options, provider, now: options.now ?? Date.now, keyLog: options.keyLog ?? envKeyLog(),
    // Tickets by default, as OpenSSL and node:tls do, under a key ring private to this server.
    tickets: options.tickets ?? { sealer: lazyTicketRing(provider) },
  };
  // Validate once, so a misconfiguration throws here rather than on the first connection.
  TlsConnection.server(opts, options.limits);
  const timeoutMs = options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
  const maxHandshakes = options.maxConcurrentHandshakes ?? DEFAULT_MAX_CONCURRENT_HANDSHAKES;
  if (!(timeoutMs > 0) || !Number.isInteger(maxHandshakes) || maxHandshakes < 1) {
    throw new ConfigError('handshakeTimeoutMs must be positive and maxConcurrentHandshakes a positive integer');
  }
  // Half-open handshakes are what a peer gets for free: their number and their lifetime are both capped.
  let handshaking = 0;
  // Half-open capable, as for connect(): a client that half-closes behind its request still gets the reply.
  const server = netCreateServer({ allowHalfOpen: true }, (sock) => {
    if (handshaking >= maxHandshakes) {
      sock.destroy();
      return;
    }
    handshaking++;
    // Each connection resolves the options of the moment: a later setCertificate does not reach it.
    const s = new PqTlsSocket(TlsConnection.server(opts, options.limits), sock, 'server');
    let secure = false;
    const timer = setTimeout(() => s.destroy(new Error(`TLS handshake not complete after ${timeoutMs} ms`)), timeoutMs);
    timer.unref();
    let counted = true;
    const handshakeOver = (): void => {
      if (!counted) return;
      counted = false;
      handshaking--;
      clearTimeout(timer);
    };
    s.once('close', handshakeOver);
    s.once('secure', () => {
      secure = true;
      handshakeOver();
      onConnection(s);
    });
    // As with node:tls, `tlsClientError` is for failed handshakes; later errors belong to the socket's owner.
    s.on('error', (err) => {
      if (!secure) server.emit('tlsClientError', err, s);
    });
  });
  const setCertificate = (certificate: ServerOptions['certificate']): void => {
    const next: ServerOptions = { ...opts, certificate };
    TlsConnection.server(next, options.limits);
    opts = next;
  };
  return Object.assign(server, { setCertificate });
}
