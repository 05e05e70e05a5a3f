/**
 * An adversarial review of the path validator: each `describe` is one attack
 * on RFC 5280 §4.2 / §6, RFC 9525 §6 or RFC 9881, with the certificates an
 * attacker (or a careless caller) would present. Blocks marked "regression"
 * pin behaviour that was already right and is easy to break.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import {
  CertificateError, Oid, basicConstraintsExtension, dnsNameMatches, extKeyUsageExtension, generateRoot, issueIntermediate, issueLeaf,
  keyIdentifier, keyUsageExtension, parseCertificate, parseIp, signCertificate, subjectAltNameExtension, subjectKeyIdExtension,
  verifyChain, type CertificateErrorReason, type IssuedCertificate, type VerifyChainOptions,
} from '../../src/x509/index.js';
import { bits, oid, sequence, Tag, timeValue, tlv } from '../../src/codec/der.js';
import { malformed } from '../../src/x509/errors.js';
import { NOT_AFTER, NOT_BEFORE, NOW, creds, makeChain, testProvider, type Chain } from './pki.js';

const provider = testProvider('review suite');
const validity = { notBefore: NOT_BEFORE, notAfter: NOT_AFTER };
const caExtensions = (publicKey: Uint8Array) => [
  basicConstraintsExtension(true), keyUsageExtension(['keyCertSign']), subjectKeyIdExtension(keyIdentifier(provider, publicKey)),
];

function optionsFor(chain: Chain, extra: Partial<VerifyChainOptions> = {}): VerifyChainOptions {
  return {
    provider, leaf: chain.leaf.certificate.der, intermediates: chain.intermediates.map((i) => i.certificate.der),
    trustAnchors: [chain.root.certificate], now: NOW, hostname: 'localhost', purpose: 'serverAuth', ...extra,
  };
}

async function refusal(p: Promise<unknown>, reason: CertificateErrorReason, blame: { index?: number; trustAnchor?: boolean } = {}): Promise<CertificateError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(CertificateError);
  const ce = e as CertificateError;
  expect(ce.reason).toBe(reason);
  if (blame.index !== undefined) expect(ce.certificate.index).toBe(blame.index);
  if (blame.trustAnchor !== undefined) expect(ce.certificate.trustAnchor).toBe(blame.trustAnchor);
  return ce;
}

/** A CA certificate with `subject`, signed by `issuer` (name + key), for a fresh or given key. */
async function mintCa(subject: string, issuer: IssuedCertificate, extra: { pathLen?: number; eku?: string[] } = {}): Promise<IssuedCertificate> {
  const keyPair = await provider.generateKeyPair('ed25519');
  const der = await signCertificate({
    provider, subject, subjectKey: { algorithm: 'ed25519', publicKey: keyPair.publicKey },
    issuer: { name: issuer.certificate.subject.der, privateKey: issuer.keyPair.privateKey }, ...validity,
    extensions: [
      basicConstraintsExtension(true, extra.pathLen), keyUsageExtension(['keyCertSign']), subjectKeyIdExtension(keyIdentifier(provider, keyPair.publicKey)),
      ...(extra.eku ? [extKeyUsageExtension(extra.eku)] : []),
    ],
  });
  return { certificate: parseCertificate(der), keyPair };
}

describe('caller-supplied inputs cannot switch checks off', () => {
  let chain: Chain;
  beforeAll(async () => {
    chain = await makeChain(provider, ['ed25519', 'ed25519', 'ed25519']);
  });

  it('an invalid Date for `now` is refused, not treated as inside every validity period (RFC 5280 §6.1.1 (c))', async () => {
    // NaN compares false with everything, so `now < notBefore` and `now > notAfter` would both pass.
    await expect(verifyChain(optionsFor(chain, { now: new Date(Number.NaN) }))).rejects.toBeInstanceOf(ConfigError);
  });

  it('a limit given as undefined keeps its default instead of lifting the bound', async () => {
    const many = Array.from({ length: 10 }, () => chain.intermediates[0]?.certificate.der as Uint8Array);
    await refusal(verifyChain(optionsFor(chain, { intermediates: many, limits: { maxChainLength: undefined } })), 'chain_too_long', { index: 0 });
  });

  it('a limit that is not a non-negative integer is a configuration error', async () => {
    await expect(verifyChain(optionsFor(chain, { limits: { maxSignatureChecks: Number.NaN } }))).rejects.toBeInstanceOf(ConfigError);
    await expect(verifyChain(optionsFor(chain, { limits: { maxTotalBytes: -1 } }))).rejects.toBeInstanceOf(ConfigError);
  });
});

