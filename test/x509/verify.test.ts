/**
 * Path validation (RFC 5280 §6, profiled for TLS 1.3 by RFC 8446 §4.4.2.2 and
 * RFC 9525): mixed classical / ML-DSA chains, and every refusal with its exact
 * reason, the certificate blamed, and the TLS alert.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { AlertDescription } from '../../src/errors.js';
import {
  CertificateError, DEFAULT_CHAIN_LIMITS, Oid, basicConstraintsExtension, extKeyUsageExtension, generateRoot, issueIntermediate,
  issueLeaf, keyUsageExtension, parseCertificate, signCertificate, subjectAltNameExtension, verifyChain, type CertificateErrorReason,
  type VerifyChainOptions,
} from '../../src/x509/index.js';
import { bits, derNull, oid, sequence } from '../../src/codec/der.js';
import { NOT_AFTER, NOT_BEFORE, NOW, creds, makeChain, testProvider, type Chain } from './pki.js';

const provider = testProvider('verify suite');

function optionsFor(chain: Chain, extra: Partial<VerifyChainOptions> = {}): VerifyChainOptions {
  return {
    provider, leaf: chain.leaf.certificate.der, intermediates: chain.intermediates.map((i) => i.certificate.der),
    trustAnchors: [chain.root.certificate], now: NOW, hostname: 'localhost', purpose: 'serverAuth', ...extra,
  };
}

/** Asserts that `p` rejects with exactly this reason, alert and blamed certificate. */
async function expectRefusal(
  p: Promise<unknown>, reason: CertificateErrorReason, alert: number, blame: { index?: number; trustAnchor?: boolean; subject?: string },
  message?: RegExp,
): Promise<CertificateError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(CertificateError);
  const ce = e as CertificateError;
  expect({ reason: ce.reason, alert: ce.alert }).toEqual({ reason, alert });
  if (blame.index !== undefined) expect(ce.certificate.index).toBe(blame.index);
  if (blame.trustAnchor !== undefined) expect(ce.certificate.trustAnchor).toBe(blame.trustAnchor);
  if (blame.subject !== undefined) expect(ce.certificate.subject).toBe(blame.subject);
  if (message) expect(ce.message).toMatch(message);
  return ce;
}

