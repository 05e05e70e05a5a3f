import { equalBytes } from '../../bytes.js';
import { QuicTransportError, TransportErrorCode } from '../errors.js';
import { FrameType, type Frame } from '../frames/types.js';
import type { EndpointEvent } from './path.js';

/**
 * Connection IDs we issue beyond what the peer's active_connection_id_limit
 * lets it hold, whatever it asks: each one is routing state at the endpoint.
 */
export const MAX_LOCAL_CIDS = 8;

interface LocalCid {
  readonly cid: Uint8Array;
  readonly resetToken: Uint8Array;
}

/** Makes a fresh connection ID and its stateless reset token (the server derives tokens; the client draws them). */
export type CidMinter = () => Promise<LocalCid>;

type NewCidFrame = Extract<Frame, { type: 'new_connection_id' }>;

/**
 * The connection IDs we issued to the peer (RFC 9000 §5.1): sequence 0 from
 * the handshake, sequence 1 in preferred_address when the server gives one
 * (§5.1.1), the rest in NEW_CONNECTION_ID frames. Keeps the peer supplied up
 * to its active_connection_id_limit (and {@link MAX_LOCAL_CIDS}), replaces
 * each ID it retires, and tells the endpoint which IDs to route with
 * {@link EndpointEvent}s. NEW_CONNECTION_ID frames are resent until
 * acknowledged, unless the ID was retired meanwhile (§13.3).
 */
export class LocalConnectionIds {
  private readonly active = new Map<number, LocalCid>();
  private nextSeq = 1;
  /** Sequence numbers whose NEW_CONNECTION_ID is owed (never sent, or lost). */
  private readonly owed = new Set<number>();

  constructor(handshakeCid: Uint8Array, private readonly events: EndpointEvent[]) {
    // Sequence 0 is the handshake's; its token, if any, went in the transport parameters (§18.2).
    this.active.set(0, { cid: handshakeCid, resetToken: new Uint8Array(16) });
  }

  /** Records the preferred_address connection ID, sequence 1 (§5.1.1); the endpoint must route it. */
  addPreferred(cid: Uint8Array, resetToken: Uint8Array): void {
    this.active.set(1, { cid, resetToken });
    this.nextSeq = 2;
    this.events.push({ type: 'cid-issued', cid });
  }

  /** Our connection IDs not retired. */
  get activeCount(): number {
    return this.active.size;
  }

  /** The sequence number of one of our IDs, or undefined if it is not (or no longer) ours. */
  sequenceOf(cid: Uint8Array): number | undefined {
    for (const [seq, e] of this.active) if (equalBytes(e.cid, cid)) return seq;
    return undefined;
  }

  /** Whether a NEW_CONNECTION_ID frame waits to be sent. */
  get hasPending(): boolean {
    return this.owed.size > 0;
  }

  /**
   * Issues IDs until the peer holds `peerLimit` of ours (its
   * active_connection_id_limit, §5.1.1), never more than {@link MAX_LOCAL_CIDS}.
   */
  async replenish(peerLimit: number, mint: CidMinter): Promise<void> {
    const target = Math.min(peerLimit, MAX_LOCAL_CIDS);
    while (this.active.size < target) {
      const fresh = await mint();
      // 64 random bits colliding is not expected; a colliding ID would route two sequence numbers alike.
      if (this.sequenceOf(fresh.cid) !== undefined) continue;
      const seq = this.nextSeq++;
      this.active.set(seq, fresh);
      this.owed.add(seq);
      this.events.push({ type: 'cid-issued', cid: fresh.cid });
    }
  }

  /**
   * §19.16: the peer retires one of our IDs. A sequence number never issued,
   * or the ID the carrying packet was sent to, is a PROTOCOL_VIOLATION; a
   * repeat retirement changes nothing.
   */
  onRetire(f: Extract<Frame, { type: 'retire_connection_id' }>, packetDcid: Uint8Array): void {
    const ft = { frameType: FrameType.RETIRE_CONNECTION_ID };
    if (f.sequenceNumber >= this.nextSeq) {
      throw new QuicTransportError(TransportErrorCode.PROTOCOL_VIOLATION, `RETIRE_CONNECTION_ID of sequence ${f.sequenceNumber}, never issued (§19.16)`, ft);
    }
    const e = this.active.get(f.sequenceNumber);
    if (!e) return;
    if (equalBytes(e.cid, packetDcid)) {
      throw new QuicTransportError(TransportErrorCode.PROTOCOL_VIOLATION, 'RETIRE_CONNECTION_ID of the connection ID the packet was sent to (§19.16)', ft);
    }
    this.active.delete(f.sequenceNumber);
    this.owed.delete(f.sequenceNumber);
    this.events.push({ type: 'cid-retired', cid: e.cid });
  }

  /** The next NEW_CONNECTION_ID to send, if one is owed (now counted as sent). */
  pollFrame(): NewCidFrame | undefined {
    for (const seq of this.owed) {
      const e = this.active.get(seq);
      this.owed.delete(seq);
      if (!e) continue;
      // We never ask the peer to retire: Retire Prior To stays 0.
      return { type: 'new_connection_id', sequenceNumber: seq, retirePriorTo: 0, connectionId: e.cid, statelessResetToken: e.resetToken };
    }
    return undefined;
  }

  /** Puts back a frame from {@link pollFrame} that could not be sent after all, or was lost. */
  onLost(f: NewCidFrame): void {
    if (this.active.has(f.sequenceNumber)) this.owed.add(f.sequenceNumber);
  }

  /** Every ID still active, for the endpoint to stop routing when the connection ends. */
  all(): Uint8Array[] {
    return [...this.active.values()].map((e) => e.cid);
  }
}
