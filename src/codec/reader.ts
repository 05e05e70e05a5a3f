import { DecodeError } from '../errors.js';

/**
 * Bounds-checked reader over a byte slice. Every read past the end, and every
 * length prefix outside its declared bounds, raises {@link DecodeError} (decode_error),
 * so parsers built on it never index out of range or allocate from a peer's length.
 */
export class Reader {
  private pos = 0;
  constructor(
    private readonly buf: Uint8Array,
    /** What is being parsed, for error messages. */
    readonly what = 'message',
  ) {}

  get offset(): number {
    return this.pos;
  }
  get remaining(): number {
    return this.buf.length - this.pos;
  }
  get done(): boolean {
    return this.pos === this.buf.length;
  }

  private need(n: number): void {
    if (n > this.buf.length - this.pos) {
      throw new DecodeError(`${this.what}: truncated (need ${n} bytes at offset ${this.pos}, have ${this.remaining})`);
    }
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++] as number;
  }
  u16(): number {
    this.need(2);
    const b = this.buf, p = this.pos;
    this.pos += 2;
    return ((b[p] as number) << 8) | (b[p + 1] as number);
  }
  u24(): number {
    this.need(3);
    const b = this.buf, p = this.pos;
    this.pos += 3;
    return ((b[p] as number) << 16) | ((b[p + 1] as number) << 8) | (b[p + 2] as number);
  }
  u32(): number {
    this.need(4);
    const b = this.buf, p = this.pos;
    this.pos += 4;
    return (((b[p] as number) << 24) >>> 0) + (((b[p + 1] as number) << 16) | ((b[p + 2] as number) << 8) | (b[p + 3] as number));
  }

  /** A view (not a copy) of the next `n` bytes. */
  bytes(n: number): Uint8Array {
    if (!Number.isInteger(n) || n < 0) throw new DecodeError(`${this.what}: invalid length ${n}`);
    this.need(n);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** Everything not yet read. */
  rest(): Uint8Array {
    return this.bytes(this.remaining);
  }

  /**
   * A vector with a `prefixBytes`-byte length prefix whose length must lie in
   * [min, max] (RFC 8446 §3.4 `<min..max>`).
   */
  vec(prefixBytes: 1 | 2 | 3 | 4, min = 0, max = Number.MAX_SAFE_INTEGER): Uint8Array {
    const len = prefixBytes === 1 ? this.u8() : prefixBytes === 2 ? this.u16() : prefixBytes === 3 ? this.u24() : this.u32();
    if (len < min || len > max) {
      throw new DecodeError(`${this.what}: vector length ${len} outside [${min}, ${max}]`);
    }
    return this.bytes(len);
  }

  /** A sub-reader over a length-prefixed vector, for nested structures. */
  sub(prefixBytes: 1 | 2 | 3 | 4, min = 0, max = Number.MAX_SAFE_INTEGER, what = this.what): Reader {
    return new Reader(this.vec(prefixBytes, min, max), what);
  }

  /** QUIC variable-length integer (RFC 9000 §16). Values above 2^53-1 are rejected. */
  varint(): number {
    this.need(1);
    const first = this.buf[this.pos] as number;
    const len = 1 << (first >> 6);
    this.need(len);
    let v = first & 0x3f;
    for (let i = 1; i < len; i++) v = v * 256 + (this.buf[this.pos + i] as number);
    if (!Number.isSafeInteger(v)) throw new DecodeError(`${this.what}: varint exceeds 2^53-1`);
    this.pos += len;
    return v;
  }

  /** A QUIC varint-length-prefixed byte string. */
  varintBytes(max = Number.MAX_SAFE_INTEGER): Uint8Array {
    const n = this.varint();
    if (n > max) throw new DecodeError(`${this.what}: length ${n} exceeds ${max}`);
    return this.bytes(n);
  }

  /** Throws unless every byte has been consumed. */
  end(): void {
    if (!this.done) throw new DecodeError(`${this.what}: ${this.remaining} trailing bytes`);
  }
}
