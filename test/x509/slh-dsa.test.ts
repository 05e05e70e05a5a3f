/**
 * SLH-DSA (FIPS 205) in X.509 per RFC 9909, for the long-lived roots of
 * post-quantum PKIs: one OID per parameter set (id-slh-dsa-*, sigAlgs 20..31)
 * for keys and signatures alike, parameters absent, pure SLH-DSA with an empty
 * context, the raw PK.seed ‖ PK.root as the subjectPublicKey and the raw
 * SK.seed ‖ SK.prf ‖ PK.seed ‖ PK.root as the PKCS #8 privateKey.
 *
 * TLS 1.3 has no SignatureScheme for SLH-DSA, so it signs certificates only:
 * the chain below has an SLH-DSA root over ML-DSA, and the handshake is
 * authenticated by the ML-DSA leaf. The "f" (fast-signing) parameter sets are
 * used throughout; the one committed "s" chain was signed by OpenSSL.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import * as slh from '@noble/post-quantum/slh-dsa.js';
import { AlertDescription, ConfigError, IllegalParameterError } from '../../src/errors.js';
import { SLH_DSA_ALGORITHMS, SignatureScheme, isSignatureScheme, slhDsaSizes, type SlhDsaAlgorithm } from '../../src/pq/ids.js';
import { TlsConnection } from '../../src/tls13/connection.js';
import { webPkiVerifier } from '../../src/tls13/verifier.js';
import { nameDer } from '../../src/x509/ca.js';
import { bits, derNull, integer, octets, oid, sequence } from '../../src/codec/der.js';
import { clock, connectPair, drain, pump, seededProvider } from '../helpers/tls-pair.js';
import {
  CertificateError, DEFAULT_CHAIN_LIMITS, Oid, basicConstraintsExtension, encodePkcs8, keyUsageExtension, subjectAltNameExtension, exportPrivateKeyPem, generateRoot, importPrivateKey, importPrivateKeyPem, issueLeaf, parseCertificate,
  parsePemChain, parsePkcs8, parseSubjectPublicKeyInfo, signCertificate, summarizeCertificate, verifyChain, type Certificate,
  type IssuedCertificate,
} from './exports.js';
import { NOT_AFTER, NOT_BEFORE, NOW, creds, makeChain, testProvider, type Chain } from './pki.js';

const provider = testProvider('slh-dsa suite');
const FAST: SlhDsaAlgorithm = 'slh-dsa-sha2-128f';

const nobleImpl: Record<SlhDsaAlgorithm, typeof slh.slh_dsa_sha2_128f> = {
  'slh-dsa-sha2-128s': slh.slh_dsa_sha2_128s, 'slh-dsa-sha2-128f': slh.slh_dsa_sha2_128f,
  'slh-dsa-sha2-192s': slh.slh_dsa_sha2_192s, 'slh-dsa-sha2-192f': slh.slh_dsa_sha2_192f,
  'slh-dsa-sha2-256s': slh.slh_dsa_sha2_256s, 'slh-dsa-sha2-256f': slh.slh_dsa_sha2_256f,
  'slh-dsa-shake-128s': slh.slh_dsa_shake_128s, 'slh-dsa-shake-128f': slh.slh_dsa_shake_128f,
  'slh-dsa-shake-192s': slh.slh_dsa_shake_192s, 'slh-dsa-shake-192f': slh.slh_dsa_shake_192f,
  'slh-dsa-shake-256s': slh.slh_dsa_shake_256s, 'slh-dsa-shake-256f': slh.slh_dsa_shake_256f,
};

/** An SPKI for `alg` around `key`, with extra AlgorithmIdentifier parameters if given. */
function spki(algOid: string, key: Uint8Array, parameters?: Uint8Array): Uint8Array {
  return sequence(parameters ? sequence(oid(algOid), parameters) : sequence(oid(algOid)), bits(key));
}

