/**
 * A WebSocket-to-TCP relay: each WebSocket connection is bridged to its own TCP connection to one
 * fixed target, binary messages one way and TCP bytes the other, so a browser (which has no raw
 * sockets) can run TLS 1.3 end to end with a TCP server through `pqtls/transport`. The relay sees
 * only TLS records; it cannot read or change the traffic without failing the handshake or the
 * record MACs.
 *
 * The server side of RFC 6455 is implemented here (the opening handshake §4.2, framing §5, close
 * §7) rather than taken from a package: it is small, and only binary data, ping/pong and close are
 * needed. Every size a client controls is capped.
 * @module
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect as netConnect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/** RFC 6455 §1.3: the GUID appended to Sec-WebSocket-Key. */
const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export interface WebSocketRelayOptions {
  /** The TCP server every WebSocket is bridged to. */
  readonly host: string;
  readonly port: number;
  /** Most WebSocket connections bridged at once (default 256); more are refused with 503. */
  readonly maxConnections?: number;
  /**
   * Largest frame payload accepted from a client (default 256 KiB: `pqtls/transport` sends at most 64 KiB
   * a message, a browser's `send` is one frame).
   */
  readonly maxFramePayload?: number;
  /**
   * `Origin` values allowed (RFC 6455 §10.2); undefined allows any. A relay reachable by other
   * sites' pages can be used by them to reach the target, so a deployed relay names its own origin.
   */
  readonly allowedOrigins?: readonly string[];
  /** Milliseconds allowed for the TCP connection to the target (default 10 s). */
  readonly connectTimeoutMs?: number;
}

/** RFC 6455 §7.4.1 close codes used here. */
const CLOSE = { normal: 1000, protocolError: 1002, unsupportedData: 1003, tooBig: 1009, internalError: 1011 } as const;

class FrameError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
  }
}

interface Frame {
  readonly fin: boolean;
  readonly opcode: number;
  readonly payload: Uint8Array;
}

/** One unmasked server-to-client frame (§5.1: a server MUST NOT mask). */
export function encodeFrame(opcode: number, payload: Uint8Array): Uint8Array {
  const n = payload.length;
  const headerLength = n < 126 ? 2 : n < 65536 ? 4 : 10;
  const out = new Uint8Array(headerLength + n);
  out[0] = 0x80 | opcode;
  if (n < 126) out[1] = n;
  else if (n < 65536) {
    out[1] = 126;
    out[2] = n >> 8;
    out[3] = n & 0xff;
  } else {
    out[1] = 127;
    new DataView(out.buffer).setBigUint64(2, BigInt(n));
  }
  out.set(payload, headerLength);
  return out;
}

/**
 * Client-to-server frames (§5.2), from a byte stream. Holds at most one frame's bytes: a header
 * announcing more than `maxPayload` is refused before any of its payload is buffered. Pieces are
 * kept as they came and joined once per frame, so a frame sent a byte at a time costs no more
 * copying than one sent whole.
 */
export class FrameReader {
  private chunks: Uint8Array[] = [];
  private size = 0;

  constructor(private readonly maxPayload: number) {}

  /** The first `n` (≤ 14) buffered bytes. */
  private peek(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let o = 0;
    for (const c of this.chunks) {
      const k = Math.min(c.length, n - o);
      out.set(c.subarray(0, k), o);
      o += k;
      if (o === n) break;
    }
    return out;
  }

