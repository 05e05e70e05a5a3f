/**
 * HTTP/3 frames (RFC 9114 §7): encoding, and an incremental parser for the
 * bytes of one stream. DATA payloads are passed through piece by piece as
 * they arrive, never buffered whole; every other frame we act on is buffered
 * up to a cap and the parser fails with H3_EXCESSIVE_LOAD beyond it; frames
 * of unknown or reserved types are skipped without buffering (§9).
 */
import { Reader } from '../codec/reader.js';
import { Writer } from '../codec/writer.js';
import { DecodeError } from '../errors.js';
import { readVarintParts, saturate } from '../quic/varint.js';
import { Http3Error, H3ErrorCode } from './errors.js';

export const FrameType = {
  DATA: 0x00,
  HEADERS: 0x01,
  CANCEL_PUSH: 0x03,
  SETTINGS: 0x04,
  PUSH_PROMISE: 0x05,
  GOAWAY: 0x07,
  MAX_PUSH_ID: 0x0d,
} as const;

/** Frame types HTTP/2 used that HTTP/3 forbids (RFC 9114 §7.2.8, §11.2.1): H3_FRAME_UNEXPECTED. */
export const HTTP2_FRAME_TYPES: ReadonlySet<number> = new Set([0x02, 0x06, 0x08, 0x09]);

export const SettingId = {
  QPACK_MAX_TABLE_CAPACITY: 0x01,
  MAX_FIELD_SECTION_SIZE: 0x06,
  QPACK_BLOCKED_STREAMS: 0x07,
} as const;

/** Setting identifiers HTTP/2 used; receiving one is H3_SETTINGS_ERROR (RFC 9114 §7.2.4.1). */
const HTTP2_SETTINGS: ReadonlySet<number> = new Set([0x00, 0x02, 0x03, 0x04, 0x05]);

/** A parsed frame payload, or a piece of a DATA payload. */
export type FrameEvent =
  | { readonly kind: 'frame'; readonly type: number; readonly payload: Uint8Array }
  /** A DATA frame's header, before any of its payload (which may be empty). */
  | { readonly kind: 'data-frame' }
  | { readonly kind: 'data'; readonly data: Uint8Array }
  /** An unknown or reserved frame type, whose payload is skipped. */
  | { readonly kind: 'skip'; readonly type: number };

export interface FrameLimits {
  /** Largest HEADERS / PUSH_PROMISE payload (default 65 536 + 16, a field section of the advertised size plus its prefix). */
  readonly maxHeadersFrame?: number;
  /** Largest SETTINGS payload (default 1024). */
  readonly maxSettingsFrame?: number;
}
const CONTROL_FRAME_MAX = 8; // CANCEL_PUSH, GOAWAY, MAX_PUSH_ID: one varint (§7.2.3, §7.2.6, §7.2.7)

/** A frame type as a number, or -1 for one too large to be any type we know (reserved types reach 2^62). */
function readType(r: Reader): number {
  const p = readVarintParts(r);
  return p.hi === 0 ? p.lo : -1;
}

/**
 * Splits one stream's bytes into frames. Feed it with {@link push}; it
 * returns what completed. {@link atBoundary} says whether the stream may end
 * here (§7.1: a frame cut off by the end of the stream is H3_FRAME_ERROR).
 */
export class FrameParser {
  private head = new Uint8Array(16);
  private headLen = 0;
  private current: { type: number; remaining: number; buf?: Uint8Array; filled: number } | undefined;
  private readonly maxHeaders: number;
  private readonly maxSettings: number;

  constructor(limits: FrameLimits = {}) {
    this.maxHeaders = limits.maxHeadersFrame ?? 65_536 + 16;
    this.maxSettings = limits.maxSettingsFrame ?? 1024;
  }

  get atBoundary(): boolean {
    return this.current === undefined && this.headLen === 0;
  }

  push(chunk: Uint8Array): FrameEvent[] {
    const out: FrameEvent[] = [];
    let i = 0;
    while (i < chunk.length) {
      if (!this.current) {
        // Header: type and length varints, at most 16 bytes together.
        const take = Math.min(16 - this.headLen, chunk.length - i);
        this.head.set(chunk.subarray(i, i + take), this.headLen);
        const parsed = this.parseHead(this.headLen + take);
        if (!parsed) {
          this.headLen += take;
          i += take;
          continue;
        }
        i += parsed.used - this.headLen;
        this.headLen = 0;
        this.current = this.begin(parsed.type, parsed.length);
        if (this.current.type === FrameType.DATA) out.push({ kind: 'data-frame' });
        else if (!this.current.buf) out.push({ kind: 'skip', type: this.current.type });
        if (this.current.remaining === 0) out.push(...this.finish());
        continue;
      }
      const cur = this.current;
      const n = Math.min(cur.remaining, chunk.length - i);
      const piece = chunk.subarray(i, i + n);
      i += n;
      cur.remaining -= n;
      if (cur.type === FrameType.DATA) {
        if (n > 0) out.push({ kind: 'data', data: piece.slice() });
      }
      else if (cur.buf) {
        cur.buf.set(piece, cur.filled);
        cur.filled += n;
      }
      if (cur.remaining === 0) out.push(...this.finish());
    }
    return out;
  }

