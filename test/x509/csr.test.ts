/**
 * PKCS #10 certification requests (RFC 2986): what we write parses back and
 * verifies; a CA issuing from a request checks proof of possession (§3: the
 * request is signed with the private key of the key it names), refuses
 * critical extensions it does not understand, bounds every size, and takes
 * only the subject, the key and the DNS/IP subjectAltNames from the request.
 */
import fc from 'fast-check';
import { seeded } from '../helpers/fc.js';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import type { KeyPair } from '../../src/pq/provider.js';
import { encodeSubjectPublicKeyInfo, issuingSignatureAlgorithm } from '../../src/x509/algorithms.js';
import { bits, contextTag, integer, oid, sequence, set, tlv } from '../../src/codec/der.js';
import {
  CA_KEY_ALGORITHMS, CertificateError, DEFAULT_CSR_LIMITS, Oid, basicConstraintsExtension, createCertificationRequest,
  certificationRequestToPem, issueCertificate, issueLeafFromRequest, keyUsageExtension, parseCertificationRequest, subjectAltNameExtension,
  verifyCertificationRequest, verifyChain, type ExtensionSpec,
} from '../../src/x509/index.js';
import { encodeExtension } from '../../src/x509/extension-encoding.js';
import { encodeName, parseNameText } from '../../src/x509/name.js';
import { NOT_AFTER, NOT_BEFORE, NOW, creds, makeChain, testProvider } from './pki.js';

const provider = testProvider('csr');
const EXTENSION_REQUEST = '1.2.840.113549.1.9.14';
const CHALLENGE_PASSWORD = '1.2.840.113549.1.9.7';

/** A request built field by field and signed with `keyPair`: for requests our writer would never produce. */
async function handmade(keyPair: KeyPair, o: {
  version?: number; attributes?: Uint8Array[]; omitAttributes?: boolean; extensions?: ExtensionSpec[]; spki?: Uint8Array; subject?: string;
} = {}): Promise<Uint8Array> {
  const alg = keyPair.privateKey.algorithm;
  if (alg === 'kex') throw new Error('not a signing key');
  const attributes = [...(o.attributes ?? [])];
  if (o.extensions) attributes.push(sequence(oid(EXTENSION_REQUEST), set(sequence(...o.extensions.map(encodeExtension)))));
  const info = sequence(
    integer(o.version ?? 0), encodeName(parseNameText(o.subject ?? 'CN=handmade')), o.spki ?? encodeSubjectPublicKeyInfo(alg, keyPair.publicKey),
    ...(o.omitAttributes ? [] : [tlv(contextTag(0, true), ...attributes)]),
  );
  const { identifier, scheme } = issuingSignatureAlgorithm(alg);
  return sequence(info, identifier, bits(await provider.sign(scheme, keyPair.privateKey, info)));
}

async function reason(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    if (e instanceof CertificateError) return `${e.reason}: ${e.detail}`;
    if (e instanceof ConfigError) return `config: ${e.message}`;
    throw e;
  }
  return 'accepted';
}

describe('PKCS #10 requests we write (RFC 2986 §4)', () => {
  for (const alg of CA_KEY_ALGORITHMS) {
    it(`${alg}: parses back, the self-signature verifies, and a CA issues a leaf that validates`, async () => {
      const keyPair = await provider.generateKeyPair(alg);
      const der = await createCertificationRequest({ provider, keyPair, subject: 'CN=www.example.com,O=Example', dns: ['www.example.com'], ip: ['192.0.2.7'] });
      const csr = await verifyCertificationRequest(provider, certificationRequestToPem(der));
      expect(csr.subject.text).toBe('CN=www.example.com,O=Example');
      expect(csr.publicKey.algorithm).toBe(alg);
      expect(csr.publicKey.publicKey).toEqual(keyPair.publicKey);
      expect(csr.dns).toEqual(['www.example.com']);
      expect(csr.ip).toEqual(['192.0.2.7']);

      const chain = await makeChain(provider, ['ml-dsa-65', 'ml-dsa-44']);
      const leaf = await issueLeafFromRequest({ provider, issuer: creds(chain.root), request: der, notBefore: NOT_BEFORE, notAfter: NOT_AFTER });
      expect(leaf.publicKey.der).toEqual(csr.publicKey.der);
      expect(leaf.subject.der).toEqual(csr.subject.der);
      const result = await verifyChain({
        provider, leaf, intermediates: [], trustAnchors: [chain.root.certificate], now: NOW, hostname: 'www.example.com', purpose: 'serverAuth',
      });
      expect(result.path).toHaveLength(2);
    });
  }

  it('without names the attributes field is present and empty (a0 00), and no extensionRequest is written', async () => {
    const keyPair = await provider.generateKeyPair('ed25519');
    const der = await createCertificationRequest({ provider, keyPair, subject: 'CN=no names' });
    // ... SubjectPublicKeyInfo (44 bytes for Ed25519) then `a0 00`.
    const csr = parseCertificationRequest(der);
    expect(csr.info.subarray(csr.info.length - 2)).toEqual(new Uint8Array([0xa0, 0x00]));
    expect(csr.requestedExtensions.all).toEqual([]);
  });
});

