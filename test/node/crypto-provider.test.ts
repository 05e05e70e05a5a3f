/**
 * The node:crypto backend against the noble backend: the CryptoProvider
 * contract (src/pq/provider.ts) says what any backend must do, and noble is
 * the reference. Fed the same seeded stream, both must produce the same key
 * shares, public keys and deterministic signatures; each must accept what the
 * other produces; and both must fail the same way on the same bad input.
 */
import * as nodeCrypto from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { concat, fromHex, toHex, utf8 } from '../../src/bytes.js';
import { AlertDescription, ConfigError, PqtlsError, UnsupportedAlgorithmError } from '../../src/errors.js';
import { importRawPublic, okpPrivateKey, okpPrivateKeyPkcs8, okpPublicKey, okpPublicKeyJwk, okpPublicKeyPem, okpRawPublicKey, withoutStackTraces } from '../../src/node/crypto/key-objects.js';
import { createNodeCryptoProvider } from '../../src/node/index.js';
import {
  NamedGroup, SignatureScheme, createNobleProvider, groupName, schemeKeyAlgorithm, signatureSchemeName,
  type AeadAlgorithm, type CryptoProvider, type HashAlgorithm, type HeaderProtectionAlgorithm, type KeyAlgorithm, type KeyPair,
} from '../../src/pq/index.js';
import { seededRandom } from '../../src/testing/index.js';
import { CipherSuite } from '../../src/tls13/cipher-suites.js';
import { RSA_2048_PKCS1_HEX, RSA_2048_PUBLIC_HEX } from '../fixtures/rsa-2048.js';
import { connectPair, pinnedKeyVerifier, testKey } from '../helpers/tls-pair.js';
import { seeded } from '../helpers/fc.js';

const S = SignatureScheme;
const rsaPkcs1 = fromHex(RSA_2048_PKCS1_HEX);
const message = utf8('TLS 1.3, server CertificateVerify');

/** Both backends on identical seeded streams. */
function twins(seed: string): { node: CryptoProvider; noble: CryptoProvider } {
  return { node: createNodeCryptoProvider({ random: seededRandom(seed) }), noble: createNobleProvider({ random: seededRandom(seed) }) };
}

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

describe('createNodeCryptoProvider', () => {
  it('offers the same groups and schemes as noble, in the same order, under its own name', () => {
    const { node, noble } = twins('lists');
    expect(node.name).toBe('node');
    expect(node.groups).toEqual(noble.groups);
    expect(node.signatureSchemes).toEqual(noble.signatureSchemes);
  });

  it('refuses unknown groups and schemes with UnsupportedAlgorithmError, and does not generate RSA keys', async () => {
    const { node } = twins('unsupported');
    expect(() => node.keyExchange(0x0019 as NamedGroup)).toThrow(UnsupportedAlgorithmError);
    const { privateKey, publicKey } = await node.generateKeyPair('ecdsa-p256');
    await expect(node.sign(0x0203 as SignatureScheme, privateKey, message)).rejects.toBeInstanceOf(UnsupportedAlgorithmError);
    await expect(node.verify(0x0203 as SignatureScheme, publicKey, message, new Uint8Array(64))).rejects.toBeInstanceOf(UnsupportedAlgorithmError);
    await expect(node.generateKeyPair('rsa')).rejects.toBeInstanceOf(UnsupportedAlgorithmError);
  });
});

