/**
 * An HTTP/3 connection (RFC 9114) over a sans-IO {@link QuicConnection}:
 * the control stream and its SETTINGS both ways, the QPACK encoder and
 * decoder streams (RFC 9204 §4.2) with no dynamic table, and requests and
 * responses on bidirectional streams. Sans-IO like the QUIC layer: feed it
 * the QUIC connection's events ({@link handleEvent}), read its own with
 * {@link poll}, and send what the QUIC connection then has to send.
 *
 * Peer errors never throw: a connection error closes the QUIC connection
 * with its H3 code (RFC 9114 §8) and reports `closed`; a stream error
 * (a malformed message) resets that stream alone and reports `reset`.
 */
import { ConfigError } from '../errors.js';
import { concat } from '../bytes.js';
import type { QuicConnection, QuicEvent } from '../quic/connection/connection.js';
import { StreamsBlockedError, StreamUsageError, type StreamEvent } from '../quic/connection/streams.js';
import { Http3Error, H3ErrorCode } from './errors.js';
import {
  FrameParser, FrameType, SettingId, dataFrameHeader, decodeSettings, decodeVarintPayload, encodeFrame, encodeSettings, encodeVarint,
  type FrameEvent,
} from './frames.js';
import { checkRequest, checkResponse, checkTrailers, type RequestHead } from './headers.js';
import { DEFAULT_MAX_FIELD_SECTION_SIZE, DEFAULT_MAX_FIELDS, decodeFieldSection, encodeFieldSection, type Field } from './qpack.js';

/** Unidirectional stream types (RFC 9114 §6.2, RFC 9204 §4.2). */
export const StreamType = { CONTROL: 0x00, PUSH: 0x01, QPACK_ENCODER: 0x02, QPACK_DECODER: 0x03 } as const;

export interface Http3Limits {
  /** Fields in one section (default 256). */
  readonly maxFields?: number;
  /** SETTINGS_MAX_FIELD_SECTION_SIZE we advertise and enforce (default 65 536). */
  readonly maxFieldSectionSize?: number;
  /** Settings in the peer's SETTINGS frame (default 64). */
  readonly maxSettings?: number;
}

export type Http3Event =
  /** Server: a request's header section arrived. */
  | { readonly type: 'request'; readonly streamId: number; readonly request: RequestHead }
  /** Client: the final response's header section arrived. */
  | { readonly type: 'response'; readonly streamId: number; readonly status: number; readonly fields: readonly Field[] }
  | { readonly type: 'data'; readonly streamId: number; readonly data: Uint8Array }
  /** The peer's message on `streamId` is complete. */
  | { readonly type: 'end'; readonly streamId: number }
  /** The stream was abandoned: reset by the peer, or by us for a malformed message (`local`). */
  | { readonly type: 'reset'; readonly streamId: number; readonly errorCode: number; readonly local: boolean }
  | { readonly type: 'settings'; readonly settings: ReadonlyMap<number, number> }
  | { readonly type: 'goaway'; readonly id: number }
  /** We closed the connection for the peer's protocol error. */
  | { readonly type: 'closed'; readonly errorCode: number; readonly reason: string };

type Uni = { kind: 'unknown'; head: Uint8Array }
  | { kind: 'control'; parser: FrameParser; settings: boolean }
  | { kind: 'encoder' }
  | { kind: 'decoder'; inInteger: number };

type Message = {
  parser: FrameParser;
  phase: 'headers' | 'body' | 'trailers';
  interimCount: number;
  /** Client: the request was HEAD, whose response has no content whatever its content-length says. */
  head?: boolean;
  /** The content-length the header section announced, when it did and it binds the body. */
  length?: number;
  received: number;
};

/**
 * The content-length of a header section (RFC 9110 §8.6): digits only, and
 * repeated values must agree; otherwise the message is malformed (RFC 9114 §4.1.2).
 */
