/**
 * The bounds-checked Reader/Writer that every TLS and QUIC parser stands on:
 * integers (RFC 8446 §3.3), length-prefixed vectors with <min..max> bounds
 * (§3.4), and QUIC variable-length integers (RFC 9000 §16) in all four sizes
 * up to the 2^53 - 1 a JavaScript number holds exactly. Random input may only
 * ever raise DecodeError.
 */
import fc from 'fast-check';
import { seeded } from '../helpers/fc.js';
import { describe, expect, it } from 'vitest';
import { Reader } from '../../src/codec/reader.js';
import { varintLength, Writer } from '../../src/codec/writer.js';
import { AlertDescription, ConfigError, DecodeError, SizeOverflowError } from '../../src/errors.js';

const RUNS = seeded(8446, { numRuns: 300 });

type Op =
  | { kind: 'u8' | 'u16' | 'u24' | 'u32' | 'varint'; value: number }
  | { kind: 'vec'; prefix: 1 | 2 | 3 | 4; value: Uint8Array };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('u8' as const), value: fc.integer({ min: 0, max: 0xff }) }),
  fc.record({ kind: fc.constant('u16' as const), value: fc.integer({ min: 0, max: 0xffff }) }),
  fc.record({ kind: fc.constant('u24' as const), value: fc.integer({ min: 0, max: 0xffffff }) }),
  fc.record({ kind: fc.constant('u32' as const), value: fc.integer({ min: 0, max: 0xffffffff }) }),
  fc.record({ kind: fc.constant('varint' as const), value: fc.oneof(fc.integer({ min: 0, max: 2 ** 30 }), fc.maxSafeNat()) }),
  fc.record({ kind: fc.constant('vec' as const), prefix: fc.constantFrom(1 as const, 2 as const, 3 as const, 4 as const), value: fc.uint8Array({ maxLength: 255 }) }),
);

function write(w: Writer, op: Op): void {
  if (op.kind === 'vec') w.vecBytes(op.prefix, op.value);
  else w[op.kind](op.value);
}

function read(r: Reader, op: Op): number | Uint8Array {
  return op.kind === 'vec' ? r.vec(op.prefix) : r[op.kind]();
}

/** Asserts `f` throws DecodeError carrying decode_error. */
function expectDecodeError(f: () => unknown): void {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(DecodeError);
    expect((e as DecodeError).alert).toBe(AlertDescription.decode_error);
    return;
  }
  throw new Error('expected DecodeError');
}

describe('Reader/Writer round trips', () => {
  it('any sequence of u8, u16, u24, u32, varints and vectors reads back as written, with nothing left over', () => {
    fc.assert(fc.property(fc.array(opArb, { maxLength: 20 }), (ops) => {
      const w = new Writer(1);
      for (const op of ops) write(w, op);
      const r = new Reader(w.finish());
      for (const op of ops) expect(read(r, op)).toEqual(op.value);
      r.end();
    }), RUNS);
  });

  it('integers are big-endian in exactly 1, 2, 3 and 4 bytes', () => {
    expect([...new Writer().u8(0xab).u16(0x1234).u24(0x56789a).u32(0xdeadbeef).finish()]).toEqual([
      0xab, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xde, 0xad, 0xbe, 0xef,
    ]);
  });

  it('an array finish() returned is never written again: later writes go elsewhere, exactly sized writer or not', () => {
    fc.assert(fc.property(fc.array(opArb, { maxLength: 8 }), fc.array(opArb, { minLength: 1, maxLength: 8 }), fc.boolean(), (first, more, exact) => {
      const sized = new Writer(1);
      for (const op of first) write(sized, op);
      // A writer whose capacity is exactly what it will hold returns its own array, without a copy.
      const w = new Writer(exact ? sized.length : sized.length + 7);
      for (const op of first) write(w, op);
      const out = w.finish();
      const before = [...out];
      for (const op of more) write(w, op);
      expect([...out]).toEqual(before);
      const r = new Reader(w.finish());
      for (const op of [...first, ...more]) expect(read(r, op)).toEqual(op.value);
      r.end();
    }), RUNS);
  });

  it('a writer created with no capacity grows like any other', () => {
    expect([...new Writer(0).u8(1).u32(0x02030405).finish()]).toEqual([1, 2, 3, 4, 5]);
  });

  it('a writer over a caller\'s array returns a copy, which later writes to that array leave alone', () => {
    const buf = new Uint8Array(4);
    const out = Writer.into(buf).u16(0x0102).u16(0x0304).finish();
    buf.fill(0);
    expect([...out]).toEqual([1, 2, 3, 4]);
  });

  it('every truncation of a valid encoding is a DecodeError', () => {
    fc.assert(fc.property(fc.array(opArb, { minLength: 1, maxLength: 8 }), fc.nat(), (ops, cut) => {
      const w = new Writer();
      for (const op of ops) write(w, op);
      const full = w.finish();
      const short = full.subarray(0, cut % full.length);
      expectDecodeError(() => {
        const r = new Reader(short);
        for (const op of ops) read(r, op);
      });
    }), RUNS);
  });
});