  /** Removes and returns the first `n` buffered bytes. */
  private take(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let o = 0;
    while (o < n) {
      const c = this.chunks[0] as Uint8Array;
      const k = Math.min(c.length, n - o);
      out.set(c.subarray(0, k), o);
      o += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    this.size -= n;
    return out;
  }

  /** The complete frames in the bytes so far; throws FrameError for a frame the relay refuses. */
  push(data: Uint8Array): Frame[] {
    if (data.length > 0) {
      this.chunks.push(data);
      this.size += data.length;
    }
    const frames: Frame[] = [];
    while (this.size >= 2) {
      const h = this.peek(Math.min(this.size, 14));
      const b0 = h[0] as number;
      const b1 = h[1] as number;
      if (b0 & 0x70) throw new FrameError(CLOSE.protocolError, 'reserved bits set without an extension');
      if (!(b1 & 0x80)) throw new FrameError(CLOSE.protocolError, 'a client frame must be masked (RFC 6455 §5.1)');
      let length = b1 & 0x7f;
      let header = 2;
      if (length === 126) {
        if (h.length < 4) break;
        length = ((h[2] as number) << 8) | (h[3] as number);
        header = 4;
      } else if (length === 127) {
        if (h.length < 10) break;
        const big = new DataView(h.buffer, 2, 8).getBigUint64(0);
        if (big > BigInt(this.maxPayload)) throw new FrameError(CLOSE.tooBig, `frame of ${big} bytes`);
        length = Number(big);
        header = 10;
      }
      const opcode = b0 & 0x0f;
      if (opcode >= 8 && (length > 125 || !(b0 & 0x80))) throw new FrameError(CLOSE.protocolError, 'control frames are short and unfragmented (§5.5)');
      if (length > this.maxPayload) throw new FrameError(CLOSE.tooBig, `frame of ${length} bytes`);
      if (this.size < header + 4 + length) break;
      const whole = this.take(header + 4 + length);
      const mask = whole.subarray(header, header + 4);
      const payload = whole.subarray(header + 4);
      for (let i = 0; i < payload.length; i++) payload[i] = (payload[i] as number) ^ (mask[i & 3] as number);
      frames.push({ fin: (b0 & 0x80) !== 0, opcode, payload });
    }
    return frames;
  }
}

/** The §4.2.1 checks of an opening handshake; the Sec-WebSocket-Accept value, or why it is refused. */
function acceptKey(req: IncomingMessage, allowedOrigins: readonly string[] | undefined): { accept: string } | { status: number; why: string } {
  const key = req.headers['sec-websocket-key'];
  if (req.method !== 'GET') return { status: 405, why: 'the opening handshake is a GET' };
  if (!/\bwebsocket\b/i.test(req.headers.upgrade ?? '')) return { status: 400, why: 'not a WebSocket upgrade' };
  if (req.headers['sec-websocket-version'] !== '13') return { status: 426, why: 'Sec-WebSocket-Version must be 13' };
  if (typeof key !== 'string' || !/^[A-Za-z0-9+/]{22}==$/.test(key)) return { status: 400, why: 'bad Sec-WebSocket-Key' };
  if (allowedOrigins !== undefined && !allowedOrigins.includes(req.headers.origin ?? '')) return { status: 403, why: 'origin not allowed' };
  return { accept: createHash('sha1').update(key + WS_GUID).digest('base64') };
}

function refuse(socket: Duplex, status: number, why: string): void {
  socket.end(`HTTP/1.1 ${status} ${why}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

/**
 * An HTTP server that upgrades WebSocket requests (any path) and bridges each to a new TCP
 * connection to `host:port`. Listen on it like any `http.Server`; `close()` stops new ones.
 */
export function createWebSocketRelay(options: WebSocketRelayOptions): Server {
  const maxConnections = options.maxConnections ?? 256;
  const maxPayload = options.maxFramePayload ?? 256 * 1024;
  const connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
  let open = 0;
  const server = createServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' }).end('pqtls relay: WebSocket only\n');
  });
  server.on('upgrade', (req: IncomingMessage, ws: Duplex, head: Buffer) => {
    ws.on('error', () => ws.destroy());
    const checked = acceptKey(req, options.allowedOrigins);
    if ('status' in checked) return refuse(ws, checked.status, checked.why);
    if (open >= maxConnections) return refuse(ws, 503, 'too many connections');
    open++;
    ws.once('close', () => open--);
    ws.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${checked.accept}\r\n\r\n`);
    bridge(ws, head, netConnect({ host: options.host, port: options.port, timeout: connectTimeoutMs }), maxPayload);
  });
  return server;
}

/** Moves bytes both ways with backpressure: each side is read only while the other keeps up. */
function bridge(ws: Duplex, head: Buffer, tcp: Socket, maxPayload: number): void {
  const reader = new FrameReader(maxPayload);
  let closing = false;
  const close = (code: number): void => {
    if (closing) return;
    closing = true;
    const body = new Uint8Array([code >> 8, code & 0xff]);
    if (ws.writable) ws.end(encodeFrame(0x8, body));
    else ws.destroy();
    tcp.end();
  };
  const fromClient = (data: Uint8Array): void => {
    if (closing) return;
    let frames: Frame[];
    try {
      frames = reader.push(data);
    } catch (e) {
      close(e instanceof FrameError ? e.code : CLOSE.protocolError);
      tcp.destroy();
      return;
    }
    for (const f of frames) {
      switch (f.opcode) {
        case 0x0: // continuation of a binary message: the bytes are a stream anyway
        case 0x2:
          if (f.payload.length > 0 && !tcp.write(f.payload)) ws.pause();
          break;
        case 0x1:
          close(CLOSE.unsupportedData); // TLS records travel as binary messages
          tcp.destroy();
          return;
        case 0x8:
          close(CLOSE.normal);
          return;
        case 0x9:
          // A client that pings without reading would otherwise pile pongs up in our write buffer;
          // past 64 KiB unsent, pings go unanswered (§5.5.3 lets an endpoint answer only some).
          if (ws.writableLength < 65536) ws.write(encodeFrame(0xa, f.payload));
          break;
        case 0xa:
          break;
        default:
          close(CLOSE.protocolError);
          tcp.destroy();
          return;
      }
    }
  };
  ws.pause(); // until the target answers
  tcp.once('connect', () => {
    tcp.setTimeout(0);
    if (head.length > 0) fromClient(head);
    ws.resume();
  });
  tcp.on('timeout', () => tcp.destroy(new Error('connect timeout')));
  ws.on('data', (d: Buffer) => fromClient(d));
  tcp.on('drain', () => ws.resume());
  tcp.on('data', (d: Buffer) => {
    if (!closing && !ws.write(encodeFrame(0x2, d))) tcp.pause();
  });
  ws.on('drain', () => tcp.resume());
  tcp.on('end', () => close(CLOSE.normal));
  tcp.on('error', () => {
    close(CLOSE.internalError);
    tcp.destroy();
  });
  tcp.on('close', () => close(CLOSE.normal));
  ws.on('end', () => tcp.end());
  ws.on('close', () => tcp.destroy());
}
