import { fromHex } from '../bytes.js';
import { DecodeError } from '../errors.js';

/**
 * The one strict DER layer (X.690 §10) under certificates, keys and
 * signatures: one-byte tags, minimal definite lengths, minimal INTEGERs,
 * canonical BOOLEANs, zero padding bits. Strictness matters twice over: a
 * mutated certificate must never reach the validator through a lenient BER
 * reading, and signatures and keys are compared and hashed by their
 * encodings, so every leniency (long-form lengths for short values, padded
 * integers, trailing bytes) is a malleability Wycheproof tests for.
 *
 * Which error a failure raises is the caller's: the layer that starts a
 * decode passes a {@link DerFailure} (x509 its `malformed` CertificateError,
 * so the alert is bad_certificate), and every reader and value read below it
 * reports through the same one, in the manner of `untrusted`'s `read_all`.
 */

/** Builds the error a DER failure is reported as. */
export type DerFailure = (detail: string) => Error;

/** The default: a {@link DecodeError} (alert decode_error). */
export const decodeFailure: DerFailure = (detail) => new DecodeError(detail);

export const Tag = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8String: 0x0c,
  PrintableString: 0x13,
  TeletexString: 0x14,
  IA5String: 0x16,
  UTCTime: 0x17,
  GeneralizedTime: 0x18,
  UniversalString: 0x1c,
  BMPString: 0x1e,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** Context-specific tag `[n]`, constructed (EXPLICIT or IMPLICIT SEQUENCE) or primitive (IMPLICIT). */
export const contextTag = (n: number, constructed: boolean): number => (constructed ? 0xa0 : 0x80) | n;

/** One decoded TLV. `value` and `raw` are views into the input. */
export interface Tlv {
  readonly tag: number;
  readonly value: Uint8Array;
  /** The whole encoding, tag and length included (what a signature covers). */
  readonly raw: Uint8Array;
  /** How a failure inside this value is reported: the failure of the reader that read it. */
  readonly fail: DerFailure;
}

/** Sequential reader over the contents of one constructed value. */
export class DerReader {
  private pos = 0;
  constructor(private readonly buf: Uint8Array, readonly what: string, readonly fail: DerFailure = decodeFailure) {}

  get done(): boolean {
    return this.pos === this.buf.length;
  }

  /** The next tag without consuming it, or undefined at the end. */
  peekTag(): number | undefined {
    return this.buf[this.pos];
  }

  /** Reads the next TLV whatever its tag. */
  read(): Tlv {
    const start = this.pos;
    const b = this.buf;
    if (start >= b.length) throw this.fail(`${this.what}: truncated (expected another element)`);
    const tag = b[start] as number;
    if ((tag & 0x1f) === 0x1f) throw this.fail(`${this.what}: multi-byte tag 0x${tag.toString(16)} not used in X.509`);
    let p = start + 1;
    if (p >= b.length) throw this.fail(`${this.what}: truncated length`);
    const first = b[p++] as number;
    let len: number;
    if (first < 0x80) {
      len = first;
    } else {
      const n = first & 0x7f;
      if (n === 0) throw this.fail(`${this.what}: indefinite length is not DER`);
      if (n > 4) throw this.fail(`${this.what}: length of ${n} octets is out of range`);
      if (p + n > b.length) throw this.fail(`${this.what}: truncated length`);
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + (b[p + i] as number);
      if (b[p] === 0 || len < 0x80) throw this.fail(`${this.what}: non-minimal length encoding`);
      p += n;
    }
    if (len > b.length - p) throw this.fail(`${this.what}: element of ${len} bytes overruns its container`);
    this.pos = p + len;
    return { tag, value: b.subarray(p, p + len), raw: b.subarray(start, p + len), fail: this.fail };
  }

  /** Reads the next TLV, which must have tag `tag`. */
  expect(tag: number, field: string): Tlv {
    const next = this.peekTag();
    if (next !== tag) {
      throw this.fail(`${this.what}: ${field}: expected tag 0x${tag.toString(16)}, found ${next === undefined ? 'end' : `0x${next.toString(16)}`}`);
    }
    return this.read();
  }

  /** Reads the next TLV if it has tag `tag`. */
  optional(tag: number): Tlv | undefined {
    return this.peekTag() === tag ? this.read() : undefined;
  }

