/**
 * Cells of the matrix that fail today for a reason we know and have not fixed yet (issue 12 stays open
 * while any is listed). They are not run, so that `npm test` stays within its time budget (a failing
 * 50-handshake cell burns its whole three minutes); the matrix shows each as "✗ known" with the reason,
 * and the end-of-run report lists them. A fix removes its line here: the cell then runs again.
 *
 * Keys are `case pairing` (client→server), reasons say what was seen in the last full run.
 */
export const KNOWN_DEFECTS: Readonly<Record<string, string>> = {
  // 50 sequential pqtls↔pqtls connections under 30% loss or corruption, hybrid ML-KEM and ML-DSA-65 on the noble
  // provider (the matrix runs the CLI on the test's Node 20, which has no native ML-KEM/ML-DSA). Since the RTT is
  // carried from one connection to the next (RFC 9002 §6.2.2), held packets' ACK Delay counts their wait
  // (RFC 9000 §13.2.5) and a closing endpoint answers with its CONNECTION_CLOSE (§10.2.1), both cells passed in
  // 34-57 s in three runs in a row at load 1-8; at load 12-15 (other suites beside them) they still overran the
  // 180 s budget (46-49 of 50 done at 185 s). Their qlogs show where the time goes then: the server's signing delays its first flight,
  // and with it the ACK of the ClientHello, by 0.1-2 s, so the client's first RTT sample (which RFC 9002 §5.3 takes
  // as it is) is that delay, and its PTOs are seconds long for the rest of the connection.
  'handshakeloss pqtls→pqtls': 'CPU-bound under load: passed 3 runs in a row in 42-57 s at load 1-8, overran 180 s at load 12-15 (first RTT samples inflated by the server\'s ML-DSA signing on the noble provider)',
  'handshakecorruption pqtls→pqtls': 'as handshakeloss pqtls→pqtls: passed 3 runs in a row in 34-55 s at load 1-8, overran 180 s at load 13-15',
  // The peers' clients, not pqtls (evidence from this session's runs).
  'handshakeloss quiche→pqtls': 'the quiche-peer client lost its Finished and did not send it again in 30 s: the one Handshake packet of its that came later was an ACK+PING probe, though the server had acknowledged the packets around the gap (server qlog), so the server held its 1-RTT request for want of keys until the idle timeout ("response did not end with FIN"); 3 of 5 runs, the two qlogged ones both so',
  'handshakecorruption ngtcp2→pqtls': 'ngtcp2-client sends one Initial per PTO (0, 1, 3, 7, 15 s), idle-closes at 30 s and exits 0 without the file (seen against a silent port); all five corrupted is 0.3^5 of connections, 11% of 50-connection runs. In the miss the pqtls server admitted no Initial of it and both key logs hold 49 handshakes; its anchor ngtcp2→ngtcp2 fails the same way',
  'handshakeloss ngtcp2→pqtls': 'intermittent (1 of 5 runs this session, at load 13-15): a ngtcp2-client connection idle-closed at 30 s; in one the pqtls server\'s Handshake retransmissions backed off to 6 and 12 s after a first RTT sample of 2 s taken from a late ACK (RFC 9002 §5.3 takes it as it is)',
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
