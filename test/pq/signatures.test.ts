/**
 * The signature half of the noble provider, checked through the
 * CryptoProvider interface (src/pq/provider.ts) against its TSDoc contract:
 * encodings (RFC 8446 §4.2.3, draft-ietf-tls-mldsa, RFC 9881 §6), verify's
 * false-versus-throw rule, key import/export, and reproducibility under a seeded
 * random source.
 */
import fc from 'fast-check';
import { seeded } from '../helpers/fc.js';
import { describe, expect, it } from 'vitest';
import { concat, fromHex, toHex, utf8 } from '../../src/bytes.js';
import { ConfigError, IllegalParameterError, UnsupportedAlgorithmError } from '../../src/errors.js';
import { SignatureScheme, schemeKeyAlgorithm, signatureSchemeName, type KeyAlgorithm } from '../../src/pq/ids.js';
import { createNobleProvider } from '../../src/pq/noble/index.js';
import { NOBLE_SCHEMES } from '../../src/pq/noble/signatures.js';
import { integer, sequence } from '../../src/codec/der.js';
import { ML_DSA_SIZES } from '../../src/pq/noble/mldsa.js';
import type { CryptoProvider, KeyPair, PrivateKeyMaterial } from '../../src/pq/provider.js';
import { seededRandom } from '../../src/testing/index.js';
import {
  RSA_2048_MESSAGE, RSA_2048_PKCS1_HEX, RSA_2048_PKCS1_SHA256_SIG_HEX, RSA_2048_PSS_SHA384_SIG_HEX, RSA_2048_PUBLIC_HEX,
} from '../fixtures/rsa-2048.js';

const S = SignatureScheme;
const message = utf8('TLS 1.3, server CertificateVerify');
const rsaPkcs1 = fromHex(RSA_2048_PKCS1_HEX);

function flipBit(b: Uint8Array, bit: number): Uint8Array {
  const out = b.slice();
  const i = Math.floor(bit / 8) % out.length;
  out[i] = (out[i] as number) ^ (1 << (bit % 8));
  return out;
}

/** A key pair for `scheme`: generated, except RSA, which is the fixed fixture key (as an id-RSASSA-PSS key for rsa_pss_pss_*). */
async function keyFor(p: CryptoProvider, scheme: SignatureScheme): Promise<KeyPair> {
  const alg = schemeKeyAlgorithm(scheme);
  return alg === 'rsa' || alg === 'rsa-pss' ? p.importPrivateKey({ algorithm: alg, pkcs1: rsaPkcs1 }) : p.generateKeyPair(alg);
}

describe('scheme list', () => {
  it('offers every scheme in preference order: ML-DSA, Ed25519, ECDSA, RSA-PSS, RSA PKCS #1', () => {
    const p = createNobleProvider({ random: seededRandom('list') });
    expect(p.signatureSchemes).toEqual([
      S.mldsa65, S.mldsa87, S.mldsa44, S.ed25519, S.ecdsa_secp256r1_sha256, S.ecdsa_secp384r1_sha384,
      S.rsa_pss_rsae_sha256, S.rsa_pss_rsae_sha384, S.rsa_pss_rsae_sha512,
      S.rsa_pss_pss_sha256, S.rsa_pss_pss_sha384, S.rsa_pss_pss_sha512,
      S.rsa_pkcs1_sha256, S.rsa_pkcs1_sha384, S.rsa_pkcs1_sha512,
    ]);
    expect(p.signatureSchemes).toBe(NOBLE_SCHEMES);
    expect(Object.isFrozen(NOBLE_SCHEMES)).toBe(true);
  });
});