  /** Requires that everything has been read. */
  end(): void {
    if (!this.done) throw this.fail(`${this.what}: ${this.buf.length - this.pos} unexpected trailing bytes`);
  }
}

/** Decodes exactly one TLV spanning all of `buf`. */
export function decodeDer(buf: Uint8Array, what: string, fail: DerFailure = decodeFailure): Tlv {
  const r = new DerReader(buf, what, fail);
  const tlv = r.read();
  r.end();
  return tlv;
}

/** A reader over the contents of `tlv`, which must be a SEQUENCE (or the given constructed tag). */
export function contents(tlv: Tlv, what: string, tag: number = Tag.SEQUENCE): DerReader {
  if (tlv.tag !== tag) throw tlv.fail(`${what}: expected tag 0x${tag.toString(16)}, found 0x${tlv.tag.toString(16)}`);
  return new DerReader(tlv.value, what, tlv.fail);
}

/** INTEGER contents, checked minimal; returned as the two's-complement bytes. */
export function integerBytes(tlv: Tlv, what: string): Uint8Array {
  if (tlv.tag !== Tag.INTEGER) throw tlv.fail(`${what}: expected INTEGER`);
  const v = tlv.value;
  if (v.length === 0) throw tlv.fail(`${what}: empty INTEGER`);
  if (v.length > 1 && ((v[0] === 0 && (v[1] as number) < 0x80) || (v[0] === 0xff && (v[1] as number) >= 0x80))) {
    throw tlv.fail(`${what}: non-minimal INTEGER`);
  }
  return v;
}

/** A non-negative INTEGER's contents, checked minimal: its big-endian magnitude, with at most one leading zero byte. */
export function unsignedIntegerBytes(tlv: Tlv, what: string): Uint8Array {
  const v = integerBytes(tlv, what);
  if ((v[0] as number) >= 0x80) throw tlv.fail(`${what}: negative INTEGER`);
  return v;
}

/** A small non-negative INTEGER (version numbers, pathLenConstraint, salt lengths). */
export function smallInteger(tlv: Tlv, what: string, max = 0x7fffffff): number {
  const v = unsignedIntegerBytes(tlv, what);
  if (v.length > 5) throw tlv.fail(`${what}: INTEGER out of range`);
  let n = 0;
  for (const x of v) n = n * 256 + x;
  if (n > max) throw tlv.fail(`${what}: INTEGER ${n} out of range (max ${max})`);
  return n;
}

export function booleanValue(tlv: Tlv, what: string): boolean {
  if (tlv.tag !== Tag.BOOLEAN || tlv.value.length !== 1) throw tlv.fail(`${what}: expected BOOLEAN`);
  const b = tlv.value[0];
  if (b === 0xff) return true;
  if (b === 0x00) return false;
  throw tlv.fail(`${what}: BOOLEAN must be 0x00 or 0xFF in DER`);
}

/** BIT STRING contents. `unusedBits` is 0 for keys and signatures; named-bit lists may pad. */
export function bitString(tlv: Tlv, what: string): { bytes: Uint8Array; unusedBits: number } {
  if (tlv.tag !== Tag.BIT_STRING || tlv.value.length === 0) throw tlv.fail(`${what}: expected BIT STRING`);
  const unused = tlv.value[0] as number;
  const bytes = tlv.value.subarray(1);
  if (unused > 7 || (bytes.length === 0 && unused !== 0)) throw tlv.fail(`${what}: bad unused-bit count`);
  if (unused > 0 && (((bytes[bytes.length - 1] as number) & ((1 << unused) - 1)) !== 0)) {
    throw tlv.fail(`${what}: padding bits must be zero in DER`);
  }
  return { bytes, unusedBits: unused };
}

/** A BIT STRING that must hold whole octets (keys, signatures). */
export function octetAlignedBits(tlv: Tlv, what: string): Uint8Array {
  const { bytes, unusedBits } = bitString(tlv, what);
  if (unusedBits !== 0) throw tlv.fail(`${what}: BIT STRING is not octet-aligned`);
  return bytes;
}

export function octetString(tlv: Tlv, what: string): Uint8Array {
  if (tlv.tag !== Tag.OCTET_STRING) throw tlv.fail(`${what}: expected OCTET STRING`);
  return tlv.value;
}