describe('RFC 9525 §6.2-6.3: a reference identity must be a DNS name, not an IP literal in disguise', () => {
  it('a host whose last label is numeric ("127.1", "0x7f.0.0.1") never matches a dNSName', () => {
    // A resolver (inet_aton, WHATWG URL "ends in a number") reads these as IPv4 addresses.
    expect(dnsNameMatches('127.1', '127.1')).toBe(false);
    expect(dnsNameMatches('*.0.0.1', '0x7f.0.0.1')).toBe(false);
    expect(dnsNameMatches('*.0.0.1', '0177.0.0.1')).toBe(false);
    expect(dnsNameMatches('host.0x1f', 'host.0x1f')).toBe(false);
    // A numeric label elsewhere is an ordinary DNS name.
    expect(dnsNameMatches('*.1.example', 'a.1.example')).toBe(true);
    expect(dnsNameMatches('123.example.com', '123.example.com')).toBe(true);
  });

  it('a reference identity with wildcard or non-hostname characters matches nothing', () => {
    expect(dnsNameMatches('*.example.com', '*.example.com')).toBe(false);
    expect(dnsNameMatches('[127.0.0.1]', '[127.0.0.1]')).toBe(false);
    expect(dnsNameMatches('fe80::1%eth0', 'fe80::1%eth0')).toBe(false);
    expect(dnsNameMatches('_acme.example.com', '_acme.example.com')).toBe(true);
  });

  it('verifyChain refuses "127.1" as a host name even when a dNSName says exactly that', async () => {
    const chain = await makeChain(provider, ['ed25519', 'ed25519'], { leaf: { dns: ['127.1'], ip: [] } });
    await refusal(verifyChain(optionsFor(chain, { hostname: '127.1' })), 'hostname_mismatch', { index: 0 });
  });
});

describe('RFC 4291 §2.2 (3): an embedded IPv4 address only ends an IPv6 address', () => {
  it('"1.2.3.4::" is not an address; the legal forms still parse', () => {
    expect(parseIp('1.2.3.4::')).toBeUndefined();
    expect(parseIp('1.2.3.4::5')).toBeUndefined();
    expect(parseIp('::1.2.3.4')?.slice(12)).toEqual(new Uint8Array([1, 2, 3, 4]));
    expect(parseIp('1:2:3:4:5:6:1.2.3.4')?.slice(12)).toEqual(new Uint8Array([1, 2, 3, 4]));
    expect(parseIp('1::6:1.2.3.4')?.slice(10)).toEqual(new Uint8Array([0, 6, 1, 2, 3, 4]));
  });
});