function contentLength(id: number, fields: readonly Field[]): number | undefined {
  let length: number | undefined;
  for (const [n, v] of fields) {
    if (n !== 'content-length') continue;
    if (!/^\d{1,15}$/.test(v) || (length !== undefined && Number(v) !== length)) {
      throw new Http3Error(H3ErrorCode.H3_MESSAGE_ERROR, `content-length ${JSON.stringify(v)} is not one decimal length (RFC 9110 §8.6)`, id);
    }
    length = Number(v);
  }
  return length;
}

/** Runs a write; false if the stream refused it (stopped or reset by the peer, or finished). */
export function writable(write: () => void): boolean {
  try {
    write();
    return true;
  } catch (e) {
    if (e instanceof StreamUsageError) return false;
    throw e;
  }
}

/** 1xx responses before the final one (RFC 9114 §4.1): beyond this many the peer is stalling us. */
const MAX_INTERIM_RESPONSES = 8;

export class Http3Connection {
  private readonly events: Http3Event[] = [];
  private readonly uni = new Map<number, Uni>();
  private readonly messages = new Map<number, Message>();
  private readonly peerCritical: { control?: number; encoder?: number; decoder?: number } = {};
  private started = false;
  private closed = false;
  private peerSettings: ReadonlyMap<number, number> | undefined;
  private lastGoaway: number | undefined;
  /** Server: the highest request stream the client opened (-4: none), for our GOAWAY (RFC 9114 §5.2). */
  private highestRequest = -4;
  private readonly maxFields: number;
  private readonly maxSection: number;
  private readonly maxSettings: number;
  private readonly role: 'client' | 'server';

  constructor(readonly quic: QuicConnection, limits: Http3Limits = {}) {
    this.role = quic.role;
    this.maxFields = limits.maxFields ?? DEFAULT_MAX_FIELDS;
    this.maxSection = limits.maxFieldSectionSize ?? DEFAULT_MAX_FIELD_SECTION_SIZE;
    this.maxSettings = limits.maxSettings ?? 64;
  }

  /** The peer's SETTINGS, once its control stream delivered them. */
  get settings(): ReadonlyMap<number, number> | undefined {
    return this.peerSettings;
  }

  /**
   * Opens our control stream with SETTINGS and our QPACK encoder and
   * decoder streams (RFC 9114 §6.2.1, RFC 9204 §4.2), once the handshake
   * has given us the peer's stream limits. {@link handleEvent} calls it on
   * `connected`.
   */
  start(now: number): void {
    if (this.started) return;
    this.started = true;
    this.guard(now, () => {
      const control = this.openOwnUni();
      const settings = new Map<number, number>([
        [SettingId.QPACK_MAX_TABLE_CAPACITY, 0],
        [SettingId.QPACK_BLOCKED_STREAMS, 0],
        [SettingId.MAX_FIELD_SECTION_SIZE, this.maxSection],
      ]);
      this.quic.writeStream(control, concat(encodeVarint(StreamType.CONTROL), encodeSettings(settings)));
      // RFC 9204 §4.2: each endpoint opens at most one of each; with no dynamic table they stay silent.
      this.quic.writeStream(this.openOwnUni(), encodeVarint(StreamType.QPACK_ENCODER));
      this.quic.writeStream(this.openOwnUni(), encodeVarint(StreamType.QPACK_DECODER));
    });
  }

  private openOwnUni(): number {
    try {
      return this.quic.openStream(false);
    } catch (e) {
      if (!(e instanceof StreamsBlockedError)) throw e;
      // RFC 9114 §6.2: a peer must let us open at least three (control, QPACK encoder and decoder).
      throw new Http3Error(H3ErrorCode.H3_STREAM_CREATION_ERROR, 'the peer allows fewer than 3 unidirectional streams (RFC 9114 §6.2)');
    }
  }

  /** The next event, oldest first. */
  poll(): Http3Event | undefined {
    return this.events.shift();
  }

