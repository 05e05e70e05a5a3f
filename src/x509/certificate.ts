import { toHex } from '../bytes.js';
import {
  parseAlgorithmIdentifier, parsePublicKeyInfoTlv, parseSignatureAlgorithm, publicKeyAlgorithmName, signatureAlgorithmName,
  type PublicKeyInfo, type SignatureAlgorithm,
} from './algorithms.js';
import { contents, contextTag, decodeDer, integerBytes, octetAlignedBits, smallInteger, Tag, timeValue } from '../codec/der.js';
import { CertificateError, malformed } from './errors.js';
import { parseExtensions, type CertificateExtensions } from './extensions.js';
import { formatIp } from './ip.js';
import { parseName, type DistinguishedName } from './name.js';
import { decodePem } from './pem.js';

/** A parsed X.509 certificate (RFC 5280 §4.1). Every field is decoded strictly from DER. */
export interface Certificate {
  /** The certificate's DER encoding. */
  readonly der: Uint8Array;
  /** The DER of tbsCertificate: the bytes the issuer's signature covers. */
  readonly tbs: Uint8Array;
  readonly version: 1 | 2 | 3;
  /** serialNumber as its two's-complement INTEGER contents. */
  readonly serialNumber: Uint8Array;
  readonly signatureAlgorithm: SignatureAlgorithm;
  readonly signature: Uint8Array;
  readonly issuer: DistinguishedName;
  readonly subject: DistinguishedName;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly publicKey: PublicKeyInfo;
  /** Decoded extensions; `all` is empty for v1/v2 certificates. */
  readonly extensions: CertificateExtensions;
}

const noExtensions: CertificateExtensions = { all: [], unhandledCritical: [] };

/**
 * Parses one certificate from DER bytes or a PEM string holding exactly one
 * CERTIFICATE block. Throws {@link CertificateError} (`malformed`,
 * `bad_algorithm_parameters`, `bad_public_key`) and nothing else. Unsupported
 * algorithms parse (so a trust store may hold them) and fail at validation.
 */
