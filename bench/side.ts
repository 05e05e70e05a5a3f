import type { ProviderClock } from './timed-provider.js';

/** One side of an in-memory client/server pair: wall time inside its calls, and its provider's clock. */
export interface Side {
  ms: number;
  readonly clock: ProviderClock;
}

/** Runs `f`, adding its wall time to `side`. */
export async function timed<T>(side: Side, f: () => T | Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    return await f();
  } finally {
    side.ms += performance.now() - t0;
  }
}

export const f1 = (x: number): string => x.toFixed(1);
export const f2 = (x: number): string => x.toFixed(2);
export const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