describe('mixed classical / post-quantum chains validate', () => {
  const cases: [string, Parameters<typeof makeChain>[1]][] = [
    ['classical root -> ML-DSA intermediate -> ML-DSA leaf', ['ecdsa-p384', 'ml-dsa-65', 'ml-dsa-65']],
    ['ML-DSA root -> classical leaf', ['ml-dsa-87', 'ecdsa-p256']],
    ['ML-DSA root -> Ed25519 leaf', ['ml-dsa-44', 'ed25519']],
    ['all ML-DSA (44 -> 65 -> 87)', ['ml-dsa-44', 'ml-dsa-65', 'ml-dsa-87']],
    ['Ed25519 root -> ECDSA P-256 intermediate -> ML-DSA-44 leaf', ['ed25519', 'ecdsa-p256', 'ml-dsa-44']],
  ];
  for (const [name, algs] of cases) {
    it(name, async () => {
      const chain = await makeChain(provider, algs);
      const result = await verifyChain(optionsFor(chain));
      expect(result.path.map((c) => c.subject.text)).toEqual([
        'CN=localhost', ...chain.intermediates.map((i) => i.certificate.subject.text).reverse(), 'CN=Test Root,O=pqtls',
      ]);
      expect(result.trustAnchor.der).toEqual(chain.root.certificate.der);
    });
  }

  it('builds the path from intermediates given out of order, among unrelated ones', async () => {
    const chain = await makeChain(provider, ['ml-dsa-65', 'ml-dsa-65', 'ml-dsa-65', 'ml-dsa-65']);
    const stranger = await makeChain(provider, ['ed25519', 'ed25519', 'ed25519']);
    const shuffled = [stranger.intermediates[0], chain.intermediates[0], stranger.root, chain.intermediates[1]].map((c) => c?.certificate.der as Uint8Array);
    const result = await verifyChain({ ...optionsFor(chain), intermediates: shuffled, trustAnchors: [stranger.root.certificate, chain.root.certificate] });
    expect(result.path).toHaveLength(4);
  });

  it('an all-ML-DSA-87 chain of four fits the default limits', async () => {
    const chain = await makeChain(provider, ['ml-dsa-87', 'ml-dsa-87', 'ml-dsa-87', 'ml-dsa-87']);
    const bytes = [chain.leaf, ...chain.intermediates].reduce((n, c) => n + c.certificate.der.length, 0) + chain.root.certificate.der.length;
    // ~7.6 KB per certificate (2592-byte key, 4627-byte signature).
    expect(bytes).toBeGreaterThan(4 * 7400);
    expect(bytes * 2).toBeLessThan(DEFAULT_CHAIN_LIMITS.maxTotalBytes);
    expect(4 * 2).toBeLessThanOrEqual(DEFAULT_CHAIN_LIMITS.maxChainLength);
    await expect(verifyChain(optionsFor(chain))).resolves.toBeDefined();
  });

  it('accepts a self-signed leaf that is itself a trust anchor', async () => {
    const k = await provider.generateKeyPair('ml-dsa-44');
    const { encodeName, parseNameText } = await import('../../src/x509/name.js');
    const name = encodeName(parseNameText('CN=localhost'));
    const self = await signCertificate({
      provider, subject: name, subjectKey: { algorithm: 'ml-dsa-44', publicKey: k.publicKey }, issuer: { name, privateKey: k.privateKey },
      notBefore: NOT_BEFORE, notAfter: NOT_AFTER,
      extensions: [basicConstraintsExtension(true), keyUsageExtension(['digitalSignature', 'keyCertSign']), subjectAltNameExtension({ dns: ['localhost'] })],
    });
    const r = await verifyChain({ provider, leaf: self, trustAnchors: [self], now: NOW, hostname: 'localhost', purpose: 'serverAuth' });
    expect(r.path).toHaveLength(1);
    // A root made for issuing only (keyUsage keyCertSign) cannot also serve TLS.
    const root = await generateRoot({ provider, algorithm: 'ml-dsa-44', subject: 'CN=localhost', notBefore: NOT_BEFORE, notAfter: NOT_AFTER });
    await expectRefusal(verifyChain({ provider, leaf: root.certificate, trustAnchors: [root.certificate], now: NOW, purpose: 'serverAuth' }),
      'key_usage', AlertDescription.bad_certificate, { index: 0 });
  });

  it('matches IP addresses given as hostname or as ip (RFC 9525 §6.5)', async () => {
    const chain = await makeChain(provider, ['ml-dsa-44', 'ml-dsa-44'], { leaf: { dns: ['localhost'], ip: ['127.0.0.1', '::1'] } });
    await expect(verifyChain(optionsFor(chain, { hostname: '::1' }))).resolves.toBeDefined();
    await expect(verifyChain(optionsFor(chain, { hostname: undefined, ip: '127.0.0.1' }))).resolves.toBeDefined();
    await expectRefusal(verifyChain(optionsFor(chain, { hostname: '127.0.0.2' })), 'hostname_mismatch', AlertDescription.bad_certificate, { index: 0 });
  });
});

