/**
 * Buffers for large outgoing byte strings (QUIC datagrams on a path with a
 * large MTU, TLS records of a bulk write) that a transport may give back once
 * the kernel has the bytes, and for the one buffer a TLS client's socket reads
 * into (src/node/socket-reader.ts), given back when it closes. A fresh typed
 * array of tens of KiB costs about as much as sealing it: a zeroed backing
 * store from the allocator, its pages touched for the first time, and V8
 * counting the external bytes towards its next full collection (15–30 µs for
 * 64 KiB on Node 24, against 2 µs to copy it). A buffer given back is reused as it is, so whoever fills one writes
 * every byte of the view it gets.
 *
 * Giving back is never required, and never makes two holders share memory:
 * only a whole buffer this module lent is taken back, and only once.
 */

/** Outgoing byte strings at least this long are worth lending, and worth the transport's callback that gives them back. */
export const LEND_FROM = 8 * 1024;

/**
 * Buffers given back and not yet reused. Bounded: a transport sends a burst
 * (a congestion window's worth, a bulk write) before the first send
 * completes, and what comes back beyond the bound is left to the collector.
 */
const POOL_LIMIT = 32;
const pool: ArrayBuffer[] = [];
/** Buffers lent and not given back: only these are taken back, each once. */
const lent = new WeakSet<ArrayBuffer>();

/**
 * `n` bytes of a buffer of their own, at its start: a given-back buffer that
 * is large enough, else a new one. Its contents are whatever was left in it.
 */
export function lendBuffer(n: number): Uint8Array {
  let buffer: ArrayBuffer | undefined;
  for (let i = pool.length - 1; i >= 0; i--) {
    const b = pool[i] as ArrayBuffer;
    if (b.byteLength < n) continue;
    pool[i] = pool[pool.length - 1] as ArrayBuffer;
    pool.pop();
    buffer = b;
    break;
  }
  buffer ??= new ArrayBuffer(n);
  lent.add(buffer);
  return new Uint8Array(buffer, 0, n);
}

/**
 * Gives back bytes {@link lendBuffer} lent, once nothing will read them again
 * (the socket has sent them, or failed to): a later large output may be built
 * in the same memory. Anything else (a part of a lent buffer, bytes not lent
 * here, a second release of the same bytes) is ignored.
 */
export function releaseBuffer(data: Uint8Array): void {
  const buffer = data.buffer;
  if (data.byteOffset !== 0 || !(buffer instanceof ArrayBuffer) || !lent.has(buffer)) return;
  lent.delete(buffer);
  if (pool.length < POOL_LIMIT) pool.push(buffer);
}
