/**
 * HTTP/3 frames (RFC 9114 §7): the incremental parser gives the same frames
 * however a stream's bytes are split, skips unknown and reserved types
 * (§7.2.8, §9) without holding their payload, refuses HTTP/2's frame types,
 * and caps every frame it buffers; SETTINGS (§7.2.4) and the one-varint
 * frames (§7.2.3, §7.2.6, §7.2.7) are checked as the RFC says.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { concat, fromHex } from '../../src/bytes.js';
import { H3ErrorCode, Http3Error } from '../../src/http3/errors.js';
import {
  FrameParser, FrameType, dataFrameHeader, decodeSettings, decodeVarintPayload, encodeFrame, encodeSettings, type FrameEvent,
} from '../../src/http3/frames.js';
import { seeded } from '../helpers/fc.js';

function failsWith(f: () => unknown, code: number): void {
  let caught: unknown;
  try {
    f();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(Http3Error);
  expect((caught as Http3Error).code).toBe(code);
}

/** Frames with DATA pieces joined, as a reader of the stream would see them. */
function normalise(events: FrameEvent[]): unknown[] {
  const out: unknown[] = [];
  for (const e of events) {
    const last = out[out.length - 1] as { kind: string; data: Uint8Array } | undefined;
    if (e.kind === 'data' && last?.kind === 'data') last.data = concat(last.data, e.data);
    else out.push(e.kind === 'data' ? { kind: 'data', data: e.data } : e);
  }
  return out;
}

function parseInPieces(bytes: Uint8Array, cuts: number[]): unknown[] {
  const p = new FrameParser();
  const events: FrameEvent[] = [];
  let at = 0;
  for (const c of [...cuts.filter((x) => x > 0 && x < bytes.length)].sort((a, b) => a - b).concat(bytes.length)) {
    events.push(...p.push(bytes.subarray(at, c)));
    at = c;
  }
  expect(p.atBoundary).toBe(true);
  return normalise(events);
}

describe('RFC 9114 §7.1 frame layout', () => {
  it('HEADERS, DATA, an unknown frame and a reserved one, however the bytes arrive', () => {
    const stream = concat(
      encodeFrame(FrameType.HEADERS, fromHex('0000d1')),
      dataFrameHeader(5), new TextEncoder().encode('hello'),
      encodeFrame(0x21, fromHex('deadbeef')), // reserved: 0x1f * 0 + 0x21 (§7.2.8)
      fromHex('c000000100000021'), Uint8Array.of(2, 1, 2), // a type past 2^32, in an 8-byte varint
      encodeFrame(FrameType.DATA, new Uint8Array(0)),
    );
    const expected = [
      { kind: 'frame', type: FrameType.HEADERS, payload: fromHex('0000d1') },
      { kind: 'data-frame' }, { kind: 'data', data: new TextEncoder().encode('hello') },
      { kind: 'skip', type: 0x21 }, { kind: 'skip', type: -1 }, { kind: 'data-frame' },
    ];
    expect(parseInPieces(stream, [])).toEqual(expected);
    for (let i = 1; i < stream.length; i++) expect(parseInPieces(stream, [i]), `split at ${i}`).toEqual(expected);
    expect(parseInPieces(stream, Array.from({ length: stream.length }, (_, i) => i))).toEqual(expected);
  });

  it('a stream that ends inside a frame is not at a boundary', () => {
    const p = new FrameParser();
    p.push(encodeFrame(FrameType.HEADERS, fromHex('0000d1')).subarray(0, 3));
    expect(p.atBoundary).toBe(false);
  });

  it('§7.2.8: HTTP/2 frame types (PRIORITY 0x2, PING 0x6, WINDOW_UPDATE 0x8, CONTINUATION 0x9) are H3_FRAME_UNEXPECTED', () => {
    for (const t of [0x02, 0x06, 0x08, 0x09]) failsWith(() => new FrameParser().push(encodeFrame(t, new Uint8Array(0))), H3ErrorCode.H3_FRAME_UNEXPECTED);
  });

  it('a HEADERS or SETTINGS frame longer than its cap is refused from its header alone (H3_EXCESSIVE_LOAD)', () => {
    const p = new FrameParser({ maxHeadersFrame: 100, maxSettingsFrame: 10 });
    failsWith(() => p.push(fromHex('01408000')), H3ErrorCode.H3_EXCESSIVE_LOAD); // HEADERS of 128 bytes, none sent
    failsWith(() => new FrameParser({ maxSettingsFrame: 10 }).push(fromHex('040b')), H3ErrorCode.H3_EXCESSIVE_LOAD);
    // 2^62-1 bytes announced: nothing is allocated.
    failsWith(() => new FrameParser().push(fromHex('01ffffffffffffffff')), H3ErrorCode.H3_EXCESSIVE_LOAD);
  });

  it('§7.2.6: GOAWAY, CANCEL_PUSH, MAX_PUSH_ID hold one varint; more is H3_FRAME_ERROR', () => {
    failsWith(() => new FrameParser().push(fromHex('0709')), H3ErrorCode.H3_FRAME_ERROR);
    expect(decodeVarintPayload(fromHex('4004'), 'GOAWAY')).toBe(4);
    failsWith(() => decodeVarintPayload(fromHex('0400'), 'GOAWAY'), H3ErrorCode.H3_FRAME_ERROR);
    failsWith(() => decodeVarintPayload(fromHex('40'), 'GOAWAY'), H3ErrorCode.H3_FRAME_ERROR);
    failsWith(() => decodeVarintPayload(new Uint8Array(0), 'GOAWAY'), H3ErrorCode.H3_FRAME_ERROR);
  });

  it('unknown frames of any size are skipped without being buffered', () => {
    const p = new FrameParser();
    expect(p.push(fromHex('21bfffffff'))).toEqual([{ kind: 'skip', type: 0x21 }]); // 2^30-1 bytes announced
    expect(p.push(new Uint8Array(100_000))).toEqual([]);
    expect(p.atBoundary).toBe(false);
  });
});