describe.each(NOBLE_SCHEMES.map((s) => [signatureSchemeName(s), s] as const))('%s', (_name, scheme) => {
  const p = createNobleProvider({ random: seededRandom(`round trip ${scheme}`) });

  it('signs and verifies; a different message or a flipped signature bit does not verify', async () => {
    const { privateKey, publicKey } = await keyFor(p, scheme);
    const sig = await p.sign(scheme, privateKey, message);
    expect(await p.verify(scheme, publicKey, message, sig)).toBe(true);
    expect(await p.verify(scheme, publicKey, utf8('TLS 1.3, client CertificateVerify'), sig)).toBe(false);
    expect(await p.verify(scheme, publicKey, new Uint8Array(0), sig)).toBe(false);
    for (const bit of [0, 7, 8 * sig.length - 1, 8 * Math.floor(sig.length / 2) + 3]) {
      expect(await p.verify(scheme, publicKey, message, flipBit(sig, bit))).toBe(false);
    }
  });

  it('returns false, never throws, for a truncated, extended or empty signature', async () => {
    const { privateKey, publicKey } = await keyFor(p, scheme);
    const sig = await p.sign(scheme, privateKey, message);
    expect(await p.verify(scheme, publicKey, message, sig.subarray(0, sig.length - 1))).toBe(false);
    expect(await p.verify(scheme, publicKey, message, concat(sig, Uint8Array.of(0)))).toBe(false);
    expect(await p.verify(scheme, publicKey, message, new Uint8Array(0))).toBe(false);
  });

  it('throws IllegalParameterError for a public key of the wrong length', async () => {
    const { publicKey } = await keyFor(p, scheme);
    const sig = new Uint8Array(64);
    await expect(p.verify(scheme, publicKey.subarray(1), message, sig)).rejects.toBeInstanceOf(IllegalParameterError);
    await expect(p.verify(scheme, concat(publicKey, Uint8Array.of(0)), message, sig)).rejects.toBeInstanceOf(IllegalParameterError);
    await expect(p.verify(scheme, new Uint8Array(0), message, sig)).rejects.toBeInstanceOf(IllegalParameterError);
  });

  it('refuses a key of another algorithm with ConfigError', async () => {
    const other: KeyAlgorithm = schemeKeyAlgorithm(scheme) === 'ed25519' ? 'ecdsa-p256' : 'ed25519';
    const { privateKey } = await p.generateKeyPair(other);
    await expect(p.sign(scheme, privateKey, message)).rejects.toBeInstanceOf(ConfigError);
  });

  it('is reproducible under a seeded random source', async () => {
    const run = async (seed: string) => {
      const q = createNobleProvider({ random: seededRandom(seed) });
      const { privateKey, publicKey } = await keyFor(q, scheme);
      return { publicKey: toHex(publicKey), sig: toHex(await q.sign(scheme, privateKey, message)) };
    };
    expect(await run('seed A')).toEqual(await run('seed A'));
  });
});