describe('the twelve parameter sets (FIPS 205 Table 2, RFC 9909 OIDs)', () => {
  it('OIDs are 2.16.840.1.101.3.4.3.20..31 in FIPS 205 order; sizes match the implementation', () => {
    expect(SLH_DSA_ALGORITHMS).toHaveLength(12);
    for (const [i, alg] of SLH_DSA_ALGORITHMS.entries()) {
      const want = `2.16.840.1.101.3.4.3.${20 + i}`;
      const pk = new Uint8Array(slhDsaSizes(alg).publicKey);
      const info = parseSubjectPublicKeyInfo(spki(want, pk));
      expect(info.algorithm).toBe(alg);
      const sizes = slhDsaSizes(alg);
      const lengths = nobleImpl[alg].lengths as { publicKey: number; secretKey: number; signature: number; signRand: number };
      expect({ publicKey: sizes.publicKey, secretKey: sizes.secretKey, signature: sizes.signature, n: sizes.n })
        .toEqual({ publicKey: lengths.publicKey, secretKey: lengths.secretKey, signature: lengths.signature, n: lengths.signRand });
    }
  });

  it('a public key of any other length than 2n is bad_public_key; parameters present are bad_algorithm_parameters', () => {
    for (const [i, alg] of SLH_DSA_ALGORITHMS.entries()) {
      const id = `2.16.840.1.101.3.4.3.${20 + i}`;
      const n2 = slhDsaSizes(alg).publicKey;
      for (const len of [n2 - 1, n2 + 1, 0]) {
        expect(() => parseSubjectPublicKeyInfo(spki(id, new Uint8Array(len)))).toThrow(expect.objectContaining({ reason: 'bad_public_key' }));
      }
      expect(() => parseSubjectPublicKeyInfo(spki(id, new Uint8Array(n2), derNull())))
        .toThrow(expect.objectContaining({ reason: 'bad_algorithm_parameters' }));
    }
  });

  it('provider.verify: a signature of the wrong length is false, a public key of the wrong length IllegalParameterError', async () => {
    const msg = new Uint8Array([1, 2, 3]);
    for (const alg of SLH_DSA_ALGORITHMS) {
      const { publicKey, signature } = slhDsaSizes(alg);
      const pk = new Uint8Array(publicKey);
      for (const len of [0, signature - 1, signature + 1]) await expect(provider.verify(alg, pk, msg, new Uint8Array(len))).resolves.toBe(false);
      await expect(provider.verify(alg, new Uint8Array(publicKey + 1), msg, new Uint8Array(signature))).rejects.toBeInstanceOf(IllegalParameterError);
    }
  });

  it('is certificate-only: no TLS signature scheme names it, and the provider offers none for TLS', () => {
    for (const alg of SLH_DSA_ALGORITHMS) expect(isSignatureScheme(alg as never)).toBe(false);
    expect(provider.signatureSchemes.every((s) => typeof s === 'number' && isSignatureScheme(s))).toBe(true);
  });
});