describe('RFC 5280 §4.2.1.10: excluded subtrees cannot be side-stepped', () => {
  it('an excluded DNS base written with a trailing dot still excludes the name', async () => {
    const chain = await makeChain(provider, ['ed25519', 'ed25519'], {
      root: { nameConstraints: { excluded: { dns: ['secret.example.com.'] } } }, leaf: { dns: ['secret.example.com'], ip: [] },
    });
    await refusal(verifyChain(optionsFor(chain, { hostname: 'secret.example.com' })), 'name_constraints', { index: 0 });
  });

  it('an IPv4-mapped IPv6 address (RFC 4291 §2.5.5.2) is caught by an IPv4 exclusion, and the reverse', async () => {
    const mapped = await makeChain(provider, ['ed25519', 'ed25519'], {
      root: { nameConstraints: { excluded: { ip: ['10.0.0.0/8'] } } }, leaf: { dns: [], ip: ['::ffff:10.1.2.3'], subject: 'CN=mapped' },
    });
    await refusal(verifyChain(optionsFor(mapped, { hostname: '::ffff:10.1.2.3' })), 'name_constraints', { index: 0 });
    const plain = await makeChain(provider, ['ed25519', 'ed25519'], {
      root: { nameConstraints: { excluded: { ip: ['::ffff:10.0.0.0/104'] } } }, leaf: { dns: [], ip: ['10.1.2.3'], subject: 'CN=plain' },
    });
    await refusal(verifyChain(optionsFor(plain, { hostname: '10.1.2.3' })), 'name_constraints', { index: 0 });
    // An address outside the excluded range in either form is unaffected.
    const other = await makeChain(provider, ['ed25519', 'ed25519'], {
      root: { nameConstraints: { excluded: { ip: ['10.0.0.0/8'] } } }, leaf: { dns: [], ip: ['::ffff:11.1.2.3'], subject: 'CN=other' },
    });
    await expect(verifyChain(optionsFor(other, { hostname: '::ffff:11.1.2.3' }))).resolves.toBeDefined();
  });

  it('regression: excluded beats permitted, and a constrained root binds an intermediate and the leaf', async () => {
    const chain = await makeChain(provider, ['ed25519', 'ed25519', 'ed25519'], {
      root: { nameConstraints: { permitted: { dns: ['example.com'] }, excluded: { dns: ['secret.example.com'] } } },
      leaf: { dns: ['a.secret.example.com'], ip: [] },
    });
    await refusal(verifyChain(optionsFor(chain, { hostname: 'a.secret.example.com' })), 'name_constraints', { index: 0 });
    const wild = await makeChain(provider, ['ed25519', 'ed25519'], {
      root: { nameConstraints: { permitted: { dns: ['example.com'] }, excluded: { dns: ['secret.example.com'] } } },
      leaf: { dns: ['*.EXAMPLE.com'], ip: [] },
    });
    // "*.example.com" could stand for secret.example.com.
    await refusal(verifyChain(optionsFor(wild, { hostname: 'www.example.com' })), 'name_constraints', { index: 0 });
  });
});

describe('name-constraint work is bounded (a peer controls both the SANs and the subtrees)', () => {
  it('SAN names × subtrees beyond limits.maxNameConstraintChecks → path_search_exhausted, in well under a second', async () => {
    const root = await generateRoot({ provider, algorithm: 'ed25519', subject: 'CN=NC Root', ...validity });
    // An intermediate with 2 000 excluded subtrees (nobody needs to sign it validly: constraints are read before signatures).
    const k = await provider.generateKeyPair('ed25519');
    const excluded = Array.from({ length: 2000 }, (_, i) => `q${i}.test`);
    const { nameConstraintsExtension } = await import('../../src/x509/index.js');
    const der = await signCertificate({
      provider, subject: 'CN=NC Inter', subjectKey: { algorithm: 'ed25519', publicKey: k.publicKey },
      issuer: { name: root.certificate.subject.der, privateKey: root.keyPair.privateKey }, ...validity,
      extensions: [...caExtensions(k.publicKey), nameConstraintsExtension({ excluded: { dns: excluded } })],
    });
    const inter: IssuedCertificate = { certificate: parseCertificate(der), keyPair: k };
    // A leaf with 2 000 DNS names: 4 000 000 comparisons, far over the default 250 000.
    const dns = ['localhost', ...Array.from({ length: 1999 }, (_, i) => `a${i}.test`)];
    const leaf = await issueLeaf({ provider, issuer: creds(inter), algorithm: 'ed25519', dns, ...validity });
    const o: VerifyChainOptions = { provider, leaf: leaf.certificate, intermediates: [der], trustAnchors: [root.certificate], now: NOW, hostname: 'localhost', purpose: 'serverAuth' };
    const started = performance.now();
    await refusal(verifyChain(o), 'path_search_exhausted', { index: 0 });
    expect(performance.now() - started).toBeLessThan(1000);
    // The same chain is checked in full when the caller allows the work.
    await expect(verifyChain({ ...o, limits: { maxNameConstraintChecks: 5_000_000 } })).resolves.toBeDefined();
  });
});

