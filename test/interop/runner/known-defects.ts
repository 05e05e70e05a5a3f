/**
 * Cells of the matrix that fail today for a reason we know and have not fixed yet (issue 12 stays open
 * while any is listed). They are not run, so that `npm test` stays within its time budget (a failing
 * 50-handshake cell burns its whole three minutes); the matrix shows each as "✗ known" with the reason,
 * and the end-of-run report lists them. A fix removes its line here: the cell then runs again.
 *
 * Keys are `case pairing` (client→server), reasons say what was seen in the last full run.
 */
export const KNOWN_DEFECTS: Readonly<Record<string, string>> = {
  // The peers' clients, not pqtls (evidence from this session's runs).
  'handshakeloss quiche→pqtls': 'the quiche-peer client lost its Finished and did not send it again in 30 s: the one Handshake packet of its that came later was an ACK+PING probe, though the server had acknowledged the packets around the gap (server qlog), so the server held its 1-RTT request for want of keys until the idle timeout ("response did not end with FIN"); 3 of 5 runs, the two qlogged ones both so',
  'handshakecorruption ngtcp2→pqtls': 'ngtcp2-client sends one Initial per PTO (0, 1, 3, 7, 15 s), idle-closes at 30 s and exits 0 without the file (seen against a silent port); all five corrupted is 0.3^5 of connections, 11% of 50-connection runs. In the miss the pqtls server admitted no Initial of it and both key logs hold 49 handshakes; its anchor ngtcp2→ngtcp2 fails the same way',
  'handshakeloss ngtcp2→pqtls': 'intermittent (1 of 5 runs at load 13-15, before the pqtls server acknowledged the ClientHello ahead of its signing; 2 of 2 passed since, at load 2-5): a ngtcp2-client connection idle-closed at 30 s; in one the pqtls server\'s Handshake retransmissions backed off to 6 and 12 s after a first RTT sample of 2 s taken from a late ACK — what RFC 9002 §5.3 and §6.2.1 give for that sample (PTO 3× it, doubled per PTO, reset by the next ACK; checked, no deviation)',
  'handshakeloss ngtcp2→ngtcp2': 'intermittent: 1 of 50 handshakes under 30% burst loss missing (one of three full runs)',
  'handshakecorruption ngtcp2→ngtcp2': 'intermittent: 1 of 50 handshakes under 30% corruption missing (one of three full runs)',
  // The peers' own clients, not pqtls: intermittent with 2000 streams, their anchors included.
  'multiplexing quiche→pqtls': 'the quiche-peer client intermittently reuses stream IDs ("We should never repeat streamIds"), against quiche too',
  'multiplexing quiche→quiche': 'the quiche-peer client intermittently reuses stream IDs ("We should never repeat streamIds")',
  'blackhole quiche→quiche': 'the quiche anchor intermittently outlasts the case after the 2 s outages (66 s in one run, 11 s in another)',
};

/** The known defect of a cell: its own entry, or its case's (`case *`). */
export function knownDefect(caseName: string, pairing: string): string | undefined {
  return KNOWN_DEFECTS[`${caseName} ${pairing}`] ?? KNOWN_DEFECTS[`${caseName} *`];
}
