/**
 * Cells of the matrix that fail today for a reason we know and have not fixed yet (issue 12 stays open
 * while any is listed). They are not run, so that `npm test` stays within its time budget (a failing
 * 50-handshake cell burns its whole three minutes); the matrix shows each as "✗ known" with the reason,
 * and the end-of-run report lists them. A fix removes its line here: the cell then runs again.
 *
 * Keys are `case pairing` (client→server), reasons say what was seen in the last full run.
 */
export const KNOWN_DEFECTS: Readonly<Record<string, string>> = {
  // The pqtls server closed a handshake at its 10 s cap (--handshake-timeout) when PTO backoff under 30% loss
  // took longer; the cases now give it 60 s (implementations.ts), and the cells below are what still failed in
  // 4-12 runs each on a 2-core machine, mostly at load 15-19 (pqtls→ngtcp2 passed 23 of 24: the miss was a
  // client handshake idle-timed out at 30 s after five unanswered Initial rounds; ngtcp2→pqtls handshakeloss
  // 12 of 12, quiche→pqtls handshakecorruption 9 of 9). ngtcp2's server has no cap: the anchor's failure is
  // not explained by it.
  'handshakeloss pqtls→pqtls': 'fifty sequential hybrid/ML-DSA handshakes (14 KB flights) under 30% loss took 124 s, and over the 180 s budget, at load 15',
  'handshakecorruption pqtls→pqtls': 'as handshakeloss: 3 of 4 runs passed (50-64 s), one overran the 180 s budget at load 15-19',
  'handshakeloss quiche→pqtls': 'intermittent at high load: 3 of 10 runs, a connection ended before its response (idle timeout; RTT samples inflated by CPU stalls)',
  'handshakecorruption ngtcp2→pqtls': 'intermittent: 2 of 12 runs missed 1 of 50 files with ngtcp2-client exiting 0; the server saw 49 connections in one, cause not found',
  'handshakeloss pqtls→ngtcp2': 'intermittent: 23 of 24 runs passed; in the miss the pqtls client had no answer to five Initial rounds (0, 1, 3, 7, 15 s) and idle-timed out at 30 s',
  'handshakeloss ngtcp2→ngtcp2': 'intermittent: 1 of 50 handshakes under 30% burst loss missing (one of three full runs)',
  'handshakecorruption ngtcp2→ngtcp2': 'intermittent: 1 of 50 handshakes under 30% corruption missing (one of three full runs)',
  // The peers' own clients, not pqtls: intermittent with 2000 streams, their anchors included.
  'multiplexing openssl→pqtls': 'openssl-quic-client intermittently fails to open a request stream ("cannot send the request"), against openssl too',
  'multiplexing openssl→openssl': 'openssl-quic-client intermittently fails to open a request stream ("cannot send the request")',
  'multiplexing quiche→pqtls': 'the quiche-peer client intermittently reuses stream IDs ("We should never repeat streamIds"), against quiche too',
  'multiplexing quiche→quiche': 'the quiche-peer client intermittently reuses stream IDs ("We should never repeat streamIds")',
  'blackhole quiche→quiche': 'the quiche anchor intermittently outlasts the case after the 2 s outages (66 s in one run, 11 s in another)',
};

/** The known defect of a cell: its own entry, or its case's (`case *`). */
export function knownDefect(caseName: string, pairing: string): string | undefined {
  return KNOWN_DEFECTS[`${caseName} ${pairing}`] ?? KNOWN_DEFECTS[`${caseName} *`];
}