describe('DER strings of any length decode without overflowing the stack', () => {
  it('a 300 000-character dNSName parses (and the size limit, not a RangeError, refuses the chain)', async () => {
    const chain = await makeChain(provider, ['ed25519', 'ed25519']);
    const long = `${'a'.repeat(299_990)}.example`;
    const der = await signCertificate({
      provider, subject: 'CN=long', subjectKey: { algorithm: 'ed25519', publicKey: chain.leaf.keyPair.publicKey },
      issuer: { name: chain.root.certificate.subject.der, privateKey: chain.root.keyPair.privateKey }, ...validity,
      extensions: [subjectAltNameExtension({ dns: [long] })],
    });
    expect(parseCertificate(der).extensions.subjectAltName?.dns[0]).toHaveLength(long.length);
    await refusal(verifyChain(optionsFor(chain, { leaf: der })), 'chain_too_large', { index: 0 });
  });
});

describe('regression: path building (RFC 5280 §6.1)', () => {
  let chain: Chain;
  beforeAll(async () => {
    chain = await makeChain(provider, ['ed25519', 'ed25519', 'ed25519']);
  });

  it('a trust anchor with the right name but another key does not vouch for the chain', async () => {
    const lookalike = await generateRoot({ provider, algorithm: 'ed25519', subject: 'CN=Test Root,O=pqtls', ...validity });
    await refusal(verifyChain(optionsFor(chain, { trustAnchors: [lookalike.certificate] })), 'bad_signature', { index: 1 });
  });

  it('an AKI that names an impostor only orders candidates; the signature decides', async () => {
    const real = chain.intermediates[0] as IssuedCertificate;
    // Same subject and same subjectKeyIdentifier as the real intermediate, another key, issued by the real root.
    const k = await provider.generateKeyPair('ed25519');
    const impostor = await signCertificate({
      provider, subject: real.certificate.subject.der, subjectKey: { algorithm: 'ed25519', publicKey: k.publicKey },
      issuer: { name: chain.root.certificate.subject.der, privateKey: chain.root.keyPair.privateKey }, ...validity,
      extensions: [basicConstraintsExtension(true), keyUsageExtension(['keyCertSign']), subjectKeyIdExtension(real.certificate.extensions.subjectKeyId as Uint8Array)],
    });
    const r = await verifyChain(optionsFor(chain, { intermediates: [impostor, real.certificate.der] }));
    expect(r.path[1]?.der).toEqual(real.certificate.der);
    await refusal(verifyChain(optionsFor(chain, { intermediates: [impostor] })), 'bad_signature', { index: 0 });
  });

  it('pathLenConstraint skips self-issued certificates but counts every other intermediate (§4.2.1.9, §6.1.4 (l))', async () => {
    const root = await generateRoot({ provider, algorithm: 'ed25519', subject: 'CN=Len Root', pathLen: 0, ...validity });
    // Key rollover under the root's own name: self-issued, so pathLen 0 still allows it.
    const rollover = await mintCa('CN=Len Root', root);
    const leafA = await issueLeaf({ provider, issuer: creds(rollover), algorithm: 'ed25519', dns: ['localhost'], ...validity });
    const base = { provider, now: NOW, hostname: 'localhost', purpose: 'serverAuth' as const, trustAnchors: [root.certificate] };
    const ok = await verifyChain({ ...base, leaf: leafA.certificate, intermediates: [rollover.certificate] });
    expect(ok.path).toHaveLength(3);
    // A real intermediate below a pathLen 0 root is one too many, even with a self-issued one under it.
    const inter = await mintCa('CN=Len Inter', root);
    const selfIssued = await mintCa('CN=Len Inter', inter);
    const leafB = await issueLeaf({ provider, issuer: creds(selfIssued), algorithm: 'ed25519', dns: ['localhost'], ...validity });
    await refusal(verifyChain({ ...base, leaf: leafB.certificate, intermediates: [inter.certificate, selfIssued.certificate] }), 'path_len_exceeded', { trustAnchor: true });
    // Under a pathLen 0 intermediate, a self-issued certificate is allowed.
    const root2 = await generateRoot({ provider, algorithm: 'ed25519', subject: 'CN=Len Root 2', ...validity });
    const inter0 = await mintCa('CN=Len Inter 0', root2, { pathLen: 0 });
    const self0 = await mintCa('CN=Len Inter 0', inter0);
    const leafC = await issueLeaf({ provider, issuer: creds(self0), algorithm: 'ed25519', dns: ['localhost'], ...validity });
    await expect(verifyChain({ ...base, trustAnchors: [root2.certificate], leaf: leafC.certificate, intermediates: [self0.certificate, inter0.certificate] }))
      .resolves.toBeDefined();
  });

  it('a CA whose extendedKeyUsage lacks the purpose constrains every leaf below it', async () => {
    const inter = await mintCa('CN=Client CA', chain.root, { eku: [Oid.clientAuth] });
    const leaf = await issueLeaf({ provider, issuer: creds(inter), algorithm: 'ed25519', dns: ['localhost'], extKeyUsage: ['serverAuth', 'clientAuth'], ...validity });
    const o = optionsFor(chain, { leaf: leaf.certificate, intermediates: [inter.certificate] });
    await refusal(verifyChain(o), 'bad_eku', { index: 1 });
    await expect(verifyChain({ ...o, purpose: 'clientAuth', hostname: undefined })).resolves.toBeDefined();
  });

  it('a critical extension the validator does not process on an intermediate is refused (RFC 5280 §4.2)', async () => {
    const k = await provider.generateKeyPair('ed25519');
    const der = await signCertificate({
      provider, subject: 'CN=Policy CA', subjectKey: { algorithm: 'ed25519', publicKey: k.publicKey },
      issuer: { name: chain.root.certificate.subject.der, privateKey: chain.root.keyPair.privateKey }, ...validity,
      // policyConstraints (2.5.29.36), which RFC 5280 §4.2.1.11 requires to be critical.
      extensions: [...caExtensions(k.publicKey), { oid: '2.5.29.36', critical: true, value: sequence(tlv(0x80, new Uint8Array([0]))) }],
    });
    const inter: IssuedCertificate = { certificate: parseCertificate(der), keyPair: k };
    const leaf = await issueLeaf({ provider, issuer: creds(inter), algorithm: 'ed25519', dns: ['localhost'], ...validity });
    await refusal(verifyChain(optionsFor(chain, { leaf: leaf.certificate, intermediates: [der] })), 'unknown_critical_extension', { index: 1 });
  });
});

