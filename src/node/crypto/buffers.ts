/**
 * Conversions between node:crypto's Buffers and the plain Uint8Arrays the
 * CryptoProvider contract hands out.
 */

/**
 * A Buffer as a plain Uint8Array. Small Buffers are slices of a shared 8 KiB
 * pool; handing one out as-is would expose the neighbouring bytes through
 * `.buffer`, so those are copied. A Buffer that owns its whole ArrayBuffer is
 * wrapped without copying.
 */
export function plain(buf: Uint8Array): Uint8Array {
  if (buf.byteOffset === 0 && buf.byteLength === buf.buffer.byteLength) return new Uint8Array(buf.buffer, 0, buf.byteLength);
  return new Uint8Array(buf);
}

/** base64url without padding, as JWK members are written (RFC 7518 §2). */
export function base64url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}
