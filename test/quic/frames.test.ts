/**
 * RFC 9000 §19 frames (and RFC 9221 DATAGRAM): round trips, the exact wire
 * forms of §19, the §12.4 packet-type table and each frame's FRAME_ENCODING_ERROR rules.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../src/bytes.js';
import { ConfigError } from '../../src/errors.js';
import { encodeFramesGather, encodeFramesInto, frameLength, GATHER_MIN } from '../../src/quic/frames/encode.js';
import {
  decodeFrames, encodeFrames, isFrameAllowed, QuicTransportError, TransportErrorCode, type Frame, type ProtectedPacketType,
} from '../../src/quic/index.js';
import { payloadFrames } from './arbitraries.js';
import { seeded } from '../helpers/fc.js';

const DATAGRAMS = { maxDatagramFrameSize: 65535 };

function codeOf(f: () => unknown): number | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof QuicTransportError) return e.code;
    throw e;
  }
  return undefined;
}
const decode = (hex: string, type: ProtectedPacketType = '1rtt'): Frame[] => decodeFrames(fromHex(hex), type, DATAGRAMS);

describe('frame round trips (RFC 9000 §19)', () => {
  it('every frame type encodes and decodes to itself', () => {
    fc.assert(fc.property(payloadFrames(), (frames) => {
      expect(decodeFrames(encodeFrames(frames), '1rtt', DATAGRAMS)).toEqual(frames);
    }), seeded(22647, { numRuns: 400 }));
  });

  it('frameLength is the encoded size of every frame, and encodeFramesInto writes the same bytes in place', () => {
    fc.assert(fc.property(payloadFrames(), fc.integer({ min: 0, max: 40 }), (frames, at) => {
      const encoded = encodeFrames(frames);
      for (const f of frames) expect(frameLength(f)).toBe(encodeFrames([f]).length);
      const out = new Uint8Array(at + encoded.length + 3).fill(0xee);
      expect(encodeFramesInto(frames, out, at)).toBe(at + encoded.length);
      expect(toHex(out.subarray(at, at + encoded.length))).toBe(toHex(encoded));
      expect([...out.subarray(0, at), ...out.subarray(at + encoded.length)].every((b) => b === 0xee)).toBe(true);
    }), seeded(22648, { numRuns: 400 }));
  });

  it('encodeFramesGather writes the same bytes except the data of long STREAM frames, which it leaves for the AEAD to read where it lies', () => {
    const long = fc.record({
      streamId: fc.integer({ min: 0, max: 2 ** 20 }), offset: fc.integer({ min: 0, max: 2 ** 40 }),
      length: fc.integer({ min: GATHER_MIN, max: GATHER_MIN + 4000 }), fin: fc.boolean(),
    }).map(({ length, ...f }): Frame => ({ type: 'stream', ...f, data: new Uint8Array(length).map((_, i) => i * 7 + 1), hasLength: true }));
    fc.assert(fc.property(payloadFrames(), fc.array(long, { maxLength: 3 }), fc.integer({ min: 0, max: 40 }), fc.boolean(), (small, longs, at, lastWithoutLength) => {
      // The long ones go first, so that the small frames' own last-frame rules still hold; the last may drop its Length.
      const frames: Frame[] = [...longs, ...small];
      const last = frames[frames.length - 1];
      if (lastWithoutLength && last?.type === 'stream' && last.data.length >= GATHER_MIN) frames[frames.length - 1] = { ...last, hasLength: false };
      const encoded = encodeFrames(frames);
      const out = new Uint8Array(at + encoded.length + 3).fill(0xee);
      const { end, holes } = encodeFramesGather(frames, out, at);
      expect(end).toBe(at + encoded.length);
      expect(holes.map((h) => h.data)).toEqual(frames.filter((f) => f.type === 'stream' && f.data.length >= GATHER_MIN).map((f) => f.type === 'stream' && f.data));
      for (const h of holes) {
        expect(out.subarray(h.at, h.at + h.data.length).every((b) => b === 0xee)).toBe(true);
        out.set(h.data, h.at);
      }
      expect(toHex(out.subarray(at, end))).toBe(toHex(encoded));
    }), seeded(22649, { numRuns: 200 }));
  });

  it('the data of a packet of an ordinary path (1452 bytes) is copied in, not left as a hole: one AEAD call seals it', () => {
    const frames: Frame[] = [
      { type: 'ack', ackDelay: 3, ranges: [{ largest: 90, smallest: 80 }] },
      { type: 'stream', streamId: 0, offset: 1 << 20, data: new Uint8Array(1400).fill(9), fin: false, hasLength: false },
    ];
    const encoded = encodeFrames(frames);
    const out = new Uint8Array(encoded.length + 10);
    const { end, holes } = encodeFramesGather(frames, out, 10);
    expect(holes).toEqual([]);
    expect(toHex(out.subarray(10, end))).toBe(toHex(encoded));
    expect(GATHER_MIN).toBeGreaterThan(1452);
  });

  it('encodeFramesInto refuses a buffer too short for the frames, and writes nothing past its end', () => {
    const frames: Frame[] = [{ type: 'stream', streamId: 4, offset: 1000, data: new Uint8Array(100).fill(7), fin: false, hasLength: true }];
    const n = encodeFrames(frames).length;
    const backing = new Uint8Array(n + 8).fill(0xee);
    expect(() => encodeFramesInto(frames, backing.subarray(0, n - 1), 0)).toThrow(ConfigError);
    expect(backing.subarray(n - 1).every((b) => b === 0xee)).toBe(true);
    expect(() => encodeFramesInto(frames, backing.subarray(0, n + 2), 3)).toThrow(ConfigError);
  });
});

describe('wire forms', () => {
  it('§19.3 ACK with ranges and ECN counts', () => {
    const frames = decode('03' + '0a' + '05' + '01' + '02' + '01' + '00' + '01' + '02' + '03');
    expect(frames).toEqual([{ type: 'ack', ackDelay: 5, ranges: [{ smallest: 8, largest: 10 }, { smallest: 5, largest: 5 }], ecn: { ect0: 1, ect1: 2, ce: 3 } }]);
  });
  it('§19.8 STREAM type bits: OFF, LEN and FIN', () => {
    expect(decode('0f' + '04' + '4100' + '02' + 'abcd')).toEqual([{ type: 'stream', streamId: 4, offset: 256, data: fromHex('abcd'), fin: true, hasLength: true }]);
    expect(decode('08' + '04' + 'abcd')).toEqual([{ type: 'stream', streamId: 4, offset: 0, data: fromHex('abcd'), fin: false, hasLength: false }]);
    expect(toHex(encodeFrames([{ type: 'stream', streamId: 4, offset: 0, data: fromHex('ab'), fin: true, hasLength: true }]))).toBe('0b0401ab');
  });
  it('§19.19 CONNECTION_CLOSE carries the frame type only for transport errors', () => {
    expect(toHex(encodeFrames([{ type: 'connection_close', application: false, errorCode: 7, frameType: 6, reason: new Uint8Array(0) }]))).toBe('1c070600');
    expect(toHex(encodeFrames([{ type: 'connection_close', application: true, errorCode: 7, frameType: 0, reason: fromHex('6869') }]))).toBe('1d07026869');
  });
  it('§19.1 consecutive PADDING bytes are one frame', () => {
    expect(decode('000000' + '01' + '00')).toEqual([{ type: 'padding', length: 3 }, { type: 'ping' }, { type: 'padding', length: 1 }]);
  });
  it('flow-control limits above 2^53-1 saturate instead of failing', () => {
    expect(decode('10' + 'ffffffffffffffff')).toEqual([{ type: 'max_data', maximum: Number.MAX_SAFE_INTEGER }]);
  });
  it('a STREAM or DATAGRAM without Length must be the last frame when encoding', () => {
    expect(() => encodeFrames([{ type: 'datagram', data: new Uint8Array(1), hasLength: false }, { type: 'ping' }])).toThrow();
  });
});

describe('§12.4 packet types', () => {
  it.each([
    ['NEW_TOKEN', '070101'], ['PATH_RESPONSE', '1b0001020304050607'], ['HANDSHAKE_DONE', '1e'],
  ])('%s only in 1-RTT', (_n, hex) => {
    for (const t of ['initial', 'handshake', '0rtt'] as const) expect(codeOf(() => decode(hex, t))).toBe(TransportErrorCode.PROTOCOL_VIOLATION);
    expect(decode(hex, '1rtt')).toHaveLength(1);
  });
  it('ACK and CRYPTO are not allowed in 0-RTT, STREAM not in Initial or Handshake', () => {
    expect(codeOf(() => decode('0200000000', '0rtt'))).toBe(TransportErrorCode.PROTOCOL_VIOLATION);
    expect(codeOf(() => decode('060000', '0rtt'))).toBe(TransportErrorCode.PROTOCOL_VIOLATION);
    expect(codeOf(() => decode('0a0000', 'initial'))).toBe(TransportErrorCode.PROTOCOL_VIOLATION);
    expect(codeOf(() => decode('0a0000', 'handshake'))).toBe(TransportErrorCode.PROTOCOL_VIOLATION);
  });
  it('CONNECTION_CLOSE 0x1c is allowed everywhere, 0x1d only in 0-RTT and 1-RTT', () => {
    for (const t of ['initial', 'handshake', '0rtt', '1rtt'] as const) expect(decode('1c000000', t)).toHaveLength(1);
    expect(codeOf(() => decode('1d0000', 'initial'))).toBe(TransportErrorCode.PROTOCOL_VIOLATION);
    expect(isFrameAllowed(0x1d, '0rtt')).toBe(true);
  });
  it('DATAGRAM (RFC 9221 §4) only in 0-RTT and 1-RTT, and only when negotiated and small enough', () => {
    expect(codeOf(() => decode('3101aa', 'handshake'))).toBe(TransportErrorCode.PROTOCOL_VIOLATION);
    expect(codeOf(() => decodeFrames(fromHex('3101aa'), '1rtt'))).toBe(TransportErrorCode.PROTOCOL_VIOLATION);
    expect(codeOf(() => decodeFrames(fromHex('3102aaaa'), '1rtt', { maxDatagramFrameSize: 3 }))).toBe(TransportErrorCode.PROTOCOL_VIOLATION);
    expect(decodeFrames(fromHex('3101aa'), '1rtt', { maxDatagramFrameSize: 3 })).toHaveLength(1);
  });
  it('an empty payload is a PROTOCOL_VIOLATION', () => {
    expect(codeOf(() => decodeFrames(new Uint8Array(0), '1rtt'))).toBe(TransportErrorCode.PROTOCOL_VIOLATION);
  });
  it('a frame type with a longer encoding than necessary is a PROTOCOL_VIOLATION', () => {
    expect(codeOf(() => decode('4001'))).toBe(TransportErrorCode.PROTOCOL_VIOLATION);
  });
});

describe('FRAME_ENCODING_ERROR', () => {
  it.each([
    ['an unknown frame type', '21'],
    ['a truncated frame', '0604'],
    ['an ACK range below packet 0 (§19.3.1)', '02' + '05' + '00' + '00' + '06'],
    ['an ACK gap below packet 0 (§19.3.1)', '02' + '05' + '00' + '01' + '00' + '04' + '00'],
    ['an empty NEW_TOKEN (§19.7)', '0700'],
    ['MAX_STREAMS above 2^60 (§19.11)', '12' + 'd000000000000001'],
    ['STREAMS_BLOCKED above 2^60 (§19.14)', '17' + 'd000000000000001'],
    ['NEW_CONNECTION_ID with Retire Prior To > Sequence Number (§19.15)', '18' + '01' + '02' + '01aa' + '00'.repeat(16)],
    ['NEW_CONNECTION_ID with a 21-byte connection ID (§19.15)', '18' + '01' + '00' + '15' + 'aa'.repeat(21) + '00'.repeat(16)],
    ['NEW_CONNECTION_ID with an empty connection ID (§19.15)', '18' + '01' + '00' + '00' + '00'.repeat(16)],
    ['a STREAM Length past the payload', '0a' + '00' + '05' + 'aa'],
  ])('%s', (_n, hex) => {
    const err = (() => {
      try {
        decode(hex);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(QuicTransportError);
    expect((err as QuicTransportError).code).toBe(TransportErrorCode.FRAME_ENCODING_ERROR);
  });
  it('MAX_STREAMS of exactly 2^60 is accepted', () => {
    expect(decode('12' + 'd000000000000000')).toEqual([{ type: 'max_streams', bidirectional: true, maximum: Number.MAX_SAFE_INTEGER }]);
  });
  it('the error names the offending frame type', () => {
    try {
      decode('01' + '0700');
    } catch (e) {
      expect((e as QuicTransportError).frameType).toBe(0x07);
      return;
    }
    throw new Error('expected an error');
  });
});
