import { equalBytes } from '../bytes.js';
import { parseCertificate, type Certificate } from './certificate.js';

/** Entries a {@link CertificateCache} keeps unless told otherwise. */
export const CERTIFICATE_CACHE_SIZE = 64;
/** DER bytes a {@link CertificateCache} keeps unless told otherwise (peers choose the sizes). */
export const CERTIFICATE_CACHE_BYTES = 1024 * 1024;

/**
 * Parsed certificates keyed by their full DER, so a client that meets the same
 * server chain on every handshake parses it once. A hit is served only when
 * the whole encoding is byte-for-byte equal (the hash only picks the entry);
 * the cached certificate owns a copy of its DER, so a caller reusing its
 * buffer cannot change what a later hit returns; its objects are frozen. The
 * typed arrays inside cannot be frozen: the cache is for consumers that only
 * read certificates (the chain validator), not for handing them to users.
 * Bounded: beyond `capacity` entries or `maxBytes` of DER the least recently
 * used ones are dropped; a DER larger than `maxBytes` is parsed, not kept. A DER
 * that does not parse is never cached (the error is thrown every time).
 *
 * @internal
 */
export class CertificateCache {
  private readonly entries = new Map<string, Certificate>();
  private byteCount = 0;

  constructor(readonly capacity: number = CERTIFICATE_CACHE_SIZE, readonly maxBytes: number = CERTIFICATE_CACHE_BYTES) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`CertificateCache capacity must be a positive integer, not ${capacity}`);
    if (!Number.isInteger(maxBytes) || maxBytes < 1) throw new RangeError(`CertificateCache maxBytes must be a positive integer, not ${maxBytes}`);
  }

  get size(): number {
    return this.entries.size;
  }

  /** DER bytes held. */
  get bytes(): number {
    return this.byteCount;
  }

  /** Like {@link parseCertificate} on DER, from the cache when this exact DER was parsed before. */
  parse(der: Uint8Array): Certificate {
    const key = cacheKey(der);
    const hit = this.entries.get(key);
    if (hit) {
      if (!equalBytes(hit.der, der)) return parseCertificate(der.slice()); // a hash collision: never served
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit;
    }
    const cert = deepFreeze(parseCertificate(der.slice()));
    if (der.length > this.maxBytes) return cert;
    while (this.entries.size >= this.capacity || this.byteCount + der.length > this.maxBytes) {
      const oldest = this.entries.entries().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value[0]);
      this.byteCount -= oldest.value[1].der.length;
    }
    this.entries.set(key, cert);
    this.byteCount += der.length;
    return cert;
  }
}

/** Length and FNV-1a over every byte: picks the entry; equality is checked on the bytes. */
function cacheKey(der: Uint8Array): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < der.length; i++) h = Math.imul(h ^ (der[i] as number), 0x01000193);
  return `${der.length}:${h >>> 0}`;
}

function deepFreeze<T>(o: T): T {
  if (typeof o !== 'object' || o === null || ArrayBuffer.isView(o) || o instanceof Date || Object.isFrozen(o)) return o;
  for (const v of Object.values(o)) deepFreeze(v);
  return Object.freeze(o);
}
