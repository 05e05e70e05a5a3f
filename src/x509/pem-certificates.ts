import { parseCertificate, type Certificate } from './certificate.js';
import { CertificateError, malformed } from './errors.js';
import { decodePem, encodePem } from './pem.js';

/**
 * Parses every CERTIFICATE block of a PEM bundle, in order. Other blocks (a
 * private key in the same file) and text between blocks are skipped; a bundle
 * without any certificate is `malformed`. A bad certificate is reported with
 * its position in the bundle as `index`.
 */
export function parsePemChain(pem: string): Certificate[] {
  const blocks = decodePem(pem).filter((b) => b.label === 'CERTIFICATE');
  if (blocks.length === 0) throw malformed('no CERTIFICATE block in PEM input');
  return blocks.map((b, index) => {
    try {
      return parseCertificate(b.bytes);
    } catch (e) {
      throw e instanceof CertificateError ? e.withCertificate({ index }) : e;
    }
  });
}

/** A certificate as a CERTIFICATE PEM block. */
export function certificateToPem(cert: Certificate | Uint8Array): string {
  return encodePem('CERTIFICATE', cert instanceof Uint8Array ? cert : cert.der);
}

/** Several certificates as one PEM bundle, in the order given. */
export function chainToPem(certs: readonly (Certificate | Uint8Array)[]): string {
  return certs.map(certificateToPem).join('');
}