describe('refusals name the certificate, the reason and the alert', () => {
  let chain: Chain;
  beforeAll(async () => {
    chain = await makeChain(provider, ['ml-dsa-65', 'ml-dsa-65', 'ml-dsa-65']);
  });

  it('expired leaf → certificate_expired (RFC 5280 §6.1.3 (a)(2))', async () => {
    await expectRefusal(verifyChain(optionsFor(chain, { now: new Date('2035-01-01T00:00:01Z') })), 'expired', AlertDescription.certificate_expired,
      { index: 0, subject: 'CN=localhost' }, /expired at 2035-01-01T00:00:00.000Z/);
  });

  it('a leaf not yet valid → certificate_expired', async () => {
    await expectRefusal(verifyChain(optionsFor(chain, { now: new Date('2024-12-31T23:59:59Z') })), 'not_yet_valid', AlertDescription.certificate_expired, { index: 0 });
  });

  it('validity bounds are inclusive', async () => {
    await expect(verifyChain(optionsFor(chain, { now: NOT_AFTER }))).resolves.toBeDefined();
    await expect(verifyChain(optionsFor(chain, { now: NOT_BEFORE }))).resolves.toBeDefined();
  });

  it('an expired intermediate is blamed, not the leaf', async () => {
    const inter = await issueIntermediate({
      provider, issuer: creds(chain.root), algorithm: 'ml-dsa-44', subject: 'CN=Short-lived CA', notBefore: NOT_BEFORE, notAfter: new Date('2026-01-01Z'),
    });
    const leaf = await issueLeaf({ provider, issuer: creds(inter), algorithm: 'ml-dsa-44', dns: ['localhost'], notBefore: NOT_BEFORE, notAfter: NOT_AFTER });
    await expectRefusal(verifyChain({ ...optionsFor(chain), leaf: leaf.certificate, intermediates: [inter.certificate] }), 'expired',
      AlertDescription.certificate_expired, { index: 1, subject: 'CN=Short-lived CA' });
  });

  it('wrong host → hostname_mismatch (RFC 9525 §6.3)', async () => {
    await expectRefusal(verifyChain(optionsFor(chain, { hostname: 'example.com' })), 'hostname_mismatch', AlertDescription.bad_certificate,
      { index: 0 }, /not valid for "example.com": its DNS names are localhost/);
  });

  it('wrong EKU → bad_eku / unsupported_certificate', async () => {
    await expectRefusal(verifyChain(optionsFor(chain, { purpose: 'clientAuth', hostname: undefined })), 'bad_eku',
      AlertDescription.unsupported_certificate, { index: 0 }, /does not include clientAuth/);
  });

  it('a leaf with clientAuth only is refused for serverAuth and accepted for clientAuth', async () => {
    const leaf = await issueLeaf({
      provider, issuer: creds(chain.intermediates[0] ?? chain.root), algorithm: 'ed25519', dns: ['client.test'], extKeyUsage: ['clientAuth'],
      notBefore: NOT_BEFORE, notAfter: NOT_AFTER,
    });
    const o = { ...optionsFor(chain), leaf: leaf.certificate, hostname: undefined };
    await expectRefusal(verifyChain(o), 'bad_eku', AlertDescription.unsupported_certificate, { index: 0 });
    await expect(verifyChain({ ...o, purpose: 'clientAuth' })).resolves.toBeDefined();
  });

  it('CA:FALSE used as issuer → not_a_ca, blaming the issuer (RFC 5280 §6.1.4 (k))', async () => {
    const fake = await signCertificate({
      provider, subject: 'CN=victim.test', subjectKey: { algorithm: 'ml-dsa-65', publicKey: chain.leaf.keyPair.publicKey },
      issuer: { name: chain.leaf.certificate.subject.der, privateKey: chain.leaf.keyPair.privateKey }, notBefore: NOT_BEFORE, notAfter: NOT_AFTER,
      extensions: [subjectAltNameExtension({ dns: ['victim.test'] }), extKeyUsageExtension([Oid.serverAuth])],
    });
    await expectRefusal(verifyChain({
      ...optionsFor(chain), leaf: fake, intermediates: [chain.leaf.certificate.der, ...chain.intermediates.map((i) => i.certificate)], hostname: 'victim.test',
    }), 'not_a_ca', AlertDescription.bad_certificate, { index: 1, subject: 'CN=localhost' });
  });

  it('pathLenConstraint exceeded → path_len_exceeded, blaming the constrained CA (RFC 5280 §4.2.1.9)', async () => {
    const c = await makeChain(provider, ['ml-dsa-44', 'ml-dsa-44', 'ml-dsa-44', 'ml-dsa-44'], { root: { pathLen: 0 } });
    await expectRefusal(verifyChain(optionsFor(c)), 'path_len_exceeded', AlertDescription.bad_certificate,
      { trustAnchor: true, subject: 'CN=Test Root,O=pqtls' }, /pathLenConstraint 0 but 2 intermediate/);
    const d = await makeChain(provider, ['ml-dsa-44', 'ml-dsa-44', 'ml-dsa-44', 'ml-dsa-44'], { intermediate: { pathLen: 0 } });
    await expectRefusal(verifyChain(optionsFor(d)), 'path_len_exceeded', AlertDescription.bad_certificate, { index: 1, subject: 'CN=Test Intermediate 1,O=pqtls' });
    const ok = await makeChain(provider, ['ml-dsa-44', 'ml-dsa-44', 'ml-dsa-44'], { root: { pathLen: 1 }, intermediate: { pathLen: 0 } });
    await expect(verifyChain(optionsFor(ok))).resolves.toBeDefined();
  });

  it('tampered signature → bad_signature', async () => {
    const der = chain.leaf.certificate.der.slice();
    der[der.length - 10] = (der[der.length - 10] as number) ^ 0x01;
    await expectRefusal(verifyChain(optionsFor(chain, { leaf: der })), 'bad_signature', AlertDescription.bad_certificate, { index: 0 },
      /signature by "CN=Test Intermediate 1,O=pqtls" does not verify/);
  });

  it('tampered TBS (a changed SAN) → bad_signature', async () => {
    const der = chain.leaf.certificate.der.slice();
    const at = findBytes(der, new TextEncoder().encode('localhost'));
    der[at] = 0x4c; // 'L'
    await expectRefusal(verifyChain(optionsFor(chain, { leaf: der, hostname: 'Localhost' })), 'bad_signature', AlertDescription.bad_certificate, { index: 0 });
  });

  it('ML-DSA OID with parameters present → bad_algorithm_parameters (RFC 9881 §2)', async () => {
    const spki = sequence(sequence(oid(Oid.mlDsa65), derNull()), bits(chain.leaf.keyPair.publicKey));
    const der = await signCertificate({
      provider, subject: 'CN=localhost', subjectKey: { spki }, issuer: { name: chain.intermediates[0]?.certificate.subject.der as Uint8Array,
        privateKey: chain.intermediates[0]?.keyPair.privateKey as never }, notBefore: NOT_BEFORE, notAfter: NOT_AFTER, extensions: [],
    });
    await expectRefusal(verifyChain(optionsFor(chain, { leaf: der })), 'bad_algorithm_parameters', AlertDescription.bad_certificate,
      { index: 0 }, /ML-DSA-65 AlgorithmIdentifier parameters must be absent/);
    const sigParams = await signCertificate({
      provider, subject: 'CN=localhost', subjectKey: { algorithm: 'ml-dsa-65', publicKey: chain.leaf.keyPair.publicKey },
      issuer: { name: chain.intermediates[0]?.certificate.subject.der as Uint8Array, privateKey: chain.intermediates[0]?.keyPair.privateKey as never },
      notBefore: NOT_BEFORE, notAfter: NOT_AFTER, extensions: [], signatureAlgorithmOverride: sequence(oid(Oid.mlDsa65), derNull()),
    });
    expect(() => parseCertificate(sigParams)).toThrow(/signatureAlgorithm: ML-DSA-65 AlgorithmIdentifier parameters must be absent/);
  });

  it('wrong ML-DSA public-key length → bad_public_key', async () => {
    const spki = sequence(sequence(oid(Oid.mlDsa65)), bits(chain.leaf.keyPair.publicKey.subarray(1)));
    const der = await signCertificate({
      provider, subject: 'CN=localhost', subjectKey: { spki }, issuer: { name: chain.intermediates[0]?.certificate.subject.der as Uint8Array,
        privateKey: chain.intermediates[0]?.keyPair.privateKey as never }, notBefore: NOT_BEFORE, notAfter: NOT_AFTER, extensions: [],
    });
    await expectRefusal(verifyChain(optionsFor(chain, { leaf: der })), 'bad_public_key', AlertDescription.bad_certificate,
      { index: 0 }, /ML-DSA-65 public key must be 1952 bytes, found 1951/);
  });

  it('an ML-DSA key in an ML-DSA-44 SPKI is a key of the wrong parameter set → bad_public_key', async () => {
    const spki = sequence(sequence(oid(Oid.mlDsa44)), bits(chain.leaf.keyPair.publicKey));
    const der = await signCertificate({
      provider, subject: 'CN=x', subjectKey: { spki }, issuer: { name: chain.root.certificate.subject.der, privateKey: chain.root.keyPair.privateKey },
      notBefore: NOT_BEFORE, notAfter: NOT_AFTER, extensions: [],
    });
    expect(() => parseCertificate(der)).toThrow(/ML-DSA-44 public key must be 1312 bytes, found 1952/);
  });

  it('unknown critical extension → unknown_critical_extension / unsupported_certificate (RFC 5280 §4.2)', async () => {
    const issuer = chain.intermediates[0];
    if (!issuer) throw new Error('fixture');
    const der = await signCertificate({
      provider, subject: 'CN=localhost', subjectKey: { algorithm: 'ml-dsa-65', publicKey: chain.leaf.keyPair.publicKey },
      issuer: { name: issuer.certificate.subject.der, privateKey: issuer.keyPair.privateKey }, notBefore: NOT_BEFORE, notAfter: NOT_AFTER,
      extensions: [
        subjectAltNameExtension({ dns: ['localhost'] }), { oid: '1.3.6.1.4.1.99999.1', critical: true, value: derNull() },
      ],
    });
    await expectRefusal(verifyChain(optionsFor(chain, { leaf: der })), 'unknown_critical_extension', AlertDescription.unsupported_certificate,
      { index: 0 }, /critical extension 1\.3\.6\.1\.4\.1\.99999\.1 is not supported/);
    // The same extension, not critical, is ignored.
    const relaxed = await signCertificate({
      provider, subject: 'CN=localhost', subjectKey: { algorithm: 'ml-dsa-65', publicKey: chain.leaf.keyPair.publicKey },
      issuer: { name: issuer.certificate.subject.der, privateKey: issuer.keyPair.privateKey }, notBefore: NOT_BEFORE, notAfter: NOT_AFTER,
      extensions: [subjectAltNameExtension({ dns: ['localhost'] }), { oid: '1.3.6.1.4.1.99999.1', critical: false, value: derNull() }],
    });
    await expect(verifyChain(optionsFor(chain, { leaf: relaxed }))).resolves.toBeDefined();
  });

  it('a loop in the issuer graph ends in unknown_ca', async () => {
    const a = await provider.generateKeyPair('ml-dsa-44');
    const b = await provider.generateKeyPair('ml-dsa-44');
    const ca = [basicConstraintsExtension(true), keyUsageExtension(['keyCertSign'])];
    const { encodeName, parseNameText } = await import('../../src/x509/name.js');
    const A = encodeName(parseNameText('CN=Loop A'));
    const B = encodeName(parseNameText('CN=Loop B'));
    const common = { provider, notBefore: NOT_BEFORE, notAfter: NOT_AFTER, extensions: ca };
    const aByB = await signCertificate({ ...common, subject: A, subjectKey: { algorithm: 'ml-dsa-44', publicKey: a.publicKey }, issuer: { name: B, privateKey: b.privateKey } });
    const bByA = await signCertificate({ ...common, subject: B, subjectKey: { algorithm: 'ml-dsa-44', publicKey: b.publicKey }, issuer: { name: A, privateKey: a.privateKey } });
    const leaf = await signCertificate({
      ...common, subject: 'CN=localhost', subjectKey: { algorithm: 'ml-dsa-65', publicKey: chain.leaf.keyPair.publicKey },
      issuer: { name: A, privateKey: a.privateKey }, extensions: [subjectAltNameExtension({ dns: ['localhost'] })],
    });
    const started = performance.now();
    await expectRefusal(verifyChain({ ...optionsFor(chain), leaf, intermediates: [aByB, bByA] }), 'unknown_ca', AlertDescription.unknown_ca,
      { index: 2, subject: 'CN=Loop B' }, /already in the path \(the issuer graph has a loop\)/);
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('no path to a trust anchor → unknown_ca naming the certificate whose issuer is missing', async () => {
    const other = await makeChain(provider, ['ed25519', 'ed25519'], { root: { subject: 'CN=Another Root' } });
    await expectRefusal(verifyChain(optionsFor(chain, { trustAnchors: [other.root.certificate] })), 'unknown_ca', AlertDescription.unknown_ca,
      { index: 1 }, /no trust anchor or intermediate has the subject "CN=Test Root,O=pqtls"/);
    await expectRefusal(verifyChain(optionsFor(chain, { intermediates: [] })), 'unknown_ca', AlertDescription.unknown_ca, { index: 0 });
  });

  it('an oversized chain → chain_too_large, before any parsing', async () => {
    const big = await makeChain(provider, ['ml-dsa-87', 'ml-dsa-87', 'ml-dsa-87', 'ml-dsa-87']);
    await expectRefusal(verifyChain({ ...optionsFor(big), limits: { maxTotalBytes: 16 * 1024 } }), 'chain_too_large',
      AlertDescription.certificate_unknown, { index: 0 }, /bytes of certificates presented, the limit is 16384/);
    const garbage = new Uint8Array(DEFAULT_CHAIN_LIMITS.maxTotalBytes + 1);
    await expectRefusal(verifyChain({ ...optionsFor(chain), intermediates: [garbage] }), 'chain_too_large', AlertDescription.certificate_unknown, { index: 0 });
  });

  it('too many certificates or too deep a path → chain_too_long', async () => {
    const deep = await makeChain(provider, ['ed25519', 'ed25519', 'ed25519', 'ed25519', 'ed25519']);
    await expectRefusal(verifyChain({ ...optionsFor(deep), limits: { maxChainLength: 4 } }), 'chain_too_long', AlertDescription.certificate_unknown, {},
      /would exceed 4 certificates|the limit is 4/);
    const many = Array.from({ length: 10 }, () => chain.intermediates[0]?.certificate.der as Uint8Array);
    await expectRefusal(verifyChain({ ...optionsFor(chain), intermediates: many }), 'chain_too_long', AlertDescription.certificate_unknown, { index: 0 },
      /11 certificates presented, the limit is 10/);
    await expect(verifyChain({ ...optionsFor(deep), limits: { maxChainLength: 5 } })).resolves.toBeDefined();
  });

  it('a leaf whose keyUsage lacks digitalSignature → key_usage', async () => {
    const issuer = chain.intermediates[0];
    if (!issuer) throw new Error('fixture');
    const der = await signCertificate({
      provider, subject: 'CN=localhost', subjectKey: { algorithm: 'ml-dsa-65', publicKey: chain.leaf.keyPair.publicKey },
      issuer: { name: issuer.certificate.subject.der, privateKey: issuer.keyPair.privateKey }, notBefore: NOT_BEFORE, notAfter: NOT_AFTER,
      extensions: [subjectAltNameExtension({ dns: ['localhost'] }), keyUsageExtension(['nonRepudiation'])],
    });
    await expectRefusal(verifyChain(optionsFor(chain, { leaf: der })), 'key_usage', AlertDescription.bad_certificate, { index: 0 }, /lacks digitalSignature/);
  });

  it('an ML-DSA key with keyUsage keyEncipherment → key_usage (RFC 9881 §5)', async () => {
    const issuer = chain.intermediates[0];
    if (!issuer) throw new Error('fixture');
    const der = await signCertificate({
      provider, subject: 'CN=localhost', subjectKey: { algorithm: 'ml-dsa-65', publicKey: chain.leaf.keyPair.publicKey },
      issuer: { name: issuer.certificate.subject.der, privateKey: issuer.keyPair.privateKey }, notBefore: NOT_BEFORE, notAfter: NOT_AFTER,
      extensions: [subjectAltNameExtension({ dns: ['localhost'] }), keyUsageExtension(['digitalSignature', 'keyEncipherment'])],
    });
    await expectRefusal(verifyChain(optionsFor(chain, { leaf: der })), 'key_usage', AlertDescription.bad_certificate, { index: 0 }, /RFC 9881/);
  });

  it('an issuer whose keyUsage lacks keyCertSign → key_usage, blaming the issuer', async () => {
    const k = await provider.generateKeyPair('ml-dsa-44');
    const { encodeName, parseNameText } = await import('../../src/x509/name.js');
    const name = encodeName(parseNameText('CN=No certsign'));
    const inter = await signCertificate({
      provider, subject: name, subjectKey: { algorithm: 'ml-dsa-44', publicKey: k.publicKey },
      issuer: { name: chain.root.certificate.subject.der, privateKey: chain.root.keyPair.privateKey }, notBefore: NOT_BEFORE, notAfter: NOT_AFTER,
      extensions: [basicConstraintsExtension(true), keyUsageExtension(['digitalSignature'])],
    });
    const leaf = await signCertificate({
      provider, subject: 'CN=localhost', subjectKey: { algorithm: 'ml-dsa-65', publicKey: chain.leaf.keyPair.publicKey },
      issuer: { name, privateKey: k.privateKey }, notBefore: NOT_BEFORE, notAfter: NOT_AFTER, extensions: [subjectAltNameExtension({ dns: ['localhost'] })],
    });
    await expectRefusal(verifyChain({ ...optionsFor(chain), leaf, intermediates: [inter] }), 'key_usage', AlertDescription.bad_certificate,
      { index: 1, subject: 'CN=No certsign' }, /lacks keyCertSign/);
  });

  it('the signature budget bounds path search among many same-name issuers → path_search_exhausted', async () => {
    // Eight look-alike intermediates: same subject as the real one, other keys. Each costs one failed signature check.
    const impostors = await Promise.all(Array.from({ length: 6 }, (_, i) =>
      issueIntermediate({ provider, issuer: creds(chain.root), algorithm: 'ml-dsa-65', subject: 'CN=Test Intermediate 1,O=pqtls', notBefore: NOT_BEFORE, notAfter: NOT_AFTER, serialNumber: new Uint8Array([i + 1]) })));
    const o = { ...optionsFor(chain), intermediates: impostors.map((i) => i.certificate.der) };
    await expectRefusal(verifyChain({ ...o, limits: { maxSignatureChecks: 3 } }), 'path_search_exhausted', AlertDescription.certificate_unknown, { index: 0 });
    await expectRefusal(verifyChain(o), 'bad_signature', AlertDescription.bad_certificate, { index: 0 });
    await expect(verifyChain({ ...o, intermediates: [...o.intermediates, chain.intermediates[0]?.certificate.der as Uint8Array] })).resolves.toBeDefined();
  });

  it('a malformed intermediate is reported with its position', async () => {
    const bad = chain.intermediates[0]?.certificate.der.slice(0, 100) as Uint8Array;
    await expectRefusal(verifyChain(optionsFor(chain, { intermediates: [chain.intermediates[0]?.certificate.der as Uint8Array, bad] })), 'malformed',
      AlertDescription.bad_certificate, { index: 2 });
  });
});

function findBytes(hay: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  throw new Error('needle not found');
}
