/**
 * X25519 (RFC 7748), ML-KEM (FIPS 203) and ML-DSA (FIPS 204, pure, empty
 * context) on the process's OpenSSL through koffi
 * (src/node/crypto/openssl-pkey.ts), against noble: byte for byte wherever the
 * algorithm is deterministic (key generation from a seed, X25519,
 * decapsulation, deterministic signing, verification), and each accepting
 * the other's output where OpenSSL draws randomness.
 *
 * The binding needs OpenSSL ≥ 3.5: on the suite's Node 20 (OpenSSL 3.0) it
 * must report itself unavailable and the provider must keep node:crypto;
 * test/node/node24.test.ts runs this file under Node 24 with
 * PQTLS_EXPECT_NATIVE_PQ=1, where it must be available.
 */
import { createHash } from 'node:crypto';
import { x25519 } from '@noble/curves/ed25519.js';
import { ml_dsa44, ml_dsa65, ml_dsa87 } from '@noble/post-quantum/ml-dsa.js';
import { ml_kem1024, ml_kem512, ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex, utf8 } from '../../src/bytes.js';
import { IllegalParameterError } from '../../src/errors.js';
import { ML_DSA_VECTOR, ML_KEM_VECTOR, X25519_VECTOR, pkeySelfTest } from '../../src/node/crypto/openssl-pkey-selftest.js';
import { opensslPkey, opensslPkeyKeys, opensslPkeyStatus, type OpensslPkey } from '../../src/node/crypto/openssl-pkey.js';
import { createNodeCryptoProvider } from '../../src/node/index.js';
import { NamedGroup, SignatureScheme, createNobleProvider, type MlDsaAlgorithm } from '../../src/pq/index.js';
import type { MlKemName } from '../../src/pq/mlkem.js';
import { seededRandom } from '../../src/testing/index.js';
import { loadWycheproof, str } from '../helpers/wycheproof.js';

const status = opensslPkeyStatus();
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const KEMS = [['ML-KEM-512', ml_kem512, '512'], ['ML-KEM-768', ml_kem768, '768'], ['ML-KEM-1024', ml_kem1024, '1024']] as const;
const DSAS = [['ml-dsa-44', ml_dsa44, '44'], ['ml-dsa-65', ml_dsa65, '65'], ['ml-dsa-87', ml_dsa87, '87']] as const;

function backend(): OpensslPkey {
  const p = opensslPkey();
  if (!p) throw new Error(`the OpenSSL EVP_PKEY binding is unavailable: ${status.reason ?? '?'}`);
  return p;
}

describe('binding OpenSSL\'s EVP_PKEY API through koffi', () => {
  it('is available exactly where OpenSSL has ML-KEM and ML-DSA (3.5: Node 24), and passed its self-test there', () => {
    const openssl = process.versions.openssl ?? '';
    const [major, minor] = openssl.split('.').map(Number) as [number, number];
    if (process.env['PQTLS_EXPECT_NATIVE_PQ'] === '1' || major > 3 || (major === 3 && minor >= 5)) {
      expect(status).toEqual({ available: true });
    } else {
      expect(status.available).toBe(false);
      expect(status.reason).toMatch(/cannot bind/);
    }
  });

  it('the self-test\'s constants are noble\'s answers (RFC 7748 §6.1; FIPS 203 keygen, encapsulation, implicit rejection; FIPS 204 deterministic signing)', () => {
    expect(toHex(x25519.getSharedSecret(fromHex(X25519_VECTOR.alicePrivate), fromHex(X25519_VECTOR.bobPublic)))).toBe(X25519_VECTOR.shared);
    expect(toHex(x25519.getPublicKey(fromHex(X25519_VECTOR.bobPrivate)))).toBe(X25519_VECTOR.bobPublic);
    const k = ML_KEM_VECTOR;
    const { publicKey, secretKey } = ml_kem768.keygen(k.seed);
    expect(sha256(publicKey)).toBe(k.ekSha256);
    const { cipherText, sharedSecret } = ml_kem768.encapsulate(publicKey, k.m);
    expect(sha256(cipherText)).toBe(k.ctSha256);
    expect(toHex(sharedSecret)).toBe(k.secret);
    expect(toHex(ml_kem768.decapsulate(k.rejected, secretKey))).toBe(k.rejectedSecret);
    const d = ML_DSA_VECTOR;
    const dsa = ml_dsa65.keygen(d.seed);
    expect(sha256(dsa.publicKey)).toBe(d.pkSha256);
    expect(sha256(ml_dsa65.sign(d.message, dsa.secretKey, { extraEntropy: false }))).toBe(d.sigSha256);
  });
});

