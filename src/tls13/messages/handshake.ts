import { DecodeError } from '../../errors.js';
import { Writer } from '../../codec/writer.js';

/** A complete handshake message: its type, its body, and the exact bytes (header included) for the transcript. */
export interface HandshakeMessage {
  readonly type: number;
  readonly body: Uint8Array;
  readonly raw: Uint8Array;
}

/** Frames a handshake body as `Handshake` (RFC 8446 §4): type, uint24 length, body. */
export function frameHandshake(type: number, body: Uint8Array): Uint8Array {
  return new Writer(body.length + 4).u8(type).u24(body.length).bytes(body).finish();
}

/** What a message's buffer starts at: most handshake messages fit, and a peer's announced length buys no more. */
const INITIAL_CAPACITY = 4096;

/**
 * Reassembles handshake messages from a byte stream of one encryption level
 * (records or QUIC CRYPTO frames). A message may span records and a record may
 * hold several messages (RFC 8446 §5.1). A declared length above `maxMessageSize`
 * is refused before anything is buffered for it.
 *
 * Once a message's 4-byte header is in, its bytes go into one buffer that
 * doubles as they arrive (never beyond the announced size), so a message sent
 * a byte per record costs linear copying, not a copy of everything so far per
 * record, and an announced size costs no memory until its bytes are sent.
 */
export class HandshakeReassembler {
  private readonly header = new Uint8Array(4);
  private headerFilled = 0;
  /**
   * The message being filled (header included), once its header is complete:
   * its full length, and a buffer that grows by doubling toward it, so that
   * a header announcing 256 KiB costs memory only as its bytes arrive while
   * each byte is still copied a bounded number of times.
   */
  private current: { readonly length: number; buf: Uint8Array } | undefined;
  private filled = 0;
  private readonly ready: HandshakeMessage[] = [];
  /** An oversized header seen after complete messages: raised once they have been taken. */
  private failure: DecodeError | undefined;

  constructor(private readonly maxMessageSize: number) {}

  /** Bytes held for the message being reassembled (for tests of the memory a partial message costs). */
  get allocated(): number {
    return this.current?.buf.length ?? 0;
  }

  /** True while any received bytes are not yet returned by {@link next} (a key change must not happen then, §5.1). */
  get hasPartial(): boolean {
    return this.ready.length > 0 || this.headerFilled > 0 || this.current !== undefined;
  }

  push(data: Uint8Array): void {
    if (this.failure) {
      if (this.ready.length === 0) throw this.failure;
      return;
    }
    let o = 0;
    while (o < data.length) {
      if (!this.current) {
        const take = Math.min(4 - this.headerFilled, data.length - o);
        this.header.set(data.subarray(o, o + take), this.headerFilled);
        this.headerFilled += take;
        o += take;
        if (this.headerFilled < 4) break;
        const len = ((this.header[1] as number) << 16) | ((this.header[2] as number) << 8) | (this.header[3] as number);
        if (len > this.maxMessageSize) {
          this.failure = new DecodeError(`handshake message of ${len} bytes exceeds limit ${this.maxMessageSize}`);
          if (this.ready.length === 0) throw this.failure;
          return;
        }
        this.current = { length: 4 + len, buf: new Uint8Array(Math.min(4 + len, INITIAL_CAPACITY)) };
        this.current.buf.set(this.header);
        this.filled = 4;
        this.headerFilled = 0;
      }
      const cur = this.current;
      const take = Math.min(cur.length - this.filled, data.length - o);
      if (this.filled + take > cur.buf.length) {
        const grown = new Uint8Array(Math.min(cur.length, Math.max(this.filled + take, 2 * cur.buf.length)));
        grown.set(cur.buf.subarray(0, this.filled));
        cur.buf = grown;
      }
      cur.buf.set(data.subarray(o, o + take), this.filled);
      this.filled += take;
      o += take;
      if (this.filled === cur.length) {
        const raw = cur.buf;
        this.ready.push({ type: raw[0] as number, body: raw.subarray(4), raw });
        this.current = undefined;
      }
    }
  }

  /** The next complete message, or undefined if more bytes are needed. */
  next(): HandshakeMessage | undefined {
    const m = this.ready.shift();
    if (m) return m;
    if (this.failure) throw this.failure;
    return undefined;
  }
}
