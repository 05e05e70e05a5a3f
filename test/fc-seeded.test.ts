/**
 * Property tests are deterministic (BRIEF: seeded randomness): every fast-check runner call in test/
 * (`fc.assert`, `fc.check`) gets a fixed seed, so a run checks the same cases every time and a
 * failure reproduces from the seed and path fast-check prints. A new unseeded call fails here.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import fc from 'fast-check';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { seeded, soakFromEnv } from './helpers/fc.js';

const testDir = new URL('./', import.meta.url).pathname;

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : /\.(ts|mts|js|mjs)$/.test(p) ? [p] : [];
  });
}

/**
 * Whether a runner's options argument fixes the seed: `seeded(<number>, …)`, an object literal with
 * `seed: <number>` (or a spread of `seeded(<number>)`), or a `const` of this file holding one.
 */
function isSeeded(e: ts.Expression | undefined, consts: ReadonlyMap<string, ts.Expression>, depth = 0): boolean {
  if (e === undefined || depth > 5) return false;
  if (ts.isParenthesizedExpression(e) || ts.isAsExpression(e) || ts.isSatisfiesExpression(e)) return isSeeded(e.expression, consts, depth + 1);
  if (ts.isIdentifier(e)) return isSeeded(consts.get(e.text), consts, depth + 1);
  if (ts.isCallExpression(e)) return ts.isIdentifier(e.expression) && e.expression.text === 'seeded' && e.arguments[0] !== undefined && ts.isNumericLiteral(e.arguments[0]);
  if (ts.isObjectLiteralExpression(e)) {
    return e.properties.some((p) =>
      (ts.isPropertyAssignment(p) && p.name.getText() === 'seed' && ts.isNumericLiteral(p.initializer)) ||
      (ts.isSpreadAssignment(p) && isSeeded(p.expression, consts, depth + 1)));
  }
  return false;
}

/** `file:line` of every fast-check runner call in `source` whose seed is not fixed. */
function unseededRunners(file: string, source: string): string[] {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const namespaces = new Set<string>(); // fc in `import fc from` / `import * as fc from`
  const runners = new Set<string>(); // assert / check imported by name
  const consts = new Map<string, ts.Expression>();
  for (const s of sf.statements) {
    if (!ts.isImportDeclaration(s) || !ts.isStringLiteral(s.moduleSpecifier) || s.moduleSpecifier.text !== 'fast-check') continue;
    const clause = s.importClause;
    if (clause?.name) namespaces.add(clause.name.text);
    const bindings = clause?.namedBindings;
    if (bindings && ts.isNamespaceImport(bindings)) namespaces.add(bindings.name.text);
    if (bindings && ts.isNamedImports(bindings)) {
      for (const el of bindings.elements) if (['assert', 'check'].includes((el.propertyName ?? el.name).text)) runners.add(el.name.text);
    }
  }
  const bad: string[] = [];
  const visit = (n: ts.Node): void => {
    if (ts.isVariableDeclaration(n) && ts.isIdentifier(n.name) && n.initializer && (ts.getCombinedNodeFlags(n) & ts.NodeFlags.Const) !== 0) {
      consts.set(n.name.text, n.initializer);
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  const calls = (n: ts.Node): void => {
    if (ts.isCallExpression(n)) {
      const c = n.expression;
      const runner =
        (ts.isPropertyAccessExpression(c) && ts.isIdentifier(c.expression) && namespaces.has(c.expression.text) && ['assert', 'check'].includes(c.name.text)) ||
        (ts.isIdentifier(c) && runners.has(c.text));
      if (runner && !isSeeded(n.arguments[1], consts)) bad.push(`${file}:${sf.getLineAndCharacterOfPosition(n.getStart()).line + 1}`);
    }
    ts.forEachChild(n, calls);
  };
  calls(sf);
  return bad;
}

describe('fast-check runs are seeded', () => {
  it('the check tells seeded calls from unseeded ones', () => {
    const source = `import fc from 'fast-check';
import { assert as check } from 'fast-check';
const OPTS = { numRuns: 10, seed: 0x8446 };
const LOOSE = { numRuns: 10 };
fc.assert(p);
fc.assert(p, { numRuns: 5 });
fc.assert(p, { seed: Date.now() });
await fc.assert(fc.asyncProperty(a, async () => {}), LOOSE);
fc.check(p);
check(p);
fc.assert(p, seeded(seedOf()));
fc.assert(p, seeded(1));
fc.assert(p, seeded(2, { numRuns: 5 }));
fc.assert(p, { numRuns: 5, seed: 3 });
fc.assert(p, { ...seeded(4), numRuns: 5 });
fc.assert(p, OPTS);
check(p, seeded(5));
other.assert(p);
`;
    expect(unseededRunners('x.ts', source)).toEqual(['x.ts:5', 'x.ts:6', 'x.ts:7', 'x.ts:8', 'x.ts:9', 'x.ts:10', 'x.ts:11']);
  });

  it('every fc.assert / fc.check in test/ has a fixed seed', () => {
    const all = files(testDir);
    const bad = all.flatMap((f) => unseededRunners(relative(testDir, f).split(sep).join('/'), readFileSync(f, 'utf8')));
    expect(bad).toEqual([]);
    // The scan did see the property tests (so an import style it cannot parse would show up here).
    const seen = all.reduce((n, f) => n + (readFileSync(f, 'utf8').match(/\bfc\.assert\(/g)?.length ?? 0), 0);
    expect(seen).toBeGreaterThan(50);
  });

  it('a failure reports its seed, path and counterexample (nothing configured swallows them)', () => {
    const g = fc.readConfigureGlobal();
    expect([g.reporter, g.asyncReporter, g.seed]).toEqual([undefined, undefined, undefined]);
    let message = '';
    try {
      fc.assert(fc.property(fc.integer({ min: 0, max: 1000 }), (n) => n < 500), seeded(1234));
    } catch (e) {
      message = e instanceof Error ? e.message : String(e);
    }
    // 1234 itself, unless a soak run (PQTLS_FC_SOAK) moved it: the message names the seed that ran.
    expect(message).toContain(`seed: ${seeded(1234).seed}, path: "`);
    expect(message).toMatch(/Counterexample: \[500\]/);
  });

  it('PQTLS_FC_SOAK multiplies the runs and moves the seed; without it nothing changes', () => {
    expect(soakFromEnv(undefined)).toBeUndefined();
    expect(soakFromEnv('')).toBeUndefined();
    expect(soakFromEnv('20')).toEqual({ factor: 20, salt: 1 });
    expect(soakFromEnv('5:99')).toEqual({ factor: 5, salt: 99 });
    for (const bad of ['x', '0', '3:', '-2', '2:y']) expect(() => soakFromEnv(bad), bad).toThrow(/PQTLS_FC_SOAK/);
    if (process.env['PQTLS_FC_SOAK'] === undefined) {
      expect(seeded(77, { numRuns: 30 })).toMatchObject({ seed: 77, numRuns: 30 });
      expect(seeded(77)).not.toHaveProperty('numRuns');
    }
  });
});
