/**
 * QPACK field sections (RFC 9204) with the static table and literals only:
 * we advertise SETTINGS_QPACK_MAX_TABLE_CAPACITY 0 and
 * SETTINGS_QPACK_BLOCKED_STREAMS 0, so a peer may not reference a dynamic
 * table (§3.2.3), and we never insert into the peer's. Literals we send are
 * plain; literals we receive may be Huffman-coded (§4.1.2).
 */
import { Http3Error, H3ErrorCode } from './errors.js';
import { huffmanDecode } from './huffman.js';

export type Field = readonly [name: string, value: string];

/** RFC 9204 Appendix A. */
export const QPACK_STATIC_TABLE: readonly Field[] = [
  [':authority', ''], [':path', '/'], ['age', '0'], ['content-disposition', ''], ['content-length', '0'], ['cookie', ''],
  ['date', ''], ['etag', ''], ['if-modified-since', ''], ['if-none-match', ''], ['last-modified', ''], ['link', ''],
  ['location', ''], ['referer', ''], ['set-cookie', ''], [':method', 'CONNECT'], [':method', 'DELETE'], [':method', 'GET'],
  [':method', 'HEAD'], [':method', 'OPTIONS'], [':method', 'POST'], [':method', 'PUT'], [':scheme', 'http'], [':scheme', 'https'],
  [':status', '103'], [':status', '200'], [':status', '304'], [':status', '404'], [':status', '503'], ['accept', '*/*'],
  ['accept', 'application/dns-message'], ['accept-encoding', 'gzip, deflate, br'], ['accept-ranges', 'bytes'],
  ['access-control-allow-headers', 'cache-control'], ['access-control-allow-headers', 'content-type'],
  ['access-control-allow-origin', '*'], ['cache-control', 'max-age=0'], ['cache-control', 'max-age=2592000'],
  ['cache-control', 'max-age=604800'], ['cache-control', 'no-cache'], ['cache-control', 'no-store'],
  ['cache-control', 'public, max-age=31536000'], ['content-encoding', 'br'], ['content-encoding', 'gzip'],
  ['content-type', 'application/dns-message'], ['content-type', 'application/javascript'], ['content-type', 'application/json'],
  ['content-type', 'application/x-www-form-urlencoded'], ['content-type', 'image/gif'], ['content-type', 'image/jpeg'],
  ['content-type', 'image/png'], ['content-type', 'text/css'], ['content-type', 'text/html; charset=utf-8'],
  ['content-type', 'text/plain'], ['content-type', 'text/plain;charset=utf-8'], ['range', 'bytes=0-'],
  ['strict-transport-security', 'max-age=31536000'], ['strict-transport-security', 'max-age=31536000; includesubdomains'],
  ['strict-transport-security', 'max-age=31536000; includesubdomains; preload'], ['vary', 'accept-encoding'], ['vary', 'origin'],
  ['x-content-type-options', 'nosniff'], ['x-xss-protection', '1; mode=block'], [':status', '100'], [':status', '204'],
  [':status', '206'], [':status', '302'], [':status', '400'], [':status', '403'], [':status', '421'], [':status', '425'],
  [':status', '500'], ['accept-language', ''], ['access-control-allow-credentials', 'FALSE'],
  ['access-control-allow-credentials', 'TRUE'], ['access-control-allow-headers', '*'], ['access-control-allow-methods', 'get'],
  ['access-control-allow-methods', 'get, post, options'], ['access-control-allow-methods', 'options'],
  ['access-control-expose-headers', 'content-length'], ['access-control-request-headers', 'content-type'],
  ['access-control-request-method', 'get'], ['access-control-request-method', 'post'], ['alt-svc', 'clear'], ['authorization', ''],
  ['content-security-policy', "script-src 'none'; object-src 'none'; base-uri 'none'"], ['early-data', '1'], ['expect-ct', ''],
  ['forwarded', ''], ['if-range', ''], ['origin', ''], ['purpose', 'prefetch'], ['server', ''], ['timing-allow-origin', '*'],
  ['upgrade-insecure-requests', '1'], ['user-agent', ''], ['x-forwarded-for', ''], ['x-frame-options', 'deny'],
  ['x-frame-options', 'sameorigin'],
];

