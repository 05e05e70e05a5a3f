import { toHex } from '../../bytes.js';
import type { QuicConnection } from '../connection/connection.js';
import type { RemoteAddress } from '../connection/path.js';

/** What the endpoint keeps per connection. */
export interface ConnectionEntry {
  readonly connection: QuicConnection;
  /** Every connection ID routed to it (hex): its own, the client's first DCID, those it issued since. */
  readonly cids: Set<string>;
  /** The peer address the connection was created for: where a stateless reset for it would come from. */
  readonly remote: RemoteAddress;
  /** Datagrams handed to the endpoint for it and not yet handled. */
  queued: number;
  /** A server connection whose handshake has not completed: when it is closed for taking too long. */
  handshakeDeadline: number | undefined;
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
    const entry: ConnectionEntry = { connection, cids: new Set(), remote, queued: 0, handshakeDeadline };
    this.entries.set(connection, entry);
    for (const c of cids) this.route(entry, c);
    return entry;
  }

  /** Routes `cid` to `entry`; an ID already routed elsewhere stays there (connection IDs are random: a clash is an attack or a bug). */
  route(entry: ConnectionEntry, cid: Uint8Array): void {
    const key = toHex(cid);
    if (this.byCid.has(key)) return;
    this.byCid.set(key, entry);
    entry.cids.add(key);
  }

  unroute(entry: ConnectionEntry, cid: Uint8Array): void {
    const key = toHex(cid);
    if (this.byCid.get(key) !== entry) return;
    this.byCid.delete(key);
    entry.cids.delete(key);
  }

  byConnectionId(cid: Uint8Array): ConnectionEntry | undefined {
    return this.byCid.get(toHex(cid));
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
