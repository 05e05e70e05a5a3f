/**
 * The case × pairing matrix: each cell's result is written as a JSON file
 * when it ends (test files run in separate workers), and collected at the end
 * of the run into a Markdown table (`test-output/interop-matrix.md`, which the
 * README includes) and a plain-text one on the console.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { interopOutput, outputRoot } from './pqtls-build.js';

/** `known`: a listed defect (known-defects.ts), not run. */
export type CellStatus = 'pass' | 'fail' | 'unsupported' | 'known';

export interface CellResult {
  readonly case: string;
  readonly pairing: string;
  readonly status: CellStatus;
  /** Wall time of the cell, in milliseconds (0 when not run). */
  readonly ms: number;
  /** Why it failed or is unsupported. */
  readonly detail: string;
  /** Why the first attempt failed, when the cell was run a second time (see suite.ts). */
  readonly firstAttempt?: string;
}

export const cellsDir: string = join(interopOutput, 'cells');
export const matrixFile: string = join(outputRoot, 'interop-matrix.md');

function fileName(r: { case: string; pairing: string }): string {
  return `${r.case}__${r.pairing.replace('→', '_to_')}.json`;
}

export function recordCell(r: CellResult): void {
  mkdirSync(cellsDir, { recursive: true });
  writeFileSync(join(cellsDir, fileName(r)), JSON.stringify(r));
}

export function readCells(): CellResult[] {
  let names: string[] = [];
  try {
    names = readdirSync(cellsDir).filter((n) => n.endsWith('.json'));
  } catch {
    return [];
  }
  return names.map((n) => JSON.parse(readFileSync(join(cellsDir, n), 'utf8')) as CellResult);
}

function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}

function mark(r: CellResult | undefined): string {
  if (!r) return '';
  if (r.status === 'unsupported') return '—';
  if (r.status === 'known') return '✗ known';
  return `${r.status === 'pass' ? '✓' : '✗'} ${seconds(r.ms)}${r.firstAttempt !== undefined ? ' (2nd)' : ''}`;
}

/** Orders rows and columns as the cases and pairings were declared (the first cells written decide). */
function ordered(values: readonly string[], preferred: readonly string[]): string[] {
  const known = preferred.filter((v) => values.includes(v));
  return [...known, ...[...new Set(values)].filter((v) => !known.includes(v)).sort()];
}

export interface MatrixTables {
  readonly markdown: string;
  readonly text: string;
}

export function renderMatrix(cells: readonly CellResult[], caseOrder: readonly string[], pairingOrder: readonly string[]): MatrixTables {
  const cases = ordered(cells.map((c) => c.case), caseOrder);
  const pairs = ordered(cells.map((c) => c.pairing), pairingOrder);
  const at = (k: string, p: string): CellResult | undefined => cells.find((c) => c.case === k && c.pairing === p);
  const rows = cases.map((k) => [k, ...pairs.map((p) => mark(at(k, p)))]);
  const header = ['case', ...pairs.map((p) => `${p.replace('→', ' → ')}`)];
  const markdown = [
    `| ${header.join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]): string => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ');
  const text = [line(header), ...rows.map(line)];
  const passed = cells.filter((c) => c.status === 'pass').length;
  const failed = cells.filter((c) => c.status === 'fail');
  const unsupported = cells.filter((c) => c.status === 'unsupported').length;
  const known = cells.filter((c) => c.status === 'known');
  const retried = cells.filter((c) => c.firstAttempt !== undefined);
  const second = retried.filter((c) => c.status === 'pass').length;
  const summary = `${passed} passed${second ? ` (${second} at the second attempt)` : ''}, ${failed.length} failed, ${known.length} known defects, ` +
    `${unsupported} unsupported (client → server; ✓ pass, ✗ fail, (2nd): the first attempt failed, ✗ known: a listed defect, not run, ` +
    '— the pairing cannot do the case)';
  const failures = [
    ...failed.map((c) => `- ${c.case}, ${c.pairing}: ${c.detail.split('\n')[0] ?? ''}`),
    ...retried.map((c) => `- ${c.case}, ${c.pairing}, first attempt: ${c.firstAttempt?.split('\n')[0] ?? ''}`),
    ...known.map((c) => `- ${c.case}, ${c.pairing} (known defect): ${c.detail}`),
  ];
  return {
    markdown: [...markdown, '', summary, ...(failures.length ? ['', 'Failures:', ...failures] : []), ''].join('\n'),
    text: [...text, '', summary, ...failures].join('\n'),
  };
}

export function writeMatrix(tables: MatrixTables): void {
  mkdirSync(outputRoot, { recursive: true });
  writeFileSync(matrixFile, tables.markdown);
}
