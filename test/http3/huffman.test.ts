/**
 * The HPACK Huffman code (RFC 7541 §5.2, Appendix B) as QPACK uses it for
 * string literals (RFC 9204 §4.1.2): the canonical codes derived from the
 * code lengths match Appendix B, the Appendix C examples decode, and bad
 * padding or an EOS inside a string is QPACK_DECOMPRESSION_FAILED.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromHex } from '../../src/bytes.js';
import { H3ErrorCode, Http3Error } from '../../src/http3/errors.js';
import { HUFFMAN_CODES, huffmanDecode, huffmanEncode } from '../../src/http3/huffman.js';
import { seeded } from '../helpers/fc.js';

const text = new TextEncoder();
const ascii = (b: Uint8Array): string => new TextDecoder('latin1').decode(b);

function failsWith(f: () => unknown, code: number): void {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(Http3Error);
    expect((e as Http3Error).code).toBe(code);
    return;
  }
  throw new Error('did not throw');
}

describe('RFC 7541 Appendix B: the code table', () => {
  it('has 257 symbols, and the derived canonical codes are those the RFC lists', () => {
    expect(HUFFMAN_CODES).toHaveLength(257);
    // (symbol, code as hex, bits) rows copied from Appendix B.
    const rows: [number, number, number][] = [
      [0, 0x1ff8, 13], [1, 0x7fffd8, 23], [9, 0xffffea, 24], [10, 0x3ffffffc, 30], [32, 0x14, 6], [36, 0x1ff9, 13],
      [48, 0x0, 5], [58, 0x5c, 7], [92, 0x7fff0, 19], [97, 0x3, 5], [116, 0x9, 5], [126, 0x1ffd, 13], [127, 0xffffffc, 28],
      [128, 0xfffe6, 20], [153, 0x1fffdc, 21], [195, 0x7fff1, 19], [200, 0x3ffffe2, 26], [220, 0xffffffd, 28],
      [239, 0x7ffff4, 23], [249, 0xffffffe, 28], [254, 0x7fffff0, 27], [255, 0x3ffffee, 26], [256, 0x3fffffff, 30],
    ];
    for (const [s, code, bits] of rows) expect(HUFFMAN_CODES[s], `symbol ${s}`).toEqual({ code, bits });
  });

  it('is a complete prefix code (Kraft sum exactly 1)', () => {
    expect(HUFFMAN_CODES.reduce((sum, c) => sum + 2 ** -c.bits, 0)).toBe(1);
  });
});

describe('RFC 7541 Appendix C.4 and C.6: Huffman-coded strings', () => {
  const vectors: [string, string][] = [
    ['www.example.com', 'f1e3c2e5f23a6ba0ab90f4ff'],
    ['no-cache', 'a8eb10649cbf'],
    ['custom-key', '25a849e95ba97d7f'],
    ['custom-value', '25a849e95bb8e8b4bf'],
    ['302', '6402'],
    ['private', 'aec3771a4b'],
    ['Mon, 21 Oct 2013 20:13:21 GMT', 'd07abe941054d444a8200595040b8166e082a62d1bff'],
    ['https://www.example.com', '9d29ad171863c78f0b97c8e9ae82ae43d3'],
    ['gzip', '9bd9ab'],
    ['foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1', '94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007'],
  ];
  for (const [plain, hex] of vectors) {
    it(`"${plain}"`, () => {
      expect(ascii(huffmanDecode(fromHex(hex)))).toBe(plain);
      expect(huffmanEncode(text.encode(plain))).toEqual(fromHex(hex));
    });
  }
});

describe('RFC 7541 §5.2: padding and EOS', () => {
  it('padding longer than 7 bits is an error', () => {
    // "a" is 00011; 0x1f pads it with three ones; another 0xff makes eleven.
    expect(ascii(huffmanDecode(Uint8Array.of(0x1f)))).toBe('a');
    failsWith(() => huffmanDecode(Uint8Array.of(0x1f, 0xff)), H3ErrorCode.QPACK_DECOMPRESSION_FAILED);
  });

  it('padding that is not a prefix of EOS (not all ones) is an error', () => {
    failsWith(() => huffmanDecode(Uint8Array.of(0x18)), H3ErrorCode.QPACK_DECOMPRESSION_FAILED);
  });

  it('an EOS symbol in the string is an error', () => {
    // Thirty ones (EOS) and two more padding bits.
    failsWith(() => huffmanDecode(Uint8Array.of(0xff, 0xff, 0xff, 0xff)), H3ErrorCode.QPACK_DECOMPRESSION_FAILED);
  });

  it('the empty string decodes to nothing', () => {
    expect(huffmanDecode(new Uint8Array(0))).toEqual(new Uint8Array(0));
  });
});

describe('fuzz', () => {
  it('decode(encode(x)) = x for any bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
      expect(huffmanDecode(huffmanEncode(b))).toEqual(b);
    }), seeded(7541));
  });

  it('any input either decodes, to at most twice its length, or fails with QPACK_DECOMPRESSION_FAILED', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
      try {
        expect(huffmanDecode(b).length).toBeLessThanOrEqual(2 * b.length);
      } catch (e) {
        expect(e).toBeInstanceOf(Http3Error);
        expect((e as Http3Error).code).toBe(H3ErrorCode.QPACK_DECOMPRESSION_FAILED);
      }
    }), seeded(75412));
  });
});
