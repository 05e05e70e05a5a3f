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
  return { ...options, seed, verbose: fc.VerbosityLevel.Verbose };
}
