import { ConfigError } from '../errors.js';
import type { CryptoProvider, KeyPair } from '../pq/provider.js';
import {
  certificateSignatureScheme, encodeSubjectPublicKeyInfo, issuingSignatureAlgorithm, parseAlgorithmIdentifier, parsePublicKeyInfoTlv,
  parseSignatureAlgorithm, type PublicKeyInfo, type SignatureAlgorithm,
} from './algorithms.js';
import { nameDer, signLeaf, type IssuerCredentials, type LeafOptions } from './ca.js';
import type { Certificate } from './certificate.js';
import {
  bits, contents, contextTag, decodeDer, octetAlignedBits, oid, oidValue, sequence, set, smallInteger, Tag, tlv,
} from '../codec/der.js';
import { encodeExtension, subjectAltNameExtension } from './extension-encoding.js';
import { parseExtensions, type CertificateExtensions } from './extensions.js';
import { CertificateError, malformed } from './errors.js';
import { formatIp } from './ip.js';
import { parseName, type DistinguishedName } from './name.js';
import { decodePem, encodePem } from './pem.js';

/**
 * PKCS #10 certification requests (RFC 2986) on the strict DER layer: writing
 * one for a key we hold, and — for a CA — reading one, checking its
 * self-signature (proof of possession of the private key) and issuing a leaf
 * from it under the CA's own policy. The request proposes; the CA decides: only
 * the subject, the key and the DNS/IP subjectAltNames are taken from it, never
 * basicConstraints, keyUsage or anything else it asks for.
 *
 * Written on our own DER layer rather than with pkijs/asn1js: a request is
 * attacker input to a CA, so it gets the same strict DER and size limits as a
 * certificate; ML-DSA (and every other algorithm) verifies through the crypto
 * provider without a WebCrypto engine; and the package keeps no runtime
 * dependency beyond noble (pkijs is only the independent parser of the tests).
 */

/** PKCS #9 extensionRequest (RFC 2985 §5.4.2): the requested X.509 extensions. */
const EXTENSION_REQUEST = '1.2.840.113549.1.9.14';

/** Bounds on what a request may hold; a request is attacker-supplied input to a CA. */
export interface CsrLimits {
  /** Whole DER encoding. SLH-DSA-256f signatures alone are 49 856 bytes. */
  readonly maxBytes: number;
  /** Attributes in CertificationRequestInfo. */
  readonly maxAttributes: number;
  /** Extensions in the extensionRequest attribute. */
  readonly maxExtensions: number;
  /** subjectAltName entries. */
  readonly maxSubjectAltNames: number;
}

export const DEFAULT_CSR_LIMITS: CsrLimits = { maxBytes: 65_536, maxAttributes: 16, maxExtensions: 32, maxSubjectAltNames: 100 };

/** A parsed certification request. Parsing alone does not check the signature: see {@link verifyCertificationRequest}. */
export interface CertificationRequest {
  readonly der: Uint8Array;
  /** The DER of certificationRequestInfo: what the self-signature covers. */
  readonly info: Uint8Array;
  readonly subject: DistinguishedName;
  readonly publicKey: PublicKeyInfo;
  readonly signatureAlgorithm: SignatureAlgorithm;
  readonly signature: Uint8Array;
  /** The extensionRequest attribute's extensions, decoded (`all` empty when there is none). */
  readonly requestedExtensions: CertificateExtensions;
  /** The DNS names and IP addresses (text form) asked for in subjectAltName. */
  readonly dns: readonly string[];
  readonly ip: readonly string[];
}

/**
 * Parses a DER request or a PEM `CERTIFICATE REQUEST` block. Refuses, as
 * CertificateError: anything not DER (`malformed`), a request larger than the
 * limits, a key algorithm this library cannot verify (`unsupported_algorithm`,
 * since possession could not be proven), and a critical requested extension
 * this library does not understand (`unknown_critical_extension`).
 */