describe('raw key import', () => {
  it('the fast JWK import of X25519 and Ed25519 private keys gives the key the PKCS #8 import (RFC 8410) gives', () => {
    fc.assert(fc.property(fc.constantFrom('X25519', 'Ed25519' as const), fc.uint8Array({ minLength: 32, maxLength: 32 }), (curve, d) => {
      expect(toHex(okpRawPublicKey(okpPrivateKey(curve, d)))).toBe(toHex(okpRawPublicKey(okpPrivateKeyPkcs8(curve, d))));
    }), seeded(653, { numRuns: 20 }));
  });

  it('a public key imported through PEM (RFC 7468 around RFC 8410\'s SubjectPublicKeyInfo) is the key JWK (RFC 8037) gives', () => {
    fc.assert(fc.property(fc.constantFrom('X25519', 'Ed25519' as const), fc.uint8Array({ minLength: 32, maxLength: 32 }), (curve, d) => {
      const raw = okpRawPublicKey(okpPrivateKey(curve, d));
      expect(toHex(okpRawPublicKey(okpPublicKeyPem(curve, raw)))).toBe(toHex(raw));
      expect(toHex(okpRawPublicKey(okpPublicKeyJwk(curve, raw)))).toBe(toHex(raw));
      // Whichever import this runtime found cheaper.
      expect(toHex(okpRawPublicKey(okpPublicKey(curve, raw)))).toBe(toHex(raw));
    }), seeded(654, { numRuns: 20 }));
  });
});