describe(`an ${FAST} root over ML-DSA-65`, () => {
  let chain: Chain;
  let intermediate: Certificate;
  beforeAll(async () => {
    chain = await makeChain(provider, [FAST, 'ml-dsa-65', 'ml-dsa-65']);
    intermediate = (chain.intermediates[0] as IssuedCertificate).certificate;
  });
  const options = (int: Uint8Array = intermediate.der) => ({
    provider, leaf: chain.leaf.certificate.der, intermediates: [int], trustAnchors: [chain.root.certificate], now: NOW,
    hostname: 'localhost', purpose: 'serverAuth' as const,
  });

  it('validates: the intermediate carries an SLH-DSA signature by the root', async () => {
    const result = await verifyChain(options());
    expect(result.path.map((c) => summarizeCertificate(c).signatureAlgorithm)).toEqual(['ML-DSA-65', 'SLH-DSA-SHA2-128f', 'SLH-DSA-SHA2-128f']);
    expect(summarizeCertificate(chain.root.certificate).publicKeyAlgorithm).toBe('SLH-DSA-SHA2-128f');
    expect(intermediate.signature).toHaveLength(17088);
    // RFC 9909: the AlgorithmIdentifier is the bare OID, parameters absent.
    expect(intermediate.signatureAlgorithm).toEqual({ kind: 'slh-dsa', algorithm: FAST, oid: Oid.slhDsaSha2_128f });
  });

  it('authenticates a TLS 1.3 handshake: ML-DSA-65 CertificateVerify, SLH-DSA above it', async () => {
    const { client, server } = await connectPair(
      { provider, serverName: 'localhost', verifier: webPkiVerifier({ provider, trustAnchors: [chain.root.certificate.der] }) },
      {
        provider,
        certificate: { chain: [chain.leaf.certificate.der, intermediate.der], privateKey: chain.leaf.keyPair.privateKey, keyAlgorithm: 'ml-dsa-65' },
      },
      undefined,
    );
    expect(client.handshakeInfo?.peerSignatureScheme).toBe(SignatureScheme.mldsa65);
    expect(client.handshakeInfo?.peerCertificates).toHaveLength(2);
    expect(server.handshakeInfo).toBeDefined();
  });

  it('a corrupted SLH-DSA signature is bad_signature, blamed on the intermediate', async () => {
    const der = intermediate.der.slice();
    der[der.length - 100] = (der[der.length - 100] as number) ^ 1;
    await expect(verifyChain(options(der))).rejects.toMatchObject({ reason: 'bad_signature', certificate: { index: 1 } });
  });

  it('the wrong parameter set is refused: a 128s OID on a 128f signature (same n, same key length)', async () => {
    // Relabel both copies of the signature AlgorithmIdentifier; the 32-byte 128f root key still parses as a 128f key.
    const from = oid(Oid.slhDsaSha2_128f);
    const to = oid(Oid.slhDsaSha2_128s);
    const der = relabel(intermediate.der, from, to);
    const parsed = parseCertificate(der);
    expect(parsed.signatureAlgorithm).toMatchObject({ kind: 'slh-dsa', algorithm: 'slh-dsa-sha2-128s' });
    await expect(verifyChain(options(der))).rejects.toMatchObject({ reason: 'unsupported_algorithm', certificate: { index: 1 } });
    // The SHAKE set of the same size is no better.
    await expect(verifyChain(options(relabel(intermediate.der, from, oid(Oid.slhDsaShake128f)))))
      .rejects.toMatchObject({ reason: 'unsupported_algorithm' });
  });

  it('the wrong parameter set is refused: a root relabelled 128s verifies a 128f signature as false (wrong length)', async () => {
    const root = relabel(chain.root.certificate.der, oid(Oid.slhDsaSha2_128f), oid(Oid.slhDsaSha2_128s));
    const int = relabel(intermediate.der, oid(Oid.slhDsaSha2_128f), oid(Oid.slhDsaSha2_128s));
    await expect(verifyChain({ ...options(int), trustAnchors: [root] })).rejects.toMatchObject({ reason: 'bad_signature', certificate: { index: 1 } });
  });

  it('signature AlgorithmIdentifier parameters present (NULL) are bad_algorithm_parameters', async () => {
    const der = await signCertificate({
      provider, subject: 'CN=params', subjectKey: { algorithm: 'ml-dsa-44', publicKey: new Uint8Array(1312) },
      issuer: { name: chain.root.certificate.subject.der, privateKey: chain.root.keyPair.privateKey }, notBefore: NOT_BEFORE, notAfter: NOT_AFTER,
      extensions: [], signatureAlgorithmOverride: sequence(oid(Oid.slhDsaSha2_128f), derNull()),
    });
    expect(() => parseCertificate(der)).toThrow(expect.objectContaining({ reason: 'bad_algorithm_parameters' }));
  });

  it('the CA API refuses to mint an SLH-DSA leaf: TLS could never use its key', async () => {
    await expect(issueLeaf({ provider, issuer: creds(chain.root), algorithm: FAST, dns: ['localhost'], notBefore: NOT_BEFORE, notAfter: NOT_AFTER }))
      .rejects.toThrow(/for CA certificates only/);
  });
});

describe('the path-search budget: a peer chooses which issuers the validator tries', () => {
  it('an SLH-DSA verification is charged its worst case by parameter set: SHA2-128f costs 139 units, so three candidate issuers are tried and the fourth is not', async () => {
    // Trust anchors named CN=X with (random, valid) SLH-DSA keys, and a leaf under CN=X whose signature claims SLH-DSA.
    const ed = await provider.generateKeyPair('ed25519');
    const X = nameDer('CN=X');
    const validity = { notBefore: NOT_BEFORE, notAfter: NOT_AFTER };
    const anchors = async (count: number): Promise<Uint8Array[]> => Promise.all(Array.from({ length: count }, (_, i) => signCertificate({
      provider, subject: X, subjectKey: { algorithm: FAST, publicKey: new Uint8Array(32).fill(i + 1) }, issuer: { name: X, privateKey: ed.privateKey },
      ...validity, extensions: [basicConstraintsExtension(true), keyUsageExtension(['keyCertSign'])],
    })));
    const leaf = await signCertificate({
      provider, subject: 'CN=localhost', subjectKey: { algorithm: 'ml-dsa-44', publicKey: new Uint8Array(1312) }, issuer: { name: X, privateKey: ed.privateKey },
      ...validity, extensions: [subjectAltNameExtension({ dns: ['localhost'] })], signatureAlgorithmOverride: sequence(oid(Oid.slhDsaSha2_128f)),
    });
    let calls = 0;
    const counting = { ...provider, verify: (...a: Parameters<typeof provider.verify>) => (calls++, provider.verify(...a)) };
    const search = async (n: number): Promise<unknown> => {
      calls = 0;
      return verifyChain({ provider: counting, leaf, intermediates: [], trustAnchors: await anchors(n), now: NOW, hostname: 'localhost', purpose: 'serverAuth' })
        .then(() => undefined, (e: unknown) => e);
    };
    expect(await search(3)).toMatchObject({ reason: 'bad_signature' });
    expect(calls).toBe(3);
    // 4 × 139 = 556 > the default 512.
    expect(await search(10)).toMatchObject({ reason: 'signature_budget_exceeded' });
    expect(calls).toBe(Math.floor(DEFAULT_CHAIN_LIMITS.maxSignatureCost / 139));
  });
});

