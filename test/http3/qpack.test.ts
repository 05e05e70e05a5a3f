/**
 * QPACK field sections without a dynamic table (RFC 9204 §4.5): the static
 * table of Appendix A, the Appendix B.1 example, Huffman-coded literals as
 * nghttp3 sends them, and every dynamic-table form refused with
 * QPACK_DECOMPRESSION_FAILED, since we advertise a capacity of 0 (§3.2.3).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromHex } from '../../src/bytes.js';
import { H3ErrorCode, Http3Error } from '../../src/http3/errors.js';
import { huffmanEncode } from '../../src/http3/huffman.js';
import { QPACK_STATIC_TABLE, decodeFieldSection, encodeFieldSection, type Field } from '../../src/http3/qpack.js';
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

describe('RFC 9204 Appendix A: the static table', () => {
  it('has 99 entries, indexed from 0', () => {
    expect(QPACK_STATIC_TABLE).toHaveLength(99);
    expect(QPACK_STATIC_TABLE[0]).toEqual([':authority', '']);
    expect(QPACK_STATIC_TABLE[1]).toEqual([':path', '/']);
    expect(QPACK_STATIC_TABLE[17]).toEqual([':method', 'GET']);
    expect(QPACK_STATIC_TABLE[23]).toEqual([':scheme', 'https']);
    expect(QPACK_STATIC_TABLE[25]).toEqual([':status', '200']);
    expect(QPACK_STATIC_TABLE[27]).toEqual([':status', '404']);
    expect(QPACK_STATIC_TABLE[31]).toEqual(['accept-encoding', 'gzip, deflate, br']);
    expect(QPACK_STATIC_TABLE[52]).toEqual(['content-type', 'text/html; charset=utf-8']);
    expect(QPACK_STATIC_TABLE[58]).toEqual(['strict-transport-security', 'max-age=31536000; includesubdomains; preload']);
    expect(QPACK_STATIC_TABLE[85]).toEqual(['content-security-policy', "script-src 'none'; object-src 'none'; base-uri 'none'"]);
    expect(QPACK_STATIC_TABLE[98]).toEqual(['x-frame-options', 'sameorigin']);
  });
});

describe('RFC 9204 §4.5 field sections', () => {
  it('Appendix B.1: a literal field line with a static name reference (:path=/index.html)', () => {
    const section = fromHex('0000510b2f696e6465782e68746d6c');
    expect(decodeFieldSection(section)).toEqual([[':path', '/index.html']]);
    // Our encoder produces exactly this representation.
    expect(encodeFieldSection([[':path', '/index.html']])).toEqual(section);
  });

  it('§4.5.2: an indexed field line names a static entry (0xd1 = index 17, :method GET)', () => {
    expect(decodeFieldSection(fromHex('0000d1d7c1'))).toEqual([[':method', 'GET'], [':scheme', 'https'], [':path', '/']]);
    expect(encodeFieldSection([[':method', 'GET'], [':scheme', 'https'], [':path', '/']])).toEqual(fromHex('0000d1d7c1'));
  });

  it('§4.5.6: a literal name, plain or Huffman-coded (as nghttp3 sends them)', () => {
    expect(decodeFieldSection(fromHex('000023666f6f03626172'))).toEqual([['foo', 'bar']]);
    const name = huffmanEncode(new TextEncoder().encode('x-custom'));
    const value = huffmanEncode(new TextEncoder().encode('www.example.com'));
    const section = Uint8Array.of(0, 0, 0x28 | name.length, ...name, 0x80 | value.length, ...value);
    expect(decodeFieldSection(section)).toEqual([['x-custom', 'www.example.com']]);
    // A Huffman value after a static name reference: :authority = www.example.com (RFC 7541 C.4.1's string).
    expect(decodeFieldSection(fromHex('0000508cf1e3c2e5f23a6ba0ab90f4ff'))).toEqual([[':authority', 'www.example.com']]);
  });

  it('§4.1.1: prefixed integers continue past the prefix (a 200-byte value)', () => {
    const v = 'v'.repeat(200);
    const encoded = encodeFieldSection([['x-long', v]]);
    expect(decodeFieldSection(encoded)).toEqual([['x-long', v]]);
  });
});

describe('RFC 9204 §2.2.3, §4.5.1: a dynamic table we never allowed is QPACK_DECOMPRESSION_FAILED', () => {
  it('Appendix B.2 stream 4: Required Insert Count 2 with post-base indexed lines', () => {
    failsWith(() => decodeFieldSection(fromHex('03811011')), H3ErrorCode.QPACK_DECOMPRESSION_FAILED);
  });
  it('an indexed field line with T=0 (dynamic)', () => {
    failsWith(() => decodeFieldSection(fromHex('000080')), H3ErrorCode.QPACK_DECOMPRESSION_FAILED);
  });
  it('a literal with a dynamic name reference (N T=0)', () => {
    failsWith(() => decodeFieldSection(fromHex('00004003626172')), H3ErrorCode.QPACK_DECOMPRESSION_FAILED);
  });
  it('post-base forms (0001xxxx, 0000xxxx)', () => {
    failsWith(() => decodeFieldSection(fromHex('000010')), H3ErrorCode.QPACK_DECOMPRESSION_FAILED);
    failsWith(() => decodeFieldSection(fromHex('00000003626172')), H3ErrorCode.QPACK_DECOMPRESSION_FAILED);
  });
  it('a static index beyond the 99 entries', () => {
    failsWith(() => decodeFieldSection(fromHex('0000ff24')), H3ErrorCode.QPACK_DECOMPRESSION_FAILED); // 63 + 36 = 99
  });
  it('truncation: an empty section, a cut integer, a string running past the end', () => {
    failsWith(() => decodeFieldSection(new Uint8Array(0)), H3ErrorCode.QPACK_DECOMPRESSION_FAILED);
    failsWith(() => decodeFieldSection(fromHex('0000ff')), H3ErrorCode.QPACK_DECOMPRESSION_FAILED);
    failsWith(() => decodeFieldSection(fromHex('000023666f6f0562')), H3ErrorCode.QPACK_DECOMPRESSION_FAILED);
  });
  it('an integer longer than 2^32 is refused, not computed', () => {
    failsWith(() => decodeFieldSection(fromHex('0000ff8080808080808001')), H3ErrorCode.QPACK_DECOMPRESSION_FAILED);
  });
});

describe('RFC 9114 §4.2.2: caps on what a section may cost', () => {
  it('more fields than maxFields is H3_EXCESSIVE_LOAD', () => {
    const fields: Field[] = Array.from({ length: 11 }, () => ['a', 'b']);
    expect(decodeFieldSection(encodeFieldSection(fields.slice(0, 10)), { maxFields: 10 })).toHaveLength(10);
    failsWith(() => decodeFieldSection(encodeFieldSection(fields), { maxFields: 10 }), H3ErrorCode.H3_EXCESSIVE_LOAD);
  });
  it('a decoded size (name + value + 32 each) beyond maxSectionSize is H3_EXCESSIVE_LOAD', () => {
    // 1 + 67 + 32 = 100 bytes.
    const one = encodeFieldSection([['a', 'x'.repeat(67)]]);
    expect(decodeFieldSection(one, { maxSectionSize: 100 })).toHaveLength(1);
    failsWith(() => decodeFieldSection(one, { maxSectionSize: 99 }), H3ErrorCode.H3_EXCESSIVE_LOAD);
  });
  it('static entries count toward the size too: many indexed lines cannot expand without bound', () => {
    // 0xd1 (:method GET) is one byte on the wire and 7 + 3 + 32 = 42 decoded.
    const section = Uint8Array.of(0, 0, ...new Array<number>(100).fill(0xd1));
    failsWith(() => decodeFieldSection(section, { maxSectionSize: 42 * 99, maxFields: 1000 }), H3ErrorCode.H3_EXCESSIVE_LOAD);
  });
});

const token = fc.stringMatching(/^[a-z0-9!#$%&'*+.^_`|~-]{1,20}$/);
const fieldValue = fc.string({ unit: fc.integer({ min: 0x20, max: 0xff }).map((c) => String.fromCharCode(c)), maxLength: 100 });
const field: fc.Arbitrary<Field> = fc.oneof(
  fc.tuple(token, fieldValue),
  fc.constantFrom(...QPACK_STATIC_TABLE).map(([n, v]) => [n, v] as Field),
  fc.tuple(fc.constantFrom(...QPACK_STATIC_TABLE.map(([n]) => n)), fieldValue),
);

describe('fuzz', () => {
  it('decode(encode(fields)) = fields', () => {
    fc.assert(fc.property(fc.array(field, { maxLength: 30 }), (fields) => {
      expect(decodeFieldSection(encodeFieldSection(fields))).toEqual(fields);
    }), seeded(9204));
  });

  it('arbitrary bytes decode or fail with an Http3Error, never anything else', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 80 }), (b) => {
      try {
        decodeFieldSection(Uint8Array.of(0, 0, ...b), { maxSectionSize: 4096 });
      } catch (e) {
        expect(e).toBeInstanceOf(Http3Error);
        expect([H3ErrorCode.QPACK_DECOMPRESSION_FAILED, H3ErrorCode.H3_EXCESSIVE_LOAD]).toContain((e as Http3Error).code);
      }
    }), seeded(92042));
  });
});
