/**
 * Names of the implementations in matrix order, apart from the adapters
 * (which start processes) so the end-of-run report can order the columns
 * without loading them.
 */
export const IMPLEMENTATION_NAMES = ['pqtls', 'ngtcp2', 'openssl', 'quiche'] as const;

/**
 * The pairings of the matrix as `client→server`: pqtls against itself and
 * against each peer in both roles, then each peer against itself as an anchor
 * (a case a peer's own pair cannot pass says the harness, not pqtls, is wrong).
 */
export function pairingOrder(names: readonly string[] = IMPLEMENTATION_NAMES): [string, string][] {
  const [self, ...peers] = names as [string, ...string[]];
  const out: [string, string][] = [[self, self]];
  for (const p of peers) out.push([self, p], [p, self]);
  for (const p of peers) out.push([p, p]);
  return out;
}
