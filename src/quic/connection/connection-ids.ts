import { equalBytes } from '../../bytes.js';
import { QuicTransportError, TransportErrorCode } from '../errors.js';
import { FrameType, type Frame } from '../frames/types.js';

interface IssuedCid {
  readonly cid: Uint8Array;
  readonly resetToken: Uint8Array | undefined;
}

/**
 * The connection IDs the peer issued to us (RFC 9000 §5.1): sequence 0 from
 * the handshake, more in NEW_CONNECTION_ID frames. Enforces the limit we
 * advertised (§5.1.1), retires what Retire Prior To asks for and owes one
 * RETIRE_CONNECTION_ID per retired sequence number (§5.1.2), which it hands out
 * with {@link pollRetire} until acknowledged.
 *
 * Every set here is bounded: active IDs by `active_connection_id_limit`, and
 * retirements owed or in flight by twice that (§5.1.2 suggests at least twice
 * and allows CONNECTION_ID_LIMIT_ERROR beyond), so a peer cannot make us queue
 * frames without bound.
 */
export class PeerConnectionIds {
  private readonly active = new Map<number, IssuedCid>();
  private retirePriorTo = 0;
  private currentSeq = 0;
  private readonly owed = new Set<number>();
  private readonly inFlight = new Set<number>();
  /** {@link resetTokens} until `active` next changes: asked after every datagram, it changes only with NEW_CONNECTION_ID and retirement. */
  private tokens: readonly Uint8Array[] | undefined;

  /**
   * @param initial the peer's connection ID from the handshake (sequence 0)
   * @param limit our active_connection_id_limit transport parameter
   */
  constructor(initial: Uint8Array, private readonly limit: number) {
    this.active.set(0, { cid: initial, resetToken: undefined });
  }

  /** The connection ID to send to now. */
  get current(): Uint8Array {
    return (this.active.get(this.currentSeq) as IssuedCid).cid;
  }

  /** Connection IDs held and not retired. */
  get activeCount(): number {
    return this.active.size;
  }

  /** RETIRE_CONNECTION_ID frames owed or awaiting acknowledgment. */
  get retiring(): number {
    return this.owed.size + this.inFlight.size;
  }

  get hasPendingRetire(): boolean {
    return this.owed.size > 0;
  }

  /** §19.15 processing of one NEW_CONNECTION_ID frame (decode already refused Retire Prior To above Sequence Number). */
  onNewConnectionId(f: Extract<Frame, { type: 'new_connection_id' }>): void {
    const ft = { frameType: FrameType.NEW_CONNECTION_ID };
    if (this.current.length === 0) {
      throw new QuicTransportError(TransportErrorCode.PROTOCOL_VIOLATION, 'NEW_CONNECTION_ID to an endpoint using a zero-length connection ID (§19.15)', ft);
    }
    const known = this.active.get(f.sequenceNumber);
    if (known) {
      // §19.15: a repeat must be identical.
      const sameToken = known.resetToken === undefined || equalBytes(known.resetToken, f.statelessResetToken);
      if (!equalBytes(known.cid, f.connectionId) || !sameToken) {
        throw new QuicTransportError(TransportErrorCode.PROTOCOL_VIOLATION, `NEW_CONNECTION_ID sequence ${f.sequenceNumber} with a different connection ID or token`, ft);
      }
    } else if (f.sequenceNumber < this.retirePriorTo) {
      // §19.15: an ID already below Retire Prior To is retired as soon as it arrives.
      this.retire(f.sequenceNumber);
    } else {
      for (const [seq, e] of this.active) {
        if (equalBytes(e.cid, f.connectionId)) {
          throw new QuicTransportError(TransportErrorCode.PROTOCOL_VIOLATION, `NEW_CONNECTION_ID repeats the connection ID of sequence ${seq}`, ft);
        }
      }
      this.active.set(f.sequenceNumber, { cid: f.connectionId.slice(), resetToken: f.statelessResetToken.slice() });
      this.tokens = undefined;
    }
    if (f.retirePriorTo > this.retirePriorTo) {
      this.retirePriorTo = f.retirePriorTo;
      for (const seq of [...this.active.keys()]) {
        if (seq < f.retirePriorTo) {
          this.active.delete(seq);
          this.tokens = undefined;
          this.retire(seq);
        }
      }
      // §5.1.2: stop using a retired ID; the lowest one left takes over.
      if (!this.active.has(this.currentSeq)) this.currentSeq = Math.min(...this.active.keys());
    }
    // §5.1.1: counted after adding and retiring.
    if (this.active.size > this.limit) {
      throw new QuicTransportError(TransportErrorCode.CONNECTION_ID_LIMIT_ERROR,
        `${this.active.size} active connection IDs exceed our active_connection_id_limit of ${this.limit}`, ft);
    }
  }

