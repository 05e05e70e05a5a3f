import type { ClientOptions, ServerOptions } from '../tls13/config.js';
import { TlsConnection, type ConnectionLimits } from '../tls13/connection.js';
import type { HandshakeInfo } from '../tls13/handshake/common.js';

/**
 * What this adapter needs of a WebSocket: the shape shared by the browser's `WebSocket`, the `ws`
 * package's `WebSocket` and a Cloudflare Workers `WebSocket` (after `accept()`). Binary messages
 * only: each carries TLS record bytes, with no framing of its own (a message may hold part of a
 * record or several), as in `websockify` and the relays in front of TCP servers.
 */
export interface WebSocketLike {
  /** Set to 'arraybuffer' where the implementation has it, so messages do not arrive as Blobs. */
  binaryType?: string;
  readonly readyState: number;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open' | 'message' | 'close' | 'error', listener: (event: WebSocketEventLike) => void): void;
  removeEventListener(type: 'open' | 'message' | 'close' | 'error', listener: (event: WebSocketEventLike) => void): void;
}

/** The parts of a message, close or error event that are read. */
export interface WebSocketEventLike {
  readonly data?: unknown;
  readonly code?: number;
  readonly reason?: string;
}

/** Options of {@link tlsOverWebSocket} beyond the connection's own. */
export interface WebSocketTlsOptions {
  /** TLS connection limits (see {@link ConnectionLimits}). */
  readonly limits?: ConnectionLimits;
  /**
   * Most bytes received from the WebSocket and not yet taken by the TLS connection (default 1 MiB).
   * A WebSocket cannot be paused, so a peer that sends faster than the handshake's signature checks
   * or the reader consumes is cut off here rather than buffered without end.
   */
  readonly maxPendingBytes?: number;
  /** Most bytes of decrypted application data held until {@link TlsWebSocket.read} takes them (default 4 MiB). */
  readonly maxUnreadBytes?: number;
}

/**
 * The WebSocket side ended the connection: it closed without close_notify, failed, carried a text
 * message, or sent more than a bound allows. TLS's own failures reject with their `PqtlsError`.
 */
export class WebSocketTransportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebSocketTransportError';
  }
}

/** Largest message sent (a few TLS records). */
const MAX_MESSAGE = 64 * 1024;
const CONNECTING = 0;
const OPEN = 1;

/** A TLS 1.3 connection running over a WebSocket. */
export interface TlsWebSocket {
  readonly connection: TlsConnection;
  /** Resolves when the handshake completes; rejects if the connection ends first. */
  readonly handshake: Promise<HandshakeInfo>;
  /** The next chunk of application data; `undefined` once the peer has closed (close_notify). Rejects on an error. */
  read(): Promise<Uint8Array | undefined>;
  /** Encrypts and sends `data` (held back until the handshake has its keys). */
  write(data: Uint8Array): Promise<void>;
  /** Sends close_notify, then closes the WebSocket. */
  close(): Promise<void>;
  /** Resolves when the WebSocket has closed; the error, if one ended the connection. */
  readonly closed: Promise<Error | undefined>;
}

/** Copies a message's payload into a Uint8Array, or undefined for a text (or unknown) message. */
function bytesOf(data: unknown): Uint8Array | undefined {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  // A Uint8Array (ws's Buffer is one) or another view: the adapter keeps no reference past the call.
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return undefined;
}

/**
 * Runs `conn` over `ws`: incoming binary messages go to `conn.receive`, whatever the connection
 * has to send goes out as one binary message per step. The WebSocket may still be connecting.
 * Errors (a TLS alert either way, a text message, a closed socket, a bound exceeded) end both the
 * connection and the WebSocket; they reject `handshake` and pending reads, never throw out of an
 * event listener.
 */
