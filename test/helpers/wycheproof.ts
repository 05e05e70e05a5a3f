/**
 * Shared loader for Wycheproof vector files (https://github.com/C2SP/wycheproof).
 *
 * The files the suites read are committed, unmodified, in
 * `test-vectors/wycheproof/` (upstream commit in its `SOURCE`), so the suites
 * always run: there is no opt-out, and a missing file fails its suite.
 */
import { readFileSync } from 'node:fs';

/** One test case; fields beyond these vary per file and are narrowed by the caller. */
export interface WycheproofTest {
  readonly tcId: number;
  readonly comment: string;
  readonly result: 'valid' | 'invalid' | 'acceptable';
  readonly flags: readonly string[];
  readonly [field: string]: unknown;
}

/** A group of cases sharing parameters (key, curve, ...), kept loose on purpose. */
export interface WycheproofGroup {
  readonly type?: string;
  readonly tests: readonly WycheproofTest[];
  readonly [field: string]: unknown;
}

export interface WycheproofFile {
  readonly algorithm: string;
  readonly numberOfTests: number;
  readonly testGroups: readonly WycheproofGroup[];
  readonly [field: string]: unknown;
}

/** Directory the vectors are read from (a file URL ending in `/`). */
export const wycheproofDir: URL = new URL('../../test-vectors/wycheproof/', import.meta.url);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function narrowTest(v: unknown, where: string): WycheproofTest {
  if (!isRecord(v)) throw new Error(`${where}: test is not an object`);
  const { tcId, comment, result, flags } = v;
  if (typeof tcId !== 'number') throw new Error(`${where}: tcId missing`);
  if (result !== 'valid' && result !== 'invalid' && result !== 'acceptable') {
    throw new Error(`${where} tcId ${tcId}: bad result ${String(result)}`);
  }
  const flagList = Array.isArray(flags) ? flags.filter((f): f is string => typeof f === 'string') : [];
  return { ...v, tcId, comment: typeof comment === 'string' ? comment : '', result, flags: flagList };
}

/** Parses and shape-checks one vector file, e.g. `loadWycheproof('x25519_test.json')`. */
export function loadWycheproof(fileName: string): WycheproofFile {
  const url = new URL(fileName, wycheproofDir);
  const json: unknown = JSON.parse(readFileSync(url, 'utf8'));
  if (!isRecord(json) || !Array.isArray(json['testGroups'])) throw new Error(`${fileName}: no testGroups`);
  const testGroups = json['testGroups'].map((g: unknown, i): WycheproofGroup => {
    if (!isRecord(g) || !Array.isArray(g['tests'])) throw new Error(`${fileName}: group ${i} has no tests`);
    return { ...g, tests: g['tests'].map((t: unknown) => narrowTest(t, fileName)) };
  });
  return {
    ...json,
    algorithm: typeof json['algorithm'] === 'string' ? json['algorithm'] : '',
    numberOfTests: typeof json['numberOfTests'] === 'number' ? json['numberOfTests'] : 0,
    testGroups,
  };
}

/** Reads a string field of a test or group, failing loudly if it is absent. */
export function str(o: Readonly<Record<string, unknown>>, field: string): string {
  const v = o[field];
  if (typeof v !== 'string') throw new Error(`Wycheproof field ${field} missing or not a string`);
  return v;
}
