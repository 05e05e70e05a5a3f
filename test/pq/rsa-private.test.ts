/**
 * The RSA private-key operation (RFC 8017 §5.2.1 RSASP1) in the noble
 * provider: on WebCrypto where the platform has it, on bigint otherwise, and
 * on bigint with both base and exponent blinded. Signatures from the two paths
 * verify under the same public key, and PKCS #1 v1.5 (deterministic, §8.2.1)
 * gives the same bytes on both.
 */
import fc from 'fast-check';
import { seeded } from '../helpers/fc.js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fromHex, toHex, utf8 } from '../../src/bytes.js';
import { SignatureScheme, signatureSchemeName } from '../../src/pq/ids.js';
import { createNobleProvider } from '../../src/pq/noble/index.js';
import { bytesToBigInt, modPow, modPowPublic } from '../../src/pq/bigint.js';
import { rsaPkcs1Sign, rsaPssSign, tlsPssParams } from '../../src/pq/noble/rsa.js';
import { parseRsaPrivateKey } from '../../src/pq/rsa-keys.js';
import { systemRandom } from '../../src/pq/random.js';
import { seededRandom } from '../../src/testing/index.js';
import { RSA_2048_MESSAGE, RSA_2048_PKCS1_HEX, RSA_2048_PKCS1_SHA256_SIG_HEX } from '../fixtures/rsa-2048.js';

const S = SignatureScheme;
const pkcs1 = fromHex(RSA_2048_PKCS1_HEX);
const message = utf8('TLS 1.3, server CertificateVerify');
const RSA_SCHEMES = [
  S.rsa_pss_rsae_sha256, S.rsa_pss_rsae_sha384, S.rsa_pss_rsae_sha512, S.rsa_pkcs1_sha256, S.rsa_pkcs1_sha384, S.rsa_pkcs1_sha512,
] as const;

afterEach(() => {
  vi.restoreAllMocks();
});

describe('WebCrypto and bigint private-key paths', () => {
  it.each(RSA_SCHEMES.map((s) => [signatureSchemeName(s), s] as const))('%s: both paths sign verifiably under the same public key', async (_, scheme) => {
    const web = createNobleProvider({ rsaPrivateOps: 'webcrypto', random: seededRandom('web') });
    const big = createNobleProvider({ rsaPrivateOps: 'bigint', random: seededRandom('big') });
    const kw = await web.importPrivateKey({ algorithm: 'rsa', pkcs1 });
    const kb = await big.importPrivateKey({ algorithm: 'rsa', pkcs1 });
    expect(kw.publicKey).toEqual(kb.publicKey);
    const sw = await web.sign(scheme, kw.privateKey, message);
    const sb = await big.sign(scheme, kb.privateKey, message);
    for (const sig of [sw, sb]) {
      expect(await web.verify(scheme, kw.publicKey, message, sig)).toBe(true);
      expect(await big.verify(scheme, kb.publicKey, message, sig)).toBe(true);
    }
  });

  it('PKCS #1 v1.5 is deterministic (RFC 8017 §8.2.1): both paths give OpenSSL’s signature byte for byte', async () => {
    for (const rsaPrivateOps of ['webcrypto', 'bigint'] as const) {
      const p = createNobleProvider({ rsaPrivateOps, random: seededRandom(rsaPrivateOps) });
      const k = await p.importPrivateKey({ algorithm: 'rsa', pkcs1 });
      expect(toHex(await p.sign(S.rsa_pkcs1_sha256, k.privateKey, utf8(RSA_2048_MESSAGE)))).toBe(RSA_2048_PKCS1_SHA256_SIG_HEX);
    }
  });

  it('signs on WebCrypto by default with the platform CSPRNG, importing the key once per hash, not per call', async () => {
    const importKey = vi.spyOn(globalThis.crypto.subtle, 'importKey');
    const sign = vi.spyOn(globalThis.crypto.subtle, 'sign');
    const p = createNobleProvider({ random: systemRandom });
    const k = await p.importPrivateKey({ algorithm: 'rsa', pkcs1 });
    for (let i = 0; i < 3; i++) await p.sign(S.rsa_pss_rsae_sha256, k.privateKey, message);
    await p.sign(S.rsa_pss_rsae_sha384, k.privateKey, message);
    expect(sign).toHaveBeenCalledTimes(4);
    expect(importKey).toHaveBeenCalledTimes(2);
    const [algorithm] = sign.mock.calls[0] as unknown as [RsaPssParams];
    expect(algorithm).toEqual({ name: 'RSA-PSS', saltLength: 32 });
  });

  it('stays on bigint with an injected source, so a seed reproduces RSA-PSS signatures exactly', async () => {
    const sign = vi.spyOn(globalThis.crypto.subtle, 'sign');
    const sigs: Uint8Array[] = [];
    for (let i = 0; i < 2; i++) {
      const p = createNobleProvider({ random: seededRandom('replay') });
      const k = await p.importPrivateKey({ algorithm: 'rsa', pkcs1 });
      sigs.push(await p.sign(S.rsa_pss_rsae_sha256, k.privateKey, message));
    }
    expect(sigs[0]).toEqual(sigs[1]);
    expect(sign).not.toHaveBeenCalled();
  });
});

describe('bigint RSASP1 blinding', () => {
  const key = parseRsaPrivateKey(pkcs1);

  it('uses a different, equivalent CRT exponent on every call (d_p + r₁(p−1), d_q + r₂(q−1))', () => {
    const random = seededRandom('exponent blinding');
    const seen: { dp: bigint; dq: bigint }[] = [];
    const observe = (dp: bigint, dq: bigint): void => void seen.push({ dp, dq });
    const a = rsaPkcs1Sign(key, message, 'SHA-256', random, observe);
    const b = rsaPkcs1Sign(key, message, 'SHA-256', random, observe);
    expect(a).toEqual(b);
    expect(seen).toHaveLength(2);
    const [first, second] = seen as [{ dp: bigint; dq: bigint }, { dp: bigint; dq: bigint }];
    expect(first.dp).not.toBe(second.dp);
    expect(first.dq).not.toBe(second.dq);
    for (const { dp, dq } of seen) {
      expect(dp).not.toBe(key.dp);
      expect(dq).not.toBe(key.dq);
      expect(dp % (key.p - 1n)).toBe(key.dp);
      expect(dq % (key.q - 1n)).toBe(key.dq);
      // At least 64 bits of blinding: the blinded exponent is well beyond p − 1.
      expect(dp >> 32n > key.p - 1n).toBe(true);
    }
  });

  it('draws the exponent-blinding factors from the provider’s source (same seed, same exponents)', () => {
    const run = (): bigint[] => {
      const out: bigint[] = [];
      rsaPssSign(key, message, tlsPssParams('SHA-256'), seededRandom('same'), (dp, dq) => void out.push(dp, dq));
      return out;
    };
    const first = run();
    expect(first).toHaveLength(2);
    expect(run()).toEqual(first);
  });
});

describe('modPow', () => {
  it('the fixed-window exponentiation agrees with square-and-multiply', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 300n) - 1n }), fc.bigInt({ min: 0n, max: (1n << 200n) - 1n }), fc.bigInt({ min: 2n, max: (1n << 256n) - 1n }), (b, e, m) => {
        expect(modPow(b, e, m)).toBe(modPowPublic(b, e, m));
      }),
      seeded(0x5eed, { numRuns: 200 }),
    );
    expect(modPow(5n, 0n, 1n << 64n)).toBe(1n);
    expect(modPow(bytesToBigInt(Uint8Array.of(7)), 16n, 1000n)).toBe(7n ** 16n % 1000n);
  });
});
