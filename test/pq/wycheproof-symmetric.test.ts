/**
 * Wycheproof vectors for the symmetric primitives, through the CryptoProvider
 * interface: AES-GCM, ChaCha20-Poly1305, HKDF-SHA-256/384, HMAC-SHA-256/384.
 *
 * The provider implements what TLS 1.3 and QUIC use: 128- and 256-bit AES
 * keys, 96-bit nonces and 128-bit tags. Groups outside that (AES-192, other
 * nonce or tag sizes) are asserted to be refused rather than skipped.
 * Truncated HMAC tags are compared against the prefix of the full tag.
 */
import { describe, expect, it } from 'vitest';
import { fromHex, toHex, concat } from '../../src/bytes.js';
import { ConfigError } from '../../src/errors.js';
import { createNobleProvider, type AeadAlgorithm, type HashAlgorithm } from '../../src/pq/index.js';
import { loadWycheproof, str, type WycheproofFile } from '../helpers/wycheproof.js';

const provider = createNobleProvider();
const num = (o: Readonly<Record<string, unknown>>, f: string): number => {
  const v = o[f];
  if (typeof v !== 'number') throw new Error(`field ${f} missing`);
  return v;
};
const count = (f: WycheproofFile): number => f.testGroups.reduce((n, g) => n + g.tests.length, 0);

describe('Wycheproof: symmetric primitives through the provider', () => {
  for (const [file, kind] of [['aes_gcm_test.json', 'AES-GCM'], ['chacha20_poly1305_test.json', 'CHACHA20-POLY1305']] as const) {
    it(file, async () => {
      const f = loadWycheproof(file);
      let checked = 0;
      for (const g of f.testGroups) {
        const keySize = num(g, 'keySize');
        const supported = num(g, 'ivSize') === 96 && num(g, 'tagSize') === 128 && (kind === 'CHACHA20-POLY1305' || keySize === 128 || keySize === 256);
        for (const t of g.tests) {
          checked++;
          const key = fromHex(str(t, 'key'));
          const iv = fromHex(str(t, 'iv'));
          const aad = fromHex(str(t, 'aad'));
          const msg = fromHex(str(t, 'msg'));
          const sealed = concat(fromHex(str(t, 'ct')), fromHex(str(t, 'tag')));
          const alg: AeadAlgorithm = kind === 'CHACHA20-POLY1305' ? kind : keySize === 256 ? 'AES-256-GCM' : 'AES-128-GCM';
          if (kind === 'AES-GCM' && keySize !== 128 && keySize !== 256) {
            await expect(provider.aead(alg, key), `tcId ${t.tcId}`).rejects.toThrow(ConfigError);
            continue;
          }
          const aead = await provider.aead(alg, key);
          if (!supported) {
            await expect(aead.seal(iv, aad, msg), `tcId ${t.tcId}`).rejects.toThrow(ConfigError);
            expect(await aead.open(iv, aad, sealed), `tcId ${t.tcId}`).toBeNull();
            continue;
          }
          const opened = await aead.open(iv, aad, sealed);
          if (t.result === 'valid') {
            expect(toHex(await aead.seal(iv, aad, msg)), `tcId ${t.tcId}`).toBe(toHex(sealed));
            expect(opened && toHex(opened), `tcId ${t.tcId}`).toBe(toHex(msg));
          } else {
            expect(opened, `tcId ${t.tcId} (${t.comment})`).toBeNull();
          }
        }
      }
      expect(checked).toBe(f.numberOfTests || count(f));
    });
  }

  for (const [file, hash] of [['hkdf_sha256_test.json', 'SHA-256'], ['hkdf_sha384_test.json', 'SHA-384']] as const) {
    it(file, async () => {
      const f = loadWycheproof(file);
      let checked = 0;
      for (const g of f.testGroups) {
        for (const t of g.tests) {
          checked++;
          const prk = await provider.hkdfExtract(hash as HashAlgorithm, fromHex(str(t, 'salt')), fromHex(str(t, 'ikm')));
          const expand = provider.hkdfExpand(hash as HashAlgorithm, prk, fromHex(str(t, 'info')), num(t, 'size'));
          // The only invalid HKDF cases ask for more than 255 · HashLen bytes (RFC 5869 §2.3).
          if (t.result === 'valid') expect(toHex(await expand), `tcId ${t.tcId}`).toBe(str(t, 'okm'));
          else await expect(expand, `tcId ${t.tcId}`).rejects.toThrow(ConfigError);
        }
      }
      expect(checked).toBe(f.numberOfTests);
    });
  }

  for (const [file, hash] of [['hmac_sha256_test.json', 'SHA-256'], ['hmac_sha384_test.json', 'SHA-384']] as const) {
    it(file, async () => {
      const f = loadWycheproof(file);
      let checked = 0;
      for (const g of f.testGroups) {
        const tagBytes = num(g, 'tagSize') / 8;
        for (const t of g.tests) {
          checked++;
          const full = await provider.hmac(hash, fromHex(str(t, 'key')), fromHex(str(t, 'msg')));
          const matches = toHex(full.subarray(0, tagBytes)) === str(t, 'tag');
          expect(matches, `tcId ${t.tcId} (${t.comment})`).toBe(t.result === 'valid');
        }
      }
      expect(checked).toBe(f.numberOfTests);
    });
  }
});