describe('key imports without stack captures', () => {
  it('withoutStackTraces restores Error.stackTraceLimit after a return and after a throw; what it lets through has no frames', () => {
    const before = Error.stackTraceLimit;
    expect(withoutStackTraces(() => Error.stackTraceLimit)).toBe(0);
    expect(Error.stackTraceLimit).toBe(before);
    let thrown: unknown;
    try {
      withoutStackTraces(() => nodeCrypto.createPublicKey('not a key'));
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(Error);
    expect(String((thrown as Error).stack).split('\n').filter((l) => /^\s+at /.test(l))).toEqual([]);
    expect(Error.stackTraceLimit).toBe(before);
  });

  it('withoutStackTraces still runs the call where Error.stackTraceLimit cannot be written (a hardened realm)', () => {
    const before = Error.stackTraceLimit;
    Object.defineProperty(Error, 'stackTraceLimit', { value: before, writable: false, configurable: true });
    try {
      expect(withoutStackTraces(() => 'done')).toBe('done');
      expect(Error.stackTraceLimit).toBe(before);
    } finally {
      Object.defineProperty(Error, 'stackTraceLimit', { value: before, writable: true, configurable: true, enumerable: true });
    }
  });

  it('a raw public-key import, where the runtime has one (newer Node 24), is the key its SubjectPublicKeyInfo gives; refusals throw', () => {
    const { publicKey } = nodeCrypto.generateKeyPairSync('x25519');
    const raw = okpRawPublicKey(publicKey);
    const imported = importRawPublic('x25519', raw);
    const runtimeHasIt = ((): boolean => {
      try {
        nodeCrypto.createPublicKey({ key: raw, format: 'raw-public', asymmetricKeyType: 'x25519' } as unknown as Parameters<typeof nodeCrypto.createPublicKey>[0]);
        return true;
      } catch {
        return false;
      }
    })();
    // Node 20 has none: the PEM and JWK imports above serve it.
    expect(imported !== undefined).toBe(runtimeHasIt);
    if (!imported) return;
    expect(imported.equals(publicKey)).toBe(true);
    expect(() => importRawPublic('x25519', raw.subarray(1))).toThrow();
  });
});

describe('X25519 on OpenSSL\'s own generator (the default provider: OpenSSL makes the key pairs)', () => {
  it('shares agree with noble\'s both ways (RFC 7748 §6.1), and an all-zero secret is illegal_parameter (RFC 8446 §7.4.2)', async () => {
    const node = createNodeCryptoProvider();
    const noble = createNobleProvider({ random: seededRandom('own x25519') });
    for (const group of [NamedGroup.x25519, NamedGroup.X25519MLKEM768]) {
      const ours = await node.keyExchange(group).generate();
      const theirs = await noble.keyExchange(group).encapsulate(ours.share);
      expect(toHex(await ours.complete(theirs.share)), groupName(group)).toBe(toHex(theirs.secret));
      const nobleShare = await noble.keyExchange(group).generate();
      const reply = await node.keyExchange(group).encapsulate(nobleShare.share);
      expect(toHex(await nobleShare.complete(reply.share)), groupName(group)).toBe(toHex(reply.secret));
    }
    // Fresh key pairs each time.
    const [a, b] = [await node.keyExchange(NamedGroup.x25519).generate(), await node.keyExchange(NamedGroup.x25519).generate()];
    expect(toHex(a.share)).not.toBe(toHex(b.share));
    const illegal = `IllegalParameterError alert ${AlertDescription.illegal_parameter}`;
    for (const lowOrder of [new Uint8Array(32), concat(Uint8Array.of(1), new Uint8Array(31))]) {
      expect(await outcome(async () => (await node.keyExchange(NamedGroup.x25519).encapsulate(lowOrder)).secret)).toBe(illegal);
      const pending = await node.keyExchange(NamedGroup.x25519).generate();
      expect(await outcome(() => pending.complete(lowOrder))).toBe(illegal);
    }
  });
});

describe('symmetric operations offered on the calling thread (MaybeSync)', () => {
  it('hmac, hkdfExtract, hkdfExpand and aead each have a sync giving what the promise gives, on both backends (RFC 2104, RFC 5869)', async () => {
    for (const ffi of [true, false]) {
      const p = createNodeCryptoProvider({ ffi });
      const { hmac, hkdfExtract, hkdfExpand, aead } = p;
      if (!hmac.sync || !hkdfExtract.sync || !hkdfExpand.sync || !aead.sync) throw new Error('the node provider offers its symmetric operations synchronously');
      const key = seededRandom(`sync ${ffi}`)(48);
      const data = utf8('tls13 c hs traffic');
      for (const alg of ['SHA-256', 'SHA-384'] as const) {
        expect(toHex(hmac.sync(alg, key, data))).toBe(toHex(await hmac(alg, key, data)));
        expect(toHex(hkdfExtract.sync(alg, key, data))).toBe(toHex(await hkdfExtract(alg, key, data)));
        expect(toHex(hkdfExpand.sync(alg, key, data, 100))).toBe(toHex(await hkdfExpand(alg, key, data, 100)));
      }
      // Refusals throw from sync where the promise rejects.
      expect(() => hkdfExpand.sync?.('SHA-256', key, data, 255 * 32 + 1)).toThrow(ConfigError);
      await expect(hkdfExpand('SHA-256', key, data, 255 * 32 + 1)).rejects.toThrow(ConfigError);
      const nonce = new Uint8Array(12);
      const sealed = await (await aead('AES-128-GCM', key.subarray(0, 16))).seal(nonce, data, data);
      expect(toHex(await aead.sync('AES-128-GCM', key.subarray(0, 16)).seal(nonce, data, data))).toBe(toHex(sealed));
    }
  });
});

describe('same seeded stream, same bytes as noble', () => {
  it('key shares, server shares and secrets for every group (draw order of src/pq/kex-groups.ts)', async () => {
    const { node, noble } = twins('kex equivalence');
    for (const group of noble.groups) {
      const [a, b] = [await node.keyExchange(group).generate(), await noble.keyExchange(group).generate()];
      expect(toHex(a.share), groupName(group)).toBe(toHex(b.share));
      expect(a.privateKey).toEqual({ algorithm: 'kex', provider: 'node' });
      const [x, y] = [await node.keyExchange(group).encapsulate(b.share), await noble.keyExchange(group).encapsulate(a.share)];
      expect(toHex(x.share), groupName(group)).toBe(toHex(y.share));
      expect(toHex(x.secret), groupName(group)).toBe(toHex(y.secret));
      expect(toHex(await a.complete(y.share)), groupName(group)).toBe(toHex(x.secret));
    }
    // Both streams were consumed by the same amounts.
    expect(toHex(await node.random(16))).toBe(toHex(await noble.random(16)));
  });

  it('public keys for every key algorithm, signatures for every deterministic scheme, and the same draws for the rest', async () => {
    const { node, noble } = twins('signature equivalence');
    for (const scheme of noble.signatureSchemes) {
      const alg = schemeKeyAlgorithm(scheme);
      const [a, b] = [await keyFor(node, alg), await keyFor(noble, alg)];
      const name = signatureSchemeName(scheme);
      expect(toHex(a.publicKey), name).toBe(toHex(b.publicKey));
      const [sa, sb] = [await node.sign(scheme, a.privateKey, message), await noble.sign(scheme, b.privateKey, message)];
      // ECDSA: noble hedges RFC 6979 with our bytes, OpenSSL picks its own nonce. Everything else, given the
      // same stream (ML-DSA's rnd, PSS's salt), is a function of key and message.
      const ecdsa = alg === 'ecdsa-p256' || alg === 'ecdsa-p384';
      if (!ecdsa) expect(toHex(sa), name).toBe(toHex(sb));
      else expect(await noble.verify(scheme, b.publicKey, message, sa), name).toBe(true);
      expect(toHex(await node.random(8)), `${name}: streams in step`).toBe(toHex(await noble.random(8)));
    }
  });

  it('exported private key material, and its re-import', async () => {
    const { node, noble } = twins('export');
    for (const alg of ['ml-dsa-44', 'ml-dsa-65', 'ml-dsa-87', 'ed25519', 'ecdsa-p256', 'ecdsa-p384', 'rsa'] as const) {
      const [a, b] = [await keyFor(node, alg), await keyFor(noble, alg)];
      const material = await node.exportPrivateKey(a.privateKey);
      expect(material, alg).toEqual(await noble.exportPrivateKey(b.privateKey));
      expect(toHex((await node.importPrivateKey(material)).publicKey), alg).toBe(toHex(a.publicKey));
    }
  });
});

describe('SLH-DSA (certificates only) is delegated to noble, like ML-DSA', () => {
  it('same seeded stream, same key and signature as noble; each verifies the other\'s; material round-trips', async () => {
    const { node, noble } = twins('slh-dsa');
    const alg = 'slh-dsa-sha2-128f' as const;
    const [a, b] = [await node.generateKeyPair(alg), await noble.generateKeyPair(alg)];
    expect(toHex(a.publicKey)).toBe(toHex(b.publicKey));
    const [sa, sb] = [await node.sign(alg, a.privateKey, message), await noble.sign(alg, b.privateKey, message)];
    expect(toHex(sa)).toBe(toHex(sb));
    expect(await node.verify(alg, b.publicKey, message, sa)).toBe(true);
    expect(await noble.verify(alg, a.publicKey, message, sa)).toBe(true);
    const material = await node.exportPrivateKey(a.privateKey);
    expect(material).toEqual(await noble.exportPrivateKey(b.privateKey));
    expect(toHex((await node.importPrivateKey(material)).publicKey)).toBe(toHex(a.publicKey));
    await expect(node.sign(alg, (await node.generateKeyPair('ed25519')).privateKey, message)).rejects.toBeInstanceOf(ConfigError);
    expect(node.signatureSchemes).toEqual(noble.signatureSchemes);
  });
});

describe('across backends', () => {
  it('every scheme: signed by one backend, verified by the other (and tampering caught by both)', async () => {
    const { node, noble } = twins('cross verify');
    for (const scheme of noble.signatureSchemes) {
      const alg = schemeKeyAlgorithm(scheme);
      for (const [signer, verifier] of [[node, noble], [noble, node]] as const) {
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
    const node = createNodeCryptoProvider({ random: seededRandom('cross kex node') });
    const noble = createNobleProvider({ random: seededRandom('cross kex noble') });
    for (const group of noble.groups) {
      for (const [client, server] of [[node, noble], [noble, node]] as const) {
        const share = await client.keyExchange(group).generate();
        const reply = await server.keyExchange(group).encapsulate(share.share);
        expect(toHex(await share.complete(reply.share)), `${groupName(group)} ${client.name} ↔ ${server.name}`).toBe(toHex(reply.secret));
      }
    }
  });
});

describe('symmetric primitives equal noble', () => {
  const hashes: readonly HashAlgorithm[] = ['SHA-256', 'SHA-384', 'SHA-512'];
  const { node, noble } = twins('symmetric');

  it('hash: one-shot, incremental, digest mid-stream and clone (RFC 8446 §4.4.1 transcript use)', () => {
    fc.assert(fc.property(fc.constantFrom(...hashes), fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 5 }), (alg, parts) => {
      const [a, b] = [node.hash(alg), noble.hash(alg)];
      expect([a.outputLength, a.blockLength]).toEqual([b.outputLength, b.blockLength]);
      const [ca, cb] = [a.create(), b.create()];
      for (const p of parts) {
        ca.update(p);
        cb.update(p);
        expect(toHex(ca.digest())).toBe(toHex(cb.digest()));
      }
      const fork = ca.clone().update(Uint8Array.of(1));
      expect(toHex(ca.digest())).toBe(toHex(b.digest(concat(...parts))));
      expect(toHex(fork.digest())).toBe(toHex(b.digest(concat(...parts, Uint8Array.of(1)))));
      expect(toHex(a.digest(concat(...parts)))).toBe(toHex(b.digest(concat(...parts))));
    }), seeded(67292, { numRuns: 60 }));
  });

  it('HMAC, HKDF-Extract (empty salt = HashLen zeros) and HKDF-Expand (RFC 5869)', async () => {
    await fc.assert(fc.asyncProperty(
      fc.constantFrom(...hashes), fc.uint8Array({ maxLength: 200 }), fc.uint8Array({ maxLength: 80 }), fc.uint8Array({ maxLength: 40 }),
      fc.integer({ min: 0, max: 600 }),
      async (alg, key, ikm, info, length) => {
        expect(toHex(await node.hmac(alg, key, ikm))).toBe(toHex(await noble.hmac(alg, key, ikm)));
        const prk = await node.hkdfExtract(alg, key, ikm);
        expect(toHex(prk)).toBe(toHex(await noble.hkdfExtract(alg, key, ikm)));
        expect(await outcome(() => node.hkdfExpand(alg, prk, info, length))).toBe(await outcome(() => noble.hkdfExpand(alg, prk, info, length)));
      },
    ), seeded(45079, { numRuns: 60 }));
    // Out-of-range lengths and short PRKs are caller bugs on both: ConfigError.
    for (const [prk, length] of [[new Uint8Array(32), 255 * 32 + 1], [new Uint8Array(32), -1], [new Uint8Array(31), 32]] as const) {
      await expect(node.hkdfExpand('SHA-256', prk, new Uint8Array(0), length)).rejects.toBeInstanceOf(ConfigError);
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
        const [a, b] = [await node.aead(alg, key), await noble.aead(alg, key)];
        const sealed = await a.seal(nonce, aad, plaintext);
        expect(toHex(sealed)).toBe(toHex(await b.seal(nonce, aad, plaintext)));
        expect(toHex((await a.open(nonce, aad, sealed)) ?? new Uint8Array([0xee]))).toBe(toHex(plaintext));
        const bent = sealed.slice();
        bent[where % bent.length] = (bent[where % bent.length] as number) ^ 0x01;
        expect(await a.open(nonce, aad, bent)).toBeNull();
        expect(await a.open(nonce, concat(aad, Uint8Array.of(0)), sealed)).toBeNull();
      },
    ), seeded(11719, { numRuns: 80 }));
  });

  it('AEAD misuse: wrong key length and seal nonce length are ConfigError; open of short input or bad nonce is null', async () => {
    await expect(node.aead('AES-128-GCM', new Uint8Array(32))).rejects.toBeInstanceOf(ConfigError);
    await expect(node.aead('CHACHA20-POLY1305', new Uint8Array(16))).rejects.toBeInstanceOf(ConfigError);
    const a = await node.aead('AES-256-GCM', new Uint8Array(32));
    await expect(a.seal(new Uint8Array(8), new Uint8Array(0), new Uint8Array(1))).rejects.toBeInstanceOf(ConfigError);
    expect(await a.open(new Uint8Array(12), new Uint8Array(0), new Uint8Array(15))).toBeNull();
    expect(await a.open(new Uint8Array(16), new Uint8Array(0), new Uint8Array(32))).toBeNull();
  });

  it('header protection masks equal noble, many samples per key (RFC 9001 §5.4.3, §5.4.4)', async () => {
    const algs: readonly HeaderProtectionAlgorithm[] = ['AES-128-ECB', 'AES-256-ECB', 'CHACHA20'];
    for (const alg of algs) {
      const key = seededRandom(`hp ${alg}`)(keyLength(alg));
      const [a, b] = [await node.headerProtection(alg, key), await noble.headerProtection(alg, key)];
      await fc.assert(fc.asyncProperty(fc.uint8Array({ minLength: 16, maxLength: 16 }), async (sample) => {
        expect(toHex(await a.mask(sample))).toBe(toHex(await b.mask(sample)));
        expect(toHex(a.maskSync!(sample))).toBe(toHex(await b.mask(sample)));
      }), seeded(89505, { numRuns: 40 }));
      await expect(a.mask(new Uint8Array(15))).rejects.toBeInstanceOf(ConfigError);
      expect(() => a.maskSync!(new Uint8Array(15))).toThrow(ConfigError);
    }
    await expect(node.headerProtection('AES-256-ECB', new Uint8Array(16))).rejects.toBeInstanceOf(ConfigError);
  });

  it('RFC 9001 Appendix A.5: the ChaCha20 short-header mask', async () => {
    const hp = await node.headerProtection('CHACHA20', fromHex('25a282b9e82f06f21f488917a4fc8f1b73573685608597d0efcb076b0ab7a7a4'));
    expect(toHex(await hp.mask(fromHex('5e5cd55c41f69080575d7999c25a5bfb')))).toBe('aefefe7d03');
  });
});