describe('signature encodings (RFC 8446 §4.2.3, draft-ietf-tls-mldsa §3)', () => {
  const p = createNobleProvider({ random: seededRandom('encodings') });

  it('ML-DSA signatures and public keys have the FIPS 204 sizes', async () => {
    for (const [scheme, alg] of [[S.mldsa44, 'ml-dsa-44'], [S.mldsa65, 'ml-dsa-65'], [S.mldsa87, 'ml-dsa-87']] as const) {
      const { privateKey, publicKey } = await p.generateKeyPair(alg);
      expect(publicKey.length).toBe(ML_DSA_SIZES[alg].publicKey);
      expect((await p.sign(scheme, privateKey, message)).length).toBe(ML_DSA_SIZES[alg].signature);
    }
  });

  it('Ed25519 keys are 32 bytes and signatures 64; ECDSA keys are uncompressed points and signatures DER', async () => {
    const ed = await p.generateKeyPair('ed25519');
    expect(ed.publicKey.length).toBe(32);
    expect((await p.sign(S.ed25519, ed.privateKey, message)).length).toBe(64);
    for (const [scheme, alg, len] of [[S.ecdsa_secp256r1_sha256, 'ecdsa-p256', 65], [S.ecdsa_secp384r1_sha384, 'ecdsa-p384', 97]] as const) {
      const { privateKey, publicKey } = await p.generateKeyPair(alg);
      expect(publicKey.length).toBe(len);
      expect(publicKey[0]).toBe(0x04);
      const sig = await p.sign(scheme, privateKey, message);
      expect(sig[0]).toBe(0x30); // SEQUENCE { INTEGER r, INTEGER s }
      expect(sig[1]).toBe(sig.length - 2);
    }
  });

  it('ECDSA verifies a compressed SEC 1 point too', async () => {
    const { privateKey, publicKey } = await p.generateKeyPair('ecdsa-p256');
    const sig = await p.sign(S.ecdsa_secp256r1_sha256, privateKey, message);
    const compressed = concat(Uint8Array.of(2 + ((publicKey[64] as number) & 1)), publicKey.subarray(1, 33));
    expect(await p.verify(S.ecdsa_secp256r1_sha256, compressed, message, sig)).toBe(true);
  });

  it('ECDSA rejects a BER (long-form length) encoding of a valid signature', async () => {
    const { privateKey, publicKey } = await p.generateKeyPair('ecdsa-p256');
    const sig = await p.sign(S.ecdsa_secp256r1_sha256, privateKey, message);
    const ber = concat(Uint8Array.of(0x30, 0x81, sig[1] as number), sig.subarray(2));
    expect(await p.verify(S.ecdsa_secp256r1_sha256, publicKey, message, ber)).toBe(false);
  });

  it('ECDSA accepts the high-S twin of a signature (TLS has no low-S rule)', async () => {
    const { privateKey, publicKey } = await p.generateKeyPair('ecdsa-p256');
    const sig = await p.sign(S.ecdsa_secp256r1_sha256, privateKey, message);
    // Parse r and s from the DER, replace s by n - s, re-encode.
    const n = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
    const rLen = sig[3] as number;
    const r = BigInt(`0x${toHex(sig.subarray(4, 4 + rLen))}`);
    const s = BigInt(`0x${toHex(sig.subarray(6 + rLen))}`);
    const twin = sequence(integer(r), integer(n - s));
    expect(await p.verify(S.ecdsa_secp256r1_sha256, publicKey, message, twin)).toBe(true);
  });
});

describe('malformed public keys are IllegalParameterError (CryptoProvider.verify)', () => {
  const p = createNobleProvider({ random: seededRandom('bad keys') });
  const sig = new Uint8Array(64);

  it('an ECDSA point not on the curve, or the point at infinity', async () => {
    const { publicKey } = await p.generateKeyPair('ecdsa-p256');
    await expect(p.verify(S.ecdsa_secp256r1_sha256, flipBit(publicKey, 8 * 64), message, sig)).rejects.toBeInstanceOf(IllegalParameterError);
    await expect(p.verify(S.ecdsa_secp256r1_sha256, Uint8Array.of(0), message, sig)).rejects.toBeInstanceOf(IllegalParameterError);
  });

  it('an ECDSA P-256 key offered for the P-384 scheme', async () => {
    const { publicKey } = await p.generateKeyPair('ecdsa-p256');
    await expect(p.verify(S.ecdsa_secp384r1_sha384, publicKey, message, sig)).rejects.toBeInstanceOf(IllegalParameterError);
  });

  it('an Ed25519 key with a non-canonical y (y ≥ p, RFC 8032 §5.1.3)', async () => {
    // y = p = 2^255 - 19, little-endian: not a canonical encoding.
    const yIsP = fromHex('edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f');
    await expect(p.verify(S.ed25519, yIsP, message, sig)).rejects.toBeInstanceOf(IllegalParameterError);
  });

  it('an RSA key that is not DER RSAPublicKey, has trailing bytes, or is under 1024 bits', async () => {
    const pub = fromHex(RSA_2048_PUBLIC_HEX);
    await expect(p.verify(S.rsa_pss_rsae_sha256, pub.subarray(0, 100), message, sig)).rejects.toBeInstanceOf(IllegalParameterError);
    await expect(p.verify(S.rsa_pss_rsae_sha256, concat(pub, Uint8Array.of(0)), message, sig)).rejects.toBeInstanceOf(IllegalParameterError);
    const small = sequence(integer((1n << 1022n) + 1n), integer(65537n));
    await expect(p.verify(S.rsa_pkcs1_sha256, small, message, sig)).rejects.toThrow(/below the minimum of 1024/);
    const evenE = sequence(integer((1n << 2047n) + 1n), integer(65536n));
    await expect(p.verify(S.rsa_pkcs1_sha256, evenE, message, sig)).rejects.toBeInstanceOf(IllegalParameterError);
  });
});

