/**
 * Our side of QUIC interop tests: a client session from `quicConnect` and an
 * echo server from `createQuicServer`, each recording what it negotiated and
 * the bytes it received, so tests can compare it with what the peer printed.
 */
import { onTestFinished } from 'vitest';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { concat, fromUtf8, utf8 } from '../../src/bytes.js';
import { createQuicServer, quicConnect, type QuicConnectOptions, type QuicListenOptions, type QuicSession } from '../../src/node/quic.js';
import type { StreamEvent } from '../../src/quic/connection/streams.js';
import type { HandshakeInfo } from '../../src/tls13/handshake/common.js';
import { spawnPeer } from './peers.js';

/** Bidirectional streams have bit 0x2 clear (RFC 9000 §2.1); only those can be echoed on. */
export function isBidi(id: number): boolean {
  return (id & 2) === 0;
}

/** Text received per stream and errors raised, for one session. */
export interface SessionLog {
  readonly session: QuicSession;
  /** Received data per stream ID (decoded as UTF-8 when read). */
  readonly streams: Map<number, Uint8Array[]>;
  readonly finished: Set<number>;
  readonly errors: unknown[];
  /** The `closed` event, once the connection closed. */
  closed: { code: number; application: boolean; reason: string; local: boolean } | undefined;
  text(id: number): string;
}

/**
 * Drains every readable stream of `session` into a log; `onData` sees each
 * chunk (and whether it ends the stream) right after it is read.
 */
export function logSession(session: QuicSession, onData?: (id: number, data: Uint8Array, fin: boolean) => void): SessionLog {
  const log: SessionLog = {
    session, streams: new Map(), finished: new Set(), errors: [], closed: undefined,
    text: (id) => fromUtf8(concat(...(log.streams.get(id) ?? []))),
  };
  session.on('error', (e: unknown) => log.errors.push(e));
  session.on('closed', (e: SessionLog['closed']) => {
    log.closed = e;
  });
  session.on('stream', (ev: StreamEvent) => {
    if (ev.type !== 'readable') return;
    for (let r = session.connection.readStream(ev.id); r; r = session.connection.readStream(ev.id)) {
      const chunks = log.streams.get(ev.id) ?? [];
      chunks.push(r.data);
      log.streams.set(ev.id, chunks);
      if (r.fin) log.finished.add(ev.id);
      onData?.(ev.id, r.data, r.fin);
      if (r.fin || r.data.length === 0) break;
    }
  });
  return log;
}

/** Polls `check` until it holds; rejects with `what` after `timeoutMs`. */
export async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A client session from `quicConnect`, closed when the test ends. */
export async function ourQuicClient(options: QuicConnectOptions): Promise<{ log: SessionLog; info: HandshakeInfo }> {
  const session = await quicConnect(options);
  onTestFinished(() => closeQuietly(session));
  const log = logSession(session);
  if (!session.handshake) throw new Error('quicConnect resolved before the handshake info was recorded');
  return { log, info: session.handshake };
}

/** Sends `text` on a new bidirectional stream with FIN and returns its ID. */
export async function sendOnNewStream(session: QuicSession, text: string): Promise<number> {
  const id = session.connection.openStream(true);
  await session.write(id, utf8(text), true);
  return id;
}

async function closeQuietly(session: QuicSession): Promise<void> {
  if (session.connection.isClosed) return;
  await session.close(0, 'test over');
}

/** Our QUIC server on 127.0.0.1 with every connection it accepted. */
export interface OurQuicServer {
  readonly port: number;
  readonly socket: Socket;
  readonly sessions: SessionLog[];
  /** Resolves with the first connection's log and handshake info once it is connected. */
  connected(timeoutMs?: number): Promise<{ log: SessionLog; info: HandshakeInfo }>;
}

/**
 * Listens with `createQuicServer` on an ephemeral port and echoes every
 * bidirectional stream the client opens (data as it comes, FIN with its FIN);
 * the client's unidirectional streams (HTTP/3 control, QPACK) are only read.
 * The socket closes when the test ends.
 */