/** Replaces every occurrence of `from` by `to` (equal lengths) in a DER certificate. */
function relabel(der: Uint8Array, from: Uint8Array, to: Uint8Array): Uint8Array {
  expect(to.length).toBe(from.length);
  const out = der.slice();
  let n = 0;
  for (let i = 0; i + from.length <= out.length; i++) {
    if (from.every((b, j) => out[i + j] === b)) {
      out.set(to, i);
      n++;
    }
  }
  expect(n).toBeGreaterThan(0);
  return out;
}

describe('SLH-DSA private keys in PKCS #8', () => {
  it('round-trip in the layout OpenSSL 3.5 writes: privateKey is the raw 4n-byte SK, no inner OCTET STRING', async () => {
    const pair = await provider.generateKeyPair(FAST);
    const pem = await exportPrivateKeyPem(provider, pair.privateKey);
    const der = parsePemChainless(pem);
    // 30 52 | 02 01 00 | 30 0b 06 09 <oid> | 04 40 <SK.seed SK.prf PK.seed PK.root>
    expect(Array.from(der.subarray(0, 7))).toEqual([0x30, 0x52, 0x02, 0x01, 0x00, 0x30, 0x0b]);
    expect(Array.from(der.subarray(18, 20))).toEqual([0x04, 0x40]);
    expect(der.subarray(20 + 32)).toEqual(pair.publicKey);
    const parsed = parsePkcs8(der);
    expect(parsed).toMatchObject({ algorithm: FAST });
    expect(encodePkcs8(parsed)).toEqual(der);
    expect((await importPrivateKeyPem(provider, pem)).publicKey).toEqual(pair.publicKey);
  });

  it('a private key of the wrong length is malformed; parameters present are bad_algorithm_parameters', () => {
    const alg = sequence(oid(Oid.slhDsaShake256s));
    const key = (algId: Uint8Array, sk: Uint8Array): Uint8Array => sequence(integer(0), algId, octets(sk));
    expect(parsePkcs8(key(alg, new Uint8Array(128)))).toMatchObject({ algorithm: 'slh-dsa-shake-256s' });
    expect(() => parsePkcs8(key(alg, new Uint8Array(127)))).toThrow(expect.objectContaining({ reason: 'malformed' }));
    expect(() => parsePkcs8(key(alg, new Uint8Array(96)))).toThrow(expect.objectContaining({ reason: 'malformed' }));
    expect(() => parsePkcs8(key(sequence(oid(Oid.slhDsaShake256s), derNull()), new Uint8Array(128))))
      .toThrow(expect.objectContaining({ reason: 'bad_algorithm_parameters' }));
  });

  it('a key whose PK.root does not belong to its seeds refuses to sign instead of emitting a bad signature', async () => {
    const pair = await provider.generateKeyPair(FAST);
    const material = await provider.exportPrivateKey(pair.privateKey);
    if (!('secretKey' in material)) throw new Error('expected SLH-DSA material');
    const sk = material.secretKey.slice();
    sk[63] = (sk[63] as number) ^ 1;
    const bad = await importPrivateKey(provider, encodePkcs8({ algorithm: FAST, secretKey: sk }));
    await expect(provider.sign(FAST, bad.privateKey, new Uint8Array([1]))).rejects.toThrow(/inconsistent/);
    await expect(provider.sign(FAST, bad.privateKey, new Uint8Array([1]))).rejects.toBeInstanceOf(ConfigError);
  });
});

