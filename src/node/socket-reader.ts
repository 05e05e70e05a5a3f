import type { OnReadOpts } from 'node:net';
import { lendBuffer, releaseBuffer } from '../buffer-pool.js';

/** Bytes one read may bring: what Node's own reads take. */
export const READ_BUFFER_BYTES = 64 * 1024;

/**
 * One buffer that a socket `connect()` (./index.ts) opens reads into, through
 * `net.connect`'s `onread`, in place of the 'data' events of a plain socket.
 *
 * Why: for each 'data' event Node reads into a buffer of its own, allocated
 * for that read (64 KiB, cut down to what was read) and freed only when a
 * garbage collection finds it unused. Memory that fresh is often new to the
 * process, and a page touched the first time costs a page fault: ~14 µs each
 * on this project's VM, 3.5 ms per MiB. Here every read lands in the same
 * warm buffer and the connection opens its records out of it, so the
 * application's data is the only fresh memory written. node:tls reads the
 * same way, into buffers it reuses.
 *
 * The buffer is read again only once the socket reads again: while a read is
 * being processed the socket stays paused (see PqTlsSocket), and a read that
 * arrives before anyone listens pauses it until {@link attach}. It comes from
 * the pool of large buffers (../buffer-pool.ts) and goes back there when the
 * connection is done with it: a fresh 64 KiB per connection made a garbage
 * collection every few hundred handshakes.
 *
 * A server's sockets cannot be given `onread` (`net.Server` makes them), so
 * they keep 'data' events; on Bun and Deno, whose `onread` is their own, so
 * does a client.
 */
export class SocketReader {
  private readonly buffer = lendBuffer(READ_BUFFER_BYTES);
  private deliver: ((chunk: Uint8Array) => void) | undefined;
  /** Bytes read before {@link attach}, held in the buffer while the socket is paused. */
  private early = 0;

  /** For `net.connect({ onread })`. Returning false stops the socket's reads until it is resumed. */
  readonly onread: OnReadOpts = {
    buffer: this.buffer,
    callback: (n: number): boolean => {
      const deliver = this.deliver;
      if (deliver) {
        deliver(this.buffer.subarray(0, n));
        return true;
      }
      this.early = n;
      return false;
    },
  };

  /** Whether this runtime's `onread` is Node's (one caller buffer, refilled in place, `false` pausing). */
  static get supported(): boolean {
    const g = globalThis as { Deno?: unknown; Bun?: unknown };
    return g.Deno === undefined && g.Bun === undefined;
  }

  /**
   * From now on each read goes to `deliver`, starting with one that came in
   * before; the caller resumes the socket (it was paused if such a read came).
   */
  attach(deliver: (chunk: Uint8Array) => void): void {
    this.deliver = deliver;
    const early = this.early;
    this.early = 0;
    if (early > 0) deliver(this.buffer.subarray(0, early));
  }

  /**
   * The buffer goes back to the pool. Call it once nothing will read from or
   * write to it again: the socket has closed (Node reads into it no more) and
   * no read of it is still being processed. Later calls do nothing.
   */
  release(): void {
    this.deliver = undefined;
    releaseBuffer(this.buffer);
  }
}
