/**
 * RSA private-key operations on the platform's WebCrypto (`crypto.subtle`,
 * present in Node ≥ 20, browsers, Deno, Bun and Workers). The engines behind
 * it (OpenSSL/BoringSSL, the browsers' libraries) implement RSA in
 * constant-time fixed-width arithmetic with their own blinding, which native
 * bigint cannot offer; rsa.ts remains for runtimes without WebCrypto and for
 * reproducible signatures under a seeded source.
 *
 * WebCrypto fixes the hash when a key is imported, so each key keeps one
 * imported CryptoKey per (padding, hash) it has signed with, made on first use
 * and reused afterwards.
 */
import type { HashAlgorithm } from '../ids.js';
import { hashLength } from '../ids.js';
import { integer, octets, sequence } from '../../codec/der.js';

/** Which implementation performs the RSA private-key operation (see {@link NobleProviderOptions.rsaPrivateOps}). */
export type RsaPrivateOps = 'auto' | 'webcrypto' | 'bigint';

/** AlgorithmIdentifier { rsaEncryption, NULL } (RFC 8017 Appendix A.1). */
const RSA_ENCRYPTION = Uint8Array.of(0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00);

/** The platform's SubtleCrypto, if this runtime has one. */
export function platformSubtle(): SubtleCrypto | undefined {
  const c = (globalThis as { crypto?: Crypto }).crypto;
  return c && typeof c.subtle === 'object' && c.subtle !== null ? c.subtle : undefined;
}

/** Wraps a DER `RSAPrivateKey` as PKCS #8 (RFC 5958 v1), the form `importKey('pkcs8')` takes. */
export function rsaPkcs1ToPkcs8(pkcs1: Uint8Array): Uint8Array {
  return sequence(integer(0), RSA_ENCRYPTION, octets(pkcs1));
}

/** One RSA private key imported into SubtleCrypto, lazily per (padding, hash). */
export class WebCryptoRsaKey {
  private readonly imported = new Map<string, Promise<CryptoKey>>();
  private readonly pkcs8: Uint8Array<ArrayBuffer>;

  constructor(private readonly subtle: SubtleCrypto, pkcs1: Uint8Array) {
    this.pkcs8 = new Uint8Array(rsaPkcs1ToPkcs8(pkcs1));
  }

  private key(name: 'RSA-PSS' | 'RSASSA-PKCS1-v1_5', hash: HashAlgorithm): Promise<CryptoKey> {
    const id = `${name}/${hash}`;
    let k = this.imported.get(id);
    if (!k) {
      k = this.subtle.importKey('pkcs8', this.pkcs8, { name, hash }, false, ['sign']);
      // A failed import is not cached, so a transient failure does not poison the key.
      k.catch(() => this.imported.delete(id));
      this.imported.set(id, k);
    }
    return k;
  }

  /** RSASSA-PSS with MGF1 on `hash` and a salt of hash length, as TLS 1.3 requires (RFC 8446 §4.2.3). */
  async signPss(hash: HashAlgorithm, message: Uint8Array): Promise<Uint8Array> {
    const key = await this.key('RSA-PSS', hash);
    return new Uint8Array(await this.subtle.sign({ name: 'RSA-PSS', saltLength: hashLength(hash) }, key, new Uint8Array(message)));
  }

  /** RSASSA-PKCS1-v1_5 (RFC 8017 §8.2.1). */
  async signPkcs1(hash: HashAlgorithm, message: Uint8Array): Promise<Uint8Array> {
    const key = await this.key('RSASSA-PKCS1-v1_5', hash);
    return new Uint8Array(await this.subtle.sign({ name: 'RSASSA-PKCS1-v1_5' }, key, new Uint8Array(message)));
  }
}
