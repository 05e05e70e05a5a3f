/**
 * Run options for the property tests: every `fc.assert` in test/ passes `seeded(n)` (or an options
 * object with a literal `seed`), so a property checks the same cases on every run and any failure
 * reproduces. test/fc-seeded.test.ts fails when one does not.
 *
 * On failure fast-check throws with the seed, the shrink path and the counterexample in its message
 * (verbose adds the failing values met while shrinking). Nothing here swallows that: no reporter
 * is set. To replay a reported failure directly: `seeded(seed, { path: '<reported path>' })`.
 */
import fc from 'fast-check';

/** The run options that do not depend on the property's value type (so the result fits every fc.assert). */
export type RunOptions = Pick<
  fc.Parameters<unknown>,
  'numRuns' | 'path' | 'endOnFailure' | 'timeout' | 'interruptAfterTimeLimit' | 'markInterruptAsFailure' | 'maxSkipsPerRun' | 'unbiased'
>;

export function seeded(seed: number, options: RunOptions = {}): RunOptions & { readonly seed: number; readonly verbose: fc.VerbosityLevel } {
  // A soak run explores cases the suite never sees (a replay of a reported `path` keeps its seed); the seed it ran
  // with is in fast-check's failure message.
  const soak = options.path === undefined ? soakFromEnv(process.env['PQTLS_FC_SOAK']) : undefined;
  const run = soak ? { seed: (seed ^ soak.salt) >>> 0, numRuns: (options.numRuns ?? DEFAULT_RUNS) * soak.factor } : { seed };
  return { ...options, ...run, verbose: fc.VerbosityLevel.Verbose };
}

/** A test's own timeout (ms) for a property run through {@link seeded}: stretched by the soak factor when soaking. */
export function soakTimeout(ms: number): number {
  return ms * (soakFromEnv(process.env['PQTLS_FC_SOAK'])?.factor ?? 1);
}

/** fast-check's own default number of runs. */
const DEFAULT_RUNS = 100;

/**
 * `PQTLS_FC_SOAK=FACTOR[:SALT]`: a deliberate, long fuzzing run for developers (never the default `npm test`):
 * every property runs FACTOR times its cases, from its seed XOR SALT (default 1), so each soak with a new
 * salt checks new cases and any failure still reproduces from the seed fast-check prints.
 */
export function soakFromEnv(value: string | undefined): { readonly factor: number; readonly salt: number } | undefined {
  if (!value) return undefined;
  const m = /^(\d+)(?::(\d+))?$/.exec(value);
  if (!m) throw new Error(`PQTLS_FC_SOAK: expected FACTOR[:SALT] (integers), not ${JSON.stringify(value)}`);
  const factor = Number(m[1]);
  const salt = m[2] === undefined ? 1 : Number(m[2]);
  if (!(factor >= 1 && Number.isSafeInteger(salt))) throw new Error(`PQTLS_FC_SOAK: FACTOR must be at least 1, not ${m[1]}`);
  return { factor, salt };
}