describe('regression: signature algorithm confusion (RFC 5280 §4.1.1.2, RFC 9881 §2)', () => {
  it('an ML-DSA-44 issuer key cannot verify a certificate labelled ML-DSA-65', async () => {
    const chain = await makeChain(provider, ['ml-dsa-44', 'ml-dsa-44']);
    const der = await signCertificate({
      provider, subject: 'CN=localhost', subjectKey: { algorithm: 'ml-dsa-44', publicKey: chain.leaf.keyPair.publicKey },
      issuer: { name: chain.root.certificate.subject.der, privateKey: chain.root.keyPair.privateKey }, ...validity,
      extensions: [subjectAltNameExtension({ dns: ['localhost'] })], signatureAlgorithmOverride: sequence(oid(Oid.mlDsa65)),
    });
    await refusal(verifyChain(optionsFor(chain, { leaf: der })), 'unsupported_algorithm', { index: 0 });
  });

  it('a P-384 issuer key cannot verify ecdsa-with-SHA256', async () => {
    const chain = await makeChain(provider, ['ecdsa-p384', 'ecdsa-p256']);
    const der = await signCertificate({
      provider, subject: 'CN=localhost', subjectKey: { algorithm: 'ecdsa-p256', publicKey: chain.leaf.keyPair.publicKey },
      issuer: { name: chain.root.certificate.subject.der, privateKey: chain.root.keyPair.privateKey }, ...validity,
      extensions: [subjectAltNameExtension({ dns: ['localhost'] })], signatureAlgorithmOverride: sequence(oid(Oid.ecdsaWithSha256)),
    });
    await refusal(verifyChain(optionsFor(chain, { leaf: der })), 'unsupported_algorithm', { index: 0 });
  });

  it('an outer signatureAlgorithm that differs from the signed inner one is malformed', async () => {
    const chain = await makeChain(provider, ['ecdsa-p384', 'ecdsa-p384']);
    const c = chain.leaf.certificate;
    const swapped = sequence(c.tbs, sequence(oid(Oid.ecdsaWithSha256)), bits(c.signature));
    expect(() => parseCertificate(swapped)).toThrow(/signatureAlgorithm differs from tbsCertificate.signature/);
  });
});