describe('unsupported schemes and algorithms', () => {
  const p = createNobleProvider({ random: seededRandom('unsupported') });

  it('sign and verify refuse a scheme outside the list with UnsupportedAlgorithmError', async () => {
    const ecdsaSha1 = 0x0203 as SignatureScheme;
    const { privateKey, publicKey } = await p.generateKeyPair('ecdsa-p256');
    await expect(p.sign(ecdsaSha1, privateKey, message)).rejects.toBeInstanceOf(UnsupportedAlgorithmError);
    await expect(p.verify(ecdsaSha1, publicKey, message, new Uint8Array(64))).rejects.toBeInstanceOf(UnsupportedAlgorithmError);
  });

  it('does not generate RSA keys', async () => {
    await expect(p.generateKeyPair('rsa')).rejects.toBeInstanceOf(UnsupportedAlgorithmError);
  });

  it('refuses a key made by another provider instance', async () => {
    const other = createNobleProvider({ random: seededRandom('other') });
    const { privateKey } = await other.generateKeyPair('ed25519');
    await expect(p.sign(S.ed25519, privateKey, message)).rejects.toBeInstanceOf(ConfigError);
    await expect(p.exportPrivateKey(privateKey)).rejects.toBeInstanceOf(ConfigError);
  });

  it('refuses an ML-DSA key of another parameter set', async () => {
    const { privateKey } = await p.generateKeyPair('ml-dsa-44');
    await expect(p.sign(S.mldsa65, privateKey, message)).rejects.toBeInstanceOf(ConfigError);
  });
});