export function parseCertificationRequest(input: Uint8Array | string, limits: CsrLimits = DEFAULT_CSR_LIMITS): CertificationRequest {
  if (typeof input === 'string') {
    // base64 is 4/3 of the bytes; refuse a huge text before decoding it.
    if (input.length > limits.maxBytes * 2 + 1024) throw malformed(`certification request: PEM text over ${limits.maxBytes * 2 + 1024} characters`);
    const blocks = decodePem(input).filter((b) => b.label === 'CERTIFICATE REQUEST' || b.label === 'NEW CERTIFICATE REQUEST');
    if (blocks.length !== 1) throw malformed(`expected exactly one CERTIFICATE REQUEST PEM block, found ${blocks.length}`);
    return parseCertificationRequest((blocks[0] as { bytes: Uint8Array }).bytes, limits);
  }
  if (input.length > limits.maxBytes) throw malformed(`certification request of ${input.length} bytes exceeds the limit of ${limits.maxBytes}`);
  const outer = contents(decodeDer(input, 'certification request', malformed), 'certification request');
  const infoT = outer.expect(Tag.SEQUENCE, 'certificationRequestInfo');
  const algT = outer.expect(Tag.SEQUENCE, 'signatureAlgorithm');
  const signature = octetAlignedBits(outer.expect(Tag.BIT_STRING, 'signature'), 'signature');
  outer.end();

  const r = contents(infoT, 'certificationRequestInfo');
  const version = smallInteger(r.expect(Tag.INTEGER, 'version'), 'certification request version');
  if (version !== 0) throw malformed(`certification request version ${version} is not v1 (0)`);
  const subject = parseName(r.expect(Tag.SEQUENCE, 'subject'), 'subject');
  const publicKey = parsePublicKeyInfoTlv(r.expect(Tag.SEQUENCE, 'subjectPKInfo'), false);
  // RFC 2986 §4.1: attributes [0] IMPLICIT SET OF Attribute is not OPTIONAL (empty is `a0 00`).
  const attrs = contents(r.expect(contextTag(0, true), 'attributes'), 'attributes', contextTag(0, true));
  r.end();
  let requested: CertificateExtensions = { all: [], unhandledCritical: [] };
  let attributes = 0;
  let sawExtensionRequest = false;
  while (!attrs.done) {
    if (++attributes > limits.maxAttributes) throw malformed(`certification request has more than ${limits.maxAttributes} attributes`);
    const a = contents(attrs.read(), 'attribute');
    const type = oidValue(a.expect(Tag.OID, 'attribute type'), 'attribute type');
    const values = contents(a.expect(Tag.SET, 'attribute values'), 'attribute values', Tag.SET);
    a.end();
    // Other attributes (challengePassword, unstructuredName, ...) carry nothing a CA here uses.
    if (type !== EXTENSION_REQUEST) continue;
    if (sawExtensionRequest) throw malformed('extensionRequest attribute appears twice');
    sawExtensionRequest = true;
    const extsT = values.expect(Tag.SEQUENCE, 'extensionRequest');
    values.end();
    let count = 0;
    for (const ext = contents(extsT, 'extensionRequest'); !ext.done; ext.read()) {
      if (++count > limits.maxExtensions) throw malformed(`extensionRequest has more than ${limits.maxExtensions} extensions`);
    }
    requested = parseExtensions(extsT);
  }
  if (requested.unhandledCritical.length) {
    throw new CertificateError('unknown_critical_extension', `the request asks for critical extension ${requested.unhandledCritical.join(', ')}, which this CA does not understand`);
  }
  const san = requested.subjectAltName;
  if (san) {
    const total = san.dns.length + san.ip.length + san.email.length + san.uri.length + san.other;
    if (total > limits.maxSubjectAltNames) throw malformed(`subjectAltName has ${total} entries, more than ${limits.maxSubjectAltNames}`);
  }
  const signatureAlgorithm = parseSignatureAlgorithm(parseAlgorithmIdentifier(algT, 'signatureAlgorithm'));
  return {
    der: input, info: infoT.raw, subject, publicKey, signatureAlgorithm, signature, requestedExtensions: requested,
    dns: san?.dns ?? [], ip: (san?.ip ?? []).map(formatIp),
  };
}

/**
 * Parses a request and checks its self-signature with the key it names: the
 * requester holds the private key (RFC 2986 §3). `bad_signature` if not.
 */
