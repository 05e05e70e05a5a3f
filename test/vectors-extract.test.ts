/**
 * Every JSON file under test-vectors/ that was transcribed from an RFC is
 * exactly what its extractor produces from the RFC text committed in
 * test-vectors/specs/: rerunning each script reproduces the files byte for
 * byte, so no value was edited by hand and no extractor has drifted.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const vectors = fileURLToPath(new URL('../test-vectors/', import.meta.url));
const spec = (name: string): string => join(vectors, 'specs', name);

const extractors = [
  { script: 'rfc8448/extract.mjs', rfc: 'rfc8448.txt', outputs: ['simple-1rtt.json', 'resumed-0rtt.json', 'hello-retry-request.json'] },
  { script: 'rfc8448/extract-rsa-key.mjs', rfc: 'rfc8448.txt', outputs: ['server-rsa-key.json'] },
  { script: 'rfc9001/extract.mjs', rfc: 'rfc9001.txt', outputs: ['vectors.json'] },
  { script: 'rfc9369/extract.mjs', rfc: 'rfc9369.txt', outputs: ['vectors.json'] },
] as const;

describe('test-vectors/ regenerate from the RFC texts in test-vectors/specs/', () => {
  for (const { script, rfc, outputs } of extractors) {
    it(`${script} reproduces ${outputs.join(', ')} from ${rfc}`, () => {
      const out = mkdtempSync(join(tmpdir(), 'pqtls-vectors-'));
      try {
        const run = spawnSync(process.execPath, [join(vectors, script), spec(rfc), out], { encoding: 'utf8' });
        expect(run.stderr).toBe('');
        expect(run.status).toBe(0);
        // Nothing else written: the outputs listed here are the whole of what the script makes.
        expect(readdirSync(out).sort()).toEqual([...outputs].sort());
        const dir = join(vectors, script, '..');
        for (const file of outputs) {
          expect({ file, text: readFileSync(join(out, file), 'utf8') }).toEqual({ file, text: readFileSync(join(dir, file), 'utf8') });
        }
      } finally {
        rmSync(out, { recursive: true, force: true });
      }
    });
  }

  it('covers every extractor in test-vectors/', () => {
    const scripts = readdirSync(vectors, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .flatMap((d) => readdirSync(join(vectors, d.name)).filter((f) => f.endsWith('.mjs')).map((f) => `${d.name}/${f}`));
    expect(scripts.sort()).toEqual(extractors.map((e) => e.script).sort());
  });
});