  /** Feeds one event of the QUIC connection. */
  handleEvent(e: QuicEvent, now: number): void {
    if (e.type === 'connected') this.start(now);
    else if (e.type === 'stream') this.handleStreamEvent(e.event, now);
    else if (e.type === 'closed') this.closed = true;
  }

  /** Drains the QUIC connection's events into this one (for callers that leave event polling to it). */
  drive(now: number): void {
    for (let e = this.quic.poll(); e; e = this.quic.poll()) this.handleEvent(e, now);
  }

  handleStreamEvent(ev: StreamEvent, now: number): void {
    if (this.closed) return;
    this.guard(now, () => {
      switch (ev.type) {
        case 'readable': case 'finished': return this.readStream(ev.id);
        case 'reset': return this.onReset(ev.id, ev.errorCode);
        case 'stopped': return this.onStopped(ev.id, ev.errorCode);
        default: return undefined;
      }
    });
  }

  // ---- sending ----

  /**
   * Client: sends a request (header section, optional body, FIN) on a new
   * bidirectional stream and returns its ID. `fields` holds the
   * pseudo-headers first (RFC 9114 §4.3.1).
   */
  request(fields: readonly Field[], body?: Uint8Array): number {
    if (this.role !== 'client') throw new ConfigError('only a client sends requests');
    if (this.lastGoaway !== undefined) throw new ConfigError('the server sent GOAWAY: no new requests on this connection (RFC 9114 §5.2)');
    const id = this.quic.openStream(true);
    this.messages.set(id, { parser: this.frameParser(), phase: 'headers', interimCount: 0, received: 0, head: fields.some(([n, v]) => n === ':method' && v === 'HEAD') });
    this.writeMessage(id, fields, body, true);
    return id;
  }

  /** Client: a GET for `path` at `authority` over https. */
  get(authority: string, path: string, extra: readonly Field[] = []): number {
    return this.request([[':method', 'GET'], [':scheme', 'https'], [':authority', authority], [':path', path], ...extra]);
  }

  /**
   * Server: the response's header section, then `body` if given, and FIN
   * when `fin`. False when the stream can no longer carry it: the client
   * cancelled the request (STOP_SENDING or a reset, RFC 9114 §4.1.1) or it
   * was already finished — a race any server meets, not an error.
   */
  respond(streamId: number, status: number, fields: readonly Field[] = [], body?: Uint8Array, fin = true): boolean {
    return writable(() => this.writeMessage(streamId, [[':status', String(status)], ...fields], body, fin));
  }

  /** More body, in one DATA frame; false as for {@link respond}. */
  sendData(streamId: number, data: Uint8Array, fin = false): boolean {
    return writable(() => {
      if (data.length > 0) {
        this.quic.writeStream(streamId, dataFrameHeader(data.length));
        this.quic.writeStream(streamId, data, fin);
      } else if (fin) {
        this.quic.writeStream(streamId, new Uint8Array(0), true);
      }
    });
  }

  /**
   * GOAWAY (RFC 9114 §5.2): a server names the first request stream it will
   * not process; a client the first push ID (0: we accept no pushes).
   */
  goaway(id?: number): void {
    const control = this.controlStreamId;
    if (control === undefined) return;
    const value = id ?? (this.role === 'server' ? this.nextRequestId() : 0);
    this.quic.writeStream(control, encodeFrame(FrameType.GOAWAY, encodeVarint(value)));
  }

  private get controlStreamId(): number | undefined {
    // Our first unidirectional stream is the control stream: 2 for a client, 3 for a server (RFC 9000 §2.1).
    return this.started ? (this.role === 'client' ? 2 : 3) : undefined;
  }

  private nextRequestId(): number {
    return this.highestRequest + 4;
  }

