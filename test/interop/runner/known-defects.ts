/**
 * Cells of the matrix that fail today for a reason we know and have not fixed yet (issue 12 stays open
 * while any is listed). They are not run, so that `npm test` stays within its time budget (a failing
 * 50-handshake cell burns its whole three minutes); the matrix shows each as "✗ known" with the reason,
 * and the end-of-run report lists them. A fix removes its line here: the cell then runs again.
 *
 * Keys are `case pairing` (client→server), reasons say what was seen in the last full run.
 */
export const KNOWN_DEFECTS: Readonly<Record<string, string>> = {
  'handshakeloss pqtls→pqtls': 'one of the 50 handshakes under 30% loss does not complete in time (pqtls client exits 1)',
};

export function knownDefect(caseName: string, pairing: string): string | undefined {
  return KNOWN_DEFECTS[`${caseName} ${pairing}`];
}
