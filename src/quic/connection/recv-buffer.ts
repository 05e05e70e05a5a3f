import { RangeSet } from './range-set.js';

/** Result of {@link RecvBuffer.insert}. */
export type InsertResult = 'ok' | 'conflict' | 'fragmented';

/**
 * Disjoint runs of bytes held at once, unless the caller says otherwise. Each
 * insertion costs up to a copy of the run list, so this bounds the work per
 * frame; a sender that loses packets leaves one gap per lost packet, and a
 * 256 KiB window spans about 220 full packets, so an honest peer stays well below.
 */
export const DEFAULT_MAX_FRAGMENTS = 1024;

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
 *
 * Data that would leave more than `maxFragments` disjoint runs is refused as
 * `'fragmented'` (and not stored): tiny frames at every other offset would
 * otherwise make each insertion cost time linear in the frames already held.
 *
 * In-order data reaching an empty buffer, the common case of a reader that
 * keeps up, is not copied: the buffer holds the caller's arrays (frames' views
 * of their decrypted packets) while each continues the one before and the
 * packets they keep alive are not much more than the bytes held (see
 * {@link CHUNK_SLACK}), and {@link read} hands out a view of one, or one copy
 * of several. The packets of a batch (a few dozen, all read at its end)
 * then cost one copy, not one per packet into an array that doubles as it
 * fills. Such arrays are never written: anything but an in-order append
 * copies what is held into an array of the buffer's own first.
 */
export class RecvBuffer {
  private buf: Uint8Array = EMPTY;
  /** Index in `buf` of the byte at {@link readOffset}. */
  private start = 0;
  private received = new RangeSet();
  private offset = 0;
  /** `buf` is the caller's array, or views of it were handed out by {@link read}: it must not be written. */
  private shared = false;
  /**
   * In-order bytes held as the caller's arrays, in stream order from the read
   * offset; `buf` is unused while there are any. Then {@link received} is the
   * single range [offset, offset + chunkBytes).
   */
  private chunks: Uint8Array[] = [];
  private chunkBytes = 0;
  /** What the arrays behind {@link chunks} take in memory (an array counted once per chunk in it). */
  private chunkRetained = 0;

  /**
   * @param capacityLimit the most bytes ever held beyond the read offset (the flow-control window).
   * @param maxFragments the most disjoint runs of bytes held at once.
   */
  constructor(private capacityLimit: number, private readonly maxFragments = DEFAULT_MAX_FRAGMENTS) {}

  /** The flow-control window grew (auto-tuning): the buffer may now hold up to `limit` bytes beyond the read offset. */
  raiseCapacityLimit(limit: number): void {
    if (limit > this.capacityLimit) this.capacityLimit = limit;
  }

  /** Stream offset of the next byte {@link read} returns. */
  get readOffset(): number {
    return this.offset;
  }

  /** Bytes readable now, in order, from {@link readOffset}. */
  get available(): number {
    return this.received.contiguousFrom(this.offset) - this.offset;
  }

  /**
   * How many bytes a {@link read} returns as a view, without a copy: the
   * length of the first array held (one frame's data, as it came), or all
   * that is readable when the bytes are in an array of the buffer's own.
   */
  get nextChunkLength(): number {
    return this.chunks[0]?.length ?? this.available;
  }

  /** Bytes held, in order or not. */
  get buffered(): number {
    let n = 0;
    for (const r of this.received.ranges()) n += r.end - r.start;
    return n;
  }

  /** Allocated bytes (for tests of the memory bound). */
  get capacity(): number {
    return this.chunks.length > 0 ? this.chunkBytes : this.buf.length;
  }

  /** Memory this buffer keeps alive: its own array, or the arrays behind the caller's bytes it holds (for tests of the memory bound). */
  get retainedBytes(): number {
    return this.chunks.length > 0 ? this.chunkRetained : this.buf.buffer.byteLength;
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
    // Nothing held: nothing to compare, and one run within any cap above zero. Checked before the gap search,
    // which would only allocate in this, the common case of a reader that keeps up.
    if (this.received.isEmpty && from === this.offset && bytes.length <= this.capacityLimit && this.maxFragments > 0) {
      // In order into an empty buffer: keep the caller's bytes as they are (see the class comment).
      this.buf = EMPTY;
      this.start = 0;
      this.shared = false;
      this.chunks.push(bytes);
      this.chunkBytes = bytes.length;
      this.chunkRetained = bytes.buffer.byteLength;
      this.received.add(from, end);
      return 'ok';
    }
    if (this.chunks.length > 0) {
      // Continuing what is held, within the limits: kept as it came too.
      const retained = this.chunkRetained + bytes.buffer.byteLength;
      if (from === this.offset + this.chunkBytes && end - this.offset <= this.capacityLimit
        && this.chunks.length < MAX_CHUNKS && retained <= 2 * (end - this.offset) + CHUNK_SLACK) {
        this.chunks.push(bytes);
        this.chunkBytes += bytes.length;
        this.chunkRetained = retained;
        this.received.add(from, end);
        return 'ok';
      }
      // Anything else is compared with or placed among what is held: one array of our own, sized for it.
      const span = Math.max(end - this.offset, this.chunkBytes);
      this.flatten(Math.min(Math.max(span, 2 * this.chunkBytes), Math.max(span, this.capacityLimit)));
    }
    // Compare the overlap before changing anything, so a conflict leaves the buffer as it was.
    const gaps = this.received.gaps(from, end);
    let cursor = from;
    for (const g of [...gaps, { start: end, end }]) {
      for (let o = cursor; o < g.start; o++) {
        if (this.buf[this.start + o - this.offset] !== bytes[o - from]) return 'conflict';
      }
      cursor = g.end;
    }
    if (gaps.length === 0) return 'ok';
    // A new run adds one to the count only if it touches nothing held.
    if (this.received.size >= this.maxFragments && this.isolated(from, end)) return 'fragmented';
    this.ensure(end - this.offset);
    for (const g of gaps) this.buf.set(bytes.subarray(g.start - from, g.end - from), this.start + g.start - this.offset);
    this.received.add(from, end);
    return 'ok';
  }