describe('RFC 9114 §7.2.4 SETTINGS', () => {
  it('round-trips, keeping unknown identifiers (§7.2.4.1: ignored, not refused)', () => {
    const s = new Map([[0x01, 0], [0x06, 65536], [0x07, 0], [0x21, 5]]);
    const frame = encodeSettings(s);
    const [e] = new FrameParser().push(frame);
    expect(e).toMatchObject({ kind: 'frame', type: FrameType.SETTINGS });
    expect(decodeSettings((e as { payload: Uint8Array }).payload)).toEqual(s);
  });
  it('a repeated identifier is H3_SETTINGS_ERROR', () => {
    failsWith(() => decodeSettings(fromHex('01000100')), H3ErrorCode.H3_SETTINGS_ERROR);
  });
  it('§7.2.4.1: HTTP/2 settings 0x00, 0x02-0x05 are H3_SETTINGS_ERROR', () => {
    for (const id of [0, 2, 3, 4, 5]) failsWith(() => decodeSettings(Uint8Array.of(id, 0)), H3ErrorCode.H3_SETTINGS_ERROR);
  });
  it('more settings than the cap is H3_EXCESSIVE_LOAD; a cut varint is H3_FRAME_ERROR', () => {
    const many = concat(...Array.from({ length: 5 }, (_, i) => Uint8Array.of(0x21 + i, 0)));
    expect(decodeSettings(many, 5).size).toBe(5);
    failsWith(() => decodeSettings(many, 4), H3ErrorCode.H3_EXCESSIVE_LOAD);
    failsWith(() => decodeSettings(fromHex('0640')), H3ErrorCode.H3_FRAME_ERROR);
  });
});

describe('fuzz', () => {
  const frame = fc.oneof(
    fc.record({ type: fc.constantFrom(FrameType.HEADERS, FrameType.SETTINGS, 0x21, 0x5f, 0x1234), payload: fc.uint8Array({ maxLength: 40 }) }),
    fc.record({ type: fc.constant(FrameType.DATA), payload: fc.uint8Array({ maxLength: 200 }) }),
  );

  it('any chunking of a frame sequence gives the same frames', () => {
    fc.assert(fc.property(fc.array(frame, { maxLength: 8 }), fc.array(fc.nat(2000), { maxLength: 10 }), (frames, cuts) => {
      const bytes = concat(...frames.map((f) => encodeFrame(f.type, f.payload)));
      expect(parseInPieces(bytes, cuts)).toEqual(parseInPieces(bytes, []));
    }), seeded(9114));
  });

  it('arbitrary bytes parse or fail with an Http3Error, never anything else', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 100 }), (b) => {
      try {
        new FrameParser({ maxHeadersFrame: 50 }).push(b);
      } catch (e) {
        expect(e).toBeInstanceOf(Http3Error);
      }
      try {
        decodeSettings(b);
      } catch (e) {
        expect(e).toBeInstanceOf(Http3Error);
      }
    }), seeded(91142));
  });
});
