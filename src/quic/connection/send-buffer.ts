const EMPTY = new Uint8Array(0);

/**
 * The bytes an application wrote to one stream and the peer has not yet
 * acknowledged (RFC 9000 §2.2, §13.3: data is kept until acknowledged so a
 * lost frame can be rebuilt from it). Writes are copied once into chunks (or
 * kept as they are, when their writer gives them up); frames are sliced from them; chunks are dropped as the acknowledged prefix
 * grows past them.
 */
export class SendBuffer {
  private chunks: Uint8Array[] = [];
  /** Stream offset of each chunk, parallel to `chunks`. */
  private offsets: number[] = [];
  /** Index of the first live chunk (chunks before it were released). */
  private head = 0;
  private endOffset = 0;

  /** Stream offset one past the last byte written. */
  get end(): number {
    return this.endOffset;
  }

  /** Stream offset of the first byte still held. */
  get base(): number {
    return this.head < this.offsets.length ? (this.offsets[this.head] as number) : this.endOffset;
  }

  /** Bytes held (written and not released). */
  get length(): number {
    return this.endOffset - this.base;
  }

  /**
   * Appends `data`: a copy of it, or with `copy` false the array itself, which
   * its writer has promised never to change again (a zero-copy write).
   */
  push(data: Uint8Array, copy = true): void {
    if (data.length === 0) return;
    this.chunks.push(copy ? data.slice() : data);
    this.offsets.push(this.endOffset);
    this.endOffset += data.length;
  }

  /** The bytes at stream offsets [from, to), which must still be held. */
  slice(from: number, to: number): Uint8Array {
    if (to <= from) return new Uint8Array(0);
    let i = this.find(from);
    const first = this.chunks[i] as Uint8Array;
    const firstOffset = this.offsets[i] as number;
    if (to <= firstOffset + first.length) return first.subarray(from - firstOffset, to - firstOffset);
    const out = new Uint8Array(to - from);
    let pos = 0;
    let at = from;
    while (at < to) {
      const c = this.chunks[i] as Uint8Array;
      const o = this.offsets[i] as number;
      const piece = c.subarray(at - o, Math.min(c.length, to - o));
      out.set(piece, pos);
      pos += piece.length;
      at += piece.length;
      i++;
    }
    return out;
  }

  /** Releases every chunk that lies wholly below `offset`. */
  release(offset: number): void {
    while (this.head < this.chunks.length) {
      const end = (this.offsets[this.head] as number) + (this.chunks[this.head] as Uint8Array).length;
      if (end > offset) break;
      this.chunks[this.head] = EMPTY;
      this.head++;
    }
    // Compact now and then so the arrays do not keep released slots forever.
    if (this.head > 32 && this.head * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.offsets = this.offsets.slice(this.head);
      this.head = 0;
    }
  }

  /** Drops everything (the stream was reset). */
  clear(): void {
    this.chunks = [];
    this.offsets = [];
    this.head = 0;
  }

  /** Index of the chunk holding stream offset `offset`. */
  private find(offset: number): number {
    let lo = this.head;
    let hi = this.chunks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if ((this.offsets[mid] as number) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}