  /** Up to `max` in-order bytes from {@link readOffset}, without taking them: a view valid until the next change. */
  peek(max: number): Uint8Array {
    const n = Math.max(0, Math.min(this.available, max));
    const first = this.chunks[0];
    if (first !== undefined) {
      if (first.length >= n) return first.subarray(0, n);
      this.flatten(this.chunkBytes);
    }
    return this.buf.subarray(this.start, this.start + n);
  }

  /**
   * Takes up to `max` in-order bytes: a view that this buffer never writes
   * again, which the caller may keep (it may share its array with the data
   * given to {@link insert}).
   */
  read(max: number): Uint8Array {
    const n = Math.max(0, Math.min(this.available, max));
    if (n === 0) return EMPTY;
    if (this.chunks.length > 0) return this.readChunks(n);
    const out = this.buf.subarray(this.start, this.start + n);
    this.start += n;
    this.offset += n;
    this.received.remove(0, this.offset);
    if (this.received.isEmpty) this.release();
    else this.shared = true; // `out` lies in `buf`, which compaction would overwrite
    return out;
  }

  /** Drops everything held and moves the read offset to `offset` (a reset or STOP_SENDING discards the stream). */
  discard(offset: number): void {
    this.release();
    this.received.clear();
    this.offset = Math.max(this.offset, offset);
  }

  /** {@link read} of `n` held bytes, `n` > 0, from the caller's arrays: a view of the first if it has them all, else one copy. */
  private readChunks(n: number): Uint8Array {
    const first = this.chunks[0] as Uint8Array;
    let out: Uint8Array;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) {
        this.chunks.shift();
        this.chunkRetained -= first.buffer.byteLength;
      } else this.chunks[0] = first.subarray(n);
    } else {
      out = new Uint8Array(n);
      let o = 0;
      let used = 0;
      for (; o < n; used++) {
        const c = this.chunks[used] as Uint8Array;
        const k = Math.min(c.length, n - o);
        out.set(k === c.length ? c : c.subarray(0, k), o);
        o += k;
        if (k < c.length) {
          this.chunks[used] = c.subarray(k);
          break;
        }
        this.chunkRetained -= c.buffer.byteLength;
      }
      this.chunks.splice(0, used);
    }
    this.chunkBytes -= n;
    this.offset += n;
    this.received.remove(0, this.offset);
    if (this.received.isEmpty) this.release();
    return out;
  }

  /** Copies the caller's arrays held into an array of our own of `size` (≥ what they hold) bytes. */
  private flatten(size: number): void {
    const next = new Uint8Array(size);
    let o = 0;
    for (const c of this.chunks) {
      next.set(c, o);
      o += c.length;
    }
    this.chunks = [];
    this.chunkBytes = 0;
    this.chunkRetained = 0;
    this.buf = next;
    this.start = 0;
    this.shared = false;
  }

  private release(): void {
    this.buf = EMPTY;
    this.start = 0;
    this.shared = false;
    if (this.chunks.length > 0) this.chunks = [];
    this.chunkBytes = 0;
    this.chunkRetained = 0;
  }

  /** True if [from, end) neither overlaps nor touches anything held: storing it would add a run. */
  private isolated(from: number, end: number): boolean {
    const around = this.received.gaps(from - 1, end + 1);
    const only = around[0];
    return around.length === 1 && only !== undefined && only.start === from - 1 && only.end === end + 1;
  }

  /**
   * Makes room for `span` bytes from the read offset: compact first, grow only
   * if needed. A shared array is left alone: what it holds moves to a new one.
   */
  private ensure(span: number): void {
    if (this.shared) {
      // Everything from `start` may be held (bytes past a gap included): the new array never holds less.
      const held = this.buf.length - this.start;
      const next = new Uint8Array(Math.max(span, held, Math.min(2 * held, this.capacityLimit)));
      next.set(this.buf.subarray(this.start));
      this.buf = next;
      this.start = 0;
      this.shared = false;
      return;
    }
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

const EMPTY = new Uint8Array(0);

/**
 * Each array held uncopied keeps its whole packet alive: a peer sending
 * one-byte frames would make a window of bytes hold a window of packets. So
 * arrays are held only while they take at most twice the bytes held plus
 * this much, and at most {@link MAX_CHUNKS} of them (each read walks them);
 * past either, what is held is copied into one array of the buffer's own.
 */
const CHUNK_SLACK = 64 * 1024;
const MAX_CHUNKS = 128;