  /**
   * Records the connection ID of the server's preferred_address, sequence 1
   * (RFC 9000 §5.1.1), which counts toward our limit like any other (§18.2).
   */
  addPreferred(cid: Uint8Array, resetToken: Uint8Array): void {
    if (!this.active.has(1) && 1 >= this.retirePriorTo) {
      this.active.set(1, { cid: cid.slice(), resetToken: resetToken.slice() });
      this.tokens = undefined;
    }
  }

  /** The connection ID of `seq`, if it is active. */
  cidOf(seq: number): Uint8Array | undefined {
    return this.active.get(seq)?.cid;
  }

  /** The sequence number in use. */
  get currentSequence(): number {
    return this.currentSeq;
  }

  /**
   * Moves to an ID not used yet, retiring the one in use (RFC 9000 §9.5: a new
   * path gets a connection ID no other path used). IDs above the current one
   * were never used: we only ever move up. False, and no change, if the peer
   * gave no spare.
   */
  switchToNext(): boolean {
    let next: number | undefined;
    for (const seq of this.active.keys()) if (seq > this.currentSeq && (next === undefined || seq < next)) next = seq;
    if (next === undefined) return false;
    this.switchTo(next);
    return true;
  }

  /** Uses `seq` from now on (it must be active), retiring the ID used until now. */
  switchTo(seq: number): void {
    if (seq === this.currentSeq || !this.active.has(seq)) return;
    const old = this.currentSeq;
    this.currentSeq = seq;
    this.active.delete(old);
    this.tokens = undefined;
    this.retire(old);
  }

  /** The stateless reset tokens of the IDs we hold, for recognising a reset (§10.3.1). */
  resetTokens(): readonly Uint8Array[] {
    if (this.tokens) return this.tokens;
    const out: Uint8Array[] = [];
    for (const e of this.active.values()) if (e.resetToken) out.push(e.resetToken);
    this.tokens = out;
    return out;
  }

  private retire(seq: number): void {
    if (this.owed.has(seq) || this.inFlight.has(seq)) return;
    this.owed.add(seq);
    if (this.retiring > 2 * this.limit) {
      throw new QuicTransportError(TransportErrorCode.CONNECTION_ID_LIMIT_ERROR,
        `more than ${2 * this.limit} connection IDs awaiting retirement (§5.1.2)`, { frameType: FrameType.NEW_CONNECTION_ID });
    }
  }

  /** The next RETIRE_CONNECTION_ID to send, now counted as in flight; undefined if none is owed. */
  pollRetire(): Extract<Frame, { type: 'retire_connection_id' }> | undefined {
    const seq = this.owed.values().next();
    if (seq.done) return undefined;
    this.owed.delete(seq.value);
    this.inFlight.add(seq.value);
    return { type: 'retire_connection_id', sequenceNumber: seq.value };
  }

  /** Puts back a frame from {@link pollRetire} that could not be sent after all. */
  unpoll(seq: number): void {
    if (this.inFlight.delete(seq)) this.owed.add(seq);
  }

  onRetireAcked(seq: number): void {
    this.inFlight.delete(seq);
  }

  onRetireLost(seq: number): void {
    if (this.inFlight.delete(seq)) this.owed.add(seq);
  }
}