export function nullValue(tlv: Tlv, what: string): void {
  if (tlv.tag !== Tag.NULL || tlv.value.length !== 0) throw tlv.fail(`${what}: expected NULL`);
}

/** OBJECT IDENTIFIER in dotted form. */
export function oidValue(tlv: Tlv, what: string): string {
  if (tlv.tag !== Tag.OID) throw tlv.fail(`${what}: expected OBJECT IDENTIFIER`);
  const v = tlv.value;
  if (v.length === 0) throw tlv.fail(`${what}: empty OBJECT IDENTIFIER`);
  const arcs: number[] = [];
  let n = 0;
  let started = false;
  for (let i = 0; i < v.length; i++) {
    const b = v[i] as number;
    if (!started && b === 0x80) throw tlv.fail(`${what}: non-minimal OID arc`);
    started = true;
    if (n > 2 ** 45) throw tlv.fail(`${what}: OID arc too large`);
    n = n * 128 + (b & 0x7f);
    if ((b & 0x80) === 0) {
      arcs.push(n);
      n = 0;
      started = false;
    }
  }
  if (started) throw tlv.fail(`${what}: truncated OID arc`);
  const first = arcs[0] as number;
  const head = first < 40 ? [0, first] : first < 80 ? [1, first - 40] : [2, first - 80];
  return [...head, ...arcs.slice(1)].join('.');
}

/**
 * Bytes as the code points of the same values, in slices: spreading a whole
 * value into String.fromCharCode overflows the call stack past ~100 KB.
 */
function byteString(v: Uint8Array): string {
  let s = '';
  for (let i = 0; i < v.length; i += 8192) s += String.fromCharCode(...v.subarray(i, i + 8192));
  return s;
}

/** Decodes a string type found in names (X.520 DirectoryString and friends). */
export function stringValue(tlv: Tlv, what: string): string {
  const v = tlv.value;
  switch (tlv.tag) {
    case Tag.UTF8String:
      try {
        return new TextDecoder('utf-8', { fatal: true }).decode(v);
      } catch {
        throw tlv.fail(`${what}: invalid UTF-8`);
      }
    case Tag.PrintableString:
    case Tag.IA5String:
      for (const b of v) if (b >= 0x80) throw tlv.fail(`${what}: non-ASCII byte in ${tlv.tag === Tag.IA5String ? 'IA5String' : 'PrintableString'}`);
      return byteString(v);
    case Tag.TeletexString:
      return byteString(v);
    case Tag.BMPString: {
      if (v.length % 2) throw tlv.fail(`${what}: odd-length BMPString`);
      let s = '';
      for (let i = 0; i < v.length; i += 2) s += String.fromCharCode(((v[i] as number) << 8) | (v[i + 1] as number));
      return s;
    }
    case Tag.UniversalString: {
      if (v.length % 4) throw tlv.fail(`${what}: bad UniversalString length`);
      let s = '';
      for (let i = 0; i < v.length; i += 4) {
        const cp = (((v[i] as number) << 24) >>> 0) + ((v[i + 1] as number) << 16) + ((v[i + 2] as number) << 8) + (v[i + 3] as number);
        if (cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000)) throw tlv.fail(`${what}: invalid code point in UniversalString`);
        s += String.fromCodePoint(cp);
      }
      return s;
    }
    default:
      throw tlv.fail(`${what}: unexpected string tag 0x${tlv.tag.toString(16)}`);
  }
}

/** UTCTime or GeneralizedTime in the forms RFC 5280 §4.1.2.5 allows (seconds, `Z`, no fractions). */
export function timeValue(tlv: Tlv, what: string): Date {
  const s = byteString(tlv.value);
  let m: RegExpExecArray | null;
  let year: number;
  if (tlv.tag === Tag.UTCTime) {
    m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s);
    if (!m) throw tlv.fail(`${what}: UTCTime must be YYMMDDHHMMSSZ`);
    const yy = Number(m[1]);
    year = yy >= 50 ? 1900 + yy : 2000 + yy;
  } else if (tlv.tag === Tag.GeneralizedTime) {
    m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s);
    if (!m) throw tlv.fail(`${what}: GeneralizedTime must be YYYYMMDDHHMMSSZ`);
    year = Number(m[1]);
  } else {
    throw tlv.fail(`${what}: expected UTCTime or GeneralizedTime`);
  }
  const [mo, d, h, mi, se] = [2, 3, 4, 5, 6].map((i) => Number(m?.[i]));
  const t = Date.UTC(year, (mo as number) - 1, d, h, mi, se);
  const back = new Date(t);
  // Date.UTC rolls 31 February over into March; DER must not.
  if (Number.isNaN(t) || back.getUTCMonth() !== (mo as number) - 1 || back.getUTCDate() !== d || back.getUTCHours() !== h ||
    back.getUTCMinutes() !== mi || back.getUTCSeconds() !== se || back.getUTCFullYear() !== year) {
    throw tlv.fail(`${what}: invalid date ${s}`);
  }
  return back;
}

