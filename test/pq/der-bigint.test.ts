/**
 * The strict DER subset (X.690 §10.1 definite minimal lengths, §8.3.2 minimal
 * INTEGERs) and the RFC 8017 §4 integer conversions the RSA and ECDSA code
 * rely on.
 */
import fc from 'fast-check';
import { seeded } from '../helpers/fc.js';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../src/bytes.js';
import { contents, decodeDer, integer, sequence, Tag, unsignedIntegerBytes, type DerReader } from '../../src/codec/der.js';
import { DecodeError } from '../../src/errors.js';
import { bigIntToBytes, bitLength, bytesToBigInt, modInverse, modPow } from '../../src/pq/bigint.js';

// With no failure named, the DER codec raises DecodeError (what the RSA and ECDSA code catches).
const readInt = (hex: string): bigint => bytesToBigInt(unsignedIntegerBytes(decodeDer(fromHex(hex), 'test'), 'test'));
const next = (seq: DerReader): bigint => bytesToBigInt(unsignedIntegerBytes(seq.expect(Tag.INTEGER, 'n'), 'n'));

describe('DER INTEGER and SEQUENCE', () => {
  it('reads minimal encodings', () => {
    expect(readInt('020100')).toBe(0n);
    expect(readInt('02017f')).toBe(127n);
    expect(readInt('02020080')).toBe(128n);
    expect(readInt('0203010001')).toBe(65537n);
  });

  it('refuses a padded, negative or empty INTEGER (X.690 §8.3.2)', () => {
    for (const bad of ['0202007f', '020180', '0200', '0202ff80']) expect(() => readInt(bad)).toThrow(DecodeError);
  });

  it('refuses long-form lengths for short values, indefinite lengths, and lengths with leading zeros', () => {
    for (const bad of ['02810100', '0280', '0282000100', '028400000001']) expect(() => readInt(bad)).toThrow(DecodeError);
  });

  it('refuses a wrong tag and truncated contents', () => {
    for (const bad of ['040100', '0202ff', '02']) expect(() => readInt(bad)).toThrow(DecodeError);
  });

  it('uses the long form exactly from 128 content bytes on', () => {
    const v = (1n << 1016n) + 1n; // 128 content bytes
    const der = integer(v);
    expect(toHex(der.subarray(0, 3))).toBe('028180');
    expect(readInt(toHex(der))).toBe(v);
  });

  it('round-trips any non-negative integer and any pair in a SEQUENCE', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 4100n) - 1n }), fc.bigInt({ min: 0n, max: 1n << 70n }), (a, b) => {
        const seq = contents(decodeDer(sequence(integer(a), integer(b)), 'pair'), 'pair');
        expect(next(seq)).toBe(a);
        expect(next(seq)).toBe(b);
        seq.end();
      }),
      seeded(8017, { numRuns: 200 }),
    );
  });
});

describe('integer conversions and modular arithmetic (RFC 8017 §4)', () => {
  it('I2OSP and OS2IP are inverse, and I2OSP refuses values that do not fit', () => {
    expect(toHex(bigIntToBytes(0x0102n, 4))).toBe('00000102');
    expect(bytesToBigInt(fromHex('00000102'))).toBe(0x102n);
    expect(() => bigIntToBytes(0x10000n, 2)).toThrow(RangeError);
    expect(bitLength(0n)).toBe(0);
    expect(bitLength(0x80n)).toBe(8);
  });

  it('modPow and modInverse agree with their definitions', () => {
    const m = (1n << 127n) - 1n; // prime
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: m - 1n }), fc.bigInt({ min: 0n, max: 1n << 200n }), (a, e) => {
        const inv = modInverse(a, m);
        expect(inv !== undefined && (a * inv) % m).toBe(1n);
        // Fermat: a^(m-1) = 1, so a^e = a^(e mod (m-1)).
        expect(modPow(a, e, m)).toBe(modPow(a, e % (m - 1n), m));
        expect(modPow(a, m - 1n, m)).toBe(1n);
      }),
      seeded(5, { numRuns: 100 }),
    );
    expect(modInverse(6n, 9n)).toBeUndefined();
    expect(modPow(3n, 0n, 7n)).toBe(1n);
    expect(modPow(3n, 5n, 7n)).toBe(243n % 7n);
  });
});
