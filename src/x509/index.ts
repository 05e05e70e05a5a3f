/**
 * X.509 for post-quantum chains: strict DER parsing of certificates, SPKI and
 * PKCS #8 (ML-DSA per RFC 9881, SLH-DSA per RFC 9909, Ed25519, ECDSA P-256/P-384, RSA), path
 * validation for TLS through the crypto provider, and a small CA for minting
 * test PKIs.
 *
 * Exported flat, like every pqtls entry, with the shared error classes
 * (`PqtlsError` and its subclasses, `AlertDescription`).
 * @module
 */
export * from '../errors.js';
export { CertificateError, certificateAlert, type CertificateErrorReason, type CertificateRef } from './errors.js';
export {
  parseCertificate, isSelfIssued, summarizeCertificate, formatCertificate, type Certificate, type CertificateSummary,
} from './certificate.js';
export { parsePemChain, certificateToPem, chainToPem } from './pem-certificates.js';
export { decodePem, encodePem, type PemBlock } from './pem.js';
export {
  parseSubjectPublicKeyInfo, encodeSubjectPublicKeyInfo, publicKeyAlgorithmName, signatureAlgorithmName,
  certificateSignatureScheme, signatureVerificationCost, RSA_MAX_VERIFY_BITS, ML_DSA_PUBLIC_KEY_LENGTH, ML_DSA_EXPANDED_KEY_LENGTH,
  type PublicKeyInfo, type SignatureAlgorithm,
} from './algorithms.js';
export {
  parsePkcs8, parsePkcs8Pem, encodePkcs8, importPrivateKey, importPrivateKeyPem, exportPrivateKeyPem, type Pkcs8Key,
  type MlDsaKeyFormat,
} from './pkcs8.js';
export { nameAttribute, type DistinguishedName, type NameAttribute } from './name.js';
export type {
  BasicConstraints, CertificateExtensions, Extension, KeyUsageBit, NameConstraints, NameSubtree, SubjectAltNames,
} from './extensions.js';
export { dnsNameMatches } from './hostname.js';
export { parseIp, formatIp } from './ip.js';
export {
  verifyChain, DEFAULT_CHAIN_LIMITS, type VerifyChainOptions, type VerifiedChain, type ChainLimits, type CertificateInput,
  type KeyPurpose,
} from './verify.js';
export {
  generateRoot, issueIntermediate, issueLeaf, issueCertificate, signCertificate, randomSerialNumber, keyIdentifier, CA_KEY_ALGORITHMS, CA_ONLY_KEY_ALGORITHMS,
  type IssuerCredentials, type IssuedCertificate, type CertificateSpec, type RootOptions, type IntermediateOptions,
  type LeafOptions,
} from './ca.js';
export {
  basicConstraintsExtension, keyUsageExtension, extKeyUsageExtension, subjectAltNameExtension, subjectKeyIdExtension,
  authorityKeyIdExtension, nameConstraintsExtension, type ExtensionSpec, type NameConstraintsSpec,
} from './extension-encoding.js';
export {
  parseCertificationRequest, verifyCertificationRequest, createCertificationRequest, certificationRequestToPem, issueLeafFromRequest,
  DEFAULT_CSR_LIMITS, type CertificationRequest, type CsrLimits, type CsrOptions, type LeafFromRequestOptions,
} from './csr.js';
export { Oid } from './oids.js';
