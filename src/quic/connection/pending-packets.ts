/**
 * Packets that arrive before the keys to read them (RFC 9001 §4.1.4, §5.7):
 * Handshake packets that overtook the Initial whose ServerHello installs the
 * Handshake keys, and 1-RTT packets that overtook the Handshake packet whose
 * Finished completes the handshake (a server MUST NOT process 1-RTT before
 * then, but MAY buffer). Dropping them costs the peer a PTO before it sends
 * them again; holding a few (as quinn and ngtcp2 do) lets them be read as
 * soon as the keys come. (0-RTT before the ClientHello has its own buffer:
 * zero-rtt.ts.)
 *
 * Bounded per connection, first come first kept: an attacker who fills it
 * only makes the peer's later packets take the retransmission they would
 * have taken without it.
 */

/** Packets held at most while their keys are missing, and their bytes at most. */
export const MAX_PENDING_PACKETS = 10;
export const MAX_PENDING_BYTES = 10 * 1500;

export interface PendingPacket<C> {
  readonly type: 'handshake' | '1rtt';
  /** The packet's own bytes (a copy): coalesced packets of one datagram are held separately. */
  readonly bytes: Uint8Array;
  /** What the connection knows of the datagram it came in (its address, whether it was credited). */
  readonly context: C;
}

export class PendingPackets<C> {
  private packets: PendingPacket<C>[] = [];
  private bytes = 0;

  /** Keeps a copy of `packet`; false (and nothing kept) if the buffer is full. */
  push(type: PendingPacket<C>['type'], packet: Uint8Array, context: C): boolean {
    if (this.packets.length >= MAX_PENDING_PACKETS || this.bytes + packet.length > MAX_PENDING_BYTES) return false;
    this.packets.push({ type, bytes: packet.slice(), context });
    this.bytes += packet.length;
    return true;
  }

  get size(): number {
    return this.packets.length;
  }

  /** Takes out, in arrival order, the packets `ready` says can now be read; the others stay. */
  take(ready: (type: PendingPacket<C>['type']) => boolean): PendingPacket<C>[] {
    const out: PendingPacket<C>[] = [];
    const keep: PendingPacket<C>[] = [];
    for (const p of this.packets) (ready(p.type) ? out : keep).push(p);
    this.packets = keep;
    this.bytes = keep.reduce((n, p) => n + p.bytes.length, 0);
    return out;
  }

  clear(): void {
    this.packets = [];
    this.bytes = 0;
  }
}
