/** base64url without padding (RFC 7515 §2), the encoding of JWK members (RFC 7518 §6). */
import { ConfigError } from '../../errors.js';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const VALUE = new Map<string, number>([...ALPHABET].map((c, i) => [c, i]));

export function base64url(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += 3) {
    const n = ((b[i] as number) << 16) | ((b[i + 1] ?? 0) << 8) | (b[i + 2] ?? 0);
    s += (ALPHABET[(n >> 18) & 63] as string) + (ALPHABET[(n >> 12) & 63] as string);
    if (i + 1 < b.length) s += ALPHABET[(n >> 6) & 63] as string;
    if (i + 2 < b.length) s += ALPHABET[n & 63] as string;
  }
  return s;
}

/** Decodes a JWK member of exactly `length` bytes; anything else is the runtime misbehaving. */
export function fromBase64url(s: string | undefined, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let bits = 0;
  let acc = 0;
  let o = 0;
  for (const c of s ?? '') {
    const v = VALUE.get(c);
    if (v === undefined) throw new ConfigError('WebCrypto exported a JWK member that is not base64url');
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (o >= length) throw new ConfigError(`WebCrypto exported a JWK member longer than ${length} bytes`);
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  if (o !== length) throw new ConfigError(`WebCrypto exported a JWK member of ${o} bytes, expected ${length}`);
  return out;
}
