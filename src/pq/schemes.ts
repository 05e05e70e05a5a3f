/**
 * The signature schemes every backend offers, in preference order, and how an
 * RSA scheme maps to its padding and hash: tables both backends share, so they
 * advertise and sign the same way.
 */
import { UnsupportedAlgorithmError } from '../errors.js';
import { SignatureScheme, signatureSchemeName, type HashAlgorithm } from './ids.js';

/** The signature schemes both backends offer, most preferred first: post-quantum, then EdDSA, ECDSA, RSA. */
export const SIGNATURE_SCHEMES: readonly SignatureScheme[] = Object.freeze([
  SignatureScheme.mldsa65,
  SignatureScheme.mldsa87,
  SignatureScheme.mldsa44,
  SignatureScheme.ed25519,
  SignatureScheme.ecdsa_secp256r1_sha256,
  SignatureScheme.ecdsa_secp384r1_sha384,
  SignatureScheme.rsa_pss_rsae_sha256,
  SignatureScheme.rsa_pss_rsae_sha384,
  SignatureScheme.rsa_pss_rsae_sha512,
  SignatureScheme.rsa_pss_pss_sha256,
  SignatureScheme.rsa_pss_pss_sha384,
  SignatureScheme.rsa_pss_pss_sha512,
  SignatureScheme.rsa_pkcs1_sha256,
  SignatureScheme.rsa_pkcs1_sha384,
  SignatureScheme.rsa_pkcs1_sha512,
]);

/** How an RSA scheme pads, and with which hash. */
export function rsaMode(scheme: SignatureScheme): { readonly pss: boolean; readonly hash: HashAlgorithm } {
  switch (scheme) {
    case SignatureScheme.rsa_pss_rsae_sha256: return { pss: true, hash: 'SHA-256' };
    case SignatureScheme.rsa_pss_rsae_sha384: return { pss: true, hash: 'SHA-384' };
    case SignatureScheme.rsa_pss_rsae_sha512: return { pss: true, hash: 'SHA-512' };
    case SignatureScheme.rsa_pss_pss_sha256: return { pss: true, hash: 'SHA-256' };
    case SignatureScheme.rsa_pss_pss_sha384: return { pss: true, hash: 'SHA-384' };
    case SignatureScheme.rsa_pss_pss_sha512: return { pss: true, hash: 'SHA-512' };
    case SignatureScheme.rsa_pkcs1_sha256: return { pss: false, hash: 'SHA-256' };
    case SignatureScheme.rsa_pkcs1_sha384: return { pss: false, hash: 'SHA-384' };
    case SignatureScheme.rsa_pkcs1_sha512: return { pss: false, hash: 'SHA-512' };
    default: throw new UnsupportedAlgorithmError(`${signatureSchemeName(scheme)} is not an RSA scheme`);
  }
}
