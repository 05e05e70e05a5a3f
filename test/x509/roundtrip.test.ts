/** Everything the CA API issues parses back identically, validates, and its keys reload. */
import { describe, expect, it } from 'vitest';
import type { KeyAlgorithm, SigningScheme } from '../../src/pq/ids.js';
import { SLH_DSA_ALGORITHMS, SignatureScheme } from '../../src/pq/ids.js';
import {
  CA_KEY_ALGORITHMS, chainToPem, certificateToPem, exportPrivateKeyPem, formatCertificate, generateRoot, importPrivateKeyPem, issueLeaf,
  parseCertificate, parsePemChain, summarizeCertificate, verifyChain, AlertDescription,
} from './exports.js';
import { NOT_AFTER, NOT_BEFORE, NOW, creds, makeChain, testProvider } from './pki.js';

const provider = testProvider('roundtrip');
const schemeFor: Record<KeyAlgorithm, SigningScheme> = {
  ...(Object.fromEntries(SLH_DSA_ALGORITHMS.map((a) => [a, a])) as Record<(typeof SLH_DSA_ALGORITHMS)[number], SigningScheme>),
  'ml-dsa-44': SignatureScheme.mldsa44, 'ml-dsa-65': SignatureScheme.mldsa65, 'ml-dsa-87': SignatureScheme.mldsa87,
  ed25519: SignatureScheme.ed25519, 'ecdsa-p256': SignatureScheme.ecdsa_secp256r1_sha256,
  'ecdsa-p384': SignatureScheme.ecdsa_secp384r1_sha384, rsa: SignatureScheme.rsa_pss_rsae_sha256,
  'rsa-pss': SignatureScheme.rsa_pss_pss_sha256,
};

describe('issue → PEM → parse → validate', () => {
  for (const alg of CA_KEY_ALGORITHMS) {
    it(`${alg}: root, intermediate and leaf round trip and validate`, async () => {
      const chain = await makeChain(provider, [alg, alg, alg]);
      const all = [chain.leaf, ...chain.intermediates, chain.root].map((c) => c.certificate);
      const back = parsePemChain(chainToPem(all));
      expect(back.map((c) => c.der)).toEqual(all.map((c) => c.der));
      expect(back.map(summarizeCertificate)).toEqual(all.map(summarizeCertificate));
      expect(parseCertificate(certificateToPem(chain.leaf.certificate)).der).toEqual(chain.leaf.certificate.der);
      const [leaf, ...rest] = back;
      const result = await verifyChain({
        provider, leaf: leaf as never, intermediates: rest.slice(0, -1), trustAnchors: rest.slice(-1), now: NOW, hostname: 'localhost', purpose: 'serverAuth',
      });
      expect(result.path).toHaveLength(3);
      expect(summarizeCertificate(chain.leaf.certificate)).toMatchObject({
        subject: 'CN=localhost', issuer: 'CN=Test Intermediate 1,O=pqtls', dns: ['localhost'], ip: ['127.0.0.1'], isCa: false,
        keyUsage: ['digitalSignature'], extKeyUsage: ['serverAuth'], notBefore: NOT_BEFORE.toISOString(), notAfter: NOT_AFTER.toISOString(),
      });
      expect(summarizeCertificate(chain.root.certificate)).toMatchObject({ isCa: true, keyUsage: ['keyCertSign', 'cRLSign'] });
    });

    it(`${alg}: the PKCS #8 key reloads and signs for the certificate's public key`, async () => {
      const pair = await provider.generateKeyPair(alg);
      const pem = await exportPrivateKeyPem(provider, pair.privateKey);
      expect(pem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
      const again = await importPrivateKeyPem(provider, pem);
      expect(again.publicKey).toEqual(pair.publicKey);
      const msg = new TextEncoder().encode('round trip');
      const sig = await provider.sign(schemeFor[alg], again.privateKey, msg);
      expect(await provider.verify(schemeFor[alg], pair.publicKey, msg, sig)).toBe(true);
    });
  }

  it('serial numbers come from the provider random: positive, 16 bytes, distinct', async () => {
    const a = await generateRoot({ provider, algorithm: 'ed25519', subject: 'CN=a', notBefore: NOT_BEFORE, notAfter: NOT_AFTER });
    const b = await generateRoot({ provider, algorithm: 'ed25519', subject: 'CN=a', notBefore: NOT_BEFORE, notAfter: NOT_AFTER });
    for (const s of [a.certificate.serialNumber, b.certificate.serialNumber]) {
      expect(s).toHaveLength(16);
      expect((s[0] as number) & 0x80).toBe(0);
    }
    expect(a.certificate.serialNumber).not.toEqual(b.certificate.serialNumber);
  });

  it('the same seed mints the same PKI byte for byte', async () => {
    const one = await makeChain(testProvider('fixed'), ['ml-dsa-44', 'ml-dsa-44']);
    const two = await makeChain(testProvider('fixed'), ['ml-dsa-44', 'ml-dsa-44']);
    expect(one.root.certificate.der).toEqual(two.root.certificate.der);
  });

  it('a summary prints subject, issuer, algorithms, validity and names', async () => {
    const chain = await makeChain(provider, ['ecdsa-p384', 'ml-dsa-65'], { leaf: { ip: ['127.0.0.1', '::1'] } });
    expect(formatCertificate(chain.leaf.certificate)).toMatch(
      /subject: {4}CN=localhost\nissuer: {5}CN=Test Root,O=pqtls\nserial: {5}[0-9a-f]{32}\npublic key: ML-DSA-65\nsignature: {2}ecdsa-with-SHA384\nvalidity: {3}2025-01-01T00:00:00.000Z .. 2035-01-01T00:00:00.000Z\nnames: {6}DNS:localhost, IP:127.0.0.1, IP:::1/,
    );
  });

  it('name constraints issued on a root bind the leaves under it (RFC 5280 §4.2.1.10)', async () => {
    const root = await generateRoot({
      provider, algorithm: 'ml-dsa-44', subject: 'CN=Constrained', notBefore: NOT_BEFORE, notAfter: NOT_AFTER,
      nameConstraints: { permitted: { dns: ['example.com'], ip: ['10.0.0.0/8'] } },
    });
    const ok = await issueLeaf({ provider, issuer: creds(root), algorithm: 'ml-dsa-44', dns: ['www.example.com'], ip: ['10.1.1.1'], notBefore: NOT_BEFORE, notAfter: NOT_AFTER });
    const base = { provider, trustAnchors: [root.certificate], now: NOW, purpose: 'serverAuth' as const };
    await expect(verifyChain({ ...base, leaf: ok.certificate, hostname: 'www.example.com' })).resolves.toBeDefined();
    const bad = await issueLeaf({ provider, issuer: creds(root), algorithm: 'ml-dsa-44', dns: ['localhost'], notBefore: NOT_BEFORE, notAfter: NOT_AFTER });
    const e = await verifyChain({ ...base, leaf: bad.certificate }).catch((x: unknown) => x);
    expect(e).toMatchObject({ reason: 'name_constraints', alert: AlertDescription.bad_certificate, certificate: { index: 0 } });
    expect(String(e)).toMatch(/DNS name "localhost" is outside the permitted subtrees of "CN=Constrained"/);
  });
});
