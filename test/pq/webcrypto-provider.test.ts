/**
 * The WebCrypto backend against the noble backend: the CryptoProvider
 * contract (src/pq/provider.ts) says what any backend must do, and noble is
 * the reference. Fed the same seeded stream, both must produce the same key
 * shares, public keys and deterministic signatures and leave the stream in the
 * same place; each must accept what the other produces; both must fail the
 * same way on the same bad input; and TLS 1.3 and QUIC must run across them.
 *
 * Every case runs twice: on this runtime's SubtleCrypto (Node 20 and 24 have
 * X25519 and Ed25519), and on one that refuses them, as older browsers do, so
 * both branches of the feature detection are exercised wherever the suite runs.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { concat, fromHex, toHex, utf8 } from '../../src/bytes.js';
import { AlertDescription, ConfigError, PqtlsError, UnsupportedAlgorithmError } from '../../src/errors.js';
import {
  NamedGroup, SignatureScheme, createNobleProvider, createWebCryptoProvider, groupName, schemeKeyAlgorithm, signatureSchemeName,
  type AeadAlgorithm, type CryptoProvider, type HashAlgorithm, type HeaderProtectionAlgorithm, type KeyAlgorithm, type KeyPair,
} from '../../src/pq/index.js';
import { rsaMode } from '../../src/pq/schemes.js';
import { subtleFeatures } from '../../src/pq/webcrypto/detect.js';
import { QuicConnection, type QuicServerOptions } from '../../src/quic/connection/connection.js';
import { seededRandom } from '../../src/testing/index.js';
import { CipherSuite } from '../../src/tls13/cipher-suites.js';
import { RSA_2048_PKCS1_HEX, RSA_2048_PUBLIC_HEX } from '../fixtures/rsa-2048.js';
import { QuicSim } from '../helpers/quic-sim.js';
import { clock, connectPair, pinnedKeyVerifier, testKey } from '../helpers/tls-pair.js';
import { seeded } from '../helpers/fc.js';

const S = SignatureScheme;
const rsaPkcs1 = fromHex(RSA_2048_PKCS1_HEX);
const message = utf8('TLS 1.3, server CertificateVerify');
const platform = globalThis.crypto.subtle;

/**
 * This runtime's SubtleCrypto with X25519 and Ed25519 taken away: every call
 * naming them fails with NotSupportedError, as in a runtime that predates them.
 */
function withoutSecureCurves(real: SubtleCrypto): SubtleCrypto {
  const names = (v: unknown): string[] =>
    typeof v === 'string' ? [v] : typeof v === 'object' && v !== null && 'name' in v ? [String((v as { name: unknown }).name)] : [];
  return new Proxy(real, {
    get(target, prop) {
      const f: unknown = Reflect.get(target, prop, target);
      if (typeof f !== 'function') return f;
      return async (...args: unknown[]) => {
        if (args.flatMap(names).some((n) => n === 'X25519' || n === 'Ed25519')) throw new DOMException(`Unrecognized algorithm name`, 'NotSupportedError');
        return (f as (...a: unknown[]) => Promise<unknown>).apply(target, args);
      };
    },
  });
}

const VARIANTS = [
  ['this runtime\'s SubtleCrypto', platform],
  ['a SubtleCrypto without X25519 and Ed25519', withoutSecureCurves(platform)],
] as const;

const keyFor = (p: CryptoProvider, alg: KeyAlgorithm): Promise<KeyPair> =>
  alg === 'rsa' || alg === 'rsa-pss' ? p.importPrivateKey({ algorithm: alg, pkcs1: rsaPkcs1 }) : p.generateKeyPair(alg);

/** The outcome of a call as data: a value's hex, or the error's class and alert. */
async function outcome(f: () => Promise<Uint8Array | boolean | null>): Promise<string> {
  try {
    const r = await f();
    return r instanceof Uint8Array ? toHex(r) : String(r);
  } catch (e) {
    if (e instanceof PqtlsError) return `${e.constructor.name} alert ${e.alert}`;
    throw e;
  }
}