describe('proof of possession (RFC 2986 §3)', () => {
  it('a flipped signature bit is bad_signature', async () => {
    const keyPair = await provider.generateKeyPair('ml-dsa-44');
    const der = await createCertificationRequest({ provider, keyPair, subject: 'CN=x', dns: ['x.example'] });
    const bad = der.slice();
    bad[bad.length - 5] = (bad[bad.length - 5] as number) ^ 0x01;
    expect(await reason(verifyCertificationRequest(provider, bad))).toMatch(/^bad_signature: .*no proof of possession/);
  });

  it('a request naming someone else\'s key, signed with ours, is bad_signature and no certificate is issued', async () => {
    const mine = await provider.generateKeyPair('ecdsa-p256');
    const victim = await provider.generateKeyPair('ecdsa-p256');
    const der = await handmade(mine, { spki: encodeSubjectPublicKeyInfo('ecdsa-p256', victim.publicKey) });
    const chain = await makeChain(provider, ['ml-dsa-65', 'ml-dsa-44']);
    expect(await reason(issueLeafFromRequest({ provider, issuer: creds(chain.root), request: der, dns: ['a.example'], notBefore: NOT_BEFORE, notAfter: NOT_AFTER })))
      .toMatch(/^bad_signature/);
  });
});

describe('what a CA takes from a request', () => {
  it('requested CA bits, key usages and pathLen are not granted; only the subject, key and DNS/IP names are', async () => {
    const keyPair = await provider.generateKeyPair('ml-dsa-65');
    const der = await handmade(keyPair, {
      subject: 'CN=wants to be a CA',
      extensions: [basicConstraintsExtension(true, 5), keyUsageExtension(['keyCertSign', 'cRLSign']), subjectAltNameExtension({ dns: ['a.example'], ip: ['::1'] })],
    });
    const chain = await makeChain(provider, ['ml-dsa-65', 'ml-dsa-44']);
    const leaf = await issueLeafFromRequest({ provider, issuer: creds(chain.root), request: der, dns: ['b.example'], notBefore: NOT_BEFORE, notAfter: NOT_AFTER });
    expect(leaf.extensions.basicConstraints).toEqual({ ca: false });
    expect([...(leaf.extensions.keyUsage ?? [])]).toEqual(['digitalSignature']);
    expect(leaf.extensions.subjectAltName?.dns).toEqual(['a.example', 'b.example']);
    expect(leaf.extensions.subjectAltName?.ip).toEqual([new Uint8Array([...new Uint8Array(15), 1])]);
    expect(leaf.subject.text).toBe('CN=wants to be a CA');
    // The requester signs a certificate under it anyway: the validator refuses the path (RFC 5280 §6.1.4 (k)).
    const child = await issueCertificate({
      provider, subject: 'CN=child', subjectKey: { algorithm: 'ed25519', publicKey: (await provider.generateKeyPair('ed25519')).publicKey },
      issuer: { name: leaf.subject.der, privateKey: keyPair.privateKey }, notBefore: NOT_BEFORE, notAfter: NOT_AFTER,
      extensions: [subjectAltNameExtension({ dns: ['child.example'] })],
    });
    await expect(verifyChain({
      provider, leaf: child, intermediates: [leaf], trustAnchors: [chain.root.certificate], now: NOW, purpose: 'serverAuth',
    })).rejects.toMatchObject({ reason: 'not_a_ca' });
  });

  it('an unknown critical requested extension is refused (unknown_critical_extension); an unknown non-critical one is ignored', async () => {
    const keyPair = await provider.generateKeyPair('ed25519');
    const unknown = (critical: boolean): ExtensionSpec => ({ oid: '1.3.6.1.4.1.99999.1', critical, value: new Uint8Array([0x05, 0x00]) });
    expect(await reason(async () => parseCertificationRequest(await handmade(keyPair, { extensions: [unknown(true)] }))))
      .toMatch(/^unknown_critical_extension: .*1\.3\.6\.1\.4\.1\.99999\.1/);
    const csr = parseCertificationRequest(await handmade(keyPair, { extensions: [unknown(false), subjectAltNameExtension({ dns: ['ok.example'] })] }));
    expect(csr.dns).toEqual(['ok.example']);
  });

  it('other attributes (challengePassword) are skipped; a second extensionRequest is malformed', async () => {
    const keyPair = await provider.generateKeyPair('ed25519');
    const challenge = sequence(oid(CHALLENGE_PASSWORD), set(tlv(0x0c, new TextEncoder().encode('secret'))));
    expect((parseCertificationRequest(await handmade(keyPair, { attributes: [challenge] }))).subject.text).toBe('CN=handmade');
    const ext = sequence(oid(EXTENSION_REQUEST), set(sequence(encodeExtension(subjectAltNameExtension({ dns: ['a.example'] })))));
    expect(await reason(async () => parseCertificationRequest(await handmade(keyPair, { attributes: [ext, ext] })))).toMatch(/^malformed: extensionRequest attribute appears twice/);
  });

  it('email or URI subjectAltNames are refused, not silently dropped', async () => {
    const keyPair = await provider.generateKeyPair('ed25519');
    const email: ExtensionSpec = { oid: Oid.subjectAltName, critical: false, value: sequence(tlv(contextTag(1, false), new TextEncoder().encode('a@example.com'))) };
    const chain = await makeChain(provider, ['ed25519', 'ed25519']);
    expect(await reason(issueLeafFromRequest({
      provider, issuer: creds(chain.root), request: await handmade(keyPair, { extensions: [email] }), dns: ['a.example'], notBefore: NOT_BEFORE, notAfter: NOT_AFTER,
    }))).toMatch(/^config: .*email, URI/);
  });

  it('an empty subject without names gets no certificate; with names, the subjectAltName is critical (RFC 5280 §4.2.1.6)', async () => {
    const keyPair = await provider.generateKeyPair('ed25519');
    const chain = await makeChain(provider, ['ed25519', 'ed25519']);
    const empty = await createCertificationRequest({ provider, keyPair, subject: new Uint8Array([0x30, 0x00]) });
    expect(await reason(issueLeafFromRequest({ provider, issuer: creds(chain.root), request: empty, notBefore: NOT_BEFORE, notAfter: NOT_AFTER })))
      .toMatch(/^config: .*empty subject/);
    const named = await createCertificationRequest({ provider, keyPair, subject: new Uint8Array([0x30, 0x00]), dns: ['n.example'] });
    const leaf = await issueLeafFromRequest({ provider, issuer: creds(chain.root), request: named, notBefore: NOT_BEFORE, notAfter: NOT_AFTER });
    expect(leaf.extensions.all.find((e) => e.oid === Oid.subjectAltName)?.critical).toBe(true);
  });
});