describe('regression: identity (RFC 9525 §6.3-6.5) and validity (RFC 5280 §4.1.2.5)', () => {
  it('IP references match iPAddress SANs only, byte for byte after parsing', async () => {
    const chain = await makeChain(provider, ['ed25519', 'ed25519'], { leaf: { dns: ['127.0.0.1', 'localhost'], ip: ['2001:db8::1', '127.0.0.1'] } });
    for (const same of ['2001:DB8:0:0:0:0:0:1', '[2001:db8::1]', '2001:db8::0:1']) {
      await expect(verifyChain(optionsFor(chain, { hostname: same }))).resolves.toBeDefined();
    }
    // The IPv4-mapped form of 127.0.0.1 is a different 16-byte identity.
    await refusal(verifyChain(optionsFor(chain, { hostname: '::ffff:127.0.0.1' })), 'hostname_mismatch', { index: 0 });
    const dnsOnly = await makeChain(provider, ['ed25519', 'ed25519'], { leaf: { dns: ['127.0.0.1'], ip: [] } });
    await refusal(verifyChain(optionsFor(dnsOnly, { hostname: '127.0.0.1' })), 'hostname_mismatch', { index: 0 });
  });

  it('a wildcard is only ever a whole left-most label over at least two labels', () => {
    expect(dnsNameMatches('xn--*.example.com', 'xn--caf-dma.example.com')).toBe(false);
    expect(dnsNameMatches('*.*.example.com', 'a.b.example.com')).toBe(false);
    expect(dnsNameMatches('*.example.com.', 'www.example.com')).toBe(true);
    expect(dnsNameMatches('*.example.com', 'xn--caf-dma.example.com')).toBe(true);
    expect(dnsNameMatches('*.', 'com')).toBe(false);
    expect(dnsNameMatches('*.example..com', 'a.example..com')).toBe(false);
  });

  it('the subject CN is never consulted', async () => {
    const chain = await makeChain(provider, ['ed25519', 'ed25519'], { leaf: { subject: 'CN=localhost', dns: ['other.test'], ip: [] } });
    await refusal(verifyChain(optionsFor(chain)), 'hostname_mismatch', { index: 0 });
  });

  it('UTCTime years 50-99 are 19xx and 00-49 are 20xx; GeneralizedTime is read as written', () => {
    const t = (tag: number, s: string): Date => timeValue({ tag, value: new TextEncoder().encode(s), raw: new Uint8Array(0), fail: malformed }, 'test');
    expect(t(Tag.UTCTime, '491231235959Z').toISOString()).toBe('2049-12-31T23:59:59.000Z');
    expect(t(Tag.UTCTime, '500101000000Z').toISOString()).toBe('1950-01-01T00:00:00.000Z');
    expect(t(Tag.GeneralizedTime, '20500101000000Z').toISOString()).toBe('2050-01-01T00:00:00.000Z');
    expect(() => t(Tag.GeneralizedTime, '00490101000000Z')).toThrow(CertificateError);
    expect(() => t(Tag.UTCTime, '490229000000Z')).toThrow(/invalid date/);
  });

  it('an intermediate not yet valid at the injected time is blamed (inclusive bounds)', async () => {
    const root = await generateRoot({ provider, algorithm: 'ed25519', subject: 'CN=Time Root', ...validity });
    const later = await issueIntermediate({ provider, issuer: creds(root), algorithm: 'ed25519', subject: 'CN=Later CA', notBefore: new Date('2026-06-01T12:00:01Z'), notAfter: NOT_AFTER });
    const leaf = await issueLeaf({ provider, issuer: creds(later), algorithm: 'ed25519', dns: ['localhost'], ...validity });
    const o = { provider, leaf: leaf.certificate, intermediates: [later.certificate], trustAnchors: [root.certificate], hostname: 'localhost', purpose: 'serverAuth' as const };
    await refusal(verifyChain({ ...o, now: NOW }), 'not_yet_valid', { index: 1 });
    await expect(verifyChain({ ...o, now: new Date('2026-06-01T12:00:01Z') })).resolves.toBeDefined();
  });
});