describe.runIf(status.available)('X25519, ML-KEM and ML-DSA on OpenSSL through koffi', () => {
  it('the self-test catches a binding that derives, decapsulates, accepts or signs wrongly', () => {
    const real = backend();
    expect(pkeySelfTest(real)).toBeUndefined();
    const flip = (b: Uint8Array): Uint8Array => {
      const c = b.slice();
      c[0] = (c[0] as number) ^ 1;
      return c;
    };
    const broken: [string, Partial<OpensslPkey>][] = [
      ['X25519 shared secret', { x25519: (k, peer) => { const s = real.x25519(k, peer); return s && flip(s); } }],
      ['X25519 accepted a low-order point', { x25519: (k, peer) => real.x25519(k, peer) ?? new Uint8Array(32).fill(1) }],
      ['ML-KEM-768 key generation from a seed', { publicKey: (k) => (k.type === 'ML-KEM-768' ? flip(real.publicKey(k)) : real.publicKey(k)) }],
      ['ML-KEM-768 decapsulation', { decapsulate: (k, ct) => flip(real.decapsulate(k, ct)) }],
      ['ML-KEM-768 accepted a key failing the modulus check', { encapsulate: (n, ek, m) => real.encapsulate(n, ek, m) ?? real.encapsulate(n, ml_kem768.keygen(ML_KEM_VECTOR.seed).publicKey) }],
      ['ML-DSA-65 deterministic signature', { sign: (a, k, msg, det) => flip(real.sign(a, k, msg, det)) }],
      ['ML-DSA-65 accepted a forged signature', { verify: () => true }],
    ];
    for (const [failure, override] of broken) expect(pkeySelfTest({ ...real, ...override }), failure).toBe(failure);
  });

  it('Wycheproof x25519_test.json: the shared secret, and undefined exactly where it would be all zero (RFC 8446 §7.4.2)', () => {
    const p = backend();
    let ran = 0;
    for (const g of loadWycheproof('x25519_test.json').testGroups) {
      for (const t of g.tests) {
        const key = p.x25519PrivateKey(fromHex(str(t, 'private')));
        const got = p.x25519(key, fromHex(str(t, 'public')));
        p.free(key);
        const want = t.result === 'invalid' || t.flags.includes('ZeroSharedSecret') ? undefined : str(t, 'shared');
        expect(got && toHex(got), `tcId ${t.tcId} ${t.flags.join(',')}`).toBe(want);
        ran++;
      }
    }
    expect(ran).toBeGreaterThan(500);
  });

  it.each(KEMS)('%s, Wycheproof mlkem_*_test.json: keygen from the seed gives the encapsulation key and decapsulation the secret, byte for byte', (name, _, size) => {
    const p = backend();
    let ran = 0;
    for (const g of loadWycheproof(`mlkem_${size}_test.json`).testGroups) {
      for (const t of g.tests) {
        if (t.result !== 'valid') continue;
        const dk = p.fromSeed(name as MlKemName, fromHex(str(t, 'seed')));
        expect(toHex(p.publicKey(dk)), `tcId ${t.tcId}`).toBe(str(t, 'ek'));
        expect(toHex(p.decapsulate(dk, fromHex(str(t, 'c')))), `tcId ${t.tcId}`).toBe(str(t, 'K'));
        p.free(dk);
        ran++;
      }
    }
    expect(ran).toBeGreaterThan(0);
  });

  it('Wycheproof mlkem_768_encaps_test.json: encapsulation on the vector\'s message, or a refusal of a key failing the modulus check (FIPS 203 §7.2)', () => {
    const p = backend();
    let ran = 0;
    for (const g of loadWycheproof('mlkem_768_encaps_test.json').testGroups) {
      for (const t of g.tests) {
        const out = p.encapsulate('ML-KEM-768', fromHex(str(t, 'ek')), fromHex(str(t, 'm')));
        if (t.result === 'invalid') expect(out, `tcId ${t.tcId}`).toBeUndefined();
        else expect(out && [toHex(out.share), toHex(out.secret)], `tcId ${t.tcId}`).toEqual([str(t, 'c'), str(t, 'K')]);
        ran++;
      }
    }
    expect(ran).toBeGreaterThan(0);
  });

  it.each(KEMS)('%s: OpenSSL encapsulates to noble, noble to OpenSSL, the same secret both ways', (name, kem) => {
    const p = backend();
    const noble = kem.keygen();
    const toNoble = p.encapsulate(name as MlKemName, noble.publicKey);
    if (!toNoble) throw new Error('OpenSSL refused a valid key');
    expect(toHex(kem.decapsulate(toNoble.share, noble.secretKey))).toBe(toHex(toNoble.secret));
    const dk = p.generate(name as MlKemName);
    const toOpenssl = kem.encapsulate(p.publicKey(dk));
    expect(toHex(p.decapsulate(dk, toOpenssl.cipherText))).toBe(toHex(toOpenssl.sharedSecret));
    p.free(dk);
  });

  it.each(DSAS)('%s: keys from a seed are noble\'s; deterministic signatures are noble\'s; hedged ones verify on noble; noble\'s verify here', (alg, dsa) => {
    const p = backend();
    const seed = seededRandom(`ffi ${alg}`)(32);
    const ours = p.fromSeed(alg as MlDsaAlgorithm, seed);
    const theirs = dsa.keygen(seed);
    expect(toHex(p.publicKey(ours))).toBe(toHex(theirs.publicKey));
    const message = utf8('TLS 1.3, server CertificateVerify');
    expect(toHex(p.sign(alg as MlDsaAlgorithm, ours, message, true))).toBe(toHex(dsa.sign(message, theirs.secretKey, { extraEntropy: false })));
    const a = p.sign(alg as MlDsaAlgorithm, ours, message);
    const b = p.sign(alg as MlDsaAlgorithm, ours, message);
    expect(toHex(a)).not.toBe(toHex(b));
    expect(dsa.verify(a, message, theirs.publicKey)).toBe(true);
    expect(p.verify(alg as MlDsaAlgorithm, theirs.publicKey, message, dsa.sign(message, theirs.secretKey))).toBe(true);
    expect(p.verify(alg as MlDsaAlgorithm, theirs.publicKey, utf8('another message'), a)).toBe(false);
    expect(p.verify(alg as MlDsaAlgorithm, theirs.publicKey, message, a.subarray(1))).toBe(false);
    p.free(ours);
  });

  it.each(DSAS)('%s, Wycheproof verify and sign-from-seed vectors (empty context): the same verdicts, and the deterministic signatures', (alg, _, size) => {
    const p = backend();
    let ran = 0;
    for (const g of loadWycheproof(`mldsa_${size}_verify_test.json`).testGroups) {
      const pk = fromHex(str(g, 'publicKey'));
      for (const t of g.tests) {
        if (typeof t['ctx'] === 'string' && t['ctx'] !== '') continue; // TLS never uses a context
        expect(p.verify(alg as MlDsaAlgorithm, pk, fromHex(str(t, 'msg')), fromHex(str(t, 'sig'))), `verify tcId ${t.tcId}`).toBe(t.result === 'valid');
        ran++;
      }
    }
    for (const g of loadWycheproof(`mldsa_${size}_sign_seed_test.json`).testGroups) {
      const seed = fromHex(str(g, 'privateSeed'));
      if (seed.length !== 32) continue;
      const key = p.fromSeed(alg as MlDsaAlgorithm, seed);
      for (const t of g.tests) {
        // Deterministic signing only (a case with `rnd` fixes the hedge, which OpenSSL draws itself), empty context only.
        if (t.result !== 'valid' || typeof t['msg'] !== 'string' || 'rnd' in t || (typeof t['ctx'] === 'string' && t['ctx'] !== '')) continue;
        expect(toHex(p.sign(alg as MlDsaAlgorithm, key, fromHex(str(t, 'msg')), true)), `sign tcId ${t.tcId}`).toBe(str(t, 'sig'));
        ran++;
      }
      p.free(key);
    }
    expect(ran).toBeGreaterThan(100);
  });

  it('keys are freed once: by free(), never twice, and a freed key is refused', () => {
    const p = backend();
    const before = opensslPkeyKeys();
    const key = p.generate('X25519');
    expect(opensslPkeyKeys().created).toBe(before.created + 1);
    p.free(key);
    p.free(key);
    expect(opensslPkeyKeys().freed).toBe(before.freed + 1);
    expect(() => p.publicKey(key)).toThrow(/freed/);
    expect(() => p.x25519(key, fromHex(X25519_VECTOR.bobPublic))).toThrow(/freed/);
  });
});