describe('vectors with <min..max> bounds (RFC 8446 §3.4)', () => {
  const boundsArb = fc.record({
    prefix: fc.constantFrom(1 as const, 2 as const, 3 as const, 4 as const),
    data: fc.uint8Array({ maxLength: 300 }),
    min: fc.integer({ min: 0, max: 300 }),
    span: fc.integer({ min: 0, max: 300 }),
  });

  it('the reader accepts a length iff it lies within [min, max]', () => {
    fc.assert(fc.property(boundsArb, ({ prefix, data, min, span }) => {
      fc.pre(prefix > 1 || data.length <= 255);
      const max = min + span;
      const enc = new Writer().vecBytes(prefix, data).finish();
      const inBounds = data.length >= min && data.length <= max;
      if (inBounds) expect(new Reader(enc).vec(prefix, min, max)).toEqual(data);
      else expectDecodeError(() => new Reader(enc).vec(prefix, min, max));
    }), RUNS);
  });

  it('the writer refuses a length outside [min, max] or too long for its prefix', () => {
    fc.assert(fc.property(boundsArb, ({ prefix, data, min, span }) => {
      const max = Math.min(min + span, 2 ** (8 * prefix) - 1);
      const ok = data.length >= min && data.length <= max;
      if (ok) expect(new Writer().vecBytes(prefix, data, min, max).length).toBe(prefix + data.length);
      else expect(() => new Writer().vecBytes(prefix, data, min, max)).toThrow(SizeOverflowError);
    }), RUNS);
    expect(() => new Writer().vecBytes(1, new Uint8Array(256))).toThrow(SizeOverflowError);
  });

  it('a refused vector writes nothing: the writer holds what it held before', () => {
    const w = new Writer(4).u8(7);
    expect(() => w.vecBytes(1, new Uint8Array(3), 4, 10)).toThrow(SizeOverflowError);
    expect(() => w.vecBytes(1, new Uint8Array(256))).toThrow(SizeOverflowError);
    expect([...w.u8(8).finish()]).toEqual([7, 8]);
  });

  it('a declared length past the end of the input is a DecodeError, never an over-read', () => {
    expectDecodeError(() => new Reader(new Uint8Array([0, 5, 1, 2, 3])).vec(2));
    expectDecodeError(() => new Reader(new Uint8Array([0xff, 0xff, 0xff, 0xff])).vec(4));
  });
});