describe('strict structure and size limits', () => {
  it('version other than v1 (0), missing attributes, non-DER lengths and trailing bytes are malformed', async () => {
    const keyPair = await provider.generateKeyPair('ed25519');
    expect(await reason(async () => parseCertificationRequest(await handmade(keyPair, { version: 1 })))).toMatch(/^malformed: .*version 1/);
    expect(await reason(async () => parseCertificationRequest(await handmade(keyPair, { omitAttributes: true })))).toMatch(/^malformed: .*attributes/);
    const der = await createCertificationRequest({ provider, keyPair, subject: 'CN=x' });
    // The outer length re-written in a non-minimal long form: valid BER, not DER.
    const long = new Uint8Array([0x30, 0x82, 0x00, der[1] as number, ...der.subarray(2)]);
    expect(await reason(() => parseCertificationRequest(long))).toMatch(/^malformed: .*non-minimal length/);
    expect(await reason(() => parseCertificationRequest(new Uint8Array([...der, 0])))).toMatch(/^malformed: .*trailing/);
  });

  it('a key algorithm whose signature cannot be checked is refused: possession could not be proven', async () => {
    const keyPair = await provider.generateKeyPair('ed25519');
    // X448 (RFC 8410): a SubjectPublicKeyInfo we cannot verify a signature with.
    const x448 = sequence(sequence(oid('1.3.101.111')), bits(new Uint8Array(56).fill(9)));
    expect(await reason(async () => parseCertificationRequest(await handmade(keyPair, { spki: x448 })))).toMatch(/^unsupported_algorithm/);
  });

  it('bytes, attributes, extensions and subjectAltName entries are bounded', async () => {
    const keyPair = await provider.generateKeyPair('ed25519');
    const der = await createCertificationRequest({ provider, keyPair, subject: 'CN=x', dns: ['a.example'] });
    expect(await reason(() => parseCertificationRequest(der, { ...DEFAULT_CSR_LIMITS, maxBytes: der.length - 1 }))).toMatch(/^malformed: .*exceeds the limit/);
    expect(await reason(() => parseCertificationRequest(certificationRequestToPem(der) + ' '.repeat(2000), { ...DEFAULT_CSR_LIMITS, maxBytes: 200 }))).toMatch(/^malformed: .*PEM text over/);
    const challenge = sequence(oid(CHALLENGE_PASSWORD), set(tlv(0x0c, new TextEncoder().encode('p'))));
    const manyAttrs = await handmade(keyPair, { attributes: Array.from({ length: DEFAULT_CSR_LIMITS.maxAttributes + 1 }, () => challenge) });
    expect(await reason(() => parseCertificationRequest(manyAttrs))).toMatch(/^malformed: .*more than 16 attributes/);
    const manyExts = await handmade(keyPair, {
      extensions: Array.from({ length: DEFAULT_CSR_LIMITS.maxExtensions + 1 }, (_, i) => ({ oid: `1.3.6.1.4.1.99999.${i}`, critical: false, value: new Uint8Array([5, 0]) })),
    });
    expect(await reason(() => parseCertificationRequest(manyExts))).toMatch(/^malformed: .*more than 32 extensions/);
    const manyNames = await handmade(keyPair, {
      extensions: [subjectAltNameExtension({ dns: Array.from({ length: DEFAULT_CSR_LIMITS.maxSubjectAltNames + 1 }, (_, i) => `h${i}.example`) })],
    });
    expect(await reason(() => parseCertificationRequest(manyNames))).toMatch(/^malformed: .*101 entries/);
  });
});

