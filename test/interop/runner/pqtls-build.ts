/**
 * The pqtls the cases run is this tree compiled, like `bin/pqtls.js` runs
 * `dist/`. It is compiled once per test run into its own directory
 * (`test-output/interop/dist`), not `dist/`, because other suites rebuild
 * `dist/` while the cases' processes load it. Parallel test files share the
 * build through a lock directory. `PQTLS_INTEROP_DIST=DIR` runs another build
 * (a `dist/` directory) instead, e.g. to try a branch's CLI.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot, testRunId } from '../../helpers/peer-install.js';

export const outputRoot: string = join(repoRoot, 'test-output');
export const interopOutput: string = join(outputRoot, 'interop');
const buildDir = join(interopOutput, 'dist');
const stamp = join(interopOutput, 'dist.stamp');
const lock = join(interopOutput, 'dist.lock');
const LOCK_STALE_MS = 240_000;

function override(): string | undefined {
  const dir = process.env['PQTLS_INTEROP_DIST'];
  return dir ? join(dir, 'cli', 'main.js') : undefined;
}

/** The compiled CLI entry (`cli/main.js`) the cases run; {@link ensurePqtlsBuild} first. */
export function pqtlsMain(): string {
  return override() ?? join(buildDir, 'cli', 'main.js');
}

function built(): boolean {
  return existsSync(stamp) && readFileSync(stamp, 'utf8') === testRunId() && existsSync(pqtlsMain());
}

/** Compiles this tree for the cases unless this test run already did (or an override is set). */
export async function ensurePqtlsBuild(): Promise<void> {
  if (override()) {
    if (!existsSync(pqtlsMain())) throw new Error(`PQTLS_INTEROP_DIST has no cli/main.js: ${pqtlsMain()}`);
    return;
  }
  mkdirSync(interopOutput, { recursive: true });
  const deadline = Date.now() + LOCK_STALE_MS;
  for (;;) {
    if (built()) return;
    try {
      mkdirSync(lock);
      break;
    } catch {
      // Another file builds; a lock older than any build is left over from a killed run.
      try {
        if (Date.now() - statSync(lock).mtimeMs > LOCK_STALE_MS) rmSync(lock, { recursive: true, force: true });
      } catch {
        // gone meanwhile
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for the pqtls build lock ${lock}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  try {
    if (built()) return;
    rmSync(buildDir, { recursive: true, force: true });
    await promisify(execFile)(process.execPath, [
      join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(repoRoot, 'tsconfig.build.json'), '--outDir', buildDir,
      '--declaration', 'false', '--sourceMap', 'false',
    ], { cwd: repoRoot });
    writeFileSync(stamp, testRunId());
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