function parsePemChainless(pem: string): Uint8Array {
  const b64 = pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

describe('TLS never uses SLH-DSA in CertificateVerify', () => {
  it('a server or client certificate with an SLH-DSA key is a ConfigError', async () => {
    const p = seededProvider('slh tls config');
    const pair = await p.generateKeyPair(FAST);
    const certificate = { chain: [new Uint8Array([0x30, 0])], privateKey: pair.privateKey, keyAlgorithm: FAST };
    expect(() => TlsConnection.server({ provider: p, now: clock, certificate })).toThrow(/SLH-DSA is for CA certificates only/);
    await expect(TlsConnection.client({ provider: p, now: clock, verifier: webPkiVerifier({ provider: p, trustAnchors: [(await generateRoot({
      provider: p, subject: 'CN=r', notBefore: NOT_BEFORE, notAfter: NOT_AFTER, algorithm: 'ed25519',
    })).certificate.der] }), certificate })).rejects.toThrow(/SLH-DSA is for CA certificates only/);
  });

  it('a client whose verifier reports an SLH-DSA leaf key accepts no CertificateVerify for it', async () => {
    const p = seededProvider('slh tls cv');
    const server = await p.generateKeyPair('ml-dsa-65');
    const slhKey = await p.generateKeyPair(FAST);
    const s = TlsConnection.server({ provider: p, now: clock, certificate: { chain: [server.publicKey], privateKey: server.privateKey, keyAlgorithm: 'ml-dsa-65' } });
    const c = await TlsConnection.client({
      provider: p, now: clock, verifier: { verify: async () => ({ publicKey: slhKey.publicKey, keyAlgorithm: FAST }) },
    });
    await pump(c, s);
    expect(c.handshakeInfo).toBeUndefined();
    // RFC 8446 §4.4.3: the scheme must fit the leaf key; no TLS scheme fits an SLH-DSA key.
    const error = drain(c).find((e) => e.type === 'error');
    expect(error).toMatchObject({ error: { alert: AlertDescription.illegal_parameter, message: expect.stringMatching(/does not fit the certificate's slh-dsa-sha2-128f key/) as unknown } });
  });
});

describe('a chain OpenSSL 3.5 minted (test-vectors/slh-dsa): SLH-DSA-SHA2-128s root → ML-DSA-65 → ML-DSA-44', () => {
  const dir = new URL('../../test-vectors/slh-dsa/', import.meta.url);
  const read = (f: string): string => readFileSync(new URL(f, dir), 'utf8');

  it('validates under our verifier, and OpenSSL\'s private key loads with the root\'s public key', async () => {
    const [root] = parsePemChain(read('root.pem')) as [Certificate];
    const result = await verifyChain({
      provider, leaf: parsePemChain(read('leaf.pem'))[0] as Certificate, intermediates: parsePemChain(read('intermediate.pem')),
      trustAnchors: [root], now: new Date('2027-06-01T00:00:00Z'), hostname: 'localhost', purpose: 'serverAuth',
    });
    expect(result.path.map((c) => summarizeCertificate(c).publicKeyAlgorithm)).toEqual(['ML-DSA-44', 'ML-DSA-65', 'SLH-DSA-SHA2-128s']);
    expect(summarizeCertificate(result.path[1] as Certificate).signatureAlgorithm).toBe('SLH-DSA-SHA2-128s');
    const key = await importPrivateKeyPem(provider, read('root.key'));
    expect(key.privateKey.algorithm).toBe('slh-dsa-sha2-128s');
    expect(key.publicKey).toEqual(root.publicKey.publicKey);
    // The root's own signature, which path validation does not check on a trust anchor, verifies too.
    await expect(provider.verify('slh-dsa-sha2-128s', root.publicKey.publicKey, root.tbs, root.signature)).resolves.toBe(true);
  });

  it('an SLH-DSA signature is never a CertificateError other than bad_signature when corrupted anywhere', async () => {
    const [root] = parsePemChain(read('root.pem')) as [Certificate];
    const int = parsePemChain(read('intermediate.pem'))[0] as Certificate;
    const sigStart = int.der.length - int.signature.length;
    for (const at of [sigStart, sigStart + 16, int.der.length - 1]) {
      const der = int.der.slice();
      der[at] = (der[at] as number) ^ 0x80;
      const e = await verifyChain({
        provider, leaf: parsePemChain(read('leaf.pem'))[0] as Certificate, intermediates: [der], trustAnchors: [root],
        now: new Date('2027-06-01T00:00:00Z'), hostname: 'localhost', purpose: 'serverAuth',
      }).then(() => undefined, (err: unknown) => err);
      expect(e).toBeInstanceOf(CertificateError);
      expect(e).toMatchObject({ reason: 'bad_signature', certificate: { index: 1 } });
    }
  });
});
