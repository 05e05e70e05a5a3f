import { ConfigError } from '../errors.js';
import { SLH_DSA_ALGORITHMS, isSlhDsa, type KeyAlgorithm } from '../pq/ids.js';
import type { CryptoProvider, KeyPair, PrivateKeyRef } from '../pq/provider.js';
import { encodeSubjectPublicKeyInfo, issuingSignatureAlgorithm } from './algorithms.js';
import { parseCertificate, type Certificate } from './certificate.js';
import { bits, explicit, integer, sequence, time } from '../codec/der.js';
import {
  authorityKeyIdExtension, basicConstraintsExtension, encodeExtension, extKeyUsageExtension, keyUsageExtension,
  nameConstraintsExtension, subjectAltNameExtension, subjectKeyIdExtension, type ExtensionSpec, type NameConstraintsSpec,
} from './extension-encoding.js';
import { encodeName, parseNameText } from './name.js';
import { Oid } from './oids.js';
import type { KeyPurpose } from './verify.js';

/** A CA's certificate and the provider-held key that signs with it. */
export interface IssuerCredentials {
  readonly certificate: Certificate;
  readonly privateKey: PrivateKeyRef;
}

/** What the CA API returns: the new certificate and its key pair. */
export interface IssuedCertificate {
  readonly certificate: Certificate;
  readonly keyPair: KeyPair;
}

/** Key algorithms the CA API generates keys for, for any certificate. */
export const CA_KEY_ALGORITHMS: readonly KeyAlgorithm[] = ['ml-dsa-44', 'ml-dsa-65', 'ml-dsa-87', 'ed25519', 'ecdsa-p256', 'ecdsa-p384'];
/**
 * Key algorithms the CA API generates keys for roots and intermediates only:
 * SLH-DSA, which has no TLS CertificateVerify code point, so a leaf with such
 * a key could never authenticate a handshake.
 */
export const CA_ONLY_KEY_ALGORITHMS: readonly KeyAlgorithm[] = SLH_DSA_ALGORITHMS;

/**
 * The low-level issuer: encodes a v3 TBSCertificate exactly as specified and
 * signs it through the provider. No policy is applied (it will happily mint a
 * certificate that a validator must refuse), which is what tests of the
 * validator need; {@link generateRoot}, {@link issueIntermediate} and
 * {@link issueLeaf} are the well-formed front doors.
 */
export interface CertificateSpec {
  readonly provider: CryptoProvider;
  /** Subject as RFC 4514 text (`CN=leaf,O=Example`), slash form (`/O=Example/CN=leaf`), or DER Name. */
  readonly subject: string | Uint8Array;
  /** The subject's public key and its algorithm, or a SubjectPublicKeyInfo to embed byte for byte. */
  readonly subjectKey: { readonly algorithm: KeyAlgorithm; readonly publicKey: Uint8Array } | { readonly spki: Uint8Array };
  /** Issuer name (DER) and signing key; for a self-signed certificate, the subject's own key. */
  readonly issuer: { readonly name: Uint8Array; readonly privateKey: PrivateKeyRef };
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Serial number magnitude; 16 bytes from the provider's random by default. */
  readonly serialNumber?: Uint8Array;
  readonly extensions: readonly ExtensionSpec[];
  /**
   * The signature AlgorithmIdentifier to write instead of the one the issuer's
   * key implies: for minting deliberately wrong certificates in tests.
   */
  readonly signatureAlgorithmOverride?: Uint8Array;
}

/** Encodes a subject given as text or DER. */
export function nameDer(subject: string | Uint8Array): Uint8Array {
  if (subject instanceof Uint8Array) return subject;
  try {
    return encodeName(parseNameText(subject));
  } catch (e) {
    throw new ConfigError(e instanceof Error ? e.message : String(e));
  }
}

/** RFC 5280 §4.1.2.2: positive, at most 20 octets; 16 random bytes with the top bit cleared, never a leading zero. */
export async function randomSerialNumber(provider: CryptoProvider): Promise<Uint8Array> {
  const b = await provider.random(16);
  b[0] = ((b[0] as number) & 0x7f) | 0x40;
  return b;
}

/** RFC 7093 §2 method 1: the leftmost 160 bits of SHA-256 over the subjectPublicKey bits. */
export function keyIdentifier(provider: CryptoProvider, publicKey: Uint8Array): Uint8Array {
  return provider.hash('SHA-256').digest(publicKey).subarray(0, 20);
}

function keyAlgorithmOf(ref: PrivateKeyRef): KeyAlgorithm {
  if (ref.algorithm === 'kex') throw new ConfigError('a key-exchange key cannot sign certificates');
  return ref.algorithm;
}

/** Signs and encodes a certificate from a {@link CertificateSpec}, and parses it back. */
export async function issueCertificate(spec: CertificateSpec): Promise<Certificate> {
  return parseCertificate(await signCertificate(spec));
}

/**
 * Signs and encodes a certificate from a {@link CertificateSpec}, returning the
 * DER without parsing it (so it may be one the parser refuses).
 */
