import type { Reader } from '../codec/reader.js';

/** A QUIC varint split exactly into its high 30 and low 32 bits: JavaScript numbers lose the low bits past 2^53. */
export interface VarintParts {
  readonly hi: number;
  readonly lo: number;
}

/** Reads a QUIC varint (RFC 9000 §16) exactly, whatever its size. */
export function readVarintParts(r: Reader): VarintParts {
  const first = r.u8();
  const top = first & 0x3f;
  switch (first >> 6) {
    case 0: return { hi: 0, lo: top };
    case 1: return { hi: 0, lo: (top << 8) | r.u8() };
    case 2: return { hi: 0, lo: top * 0x1000000 + r.u24() };
    default: return { hi: top * 0x1000000 + r.u24(), lo: r.u32() };
  }
}

/** The value, or Number.MAX_SAFE_INTEGER if it is larger. */
export function saturate(p: VarintParts): number {
  return p.hi >= 0x200000 ? Number.MAX_SAFE_INTEGER : p.hi * 0x100000000 + p.lo;
}

/** True if the value exceeds 2^`bits` (for the 2^60 stream-count ceiling of RFC 9000 §19.11). */
export function exceedsPowerOfTwo(p: VarintParts, bits: number): boolean {
  const hiBits = 2 ** (bits - 32);
  return p.hi > hiBits || (p.hi === hiBits && p.lo > 0);
}

/**
 * Reads a QUIC varint whose exact value does not matter past 2^53-1: flow
 * control limits and error codes, which peers may legitimately set as high as
 * 2^62-1. Such values read as Number.MAX_SAFE_INTEGER instead of failing the
 * connection, as {@link Reader.varint} would.
 */
export function saturatingVarint(r: Reader): number {
  return saturate(readVarintParts(r));
}
