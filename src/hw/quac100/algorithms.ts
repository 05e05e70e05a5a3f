/**
 * The QUAC 100 algorithm ids (quac100.h) against the FIPS 203 / FIPS 204
 * parameter sets they name, with the byte lengths the C API implies and the
 * TLS code points the provider maps them to. One table, shared by the
 * emulator, the native binding and the provider, so a length is never written
 * twice.
 */
import { NamedGroup, SignatureScheme, type MlDsaAlgorithm } from '../../pq/ids.js';
import { QuacAlgorithm, type QuacAlgorithmId } from './device.js';

/** An ML-KEM parameter set (FIPS 203 Table 3 sizes). */
export interface QuacKemParameters {
  readonly kind: 'kem';
  readonly alg: QuacAlgorithmId;
  readonly name: 'ML-KEM-512' | 'ML-KEM-768' | 'ML-KEM-1024';
  readonly group: NamedGroup;
  readonly publicKey: number;
  readonly secretKey: number;
  readonly ciphertext: number;
  readonly sharedSecret: 32;
  /** d ‖ z of ML-KEM.KeyGen (FIPS 203 Algorithm 19). */
  readonly keygenRandom: 64;
  /** m of ML-KEM.Encaps (FIPS 203 Algorithm 20). */
  readonly encapsRandom: 32;
}

/** An ML-DSA parameter set (FIPS 204 Table 2 sizes). */
export interface QuacSignParameters {
  readonly kind: 'sign';
  readonly alg: QuacAlgorithmId;
  readonly name: 'ML-DSA-44' | 'ML-DSA-65' | 'ML-DSA-87';
  readonly algorithm: MlDsaAlgorithm;
  readonly scheme: SignatureScheme;
  readonly publicKey: number;
  readonly secretKey: number;
  readonly signature: number;
  /** ξ of ML-DSA.KeyGen (FIPS 204 Algorithm 1). */
  readonly keygenRandom: 32;
  /** rnd of hedged ML-DSA.Sign (FIPS 204 Algorithm 2). */
  readonly signRandom: 32;
}

export type QuacAlgorithmParameters = QuacKemParameters | QuacSignParameters;

const kem = (alg: QuacAlgorithmId, name: QuacKemParameters['name'], group: NamedGroup, publicKey: number, secretKey: number, ciphertext: number): QuacKemParameters =>
  ({ kind: 'kem', alg, name, group, publicKey, secretKey, ciphertext, sharedSecret: 32, keygenRandom: 64, encapsRandom: 32 });
const sign = (alg: QuacAlgorithmId, name: QuacSignParameters['name'], algorithm: MlDsaAlgorithm, scheme: SignatureScheme, publicKey: number, secretKey: number, signature: number): QuacSignParameters =>
  ({ kind: 'sign', alg, name, algorithm, scheme, publicKey, secretKey, signature, keygenRandom: 32, signRandom: 32 });

/** Every algorithm the card offers, in id order. */
export const QUAC_ALGORITHMS: readonly QuacAlgorithmParameters[] = [
  kem(QuacAlgorithm.KYBER512, 'ML-KEM-512', NamedGroup.MLKEM512, 800, 1632, 768),
  kem(QuacAlgorithm.KYBER768, 'ML-KEM-768', NamedGroup.MLKEM768, 1184, 2400, 1088),
  kem(QuacAlgorithm.KYBER1024, 'ML-KEM-1024', NamedGroup.MLKEM1024, 1568, 3168, 1568),
  sign(QuacAlgorithm.DILITHIUM2, 'ML-DSA-44', 'ml-dsa-44', SignatureScheme.mldsa44, 1312, 2560, 2420),
  sign(QuacAlgorithm.DILITHIUM3, 'ML-DSA-65', 'ml-dsa-65', SignatureScheme.mldsa65, 1952, 4032, 3309),
  sign(QuacAlgorithm.DILITHIUM5, 'ML-DSA-87', 'ml-dsa-87', SignatureScheme.mldsa87, 2592, 4896, 4627),
];

const byId = new Map<number, QuacAlgorithmParameters>(QUAC_ALGORITHMS.map((p) => [p.alg, p]));

/** The parameters of an algorithm id, or undefined when the card has no such algorithm. */
export function quacAlgorithm(alg: number): QuacAlgorithmParameters | undefined {
  return byId.get(alg);
}

/** The ML-KEM set of `alg`, or undefined when `alg` is not a KEM. */
export function quacKem(alg: number): QuacKemParameters | undefined {
  const p = byId.get(alg);
  return p?.kind === 'kem' ? p : undefined;
}

/** The ML-DSA set of `alg`, or undefined when `alg` is not a signature algorithm. */
export function quacSign(alg: number): QuacSignParameters | undefined {
  const p = byId.get(alg);
  return p?.kind === 'sign' ? p : undefined;
}

/** The card's id for a pure ML-KEM TLS group (the ML-KEM half of a hybrid is the provider's business). */
export function quacAlgorithmForGroup(group: number): QuacAlgorithmId | undefined {
  return QUAC_ALGORITHMS.find((p) => p.kind === 'kem' && p.group === group)?.alg;
}

/** The card's id for an ML-DSA key algorithm or TLS signature scheme. */
export function quacAlgorithmForSignature(which: MlDsaAlgorithm | number): QuacAlgorithmId | undefined {
  return QUAC_ALGORITHMS.find((p) => p.kind === 'sign' && (typeof which === 'number' ? p.scheme === which : p.algorithm === which))?.alg;
}
