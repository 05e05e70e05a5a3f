/** The three ML-KEM parameter sets by name, from the card's one algorithm table (algorithms.ts). */
import { QUAC_ALGORITHMS, type QuacKemParameters } from './algorithms.js';

export type MlKemName = QuacKemParameters['name'];
export type MlKemSet = QuacKemParameters;

export const ML_KEM_SETS: Readonly<Record<MlKemName, MlKemSet>> = Object.freeze(
  Object.fromEntries(QUAC_ALGORITHMS.flatMap((p) => (p.kind === 'kem' ? [[p.name, p]] : []))) as Record<MlKemName, MlKemSet>,
);

export function isMlKemName(s: string): s is MlKemName {
  return s === 'ML-KEM-512' || s === 'ML-KEM-768' || s === 'ML-KEM-1024';
}
