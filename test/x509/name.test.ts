/**
 * RFC 5280 §4.1.2.4 names: an AttributeValue is ANY DEFINED BY its type, so a value of a type we do not know is
 * kept as `#hex` of its DER (RFC 4514 §2.4). It must still be DER (X.690): constructed contents are encodings
 * all the way down, and BOOLEAN, INTEGER, BIT STRING, NULL, OBJECT IDENTIFIER and the two time types hold their
 * one valid form wherever they appear. Soaks of the PKI.js differential found values we kept and PKI.js refused
 * (OpenSSL too, for the first): a BIT STRING with 11 unused bits, a string retagged GeneralizedTime, UniversalString,
 * universal 15 or a primitive SET.
 */
import { describe, expect, it } from 'vitest';
import { toHex } from '../../src/bytes.js';
import { decodeDer, oid, Tag, tlv } from '../../src/codec/der.js';
import { CertificateError, malformed } from '../../src/x509/errors.js';
import { parseName } from '../../src/x509/name.js';

/** An unregistered attribute type (under the X.520 arc, as the mutated certificate had). */
const UNKNOWN = '2.5.4.999';
const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b);

/** A Name of one RDN holding one attribute of type `type` whose value is the DER `value`. */
function nameWith(type: string, value: Uint8Array): Uint8Array {
  return tlv(Tag.SEQUENCE, tlv(Tag.SET, tlv(Tag.SEQUENCE, oid(type), value)));
}

const parse = (der: Uint8Array) => parseName(decodeDer(der, 'subject', malformed), 'subject');

function refusal(der: Uint8Array): string {
  try {
    parse(der);
  } catch (e) {
    expect(e).toBeInstanceOf(CertificateError);
    return (e as CertificateError).detail;
  }
  throw new Error('accepted');
}

describe('names: values of unknown attribute types (RFC 5280 §4.1.2.4, X.690)', () => {
  it('a string value is decoded; a well-formed value of another type is kept as #hex of its DER', () => {
    expect(parse(nameWith('2.5.4.3', tlv(Tag.UTF8String, bytes(0x68, 0x69)))).text).toBe('CN=hi');
    for (const v of [
      tlv(Tag.BIT_STRING, bytes(0x03, 0xa8)), // 5 bits, padding zero
      tlv(Tag.INTEGER, bytes(0x00, 0x80)),
      tlv(Tag.BOOLEAN, bytes(0xff)),
      tlv(Tag.NULL),
      oid('1.2.840.113549'),
      tlv(Tag.GeneralizedTime, new TextEncoder().encode('20550101000000Z')),
      tlv(Tag.SEQUENCE, tlv(Tag.INTEGER, bytes(0x7f)), tlv(Tag.OCTET_STRING, bytes(1, 2, 3))),
      tlv(0x80, bytes(0x80, 0x00)), // context-specific primitive: opaque
    ]) {
      const name = parse(nameWith(UNKNOWN, v));
      expect(name.rdns[0]?.[0]).toEqual({ oid: UNKNOWN, type: UNKNOWN, value: `#${toHex(v)}` });
    }
  });

  it('a primitive universal value that is not DER refuses the name, at any depth', () => {
    const cases: [Uint8Array, RegExp][] = [
      [tlv(Tag.BIT_STRING, bytes(0x0b, 0x72, 0x73)), /bad unused-bit count/], // what the differential soak found
      [tlv(Tag.BIT_STRING, bytes(0x01)), /bad unused-bit count/], // unused bits with no bits
      [tlv(Tag.BIT_STRING, bytes(0x03, 0xa9)), /padding bits must be zero/],
      [tlv(Tag.BIT_STRING), /expected BIT STRING/], // no unused-bits octet
      [tlv(Tag.INTEGER, bytes(0x00, 0x7f)), /non-minimal INTEGER/],
      [tlv(Tag.INTEGER), /empty INTEGER/],
      [tlv(Tag.BOOLEAN, bytes(0x01)), /BOOLEAN must be 0x00 or 0xFF/],
      [tlv(Tag.BOOLEAN, bytes(0xff, 0xff)), /expected BOOLEAN/],
      [tlv(Tag.NULL, bytes(0x00)), /expected NULL/],
      [tlv(Tag.OID, bytes(0x2a, 0x80, 0x01)), /non-minimal OID arc/],
      [tlv(Tag.GeneralizedTime, new TextEncoder().encode('pqtls')), /GeneralizedTime must be YYYYMMDDHHMMSSZ/], // a flipped tag, as a soak found
      [tlv(Tag.UTCTime, new TextEncoder().encode('250231000000Z')), /invalid date/],
      [tlv(Tag.SEQUENCE, tlv(Tag.SET, tlv(Tag.INTEGER, bytes(0xff, 0x80)))), /non-minimal INTEGER/],
      [tlv(0x0f, bytes(0x54, 0x65)), /reserved universal tag 0xf/], // UTF8String 0x0c with two bits flipped, as a soak found
      [tlv(Tag.SEQUENCE, tlv(0x00)), /reserved universal tag 0x0/],
      [tlv(0x11, new TextEncoder().encode('pqtls')), /primitive SET/], // UTF8String 0x0c with four bits flipped, as a soak found
      [tlv(0x10), /primitive SEQUENCE/],
    ];
    for (const [value, reason] of cases) expect(refusal(nameWith(UNKNOWN, value)), toHex(value)).toMatch(reason);
  });

  it('a value of a string type holds that type\'s characters, or the name is refused (X.680)', () => {
    const utf8 = (t: number, text: string) => tlv(t, new TextEncoder().encode(text));
    expect(parse(nameWith('2.5.4.10', tlv(Tag.BMPString, bytes(0, 0x4f, 0, 0x4b)))).text).toBe('O=OK');
    expect(parse(nameWith(UNKNOWN, utf8(Tag.IA5String, 'a@b'))).rdns[0]?.[0]?.value).toBe('a@b');
    const cases: [Uint8Array, RegExp][] = [
      [utf8(Tag.UniversalString, 'pqtls'), /bad UniversalString length/], // a flipped tag, as a soak found
      [tlv(Tag.BMPString, bytes(0, 0x4f, 0)), /odd-length BMPString/],
      [tlv(Tag.UTF8String, bytes(0xc3, 0x28)), /invalid UTF-8/],
      [tlv(Tag.PrintableString, bytes(0x41, 0xe9)), /non-ASCII byte in PrintableString/],
    ];
    for (const [value, reason] of cases) expect(refusal(nameWith('2.5.4.10', value)), toHex(value)).toMatch(reason);
  });

  it('constructed values are encodings all the way down, nested at most 8 deep', () => {
    expect(refusal(nameWith(UNKNOWN, tlv(Tag.SEQUENCE, bytes(0x02, 0x05, 0x01))))).toMatch(/overruns its container/);
    let deep = tlv(Tag.NULL);
    for (let i = 0; i < 10; i++) deep = tlv(Tag.SEQUENCE, deep);
    expect(refusal(nameWith(UNKNOWN, deep))).toMatch(/nested more than 8 levels deep/);
  });
});