  private writeMessage(id: number, fields: readonly Field[], body: Uint8Array | undefined, fin: boolean): void {
    const headers = encodeFrame(FrameType.HEADERS, encodeFieldSection(fields));
    if (body && body.length > 0) {
      this.quic.writeStream(id, concat(headers, dataFrameHeader(body.length)));
      this.quic.writeStream(id, body, fin);
    } else {
      this.quic.writeStream(id, headers, fin);
    }
  }

  // ---- receiving ----

  /** Runs `f`; a peer's protocol error becomes a stream reset or a connection close, never an exception. */
  private guard(now: number, f: () => void): void {
    try {
      f();
    } catch (e) {
      if (e instanceof Http3Error && e.stream !== undefined) return this.streamError(e.stream, e.code);
      const code = e instanceof Http3Error ? e.code : H3ErrorCode.H3_INTERNAL_ERROR;
      const reason = e instanceof Error ? e.message : String(e);
      this.closeWith(now, code, reason);
    }
  }

  private closeWith(now: number, code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.quic.close(now, code, reason.slice(0, 200));
    this.events.push({ type: 'closed', errorCode: code, reason });
  }

  /** RFC 9114 §4.1.2: a malformed message ends its stream, both ways, with H3_MESSAGE_ERROR. */
  private streamError(id: number, code: number): void {
    this.messages.delete(id);
    this.quic.stopSending(id, code);
    this.quic.resetStream(id, code);
    this.events.push({ type: 'reset', streamId: id, errorCode: code, local: true });
  }

  private frameParser(): FrameParser {
    return new FrameParser({ maxHeadersFrame: this.maxSection + 16 });
  }

  private readStream(id: number): void {
    const bidi = (id & 2) === 0;
    const peerInitiated = (id & 1) === (this.role === 'client' ? 1 : 0);
    if (bidi && peerInitiated && this.role === 'client') {
      throw new Http3Error(H3ErrorCode.H3_STREAM_CREATION_ERROR, `server-initiated bidirectional stream ${id} (RFC 9114 §6.1)`);
    }
    // What each frame brought, as it came: the frame parsers take any split, and a read of several packets'
    // bytes at once would first copy them together.
    for (let r = this.quic.readStreamChunk(id); r; r = this.quic.readStreamChunk(id)) {
      if (bidi) this.onMessageBytes(id, r.data, r.fin);
      else this.onUniBytes(id, r.data, r.fin);
      if (r.fin || this.closed) return;
    }
  }

  private onMessageBytes(id: number, data: Uint8Array, fin: boolean): void {
    let m = this.messages.get(id);
    if (!m) {
      if (this.role === 'client') {
        // A response to a request we already gave up: unread, its bytes would hold connection credit.
        this.quic.stopSending(id, H3ErrorCode.H3_REQUEST_CANCELLED);
        return;
      }
      m = { parser: this.frameParser(), phase: 'headers', interimCount: 0, received: 0 };
      this.messages.set(id, m);
      this.highestRequest = Math.max(this.highestRequest, id);
    }
    for (const f of m.parser.push(data)) {
      this.onMessageFrame(id, m, f);
      if (!this.messages.has(id)) return; // a stream error ended it
    }
    if (!fin) return;
    if (!m.parser.atBoundary) throw new Http3Error(H3ErrorCode.H3_FRAME_ERROR, `stream ${id} ends inside a frame (RFC 9114 §7.1)`);
    if (m.phase === 'headers') {
      throw new Http3Error(H3ErrorCode.H3_REQUEST_INCOMPLETE, `stream ${id} ended before a complete header section (RFC 9114 §4.1)`, id);
    }
    if (m.length !== undefined && m.received !== m.length) {
      throw new Http3Error(H3ErrorCode.H3_MESSAGE_ERROR, `stream ${id} carried ${m.received} bytes of content, not its content-length ${m.length} (RFC 9114 §4.1.2)`, id);
    }
    this.messages.delete(id);
    this.events.push({ type: 'end', streamId: id });
  }

