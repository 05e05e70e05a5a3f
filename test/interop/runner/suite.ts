/**
 * Declares the matrix tests of some cases: for each case, one test per
 * pairing, run concurrently, at most `PQTLS_INTEROP_PARALLEL` (default 3) at
 * once per test file: on two cores vitest runs the files one after another,
 * and most cells wait on timers (PTO, delay, outages) more than they compute.
 * A pairing that cannot do the case is a skipped test named with the reason,
 * and a "—" in the matrix.
 *
 * Run the matrix alone: `npx vitest run test/interop/matrix-` (one case:
 * `-t "keyupdate"`, one pairing: `-t "ngtcp2→pqtls"`); the table is printed at
 * the end and written to test-output/interop-matrix.md.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { createNobleProvider } from '../../../src/pq/index.js';
import { seededRandom } from '../../../src/testing/index.js';
import { interopDisabled } from '../../helpers/peers.js';
import { caseByName, type CaseName } from './cases.js';
import { cellBudgetMs, runCell, unsupportedReason } from './cell.js';
import { pairingName, pairings } from './implementations.js';
import { recordCell } from './matrix.js';
import { ensurePqtlsBuild } from './pqtls-build.js';
import { knownDefect } from './known-defects.js';
import { mintCasePki, type CasePki } from './pki.js';

const PARALLEL = Math.max(1, Number(process.env['PQTLS_INTEROP_PARALLEL'] ?? 3));

/** A counting semaphore: cells of a case wait for a slot. */
function slots(n: number): <T>(task: () => Promise<T>) => Promise<T> {
  let free = n;
  const waiting: (() => void)[] = [];
  return async (task) => {
    if (free === 0) await new Promise<void>((r) => waiting.push(r));
    else free--;
    try {
      return await task();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else free++;
    }
  };
}

export function matrixSuite(title: string, names: readonly CaseName[]): void {
  describe.runIf(!interopDisabled)(`interop matrix: ${title}`, () => {
    let pki: CasePki | undefined;
    let dir = '';
    const slot = slots(PARALLEL);

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'pqtls-matrix-'));
      const provider = createNobleProvider({ random: seededRandom(`interop matrix ${title}`) });
      [pki] = await Promise.all([mintCasePki(provider, dir), ensurePqtlsBuild()]);
    }, 300_000);
    afterAll(() => {
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    for (const name of names) {
      const c = caseByName(name);
      describe.concurrent(name, () => {
        const all = pairings();
        const runnable = interopDisabled ? [] : all.filter((p) => unsupportedReason(c, p) === undefined);
        const budget = cellBudgetMs(c) * Math.ceil(runnable.length / PARALLEL) + 30_000;
        for (const p of all) {
          const why = interopDisabled ? 'interop disabled' : unsupportedReason(c, p);
          if (why !== undefined) {
            it.skip(`${pairingName(p)}: unsupported (${why})`, () => {});
            beforeAll(() => recordCell({ case: c.name, pairing: pairingName(p), status: 'unsupported', ms: 0, detail: why }));
            continue;
          }
          const known = knownDefect(c.name, pairingName(p));
          if (known !== undefined) {
            it.skip(`${pairingName(p)}: known defect, not run (${known})`, () => {});
            beforeAll(() => recordCell({ case: c.name, pairing: pairingName(p), status: 'known', ms: 0, detail: known }));
            continue;
          }
          it(pairingName(p), async () => {
            const first = await slot(() => runCell(c, p, pki as CasePki));
            // One more attempt, never more: these are real processes on a shared 2-core machine, where a peer can
            // be starved past a case's timeout. The first failure is not hidden: its whole message is printed here,
            // and the matrix marks the cell "(2nd)" and lists the first failure under it.
            let result = first;
            if (first.status === 'fail') {
              console.warn(`${c.name} ${pairingName(p)}: first attempt failed, running it again:\n${first.detail}`);
              result = { ...(await slot(() => runCell(c, p, pki as CasePki))), firstAttempt: first.detail };
            }
            recordCell(result);
            if (result.status === 'fail') {
              throw new Error(`${c.name} ${pairingName(p)} failed twice:\n${result.detail}\nfirst attempt:\n${first.detail}`);
            }
          }, 2 * budget);
        }
      });
    }
  });
}