describe('QUIC variable-length integers (RFC 9000 §16)', () => {
  const classes = [
    { len: 1, min: 0, max: 63 },
    { len: 2, min: 64, max: 16383 },
    { len: 4, min: 16384, max: 2 ** 30 - 1 },
    { len: 8, min: 2 ** 30, max: Number.MAX_SAFE_INTEGER },
  ] as const;

  for (const c of classes) {
    it(`${c.len}-byte encodings: values in [${c.min}, ${c.max}] use the ${c.len}-byte form and read back`, () => {
      fc.assert(fc.property(fc.oneof(fc.constantFrom(c.min, c.max), fc.integer({ min: c.min, max: c.max })), (v) => {
        expect(varintLength(v)).toBe(c.len);
        const enc = new Writer().varint(v).finish();
        expect(enc.length).toBe(c.len);
        expect((enc[0] as number) >> 6).toBe(Math.log2(c.len));
        const r = new Reader(enc);
        expect(r.varint()).toBe(v);
        r.end();
        // Any longer form is valid too (§16 does not require the shortest).
        for (const longer of [1, 2, 4, 8] as const) {
          if (longer < c.len) {
            expect(() => new Writer().varint(v, longer)).toThrow(ConfigError);
          } else {
            const e = new Writer().varint(v, longer).finish();
            expect(e.length).toBe(longer);
            expect(new Reader(e).varint()).toBe(v);
          }
        }
      }), RUNS);
    });
  }

  it('the RFC 9000 §A.1 examples decode', () => {
    const ex: [string, number][] = [
      ['c2197c5eff14e88c', 151288809941952652], ['9d7f3e7d', 494878333], ['7bbd', 15293], ['25', 37], ['4025', 37],
    ];
    for (const [hex, v] of ex) {
      const b = Uint8Array.from(hex.match(/../g)!.map((x) => parseInt(x, 16)));
      if (Number.isSafeInteger(v)) expect(new Reader(b).varint()).toBe(v);
      else expectDecodeError(() => new Reader(b).varint());
    }
  });

  it('2^53 - 1 is the limit: larger values are refused by the writer and by the reader', () => {
    expect(new Reader(new Writer().varint(2 ** 53 - 1).finish()).varint()).toBe(2 ** 53 - 1);
    expect(() => new Writer().varint(2 ** 53)).toThrow(ConfigError);
    expect(() => new Writer().varint(-1)).toThrow(ConfigError);
    expect(() => new Writer().varint(1.5)).toThrow(ConfigError);
    // 2^53 and 2^62 - 1 in the 8-byte form.
    expectDecodeError(() => new Reader(new Uint8Array([0xc0, 0x20, 0, 0, 0, 0, 0, 0])).varint());
    expectDecodeError(() => new Reader(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])).varint());
    expectDecodeError(() => new Reader(new Uint8Array([0x80, 0, 0])).varint());
  });

  it('varint-prefixed byte strings round-trip and honour their maximum', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat({ max: 200 }), (data, max) => {
      const enc = new Writer().varintBytes(data).finish();
      if (data.length <= max) expect(new Reader(enc).varintBytes(max)).toEqual(data);
      else expectDecodeError(() => new Reader(enc).varintBytes(max));
    }), RUNS);
  });
});

describe('random input', () => {
  const readOp = fc.constantFrom('u8', 'u16', 'u24', 'u32', 'varint', 'vec1', 'vec2', 'vec3', 'vec4', 'sub2', 'varintBytes', 'bytes', 'end');

  it('only ever raises DecodeError, and never reads past the end', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), fc.array(readOp, { maxLength: 12 }), fc.nat({ max: 70 }), (input, ops, n) => {
      const r = new Reader(input);
      try {
        for (const op of ops) {
          switch (op) {
            case 'u8': case 'u16': case 'u24': case 'u32': case 'varint': r[op](); break;
            case 'vec1': r.vec(1, 1, 40); break;
            case 'vec2': r.vec(2); break;
            case 'vec3': r.vec(3); break;
            case 'vec4': r.vec(4); break;
            case 'sub2': r.sub(2).u16(); break;
            case 'varintBytes': r.varintBytes(50); break;
            case 'bytes': r.bytes(n); break;
            case 'end': r.end(); break;
          }
          expect(r.offset).toBeLessThanOrEqual(input.length);
        }
      } catch (e) {
        expect(e).toBeInstanceOf(DecodeError);
      }
      expect(r.offset + r.remaining).toBe(input.length);
    }), seeded(8448, { numRuns: 1000 }));
  });
});
