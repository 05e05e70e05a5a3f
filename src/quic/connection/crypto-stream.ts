import { QuicTransportError, TransportErrorCode } from '../errors.js';

/**
 * The outgoing CRYPTO stream of one packet number space (RFC 9000 §19.6):
 * handshake bytes from TLS, sent in order, kept until acknowledged and
 * resent from the lost ranges first (§13.3).
 */
export class CryptoSendStream {
  private data = new Uint8Array(0);
  /** Stream offset of data[0]: everything below was acknowledged in order. */
  private base = 0;
  /** Next offset never sent. */
  private sent = 0;
  private lost: { offset: number; end: number }[] = [];
  private acked: { offset: number; end: number }[] = [];

  append(bytes: Uint8Array): void {
    const next = new Uint8Array(this.data.length + bytes.length);
    next.set(this.data);
    next.set(bytes, this.data.length);
    this.data = next;
  }

  get hasPending(): boolean {
    return this.lost.length > 0 || this.sent < this.base + this.data.length;
  }

  /** The next chunk to send, at most `max` bytes: lost data first, then new data. */
  next(max: number): { offset: number; data: Uint8Array } | undefined {
    if (max <= 0) return undefined;
    const range = this.lost[0];
    if (range) {
      const end = Math.min(range.end, range.offset + max);
      const chunk = { offset: range.offset, data: this.slice(range.offset, end) };
      if (end === range.end) this.lost.shift();
      else this.lost[0] = { offset: end, end: range.end };
      return chunk;
    }
    const end = Math.min(this.base + this.data.length, this.sent + max);
    if (end <= this.sent) return undefined;
    const chunk = { offset: this.sent, data: this.slice(this.sent, end) };
    this.sent = end;
    return chunk;
  }

  private slice(from: number, to: number): Uint8Array {
    return this.data.slice(from - this.base, to - this.base);
  }

  onAcked(offset: number, length: number): void {
    this.acked = mergeRange(this.acked, { offset, end: offset + length });
    // Drop the acknowledged prefix.
    const first = this.acked[0];
    if (first && first.offset <= this.base && first.end > this.base) {
      this.data = this.data.slice(first.end - this.base);
      this.base = first.end;
      this.acked.shift();
    }
    this.lost = subtract(this.lost, { offset, end: offset + length });
  }

  /** Everything sent and not yet acknowledged goes again (a PTO probe's payload, RFC 9002 §6.2.4). */
  retransmitUnacked(): void {
    if (this.sent > this.base) this.onLost(this.base, this.sent - this.base);
  }

  onLost(offset: number, length: number): void {
    // Only what is not acknowledged yet needs sending again.
    // Only bytes that were sent can be lost.
    let ranges = [{ offset: Math.max(offset, this.base), end: Math.min(offset + length, this.sent) }].filter((r) => r.end > r.offset);
    for (const a of this.acked) ranges = ranges.flatMap((r) => subtract([r], a));
    for (const r of ranges) this.lost = mergeRange(this.lost, r);
  }
}

/**
 * The incoming CRYPTO stream of one space: frames may arrive out of order and
 * overlap; bytes are released in order. Data more than `limit` bytes beyond
 * what has been released is refused with CRYPTO_BUFFER_EXCEEDED (§7.5).
 */
export class CryptoRecvStream {
  private readonly pending = new Map<number, Uint8Array>();
  private delivered = 0;

  constructor(private readonly limit: number) {}

  /** Takes a CRYPTO frame; returns the bytes now available in order (possibly empty). */
  push(offset: number, data: Uint8Array): Uint8Array {
    const end = offset + data.length;
    if (end > this.delivered + this.limit) {
      throw new QuicTransportError(TransportErrorCode.CRYPTO_BUFFER_EXCEEDED, `CRYPTO data up to ${end} exceeds the ${this.limit}-byte buffer`);
    }
    if (end <= this.delivered) return new Uint8Array(0);
    const start = Math.max(offset, this.delivered);
    const existing = this.pending.get(start);
    if (!existing || existing.length < end - start) this.pending.set(start, data.subarray(start - offset));
    const out: Uint8Array[] = [];
    for (;;) {
      let best: Uint8Array | undefined;
      for (const [o, d] of this.pending) {
        if (o <= this.delivered && o + d.length > this.delivered) {
          const tail = d.subarray(this.delivered - o);
          if (!best || tail.length > best.length) best = tail;
        }
        if (o + d.length <= this.delivered) this.pending.delete(o);
      }
      if (!best) break;
      out.push(best);
      this.delivered += best.length;
    }
    for (const [o, d] of this.pending) if (o + d.length <= this.delivered) this.pending.delete(o);
    if (out.length === 1) return out[0] as Uint8Array;
    const n = out.reduce((a, b) => a + b.length, 0);
    const joined = new Uint8Array(n);
    let p = 0;
    for (const b of out) {
      joined.set(b, p);
      p += b.length;
    }
    return joined;
  }
}

interface Range {
  readonly offset: number;
  readonly end: number;
}

/** Inserts `r` into sorted, disjoint `ranges`, merging overlaps and neighbours. */
function mergeRange(ranges: readonly Range[], r: Range): Range[] {
  const out: Range[] = [];
  let cur = r;
  for (const x of ranges) {
    if (x.end < cur.offset || x.offset > cur.end) out.push(x);
    else cur = { offset: Math.min(x.offset, cur.offset), end: Math.max(x.end, cur.end) };
  }
  out.push(cur);
  return out.sort((a, b) => a.offset - b.offset);
}

/** `ranges` minus `cut`. */
function subtract(ranges: readonly Range[], cut: Range): Range[] {
  return ranges.flatMap((x) => {
    if (x.end <= cut.offset || x.offset >= cut.end) return [x];
    const parts: Range[] = [];
    if (x.offset < cut.offset) parts.push({ offset: x.offset, end: cut.offset });
    if (x.end > cut.end) parts.push({ offset: cut.end, end: x.end });
    return parts;
  });
}
