import { DecodeError } from '../../errors.js';
import type { HandshakeMessage } from '../../tls13/messages/handshake.js';
import { QuicTransportError, TransportErrorCode } from '../errors.js';
import { FrameType } from '../frames/types.js';
import { RecvBuffer } from './recv-buffer.js';

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
      // A view, not a copy: a peer acknowledging our flight one frame at a time would otherwise make
      // each ACK copy the rest of it (quadratic). The next append copies only what is still unacked.
      this.data = this.data.subarray(first.end - this.base);
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
 * Disjoint runs of CRYPTO data held per space. A handshake flight of the
 * largest size accepted (256 KiB) spans about 220 full packets, so even every
 * other packet lost leaves far fewer gaps; tiny frames at every other offset
 * are an attack and are refused before the run list makes each frame dear.
 */
export const MAX_CRYPTO_FRAGMENTS = 256;

/**
 * The incoming CRYPTO stream of one space: frames may arrive out of order and
 * overlap; complete handshake messages leave in order.
 *
 * The bytes are held in a {@link RecvBuffer}: each frame costs a binary search
 * over at most `maxFragments` runs plus its own bytes, and a message is copied
 * out once, when its last byte arrives, so feeding a message one byte per frame
 * is linear, not quadratic. Refused with CRYPTO_BUFFER_EXCEEDED (RFC 9000 §7.5):
 * data more than `limit` bytes beyond the next message's start; data reaching
 * more than `maxOutOfOrder` bytes past the in-order data (the buffer spans up
 * to the highest byte held, so this bounds memory by what arrived plus that
 * reach); data that would leave more than `maxFragments` disjoint runs. Data
 * that differs from bytes already held is a PROTOCOL_VIOLATION (as §2.2 allows
 * for streams).
 */
export class CryptoRecvStream {
  private readonly buffer: RecvBuffer;

  /**
   * @param limit bytes held beyond the start of the next undelivered message.
   * @param maxMessageSize largest handshake message accepted (its declared length is checked first).
   * @param maxOutOfOrder how far past the contiguous data a frame may reach (§7.5: at least 4096).
   */
  constructor(
    private readonly limit: number,
    private readonly maxMessageSize = limit - 4,
    private readonly maxOutOfOrder = limit,
    maxFragments = MAX_CRYPTO_FRAGMENTS,
  ) {
    this.buffer = new RecvBuffer(limit, maxFragments);
  }

  /** Disjoint runs of bytes held. */
  get fragments(): number {
    return this.buffer.fragments;
  }

  /** Bytes allocated (for tests of the memory bound). */
  get capacity(): number {
    return this.buffer.capacity;
  }

  /** Takes a CRYPTO frame; complete messages are then read with {@link nextMessage}. */
  push(offset: number, data: Uint8Array): void {
    const end = offset + data.length;
    if (end > this.buffer.readOffset + this.limit) {
      throw new QuicTransportError(TransportErrorCode.CRYPTO_BUFFER_EXCEEDED, `CRYPTO data up to ${end} exceeds the ${this.limit}-byte buffer`, { frameType: FrameType.CRYPTO });
    }
    const contiguous = this.buffer.readOffset + this.buffer.available;
    if (end > contiguous + this.maxOutOfOrder) {
      throw new QuicTransportError(TransportErrorCode.CRYPTO_BUFFER_EXCEEDED,
        `CRYPTO data up to ${end} is more than ${this.maxOutOfOrder} bytes past the ${contiguous} received in order`, { frameType: FrameType.CRYPTO });
    }
    const r = this.buffer.insert(offset, data);
    if (r === 'conflict') {
      throw new QuicTransportError(TransportErrorCode.PROTOCOL_VIOLATION, `CRYPTO data at offset ${offset} differs from data received before`, { frameType: FrameType.CRYPTO });
    }
    if (r === 'fragmented') {
      throw new QuicTransportError(TransportErrorCode.CRYPTO_BUFFER_EXCEEDED, 'too many disjoint pieces of CRYPTO data outstanding', { frameType: FrameType.CRYPTO });
    }
  }

  /** The next complete handshake message, or undefined until more bytes arrive. */
  nextMessage(): HandshakeMessage | undefined {
    const header = this.buffer.peek(4);
    if (header.length < 4) return undefined;
    const len = ((header[1] as number) << 16) | ((header[2] as number) << 8) | (header[3] as number);
    if (len > this.maxMessageSize) throw new DecodeError(`handshake message of ${len} bytes exceeds limit ${this.maxMessageSize}`);
    if (this.buffer.available < 4 + len) return undefined;
    const raw = this.buffer.read(4 + len);
    return { type: raw[0] as number, body: raw.subarray(4), raw };
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
