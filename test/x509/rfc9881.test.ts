/**
 * RFC 9881 (ML-DSA in X.509): the Appendix C examples, read in place from the
 * spec text committed in test-vectors/specs/, and the encoding rules of §2, §4 and §6.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SignatureScheme } from '../../src/pq/ids.js';
import {
  CertificateError, ML_DSA_EXPANDED_KEY_LENGTH, encodePem, Oid, certificateSignatureScheme, decodePem, encodePkcs8, exportPrivateKeyPem,
  importPrivateKeyPem, parseCertificate, parsePkcs8, parsePkcs8Pem, parseSubjectPublicKeyInfo, summarizeCertificate,
} from '../../src/x509/index.js';
import { bits, derNull, integer, octets, oid, sequence, tlv } from '../../src/codec/der.js';
import { testProvider } from './pki.js';

const specFile = fileURLToPath(new URL('../../test-vectors/specs/rfc9881-draft-ietf-lamps-dilithium-certificates.txt', import.meta.url));
const spec = readFileSync(specFile, 'utf8');

/** The PEM blocks of one appendix section, in order. */
function section(heading: string, next: string): string {
  const start = spec.indexOf(`\n${heading}`);
  const end = spec.indexOf(`\n${next}`, start + 1);
  if (start < 0 || end < 0) throw new Error(`section ${heading} not found in ${specFile}`);
  return spec.slice(start, end);
}

const provider = testProvider('rfc9881');
const levels = [
  { alg: 'ml-dsa-44', keys: ['C.1.1.1.', 'C.1.1.2.', 'C.1.1.3.', 'C.1.2.  '], pub: 1312 },
  { alg: 'ml-dsa-65', keys: ['C.1.2.1.', 'C.1.2.2.', 'C.1.2.3.', 'C.1.3.  '], pub: 1952 },
  { alg: 'ml-dsa-87', keys: ['C.1.3.1.', 'C.1.3.2.', 'C.1.3.3.', 'C.2.  '], pub: 2592 },
] as const;
const certificates = decodePem(section('C.3.  ', 'C.4.  ')).filter((b) => b.label === 'CERTIFICATE');
const publicKeys = decodePem(section('C.2.  ', 'C.3.  ')).filter((b) => b.label === 'PUBLIC KEY');

describe('RFC 9881 Appendix C examples', () => {
  it('has three certificates and three public keys', () => {
    expect(certificates).toHaveLength(3);
    expect(publicKeys).toHaveLength(3);
  });

  levels.forEach(({ alg, keys, pub }, i) => {
    describe(alg, () => {
      const [seedH, expandedH, bothH, endH] = keys;
      const seedPem = section(seedH, expandedH);
      const expandedPem = section(expandedH, bothH);
      const bothPem = section(bothH, endH);

      it('§6: the three private-key forms are told apart by tag and hold the same key', async () => {
        const seed = parsePkcs8Pem(seedPem);
        const expanded = parsePkcs8Pem(expandedPem);
        const both = parsePkcs8Pem(bothPem);
        expect(seed).toMatchObject({ algorithm: alg });
        expect('seed' in seed && seed.seed?.length).toBe(32);
        expect('expanded' in expanded && expanded.expanded?.length).toBe(ML_DSA_EXPANDED_KEY_LENGTH[alg]);
        expect('seed' in both && both.seed?.length && both.expanded?.length).toBe(ML_DSA_EXPANDED_KEY_LENGTH[alg]);
        const [a, b, c] = await Promise.all([seedPem, expandedPem, bothPem].map((p) => importPrivateKeyPem(provider, p)));
        expect(b?.publicKey).toEqual(a?.publicKey);
        expect(c?.publicKey).toEqual(a?.publicKey);
      });

      it('§4: the example SubjectPublicKeyInfo is the raw key of the example private key', async () => {
        const info = parseSubjectPublicKeyInfo((publicKeys[i] as { bytes: Uint8Array }).bytes);
        expect(info.algorithm).toBe(alg);
        expect(info.publicKey).toHaveLength(pub);
        const pair = await importPrivateKeyPem(provider, seedPem);
        expect(pair.publicKey).toEqual(info.publicKey);
      });

      it('§3: the example certificate parses and its self-signature verifies through the provider', async () => {
        const cert = parseCertificate((certificates[i] as { bytes: Uint8Array }).bytes);
        expect(summarizeCertificate(cert)).toMatchObject({ publicKeyAlgorithm: alg.toUpperCase(), signatureAlgorithm: alg.toUpperCase(), isCa: true });
        const scheme = certificateSignatureScheme(cert.signatureAlgorithm, cert.publicKey);
        expect(scheme).toBe([SignatureScheme.mldsa44, SignatureScheme.mldsa65, SignatureScheme.mldsa87][i]);
        expect(await provider.verify(scheme, cert.publicKey.publicKey, cert.tbs, cert.signature)).toBe(true);
      });

      it('§6: seed, expanded and both forms written by us read back identically', async () => {
        const seed = parsePkcs8Pem(seedPem);
        const both = parsePkcs8Pem(bothPem);
        if (!('seed' in both) || !both.seed || !both.expanded) throw new Error('fixture');
        expect(encodePkcs8(seed)).toEqual(decodePem(seedPem)[0]?.bytes);
        expect(encodePkcs8(both, { mlDsaFormat: 'both' })).toEqual(decodePem(bothPem)[0]?.bytes);
        expect(encodePkcs8(both, { mlDsaFormat: 'expanded' })).toEqual(decodePem(expandedPem)[0]?.bytes);
      });
    });
  });

  it('§8.2: C.4 keys whose seed and expandedKey disagree, or whose tr is wrong, are refused', async () => {
    const bad = decodePem(section('C.4.  ', 'Acknowledgments')).filter((b) => b.label === 'PRIVATE KEY');
    expect(bad).toHaveLength(3);
    const [both, wrongTr] = bad.map((b) => encodePem('PRIVATE KEY', b.bytes));
    await expect(importPrivateKeyPem(provider, both as string)).rejects.toThrow(/seed and expanded private key do not match/);
    await expect(importPrivateKeyPem(provider, wrongTr as string)).rejects.toThrow(/tr does not match/);
  });
});

