/**
 * What FIPS mode admits. The card's ML-KEM (FIPS 203) and ML-DSA (FIPS 204)
 * run inside its validated boundary after its known-answer self-tests; the
 * rest runs in the software provider, which is not a validated module, so for
 * those FIPS mode is an algorithm policy only:
 *
 * - Key exchange: P-256, P-384 (SP 800-56A Rev. 3), ML-KEM, and all three
 *   hybrids. X25519MLKEM768 is admitted because its approved ML-KEM secret
 *   comes first in the combined secret (SP 800-56C Rev. 2 §2, the form
 *   draft-ietf-tls-ecdhe-mlkem §3 keeps for this reason). Pure X25519 is
 *   refused: SP 800-56A has no Curve25519 key agreement.
 * - Signatures: ML-DSA, ECDSA, RSA and Ed25519 (FIPS 186-5 §7 approves
 *   EdDSA), SLH-DSA (FIPS 205).
 * - AEAD and header protection: AES-GCM and AES-ECB only; ChaCha20-Poly1305
 *   and ChaCha20 are not approved.
 * - No software fallback for ML-KEM/ML-DSA: the operations must stay in the
 *   module that passed its self-tests.
 */
import { NamedGroup, type AeadAlgorithm, type HeaderProtectionAlgorithm } from '../../pq/ids.js';

export function fipsAllowsGroup(g: NamedGroup): boolean {
  return g !== NamedGroup.x25519;
}

export function fipsAllowsAead(a: AeadAlgorithm): boolean {
  return a !== 'CHACHA20-POLY1305';
}

export function fipsAllowsHeaderProtection(a: HeaderProtectionAlgorithm): boolean {
  return a !== 'CHACHA20';
}