  /** The frame header in the first `len` bytes of `head`, or undefined while incomplete. */
  private parseHead(len: number): { type: number; length: number; used: number } | undefined {
    const r = new Reader(this.head.subarray(0, len), 'HTTP/3 frame header');
    try {
      const type = readType(r);
      const length = saturate(readVarintParts(r));
      return { type, length, used: r.offset };
    } catch (e) {
      if (e instanceof DecodeError) return undefined; // not all here yet
      throw e;
    }
  }

  private begin(type: number, length: number): { type: number; remaining: number; buf?: Uint8Array; filled: number } {
    let cap: number | undefined;
    switch (type) {
      case FrameType.DATA: return { type, remaining: length, filled: 0 };
      case FrameType.HEADERS: case FrameType.PUSH_PROMISE: cap = this.maxHeaders; break;
      case FrameType.SETTINGS: cap = this.maxSettings; break;
      case FrameType.CANCEL_PUSH: case FrameType.GOAWAY: case FrameType.MAX_PUSH_ID:
        if (length > CONTROL_FRAME_MAX) throw new Http3Error(H3ErrorCode.H3_FRAME_ERROR, `frame 0x${type.toString(16)} of ${length} bytes holds more than one varint`);
        cap = CONTROL_FRAME_MAX;
        break;
      default:
        if (HTTP2_FRAME_TYPES.has(type)) throw new Http3Error(H3ErrorCode.H3_FRAME_UNEXPECTED, `HTTP/2 frame type 0x${type.toString(16)} (RFC 9114 §7.2.8)`);
        // Unknown and reserved types (§7.2.8, §9): skipped, their payload never held.
        return { type, remaining: length, filled: 0 };
    }
    if (length > cap) throw new Http3Error(H3ErrorCode.H3_EXCESSIVE_LOAD, `frame 0x${type.toString(16)} of ${length} bytes exceeds our limit of ${cap}`);
    return { type, remaining: length, buf: new Uint8Array(length), filled: 0 };
  }

  private finish(): FrameEvent[] {
    const cur = this.current;
    this.current = undefined;
    if (!cur || cur.type === FrameType.DATA || !cur.buf) return [];
    return [{ kind: 'frame', type: cur.type, payload: cur.buf }];
  }
}

export function encodeFrame(type: number, payload: Uint8Array): Uint8Array {
  return new Writer(payload.length + 16).varint(type).varint(payload.length).bytes(payload).finish();
}

/** A DATA frame's header alone, so a large body is not copied to be framed. */
export function dataFrameHeader(length: number): Uint8Array {
  return new Writer(16).varint(FrameType.DATA).varint(length).finish();
}

export type Settings = ReadonlyMap<number, number>;

export function encodeSettings(settings: Settings): Uint8Array {
  const w = new Writer(64);
  for (const [id, value] of settings) w.varint(id).varint(value);
  return encodeFrame(FrameType.SETTINGS, w.finish());
}

/**
 * A SETTINGS payload (RFC 9114 §7.2.4): a duplicate identifier or an HTTP/2
 * one is H3_SETTINGS_ERROR; unknown identifiers are kept and ignored (§7.2.4.1).
 * More than `maxEntries` is H3_EXCESSIVE_LOAD.
 */
export function decodeSettings(payload: Uint8Array, maxEntries = 64): Map<number, number> {
  const r = new Reader(payload, 'SETTINGS');
  const out = new Map<number, number>();
  try {
    while (r.remaining > 0) {
      const idParts = readVarintParts(r);
      const value = saturate(readVarintParts(r));
      // Identifiers past 2^53 are reserved/unknown ones (§7.2.4.1); they only count toward the cap.
      const id = idParts.hi === 0 ? idParts.lo : -1 - out.size;
      if (HTTP2_SETTINGS.has(id)) throw new Http3Error(H3ErrorCode.H3_SETTINGS_ERROR, `HTTP/2 setting 0x${id.toString(16)} (RFC 9114 §7.2.4.1)`);
      if (out.has(id)) throw new Http3Error(H3ErrorCode.H3_SETTINGS_ERROR, `setting 0x${id.toString(16)} appears twice (RFC 9114 §7.2.4)`);
      if (out.size >= maxEntries) throw new Http3Error(H3ErrorCode.H3_EXCESSIVE_LOAD, `more than ${maxEntries} settings`);
      out.set(id, value);
    }
  } catch (e) {
    if (e instanceof DecodeError) throw new Http3Error(H3ErrorCode.H3_FRAME_ERROR, 'SETTINGS payload ends inside a varint');
    throw e;
  }
  return out;
}

/** The single varint of GOAWAY, CANCEL_PUSH or MAX_PUSH_ID; anything else in the payload is H3_FRAME_ERROR (§7.1). */
export function decodeVarintPayload(payload: Uint8Array, what: string): number {
  const r = new Reader(payload, what);
  try {
    const v = saturate(readVarintParts(r));
    if (r.remaining !== 0) throw new Http3Error(H3ErrorCode.H3_FRAME_ERROR, `${what} has bytes after its varint`);
    return v;
  } catch (e) {
    if (e instanceof DecodeError) throw new Http3Error(H3ErrorCode.H3_FRAME_ERROR, `${what} payload is not a varint`);
    throw e;
  }
}

export function encodeVarint(v: number): Uint8Array {
  return new Writer(8).varint(v).finish();
}
