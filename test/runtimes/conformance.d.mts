/** Types of conformance.mjs, plain JavaScript so that every runtime runs it as is. */
export declare const CASES: readonly string[];
export interface ConformanceVectors {
  readonly rfc8448: unknown;
  readonly rfc9001: unknown;
  readonly rfc9369: unknown;
}
export declare function runConformance(vectors: ConformanceVectors, now?: () => number, provider?: (random: (n: number) => Uint8Array) => unknown): Promise<
  { case: string; ok: boolean; ms: number; detail?: unknown; error?: string }[]
>;
