import { ConfigError } from '../errors.js';

/** Largest packet number this implementation handles: JavaScript numbers are exact up to 2^53-1. */
export const MAX_PACKET_NUMBER = Number.MAX_SAFE_INTEGER;

/**
 * The shortest packet-number encoding (1–4 bytes) the receiver can decode
 * unambiguously (RFC 9000 §17.1, Appendix A.2): it must represent more than
 * twice the distance from the largest acknowledged packet. Before any
 * acknowledgment (`largestAcked` undefined) the whole range counts as unacked.
 */
export function packetNumberLength(pn: number, largestAcked: number | undefined): 1 | 2 | 3 | 4 {
  if (!Number.isSafeInteger(pn) || pn < 0) throw new ConfigError(`packet number out of range: ${pn}`);
  const unacked = largestAcked === undefined ? pn + 1 : pn - largestAcked;
  if (unacked <= 0) throw new ConfigError(`packet number ${pn} not above largest acknowledged ${largestAcked}`);
  // num_unacked < 2^(8n-1), i.e. min_bits = log2(num_unacked) + 1 fits n bytes.
  if (unacked < 0x80) return 1;
  if (unacked < 0x8000) return 2;
  if (unacked < 0x800000) return 3;
  if (unacked < 0x80000000) return 4;
  throw new ConfigError(`${unacked} unacknowledged packets exceed a 4-byte packet number`);
}

/** The low `length` bytes of `pn`, as written on the wire. */
export function truncatePacketNumber(pn: number, length: 1 | 2 | 3 | 4): number {
  return length === 4 ? pn % 0x100000000 : pn % (1 << (8 * length));
}

/**
 * Recovers a full packet number from its truncated form (RFC 9000 §17.1,
 * Appendix A.3): the candidate closest to `largestPn + 1`. `largestPn` is the
 * largest packet number successfully processed in this space, or -1 if none.
 */
export function decodePacketNumber(largestPn: number, truncated: number, length: 1 | 2 | 3 | 4): number {
  const expected = largestPn + 1;
  const win = 2 ** (8 * length);
  const hwin = win / 2;
  // Modular arithmetic rather than bit masks: packet numbers exceed 32 bits.
  const candidate = expected - (expected % win) + truncated;
  if (candidate <= expected - hwin && candidate < 2 ** 62 - win) return candidate + win;
  if (candidate > expected + hwin && candidate >= win) return candidate - win;
  return candidate;
}