  private onMessageFrame(id: number, m: Message, f: FrameEvent): void {
    switch (f.kind) {
      case 'skip': return;
      case 'data-frame':
        if (m.phase !== 'body') throw new Http3Error(H3ErrorCode.H3_FRAME_UNEXPECTED, `DATA ${m.phase === 'headers' ? 'before HEADERS' : 'after trailers'} on stream ${id} (RFC 9114 §4.1)`);
        return;
      case 'data':
        m.received += f.data.length;
        if (m.length !== undefined && m.received > m.length) {
          throw new Http3Error(H3ErrorCode.H3_MESSAGE_ERROR, `stream ${id} carries more content than its content-length ${m.length} (RFC 9114 §4.1.2)`, id);
        }
        this.events.push({ type: 'data', streamId: id, data: f.data });
        return;
      case 'frame':
        break;
    }
    if (f.type === FrameType.PUSH_PROMISE && this.role === 'client') {
      throw new Http3Error(H3ErrorCode.H3_ID_ERROR, 'PUSH_PROMISE, but we sent no MAX_PUSH_ID (RFC 9114 §7.2.5)');
    }
    if (f.type !== FrameType.HEADERS) {
      throw new Http3Error(H3ErrorCode.H3_FRAME_UNEXPECTED, `frame 0x${f.type.toString(16)} on request stream ${id} (RFC 9114 §7.2)`);
    }
    if (m.phase === 'trailers') throw new Http3Error(H3ErrorCode.H3_FRAME_UNEXPECTED, `HEADERS after trailers on stream ${id} (RFC 9114 §4.1)`);
    const fields = decodeFieldSection(f.payload, { maxFields: this.maxFields, maxSectionSize: this.maxSection });
    if (m.phase === 'body') {
      checkTrailers(id, fields);
      m.phase = 'trailers';
      return;
    }
    if (this.role === 'server') {
      const request = checkRequest(id, fields);
      m.length = contentLength(id, fields);
      m.phase = 'body';
      this.events.push({ type: 'request', streamId: id, request });
      return;
    }
    const status = checkResponse(id, fields);
    if (status < 200) {
      // Interim responses (RFC 9114 §4.1): the final one follows.
      if (status === 101) throw new Http3Error(H3ErrorCode.H3_MESSAGE_ERROR, '101 Switching Protocols is not allowed (RFC 9114 §4.5)', id);
      if (++m.interimCount > MAX_INTERIM_RESPONSES) throw new Http3Error(H3ErrorCode.H3_EXCESSIVE_LOAD, 'too many interim responses');
      return;
    }
    // Responses to HEAD, and 204 / 304, have no content whatever content-length says (RFC 9110 §6.4.1).
    const length = contentLength(id, fields);
    if (!m.head && status !== 204 && status !== 304) m.length = length;
    m.phase = 'body';
    this.events.push({ type: 'response', streamId: id, status, fields: fields.filter(([n]) => !n.startsWith(':')) });
  }

  private onUniBytes(id: number, data: Uint8Array, fin: boolean): void {
    let s = this.uni.get(id);
    if (!s) {
      s = { kind: 'unknown', head: new Uint8Array(0) };
      this.uni.set(id, s);
    }
    let rest = data;
    if (s.kind === 'unknown') {
      const head = concat(s.head, data);
      const len = head.length ? 1 << ((head[0] as number) >> 6) : 1;
      if (head.length < len) {
        if (fin) this.uni.delete(id); // a stream that ends before its type is ignored (RFC 9114 §6.2)
        else s.head = head;
        return;
      }
      s = this.openUni(id, head.subarray(0, len));
      rest = head.subarray(len);
      if (!s) return;
    }
    switch (s.kind) {
      case 'control': {
        for (const f of s.parser.push(rest)) this.onControlFrame(s, f);
        break;
      }
      case 'encoder':
        // RFC 9204 §4.3: with capacity 0 the only valid instruction is Set Dynamic Table Capacity 0 (0x20).
        for (const b of rest) {
          if (b !== 0x20) throw new Http3Error(H3ErrorCode.QPACK_ENCODER_STREAM_ERROR, 'encoder instruction needs a dynamic table, whose capacity is 0 (RFC 9204 §4.3)');
        }
        break;
      case 'decoder':
        for (const b of rest) this.onDecoderByte(s, b);
        break;
    }
    if (fin) throw new Http3Error(H3ErrorCode.H3_CLOSED_CRITICAL_STREAM, `critical stream ${id} closed (RFC 9114 §6.2.1, RFC 9204 §4.2)`);
  }

