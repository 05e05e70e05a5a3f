/**
 * ML-KEM (FIPS 203) and ML-DSA (FIPS 204) on node:crypto, in the node
 * provider, against noble. Where the algorithms are deterministic — key
 * generation from a seed, decapsulation, verification — the two must agree
 * byte for byte; where OpenSSL draws its own randomness (encapsulation's
 * message, ML-DSA's hedge), each must accept what the other produces.
 *
 * Node 20 has neither algorithm: there the detection must say so and the
 * native cases do not apply. test/node/node24.test.ts runs this file under
 * Node 24 with PQTLS_EXPECT_NATIVE_PQ=1, where the detection must find both.
 */
import * as nodeCrypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex, utf8 } from '../../src/bytes.js';
import { IllegalParameterError } from '../../src/errors.js';
import { nativePqSupport } from '../../src/node/crypto/native-pq.js';
import { createNodeCryptoProvider } from '../../src/node/index.js';
import {
  NamedGroup, SignatureScheme, createNobleProvider, groupName, type CryptoProvider, type MlDsaAlgorithm,
} from '../../src/pq/index.js';
import { scriptedRandom, seededRandom } from '../../src/testing/index.js';
import { connectPair, pinnedKeyVerifier, testKey } from '../helpers/tls-pair.js';
import { loadWycheproof, str } from '../helpers/wycheproof.js';

const support = nativePqSupport();
const S = SignatureScheme;
const PQ_GROUPS = [
  NamedGroup.MLKEM512, NamedGroup.MLKEM768, NamedGroup.MLKEM1024,
  NamedGroup.X25519MLKEM768, NamedGroup.SecP256r1MLKEM768, NamedGroup.SecP384r1MLKEM1024,
] as const;
const ML_DSA = [['ml-dsa-44', '44', S.mldsa44], ['ml-dsa-65', '65', S.mldsa65], ['ml-dsa-87', '87', S.mldsa87]] as const;

describe('detecting ML-KEM and ML-DSA in node:crypto', () => {
  it('finds them exactly where the runtime has them', () => {
    if (process.env['PQTLS_EXPECT_NATIVE_PQ'] === '1') {
      expect(support).toEqual({ mlKem: true, mlDsa: true });
      return;
    }
    // Node 20 (OpenSSL 3.0): no encapsulate, no ML-DSA key type.
    const hasKem = typeof (nodeCrypto as { encapsulate?: unknown }).encapsulate === 'function';
    expect(support.mlKem).toBe(hasKem);
    if (!hasKem) expect(support.mlDsa).toBe(false);
  });
});

describe.runIf(support.mlKem)('ML-KEM on node:crypto (FIPS 203, draft-ietf-tls-mlkem, draft-ietf-tls-ecdhe-mlkem)', () => {
  it.each(PQ_GROUPS.map((g) => [groupName(g), g] as const))('%s: seeded shares are noble\'s; secrets agree both ways', async (_, group) => {
    // The same seeded stream: the client share (keygen from the drawn seed) must be byte-identical.
    const node = createNodeCryptoProvider({ random: seededRandom(`kem ${group}`) });
    const noble = createNobleProvider({ random: seededRandom(`kem ${group}`) });
    const nodeShare = await node.keyExchange(group).generate();
    const nobleShare = await noble.keyExchange(group).generate();
    expect(toHex(nodeShare.share)).toBe(toHex(nobleShare.share));
    // noble encapsulates to the native key: native decapsulation must find noble's secret.
    const toNative = await noble.keyExchange(group).encapsulate(nodeShare.share);
    expect(toHex(await nodeShare.complete(toNative.share))).toBe(toHex(toNative.secret));
    // A provider on OpenSSL's own generator encapsulates natively; noble decapsulates.
    const native = createNodeCryptoProvider();
    const toNoble = await native.keyExchange(group).encapsulate(nobleShare.share);
    expect(toHex(await nobleShare.complete(toNoble.share))).toBe(toHex(toNoble.secret));
  });

  it('native encapsulation refuses a key whose coefficient is not reduced mod q: illegal_parameter (FIPS 203 §7.2)', async () => {
    const { share } = await createNobleProvider({ random: seededRandom('modulus') }).keyExchange(NamedGroup.MLKEM768).generate();
    const bad = share.slice();
    bad[0] = 0xff;
    bad[1] = (bad[1] ?? 0) | 0x0f; // the first 12-bit coefficient becomes 4095 ≥ 3329
    const native = createNodeCryptoProvider();
    await expect(native.keyExchange(NamedGroup.MLKEM768).encapsulate(bad)).rejects.toBeInstanceOf(IllegalParameterError);
    await expect(native.keyExchange(NamedGroup.MLKEM768).encapsulate(share.subarray(1))).rejects.toBeInstanceOf(IllegalParameterError);
  });

  it.each([
    ['mlkem_512_test.json', NamedGroup.MLKEM512],
    ['mlkem_768_test.json', NamedGroup.MLKEM768],
    ['mlkem_1024_test.json', NamedGroup.MLKEM1024],
  ] as const)('Wycheproof %s: keygen from the seed and decapsulation through the provider', async (file, group) => {
    let ran = 0;
    for (const g of loadWycheproof(file).testGroups) {
      for (const t of g.tests) {
        const seed = fromHex(str(t, 'seed'));
        if (seed.length !== 64) continue; // a caller's error the provider cannot express (covered in test/pq)
        ran++;
        const provider = createNodeCryptoProvider({ random: scriptedRandom([seed]) });
        const share = await provider.keyExchange(group).generate();
        const got = await share.complete(fromHex(str(t, 'c'))).then((k) => `${toHex(share.share)}/${toHex(k)}`, (e: unknown) => e);
        if (t.result === 'valid') expect(got, `tcId ${t.tcId}`).toBe(`${str(t, 'ek')}/${str(t, 'K')}`);
        else expect(got, `tcId ${t.tcId}`).toBeInstanceOf(IllegalParameterError);
      }
    }
    expect(ran).toBeGreaterThan(50);
  });
});

