/**
 * vitest global setup for the interop matrix: clears the previous run's
 * cells before any test starts and, when every test file has run, prints
 * the case × pairing matrix and writes it to `test-output/interop-matrix.md`.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { CASE_NAMES } from './cases.js';
import { cellsDir, matrixFile, readCells, renderMatrix, writeMatrix } from './matrix.js';
import { pairingOrder } from './names.js';
import { interopOutput } from './pqtls-build.js';

export function setup(): void {
  rmSync(cellsDir, { recursive: true, force: true });
  rmSync(join(interopOutput, 'work'), { recursive: true, force: true });
}

export function teardown(): void {
  const cells = readCells();
  if (cells.length === 0) return;
  const tables = renderMatrix(cells, CASE_NAMES, pairingOrder().map(([c, s]) => `${c}→${s}`));
  writeMatrix(tables);
  console.log(`\nQUIC interop matrix (client → server), also in ${matrixFile}:\n\n${tables.text}\n`);
}
