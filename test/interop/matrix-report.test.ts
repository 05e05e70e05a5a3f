/**
 * The interop matrix as the README shows it (test/interop/runner/matrix.ts): a
 * cell that passed only at its second attempt says so, and its first failure
 * is listed, so a flaky pairing stays visible.
 */
import { describe, expect, it } from 'vitest';
import { renderMatrix, type CellResult } from './runner/matrix.js';

const cells: CellResult[] = [
  { case: 'handshake', pairing: 'pqtls→pqtls', status: 'pass', ms: 1200, detail: '' },
  { case: 'handshake', pairing: 'openssl→pqtls', status: 'pass', ms: 2400, detail: '', firstAttempt: 'openssl-quic-client timed out:\nmore' },
  { case: 'transfer', pairing: 'pqtls→pqtls', status: 'fail', ms: 60_000, detail: 'response did not end with FIN', firstAttempt: 'idle timeout' },
  { case: 'transfer', pairing: 'openssl→pqtls', status: 'unsupported', ms: 0, detail: 'no h3' },
];

describe('interop matrix report', () => {
  const { markdown, text } = renderMatrix(cells, ['handshake', 'transfer'], ['pqtls→pqtls', 'openssl→pqtls']);

  it('marks a cell that passed at its second attempt, and counts it among the passes', () => {
    expect(markdown).toContain('| handshake | ✓ 1.2 s | ✓ 2.4 s (2nd) |');
    expect(markdown).toContain('| transfer | ✗ 60 s (2nd) | — |');
    expect(text).toContain('2 passed (1 at the second attempt), 1 failed, 0 known defects, 1 unsupported');
  });

  it('lists the first failure of every cell that was run twice', () => {
    expect(markdown).toContain('- handshake, openssl→pqtls, first attempt: openssl-quic-client timed out:');
    expect(markdown).toContain('- transfer, pqtls→pqtls: response did not end with FIN');
    expect(markdown).toContain('- transfer, pqtls→pqtls, first attempt: idle timeout');
  });
});
