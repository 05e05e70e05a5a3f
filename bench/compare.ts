/**
 * Interleaved A/B timing for benchmarks on a noisy, shared machine: the two
 * sides of a comparison run in alternating rounds of the same length (the first
 * side alternates too), and each figure is a median over rounds, so a burst of
 * load elsewhere hits both sides alike instead of skewing one of them.
 */

/**
 * The clock, in milliseconds: wall time by default. `PQTLS_BENCH_CLOCK=cpu`
 * reads this process's CPU time instead, which a neighbour's load does not
 * inflate — but which also charges the round with V8's background compiler and
 * GC threads, so on this machine it proved the noisier of the two.
 */
export const now: () => number =
  process.env['PQTLS_BENCH_CLOCK'] === 'cpu'
    ? () => {
        const { user, system } = process.cpuUsage();
        return (user + system) / 1000;
      }
    : () => performance.now();

/** Which clock {@link now} reads, for report headers. */
export const clockName: string = process.env['PQTLS_BENCH_CLOCK'] === 'cpu' ? 'process CPU time' : 'wall time';

/**
 * Runs `n` operations and returns the seconds spent on each metric (e.g. one
 * entry per key-exchange step, or a single entry). Untimed preparation for the
 * round, if any, happens inside but outside the measured spans.
 */
export type RoundFn = (n: number) => Promise<readonly number[]>;

export interface Comparison {
  readonly metrics: readonly string[];
  /** The side under test (here: through the CryptoProvider). */
  readonly subject: RoundFn;
  /** The baseline (here: the same primitive called directly on noble). */
  readonly baseline: RoundFn;
}

export interface MetricResult {
  readonly metric: string;
  /** Median seconds per operation. */
  readonly subjectSeconds: number;
  readonly baselineSeconds: number;
  /** subjectSeconds / baselineSeconds − 1 (0.03 = the subject is 3% slower). */
  readonly overhead: number;
}

export interface CompareOptions {
  readonly rounds: number;
  /** Wall time each side should take per round. */
  readonly roundMs: number;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error('median of nothing');
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

/** A round that awaits `op` n times (an async API pays its microtasks; that is part of what is measured). */
export function asyncLoop(op: (i: number) => Promise<unknown>): RoundFn {
  return async (n) => {
    const t0 = now();
    for (let i = 0; i < n; i++) await op(i);
    return [(now() - t0) / 1000];
  };
}

/** A round that calls the synchronous `op` n times, with no await in the loop. */
export function syncLoop(op: (i: number) => unknown): RoundFn {
  return async (n) => {
    const t0 = now();
    for (let i = 0; i < n; i++) op(i);
    return [(now() - t0) / 1000];
  };
}

/**
 * Measures both sides. Both always run the same number of operations in the
 * same order of rounds, so sides driven by identical deterministic random
 * streams stay in step and do identical work (same keys, same rejection loops).
 */
export async function compare(c: Comparison, options: CompareOptions): Promise<MetricResult[]> {
  // Calibrate (and warm up): double n until one round of the subject takes a few milliseconds.
  let n = 1;
  let spent = 0;
  for (;;) {
    spent = sum(await c.subject(n));
    await c.baseline(n);
    if (spent * 1000 >= 5 || n >= 1 << 20) break;
    n *= 2;
  }
  const perRound = Math.max(1, Math.round((n * options.roundMs) / Math.max(spent * 1000, 1e-3)));
  // One discarded round each at full length, so that optimising compilation is over before timing.
  await c.subject(perRound);
  await c.baseline(perRound);

  const subject: (readonly number[])[] = [];
  const baseline: (readonly number[])[] = [];
  for (let r = 0; r < options.rounds; r++) {
    if (r % 2 === 0) {
      subject.push(await c.subject(perRound));
      baseline.push(await c.baseline(perRound));
    } else {
      baseline.push(await c.baseline(perRound));
      subject.push(await c.subject(perRound));
    }
  }
  return c.metrics.map((metric, m) => {
    const at = (round: readonly number[]): number => round[m] as number;
    const subjectSeconds = median(subject.map(at)) / perRound;
    const baselineSeconds = median(baseline.map(at)) / perRound;
    // A ratio of the two medians, so that it agrees with the rates printed beside it.
    return { metric, subjectSeconds, baselineSeconds, overhead: subjectSeconds / baselineSeconds - 1 };
  });
}

/**
 * Median seconds per operation of one side alone, for what has no baseline
 * (calibrated and warmed up like {@link compare}).
 */
export async function measureAlone(round: RoundFn, options: CompareOptions): Promise<number> {
  let n = 1;
  let spent = 0;
  for (;;) {
    spent = sum(await round(n));
    if (spent * 1000 >= 5 || n >= 1 << 20) break;
    n *= 2;
  }
  const perRound = Math.max(1, Math.round((n * options.roundMs) / Math.max(spent * 1000, 1e-3)));
  const times: number[] = [];
  for (let r = 0; r < options.rounds; r++) times.push(sum(await round(perRound)));
  return median(times) / perRound;
}

/** `1234567` → `1.23 M`, `2345` → `2345`, `12.345` → `12.3`: three significant digits, no false precision. */
export function formatRate(x: number): string {
  if (x >= 1e6) return `${(x / 1e6).toPrecision(3)} M`;
  if (x >= 999.5) return String(Math.round(x)); // toPrecision(3) would print 999.7 as 1.00e+3
  return x.toPrecision(3);
}

export function formatOverhead(o: number): string {
  return `${o >= 0 ? '+' : '−'}${Math.abs(o * 100).toFixed(1)}%`;
}