describe('feature detection (once per SubtleCrypto, by reproducing RFC 7748 and RFC 8032 vectors)', () => {
  it('finds X25519 and Ed25519 exactly when this runtime can generate such keys, and neither when they are refused', async () => {
    const can = async (name: string, usages: KeyUsage[]): Promise<boolean> =>
      platform.generateKey({ name }, false, usages).then(() => true, () => false);
    expect(await subtleFeatures(platform)).toEqual({ x25519: await can('X25519', ['deriveBits']), ed25519: await can('Ed25519', ['sign', 'verify']) });
    expect(await subtleFeatures(withoutSecureCurves(platform))).toEqual({ x25519: false, ed25519: false });
  });

  it('creating a provider calls nothing on SubtleCrypto: detection waits for first use (workerd refuses async work in global scope)', async () => {
    const calls: string[] = [];
    const counting = new Proxy(platform, {
      get(target, prop) {
        const f: unknown = Reflect.get(target, prop, target);
        if (typeof f !== 'function') return f;
        return (...args: unknown[]) => {
          calls.push(String(prop));
          return (f as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    const web = createWebCryptoProvider({ subtle: counting, random: seededRandom('lazy') });
    expect(calls).toEqual([]);
    await web.keyExchange(NamedGroup.x25519).generate();
    expect(calls.length).toBeGreaterThan(0);
  });

  it('a runtime without crypto.subtle gets a ConfigError naming the alternative', () => {
    const saved = Object.getOwnPropertyDescriptor(globalThis, 'crypto');
    Object.defineProperty(globalThis, 'crypto', { value: {}, configurable: true });
    try {
      expect(() => createWebCryptoProvider()).toThrow(/createNobleProvider/);
    } finally {
      if (saved) Object.defineProperty(globalThis, 'crypto', saved);
    }
    expect(createWebCryptoProvider().name).toBe('webcrypto');
  });
});

describe.each(VARIANTS)('createWebCryptoProvider on %s', (_, subtle) => {
  /** Both backends on identical seeded streams. */
  const twins = (seed: string): { web: CryptoProvider; noble: CryptoProvider } =>
    ({ web: createWebCryptoProvider({ random: seededRandom(seed), subtle }), noble: createNobleProvider({ random: seededRandom(seed) }) });

  it('offers the same groups and schemes as noble, in the same order, under its own name', () => {
    const { web, noble } = twins('lists');
    expect(web.name).toBe('webcrypto');
    expect(web.groups).toEqual(noble.groups);
    expect(web.signatureSchemes).toEqual(noble.signatureSchemes);
  });

  it('refuses unknown groups and schemes with UnsupportedAlgorithmError, and does not generate RSA keys', async () => {
    const { web } = twins('unsupported');
    expect(() => web.keyExchange(0x0019 as NamedGroup)).toThrow(UnsupportedAlgorithmError);
    const { privateKey, publicKey } = await web.generateKeyPair('ecdsa-p256');
    await expect(web.sign(0x0203 as SignatureScheme, privateKey, message)).rejects.toBeInstanceOf(UnsupportedAlgorithmError);
    await expect(web.verify(0x0203 as SignatureScheme, publicKey, message, new Uint8Array(64))).rejects.toBeInstanceOf(UnsupportedAlgorithmError);
    await expect(web.generateKeyPair('rsa')).rejects.toBeInstanceOf(UnsupportedAlgorithmError);
  });

  describe('same seeded stream, same bytes as noble', () => {
    it('key shares, server shares and secrets for every group (draw order of src/pq/kex-groups.ts)', async () => {
      const { web, noble } = twins('kex equivalence');
      for (const group of noble.groups) {
        const [a, b] = [await web.keyExchange(group).generate(), await noble.keyExchange(group).generate()];
        expect(toHex(a.share), groupName(group)).toBe(toHex(b.share));
        expect(a.privateKey).toEqual({ algorithm: 'kex', provider: 'webcrypto' });
        const [x, y] = [await web.keyExchange(group).encapsulate(b.share), await noble.keyExchange(group).encapsulate(a.share)];
        expect(toHex(x.share), groupName(group)).toBe(toHex(y.share));
        expect(toHex(x.secret), groupName(group)).toBe(toHex(y.secret));
        expect(toHex(await a.complete(y.share)), groupName(group)).toBe(toHex(x.secret));
      }
      expect(toHex(await web.random(16))).toBe(toHex(await noble.random(16)));
    });

    it('concurrent exchanges on one provider draw in call order, as noble\'s synchronous code does', async () => {
      const { web, noble } = twins('kex concurrency');
      const groups = [NamedGroup.SecP256r1MLKEM768, NamedGroup.x25519, NamedGroup.X25519MLKEM768, NamedGroup.secp384r1];
      const a = await Promise.all(groups.map((g) => web.keyExchange(g).generate()));
      const b = await Promise.all(groups.map((g) => noble.keyExchange(g).generate()));
      expect(a.map((s) => toHex(s.share))).toEqual(b.map((s) => toHex(s.share)));
      const x = await Promise.all(groups.map((g, i) => web.keyExchange(g).encapsulate((b[i] as { share: Uint8Array }).share)));
      const y = await Promise.all(groups.map((g, i) => noble.keyExchange(g).encapsulate((b[i] as { share: Uint8Array }).share)));
      expect(x.map((e) => toHex(e.share) + toHex(e.secret))).toEqual(y.map((e) => toHex(e.share) + toHex(e.secret)));
    });

    it('public keys for every key algorithm, signatures for every deterministic scheme, and the same draws for the rest', async () => {
      const { web, noble } = twins('signature equivalence');
      for (const scheme of noble.signatureSchemes) {
        const alg = schemeKeyAlgorithm(scheme);
        const [a, b] = [await keyFor(web, alg), await keyFor(noble, alg)];
        const name = signatureSchemeName(scheme);
        expect(toHex(a.publicKey), name).toBe(toHex(b.publicKey));
        const [sa, sb] = [await web.sign(scheme, a.privateKey, message), await noble.sign(scheme, b.privateKey, message)];
        // ECDSA's nonce and RSA-PSS's salt are SubtleCrypto's own; everything else is a function of key, message and our draws.
        const platformDrawn = alg === 'ecdsa-p256' || alg === 'ecdsa-p384' || ((alg === 'rsa' || alg === 'rsa-pss') && rsaMode(scheme).pss);
        if (!platformDrawn) expect(toHex(sa), name).toBe(toHex(sb));
        else expect(await noble.verify(scheme, b.publicKey, message, sa), name).toBe(true);
        expect(toHex(await web.random(8)), `${name}: streams in step`).toBe(toHex(await noble.random(8)));
      }
    });

    it('exported private key material, and its re-import', async () => {
      const { web, noble } = twins('export');
      for (const alg of ['ml-dsa-44', 'ml-dsa-65', 'ml-dsa-87', 'ed25519', 'ecdsa-p256', 'ecdsa-p384', 'rsa'] as const) {
        const [a, b] = [await keyFor(web, alg), await keyFor(noble, alg)];
        const material = await web.exportPrivateKey(a.privateKey);
        expect(material, alg).toEqual(await noble.exportPrivateKey(b.privateKey));
        expect(toHex((await web.importPrivateKey(material)).publicKey), alg).toBe(toHex(a.publicKey));
      }
    });

    it('SLH-DSA (certificates only) through noble: same key and signature, each verifies the other\'s', async () => {
      const { web, noble } = twins('slh-dsa');
      const alg = 'slh-dsa-sha2-128f' as const;
      const [a, b] = [await web.generateKeyPair(alg), await noble.generateKeyPair(alg)];
      expect(toHex(a.publicKey)).toBe(toHex(b.publicKey));
      const [sa, sb] = [await web.sign(alg, a.privateKey, message), await noble.sign(alg, b.privateKey, message)];
      expect(toHex(sa)).toBe(toHex(sb));
      expect(await web.verify(alg, b.publicKey, message, sa)).toBe(true);
      expect(await noble.verify(alg, a.publicKey, message, sa)).toBe(true);
      await expect(web.sign(alg, (await web.generateKeyPair('ed25519')).privateKey, message)).rejects.toBeInstanceOf(ConfigError);
    });
  });

  describe('across backends', () => {
    it('every scheme: signed by one backend, verified by the other (and tampering caught by both)', async () => {
      const { web, noble } = twins('cross verify');
      for (const scheme of noble.signatureSchemes) {
        const alg = schemeKeyAlgorithm(scheme);
        for (const [signer, verifier] of [[web, noble], [noble, web], [web, web]] as const) {
          const key = await keyFor(signer, alg);
          const sig = await signer.sign(scheme, key.privateKey, message);
          const label = `${signatureSchemeName(scheme)} ${signer.name} → ${verifier.name}`;
          expect(await verifier.verify(scheme, key.publicKey, message, sig), label).toBe(true);
          expect(await verifier.verify(scheme, key.publicKey, utf8('another message'), sig), label).toBe(false);
          const bent = sig.slice();
          bent[bent.length >> 1] = (bent[bent.length >> 1] as number) ^ 0x10;
          expect(await verifier.verify(scheme, key.publicKey, message, bent), label).toBe(false);
        }
      }
    });

    it('every group: client on one backend, server on the other, the same secret', async () => {
      const web = createWebCryptoProvider({ random: seededRandom('cross kex web'), subtle });
      const noble = createNobleProvider({ random: seededRandom('cross kex noble') });
      for (const group of noble.groups) {
        for (const [client, server] of [[web, noble], [noble, web]] as const) {
          const share = await client.keyExchange(group).generate();
          const reply = await server.keyExchange(group).encapsulate(share.share);
          expect(toHex(await share.complete(reply.share)), `${groupName(group)} ${client.name} ↔ ${server.name}`).toBe(toHex(reply.secret));
        }
      }
    });
  });

  describe('symmetric primitives equal noble', () => {
    const hashes: readonly HashAlgorithm[] = ['SHA-256', 'SHA-384', 'SHA-512'];
    const { web, noble } = twins('symmetric');

    it('HMAC (empty keys included), HKDF-Extract (empty salt = HashLen zeros) and HKDF-Expand (RFC 5869)', async () => {
      await fc.assert(fc.asyncProperty(
        fc.constantFrom(...hashes), fc.uint8Array({ maxLength: 200 }), fc.uint8Array({ maxLength: 80 }), fc.uint8Array({ maxLength: 40 }),
        fc.integer({ min: 0, max: 600 }),
        async (alg, key, ikm, info, length) => {
          expect(toHex(await web.hmac(alg, key, ikm))).toBe(toHex(await noble.hmac(alg, key, ikm)));
          const prk = await web.hkdfExtract(alg, key, ikm);
          expect(toHex(prk)).toBe(toHex(await noble.hkdfExtract(alg, key, ikm)));
          expect(await outcome(() => web.hkdfExpand(alg, prk, info, length))).toBe(await outcome(() => noble.hkdfExpand(alg, prk, info, length)));
        },
      ), seeded(45080, { numRuns: 60 }));
      expect(toHex(await web.hmac('SHA-384', new Uint8Array(0), utf8('x')))).toBe(toHex(await noble.hmac('SHA-384', new Uint8Array(0), utf8('x'))));
      for (const [prk, length] of [[new Uint8Array(32), 255 * 32 + 1], [new Uint8Array(32), -1], [new Uint8Array(31), 32]] as const) {
        await expect(web.hkdfExpand('SHA-256', prk, new Uint8Array(0), length)).rejects.toBeInstanceOf(ConfigError);
      }
    });

    const aeads: readonly AeadAlgorithm[] = ['AES-128-GCM', 'AES-256-GCM', 'CHACHA20-POLY1305'];
    const keyLength = (alg: AeadAlgorithm | HeaderProtectionAlgorithm): number => (alg === 'AES-128-GCM' || alg === 'AES-128-ECB' ? 16 : 32);

    it('AEAD seal equals noble, each opens the other, and any tampering gives null (RFC 8446 §5.2)', async () => {
      await fc.assert(fc.asyncProperty(
        fc.constantFrom(...aeads), fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 12, maxLength: 12 }),
        fc.uint8Array({ maxLength: 20 }), fc.uint8Array({ maxLength: 300 }), fc.nat(),
        async (alg, keyBytes, nonce, aad, plaintext, where) => {
          const key = keyBytes.subarray(0, keyLength(alg));
          const [a, b] = [await web.aead(alg, key), await noble.aead(alg, key)];
          const sealed = await a.seal(nonce, aad, plaintext);
          expect(toHex(sealed)).toBe(toHex(await b.seal(nonce, aad, plaintext)));
          expect(toHex((await b.open(nonce, aad, sealed)) ?? new Uint8Array([0xee]))).toBe(toHex(plaintext));
          expect(toHex((await a.open(nonce, aad, sealed)) ?? new Uint8Array([0xee]))).toBe(toHex(plaintext));
          const bent = sealed.slice();
          bent[where % bent.length] = (bent[where % bent.length] as number) ^ 0x01;
          expect(await a.open(nonce, aad, bent)).toBeNull();
          expect(await a.open(nonce, concat(aad, Uint8Array.of(0)), sealed)).toBeNull();
        },
      ), seeded(11720, { numRuns: 80 }));
    });

    it('AES-GCM works on views into larger buffers, and the caller may reuse its buffers at once', async () => {
      const key = seededRandom('views')(16);
      const [a, b] = [await web.aead('AES-128-GCM', key), await noble.aead('AES-128-GCM', key)];
      const big = seededRandom('views big')(100);
      const [nonce, aad, pt] = [big.subarray(1, 13), big.subarray(20, 33), big.subarray(40, 90)];
      const want = await b.seal(nonce, aad, pt);
      const pending = a.seal(nonce, aad, pt);
      big.fill(0);
      expect(toHex(await pending)).toBe(toHex(want));
    });

    it('AEAD misuse: wrong key length and seal nonce length are ConfigError; open of short input or bad nonce is null; no sealInto', async () => {
      await expect(web.aead('AES-128-GCM', new Uint8Array(32))).rejects.toBeInstanceOf(ConfigError);
      await expect(web.aead('CHACHA20-POLY1305', new Uint8Array(16))).rejects.toBeInstanceOf(ConfigError);
      const a = await web.aead('AES-256-GCM', new Uint8Array(32));
      expect(a.sealInto).toBeUndefined();
      await expect(a.seal(new Uint8Array(8), new Uint8Array(0), new Uint8Array(1))).rejects.toBeInstanceOf(ConfigError);
      expect(await a.open(new Uint8Array(12), new Uint8Array(0), new Uint8Array(15))).toBeNull();
      expect(await a.open(new Uint8Array(16), new Uint8Array(0), new Uint8Array(32))).toBeNull();
    });

    it('hashes and header-protection masks are noble\'s (RFC 9001 §5.4.3, §5.4.4)', async () => {
      for (const alg of hashes) expect(toHex(web.hash(alg).digest(message))).toBe(toHex(noble.hash(alg).digest(message)));
      for (const alg of ['AES-128-ECB', 'AES-256-ECB', 'CHACHA20'] as const) {
        const key = seededRandom(`hp ${alg}`)(keyLength(alg));
        const [a, b] = [await web.headerProtection(alg, key), await noble.headerProtection(alg, key)];
        const sample = seededRandom(`hp sample ${alg}`)(16);
        expect(toHex(await a.mask(sample))).toBe(toHex(await b.mask(sample)));
      }
    });
  });

  describe('errors equal noble (RFC 8446 §4.2.8.2, §7.4.2: bad shares are illegal_parameter)', () => {
    const illegal = `IllegalParameterError alert ${AlertDescription.illegal_parameter}`;

    it('short and long shares, client and server side, for every group', async () => {
      const { web, noble } = twins('share lengths');
      for (const group of noble.groups) {
        const kex = { web: web.keyExchange(group), noble: noble.keyExchange(group) };
        for (const delta of [-1, 1]) {
          const badClient = new Uint8Array(kex.noble.clientShareLength + delta).fill(4);
          const badServer = new Uint8Array(kex.noble.serverShareLength + delta).fill(4);
          const [a, b] = [await kex.web.generate(), await kex.noble.generate()];
          const got = [await outcome(async () => (await kex.web.encapsulate(badClient)).secret), await outcome(() => a.complete(badServer))];
          const want = [await outcome(async () => (await kex.noble.encapsulate(badClient)).secret), await outcome(() => b.complete(badServer))];
          expect(got, `${groupName(group)} ${delta}`).toEqual(want);
          expect(got).toEqual([illegal, illegal]);
        }
      }
    });

    it('bad points: low-order X25519, compressed, off-curve and zero NIST points, alone and inside hybrids; the streams stay in step', async () => {
      const { web, noble } = twins('bad points');
      const p256 = (await noble.keyExchange(NamedGroup.secp256r1).generate()).share;
      await web.keyExchange(NamedGroup.secp256r1).generate();
      const offCurve = p256.slice();
      offCurve[64] = (offCurve[64] as number) ^ 1;
      const compressed = concat(Uint8Array.of(0x02 + ((p256[64] as number) & 1)), p256.subarray(1, 33), new Uint8Array(32));
      const hybrid = concat(Uint8Array.of(0x06 + ((p256[64] as number) & 1)), p256.subarray(1));
      const mlkem768 = (await noble.keyExchange(NamedGroup.MLKEM768).generate()).share;
      await web.keyExchange(NamedGroup.MLKEM768).generate();
      const cases: [NamedGroup, Uint8Array][] = [
        [NamedGroup.x25519, new Uint8Array(32)],
        [NamedGroup.x25519, concat(Uint8Array.of(1), new Uint8Array(31))],
        [NamedGroup.secp256r1, offCurve],
        [NamedGroup.secp256r1, compressed],
        [NamedGroup.secp256r1, hybrid],
        [NamedGroup.secp256r1, concat(Uint8Array.of(4), new Uint8Array(64))],
        [NamedGroup.secp384r1, concat(Uint8Array.of(4), new Uint8Array(96).fill(1))],
        [NamedGroup.X25519MLKEM768, concat(mlkem768, new Uint8Array(32))],
        [NamedGroup.SecP256r1MLKEM768, concat(offCurve, mlkem768)],
        [NamedGroup.MLKEM768, concat(new Uint8Array(1152).fill(0xff), new Uint8Array(32))],
      ];
      for (const [group, share] of cases) {
        const got = await outcome(async () => (await web.keyExchange(group).encapsulate(share)).secret);
        expect(got, `${groupName(group)} encapsulate`).toBe(illegal);
        expect(got).toBe(await outcome(async () => (await noble.keyExchange(group).encapsulate(share)).secret));
        expect(toHex(await web.random(4)), `${groupName(group)}: streams in step`).toBe(toHex(await noble.random(4)));
        if (group === NamedGroup.MLKEM768) continue; // a server share is a ciphertext: any well-formed one is accepted
        const serverShare = group === NamedGroup.X25519MLKEM768 ? concat(new Uint8Array(1088), share.subarray(1184)) : share.subarray(0, web.keyExchange(group).serverShareLength);
        const [pending, reference] = [await web.keyExchange(group).generate(), await noble.keyExchange(group).generate()];
        expect(await outcome(() => pending.complete(serverShare)), `${groupName(group)} complete`).toBe(illegal);
        expect(await outcome(() => reference.complete(serverShare)), `${groupName(group)} complete`).toBe(illegal);
      }
    });

    it('a key share completes once; a second call is ConfigError', async () => {
      const { web } = twins('once');
      for (const group of [NamedGroup.x25519, NamedGroup.secp256r1, NamedGroup.X25519MLKEM768]) {
        const share = await web.keyExchange(group).generate();
        const reply = await web.keyExchange(group).encapsulate(share.share);
        expect(toHex(await share.complete(reply.share))).toBe(toHex(reply.secret));
        await expect(share.complete(reply.share)).rejects.toBeInstanceOf(ConfigError);
      }
    });

    it('bad public keys are IllegalParameterError, bad signatures false, as on noble (provider.ts verify contract)', async () => {
      const { web, noble } = twins('bad keys');
      const ed = await noble.generateKeyPair('ed25519');
      const ec = await noble.generateKeyPair('ecdsa-p256');
      const rsaPub = fromHex(RSA_2048_PUBLIC_HEX);
      const offCurve = ec.publicKey.slice();
      offCurve[64] = (offCurve[64] as number) ^ 1;
      const ecSig = await noble.sign(S.ecdsa_secp256r1_sha256, ec.privateKey, message);
      const ecCompressed = concat(Uint8Array.of(0x02 + ((ec.publicKey[64] as number) & 1)), ec.publicKey.subarray(1, 33));
      const ecHybrid = concat(Uint8Array.of(0x06 + ((ec.publicKey[64] as number) & 1)), ec.publicKey.subarray(1));
      const cases: [SignatureScheme, Uint8Array, Uint8Array][] = [
        [S.ecdsa_secp256r1_sha256, ecCompressed, ecSig],
        [S.ecdsa_secp256r1_sha256, ecHybrid, ecSig],
        [S.ed25519, ed.publicKey.subarray(0, 31), new Uint8Array(64)],
        [S.ed25519, fromHex('edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'), new Uint8Array(64)],
        [S.ed25519, ed.publicKey, new Uint8Array(64)],
        [S.ed25519, ed.publicKey, new Uint8Array(63)],
        [S.ecdsa_secp256r1_sha256, offCurve, fromHex('3006020101020101')],
        [S.ecdsa_secp256r1_sha256, Uint8Array.of(0), fromHex('3006020101020101')],
        [S.ecdsa_secp384r1_sha384, ec.publicKey, fromHex('3006020101020101')],
        [S.ecdsa_secp256r1_sha256, ec.publicKey, fromHex('3006020101020101')],
        [S.ecdsa_secp256r1_sha256, ec.publicKey, Uint8Array.of(0x30)],
        [S.rsa_pss_rsae_sha256, rsaPub.subarray(0, 100), new Uint8Array(256)],
        [S.rsa_pss_rsae_sha256, concat(rsaPub, Uint8Array.of(0)), new Uint8Array(256)],
        [S.rsa_pkcs1_sha256, rsaPub, new Uint8Array(255)],
        [S.rsa_pss_rsae_sha384, rsaPub, new Uint8Array(256).fill(0xff)],
        [S.mldsa65, new Uint8Array(1951), new Uint8Array(3309)],
        [S.mldsa65, new Uint8Array(1952), new Uint8Array(3309)],
      ];
      const results: string[] = [];
      for (const [scheme, pub, sig] of cases) {
        const got = await outcome(() => web.verify(scheme, pub, message, sig));
        expect(got, `${signatureSchemeName(scheme)} ${toHex(pub).slice(0, 16)}`).toBe(await outcome(() => noble.verify(scheme, pub, message, sig)));
        results.push(got);
      }
      expect(results).toContain(illegal);
      expect(results).toContain('false');
      expect(results.slice(0, 2)).toEqual(['true', illegal]);
    });

    it('private keys: foreign or mismatched references and invalid material are ConfigError', async () => {
      const { web, noble } = twins('private keys');
      const foreign = await noble.generateKeyPair('ed25519');
      await expect(web.sign(S.ed25519, foreign.privateKey, message)).rejects.toBeInstanceOf(ConfigError);
      const ed = await web.generateKeyPair('ed25519');
      await expect(web.sign(S.ecdsa_secp256r1_sha256, ed.privateKey, message)).rejects.toBeInstanceOf(ConfigError);
      const n = fromHex('ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551');
      for (const material of [
        { algorithm: 'ecdsa-p256', secret: n },
        { algorithm: 'ecdsa-p256', secret: new Uint8Array(32) },
        { algorithm: 'ecdsa-p384', secret: new Uint8Array(32).fill(1) },
        { algorithm: 'ed25519', secret: new Uint8Array(31) },
        { algorithm: 'rsa', pkcs1: rsaPkcs1.subarray(0, 200) },
        { algorithm: 'ml-dsa-65', seed: new Uint8Array(31) },
      ] as const) {
        await expect(web.importPrivateKey(material), material.algorithm).rejects.toBeInstanceOf(ConfigError);
      }
      const strict = createWebCryptoProvider({ random: seededRandom('floor'), subtle, minRsaSigningBits: 3072 });
      await expect(strict.importPrivateKey({ algorithm: 'rsa', pkcs1: rsaPkcs1 })).rejects.toBeInstanceOf(ConfigError);
      // The ref is opaque: no key bytes, and no CryptoKey, on it.
      expect(Object.values(ed.privateKey).some((v) => v instanceof Uint8Array || (typeof CryptoKey !== 'undefined' && v instanceof CryptoKey))).toBe(false);
    });
  });

  describe('a full TLS 1.3 handshake in memory, WebCrypto on one side and noble on the other (RFC 8446 §2)', () => {
    it.each([
      ['webcrypto client, noble server', 'web', 'noble'],
      ['noble client, webcrypto server', 'noble', 'web'],
    ] as const)('%s: X25519MLKEM768, ML-DSA-65, each cipher suite, then application data both ways', async (_name, clientSide, serverSide) => {
      const make = (which: 'web' | 'noble', seed: string): CryptoProvider =>
        which === 'web' ? createWebCryptoProvider({ random: seededRandom(seed), subtle }) : createNobleProvider({ random: seededRandom(seed) });
      const clientProvider = make(clientSide, 'tls client');
      const serverProvider = make(serverSide, 'tls server');
      const key = await testKey(serverProvider, 'ml-dsa-65');
      for (const suite of [CipherSuite.TLS_AES_128_GCM_SHA256, CipherSuite.TLS_AES_256_GCM_SHA384, CipherSuite.TLS_CHACHA20_POLY1305_SHA256]) {
        const { client, server } = await connectPair(
          { provider: clientProvider, verifier: pinnedKeyVerifier(key), groups: [NamedGroup.X25519MLKEM768], cipherSuites: [suite] },
          { provider: serverProvider, certificate: { chain: [key.publicKey], ...key } },
        );
        expect(client.error).toBeUndefined();
        expect(server.error).toBeUndefined();
        expect(client.handshakeInfo?.group).toBe(NamedGroup.X25519MLKEM768);
        expect(client.handshakeInfo?.peerSignatureScheme).toBe(S.mldsa65);
        expect(client.handshakeInfo?.cipherSuite.id).toBe(suite);
        await client.write(utf8('ping'));
        await server.receive(client.takeOutput());
        await server.write(utf8('pong'));
        await client.receive(server.takeOutput());
        const data = (c: typeof client): string[] => {
          const out: string[] = [];
          for (let e = c.poll(); e; e = c.poll()) if (e.type === 'data') out.push(new TextDecoder().decode(e.data));
          return out;
        };
        expect(data(server)).toEqual(['ping']);
        expect(data(client)).toEqual(['pong']);
      }
    });

    it('classical: X25519, P-256 and P-384 with Ed25519, ECDSA and RSA-PSS certificates, WebCrypto on both sides', async () => {
      const web = (seed: string): CryptoProvider => createWebCryptoProvider({ random: seededRandom(seed), subtle });
      for (const [group, alg] of [[NamedGroup.x25519, 'ed25519'], [NamedGroup.secp256r1, 'ecdsa-p256'], [NamedGroup.secp384r1, 'rsa']] as const) {
        const [c, s] = [web(`classical client ${group}`), web(`classical server ${group}`)];
        const serverKey = alg === 'rsa' ? { ...(await s.importPrivateKey({ algorithm: 'rsa', pkcs1: rsaPkcs1 })), keyAlgorithm: alg } : await testKey(s, alg);
        const { client, server } = await connectPair(
          { provider: c, verifier: pinnedKeyVerifier(serverKey), groups: [group] },
          { provider: s, certificate: { chain: [serverKey.publicKey], ...serverKey } },
        );
        expect(client.error, groupName(group)).toBeUndefined();
        expect(server.error, groupName(group)).toBeUndefined();
        expect(client.handshakeInfo?.group).toBe(group);
      }
    });
  });

  it('QUIC (RFC 9001) over the in-memory network: a WebCrypto server and a noble client, then a WebCrypto client and a noble server', async () => {
    for (const webServer of [true, false]) {
      const web = createWebCryptoProvider({ random: seededRandom(`quic web ${webServer}`), subtle });
      const noble = createNobleProvider({ random: seededRandom(`quic noble ${webServer}`) });
      const [serverProvider, clientProvider] = webServer ? [web, noble] : [noble, web];
      const key = await testKey(serverProvider, 'ml-dsa-65');
      const serverOptions: QuicServerOptions = { tls: { provider: serverProvider, now: clock, certificate: { chain: [key.publicKey], ...key }, alpnProtocols: ['q'] } };
      const conn = await QuicConnection.connect({
        tls: { provider: clientProvider, now: clock, serverName: 'web.test', verifier: pinnedKeyVerifier(key), alpnProtocols: ['q'], groups: ['X25519MLKEM768'] },
      }, 1_000_000);
      const sim = new QuicSim(conn, serverOptions);
      await sim.run(() => conn.isHandshakeComplete && sim.server?.isHandshakeComplete === true);
      expect(conn.error).toBeUndefined();
      expect(sim.server?.error).toBeUndefined();
      expect(conn.isHandshakeComplete && sim.server?.isHandshakeComplete).toBe(true);
    }
  });
});
