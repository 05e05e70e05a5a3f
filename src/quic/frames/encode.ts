import { ConfigError } from '../../errors.js';
import { Writer, varintLength } from '../../codec/writer.js';
import { FrameType, MAX_STREAMS_LIMIT, type AckRange, type Frame } from './types.js';

/** Appends the wire encoding of `f` (RFC 9000 §19) to `w`. */
export function encodeFrame(w: Writer, f: Frame): void {
  switch (f.type) {
    case 'padding':
      if (!Number.isInteger(f.length) || f.length < 1) throw new ConfigError('PADDING length must be at least 1');
      w.bytes(new Uint8Array(f.length));
      return;
    case 'ping': w.u8(FrameType.PING); return;
    case 'ack': encodeAck(w, f.ackDelay, f.ranges, f.ecn); return;
    case 'reset_stream': w.u8(FrameType.RESET_STREAM).varint(f.streamId).varint(f.errorCode).varint(f.finalSize); return;
    case 'stop_sending': w.u8(FrameType.STOP_SENDING).varint(f.streamId).varint(f.errorCode); return;
    case 'crypto': w.u8(FrameType.CRYPTO).varint(f.offset).varintBytes(f.data); return;
    case 'new_token':
      if (f.token.length === 0) throw new ConfigError('NEW_TOKEN token must not be empty');
      w.u8(FrameType.NEW_TOKEN).varintBytes(f.token);
      return;
    case 'stream':
      writeStreamHeader(w, f);
      w.bytes(f.data);
      return;
    case 'max_data': w.u8(FrameType.MAX_DATA).varint(f.maximum); return;
    case 'max_stream_data': w.u8(FrameType.MAX_STREAM_DATA).varint(f.streamId).varint(f.maximum); return;
    case 'max_streams':
      checkStreamCount(f.maximum);
      w.u8(f.bidirectional ? FrameType.MAX_STREAMS_BIDI : FrameType.MAX_STREAMS_UNI).varint(f.maximum);
      return;
    case 'data_blocked': w.u8(FrameType.DATA_BLOCKED).varint(f.limit); return;
    case 'stream_data_blocked': w.u8(FrameType.STREAM_DATA_BLOCKED).varint(f.streamId).varint(f.limit); return;
    case 'streams_blocked':
      checkStreamCount(f.limit);
      w.u8(f.bidirectional ? FrameType.STREAMS_BLOCKED_BIDI : FrameType.STREAMS_BLOCKED_UNI).varint(f.limit);
      return;
    case 'new_connection_id':
      if (f.connectionId.length < 1 || f.connectionId.length > 20) throw new ConfigError('NEW_CONNECTION_ID: connection ID must be 1–20 bytes');
      if (f.statelessResetToken.length !== 16) throw new ConfigError('NEW_CONNECTION_ID: stateless reset token must be 16 bytes');
      if (f.retirePriorTo > f.sequenceNumber) throw new ConfigError('NEW_CONNECTION_ID: Retire Prior To exceeds Sequence Number');
      w.u8(FrameType.NEW_CONNECTION_ID).varint(f.sequenceNumber).varint(f.retirePriorTo)
        .vecBytes(1, f.connectionId).bytes(f.statelessResetToken);
      return;
    case 'retire_connection_id': w.u8(FrameType.RETIRE_CONNECTION_ID).varint(f.sequenceNumber); return;
    case 'path_challenge':
    case 'path_response':
      if (f.data.length !== 8) throw new ConfigError(`${f.type}: data must be 8 bytes`);
      w.u8(f.type === 'path_challenge' ? FrameType.PATH_CHALLENGE : FrameType.PATH_RESPONSE).bytes(f.data);
      return;
    case 'connection_close':
      if (f.application) {
        w.u8(FrameType.CONNECTION_CLOSE_APP).varint(f.errorCode);
      } else {
        w.u8(FrameType.CONNECTION_CLOSE).varint(f.errorCode).varint(f.frameType);
      }
      w.varintBytes(f.reason);
      return;
    case 'handshake_done': w.u8(FrameType.HANDSHAKE_DONE); return;
    case 'datagram':
      if (f.hasLength) w.u8(FrameType.DATAGRAM_LEN).varintBytes(f.data);
      else w.u8(FrameType.DATAGRAM).bytes(f.data);
      return;
  }
}

function checkStreamCount(n: number): void {
  if (n > MAX_STREAMS_LIMIT) throw new ConfigError(`stream count ${n} exceeds 2^60`);
}

/** ACK ranges to First ACK Range and (Gap, ACK Range Length) pairs (RFC 9000 §19.3.1). */
function encodeAck(w: Writer, ackDelay: number, ranges: readonly AckRange[], ecn: { ect0: number; ect1: number; ce: number } | undefined): void {
  const first = ranges[0];
  if (!first) throw new ConfigError('ACK needs at least one range');
  if (first.smallest < 0 || first.smallest > first.largest) throw new ConfigError('ACK range smallest above largest');
  w.u8(ecn ? FrameType.ACK_ECN : FrameType.ACK).varint(first.largest).varint(ackDelay).varint(ranges.length - 1)
    .varint(first.largest - first.smallest);
  let smallest = first.smallest;
  for (let i = 1; i < ranges.length; i++) {
    const r = ranges[i] as AckRange;
    // Gap counts the unacknowledged packets between ranges, minus one.
    const gap = smallest - r.largest - 2;
    if (gap < 0 || r.smallest < 0 || r.smallest > r.largest) throw new ConfigError('ACK ranges must be descending and disjoint');
    w.varint(gap).varint(r.largest - r.smallest);
    smallest = r.smallest;
  }
  if (ecn) w.varint(ecn.ect0).varint(ecn.ect1).varint(ecn.ce);
}