describe('errors equal noble (RFC 8446 §4.2.8.2, §7.4.2: bad shares are illegal_parameter)', () => {
  const illegal = `IllegalParameterError alert ${AlertDescription.illegal_parameter}`;

  it('short and long shares, client and server side, for every group', async () => {
    const { node, noble } = twins('share lengths');
    for (const group of noble.groups) {
      const kex = { node: node.keyExchange(group), noble: noble.keyExchange(group) };
      for (const delta of [-1, 1]) {
        const badClient = new Uint8Array(kex.noble.clientShareLength + delta).fill(4);
        const badServer = new Uint8Array(kex.noble.serverShareLength + delta).fill(4);
        const [a, b] = [await kex.node.generate(), await kex.noble.generate()];
        const got = [await outcome(async () => (await kex.node.encapsulate(badClient)).secret), await outcome(() => a.complete(badServer))];
        const want = [await outcome(async () => (await kex.noble.encapsulate(badClient)).secret), await outcome(() => b.complete(badServer))];
        expect(got, `${groupName(group)} ${delta}`).toEqual(want);
        expect(got).toEqual([illegal, illegal]);
      }
    }
  });

  it('bad points: low-order X25519, compressed, off-curve and zero NIST points, alone and inside hybrids', async () => {
    const { node, noble } = twins('bad points');
    const p256 = (await noble.keyExchange(NamedGroup.secp256r1).generate()).share;
    const offCurve = p256.slice();
    offCurve[64] = (offCurve[64] as number) ^ 1;
    const compressed = concat(Uint8Array.of(0x02 + ((p256[64] as number) & 1)), p256.subarray(1, 33), new Uint8Array(32));
    // SEC 1 §2.3.3's hybrid form of a valid point: OpenSSL would decode it, TLS 1.3 allows only 0x04.
    const hybrid = concat(Uint8Array.of(0x06 + ((p256[64] as number) & 1)), p256.subarray(1));
    const mlkem768 = (await noble.keyExchange(NamedGroup.MLKEM768).generate()).share;
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
      // An encapsulation key failing the FIPS 203 §7.2 modulus check: all coefficients 0xfff ≥ q.
      [NamedGroup.MLKEM768, concat(new Uint8Array(1152).fill(0xff), new Uint8Array(32))],
    ];
    for (const [group, share] of cases) {
      const got = await outcome(async () => (await node.keyExchange(group).encapsulate(share)).secret);
      expect(got, `${groupName(group)} encapsulate`).toBe(illegal);
      expect(got).toBe(await outcome(async () => (await noble.keyExchange(group).encapsulate(share)).secret));
      if (group === NamedGroup.MLKEM768) continue; // a server share is a ciphertext: any well-formed one is accepted
      const serverShare = group === NamedGroup.X25519MLKEM768 ? concat(new Uint8Array(1088), share.subarray(1184)) : share.subarray(0, node.keyExchange(group).serverShareLength);
      const pending = await node.keyExchange(group).generate();
      expect(await outcome(() => pending.complete(serverShare)), `${groupName(group)} complete`).toBe(illegal);
    }
  });

  it('a key share completes once; a second call is ConfigError', async () => {
    const { node } = twins('once');
    const share = await node.keyExchange(NamedGroup.x25519).generate();
    const reply = await node.keyExchange(NamedGroup.x25519).encapsulate(share.share);
    expect(toHex(await share.complete(reply.share))).toBe(toHex(reply.secret));
    await expect(share.complete(reply.share)).rejects.toBeInstanceOf(ConfigError);
  });

  it('bad public keys are IllegalParameterError, bad signatures false, on both backends (provider.ts verify contract)', async () => {
    const { node, noble } = twins('bad keys');
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
      const got = await outcome(() => node.verify(scheme, pub, message, sig));
      expect(got, `${signatureSchemeName(scheme)} ${toHex(pub).slice(0, 16)}`).toBe(await outcome(() => noble.verify(scheme, pub, message, sig)));
      results.push(got);
    }
    // Both kinds occur, so the comparison above is not vacuous.
    expect(results).toContain(illegal);
    expect(results).toContain('false');
    expect(results.slice(0, 2)).toEqual(['true', illegal]);
  });

  it('private keys: foreign or mismatched references and invalid material are ConfigError', async () => {
    const { node, noble } = twins('private keys');
    const foreign = await noble.generateKeyPair('ed25519');
    await expect(node.sign(S.ed25519, foreign.privateKey, message)).rejects.toBeInstanceOf(ConfigError);
    const ed = await node.generateKeyPair('ed25519');
    await expect(node.sign(S.ecdsa_secp256r1_sha256, ed.privateKey, message)).rejects.toBeInstanceOf(ConfigError);
    const n = fromHex('ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551');
    for (const material of [
      { algorithm: 'ecdsa-p256', secret: n },
      { algorithm: 'ecdsa-p256', secret: new Uint8Array(32) },
      { algorithm: 'ecdsa-p384', secret: new Uint8Array(32).fill(1) },
      { algorithm: 'ed25519', secret: new Uint8Array(31) },
      { algorithm: 'rsa', pkcs1: rsaPkcs1.subarray(0, 200) },
      { algorithm: 'ml-dsa-65', seed: new Uint8Array(31) },
    ] as const) {
      await expect(node.importPrivateKey(material), material.algorithm).rejects.toBeInstanceOf(ConfigError);
    }
    // The RSA signing floor is an option, as for noble.
    const strict = createNodeCryptoProvider({ random: seededRandom('floor'), minRsaSigningBits: 3072 });
    await expect(strict.importPrivateKey({ algorithm: 'rsa', pkcs1: rsaPkcs1 })).rejects.toBeInstanceOf(ConfigError);
  });
});

describe('a full TLS 1.3 handshake in memory, node:crypto on one side and noble on the other', () => {
  it.each([
    ['node client, noble server', 'node', 'noble'],
    ['noble client, node server', 'noble', 'node'],
  ] as const)('%s: X25519MLKEM768, ML-DSA-65, then application data both ways', async (_, clientSide, serverSide) => {
    const make = (which: 'node' | 'noble', seed: string): CryptoProvider =>
      which === 'node' ? createNodeCryptoProvider({ random: seededRandom(seed) }) : createNobleProvider({ random: seededRandom(seed) });
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
});