describe('key import and export', () => {
  const p = createNobleProvider({ random: seededRandom('import export') });

  async function assertSameKey(a: KeyPair, b: KeyPair, scheme: SignatureScheme): Promise<void> {
    expect(toHex(b.publicKey)).toBe(toHex(a.publicKey));
    expect(await p.verify(scheme, a.publicKey, message, await p.sign(scheme, b.privateKey, message))).toBe(true);
  }

  it.each([['ed25519', S.ed25519], ['ecdsa-p256', S.ecdsa_secp256r1_sha256], ['ecdsa-p384', S.ecdsa_secp384r1_sha384]] as const)(
    '%s round-trips through its secret',
    async (alg, scheme) => {
      const a = await p.generateKeyPair(alg);
      const exported = await p.exportPrivateKey(a.privateKey);
      expect(exported.algorithm).toBe(alg);
      if (!('secret' in exported)) throw new Error('expected secret material');
      expect(exported.secret.length).toBe(alg === 'ecdsa-p384' ? 48 : 32);
      await assertSameKey(a, await p.importPrivateKey(exported), scheme);
    },
  );

  it('Ed25519 matches RFC 8032 §7.1 TEST 1', async () => {
    const key = await p.importPrivateKey({
      algorithm: 'ed25519', secret: fromHex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60'),
    });
    expect(toHex(key.publicKey)).toBe('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
    expect(toHex(await p.sign(S.ed25519, key.privateKey, new Uint8Array(0)))).toBe(
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
    );
  });

  it('ECDSA refuses a zero scalar, a scalar ≥ n, and a wrong-length scalar', async () => {
    const n = fromHex('ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551');
    for (const secret of [new Uint8Array(32), n, new Uint8Array(31).fill(1)]) {
      await expect(p.importPrivateKey({ algorithm: 'ecdsa-p256', secret })).rejects.toBeInstanceOf(ConfigError);
    }
    await expect(p.importPrivateKey({ algorithm: 'ed25519', secret: new Uint8Array(33) })).rejects.toBeInstanceOf(ConfigError);
  });

  describe.each(['ml-dsa-44', 'ml-dsa-65', 'ml-dsa-87'] as const)('%s (RFC 9881 §6 key forms)', (alg) => {
    const scheme = alg === 'ml-dsa-44' ? S.mldsa44 : alg === 'ml-dsa-65' ? S.mldsa65 : S.mldsa87;
    const seed = seededRandom(`seed for ${alg}`)(32);

    it('exports seed and expanded key for a generated key, and each form re-imports to the same key', async () => {
      const a = await p.generateKeyPair(alg);
      const exported = await p.exportPrivateKey(a.privateKey);
      if (!('expanded' in exported) || !exported.seed || !exported.expanded) throw new Error('expected seed and expanded');
      expect(exported.seed.length).toBe(32);
      expect(exported.expanded.length).toBe(ML_DSA_SIZES[alg].expanded);
      await assertSameKey(a, await p.importPrivateKey({ algorithm: alg, seed: exported.seed }), scheme);
      await assertSameKey(a, await p.importPrivateKey({ algorithm: alg, expanded: exported.expanded }), scheme);
      await assertSameKey(a, await p.importPrivateKey(exported), scheme);
    });

    it('seed-only import exports seed and expanded; expanded-only import exports expanded only', async () => {
      const fromSeed = await p.importPrivateKey({ algorithm: alg, seed });
      const full = await p.exportPrivateKey(fromSeed.privateKey);
      if (!('expanded' in full) || !full.expanded) throw new Error('expected expanded');
      expect(toHex(full.seed ?? new Uint8Array(0))).toBe(toHex(seed));
      const fromExpanded = await p.importPrivateKey({ algorithm: alg, expanded: full.expanded });
      expect(toHex(fromExpanded.publicKey)).toBe(toHex(fromSeed.publicKey));
      const again: PrivateKeyMaterial = await p.exportPrivateKey(fromExpanded.privateKey);
      expect(again).toEqual({ algorithm: alg, expanded: full.expanded });
    });

    it('refuses a seed and an expanded key that do not match', async () => {
      const other = await p.exportPrivateKey((await p.generateKeyPair(alg)).privateKey);
      if (!('expanded' in other)) throw new Error('expected ML-DSA material');
      await expect(p.importPrivateKey({ algorithm: alg, seed, expanded: other.expanded })).rejects.toThrow(ConfigError);
      await expect(p.importPrivateKey({ algorithm: alg, seed, expanded: other.expanded })).rejects.toThrow(/do not match/);
    });

    it('refuses wrong lengths, missing material, out-of-range s1 and an inconsistent tr', async () => {
      const material = await p.exportPrivateKey((await p.importPrivateKey({ algorithm: alg, seed })).privateKey);
      if (!('expanded' in material) || !material.expanded) throw new Error('expected expanded');
      const expanded = material.expanded;
      const bad: PrivateKeyMaterial[] = [
        { algorithm: alg },
        { algorithm: alg, seed: seed.subarray(1) },
        { algorithm: alg, seed: concat(seed, Uint8Array.of(0)) },
        { algorithm: alg, expanded: expanded.subarray(1) },
        // s1 starts after ρ ‖ K ‖ tr (128 bytes); all-ones bits decode to a coefficient outside [-η, η].
        { algorithm: alg, expanded: concat(expanded.subarray(0, 128), Uint8Array.of(0xff, 0xff, 0xff), expanded.subarray(131)) },
        // tr = H(pk) is bytes 64..127 (FIPS 204 §7.2).
        { algorithm: alg, expanded: flipBit(expanded, 8 * 64) },
      ];
      for (const m of bad) await expect(p.importPrivateKey(m)).rejects.toBeInstanceOf(ConfigError);
    });
  });
});

describe('hedged ML-DSA signing and seeded determinism', () => {
  it('two signatures by one key differ (fresh rnd each time) and both verify', async () => {
    const p = createNobleProvider({ random: seededRandom('hedged') });
    const { privateKey, publicKey } = await p.generateKeyPair('ml-dsa-44');
    const a = await p.sign(S.mldsa44, privateKey, message);
    const b = await p.sign(S.mldsa44, privateKey, message);
    expect(toHex(a)).not.toBe(toHex(b));
    expect(await p.verify(S.mldsa44, publicKey, message, a)).toBe(true);
    expect(await p.verify(S.mldsa44, publicKey, message, b)).toBe(true);
  });

  it('the same seed gives the same ML-DSA-65 key and signature; another seed gives others', async () => {
    const run = async (seed: string) => {
      const p = createNobleProvider({ random: seededRandom(seed) });
      const { privateKey, publicKey } = await p.generateKeyPair('ml-dsa-65');
      return [toHex(publicKey), toHex(await p.sign(S.mldsa65, privateKey, message))];
    };
    const [a, b, c] = [await run('x'), await run('x'), await run('y')];
    expect(a).toEqual(b);
    expect(c[0]).not.toBe(a[0]);
    expect(c[1]).not.toBe(a[1]);
  });

  it('Ed25519 is deterministic (RFC 8032 §5.1.6): equal signatures for equal messages', async () => {
    const p = createNobleProvider({ random: seededRandom('ed') });
    const { privateKey } = await p.generateKeyPair('ed25519');
    expect(toHex(await p.sign(S.ed25519, privateKey, message))).toBe(toHex(await p.sign(S.ed25519, privateKey, message)));
  });
});

describe('RSA with the fixed OpenSSL key (RFC 8017)', () => {
  const p = createNobleProvider({ random: seededRandom('rsa') });
  const msg = utf8(RSA_2048_MESSAGE);

  it('imports RSAPrivateKey, derives the same RSAPublicKey as OpenSSL, and exports the DER unchanged', async () => {
    const key = await p.importPrivateKey({ algorithm: 'rsa', pkcs1: rsaPkcs1 });
    expect(toHex(key.publicKey)).toBe(RSA_2048_PUBLIC_HEX);
    expect(await p.exportPrivateKey(key.privateKey)).toEqual({ algorithm: 'rsa', pkcs1: rsaPkcs1 });
  });

  it('PKCS #1 v1.5 SHA-256 signature equals OpenSSL’s byte for byte (the scheme is deterministic)', async () => {
    const key = await p.importPrivateKey({ algorithm: 'rsa', pkcs1: rsaPkcs1 });
    expect(toHex(await p.sign(S.rsa_pkcs1_sha256, key.privateKey, msg))).toBe(RSA_2048_PKCS1_SHA256_SIG_HEX);
    expect(await p.verify(S.rsa_pkcs1_sha256, key.publicKey, msg, fromHex(RSA_2048_PKCS1_SHA256_SIG_HEX))).toBe(true);
    expect(await p.verify(S.rsa_pkcs1_sha384, key.publicKey, msg, fromHex(RSA_2048_PKCS1_SHA256_SIG_HEX))).toBe(false);
  });

  it('verifies OpenSSL’s PSS SHA-384 signature only under rsa_pss_rsae_sha384', async () => {
    const pub = fromHex(RSA_2048_PUBLIC_HEX);
    const sig = fromHex(RSA_2048_PSS_SHA384_SIG_HEX);
    expect(await p.verify(S.rsa_pss_rsae_sha384, pub, msg, sig)).toBe(true);
    expect(await p.verify(S.rsa_pss_rsae_sha256, pub, msg, sig)).toBe(false);
    expect(await p.verify(S.rsa_pkcs1_sha384, pub, msg, sig)).toBe(false);
  });

  it('PSS signatures are salted: two signatures of one message differ and both verify', async () => {
    const key = await p.importPrivateKey({ algorithm: 'rsa', pkcs1: rsaPkcs1 });
    const a = await p.sign(S.rsa_pss_rsae_sha512, key.privateKey, msg);
    const b = await p.sign(S.rsa_pss_rsae_sha512, key.privateKey, msg);
    expect(toHex(a)).not.toBe(toHex(b));
    expect(await p.verify(S.rsa_pss_rsae_sha512, key.publicKey, msg, a)).toBe(true);
    expect(await p.verify(S.rsa_pss_rsae_sha512, key.publicKey, msg, b)).toBe(true);
  });

  it('a signature value ≥ n is refused (RFC 8017 §5.2.2 step 1)', async () => {
    const key = await p.importPrivateKey({ algorithm: 'rsa', pkcs1: rsaPkcs1 });
    expect(await p.verify(S.rsa_pkcs1_sha256, key.publicKey, msg, new Uint8Array(256).fill(0xff))).toBe(false);
  });

  it('refuses corrupted, trailing-byte, multi-prime and too-small private keys with ConfigError', async () => {
    // Flip a bit in the last byte: the coefficient qInv, so the DER stays valid but the key does not.
    const corrupted = flipBit(rsaPkcs1, 8 * (rsaPkcs1.length - 1));
    const trailing = concat(rsaPkcs1, Uint8Array.of(0));
    const version1 = rsaPkcs1.slice();
    version1[6] = 1; // 30 82 04 a5 | 02 01 00: the version INTEGER's value
    const one = integer(1n);
    const small = sequence(integer(0n), integer((1n << 1023n) + 1n), integer(65537n),
      one, one, one, one, one, one);
    for (const pkcs1 of [corrupted, trailing, version1, small, new Uint8Array(0)]) {
      await expect(p.importPrivateKey({ algorithm: 'rsa', pkcs1 })).rejects.toBeInstanceOf(ConfigError);
    }
    await expect(p.importPrivateKey({ algorithm: 'rsa', pkcs1: small })).rejects.toThrow(/below the minimum of 2048/);
  });
});

describe('properties', () => {
  it('for any message, a signature verifies for that message and no other (Ed25519, P-384, ML-DSA-44)', async () => {
    const p = createNobleProvider({ random: seededRandom('properties') });
    const keys = await Promise.all([
      p.generateKeyPair('ed25519').then((k) => [S.ed25519, k] as const),
      p.generateKeyPair('ecdsa-p384').then((k) => [S.ecdsa_secp384r1_sha384, k] as const),
      p.generateKeyPair('ml-dsa-44').then((k) => [S.mldsa44, k] as const),
    ]);
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ minLength: 1, maxLength: 8 }), async (m, extra) => {
        for (const [scheme, { privateKey, publicKey }] of keys) {
          const sig = await p.sign(scheme, privateKey, m);
          expect(await p.verify(scheme, publicKey, m, sig)).toBe(true);
          expect(await p.verify(scheme, publicKey, concat(m, extra), sig)).toBe(false);
        }
      }),
      seeded(20261123, { numRuns: 15 }),
    );
  });
});