describe('mutated requests (attacker input to a CA)', () => {
  it('parsing and verifying throw only CertificateError, and a mutation never yields a request that verifies with other contents', async () => {
    const requests = await Promise.all((['ml-dsa-44', 'ed25519', 'ecdsa-p256'] as const).map(async (alg) => {
      const keyPair = await provider.generateKeyPair(alg);
      return createCertificationRequest({ provider, keyPair, subject: 'CN=m,O=pqtls', dns: ['m.example'], ip: ['10.1.2.3'] });
    }));
    const edit = fc.record({
      pick: fc.nat(), at: fc.nat(), head: fc.boolean(), mask: fc.integer({ min: 1, max: 255 }), cut: fc.boolean(),
    });
    await fc.assert(fc.asyncProperty(edit, async ({ pick, at, head, mask, cut }) => {
      const der = requests[pick % requests.length] as Uint8Array;
      const i = head ? at % Math.min(200, der.length) : at % der.length;
      const m = cut ? der.slice(0, i) : der.slice();
      if (!cut) m[i] = (m[i] as number) ^ mask;
      try {
        const csr = await verifyCertificationRequest(provider, m);
        // A mutated request that still verifies can only differ outside the signed info.
        expect(csr.info).toEqual(parseCertificationRequest(der).info);
      } catch (e) {
        if (!(e instanceof CertificateError)) throw e;
      }
    }), seeded(0xc5a, { numRuns: 300 }));
  });
});