export async function signCertificate(spec: CertificateSpec): Promise<Uint8Array> {
  if (!(spec.notBefore.getTime() <= spec.notAfter.getTime())) throw new ConfigError('notBefore must not be after notAfter');
  const implied = issuingSignatureAlgorithm(keyAlgorithmOf(spec.issuer.privateKey));
  const identifier = spec.signatureAlgorithmOverride ?? implied.identifier;
  const scheme = implied.scheme;
  const serial = spec.serialNumber ?? (await randomSerialNumber(spec.provider));
  const tbsParts = [
    explicit(0, integer(2)),
    integer(serial),
    identifier,
    spec.issuer.name,
    sequence(time(spec.notBefore), time(spec.notAfter)),
    nameDer(spec.subject),
    'spki' in spec.subjectKey ? spec.subjectKey.spki : encodeSubjectPublicKeyInfo(spec.subjectKey.algorithm, spec.subjectKey.publicKey),
  ];
  if (spec.extensions.length) tbsParts.push(explicit(3, sequence(...spec.extensions.map(encodeExtension))));
  const tbs = sequence(...tbsParts);
  const signature = await spec.provider.sign(scheme, spec.issuer.privateKey, tbs);
  return sequence(tbs, identifier, bits(signature));
}

interface CommonOptions {
  readonly provider: CryptoProvider;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Key algorithm to generate (default `ml-dsa-65`); ignored when `keyPair` is given. */
  readonly algorithm?: KeyAlgorithm;
  /** Certify an existing key pair instead of generating one. */
  readonly keyPair?: KeyPair;
  readonly serialNumber?: Uint8Array;
}

export interface RootOptions extends CommonOptions {
  /** e.g. `CN=PQ test root,O=Example`. */
  readonly subject: string;
  /** basicConstraints pathLenConstraint. */
  readonly pathLen?: number;
  readonly nameConstraints?: NameConstraintsSpec;
}

export interface IntermediateOptions extends RootOptions {
  readonly issuer: IssuerCredentials;
}

export interface LeafOptions extends CommonOptions {
  readonly issuer: IssuerCredentials;
  /** Defaults to `CN=` the first DNS name or IP address. */
  readonly subject?: string;
  readonly dns?: readonly string[];
  readonly ip?: readonly string[];
  /** extendedKeyUsage purposes; default `['serverAuth']`. */
  readonly extKeyUsage?: readonly KeyPurpose[];
}

async function keyFor(o: CommonOptions, forCa: boolean): Promise<KeyPair> {
  if (o.keyPair) return o.keyPair;
  const alg = o.algorithm ?? 'ml-dsa-65';
  if (!forCa && isSlhDsa(alg)) throw new ConfigError(`${alg} is for CA certificates only: TLS has no CertificateVerify scheme for SLH-DSA`);
  if (!CA_KEY_ALGORITHMS.includes(alg) && !CA_ONLY_KEY_ALGORITHMS.includes(alg)) {
    throw new ConfigError(`cannot generate ${alg} keys; choose one of ${[...CA_KEY_ALGORITHMS, ...CA_ONLY_KEY_ALGORITHMS].join(', ')}`);
  }
  return o.provider.generateKeyPair(alg);
}

function caExtensions(o: RootOptions, provider: CryptoProvider, publicKey: Uint8Array): ExtensionSpec[] {
  return [
    basicConstraintsExtension(true, o.pathLen),
    keyUsageExtension(['keyCertSign', 'cRLSign']),
    subjectKeyIdExtension(keyIdentifier(provider, publicKey)),
    ...(o.nameConstraints ? [nameConstraintsExtension(o.nameConstraints)] : []),
  ];
}

function checkIssuer(issuer: IssuerCredentials): void {
  if (issuer.certificate.extensions.basicConstraints?.ca !== true) {
    throw new ConfigError(`"${issuer.certificate.subject.text}" is not a CA certificate (basicConstraints cA is not set)`);
  }
}

/**
 * Checks the new certificate's signature against the issuer certificate's key,
 * so a key file that belongs to another certificate fails here and not at a peer.
 */
async function checkSignedBy(provider: CryptoProvider, cert: Certificate, issuer: Certificate): Promise<void> {
  const alg = issuer.publicKey.algorithm;
  const ok = alg !== 'unsupported' &&
    (await provider.verify(issuingSignatureAlgorithm(alg).scheme, issuer.publicKey.publicKey, cert.tbs, cert.signature));
  if (!ok) throw new ConfigError(`the issuer private key does not match the certificate of "${issuer.subject.text}"`);
}

function algorithmOf(k: KeyPair): KeyAlgorithm {
  return keyAlgorithmOf(k.privateKey);
}

/** A self-signed root: basicConstraints cA (critical), keyUsage keyCertSign + cRLSign, subjectKeyIdentifier. */
export async function generateRoot(o: RootOptions): Promise<IssuedCertificate> {
  const keyPair = await keyFor(o, true);
  const name = nameDer(o.subject);
  const certificate = await issueCertificate({
    provider: o.provider, subject: name, subjectKey: { algorithm: algorithmOf(keyPair), publicKey: keyPair.publicKey },
    issuer: { name, privateKey: keyPair.privateKey }, notBefore: o.notBefore, notAfter: o.notAfter,
    ...(o.serialNumber && { serialNumber: o.serialNumber }), extensions: caExtensions(o, o.provider, keyPair.publicKey),
  });
  return { certificate, keyPair };
}