describe.runIf(status.available)('the node provider on the EVP_PKEY binding', () => {
  it('X25519MLKEM768: both halves of a key share are OpenSSL keys, freed when the share completes; ffi: false keeps node:crypto', async () => {
    for (const [options, keys] of [[{}, 2], [{ ffi: false }, 0]] as const) {
      const client = createNodeCryptoProvider(options);
      const server = createNodeCryptoProvider(options);
      const before = opensslPkeyKeys();
      const share = await client.keyExchange(NamedGroup.X25519MLKEM768).generate();
      expect(opensslPkeyKeys().created, JSON.stringify(options)).toBe(before.created + keys);
      const reply = await server.keyExchange(NamedGroup.X25519MLKEM768).encapsulate(share.share);
      // The server's X25519 key is made and freed within encapsulate.
      const served = opensslPkeyKeys();
      expect(toHex(await share.complete(reply.share))).toBe(toHex(reply.secret));
      expect(opensslPkeyKeys().freed - served.freed, JSON.stringify(options)).toBe(keys);
    }
  });

  it('a seeded provider on the binding still gives noble\'s shares and secrets (X25519MLKEM768, both roles)', async () => {
    const node = createNodeCryptoProvider({ random: seededRandom('ffi seeded') });
    const noble = createNobleProvider({ random: seededRandom('ffi seeded') });
    const before = opensslPkeyKeys().created;
    const a = await node.keyExchange(NamedGroup.X25519MLKEM768).generate();
    expect(opensslPkeyKeys().created).toBe(before + 2);
    const b = await noble.keyExchange(NamedGroup.X25519MLKEM768).generate();
    expect(toHex(a.share)).toBe(toHex(b.share));
    const r1 = await node.keyExchange(NamedGroup.X25519MLKEM768).encapsulate(b.share);
    const r2 = await noble.keyExchange(NamedGroup.X25519MLKEM768).encapsulate(a.share);
    expect(toHex(r1.share)).toBe(toHex(r2.share));
    expect(toHex(r1.secret)).toBe(toHex(r2.secret));
    expect(toHex(await a.complete(r2.share))).toBe(toHex(r2.secret));
  });

  it('bad peer shares get illegal_parameter, as on node:crypto: a low-order X25519 point, an ML-KEM key failing the modulus check', async () => {
    const provider = createNodeCryptoProvider();
    const share = await provider.keyExchange(NamedGroup.x25519).generate();
    await expect(share.complete(new Uint8Array(32))).rejects.toBeInstanceOf(IllegalParameterError);
    await expect(provider.keyExchange(NamedGroup.x25519).encapsulate(new Uint8Array(32))).rejects.toBeInstanceOf(IllegalParameterError);
    const ek = ml_kem768.keygen(new Uint8Array(64)).publicKey;
    ek[0] = 0xff;
    ek[1] = (ek[1] as number) | 0x0f;
    await expect(provider.keyExchange(NamedGroup.MLKEM768).encapsulate(ek)).rejects.toBeInstanceOf(IllegalParameterError);
  });

  it('an ML-DSA signing key is loaded into OpenSSL once, at import; its hedged signatures verify on noble', async () => {
    const noble = createNobleProvider({ random: seededRandom('ffi signer') });
    const pair = await noble.generateKeyPair('ml-dsa-65');
    const provider = createNodeCryptoProvider();
    const before = opensslPkeyKeys().created;
    const key = await provider.importPrivateKey(await noble.exportPrivateKey(pair.privateKey));
    expect(opensslPkeyKeys().created).toBe(before + 1);
    const message = utf8('TLS 1.3, server CertificateVerify');
    for (let i = 0; i < 3; i++) expect(await noble.verify(SignatureScheme.mldsa65, pair.publicKey, message, await provider.sign(SignatureScheme.mldsa65, key.privateKey, message))).toBe(true);
    expect(opensslPkeyKeys().created).toBe(before + 1);
  });
});
