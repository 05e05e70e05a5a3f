import { RecvBuffer } from './recv-buffer.js';

/**
 * Receive-part states of RFC 9000 §3.2. "Reset Read" is folded into
 * `reset_recvd`: the application learns of the reset from an event, at once.
 */
export type RecvState = 'recv' | 'size_known' | 'data_recvd' | 'data_read' | 'reset_recvd';

/** A STOP_SENDING we owe the peer (§3.5). */
export interface LocalStop {
  readonly errorCode: number;
  state: 'pending' | 'sent' | 'acked';
}

/**
 * The receiving part of a stream: reassembly, the final size, and the
 * MAX_STREAM_DATA limit we advertised. Checks against the peer's frames live
 * in the manager, which also owns connection-level accounting.
 */
export class RecvStream {
  readonly buffer: RecvBuffer;
  state: RecvState = 'recv';
  /** Largest offset received (§4.5): this stream's share of connection credit used. */
  highest = 0;
  finalSize: number | undefined;
  /** The limit we advertised (initial_max_stream_data_* or our latest MAX_STREAM_DATA). */
  maxData: number;
  /** Set once the application asked the peer to stop (§3.5); incoming data is then dropped. */
  stop: LocalStop | undefined;
  /** Offset up to which connection credit was handed back (read or discarded). */
  consumed = 0;
  /** When we last sent a MAX_STREAM_DATA: auto-tuning compares the interval with the RTT. */
  lastUpdate: number | undefined;

  /** @param window the credit kept ahead of the read offset; auto-tuning may raise it (see StreamManager). */
  constructor(public window: number) {
    this.maxData = window;
    this.buffer = new RecvBuffer(window);
  }

  /** "Data Read", "Reset Recvd", or stopped (and STOP_SENDING sent) with the final size known: nothing more to deliver. */
  get done(): boolean {
    if (this.state === 'data_read' || this.state === 'reset_recvd') return true;
    return this.stop !== undefined && this.stop.state !== 'pending' && this.finalSize !== undefined;
  }

  /** Whether the data is thrown away as it arrives (reset or stopped). */
  get discarding(): boolean {
    return this.state === 'reset_recvd' || this.stop !== undefined;
  }

  /** Every byte up to the final size is in the buffer. */
  get complete(): boolean {
    return this.finalSize !== undefined && this.buffer.readOffset + this.buffer.available === this.finalSize;
  }

  /** Whether a larger MAX_STREAM_DATA is worth sending: size unknown and half the window consumed. */
  get wantsUpdate(): boolean {
    return this.state === 'recv' && !this.stop && this.buffer.readOffset + this.window - this.maxData >= this.window / 2
      && this.buffer.readOffset + this.window > this.maxData;
  }

  /** The limit to advertise now. */
  nextMaxData(): number {
    return Math.max(this.maxData, this.buffer.readOffset + this.window);
  }
}
