import type { QuicConnection } from '../connection/connection.js';
import type { RemoteAddress } from '../connection/path.js';

/** What the endpoint keeps per connection. */
export interface ConnectionEntry {
  readonly connection: QuicConnection;
  /** Every connection ID routed to it ({@link cidKey}): its own, the client's first DCID, those it issued since. */
  readonly cids: Set<string>;
  /** The peer address the connection was created for: where a stateless reset for it would come from. */
  readonly remote: RemoteAddress;
  /** Datagrams handed to the endpoint for it and not yet handled. */
  queued: number;
  /** A server connection whose handshake has not completed: when it is closed for taking too long. */
  handshakeDeadline: number | undefined;
  /** The peer's stateless reset tokens the endpoint indexes for it (the connection's own objects, compared by identity). */
  resetTokens: readonly Uint8Array[];
}

/**
 * A connection ID as a map key: its length, then its bytes two to a UTF-16
 * code unit (the length keeps `00 01` apart from `01`). Every datagram is
 * routed by one, so it is made in a handful of operations: hex (`toHex`) took
 * a number-to-string conversion, a pad and a concatenation per byte, and was
 * the bulk of the lookup's cost (profile in the commit message).
 */
export function cidKey(cid: Uint8Array): string {
  const n = cid.length;
  if (n === 8) {
    // The length this library issues, and what most peers use: one call, no loop.
    return String.fromCharCode(8, (cid[0] as number) << 8 | (cid[1] as number), (cid[2] as number) << 8 | (cid[3] as number),
      (cid[4] as number) << 8 | (cid[5] as number), (cid[6] as number) << 8 | (cid[7] as number));
  }
  let s = String.fromCharCode(n);
  for (let i = 0; i + 1 < n; i += 2) s += String.fromCharCode((cid[i] as number) << 8 | (cid[i + 1] as number));
  if (n & 1) s += String.fromCharCode(cid[n - 1] as number);
  return s;
}

/**
 * The endpoint's routing table (quinn-proto's `ConnectionIndex`): connection ID
 * → connection, for every ID a connection was reached by or issued until it
 * retires it or ends (RFC 9000 §5.1, §5.2).
 */
export class ConnectionTable {
  private readonly byCid = new Map<string, ConnectionEntry>();
  private readonly entries = new Map<QuicConnection, ConnectionEntry>();

  get size(): number {
    return this.entries.size;
  }

  add(connection: QuicConnection, remote: RemoteAddress, cids: readonly Uint8Array[], handshakeDeadline?: number): ConnectionEntry {
    const entry: ConnectionEntry = { connection, cids: new Set(), remote, queued: 0, handshakeDeadline, resetTokens: [] };
    this.entries.set(connection, entry);
    for (const c of cids) this.route(entry, c);
    return entry;
  }

  /** Routes `cid` to `entry`; an ID already routed elsewhere stays there (connection IDs are random: a clash is an attack or a bug). */
  route(entry: ConnectionEntry, cid: Uint8Array): void {
    const key = cidKey(cid);
    if (this.byCid.has(key)) return;
    this.byCid.set(key, entry);
    entry.cids.add(key);
  }

  unroute(entry: ConnectionEntry, cid: Uint8Array): void {
    const key = cidKey(cid);
    if (this.byCid.get(key) !== entry) return;
    this.byCid.delete(key);
    entry.cids.delete(key);
  }

  byConnectionId(cid: Uint8Array): ConnectionEntry | undefined {
    return this.byCid.get(cidKey(cid));
  }

  get(connection: QuicConnection): ConnectionEntry | undefined {
    return this.entries.get(connection);
  }

  remove(entry: ConnectionEntry): void {
    for (const k of entry.cids) if (this.byCid.get(k) === entry) this.byCid.delete(k);
    entry.cids.clear();
    this.entries.delete(entry.connection);
  }

  /** A snapshot, so that a connection removed while the caller awaits does not disturb its loop. */
  all(): ConnectionEntry[] {
    return [...this.entries.values()];
  }
}