  /** A peer's unidirectional stream by its type (RFC 9114 §6.2); undefined for a type we ignore. */
  private openUni(id: number, typeBytes: Uint8Array): Uni | undefined {
    // Reserved and unknown types can be 8-byte varints; only one-byte types are ours.
    const type = typeBytes.length === 1 ? (typeBytes[0] as number) : -1;
    const once = (key: 'control' | 'encoder' | 'decoder'): void => {
      if (this.peerCritical[key] !== undefined) throw new Http3Error(H3ErrorCode.H3_STREAM_CREATION_ERROR, `a second ${key} stream (RFC 9114 §6.2.1, RFC 9204 §4.2)`);
      this.peerCritical[key] = id;
    };
    let s: Uni;
    switch (type) {
      case StreamType.CONTROL: once('control'); s = { kind: 'control', parser: this.frameParser(), settings: false }; break;
      case StreamType.QPACK_ENCODER: once('encoder'); s = { kind: 'encoder' }; break;
      case StreamType.QPACK_DECODER: once('decoder'); s = { kind: 'decoder', inInteger: 0 }; break;
      case StreamType.PUSH:
        if (this.role === 'server') throw new Http3Error(H3ErrorCode.H3_STREAM_CREATION_ERROR, 'a client opened a push stream (RFC 9114 §6.2.2)');
        throw new Http3Error(H3ErrorCode.H3_ID_ERROR, 'a push stream, but we sent no MAX_PUSH_ID (RFC 9114 §4.6)');
      default:
        // §6.2: an unknown type is not an error; we ask the peer to stop and forget the stream.
        this.uni.delete(id);
        this.quic.stopSending(id, H3ErrorCode.H3_STREAM_CREATION_ERROR);
        return undefined;
    }
    this.uni.set(id, s);
    return s;
  }

  private onControlFrame(s: Extract<Uni, { kind: 'control' }>, f: FrameEvent): void {
    const type = f.kind === 'frame' || f.kind === 'skip' ? f.type : FrameType.DATA;
    if (!s.settings) {
      if (type !== FrameType.SETTINGS || f.kind !== 'frame') throw new Http3Error(H3ErrorCode.H3_MISSING_SETTINGS, 'the control stream does not start with SETTINGS (RFC 9114 §6.2.1)');
      s.settings = true;
      const settings = decodeSettings(f.payload, this.maxSettings);
      this.peerSettings = settings;
      this.events.push({ type: 'settings', settings });
      return;
    }
    if (f.kind === 'skip') return;
    if (f.kind !== 'frame') throw new Http3Error(H3ErrorCode.H3_FRAME_UNEXPECTED, 'DATA on the control stream (RFC 9114 §7.2.1)');
    switch (f.type) {
      case FrameType.SETTINGS: throw new Http3Error(H3ErrorCode.H3_FRAME_UNEXPECTED, 'a second SETTINGS frame (RFC 9114 §7.2.4)');
      case FrameType.GOAWAY: return this.onGoaway(decodeVarintPayload(f.payload, 'GOAWAY'));
      case FrameType.MAX_PUSH_ID:
        if (this.role === 'client') throw new Http3Error(H3ErrorCode.H3_FRAME_UNEXPECTED, 'MAX_PUSH_ID from a server (RFC 9114 §7.2.7)');
        decodeVarintPayload(f.payload, 'MAX_PUSH_ID');
        return;
      case FrameType.CANCEL_PUSH:
        decodeVarintPayload(f.payload, 'CANCEL_PUSH');
        // No push was promised either way, so any push ID is one never mentioned (RFC 9114 §7.2.3).
        throw new Http3Error(H3ErrorCode.H3_ID_ERROR, 'CANCEL_PUSH for a push that was never promised (RFC 9114 §7.2.3)');
      default:
        throw new Http3Error(H3ErrorCode.H3_FRAME_UNEXPECTED, `frame 0x${f.type.toString(16)} on the control stream (RFC 9114 §7.2)`);
    }
  }

