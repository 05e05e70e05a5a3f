/**
 * Where datagrams come from and go to, as the connection sees it: an opaque
 * key the transport chooses (the Node adapter writes `host:port`, `[v6]:port`).
 * The core only compares keys for equality; a datagram from a key other than
 * the current path's is a peer whose address changed (RFC 9000 §9).
 */
export type RemoteAddress = string;

/** One datagram to send, and where to (quinn-proto's `Transmit`). */
export interface Transmit {
  readonly data: Uint8Array;
  readonly remote: RemoteAddress;
}

/**
 * What a connection tells the endpoint that routes datagrams to it: connection
 * IDs to route to it from now on, and ones to stop routing (RFC 9000 §5.1).
 */
export type EndpointEvent =
  | { readonly type: 'cid-issued'; readonly cid: Uint8Array }
  | { readonly type: 'cid-retired'; readonly cid: Uint8Array };
