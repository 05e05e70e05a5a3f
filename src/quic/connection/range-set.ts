/**
 * A set of byte offsets kept as sorted, disjoint, non-adjacent half-open
 * ranges [start, end) in one flat array (start0, end0, start1, end1, …), so a
 * range costs two numbers and lookups are binary searches.
 */
export class RangeSet {
  private r: number[] = [];

  get isEmpty(): boolean {
    return this.r.length === 0;
  }

  /** Number of disjoint ranges. */
  get size(): number {
    return this.r.length / 2;
  }

  /** The lowest range, if any. */
  first(): { start: number; end: number } | undefined {
    if (this.r.length === 0) return undefined;
    return { start: this.r[0] as number, end: this.r[1] as number };
  }

  /** The ranges in ascending order. */
  *ranges(): IterableIterator<{ start: number; end: number }> {
    for (let i = 0; i < this.r.length; i += 2) yield { start: this.r[i] as number, end: this.r[i + 1] as number };
  }

  /** Index (even) of the first range whose end is at or above `offset`. */
  private lowerBound(offset: number): number {
    let lo = 0;
    let hi = this.r.length / 2;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.r[mid * 2 + 1] as number) < offset) lo = mid + 1;
      else hi = mid;
    }
    return lo * 2;
  }

  /** Adds [start, end), merging with overlapping and touching ranges. */
  add(start: number, end: number): void {
    if (end <= start) return;
    const i = this.lowerBound(start);
    let j = i;
    let s = start;
    let e = end;
    while (j < this.r.length && (this.r[j] as number) <= end) {
      s = Math.min(s, this.r[j] as number);
      e = Math.max(e, this.r[j + 1] as number);
      j += 2;
    }
    // The usual cases without a splice (and the array of removed items it returns): data acknowledged in order
    // grows the one range it touches, and a range past all others goes at the end.
    if (j - i === 2) {
      this.r[i] = s;
      this.r[i + 1] = e;
    } else if (j === i && i === this.r.length) {
      this.r.push(s, e);
    } else {
      this.r.splice(i, j - i, s, e);
    }
  }

  /** Removes [start, end). */
  remove(start: number, end: number): void {
    if (end <= start) return;
    let i = this.lowerBound(start);
    // lowerBound finds ranges ending at `start`, which do not overlap: skip them.
    if (i < this.r.length && (this.r[i + 1] as number) === start) i += 2;
    const keep: number[] = [];
    let j = i;
    while (j < this.r.length && (this.r[j] as number) < end) {
      const s = this.r[j] as number;
      const e = this.r[j + 1] as number;
      if (s < start) keep.push(s, start);
      if (e > end) keep.push(end, e);
      j += 2;
    }
    if (j > i) this.r.splice(i, j - i, ...keep);
  }

  /** The parts of [start, end) not in the set, ascending. */
  gaps(start: number, end: number): { start: number; end: number }[] {
    const out: { start: number; end: number }[] = [];
    let cur = start;
    for (let i = this.lowerBound(start); i < this.r.length && cur < end; i += 2) {
      const s = this.r[i] as number;
      const e = this.r[i + 1] as number;
      if (s >= end) break;
      if (s > cur) out.push({ start: cur, end: s });
      cur = Math.max(cur, e);
    }
    if (cur < end) out.push({ start: cur, end });
    return out;
  }

  /** The end of the range containing `offset`, or `offset` itself if none does. */
  contiguousFrom(offset: number): number {
    const i = this.lowerBound(offset);
    if (i < this.r.length && (this.r[i] as number) <= offset) return this.r[i + 1] as number;
    return offset;
  }

  clear(): void {
    this.r = [];
  }
}
