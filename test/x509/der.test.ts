/** The strict DER layer (X.690 §10) and PEM (RFC 7468) under the certificate parser. */
import { describe, expect, it } from 'vitest';
import { CertificateError, decodePem, encodePem } from '../../src/x509/index.js';
import {
  DerReader as CodecReader, booleanValue, decodeDer as codecDecode, integer, integerBytes, oid, oidValue, time, timeValue, bitString, Tag, tlv,
  type Tlv,
} from '../../src/codec/der.js';
import { malformed } from '../../src/x509/errors.js';

// The codec reports through the failure its caller names; the certificate parser names `malformed`.
const decodeDer = (buf: Uint8Array, what: string): Tlv => codecDecode(buf, what, malformed);
class DerReader extends CodecReader {
  constructor(buf: Uint8Array, what: string) {
    super(buf, what, malformed);
  }
}
import { base64Decode, base64Encode } from '../../src/x509/pem.js';

const b = (...x: number[]): Uint8Array => new Uint8Array(x);
const malformedOf = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(CertificateError);
    expect((e as CertificateError).reason).toBe('malformed');
    return (e as CertificateError).message;
  }
  throw new Error('expected a malformed error');
};

describe('DER lengths and tags (X.690 §8.1, §10.1)', () => {
  it('reads short and long definite lengths', () => {
    expect(decodeDer(b(0x04, 0x01, 0xaa), 't').value).toEqual(b(0xaa));
    const long = new Uint8Array(3 + 200);
    long.set([0x04, 0x81, 200]);
    expect(decodeDer(long, 't').value).toHaveLength(200);
  });
  it('refuses indefinite, non-minimal and overlong lengths', () => {
    expect(malformedOf(() => decodeDer(b(0x30, 0x80, 0, 0), 't'))).toMatch(/indefinite length/);
    expect(malformedOf(() => decodeDer(b(0x04, 0x81, 0x01, 0xaa), 't'))).toMatch(/non-minimal length/);
    expect(malformedOf(() => decodeDer(b(0x04, 0x82, 0x00, 0x81, ...new Uint8Array(0x81)), 't'))).toMatch(/non-minimal length/);
    expect(malformedOf(() => decodeDer(b(0x04, 0x85, 1, 0, 0, 0, 0), 't'))).toMatch(/out of range/);
    expect(malformedOf(() => decodeDer(b(0x04, 0x05, 1), 't'))).toMatch(/overruns/);
  });
  it('refuses trailing bytes and multi-byte tags', () => {
    expect(malformedOf(() => decodeDer(b(0x05, 0x00, 0x00), 't'))).toMatch(/trailing/);
    expect(malformedOf(() => decodeDer(b(0x1f, 0x22, 0x00), 't'))).toMatch(/multi-byte tag/);
  });
  it('reports the expected and found tag', () => {
    expect(malformedOf(() => new DerReader(b(0x02, 0x01, 0x00), 'x').expect(Tag.SEQUENCE, 'field'))).toMatch(/field: expected tag 0x30, found 0x2/);
  });
});