describe('SLH-DSA, a certificate-only scheme (FIPS 205; no TLS SignatureScheme exists)', () => {
  const FAST = 'slh-dsa-sha2-128f' as const;

  it('is addressed by its parameter-set name, never by a 16-bit code point, and is absent from signatureSchemes', () => {
    const p = createNobleProvider({ random: seededRandom('slh list') });
    expect(p.signatureSchemes.some((s) => typeof s !== 'number')).toBe(false);
    expect(signatureSchemeName(0x0904)).toBe('mldsa44');
  });

  it('key generation draws 3n bytes (FIPS 205 Alg. 21), signing n bytes of opt_rand (Alg. 22); same seed, same key and signature', async () => {
    const draws: number[] = [];
    const base = seededRandom('slh draws');
    const p = createNobleProvider({ random: (n) => (draws.push(n), base(n)) });
    const q = createNobleProvider({ random: seededRandom('slh draws') });
    const [a, b] = [await p.generateKeyPair(FAST), await q.generateKeyPair(FAST)];
    expect(draws).toEqual([48]);
    expect(a.publicKey).toHaveLength(32);
    expect(toHex(a.publicKey)).toBe(toHex(b.publicKey));
    const [sa, sb] = [await p.sign(FAST, a.privateKey, message), await q.sign(FAST, b.privateKey, message)];
    expect(draws).toEqual([48, 16]);
    expect(sa).toHaveLength(17088);
    expect(toHex(sa)).toBe(toHex(sb));
    // Hedged: the next signature by the same key draws fresh opt_rand and differs, and both verify.
    const again = await p.sign(FAST, a.privateKey, message);
    expect(toHex(again)).not.toBe(toHex(sa));
    for (const sig of [sa, again]) expect(await p.verify(FAST, a.publicKey, message, sig)).toBe(true);
    expect(await p.verify(FAST, a.publicKey, utf8('another message'), sa)).toBe(false);
    expect(await p.verify(FAST, a.publicKey, message, flipBit(sa, 8 * 100))).toBe(false);
    expect(await p.verify('slh-dsa-shake-128f', a.publicKey, message, sa)).toBe(false);
  });

  it('refuses keys of another algorithm or parameter set with ConfigError, and unknown names with UnsupportedAlgorithmError', async () => {
    const p = createNobleProvider({ random: seededRandom('slh refusals') });
    const slh = await p.generateKeyPair(FAST);
    const ml = await p.generateKeyPair('ml-dsa-65');
    await expect(p.sign(FAST, ml.privateKey, message)).rejects.toBeInstanceOf(ConfigError);
    await expect(p.sign('slh-dsa-sha2-128s', slh.privateKey, message)).rejects.toBeInstanceOf(ConfigError);
    await expect(p.sign(S.mldsa65, slh.privateKey, message)).rejects.toBeInstanceOf(ConfigError);
    const unknown = 'slh-dsa-sha2-512s' as typeof FAST;
    await expect(p.sign(unknown, slh.privateKey, message)).rejects.toBeInstanceOf(UnsupportedAlgorithmError);
    await expect(p.verify(unknown, slh.publicKey, message, new Uint8Array(1))).rejects.toBeInstanceOf(UnsupportedAlgorithmError);
    await expect(p.generateKeyPair(unknown)).rejects.toBeInstanceOf(UnsupportedAlgorithmError);
  });

  it('exports SK.seed ‖ SK.prf ‖ PK.seed ‖ PK.root and re-imports it; a wrong length is ConfigError', async () => {
    const p = createNobleProvider({ random: seededRandom('slh export') });
    const pair = await p.generateKeyPair('slh-dsa-shake-256f');
    const material = await p.exportPrivateKey(pair.privateKey);
    if (!('secretKey' in material)) throw new Error('expected SLH-DSA material');
    expect(material.secretKey).toHaveLength(128);
    expect(material.secretKey.subarray(64)).toEqual(pair.publicKey);
    expect((await p.importPrivateKey(material)).publicKey).toEqual(pair.publicKey);
    await expect(p.importPrivateKey({ algorithm: 'slh-dsa-shake-256f', secretKey: material.secretKey.subarray(1) })).rejects.toBeInstanceOf(ConfigError);
    await expect(p.importPrivateKey({ algorithm: 'slh-dsa-shake-192f', secretKey: material.secretKey })).rejects.toBeInstanceOf(ConfigError);
  });
});
