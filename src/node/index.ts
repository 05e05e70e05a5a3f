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
import { createNobleProvider } from '../pq/noble/index.js';
import type { CryptoProvider } from '../pq/provider.js';
import { TicketKeyRing, type TicketSealer } from '../tls13/tickets.js';
import type { ClientOptions, ServerOptions } from '../tls13/config.js';
import { TlsConnection, type ConnectionLimits } from '../tls13/connection.js';
import { PqTlsSocket, envKeyLog } from './socket.js';

export { PqTlsSocket } from './socket.js';
export { createNodeCryptoProvider, type NodeCryptoProviderOptions } from './crypto-provider.js';
export { FileSessionStore } from './session-file.js';
export { QuicSession, quicConnect, createQuicServer, type QuicConnectOptions, type QuicListenOptions } from './quic.js';

type WithDefaults<T> = Omit<T, 'provider' | 'now'> & Partial<Pick<ClientOptions, 'provider' | 'now'>>;

/** Options for {@link connect}: the client options, where provider and clock default to noble and `Date.now`. */
export type ConnectOptions = WithDefaults<ClientOptions> & { host: string; port: number; limits?: ConnectionLimits };
export type PqTlsServerOptions = WithDefaults<ServerOptions> & { limits?: ConnectionLimits };

/** Opens a TCP connection and runs a TLS 1.3 client over it. `secureConnect` fires when the handshake completes. */
export function connect(options: ConnectOptions): Promise<PqTlsSocket> {
  const provider = options.provider ?? createNobleProvider();
  return new Promise((resolve, reject) => {
    const sock: Socket = netConnect({ host: options.host, port: options.port });
    sock.once('error', reject);
    sock.once('connect', () => {
      TlsConnection.client({ ...options, provider, now: options.now ?? Date.now, keyLog: options.keyLog ?? envKeyLog() }, options.limits).then(
        (conn) => {
          const s = new PqTlsSocket(conn, sock, 'client');
          sock.off('error', reject);
          s.once('secureConnect', () => resolve(s));
          s.once('error', reject);
          s.once('close', () => reject(new Error('connection closed before the handshake completed')));
        },
        (err: unknown) => {
          sock.destroy();
          reject(err);
        },
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
export function createServer(options: PqTlsServerOptions, onConnection: (socket: PqTlsSocket) => void): Server {
  const provider = options.provider ?? createNobleProvider();
  const opts: ServerOptions = {
    ...options, provider, now: options.now ?? Date.now, keyLog: options.keyLog ?? envKeyLog(),
    // Tickets by default, as OpenSSL and node:tls do, under a key ring private to this server.
    tickets: options.tickets ?? { sealer: lazyTicketRing(provider) },
  };
  // Validate once, so a misconfiguration throws here rather than on the first connection.
  TlsConnection.server(opts, options.limits);
  const server = netCreateServer((sock) => {
    const s = new PqTlsSocket(TlsConnection.server(opts, options.limits), sock, 'server');
    let secure = false;
    s.once('secure', () => {
      secure = true;
      onConnection(s);
    });
    // As with node:tls, `tlsClientError` is for failed handshakes; later errors belong to the socket's owner.
    s.on('error', (err) => {
      if (!secure) server.emit('tlsClientError', err, s);
    });
  });
  return server;
}