export async function verifyCertificationRequest(
  provider: CryptoProvider, input: Uint8Array | string | CertificationRequest, limits: CsrLimits = DEFAULT_CSR_LIMITS,
): Promise<CertificationRequest> {
  const csr = typeof input === 'string' || input instanceof Uint8Array ? parseCertificationRequest(input, limits) : input;
  const scheme = certificateSignatureScheme(csr.signatureAlgorithm, csr.publicKey);
  let ok: boolean;
  try {
    ok = await provider.verify(scheme, csr.publicKey.publicKey, csr.info, csr.signature);
  } catch (e) {
    throw new CertificateError('bad_public_key', `the request's public key is unusable: ${e instanceof Error ? e.message : String(e)}`, {}, { cause: e });
  }
  if (!ok) throw new CertificateError('bad_signature', 'the request is not signed by the key it names (no proof of possession)');
  return csr;
}

export interface CsrOptions {
  readonly provider: CryptoProvider;
  /** The key to certify; it signs the request. */
  readonly keyPair: KeyPair;
  /** RFC 4514 text, slash form, or DER Name. */
  readonly subject: string | Uint8Array;
  readonly dns?: readonly string[];
  readonly ip?: readonly string[];
}

/**
 * Writes a PKCS #10 request signed with `keyPair`: the subject, the public key
 * and, when names are given, an extensionRequest with a subjectAltName.
 */
export async function createCertificationRequest(o: CsrOptions): Promise<Uint8Array> {
  const { algorithm } = o.keyPair.privateKey;
  if (algorithm === 'kex') throw new ConfigError('a key-exchange key cannot sign a certification request');
  const dns = o.dns ?? [];
  const ip = o.ip ?? [];
  const subject = nameDer(o.subject);
  const attributes = dns.length + ip.length
    ? [sequence(oid(EXTENSION_REQUEST), set(sequence(encodeExtension(subjectAltNameExtension({ dns, ip }, subject.length === 2)))))]
    : [];
  const info = sequence(tlv(Tag.INTEGER, new Uint8Array([0])), subject, encodeSubjectPublicKeyInfo(algorithm, o.keyPair.publicKey),
    tlv(contextTag(0, true), ...attributes));
  const { identifier, scheme } = issuingSignatureAlgorithm(algorithm);
  const signature = await o.provider.sign(scheme, o.keyPair.privateKey, info);
  return sequence(info, identifier, bits(signature));
}

/** A request as a `CERTIFICATE REQUEST` PEM block (RFC 7468 §7). */
export function certificationRequestToPem(der: Uint8Array): string {
  return encodePem('CERTIFICATE REQUEST', der);
}

export interface LeafFromRequestOptions extends Omit<LeafOptions, 'algorithm' | 'keyPair' | 'subject'> {
  readonly issuer: IssuerCredentials;
  /** The request: DER, PEM, or already parsed (it is verified again either way). */
  readonly request: Uint8Array | string | CertificationRequest;
  /** Overrides the request's subject. */
  readonly subject?: string;
  readonly limits?: CsrLimits;
}

/**
 * Issues an end-entity certificate for the key in a request, after checking
 * the request's proof of possession. From the request come the subject (unless
 * overridden), the SubjectPublicKeyInfo (byte for byte) and its DNS/IP
 * subjectAltNames, to which `dns` and `ip` add; everything else is the CA's
 * leaf profile. Names the CA could not check (email, URI, other forms) are
 * refused rather than dropped silently.
 */
export async function issueLeafFromRequest(o: LeafFromRequestOptions): Promise<Certificate> {
  const csr = await verifyCertificationRequest(o.provider, o.request, o.limits);
  const san = csr.requestedExtensions.subjectAltName;
  if (san && san.email.length + san.uri.length + san.other > 0) {
    throw new ConfigError('the request asks for subjectAltName entries other than DNS names and IP addresses (email, URI, ...), which this CA does not issue');
  }
  const dns = [...new Set([...csr.dns, ...(o.dns ?? [])])];
  const ip = [...new Set([...csr.ip, ...(o.ip ?? [])])];
  const { request: _request, limits: _limits, subject, ...rest } = o;
  return signLeaf({ ...rest, dns, ip, subject: subject ?? csr.subject.der }, { spki: csr.publicKey.der, publicKey: csr.publicKey.publicKey });
}