describe('DER primitive values', () => {
  it('INTEGER must be minimal (X.690 §8.3.2)', () => {
    expect(integerBytes(decodeDer(b(0x02, 0x02, 0x00, 0x80), 'i'), 'i')).toEqual(b(0x00, 0x80));
    expect(malformedOf(() => integerBytes(decodeDer(b(0x02, 0x02, 0x00, 0x7f), 'i'), 'i'))).toMatch(/non-minimal INTEGER/);
    expect(malformedOf(() => integerBytes(decodeDer(b(0x02, 0x02, 0xff, 0x80), 'i'), 'i'))).toMatch(/non-minimal INTEGER/);
    expect(malformedOf(() => integerBytes(decodeDer(b(0x02, 0x00), 'i'), 'i'))).toMatch(/empty INTEGER/);
    expect(integer(0)).toEqual(b(0x02, 0x01, 0x00));
    expect(integer(b(0x00, 0x00, 0x80))).toEqual(b(0x02, 0x02, 0x00, 0x80));
  });
  it('BOOLEAN is 0x00 or 0xFF (X.690 §11.1)', () => {
    expect(booleanValue(decodeDer(b(0x01, 0x01, 0xff), 'v'), 'v')).toBe(true);
    expect(malformedOf(() => booleanValue(decodeDer(b(0x01, 0x01, 0x01), 'v'), 'v'))).toMatch(/0x00 or 0xFF/);
  });
  it('BIT STRING padding bits are zero (X.690 §11.2.1)', () => {
    expect(bitString(decodeDer(b(0x03, 0x02, 0x07, 0x80), 'k'), 'k').unusedBits).toBe(7);
    expect(malformedOf(() => bitString(decodeDer(b(0x03, 0x02, 0x07, 0x81), 'k'), 'k'))).toMatch(/padding bits/);
    expect(malformedOf(() => bitString(decodeDer(b(0x03, 0x01, 0x01), 'k'), 'k'))).toMatch(/unused-bit/);
  });
  it('OBJECT IDENTIFIER round trips and refuses non-minimal arcs', () => {
    for (const o of ['2.16.840.1.101.3.4.3.17', '1.2.840.113549.1.1.11', '2.5.29.37.0', '0.9.2342.19200300.100.1.25']) {
      expect(oidValue(decodeDer(oid(o), 'o'), 'o')).toBe(o);
    }
    expect(malformedOf(() => oidValue(decodeDer(b(0x06, 0x02, 0x80, 0x01), 'o'), 'o'))).toMatch(/non-minimal OID/);
    expect(malformedOf(() => oidValue(decodeDer(b(0x06, 0x01, 0x81), 'o'), 'o'))).toMatch(/truncated OID/);
  });
  it('times are UTCTime before 2050 and GeneralizedTime after (RFC 5280 §4.1.2.5)', () => {
    const d = new Date('2049-12-31T23:59:59Z');
    expect(time(d)[0]).toBe(Tag.UTCTime);
    expect(timeValue(decodeDer(time(d), 't'), 't')).toEqual(d);
    const e = new Date('2050-01-01T00:00:00Z');
    expect(time(e)[0]).toBe(Tag.GeneralizedTime);
    expect(timeValue(decodeDer(time(e), 't'), 't')).toEqual(e);
    const enc = (s: string, tag: number = Tag.UTCTime): Uint8Array => tlv(tag, new TextEncoder().encode(s));
    expect(timeValue(decodeDer(enc('500101000000Z'), 't'), 't').getUTCFullYear()).toBe(1950);
    expect(malformedOf(() => timeValue(decodeDer(enc('2502300000Z'), 't'), 't'))).toMatch(/YYMMDDHHMMSSZ/);
    expect(malformedOf(() => timeValue(decodeDer(enc('250230000000Z'), 't'), 't'))).toMatch(/invalid date/);
    expect(malformedOf(() => timeValue(decodeDer(enc('250101000000+0100'), 't'), 't'))).toMatch(/YYMMDDHHMMSSZ/);
    expect(malformedOf(() => timeValue(decodeDer(enc('20250101000000.5Z', Tag.GeneralizedTime), 't'), 't'))).toMatch(/YYYYMMDDHHMMSSZ/);
  });
});

describe('PEM (RFC 7468)', () => {
  it('round trips any bytes through base64 and PEM', () => {
    for (let n = 0; n < 70; n++) {
      const bytes = new Uint8Array(n).map((_, i) => (i * 37 + n) & 0xff);
      expect(base64Decode(base64Encode(bytes))).toEqual(bytes);
      expect(decodePem(`junk before\n${encodePem('CERTIFICATE', bytes)}junk after`)).toEqual([{ label: 'CERTIFICATE', bytes }]);
    }
  });
  it('refuses bad base64, mismatched labels, an unterminated block and encrypted PEM', () => {
    expect(malformedOf(() => base64Decode('AB$C'))).toMatch(/invalid character/);
    expect(malformedOf(() => base64Decode('ABC'))).toMatch(/multiple of 4/);
    expect(malformedOf(() => base64Decode('A=BC'))).toMatch(/invalid character/);
    expect(malformedOf(() => decodePem('-----BEGIN CERTIFICATE-----\nAAAA\n-----END PRIVATE KEY-----\n'))).toMatch(/closed by END PRIVATE KEY/);
    expect(malformedOf(() => decodePem('-----BEGIN CERTIFICATE-----\nAAAA\n'))).toMatch(/without a matching END/);
    expect(malformedOf(() => decodePem('-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nAAAA\n-----END RSA PRIVATE KEY-----\n'))).toMatch(/encrypted/);
  });
});
