import { RangeSet } from './range-set.js';
import { SendBuffer } from './send-buffer.js';

/** A chunk of stream data to put in a STREAM frame. */
export interface StreamChunk {
  readonly offset: number;
  readonly data: Uint8Array;
  readonly fin: boolean;
}

/** Where the FIN bit stands: not written, written but unsent, in flight, lost, acknowledged. */
type FinState = 'none' | 'queued' | 'sent' | 'lost' | 'acked';

/** A RESET_STREAM we owe the peer (RFC 9000 §3.1 "Reset Sent"). */
export interface LocalReset {
  readonly errorCode: number;
  readonly finalSize: number;
  /** pending: to be sent (again); sent: in flight; acked: "Reset Recvd", the send part is over. */
  state: 'pending' | 'sent' | 'acked';
}

/**
 * The sending part of a stream (RFC 9000 §3.1): buffered data, what was sent,
 * acknowledged and lost, the FIN, and the peer's MAX_STREAM_DATA credit.
 * Connection-level credit is the manager's business.
 */
export class SendStream {
  private readonly buffer = new SendBuffer();
  private readonly acked = new RangeSet();
  private readonly lost = new RangeSet();
  private fin: FinState = 'none';
  /** Next offset never sent: the stream's share of connection credit used so far. */
  sent = 0;
  /** The peer's limit for this stream (initial_max_stream_data_* or MAX_STREAM_DATA). */
  maxData: number;
  /** Limit at which STREAM_DATA_BLOCKED was last queued, so it is sent once per limit. */
  blockedAt = -1;
  reset: LocalReset | undefined;
  /** Set when the peer's STOP_SENDING made us reset (§3.5). */
  stoppedBy: number | undefined;

  constructor(maxData: number) {
    this.maxData = maxData;
  }

  /** Offset one past the last byte written. */
  get written(): number {
    return this.buffer.end;
  }

  /** Bytes written and not yet acknowledged. */
  get buffered(): number {
    return this.buffer.length;
  }

  get finWritten(): boolean {
    return this.fin !== 'none';
  }

  /** "Data Recvd" or "Reset Recvd" (§3.1): nothing more will be sent. */
  get done(): boolean {
    if (this.reset) return this.reset.state === 'acked';
    return this.fin === 'acked' && this.acked.contiguousFrom(0) >= this.written;
  }

  /** Whether the application may still write (not finished, not reset). */
  get writable(): boolean {
    return this.fin === 'none' && !this.reset;
  }

  write(data: Uint8Array, fin: boolean, copy = true): void {
    this.buffer.push(data, copy);
    if (fin) this.fin = 'queued';
  }

  /** Bytes written but never sent. */
  get unsent(): number {
    return this.reset ? 0 : this.written - this.sent;
  }

  /** Lost data or a lost FIN waits to be sent again. */
  get hasLost(): boolean {
    return !this.reset && (!this.lost.isEmpty || this.fin === 'lost');
  }

  /** A FIN with no data left to send can go without credit. */
  get finOnlyReady(): boolean {
    return !this.reset && this.fin === 'queued' && this.sent === this.written;
  }

  /** Offset of the next retransmission, if any. */
  nextLostOffset(): number | undefined {
    if (this.reset) return undefined;
    const r = this.lost.first();
    if (r) return r.start;
    return this.fin === 'lost' ? this.written : undefined;
  }

  /** Takes up to `max` bytes of lost data for retransmission (§13.3), lowest offset first. */
  takeLost(max: number): StreamChunk | undefined {
    const r = this.lost.first();
    if (!r) {
      if (this.fin !== 'lost') return undefined;
      this.fin = 'sent';
      return { offset: this.written, data: new Uint8Array(0), fin: true };
    }
    if (max <= 0) return undefined;
    const end = Math.min(r.end, r.start + max);
    this.lost.remove(r.start, end);
    const fin = this.fin === 'lost' && end === this.written;
    if (fin) this.fin = 'sent';
    return { offset: r.start, data: this.buffer.slice(r.start, end), fin };
  }

  /** Takes up to `max` never-sent bytes; the caller has bounded `max` by flow-control credit. */
  takeNew(max: number): StreamChunk | undefined {
    const n = Math.max(0, Math.min(this.unsent, max));
    if (n === 0 && !this.finOnlyReady) return undefined;
    const offset = this.sent;
    this.sent += n;
    const fin = this.fin === 'queued' && this.sent === this.written;
    if (fin) this.fin = 'sent';
    return { offset, data: this.buffer.slice(offset, offset + n), fin };
  }

  onAcked(offset: number, length: number, fin: boolean): void {
    if (this.reset) return;
    this.acked.add(offset, offset + length);
    // Asked first: this runs for every acknowledged STREAM frame, and nothing is lost almost always.
    if (!this.lost.isEmpty) this.lost.remove(offset, offset + length);
    if (fin) this.fin = 'acked';
    this.buffer.release(this.acked.contiguousFrom(0));
  }

  /** Queues what is lost and not acknowledged since (§13.3); nothing once reset. */
  onLost(offset: number, length: number, fin: boolean): boolean {
    if (this.reset) return false;
    for (const g of this.acked.gaps(offset, offset + length)) this.lost.add(g.start, g.end);
    if (fin && this.fin !== 'acked') this.fin = 'lost';
    return this.hasLost;
  }

  /** Abandons the stream (§3.1 "Reset Sent"): the final size is what was sent. False if already over. */
  abandon(errorCode: number): boolean {
    if (this.reset || this.done) return false;
    this.reset = { errorCode, finalSize: this.sent, state: 'pending' };
    this.buffer.clear();
    this.lost.clear();
    return true;
  }
}
