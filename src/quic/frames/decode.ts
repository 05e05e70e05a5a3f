import { DecodeError } from '../../errors.js';
import { Reader } from '../../codec/reader.js';
import { varintLength } from '../../codec/writer.js';
import { QuicTransportError, TransportErrorCode } from '../errors.js';
import type { ProtectedPacketType } from '../header.js';
import { exceedsPowerOfTwo, readVarintParts, saturate, saturatingVarint } from '../varint.js';
import { isFrameAllowed, isKnownFrameType } from './allowed.js';
import { FrameType, type AckRange, type Frame } from './types.js';

export interface DecodeFramesOptions {
  /**
   * The max_datagram_frame_size this endpoint advertised (RFC 9221 §3), or
   * undefined if it did not: then any DATAGRAM frame is a PROTOCOL_VIOLATION.
   */
  readonly maxDatagramFrameSize?: number;
}

/**
 * Decodes the frames of a packet payload (RFC 9000 §12.4, §19), enforcing
 * which frames each packet type may carry. Failures are connection errors:
 * FRAME_ENCODING_ERROR for a malformed or unknown frame, PROTOCOL_VIOLATION
 * for an empty payload, a frame in the wrong packet type or an over-long
 * frame-type encoding.
 */
export function decodeFrames(payload: Uint8Array, packetType: ProtectedPacketType, options: DecodeFramesOptions = {}): Frame[] {
  if (payload.length === 0) throw new QuicTransportError(TransportErrorCode.PROTOCOL_VIOLATION, 'packet contains no frames');
  const r = new Reader(payload, 'QUIC frame');
  const frames: Frame[] = [];
  while (!r.done) {
    const start = r.offset;
    let type: number;
    try {
      type = r.varint();
    } catch (e) {
      throw encodingError(e, undefined);
    }
    if (r.offset - start !== varintLength(type)) {
      throw new QuicTransportError(TransportErrorCode.PROTOCOL_VIOLATION, `frame type 0x${type.toString(16)} not minimally encoded`, { frameType: type });
    }
    if (!isKnownFrameType(type)) {
      throw new QuicTransportError(TransportErrorCode.FRAME_ENCODING_ERROR, `unknown frame type 0x${type.toString(16)}`, { frameType: type });
    }
    if (!isFrameAllowed(type, packetType)) {
      throw new QuicTransportError(TransportErrorCode.PROTOCOL_VIOLATION, `frame type 0x${type.toString(16)} not allowed in ${packetType} packets`, { frameType: type });
    }
    try {
      frames.push(decodeBody(r, payload, type, start, options));
    } catch (e) {
      throw encodingError(e, type);
    }
  }
  return frames;
}

function encodingError(e: unknown, frameType: number | undefined): unknown {
  if (e instanceof DecodeError) return new QuicTransportError(TransportErrorCode.FRAME_ENCODING_ERROR, e.message, { frameType, cause: e });
  return e;
}

function fail(message: string): never {
  throw new DecodeError(message);
}