/** A STREAM frame up to its data (RFC 9000 §19.8). */
function writeStreamHeader(w: Writer, f: Extract<Frame, { type: 'stream' }>): void {
  const off = f.offset !== 0;
  w.u8(FrameType.STREAM | (off ? 0x04 : 0) | (f.hasLength ? 0x02 : 0) | (f.fin ? 0x01 : 0)).varint(f.streamId);
  if (off) w.varint(f.offset);
  if (f.hasLength) w.varint(f.data.length);
}

/** Encodes a packet payload: the frames in order. */
export function encodeFrames(frames: readonly Frame[]): Uint8Array {
  const w = new Writer(256);
  writeFrames(w, frames);
  return w.finish();
}

/**
 * Encodes `frames` into `out` from `offset` (a packet being built) and returns
 * the offset after them; throws {@link ConfigError} if they overrun `out`.
 */
export function encodeFramesInto(frames: readonly Frame[], out: Uint8Array, offset: number): number {
  const w = Writer.into(out, offset);
  writeFrames(w, frames);
  return w.length;
}

/**
 * STREAM data at least this long is left out by {@link encodeFramesGather}: below it, a copy costs less than a
 * part of its own. A part is one more EVP_EncryptUpdate through the FFI, about 0.5 µs on Node 24, where copying
 * a 1452-byte packet's data costs 0.04 µs: a path's ordinary datagrams are copied in and sealed in one call, and
 * only the data of large ones (DPLPMTUD up to 64 KiB on loopback) is read where it lies.
 */
export const GATHER_MIN = 8 * 1024;

const NO_HOLES: readonly { at: number; data: Uint8Array }[] = Object.freeze([]);

/**
 * {@link encodeFramesInto}, except that the data of long STREAM frames is
 * not copied: its place in `out` is skipped, and each such piece is returned
 * with the offset it belongs at, for the AEAD to read from where it lies.
 */
export function encodeFramesGather(frames: readonly Frame[], out: Uint8Array, offset: number): { end: number; holes: readonly { at: number; data: Uint8Array }[] } {
  const w = Writer.into(out, offset);
  let holes: { at: number; data: Uint8Array }[] | undefined;
  for (let i = 0; i < frames.length; i++) {
    const f = frames[i] as Frame;
    // Without a Length field the data runs to the end of the packet (RFC 9000 §19.8).
    if ((f.type === 'stream' || f.type === 'datagram') && !f.hasLength && i !== frames.length - 1) {
      throw new ConfigError(`a ${f.type} frame without a Length field must be the last frame`);
    }
    if (f.type !== 'stream' || f.data.length < GATHER_MIN) {
      encodeFrame(w, f);
      continue;
    }
    writeStreamHeader(w, f);
    (holes ??= []).push({ at: w.length, data: f.data });
    w.skip(f.data.length);
  }
  return { end: w.length, holes: holes ?? NO_HOLES };
}

function writeFrames(w: Writer, frames: readonly Frame[]): void {
  for (let i = 0; i < frames.length; i++) {
    const f = frames[i] as Frame;
    // Without a Length field the data runs to the end of the packet (RFC 9000 §19.8).
    if ((f.type === 'stream' || f.type === 'datagram') && !f.hasLength && i !== frames.length - 1) {
      throw new ConfigError(`a ${f.type} frame without a Length field must be the last frame`);
    }
    encodeFrame(w, f);
  }
}

/**
 * The number of bytes {@link encodeFrame} writes for `f`, without writing
 * them: a packet is sized frame by frame before it is built. The frames every
 * packet carries are counted here; the rare others are encoded and measured.
 */
export function frameLength(f: Frame): number {
  switch (f.type) {
    case 'padding': return f.length;
    case 'ping':
    case 'handshake_done':
      return 1;
    case 'stream': {
      const n = f.data.length;
      return 1 + varintLength(f.streamId) + (f.offset !== 0 ? varintLength(f.offset) : 0) + (f.hasLength ? varintLength(n) : 0) + n;
    }
    case 'crypto': return 1 + varintLength(f.offset) + varintLength(f.data.length) + f.data.length;
    case 'datagram': return 1 + (f.hasLength ? varintLength(f.data.length) : 0) + f.data.length;
    case 'max_data': return 1 + varintLength(f.maximum);
    case 'max_stream_data': return 1 + varintLength(f.streamId) + varintLength(f.maximum);
    case 'ack': {
      const first = f.ranges[0];
      if (!first) break; // encodeFrame reports it
      let n = 1 + varintLength(first.largest) + varintLength(f.ackDelay) + varintLength(f.ranges.length - 1) + varintLength(first.largest - first.smallest);
      let smallest = first.smallest;
      for (let i = 1; i < f.ranges.length; i++) {
        const r = f.ranges[i] as AckRange;
        n += varintLength(Math.max(0, smallest - r.largest - 2)) + varintLength(Math.max(0, r.largest - r.smallest));
        smallest = r.smallest;
      }
      if (f.ecn) n += varintLength(f.ecn.ect0) + varintLength(f.ecn.ect1) + varintLength(f.ecn.ce);
      return n;
    }
    default:
      break;
  }
  const w = new Writer(64);
  encodeFrame(w, f);
  return w.length;
}

/**
 * Frames gathered for one packet's payload within a byte budget: each frame
 * goes in only if it fits what is left.
 */
export class FrameBudget {
  readonly frames: Frame[] = [];
  constructor(public left: number) {}

  /** Adds `f` if it fits; false, with nothing added, if it does not. */
  add(f: Frame): boolean {
    const n = frameLength(f);
    if (n > this.left) return false;
    this.frames.push(f);
    this.left -= n;
    return true;
  }
}