const exactIndex = new Map<string, number>();
const nameIndex = new Map<string, number>();
QPACK_STATIC_TABLE.forEach(([n, v], i) => {
  if (!exactIndex.has(`${n}\0${v}`)) exactIndex.set(`${n}\0${v}`, i);
  if (!nameIndex.has(n)) nameIndex.set(n, i);
});

/** Limits on what a peer's field section may cost us. */
export interface QpackLimits {
  /** Fields per section (default 256). */
  readonly maxFields?: number;
  /**
   * Decoded size, RFC 9114 §4.2.2's measure: each field's name and value
   * lengths plus 32 (default 65 536, what we advertise as SETTINGS_MAX_FIELD_SECTION_SIZE).
   */
  readonly maxSectionSize?: number;
}
export const DEFAULT_MAX_FIELDS = 256;
export const DEFAULT_MAX_FIELD_SECTION_SIZE = 65_536;

const fail = (message: string): Http3Error => new Http3Error(H3ErrorCode.QPACK_DECOMPRESSION_FAILED, message);
const latin = new TextDecoder('latin1');

/** Field values are octets (RFC 9110 §5.5); strings carry them one char per byte. */
function latin1(s: string): Uint8Array {
  const b = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff) throw new Http3Error(H3ErrorCode.H3_INTERNAL_ERROR, 'a field holds a character beyond one octet');
    b[i] = c;
  }
  return b;
}

