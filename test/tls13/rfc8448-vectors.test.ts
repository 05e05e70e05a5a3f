/**
 * The RFC 8448 JSON under test-vectors/rfc8448/ is exactly what extract.mjs
 * transcribes from the RFC text: rerunning the script reproduces every file
 * byte for byte, so no value was edited by hand.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const dir = fileURLToPath(new URL('../../test-vectors/rfc8448/', import.meta.url));
const rfc = process.env.RFC8448_TXT ?? fileURLToPath(new URL('../../../shared/specs/rfc8448.txt', import.meta.url));

describe('test-vectors/rfc8448', () => {
  it('regenerates byte for byte from the RFC text', () => {
    const out = mkdtempSync(join(tmpdir(), 'rfc8448-'));
    try {
      const run = spawnSync(process.execPath, [join(dir, 'extract.mjs'), rfc, out], { encoding: 'utf8' });
      expect(run.stderr).toBe('');
      expect(run.status).toBe(0);
      for (const file of ['simple-1rtt.json', 'resumed-0rtt.json', 'hello-retry-request.json']) {
        expect({ file, text: readFileSync(join(out, file), 'utf8') }).toEqual({ file, text: readFileSync(join(dir, file), 'utf8') });
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
