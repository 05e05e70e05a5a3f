/**
 * hq-interop: HTTP/0.9 over QUIC, as the QUIC interop runner uses it. The
 * client sends `GET /path\r\n` on a new bidirectional stream and ends it;
 * the server answers with the file's bytes and ends the stream. No headers,
 * no status: a missing file is a reset stream. Sans-IO over a
 * {@link QuicConnection}, like {@link Http3Connection}.
 */
import { ConfigError } from '../errors.js';
import type { QuicConnection, QuicEvent } from '../quic/connection/connection.js';
import type { StreamEvent } from '../quic/connection/streams.js';
import { H3ErrorCode } from './errors.js';
import { writable } from './connection.js';

export type HqEvent =
  | { readonly type: 'request'; readonly streamId: number; readonly path: string }
  | { readonly type: 'data'; readonly streamId: number; readonly data: Uint8Array }
  | { readonly type: 'end'; readonly streamId: number }
  | { readonly type: 'reset'; readonly streamId: number; readonly errorCode: number; readonly local: boolean };

/** Longest request line we read (`GET ` + a path + CRLF); a longer one is refused. */
export const HQ_MAX_REQUEST = 4096;
/** The code we reset a stream with when its request is not `GET <path>`, or the file is missing. */
export const HQ_REQUEST_ERROR = H3ErrorCode.H3_MESSAGE_ERROR;

const latin = new TextDecoder('latin1');

export class HqConnection {
  private readonly events: HqEvent[] = [];
  /** Server: request bytes so far, per stream, until the request line is complete. */
  private readonly pending = new Map<number, Uint8Array>();
  /** Client: streams whose response we are reading. */
  private readonly requests = new Set<number>();
  /** Server: requests handed to the application and not yet answered in full. */
  private readonly answering = new Set<number>();

  constructor(readonly quic: QuicConnection) {}

  poll(): HqEvent | undefined {
    return this.events.shift();
  }

  handleEvent(e: QuicEvent): void {
    if (e.type === 'stream') this.handleStreamEvent(e.event);
  }

  drive(): void {
    for (let e = this.quic.poll(); e; e = this.quic.poll()) this.handleEvent(e);
  }

  /** Client: requests `path` on a new stream and returns its ID. */
  request(path: string): number {
    if (this.quic.role !== 'client') throw new ConfigError('only a client sends requests');
    if (!path.startsWith('/') || /[\s\0]/.test(path)) throw new ConfigError(`not a request path: ${JSON.stringify(path)}`);
    const id = this.quic.openStream(true);
    this.requests.add(id);
    this.quic.writeStream(id, new TextEncoder().encode(`GET ${path}\r\n`), true);
    return id;
  }

  /** Server: the response body; with `fin`, the end of it. False when the client already abandoned the stream. */
  respond(streamId: number, body: Uint8Array, fin = true): boolean {
    if (fin) this.answering.delete(streamId);
    return writable(() => this.quic.writeStream(streamId, body, fin));
  }

  /** Server: refuses a request (missing file, bad request line) by resetting its stream. */
  refuse(streamId: number): void {
    this.answering.delete(streamId);
    this.quic.resetStream(streamId, HQ_REQUEST_ERROR);
  }

  handleStreamEvent(ev: StreamEvent): void {
    switch (ev.type) {
      case 'readable': case 'finished':
        if ((ev.id & 2) !== 0) {
          // hq-interop has no unidirectional streams; we neither read nor keep them.
          this.quic.stopSending(ev.id, HQ_REQUEST_ERROR);
          return;
        }
        return this.quic.role === 'server' ? this.readRequest(ev.id) : this.readResponse(ev.id);
      case 'reset': case 'stopped':
        if (this.pending.delete(ev.id) || this.requests.delete(ev.id) || (ev.type === 'stopped' && this.answering.delete(ev.id))) {
          this.events.push({ type: 'reset', streamId: ev.id, errorCode: ev.errorCode, local: false });
        }
        return;
      default:
        return;
    }
  }

  private readResponse(id: number): void {
    if (!this.requests.has(id)) {
      // Not a request of ours (a stream the server opened): unread, its bytes would hold connection credit.
      this.quic.stopSending(id, HQ_REQUEST_ERROR);
      return;
    }
    // A body piece per frame as it came, never copied together first.
    for (let r = this.quic.readStreamChunk(id); r; r = this.quic.readStreamChunk(id)) {
      if (r.data.length) this.events.push({ type: 'data', streamId: id, data: r.data });
      if (r.fin) {
        this.requests.delete(id);
        this.events.push({ type: 'end', streamId: id });
        return;
      }
    }
  }

  private readRequest(id: number): void {
    if ((id & 1) !== 0) return; // a server-initiated stream: none exist in hq
    let buf = this.pending.get(id);
    for (let r = this.quic.readStream(id); r; r = this.quic.readStream(id)) {
      if (buf === undefined) buf = new Uint8Array(0);
      const next = new Uint8Array(buf.length + r.data.length);
      next.set(buf);
      next.set(r.data, buf.length);
      buf = next;
      const eol = buf.indexOf(0x0a);
      if (eol >= 0 || r.fin || buf.length > HQ_MAX_REQUEST) {
        this.pending.delete(id);
        const line = latin.decode(buf.subarray(0, eol >= 0 ? eol : buf.length)).replace(/\r$/, '');
        const m = /^GET (\/\S*)$/.exec(line);
        if (!m || buf.length > HQ_MAX_REQUEST) {
          this.quic.stopSending(id, HQ_REQUEST_ERROR);
          this.quic.resetStream(id, HQ_REQUEST_ERROR);
          this.events.push({ type: 'reset', streamId: id, errorCode: HQ_REQUEST_ERROR, local: true });
        } else {
          // The rest of the stream (normally nothing, then FIN) is not needed.
          if (!r.fin) this.quic.stopSending(id, H3ErrorCode.H3_NO_ERROR);
          this.answering.add(id);
          this.events.push({ type: 'request', streamId: id, path: m[1] as string });
        }
        return;
      }
    }
    if (buf !== undefined) this.pending.set(id, buf);
  }
}