describe('RFC 9881 encoding rules', () => {
  const seed = new Uint8Array(32).map((_, i) => i);
  const alg = sequence(oid(Oid.mlDsa65));

  it('§6: the CHOICE is read by tag, not by length (a 32-byte OCTET STRING is an expandedKey, and too short)', () => {
    const wrongTag = sequence(integer(0), alg, octets(octets(seed)));
    expect(() => parsePkcs8(wrongTag)).toThrow(/expandedKey must be 4032 bytes, found 32/);
    const seedForm = sequence(integer(0), alg, octets(tlv(0x80, seed)));
    expect(parsePkcs8(seedForm)).toEqual({ algorithm: 'ml-dsa-65', seed });
    const otherTag = sequence(integer(0), alg, octets(tlv(0x81, seed)));
    expect(() => parsePkcs8(otherTag)).toThrow(/none of seed \[0\], expandedKey, both/);
  });

  it('§6: private-key parameters must be absent', () => {
    const withNull = sequence(integer(0), sequence(oid(Oid.mlDsa65), derNull()), octets(tlv(0x80, seed)));
    const e = (() => { try { parsePkcs8(withNull); } catch (x) { return x; } return undefined; })();
    expect(e).toBeInstanceOf(CertificateError);
    expect((e as CertificateError).reason).toBe('bad_algorithm_parameters');
  });

  it('§4: SubjectPublicKeyInfo with parameters or a wrong key length is refused', () => {
    const key = new Uint8Array(1952);
    expect(() => parseSubjectPublicKeyInfo(sequence(sequence(oid(Oid.mlDsa65), derNull()), bits(key)))).toThrow(/parameters must be absent/);
    expect(() => parseSubjectPublicKeyInfo(sequence(alg, bits(key.subarray(1))))).toThrow(/must be 1952 bytes, found 1951/);
    expect(() => parseSubjectPublicKeyInfo(sequence(sequence(oid(Oid.mlDsa87)), bits(key)))).toThrow(/must be 2592 bytes/);
    expect(parseSubjectPublicKeyInfo(sequence(alg, bits(key))).algorithm).toBe('ml-dsa-65');
  });

  it('other algorithms are a clear "unsupported" error', () => {
    const ed448 = sequence(sequence(oid('1.3.101.113')), bits(new Uint8Array(57)));
    expect(() => parseSubjectPublicKeyInfo(ed448)).toThrow(/unsupported_algorithm: public-key algorithm 1.3.101.113 is not supported/);
    const hashMlDsa = sequence(integer(0), sequence(oid('2.16.840.1.101.3.4.3.32')), octets(tlv(0x80, seed)));
    expect(() => parsePkcs8(hashMlDsa)).toThrow(/unsupported_algorithm/);
  });

  it('writes the seed form by default (34 bytes of privateKey: 0x80 0x20 seed)', async () => {
    const pair = await provider.generateKeyPair('ml-dsa-87');
    const pem = await exportPrivateKeyPem(provider, pair.privateKey);
    const der = decodePem(pem)[0]?.bytes as Uint8Array;
    expect(der).toHaveLength(54);
    const back = await importPrivateKeyPem(provider, pem);
    expect(back.publicKey).toEqual(pair.publicKey);
  });
});
