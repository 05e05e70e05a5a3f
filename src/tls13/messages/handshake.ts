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

/**
 * Reassembles handshake messages from a byte stream of one encryption level
 * (records or QUIC CRYPTO frames). A message may span records and a record may
 * hold several messages (RFC 8446 §5.1). A declared length above `maxMessageSize`
 * is refused before anything is buffered for it.
 */
export class HandshakeReassembler {
  private buf: Uint8Array = new Uint8Array(0);

  constructor(private readonly maxMessageSize: number) {}

  /** True while a partial message is buffered (a key change must not happen then, §5.1). */
  get hasPartial(): boolean {
    return this.buf.length > 0;
  }

  push(data: Uint8Array): void {
    if (data.length === 0) return;
    const next = new Uint8Array(this.buf.length + data.length);
    next.set(this.buf);
    next.set(data, this.buf.length);
    this.buf = next;
    if (this.buf.length >= 4) this.checkLength();
  }

  private checkLength(): void {
    const len = ((this.buf[1] as number) << 16) | ((this.buf[2] as number) << 8) | (this.buf[3] as number);
    if (len > this.maxMessageSize) throw new DecodeError(`handshake message of ${len} bytes exceeds limit ${this.maxMessageSize}`);
  }

  /** The next complete message, or undefined if more bytes are needed. */
  next(): HandshakeMessage | undefined {
    if (this.buf.length < 4) return undefined;
    this.checkLength();
    const len = ((this.buf[1] as number) << 16) | ((this.buf[2] as number) << 8) | (this.buf[3] as number);
    if (this.buf.length < 4 + len) return undefined;
    const raw = this.buf.slice(0, 4 + len);
    this.buf = this.buf.subarray(4 + len);
    if (this.buf.length === 0) this.buf = new Uint8Array(0);
    return { type: raw[0] as number, body: raw.subarray(4), raw };
  }
}
