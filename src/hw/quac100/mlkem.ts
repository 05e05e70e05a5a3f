/** The three ML-KEM parameter sets as the card and TLS name them (FIPS 203 Table 3 sizes). */
import { NamedGroup } from '../../pq/ids.js';
import { QuacAlgorithm, type QuacAlgorithmId } from './device.js';

export type MlKemName = 'ML-KEM-512' | 'ML-KEM-768' | 'ML-KEM-1024';

export interface MlKemSet {
  readonly name: MlKemName;
  readonly alg: QuacAlgorithmId;
  readonly group: NamedGroup;
  readonly ekLength: number;
  readonly dkLength: number;
  readonly ctLength: number;
}

export const ML_KEM_SETS: Readonly<Record<MlKemName, MlKemSet>> = Object.freeze({
  'ML-KEM-512': { name: 'ML-KEM-512', alg: QuacAlgorithm.KYBER512, group: NamedGroup.MLKEM512, ekLength: 800, dkLength: 1632, ctLength: 768 },
  'ML-KEM-768': { name: 'ML-KEM-768', alg: QuacAlgorithm.KYBER768, group: NamedGroup.MLKEM768, ekLength: 1184, dkLength: 2400, ctLength: 1088 },
  'ML-KEM-1024': { name: 'ML-KEM-1024', alg: QuacAlgorithm.KYBER1024, group: NamedGroup.MLKEM1024, ekLength: 1568, dkLength: 3168, ctLength: 1568 },
});

export function isMlKemName(s: string): s is MlKemName {
  return s === 'ML-KEM-512' || s === 'ML-KEM-768' || s === 'ML-KEM-1024';
}