function decodeBody(r: Reader, payload: Uint8Array, type: number, start: number, options: DecodeFramesOptions): Frame {
  if (type >= FrameType.STREAM && type <= 0x0f) {
    const streamId = r.varint();
    const offset = type & 0x04 ? r.varint() : 0;
    const hasLength = (type & 0x02) !== 0;
    const data = hasLength ? r.varintBytes() : r.rest();
    // Offsets are below 2^53 by construction, so offset + length cannot reach 2^62 (RFC 9000 §19.8).
    return { type: 'stream', streamId, offset, data, fin: (type & 0x01) !== 0, hasLength };
  }
  switch (type) {
    case FrameType.PADDING: {
      // A run of PADDING bytes becomes one frame.
      let end = r.offset;
      while (end < payload.length && payload[end] === 0) end++;
      r.bytes(end - r.offset);
      return { type: 'padding', length: end - start };
    }
    case FrameType.PING: return { type: 'ping' };
    case FrameType.ACK:
    case FrameType.ACK_ECN: return decodeAck(r, type === FrameType.ACK_ECN);
    case FrameType.RESET_STREAM:
      return { type: 'reset_stream', streamId: r.varint(), errorCode: saturatingVarint(r), finalSize: r.varint() };
    case FrameType.STOP_SENDING: return { type: 'stop_sending', streamId: r.varint(), errorCode: saturatingVarint(r) };
    case FrameType.CRYPTO: return { type: 'crypto', offset: r.varint(), data: r.varintBytes() };
    case FrameType.NEW_TOKEN: {
      const token = r.varintBytes();
      if (token.length === 0) fail('NEW_TOKEN with an empty token');
      return { type: 'new_token', token };
    }
    case FrameType.MAX_DATA: return { type: 'max_data', maximum: saturatingVarint(r) };
    case FrameType.MAX_STREAM_DATA: return { type: 'max_stream_data', streamId: r.varint(), maximum: saturatingVarint(r) };
    case FrameType.MAX_STREAMS_BIDI:
    case FrameType.MAX_STREAMS_UNI:
      return { type: 'max_streams', bidirectional: type === FrameType.MAX_STREAMS_BIDI, maximum: streamCount(r) };
    case FrameType.DATA_BLOCKED: return { type: 'data_blocked', limit: saturatingVarint(r) };
    case FrameType.STREAM_DATA_BLOCKED: return { type: 'stream_data_blocked', streamId: r.varint(), limit: saturatingVarint(r) };
    case FrameType.STREAMS_BLOCKED_BIDI:
    case FrameType.STREAMS_BLOCKED_UNI:
      return { type: 'streams_blocked', bidirectional: type === FrameType.STREAMS_BLOCKED_BIDI, limit: streamCount(r) };
    case FrameType.NEW_CONNECTION_ID: {
      const sequenceNumber = r.varint();
      const retirePriorTo = r.varint();
      if (retirePriorTo > sequenceNumber) fail('NEW_CONNECTION_ID: Retire Prior To exceeds Sequence Number');
      const connectionId = r.vec(1);
      if (connectionId.length < 1 || connectionId.length > 20) fail(`NEW_CONNECTION_ID: connection ID length ${connectionId.length}`);
      return { type: 'new_connection_id', sequenceNumber, retirePriorTo, connectionId, statelessResetToken: r.bytes(16) };
    }
    case FrameType.RETIRE_CONNECTION_ID: return { type: 'retire_connection_id', sequenceNumber: r.varint() };
    case FrameType.PATH_CHALLENGE: return { type: 'path_challenge', data: r.bytes(8) };
    case FrameType.PATH_RESPONSE: return { type: 'path_response', data: r.bytes(8) };
    case FrameType.CONNECTION_CLOSE: {
      const errorCode = saturatingVarint(r);
      const frameType = saturatingVarint(r);
      return { type: 'connection_close', application: false, errorCode, frameType, reason: r.varintBytes() };
    }
    case FrameType.CONNECTION_CLOSE_APP:
      return { type: 'connection_close', application: true, errorCode: saturatingVarint(r), frameType: 0, reason: r.varintBytes() };
    case FrameType.HANDSHAKE_DONE: return { type: 'handshake_done' };
    case FrameType.DATAGRAM:
    case FrameType.DATAGRAM_LEN: {
      const hasLength = type === FrameType.DATAGRAM_LEN;
      const data = hasLength ? r.varintBytes() : r.rest();
      const size = r.offset - start;
      if (options.maxDatagramFrameSize === undefined || size > options.maxDatagramFrameSize) {
        throw new QuicTransportError(TransportErrorCode.PROTOCOL_VIOLATION,
          options.maxDatagramFrameSize === undefined ? 'DATAGRAM frames were not negotiated' : `DATAGRAM frame of ${size} bytes exceeds max_datagram_frame_size`,
          { frameType: type });
      }
      return { type: 'datagram', data, hasLength };
    }
    default:
      return fail(`unknown frame type 0x${type.toString(16)}`);
  }
}

function streamCount(r: Reader): number {
  const p = readVarintParts(r);
  if (exceedsPowerOfTwo(p, 60)) fail('stream count exceeds 2^60');
  return saturate(p);
}

/** ACK ranges from First ACK Range and (Gap, ACK Range Length) pairs; a negative packet number is an error (RFC 9000 §19.3.1). */
function decodeAck(r: Reader, withEcn: boolean): Frame {
  const largest = r.varint();
  const ackDelay = saturatingVarint(r);
  const count = r.varint();
  let smallest = largest - r.varint();
  if (smallest < 0) fail('ACK: First ACK Range below packet number 0');
  const ranges: AckRange[] = [{ smallest, largest }];
  for (let i = 0; i < count; i++) {
    const top = smallest - r.varint() - 2;
    const bottom = top - r.varint();
    if (bottom < 0) fail('ACK: range below packet number 0');
    ranges.push({ smallest: bottom, largest: top });
    smallest = bottom;
  }
  if (!withEcn) return { type: 'ack', ackDelay, ranges };
  return { type: 'ack', ackDelay, ranges, ecn: { ect0: r.varint(), ect1: r.varint(), ce: r.varint() } };
}