/** Writes a prefixed integer (RFC 7541 §5.1) with `flags` in the bits above the `n`-bit prefix. */
function writeInt(out: number[], flags: number, n: number, value: number): void {
  const max = (1 << n) - 1;
  if (value < max) {
    out.push(flags | value);
    return;
  }
  out.push(flags | max);
  let rest = value - max;
  while (rest >= 128) {
    out.push((rest % 128) | 0x80);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
}

function writeString(out: number[], flags: number, n: number, s: string): void {
  const b = latin1(s);
  writeInt(out, flags, n, b.length);
  for (const x of b) out.push(x);
}

/**
 * Encodes a field section (RFC 9204 §4.5): Required Insert Count 0 and Base
 * 0, then per field a static index (§4.5.2), a literal with a static name
 * reference (§4.5.4) or a literal with a literal name (§4.5.6), all plain.
 */
export function encodeFieldSection(fields: readonly Field[]): Uint8Array {
  const out: number[] = [0x00, 0x00];
  for (const [name, value] of fields) {
    const exact = exactIndex.get(`${name}\0${value}`);
    if (exact !== undefined) {
      writeInt(out, 0xc0, 6, exact); // 1 T=1 index
      continue;
    }
    const byName = nameIndex.get(name);
    if (byName !== undefined) {
      writeInt(out, 0x50, 4, byName); // 01 N=0 T=1 index
    } else {
      writeString(out, 0x20, 3, name); // 001 N=0 H=0 name length
    }
    writeString(out, 0x00, 7, value); // H=0 value length
  }
  return Uint8Array.from(out);
}

/** A cursor over a field section; every read is bounds-checked. */
class Cursor {
  pos = 0;
  constructor(private readonly b: Uint8Array) {}
  get done(): boolean {
    return this.pos >= this.b.length;
  }
  peek(): number {
    const v = this.b[this.pos];
    if (v === undefined) throw fail('field section truncated');
    return v;
  }
  /** A prefixed integer with an `n`-bit prefix; values past 2^32 are refused (no length or index we accept is near that). */
  int(n: number): number {
    const max = (1 << n) - 1;
    let v = this.peek() & max;
    this.pos++;
    if (v < max) return v;
    for (let shift = 0; ; shift += 7) {
      if (shift > 28) throw fail('prefixed integer too large');
      const byte = this.peek();
      this.pos++;
      v += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return v;
    }
  }
  /** A string literal whose H bit is bit `n` of the current byte and whose length has an `n`-bit prefix. */
  string(n: number, maxLength: number): Uint8Array {
    const huffman = (this.peek() & (1 << n)) !== 0;
    const len = this.int(n);
    if (len > this.b.length - this.pos) throw fail('string literal runs past the field section');
    if (len > maxLength) throw fail('string literal exceeds the field section size limit');
    const raw = this.b.subarray(this.pos, this.pos + len);
    this.pos += len;
    return huffman ? huffmanDecode(raw) : raw;
  }
}

/**
 * Decodes a field section that references no dynamic table (RFC 9204
 * §4.5). Any dynamic reference, post-base form or non-zero Required Insert
 * Count is QPACK_DECOMPRESSION_FAILED: with a table capacity of 0 the peer
 * may use none (§2.2.3, §4.5.1.1). The decoded size and field count are
 * capped as `limits` says (RFC 9114 §4.2.2), failing with H3_EXCESSIVE_LOAD.
 */
export function decodeFieldSection(section: Uint8Array, limits: QpackLimits = {}): Field[] {
  const maxFields = limits.maxFields ?? DEFAULT_MAX_FIELDS;
  const maxSize = limits.maxSectionSize ?? DEFAULT_MAX_FIELD_SECTION_SIZE;
  const c = new Cursor(section);
  // §4.5.1.1: with MaxEntries 0, an Encoded Required Insert Count other than 0 is an error.
  if (c.int(8) !== 0) throw fail('Required Insert Count is not 0, but our dynamic table capacity is 0');
  c.int(7); // Sign and Delta Base: meaningless without dynamic references (§4.5.1.2)
  const fields: Field[] = [];
  let size = 0;
  const add = (name: Uint8Array | string, value: Uint8Array | string): void => {
    const n = typeof name === 'string' ? name : latin.decode(name);
    const v = typeof value === 'string' ? value : latin.decode(value);
    size += n.length + v.length + 32;
    if (fields.length >= maxFields) throw new Http3Error(H3ErrorCode.H3_EXCESSIVE_LOAD, `more than ${maxFields} fields in a section`);
    if (size > maxSize) throw new Http3Error(H3ErrorCode.H3_EXCESSIVE_LOAD, `field section larger than ${maxSize} bytes (RFC 9114 §4.2.2)`);
    fields.push([n, v]);
  };
  const staticEntry = (i: number): Field => {
    const e = QPACK_STATIC_TABLE[i];
    if (!e) throw fail(`static table index ${i} out of range (RFC 9204 §3.1)`);
    return e;
  };
  while (!c.done) {
    const b = c.peek();
    if (b & 0x80) {
      // §4.5.2 Indexed Field Line: 1 T index(6)
      if ((b & 0x40) === 0) throw fail('indexed field line refers to the dynamic table');
      const [n, v] = staticEntry(c.int(6));
      add(n, v);
    } else if (b & 0x40) {
      // §4.5.4 Literal Field Line with Name Reference: 01 N T index(4), value
      if ((b & 0x10) === 0) throw fail('literal field line names a dynamic table entry');
      const [n] = staticEntry(c.int(4));
      add(n, c.string(7, maxSize));
    } else if (b & 0x20) {
      // §4.5.6 Literal Field Line with Literal Name: 001 N H len(3) name, value
      const name = c.string(3, maxSize);
      add(name, c.string(7, maxSize));
    } else {
      // §4.5.3 / §4.5.5 post-base forms reference entries after the Base: dynamic only.
      throw fail('post-base field line refers to the dynamic table');
    }
  }
  return fields;
}