export function parseCertificate(input: Uint8Array | string): Certificate {
  if (typeof input === 'string') {
    const blocks = decodePem(input).filter((b) => b.label === 'CERTIFICATE');
    if (blocks.length !== 1) throw malformed(`expected exactly one CERTIFICATE PEM block, found ${blocks.length}`);
    return parseCertificate((blocks[0] as { bytes: Uint8Array }).bytes);
  }
  const outer = contents(decodeDer(input, 'certificate', malformed), 'certificate');
  const tbsT = outer.expect(Tag.SEQUENCE, 'tbsCertificate');
  const outerAlgT = outer.expect(Tag.SEQUENCE, 'signatureAlgorithm');
  const signature = octetAlignedBits(outer.expect(Tag.BIT_STRING, 'signatureValue'), 'signatureValue');
  outer.end();

  const t = contents(tbsT, 'tbsCertificate');
  let version: 1 | 2 | 3 = 1;
  const vT = t.optional(contextTag(0, true));
  if (vT) {
    const vr = contents(vT, 'version', vT.tag);
    const v = smallInteger(vr.expect(Tag.INTEGER, 'version'), 'version');
    vr.end();
    // X.690 DER: the DEFAULT v1 is never encoded explicitly.
    if (v !== 1 && v !== 2) throw malformed(`version ${v} is not v2 or v3 (v1 is encoded by omission)`);
    version = (v + 1) as 2 | 3;
  }
  const serialNumber = integerBytes(t.expect(Tag.INTEGER, 'serialNumber'), 'serialNumber');
  // RFC 5280 §4.1.2.2: positive, at most 20 octets.
  if (serialNumber.length > 21 || (serialNumber.length === 21 && serialNumber[0] !== 0)) throw malformed('serialNumber longer than 20 octets');
  const innerAlgT = t.expect(Tag.SEQUENCE, 'signature');
  const issuer = parseName(t.expect(Tag.SEQUENCE, 'issuer'), 'issuer');
  const validity = contents(t.expect(Tag.SEQUENCE, 'validity'), 'validity');
  const notBefore = timeValue(validity.read(), 'notBefore');
  const notAfter = timeValue(validity.read(), 'notAfter');
  validity.end();
  const subject = parseName(t.expect(Tag.SEQUENCE, 'subject'), 'subject');
  let publicKey: PublicKeyInfo;
  try {
    publicKey = parsePublicKeyInfoTlv(t.expect(Tag.SEQUENCE, 'subjectPublicKeyInfo'), true);
  } catch (e) {
    throw e instanceof CertificateError ? e.withCertificate({ subject: subject.text }) : e;
  }
  if (t.optional(contextTag(1, false)) && version < 2) throw malformed('issuerUniqueID in a v1 certificate');
  if (t.optional(contextTag(2, false)) && version < 2) throw malformed('subjectUniqueID in a v1 certificate');
  const extT = t.optional(contextTag(3, true));
  t.end();
  let extensions = noExtensions;
  if (extT) {
    if (version !== 3) throw malformed('extensions in a certificate that is not v3');
    const er = contents(extT, 'extensions', extT.tag);
    try {
      extensions = parseExtensions(er.expect(Tag.SEQUENCE, 'Extensions'));
    } catch (e) {
      throw e instanceof CertificateError ? e.withCertificate({ subject: subject.text }) : e;
    }
    er.end();
  }

  // RFC 5280 §4.1.1.2: signatureAlgorithm MUST equal tbsCertificate.signature.
  if (!sameBytes(outerAlgT.raw, innerAlgT.raw)) throw malformed('signatureAlgorithm differs from tbsCertificate.signature');
  const signatureAlgorithm = parseSignatureAlgorithm(parseAlgorithmIdentifier(outerAlgT, 'signatureAlgorithm'));

  return {
    der: input, tbs: tbsT.raw, version, serialNumber, signatureAlgorithm, signature, issuer, subject, notBefore, notAfter,
    publicKey, extensions,
  };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** True when issuer and subject names are the same (RFC 5280 §6.1: self-issued). */
export function isSelfIssued(c: Certificate): boolean {
  return sameBytes(c.issuer.der, c.subject.der);
}

/** What a CLI or log prints about a certificate. */
export interface CertificateSummary {
  readonly subject: string;
  readonly issuer: string;
  readonly serialNumber: string;
  readonly publicKeyAlgorithm: string;
  readonly signatureAlgorithm: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly dns: readonly string[];
  readonly ip: readonly string[];
  readonly isCa: boolean;
  readonly pathLen?: number;
  readonly keyUsage: readonly string[];
  readonly extKeyUsage: readonly string[];
}

const ekuNames: Record<string, string> = {
  '1.3.6.1.5.5.7.3.1': 'serverAuth',
  '1.3.6.1.5.5.7.3.2': 'clientAuth',
  '1.3.6.1.5.5.7.3.3': 'codeSigning',
  '1.3.6.1.5.5.7.3.4': 'emailProtection',
  '1.3.6.1.5.5.7.3.8': 'timeStamping',
  '1.3.6.1.5.5.7.3.9': 'OCSPSigning',
  '2.5.29.37.0': 'anyExtendedKeyUsage',
};

/** A readable summary of a certificate: names, algorithms, validity, SANs. */
export function summarizeCertificate(c: Certificate): CertificateSummary {
  const e = c.extensions;
  return {
    subject: c.subject.text,
    issuer: c.issuer.text,
    serialNumber: toHex(c.serialNumber),
    publicKeyAlgorithm: publicKeyAlgorithmName(c.publicKey),
    signatureAlgorithm: signatureAlgorithmName(c.signatureAlgorithm),
    notBefore: c.notBefore.toISOString(),
    notAfter: c.notAfter.toISOString(),
    dns: e.subjectAltName?.dns ?? [],
    ip: (e.subjectAltName?.ip ?? []).map(formatIp),
    isCa: e.basicConstraints?.ca ?? false,
    ...(e.basicConstraints?.pathLen !== undefined && { pathLen: e.basicConstraints.pathLen }),
    keyUsage: [...(e.keyUsage ?? [])],
    extKeyUsage: (e.extKeyUsage ?? []).map((o) => ekuNames[o] ?? o),
  };
}

/** The summary as indented `key: value` lines. */
export function formatCertificate(c: Certificate): string {
  const s = summarizeCertificate(c);
  const lines = [
    `subject:    ${s.subject || '(empty)'}`,
    `issuer:     ${s.issuer || '(empty)'}`,
    `serial:     ${s.serialNumber}`,
    `public key: ${s.publicKeyAlgorithm}`,
    `signature:  ${s.signatureAlgorithm}`,
    `validity:   ${s.notBefore} .. ${s.notAfter}`,
  ];
  if (s.dns.length || s.ip.length) lines.push(`names:      ${[...s.dns.map((d) => `DNS:${d}`), ...s.ip.map((i) => `IP:${i}`)].join(', ')}`);
  if (s.isCa) lines.push(`CA:         yes${s.pathLen !== undefined ? ` (pathLen ${s.pathLen})` : ''}`);
  if (s.keyUsage.length) lines.push(`key usage:  ${s.keyUsage.join(', ')}`);
  if (s.extKeyUsage.length) lines.push(`ext usage:  ${s.extKeyUsage.join(', ')}`);
  return lines.join('\n');
}
