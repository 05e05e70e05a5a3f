import { ConfigError } from '../errors.js';
import { MAX_PLAINTEXT } from './content-type.js';

/**
 * Chooses how many zero bytes of padding a protected record gets (RFC 8446
 * §5.4), from its content type and content length. The record protector caps
 * the result so the TLSInnerPlaintext never exceeds 2^14 + 1 bytes, so a
 * policy may ask for more than fits near the maximum.
 */
export type PaddingPolicy = (contentType: number, contentLength: number) => number;

/** No padding: the default, and what RFC 8448 traces use. */
export const noPadding: PaddingPolicy = () => 0;

/**
 * Pads each TLSInnerPlaintext (content, type byte, padding) up to a multiple of
 * `blockSize` bytes, hiding lengths at that granularity (§5.4, §E.3).
 */
export function padToBlockSize(blockSize: number): PaddingPolicy {
  if (!Number.isInteger(blockSize) || blockSize < 1 || blockSize > MAX_PLAINTEXT + 1) {
    throw new ConfigError(`padding block size must be an integer in [1, ${MAX_PLAINTEXT + 1}], got ${blockSize}`);
  }
  return (_type, contentLength) => {
    const inner = contentLength + 1;
    return (blockSize - (inner % blockSize)) % blockSize;
  };
}

/** Pads every record to the full 2^14 + 1 byte inner plaintext: the strongest, and costliest, length hiding. */
export const padToMaximum: PaddingPolicy = (_type, contentLength) => MAX_PLAINTEXT - contentLength;

/** The largest padding that keeps a record with `contentLength` bytes of content within 2^14 + 1 inner bytes. */
export function maxPaddingFor(contentLength: number): number {
  return Math.max(0, MAX_PLAINTEXT - contentLength);
}