export async function listenOurQuicServer(options: QuicListenOptions): Promise<OurQuicServer> {
  const sessions: SessionLog[] = [];
  const socket = createQuicServer(options, (session) => {
    sessions.push(logSession(session, (id, data, fin) => {
      if (isBidi(id)) void session.write(id, data, fin);
    }));
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => resolve());
  });
  onTestFinished(async () => {
    await Promise.all(sessions.map((s) => closeQuietly(s.session)));
    await new Promise<void>((r) => socket.close(() => r()));
  });
  return {
    port: socket.address().port,
    socket,
    sessions,
    async connected(timeoutMs = 10_000) {
      await until(() => sessions[0]?.session.handshake !== undefined, 'our server to complete a handshake', timeoutMs);
      const log = sessions[0] as SessionLog;
      return { log, info: log.session.handshake as HandshakeInfo };
    },
  };
}

/**
 * OpenSSL 3.5's `s_client -quic` against our echo server: it sends `message`;
 * this waits for s_client to report QUICv1, an mldsa65 peer signature and a
 * verified chain, for our server to receive the line and for s_client to print
 * the echo, then closes s_client's stdin: it must exit in time, with no verify
 * error, and our side must have logged no error. Resolves with our side's view.
 */
export async function sClientQuicEcho(
  server: OurQuicServer, o: { readonly caFile: string; readonly message: string; readonly lifetimeMs: number; readonly args?: readonly string[] },
): Promise<{ log: SessionLog; info: HandshakeInfo }> {
  const peer = spawnPeer('openssl', [
    's_client', '-quic', '-alpn', 'test', '-connect', `127.0.0.1:${server.port}`, ...(o.args ?? []),
    '-CAfile', o.caFile, '-servername', 'localhost', '-verify_return_error',
  ], { timeoutMs: o.lifetimeMs });
  peer.write(o.message);
  const ours = await server.connected();
  await peer.waitForLine('Protocol: QUICv1');
  await peer.waitForLine('Peer signature type: mldsa65');
  await peer.waitForLine('Verification: OK');
  await until(() => ours.log.text(0) === o.message, `our server to receive the s_client line (got ${JSON.stringify(ours.log.text(0))})`);
  // The echo comes back on the same bidirectional stream, printed by s_client.
  await peer.waitForLine(o.message.trim());
  peer.closeStdin();
  const exit = await peer.exited;
  if (exit.timedOut) throw new Error(`s_client did not exit in time:\n${peer.output}`);
  if (/verify error/i.test(peer.output)) throw new Error(`s_client reported a verify error:\n${peer.output}`);
  if (ours.log.errors.length) throw new Error(`our server logged errors: ${ours.log.errors.map(String).join('; ')}`);
  return ours;
}

/**
 * A UDP relay on 127.0.0.1 between one client and `serverPort`, recording
 * every datagram the server sends, so a test can see packets (a Retry, say)
 * that neither endpoint reports. Closed when the test ends.
 */
export async function udpRelay(serverPort: number): Promise<{ port: number; fromServer: Uint8Array[] }> {
  const fromServer: Uint8Array[] = [];
  const socket = createSocket('udp4');
  let client: { port: number; address: string } | undefined;
  socket.on('message', (msg: Buffer, from: RemoteInfo) => {
    if (from.port === serverPort) {
      fromServer.push(new Uint8Array(msg));
      if (client) socket.send(msg, client.port, client.address);
    } else {
      client = { port: from.port, address: from.address };
      socket.send(msg, serverPort, '127.0.0.1');
    }
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  onTestFinished(() => new Promise<void>((r) => socket.close(() => r())));
  return { port: socket.address().port, fromServer };
}

/** Whether `datagram` starts with a QUIC v1 Retry packet (long header, type 0x3: RFC 9000 §17.2.5). */
export function isV1Retry(datagram: Uint8Array): boolean {
  const first = datagram[0] ?? 0;
  const version = ((datagram[1] ?? 0) << 24 | (datagram[2] ?? 0) << 16 | (datagram[3] ?? 0) << 8 | (datagram[4] ?? 0)) >>> 0;
  return (first & 0x80) !== 0 && version === 1 && ((first >> 4) & 3) === 3;
}