// ---- encoding ----

function lengthBytes(n: number): number[] {
  if (n < 0x80) return [n];
  const out: number[] = [];
  for (let x = n; x > 0; x = Math.floor(x / 256)) out.unshift(x & 0xff);
  return [0x80 | out.length, ...out];
}

/** Encodes one TLV from its tag and already-encoded contents. */
export function tlv(tag: number, ...parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const head = [tag, ...lengthBytes(n)];
  const out = new Uint8Array(head.length + n);
  out.set(head, 0);
  let o = head.length;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export const sequence = (...parts: readonly Uint8Array[]): Uint8Array => tlv(Tag.SEQUENCE, ...parts);
export const set = (...parts: readonly Uint8Array[]): Uint8Array => tlv(Tag.SET, ...parts);
export const octets = (b: Uint8Array): Uint8Array => tlv(Tag.OCTET_STRING, b);
export const bits = (b: Uint8Array): Uint8Array => tlv(Tag.BIT_STRING, new Uint8Array([0]), b);
export const derNull = (): Uint8Array => new Uint8Array([Tag.NULL, 0]);
export const derBoolean = (v: boolean): Uint8Array => new Uint8Array([Tag.BOOLEAN, 1, v ? 0xff : 0]);
export const explicit = (n: number, inner: Uint8Array): Uint8Array => tlv(contextTag(n, true), inner);

/** A non-negative INTEGER from an unsigned big-endian magnitude, a small number or a bigint. */
export function integer(v: Uint8Array | number | bigint): Uint8Array {
  let mag: Uint8Array;
  if (typeof v === 'bigint') {
    if (v < 0n) throw new RangeError('negative integer');
    const hex = v.toString(16);
    mag = fromHex(hex.length % 2 ? `0${hex}` : hex);
  } else if (typeof v === 'number') {
    const out: number[] = [];
    for (let x = v; x > 0; x = Math.floor(x / 256)) out.unshift(x & 0xff);
    mag = new Uint8Array(out);
  } else {
    mag = v;
  }
  let i = 0;
  while (i < mag.length - 1 && mag[i] === 0) i++;
  mag = mag.subarray(i);
  if (mag.length === 0) mag = new Uint8Array([0]);
  if ((mag[0] as number) >= 0x80) return tlv(Tag.INTEGER, new Uint8Array([0]), mag);
  return tlv(Tag.INTEGER, mag);
}

export function oid(dotted: string): Uint8Array {
  const arcs = dotted.split('.').map(Number);
  const body: number[] = [];
  const push = (n: number): void => {
    const groups = [n & 0x7f];
    for (let x = Math.floor(n / 128); x > 0; x = Math.floor(x / 128)) groups.unshift((x & 0x7f) | 0x80);
    body.push(...groups);
  };
  push((arcs[0] as number) * 40 + (arcs[1] as number));
  for (const a of arcs.slice(2)) push(a);
  return tlv(Tag.OID, new Uint8Array(body));
}

/** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050. */
export function time(d: Date): Uint8Array {
  const iso = d.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = iso.slice(0, 19).replace(/[-T:]/g, '');
  const year = d.getUTCFullYear();
  if (year < 0 || year > 9999) throw new RangeError(`date out of X.509 range: ${iso}`);
  if (year >= 1950 && year < 2050) return tlv(Tag.UTCTime, new TextEncoder().encode(`${digits.slice(2)}Z`));
  return tlv(Tag.GeneralizedTime, new TextEncoder().encode(`${digits}Z`));
}