  private onGoaway(id: number): void {
    // §5.2: from a server, a client-initiated bidirectional stream ID; identifiers never increase.
    if (this.role === 'client' && id % 4 !== 0) throw new Http3Error(H3ErrorCode.H3_ID_ERROR, `GOAWAY names stream ${id}, not a request stream (RFC 9114 §5.2)`);
    if (this.lastGoaway !== undefined && id > this.lastGoaway) throw new Http3Error(H3ErrorCode.H3_ID_ERROR, 'GOAWAY identifier increased (RFC 9114 §5.2)');
    this.lastGoaway = id;
    this.events.push({ type: 'goaway', id });
    if (this.role !== 'client') return;
    // Requests at or above the identifier were not processed and never will be: they may be retried elsewhere.
    for (const streamId of [...this.messages.keys()].filter((s) => s >= id)) {
      this.messages.delete(streamId);
      this.quic.stopSending(streamId, H3ErrorCode.H3_REQUEST_REJECTED);
      this.events.push({ type: 'reset', streamId, errorCode: H3ErrorCode.H3_REQUEST_REJECTED, local: true });
    }
  }

  /**
   * RFC 9204 §4.4: Stream Cancellation (01, 6-bit stream ID) is fine; a
   * Section Acknowledgment or Insert Count Increment refers to dynamic
   * table state we never created.
   */
  private onDecoderByte(s: Extract<Uni, { kind: 'decoder' }>, b: number): void {
    if (s.inInteger > 0) {
      if (++s.inInteger > 9) throw new Http3Error(H3ErrorCode.QPACK_DECODER_STREAM_ERROR, 'stream ID in Stream Cancellation too long');
      if ((b & 0x80) === 0) s.inInteger = 0;
      return;
    }
    if ((b & 0xc0) !== 0x40) throw new Http3Error(H3ErrorCode.QPACK_DECODER_STREAM_ERROR, 'Section Acknowledgment or Insert Count Increment without a dynamic table (RFC 9204 §4.4)');
    if ((b & 0x3f) === 0x3f) s.inInteger = 1;
  }

  private onReset(id: number, errorCode: number): void {
    if ((id & 2) !== 0) {
      if (this.isPeerCritical(id)) throw new Http3Error(H3ErrorCode.H3_CLOSED_CRITICAL_STREAM, `critical stream ${id} reset (RFC 9114 §6.2.1)`);
      this.uni.delete(id);
      return;
    }
    if (!this.messages.delete(id) && this.role === 'client') return;
    this.events.push({ type: 'reset', streamId: id, errorCode, local: false });
  }

  private onStopped(id: number, errorCode: number): void {
    if ((id & 2) !== 0) {
      // Our own control and QPACK streams are 2, 6, 10 (client) or 3, 7, 11 (server).
      if (id < 12) throw new Http3Error(H3ErrorCode.H3_CLOSED_CRITICAL_STREAM, `the peer stopped our critical stream ${id} (RFC 9114 §6.2.1)`);
      return;
    }
    if (this.role === 'server') {
      this.messages.delete(id);
      this.events.push({ type: 'reset', streamId: id, errorCode, local: false });
    }
  }

  private isPeerCritical(id: number): boolean {
    return id === this.peerCritical.control || id === this.peerCritical.encoder || id === this.peerCritical.decoder;
  }
}