describe.runIf(support.mlDsa)('ML-DSA on node:crypto (FIPS 204, draft-ietf-tls-mldsa: pure, empty context)', () => {
  it.each(ML_DSA)('%s: seeded keys are noble\'s; each verifies the other\'s signatures', async (alg: MlDsaAlgorithm, _, scheme) => {
    const node = createNodeCryptoProvider({ random: seededRandom(`dsa ${alg}`) });
    const noble = createNobleProvider({ random: seededRandom(`dsa ${alg}`) });
    const nodeKey = await node.generateKeyPair(alg);
    const nobleKey = await noble.generateKeyPair(alg);
    expect(toHex(nodeKey.publicKey)).toBe(toHex(nobleKey.publicKey));
    // The same key imported into a provider on OpenSSL's generator signs natively (hedged).
    const native = createNodeCryptoProvider();
    const imported = await native.importPrivateKey(await node.exportPrivateKey(nodeKey.privateKey));
    const message = utf8('TLS 1.3, server CertificateVerify');
    const a = await native.sign(scheme, imported.privateKey, message);
    const b = await native.sign(scheme, imported.privateKey, message);
    expect(toHex(a)).not.toBe(toHex(b)); // hedged: OpenSSL drew fresh randomness
    expect(await noble.verify(scheme, nobleKey.publicKey, message, a)).toBe(true);
    expect(await native.verify(scheme, nobleKey.publicKey, message, await noble.sign(scheme, nobleKey.privateKey, message))).toBe(true);
    expect(await native.verify(scheme, nobleKey.publicKey, utf8('another message'), a)).toBe(false);
    // An expanded-only key (no seed) is the same key to OpenSSL.
    const material = await node.exportPrivateKey(nodeKey.privateKey);
    if (!('expanded' in material) || !material.expanded) throw new Error('noble exports the expanded key');
    const expandedOnly = await native.importPrivateKey({ algorithm: alg, expanded: material.expanded });
    expect(toHex(expandedOnly.publicKey)).toBe(toHex(nodeKey.publicKey));
    expect(await noble.verify(scheme, nobleKey.publicKey, message, await native.sign(scheme, expandedOnly.privateKey, message))).toBe(true);
  });

  it('the verifier\'s cache of imported public keys tells apart keys with the same ρ (their first 32 bytes)', async () => {
    const native = createNodeCryptoProvider();
    const noble = createNobleProvider({ random: seededRandom('dsa cache') });
    const a = await noble.generateKeyPair('ml-dsa-65');
    const message = utf8('TLS 1.3, server CertificateVerify');
    const sig = await noble.sign(S.mldsa65, a.privateKey, message);
    // Same ρ, another t1: a different key (FIPS 204 §7.2), which must not be served from the cache.
    const b = a.publicKey.slice();
    b[100] = (b[100] as number) ^ 1;
    expect(await native.verify(S.mldsa65, a.publicKey, message, sig)).toBe(true);
    expect(await native.verify(S.mldsa65, b, message, sig)).toBe(false);
    expect(await native.verify(S.mldsa65, a.publicKey, message, sig)).toBe(true);
  });

  it.each(ML_DSA.map(([, size, scheme]) => [size, scheme] as const))('Wycheproof mldsa_%s_verify_test.json through the native verifier', async (size, scheme) => {
    const native = createNodeCryptoProvider();
    let ran = 0;
    for (const g of loadWycheproof(`mldsa_${size}_verify_test.json`).testGroups) {
      for (const t of g.tests) {
        if (typeof t['ctx'] === 'string' && t['ctx'] !== '') continue; // TLS never uses a context
        ran++;
        const got = await native.verify(scheme, fromHex(str(g, 'publicKey')), fromHex(str(t, 'msg')), fromHex(str(t, 'sig')))
          .catch((e: unknown) => (e instanceof IllegalParameterError ? 'bad public key' : e));
        const want = t.result === 'valid' ? true : t.flags.includes('IncorrectPublicKeyLength') ? 'bad public key' : false;
        expect(got, `tcId ${t.tcId} ${t.flags.join(',')}`).toBe(want);
      }
    }
    expect(ran).toBeGreaterThan(100);
  });
});

describe.runIf(support.mlKem && support.mlDsa)('a TLS 1.3 handshake with ML-KEM and ML-DSA on OpenSSL', () => {
  it.each([
    ['native client, noble server', 'native', 'noble'],
    ['noble client, native server', 'noble', 'native'],
    ['native both sides', 'native', 'native'],
  ] as const)('%s: X25519MLKEM768 and an ML-DSA-65 certificate key', async (_, clientSide, serverSide) => {
    const make = (which: 'native' | 'noble', seed: string): CryptoProvider =>
      which === 'native' ? createNodeCryptoProvider() : createNobleProvider({ random: seededRandom(seed) });
    const serverProvider = make(serverSide, 'server');
    const key = await testKey(serverProvider, 'ml-dsa-65');
    const { client, server } = await connectPair(
      { provider: make(clientSide, 'client'), verifier: pinnedKeyVerifier(key), groups: [NamedGroup.X25519MLKEM768] },
      { provider: serverProvider, certificate: { chain: [key.publicKey], ...key } },
    );
    expect(client.error).toBeUndefined();
    expect(server.error).toBeUndefined();
    expect(client.handshakeInfo?.group).toBe(NamedGroup.X25519MLKEM768);
    expect(client.handshakeInfo?.peerSignatureScheme).toBe(S.mldsa65);
  });
});
