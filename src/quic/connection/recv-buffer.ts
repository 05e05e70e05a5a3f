import { RangeSet } from './range-set.js';

/** Result of {@link RecvBuffer.insert}. */
export type InsertResult = 'ok' | 'conflict';

/**
 * Reassembly of one stream's incoming bytes (RFC 9000 §2.2): frames may
 * arrive out of order, duplicated or overlapping; bytes leave in order.
 *
 * The bytes live in one array indexed by stream offset minus the read
 * offset, and a {@link RangeSet} records which offsets arrived, so data that
 * overlaps what is already held is never stored twice and memory is bounded by
 * the span between the read offset and the highest byte received, which the
 * stream's flow-control window bounds (the array grows by doubling, capped at
 * `capacityLimit`, and is freed whenever the buffer drains).
 *
 * Overlapping data must repeat the bytes already held (§2.2 lets a receiver
 * treat a change as PROTOCOL_VIOLATION); {@link insert} reports a mismatch as
 * `'conflict'`. Bytes already read are gone and cannot be compared.
 */
export class RecvBuffer {
  private buf = new Uint8Array(0);
  /** Index in `buf` of the byte at {@link readOffset}. */
  private start = 0;
  private received = new RangeSet();
  private offset = 0;

  /** @param capacityLimit the most bytes ever held beyond the read offset (the flow-control window). */
  constructor(private readonly capacityLimit: number) {}

  /** Stream offset of the next byte {@link read} returns. */
  get readOffset(): number {
    return this.offset;
  }

  /** Bytes readable now, in order, from {@link readOffset}. */
  get available(): number {
    return this.received.contiguousFrom(this.offset) - this.offset;
  }

  /** Bytes held, in order or not. */
  get buffered(): number {
    let n = 0;
    for (const r of this.received.ranges()) n += r.end - r.start;
    return n;
  }

  /** Allocated bytes (for tests of the memory bound). */
  get capacity(): number {
    return this.buf.length;
  }

  /** Number of disjoint runs of held bytes. */
  get fragments(): number {
    return this.received.size;
  }

  /** Stores `data` received at stream `offset`. The caller has checked flow control. */
  insert(offset: number, data: Uint8Array): InsertResult {
    let from = offset;
    let bytes = data;
    if (from < this.offset) {
      bytes = bytes.subarray(Math.min(bytes.length, this.offset - from));
      from = this.offset;
    }
    const end = from + bytes.length;
    if (bytes.length === 0) return 'ok';
    // Compare the overlap before changing anything, so a conflict leaves the buffer as it was.
    const gaps = this.received.gaps(from, end);
    let cursor = from;
    for (const g of [...gaps, { start: end, end }]) {
      for (let o = cursor; o < g.start; o++) {
        if (this.buf[this.start + o - this.offset] !== bytes[o - from]) return 'conflict';
      }
      cursor = g.end;
    }
    this.ensure(end - this.offset);
    for (const g of gaps) this.buf.set(bytes.subarray(g.start - from, g.end - from), this.start + g.start - this.offset);
    this.received.add(from, end);
    return 'ok';
  }

  /** Takes up to `max` in-order bytes (a copy). */
  read(max: number): Uint8Array {
    const n = Math.max(0, Math.min(this.available, max));
    const out = this.buf.slice(this.start, this.start + n);
    this.start += n;
    this.offset += n;
    this.received.remove(0, this.offset);
    if (this.received.isEmpty) {
      this.buf = new Uint8Array(0);
      this.start = 0;
    }
    return out;
  }

  /** Drops everything held and moves the read offset to `offset` (a reset or STOP_SENDING discards the stream). */
  discard(offset: number): void {
    this.buf = new Uint8Array(0);
    this.start = 0;
    this.received.clear();
    this.offset = Math.max(this.offset, offset);
  }

  /** Makes room for `span` bytes from the read offset: compact first, grow only if needed. */
  private ensure(span: number): void {
    if (this.start + span <= this.buf.length) return;
    if (span <= this.buf.length) {
      this.buf.copyWithin(0, this.start);
      this.start = 0;
      return;
    }
    const size = Math.min(Math.max(span, this.buf.length * 2), Math.max(span, this.capacityLimit));
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(this.start, Math.min(this.buf.length, this.start + size)));
    this.buf = next;
    this.start = 0;
  }
}