export function tlsOverWebSocket(conn: TlsConnection, ws: WebSocketLike, options: WebSocketTlsOptions = {}): TlsWebSocket {
  const maxPending = options.maxPendingBytes ?? 1 << 20;
  const maxUnread = options.maxUnreadBytes ?? 4 << 20;
  if (ws.binaryType !== undefined) ws.binaryType = 'arraybuffer';

  let pending = 0; // bytes handed to conn.receive and not yet processed
  let unread: Uint8Array[] = [];
  let unreadBytes = 0;
  let peerClosed = false;
  let ended: Error | undefined;
  let finished = false;
  const readers: { resolve: (d: Uint8Array | undefined) => void; reject: (e: Error) => void }[] = [];

  let resolveHandshake!: (info: HandshakeInfo) => void;
  let rejectHandshake!: (e: Error) => void;
  const handshake = new Promise<HandshakeInfo>((res, rej) => { resolveHandshake = res; rejectHandshake = rej; });
  handshake.catch(() => undefined); // the caller may only ever look at `closed`
  let resolveClosed!: (e: Error | undefined) => void;
  const closed = new Promise<Error | undefined>((res) => { resolveClosed = res; });

  const flush = (): void => {
    if (!conn.wantsWrite) return;
    const out = conn.takeOutput();
    // In messages of at most 64 KiB, so that a relay can cap what it buffers per frame.
    for (let o = 0; o < out.length; o += MAX_MESSAGE) {
      const part = out.subarray(o, o + MAX_MESSAGE);
      if (ws.readyState === OPEN) ws.send(part);
      else if (ws.readyState === CONNECTING) queuedBeforeOpen.push(part);
    }
  };
  const queuedBeforeOpen: Uint8Array[] = [];

  const settleReaders = (): void => {
    while (readers.length > 0) {
      const r = readers[0]!;
      if (unread.length > 0) {
        const d = unread.shift()!;
        unreadBytes -= d.length;
        readers.shift();
        r.resolve(d);
      } else if (ended) {
        readers.shift();
        r.reject(ended);
      } else if (peerClosed || finished) {
        readers.shift();
        r.resolve(undefined);
      } else return;
    }
  };

  /** Ends everything once: `error` undefined for an orderly close. */
  const finish = (error: Error | undefined): void => {
    if (finished) return;
    finished = true;
    if (error) ended = error;
    rejectHandshake(error ?? new WebSocketTransportError('the WebSocket closed before the TLS handshake completed'));
    ws.removeEventListener('open', onOpen);
    ws.removeEventListener('message', onMessage);
    ws.removeEventListener('error', onError);
    if (ws.readyState === OPEN || ws.readyState === CONNECTING) {
      try {
        flush(); // the alert or close_notify, if one is queued
        ws.close(error ? 1002 : 1000);
      } catch {
        // closing an already failing socket: nothing more to do
      }
    }
    settleReaders();
    resolveClosed(error);
  };

  const drainEvents = (): void => {
    flush();
    for (let e = conn.poll(); e; e = conn.poll()) {
      switch (e.type) {
        case 'handshake':
          resolveHandshake(e.info);
          break;
        case 'data':
        case 'earlyData':
          unread.push(e.data);
          unreadBytes += e.data.length;
          if (unreadBytes > maxUnread) {
            finish(new WebSocketTransportError(`more than ${maxUnread} bytes of application data left unread`));
            return;
          }
          break;
        case 'peerClosed':
          peerClosed = true;
          break;
        case 'alertReceived':
        case 'error':
          finish(conn.error ?? new WebSocketTransportError(`TLS alert ${e.type === 'alertReceived' ? e.name : ''}`));
          return;
        case 'ticket':
          break;
      }
    }
    settleReaders();
    if (conn.isClosed) finish(conn.error);
  };

  const onOpen = (): void => {
    for (const out of queuedBeforeOpen.splice(0)) ws.send(out);
  };
  const onMessage = (event: WebSocketEventLike): void => {
    if (finished) return;
    const data = bytesOf(event.data);
    if (data === undefined) {
      finish(new WebSocketTransportError('a text message on a TLS WebSocket (records travel as binary messages)'));
      return;
    }
    pending += data.length;
    if (pending > maxPending) {
      finish(new WebSocketTransportError(`more than ${maxPending} bytes received and not yet processed`));
      return;
    }
    const copy = data.slice(); // the transport may reuse its buffer once the listener returns
    // receive() never rejects; a transport whose send throws (a socket torn down meanwhile) ends
    // this connection here instead of becoming an unhandled rejection.
    void conn.receive(copy).then(() => {
      pending -= copy.length;
      if (!finished) drainEvents();
    }).catch((e: unknown) => finish(e instanceof Error ? e : new WebSocketTransportError(String(e))));
  };
  const onError = (): void => finish(new WebSocketTransportError('WebSocket error'));
  const onClose = (event: WebSocketEventLike): void => {
    ws.removeEventListener('close', onClose);
    // After close_notify the WebSocket closing is the orderly end; before it, a truncation (§6.1).
    if (peerClosed || conn.isClosed) finish(conn.error);
    else finish(new WebSocketTransportError(`the WebSocket closed (code ${event.code ?? 'unknown'}) without a TLS close_notify`));
  };
  ws.addEventListener('open', onOpen);
  ws.addEventListener('message', onMessage);
  ws.addEventListener('error', onError);
  ws.addEventListener('close', onClose);
  drainEvents(); // a client's ClientHello is already waiting

  return {
    connection: conn,
    handshake,
    closed,
    read(): Promise<Uint8Array | undefined> {
      return new Promise((resolve, reject) => {
        readers.push({ resolve, reject });
        settleReaders();
      });
    },
    async write(data: Uint8Array): Promise<void> {
      if (ended) throw ended;
      await conn.write(data);
      drainEvents();
      if (conn.error) throw conn.error;
    },
    async close(): Promise<void> {
      if (finished) return;
      await conn.close();
      flush();
      finish(conn.error);
    },
  };
}

/**
 * A TLS client over `ws` (which may still be connecting): the ClientHello goes out once it opens.
 * Await `handshake` on the result for the negotiated parameters.
 */
export async function connectWebSocket(ws: WebSocketLike, options: ClientOptions, wsOptions: WebSocketTlsOptions = {}): Promise<TlsWebSocket> {
  const conn = await TlsConnection.client(options, wsOptions.limits);
  return tlsOverWebSocket(conn, ws, wsOptions);
}

/** A TLS server on an accepted WebSocket (a Workers `WebSocketPair` end after `accept()`, or `ws`'s server side). */
export function acceptWebSocket(ws: WebSocketLike, options: ServerOptions, wsOptions: WebSocketTlsOptions = {}): TlsWebSocket {
  return tlsOverWebSocket(TlsConnection.server(options, wsOptions.limits), ws, wsOptions);
}
