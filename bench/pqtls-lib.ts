/**
 * Where a bench's child processes load pqtls from: its compiled package, as
 * users run it (tsx's transform and hooks cost CPU a user does not pay).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Newest modification time of any file under `dir`. */
function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) t = Math.max(t, statSync(join(e.parentPath, e.name)).mtimeMs);
  }
  return t;
}

/**
 * The directory pqtls's side processes load it from: `dist/` (what users run),
 * compiled first when it is missing or older than `src/`. If the build fails,
 * `src/` through tsx, with a note in the output.
 */
export function pqtlsLib(): { dir: string; note: string } {
  const dist = join(ROOT, 'dist');
  const entry = join(dist, 'node', 'index.js');
  try {
    if (!existsSync(entry) || statSync(entry).mtimeMs < newest(join(ROOT, 'src'))) {
      execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.build.json')], { cwd: ROOT, stdio: 'pipe' });
    }
    return { dir: dist, note: 'pqtls from the compiled package (dist/)' };
  } catch (e) {
    const msg = `could not build dist/ (${String((e as { stdout?: unknown }).stdout ?? e).slice(0, 400)}): pqtls runs from src/ through tsx, which costs it CPU a user does not pay`;
    process.stderr.write(`bench: ${msg}\n`);
    return { dir: join(ROOT, 'src'), note: `NOTE: ${msg}` };
  }
}

