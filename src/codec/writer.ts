import { ConfigError, SizeOverflowError } from '../errors.js';

/** Largest value a QUIC variable-length integer can carry (RFC 9000 §16). */
export const MAX_VARINT = 2 ** 62 - 1;

/** Number of bytes the QUIC varint encoding of `v` takes. */
export function varintLength(v: number): 1 | 2 | 4 | 8 {
  if (v < 0x40) return 1;
  if (v < 0x4000) return 2;
  if (v < 0x40000000) return 4;
  return 8;
}

/**
 * Growable byte writer. Length-prefixed vectors are written with
 * {@link Writer.vec}, which back-patches the prefix and checks it fits.
 */
export class Writer {
  private buf: Uint8Array;
  private pos = 0;

  /** Set for a writer over a caller's array ({@link Writer.into}), which must never be swapped for a larger one. */
  private fixed = false;

  constructor(initialCapacity = 256) {
    this.buf = new Uint8Array(initialCapacity);
  }

  /**
   * A writer that fills `buf` in place from `offset` and never grows: a write
   * past its end throws. {@link length} is then the offset after the last byte.
   */
  static into(buf: Uint8Array, offset = 0): Writer {
    const w = new Writer(0);
    w.buf = buf;
    w.pos = offset;
    w.fixed = true;
    return w;
  }

  get length(): number {
    return this.pos;
  }

  /** Moves past `n` bytes without writing them: a fixed writer's caller fills them in later. */
  skip(n: number): this {
    this.reserve(n);
    this.pos += n;
    return this;
  }

  private reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    if (this.fixed) throw new ConfigError(`writing ${n} bytes at ${this.pos} overruns the ${this.buf.length}-byte buffer`);
    // At least 16: doubling a zero capacity would never reach the size needed.
    let cap = Math.max(this.buf.length * 2, 16);
    while (cap < this.pos + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  u8(v: number): this {
    this.reserve(1);
    this.buf[this.pos++] = v & 0xff;
    return this;
  }
  u16(v: number): this {
    this.reserve(2);
    this.buf[this.pos++] = (v >>> 8) & 0xff;
    this.buf[this.pos++] = v & 0xff;
    return this;
  }
  u24(v: number): this {
    this.reserve(3);
    this.buf[this.pos++] = (v >>> 16) & 0xff;
    this.buf[this.pos++] = (v >>> 8) & 0xff;
    this.buf[this.pos++] = v & 0xff;
    return this;
  }
  u32(v: number): this {
    this.reserve(4);
    this.buf[this.pos++] = (v >>> 24) & 0xff;
    this.buf[this.pos++] = (v >>> 16) & 0xff;
    this.buf[this.pos++] = (v >>> 8) & 0xff;
    this.buf[this.pos++] = v & 0xff;
    return this;
  }
  bytes(b: Uint8Array): this {
    this.reserve(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }

  /**
   * Writes a vector with a `prefixBytes`-byte length prefix; `body` writes the
   * contents. Throws {@link SizeOverflowError} if the contents do not fit the
   * prefix or [min, max]: what is written may be sized by a peer.
   */
  vec(prefixBytes: 1 | 2 | 3 | 4, body: (w: this) => void, min = 0, max = 2 ** (8 * prefixBytes) - 1): this {
    this.reserve(prefixBytes);
    const at = this.pos;
    this.pos += prefixBytes;
    body(this);
    const len = this.pos - at - prefixBytes;
    if (len < min || len > max) throw new SizeOverflowError(`vector length ${len} outside [${min}, ${max}]`);
    for (let i = prefixBytes - 1, v = len; i >= 0; i--, v = Math.floor(v / 256)) this.buf[at + i] = v & 0xff;
    return this;
  }

  /**
   * A length-prefixed byte string: {@link vec} around {@link bytes}, with the
   * same checks, written directly (no closure per call: message encoders call
   * it for every field).
   */
  vecBytes(prefixBytes: 1 | 2 | 3 | 4, b: Uint8Array, min = 0, max = 2 ** (8 * prefixBytes) - 1): this {
    const len = b.length;
    if (len < min || len > max) throw new SizeOverflowError(`vector length ${len} outside [${min}, ${max}]`);
    this.reserve(prefixBytes + len);
    for (let i = prefixBytes - 1, v = len; i >= 0; i--, v = Math.floor(v / 256)) this.buf[this.pos + i] = v & 0xff;
    this.buf.set(b, this.pos + prefixBytes);
    this.pos += prefixBytes + len;
    return this;
  }

  /** QUIC variable-length integer (RFC 9000 §16), shortest encoding unless `len` forces a longer one. */
  varint(v: number, len: 1 | 2 | 4 | 8 = varintLength(v)): this {
    if (!Number.isSafeInteger(v) || v < 0 || v > MAX_VARINT) throw new ConfigError(`varint out of range: ${v}`);
    if (len < varintLength(v)) throw new ConfigError(`varint ${v} does not fit in ${len} bytes`);
    this.reserve(len);
    const prefix = len === 1 ? 0 : len === 2 ? 1 : len === 4 ? 2 : 3;
    let x = v;
    for (let i = len - 1; i >= 0; i--) {
      this.buf[this.pos + i] = x % 256;
      x = Math.floor(x / 256);
    }
    this.buf[this.pos] = (this.buf[this.pos] as number) | (prefix << 6);
    this.pos += len;
    return this;
  }

  /** A QUIC varint-length-prefixed byte string. */
  varintBytes(b: Uint8Array): this {
    return this.varint(b.length).bytes(b);
  }

  /**
   * The bytes written so far, sized exactly: the writer's own array when the
   * writes filled it exactly (an encoder that sized its writer right pays no
   * copy; any later write would move to a new array, so the one returned is
   * never written again), a copy otherwise, and always a copy for a writer
   * over a caller's array ({@link Writer.into}).
   */
  finish(): Uint8Array {
    if (this.pos === this.buf.length && !this.fixed) return this.buf;
    return this.buf.slice(0, this.pos);
  }
}
