/**
 * The parsed-certificate cache behind webPkiVerifier: a hit needs the whole
 * DER to be equal (RFC 5280 §4.1: every byte of the encoding is covered by the
 * signature or is the signature, so a certificate differing anywhere is
 * another certificate), it holds its own copy of the bytes, and it is bounded
 * in entries and in bytes.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { webPkiVerifier } from '../../src/tls13/verifier.js';
import { CertificateCache } from '../../src/x509/certificate-cache.js';
import { CertificateError, parseCertificate } from '../../src/x509/index.js';
import { NOW, makeChain, testProvider, type Chain } from './pki.js';

const provider = testProvider('certificate cache');
let chain: Chain;
let der: Uint8Array;

beforeAll(async () => {
  chain = await makeChain(provider, ['ml-dsa-65', 'ml-dsa-65']);
  der = chain.leaf.certificate.der;
});

/** The same certificate with the last byte of its signature changed: same length, same prefix, still parses. */
function variant(n: number): Uint8Array {
  const v = der.slice();
  v[v.length - 1] = (der[der.length - 1] as number) ^ n;
  return v;
}

describe('CertificateCache', () => {
  it('serves the same DER from the cache, parsed as parseCertificate parses it', () => {
    const cache = new CertificateCache();
    const a = cache.parse(der);
    expect(cache.parse(der.slice())).toBe(a);
    expect(a.der).toEqual(der);
    expect(a.subject.text).toBe(parseCertificate(der).subject.text);
    expect(cache.size).toBe(1);
  });

  it('does not serve a DER that shares all but its last byte with a cached one', () => {
    const cache = new CertificateCache();
    const a = cache.parse(der);
    const other = variant(1);
    const b = cache.parse(other);
    expect(b).not.toBe(a);
    expect(b.der).toEqual(other);
    expect(b.signature[b.signature.length - 1]).toBe(other[other.length - 1]);
    expect(a.der).toEqual(der);
  });

  it('keeps its own copy: changing the caller\'s buffer afterwards changes nothing cached', () => {
    const cache = new CertificateCache();
    const buf = der.slice();
    const a = cache.parse(buf);
    buf[buf.length - 1] = (buf[buf.length - 1] as number) ^ 0xff;
    expect(a.der).toEqual(der);
    const b = cache.parse(buf);
    expect(b).not.toBe(a);
    expect(cache.parse(der)).toBe(a);
  });

  it('freezes what it shares', () => {
    const a = new CertificateCache().parse(der);
    expect(Object.isFrozen(a)).toBe(true);
    expect(Object.isFrozen(a.subject)).toBe(true);
    expect(Object.isFrozen(a.publicKey)).toBe(true);
    expect(Object.isFrozen(a.extensions)).toBe(true);
  });

  it('is bounded in entries, dropping the least recently used', () => {
    const cache = new CertificateCache(4);
    const first = cache.parse(variant(1));
    for (let n = 2; n <= 4; n++) cache.parse(variant(n));
    expect(cache.parse(variant(1))).toBe(first); // now the most recently used
    for (let n = 5; n <= 40; n++) {
      cache.parse(variant(n));
      expect(cache.size).toBeLessThanOrEqual(4);
    }
    expect(cache.size).toBe(4);
    expect(cache.parse(variant(1))).not.toBe(first);
  });

  it('is bounded in bytes, and does not keep a certificate larger than the bound', () => {
    const cache = new CertificateCache(64, 2 * der.length + 10);
    for (let n = 1; n <= 5; n++) cache.parse(variant(n));
    expect(cache.size).toBe(2);
    expect(cache.bytes).toBe(2 * der.length);
    const small = new CertificateCache(64, der.length - 1);
    const a = small.parse(der);
    expect(small.size).toBe(0);
    expect(small.parse(der)).not.toBe(a);
  });

  it('does not cache a DER that fails to parse', () => {
    const cache = new CertificateCache();
    const bad = der.subarray(0, der.length - 1);
    expect(() => cache.parse(bad)).toThrow();
    expect(cache.size).toBe(0);
  });
});

describe('webPkiVerifier with its cache (RFC 8446 §4.4.2.4: a bad certificate is refused)', () => {
  it('accepts the same chain again, and refuses a leaf differing only in its signature\'s last byte after accepting the real one', async () => {
    const verifier = webPkiVerifier({ provider, trustAnchors: [chain.root.certificate.der] });
    const ctx = { serverName: 'localhost', purpose: 'serverAuth', now: NOW.getTime() } as const;
    const first = await verifier.verify([der], ctx);
    const again = await verifier.verify([der.slice()], ctx);
    expect(again.publicKey).toEqual(first.publicKey);
    expect(again.publicKey).not.toBe(first.publicKey);
    const e = await verifier.verify([variant(1)], ctx).then(() => undefined, (err: unknown) => err);
    expect(e).toBeInstanceOf(CertificateError);
    expect((e as CertificateError).reason).toBe('bad_signature');
  });
});