/** An intermediate CA signed by `issuer`, with the root's extensions plus authorityKeyIdentifier. */
export async function issueIntermediate(o: IntermediateOptions): Promise<IssuedCertificate> {
  checkIssuer(o.issuer);
  const keyPair = await keyFor(o, true);
  const certificate = await issueCertificate({
    provider: o.provider, subject: o.subject, subjectKey: { algorithm: algorithmOf(keyPair), publicKey: keyPair.publicKey },
    issuer: { name: o.issuer.certificate.subject.der, privateKey: o.issuer.privateKey }, notBefore: o.notBefore, notAfter: o.notAfter,
    ...(o.serialNumber && { serialNumber: o.serialNumber }),
    extensions: [...caExtensions(o, o.provider, keyPair.publicKey), authorityKeyIdExtension(authorityKeyId(o))],
  });
  await checkSignedBy(o.provider, certificate, o.issuer.certificate);
  return { certificate, keyPair };
}

function authorityKeyId(o: { provider: CryptoProvider; issuer: IssuerCredentials }): Uint8Array {
  return o.issuer.certificate.extensions.subjectKeyId ?? keyIdentifier(o.provider, o.issuer.certificate.publicKey.publicKey);
}

/**
 * An end-entity certificate: basicConstraints cA FALSE, keyUsage
 * digitalSignature, extendedKeyUsage (serverAuth by default), and the DNS names
 * and IP addresses it serves as subjectAltName.
 */
export async function issueLeaf(o: LeafOptions): Promise<IssuedCertificate> {
  checkIssuer(o.issuer);
  if ((o.dns ?? []).length + (o.ip ?? []).length === 0 && o.subject === undefined) {
    throw new ConfigError('a leaf needs a subject or at least one DNS name or IP address');
  }
  const keyPair = await keyFor(o, false);
  const certificate = await signLeaf(o, { algorithm: algorithmOf(keyPair), publicKey: keyPair.publicKey });
  return { certificate, keyPair };
}

/** What {@link signLeaf} certifies: a key by algorithm and bytes, or a SubjectPublicKeyInfo copied as is. */
export type LeafSubjectKey =
  | { readonly algorithm: KeyAlgorithm; readonly publicKey: Uint8Array }
  /** `publicKey` is the subjectPublicKey bits (for the key identifier). */
  | { readonly spki: Uint8Array; readonly publicKey: Uint8Array };

/**
 * Signs a leaf for a public key the CA does not hold the private half of
 * (issueLeaf's key pair, or a certification request's key): the extensions of
 * {@link issueLeaf}. `subject` may be DER (a request's Name, copied byte for byte).
 */
export async function signLeaf(
  o: Omit<LeafOptions, 'subject' | 'algorithm' | 'keyPair'> & { readonly subject?: string | Uint8Array }, key: LeafSubjectKey,
): Promise<Certificate> {
  checkIssuer(o.issuer);
  const dns = o.dns ?? [];
  const ip = o.ip ?? [];
  if (dns.length + ip.length === 0 && o.subject === undefined) throw new ConfigError('a leaf needs a subject or at least one DNS name or IP address');
  const subjectName = nameDer(o.subject ?? `CN=${dns[0] ?? ip[0] ?? ''}`);
  const emptySubject = subjectName.length === 2;
  if (emptySubject && dns.length + ip.length === 0) throw new ConfigError('a leaf with an empty subject needs at least one DNS name or IP address');
  if ('algorithm' in key && isSlhDsa(key.algorithm)) throw new ConfigError(`${key.algorithm} is for CA certificates only: TLS has no CertificateVerify scheme for SLH-DSA`);
  const purposes = o.extKeyUsage ?? ['serverAuth'];
  const extensions: ExtensionSpec[] = [
    basicConstraintsExtension(false),
    keyUsageExtension(['digitalSignature']),
    ...(purposes.length ? [extKeyUsageExtension(purposes.map((p) => (p === 'serverAuth' ? Oid.serverAuth : Oid.clientAuth)))] : []),
    ...(dns.length + ip.length ? [subjectAltNameExtension({ dns, ip }, emptySubject)] : []),
    subjectKeyIdExtension(keyIdentifier(o.provider, key.publicKey)),
    authorityKeyIdExtension(authorityKeyId(o)),
  ];
  const certificate = await issueCertificate({
    provider: o.provider, subject: subjectName, subjectKey: 'spki' in key ? { spki: key.spki } : key,
    issuer: { name: o.issuer.certificate.subject.der, privateKey: o.issuer.privateKey }, notBefore: o.notBefore, notAfter: o.notAfter,
    ...(o.serialNumber && { serialNumber: o.serialNumber }), extensions,
  });
  await checkSignedBy(o.provider, certificate, o.issuer.certificate);
  return certificate;
}
