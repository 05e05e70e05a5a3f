/** fast-check generators for QUIC frames, shared by the frame and fuzz tests. */
import fc from 'fast-check';
import type { AckRange, Frame } from '../../src/quic/index.js';

const MAX = Number.MAX_SAFE_INTEGER;
export const varint = (): fc.Arbitrary<number> => fc.oneof(
  fc.integer({ min: 0, max: 63 }), fc.integer({ min: 0, max: 16383 }), fc.integer({ min: 0, max: 2 ** 30 - 1 }),
  fc.integer({ min: 0, max: MAX }),
);
const bytes = (min: number, max: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ minLength: min, maxLength: max });

/** Descending, disjoint ACK ranges with at least one unacknowledged packet between neighbours (RFC 9000 §19.3.1). */
export const ackRanges = (): fc.Arbitrary<AckRange[]> =>
  fc.tuple(fc.integer({ min: 0, max: 2 ** 40 }), fc.array(fc.tuple(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: 1000 })), { maxLength: 8 }), fc.integer({ min: 0, max: 1000 }))
    .map(([top, steps, firstLen]) => {
      const ranges: AckRange[] = [];
      let largest = top + 1_000_000;
      let smallest = largest - firstLen;
      ranges.push({ smallest, largest });
      for (const [gap, len] of steps) {
        largest = smallest - gap - 2;
        smallest = largest - len;
        if (smallest < 0) break;
        ranges.push({ smallest, largest });
      }
      return ranges;
    });

/** Any frame that is valid on its own; STREAM and DATAGRAM without Length are generated separately (they must be last). */
export const frame = (): fc.Arbitrary<Frame> => fc.oneof(
  fc.integer({ min: 1, max: 50 }).map((length): Frame => ({ type: 'padding', length })),
  fc.constant<Frame>({ type: 'ping' }),
  fc.record({
    ackDelay: varint(), ranges: ackRanges(),
    ecn: fc.option(fc.record({ ect0: varint(), ect1: varint(), ce: varint() }), { nil: undefined }),
  }).map(({ ackDelay, ranges, ecn }): Frame => (ecn ? { type: 'ack', ackDelay, ranges, ecn } : { type: 'ack', ackDelay, ranges })),
  fc.record({ streamId: varint(), errorCode: varint(), finalSize: varint() }).map((f): Frame => ({ type: 'reset_stream', ...f })),
  fc.record({ streamId: varint(), errorCode: varint() }).map((f): Frame => ({ type: 'stop_sending', ...f })),
  fc.record({ offset: varint(), data: bytes(0, 64) }).map((f): Frame => ({ type: 'crypto', ...f })),
  bytes(1, 64).map((token): Frame => ({ type: 'new_token', token })),
  fc.record({ streamId: varint(), offset: varint(), data: bytes(0, 64), fin: fc.boolean() })
    .map((f): Frame => ({ type: 'stream', ...f, hasLength: true })),
  varint().map((maximum): Frame => ({ type: 'max_data', maximum })),
  fc.record({ streamId: varint(), maximum: varint() }).map((f): Frame => ({ type: 'max_stream_data', ...f })),
  fc.record({ bidirectional: fc.boolean(), maximum: varint() }).map((f): Frame => ({ type: 'max_streams', ...f })),
  varint().map((limit): Frame => ({ type: 'data_blocked', limit })),
  fc.record({ streamId: varint(), limit: varint() }).map((f): Frame => ({ type: 'stream_data_blocked', ...f })),
  fc.record({ bidirectional: fc.boolean(), limit: varint() }).map((f): Frame => ({ type: 'streams_blocked', ...f })),
  fc.record({ a: varint(), b: varint(), connectionId: bytes(1, 20), statelessResetToken: bytes(16, 16) })
    .map(({ a, b, ...rest }): Frame => ({ type: 'new_connection_id', sequenceNumber: Math.max(a, b), retirePriorTo: Math.min(a, b), ...rest })),
  varint().map((sequenceNumber): Frame => ({ type: 'retire_connection_id', sequenceNumber })),
  bytes(8, 8).map((data): Frame => ({ type: 'path_challenge', data })),
  bytes(8, 8).map((data): Frame => ({ type: 'path_response', data })),
  fc.record({ errorCode: varint(), frameType: varint(), reason: bytes(0, 40) })
    .map((f): Frame => ({ type: 'connection_close', application: false, ...f })),
  fc.record({ errorCode: varint(), reason: bytes(0, 40) })
    .map((f): Frame => ({ type: 'connection_close', application: true, frameType: 0, ...f })),
  fc.constant<Frame>({ type: 'handshake_done' }),
  bytes(0, 64).map((data): Frame => ({ type: 'datagram', data, hasLength: true })),
);

/** A frame with no Length field, which may only end a packet. */
export const lastFrame = (): fc.Arbitrary<Frame> => fc.oneof(
  fc.record({ streamId: varint(), offset: varint(), data: bytes(0, 64), fin: fc.boolean() })
    .map((f): Frame => ({ type: 'stream', ...f, hasLength: false })),
  bytes(0, 64).map((data): Frame => ({ type: 'datagram', data, hasLength: false })),
);

/** A payload's frames, with consecutive PADDING merged as the decoder reports them. */
export const payloadFrames = (): fc.Arbitrary<Frame[]> =>
  fc.tuple(fc.array(frame(), { minLength: 1, maxLength: 8 }), fc.option(lastFrame(), { nil: undefined })).map(([fs, last]) => {
    const merged: Frame[] = [];
    for (const f of last ? [...fs, last] : fs) {
      const prev = merged[merged.length - 1];
      if (f.type === 'padding' && prev?.type === 'padding') merged[merged.length - 1] = { type: 'padding', length: prev.length + f.length };
      else merged.push(f);
    }
    return merged;
  });
