import { ConfigError } from '../../errors.js';
import type { AckRange, Frame } from '../frames/types.js';

/** A received range of packet numbers, inclusive; mutable while it grows. */
interface Range {
  smallest: number;
  largest: number;
}

/** Ranges remembered when the caller does not say: an ACK of 64 small ranges still fits a packet easily. */
const DEFAULT_MAX_RANGES = 64;

/** Ack-eliciting packets received before an ACK is owed at once (RFC 9000 §13.2.2). */
const ACK_ELICITING_THRESHOLD = 2;

/**
 * What we received in one packet number space, and when to acknowledge it
 * (RFC 9000 §13.2). Sans-IO: the time is always passed in, in milliseconds.
 *
 * Memory is bounded: at most `maxRanges` ranges are kept, the highest ones.
 * Below the kept ranges sits a floor; every packet number under it counts as
 * a duplicate, which is how §13.2.3 lets a receiver forget ranges safely
 * ("a minimum packet number that increases as ranges are discarded").
 */
export class AckTracker {
  /** Ascending, disjoint and never adjacent (a gap of at least one packet between neighbours). */
  private readonly ranges: Range[] = [];
  /** Packet numbers below this are no longer tracked and are treated as duplicates. */
  private floor = 0;
  private largest = -1;
  /** When the largest packet number was received: the ACK Delay is measured from it (§13.2.5). */
  private largestTime = 0;
  private largestAckEliciting = -1;
  /** Something was received since the last ACK frame was produced. */
  private pending = false;
  private unackedAckEliciting = 0;
  /** Receipt time of the first ack-eliciting packet not yet acknowledged: the max_ack_delay clock. */
  private firstUnackedTime: number | undefined;
  /** When an immediate ACK became owed (§13.2.1 reordering, §13.2.2 second packet). */
  private immediateSince: number | undefined;

  /** @param maxRanges the most ranges remembered (and sent), highest first; older ones are forgotten. */
  constructor(private readonly maxRanges = DEFAULT_MAX_RANGES) {
    if (!Number.isInteger(maxRanges) || maxRanges < 1) throw new ConfigError('AckTracker: maxRanges must be a positive integer');
  }

  /** The largest packet number received, or -1 before any. */
  get largestReceived(): number {
    return this.largest;
  }

  /**
   * Records a packet that was decrypted and fully processed (§13.1: only such
   * packets are acknowledged). Duplicates are ignored; callers are expected to
   * drop them before processing with {@link isDuplicate}.
   */
  onPacketReceived(pn: number, ackEliciting: boolean, now: number): void {
    if (this.isDuplicate(pn)) return;
    const range = this.insert(pn);
    this.pending = true;
    if (pn > this.largest) {
      this.largest = pn;
      this.largestTime = now;
    }
    if (!ackEliciting) return;
    // §13.2.1: acknowledge at once a packet that arrives out of order, either
    // below an ack-eliciting packet already received or above a gap.
    const reordered = this.largestAckEliciting >= 0
      && (pn < this.largestAckEliciting || range.smallest > this.largestAckEliciting + 1);
    this.largestAckEliciting = Math.max(this.largestAckEliciting, pn);
    this.unackedAckEliciting++;
    this.firstUnackedTime ??= now;
    if (reordered || this.unackedAckEliciting >= ACK_ELICITING_THRESHOLD) this.immediateSince ??= now;
  }

  /**
   * True if `pn` was already received, or lies below the remembered window
   * (then it cannot be told apart from a duplicate and is dropped, §12.3).
   */
  isDuplicate(pn: number): boolean {
    if (pn < this.floor) return true;
    const i = this.indexAtOrBelow(pn);
    const r = i >= 0 ? this.ranges[i] : undefined;
    return r !== undefined && pn <= r.largest;
  }

  /**
   * An ACK frame if one should be sent now, else undefined. One is due
   * immediately after two ack-eliciting packets or one received out of order,
   * and otherwise once `maxAckDelay` has passed since the first unacknowledged
   * ack-eliciting packet (§13.2.1, §13.2.2). With `force` (a packet is being
   * sent anyway) any packet not yet acknowledged is included, even if none of
   * them were ack-eliciting (§13.2.1: "when sending a packet for any reason").
   * With `repeat` (a PTO probe) the ranges go again even when every packet was
   * acknowledged already: that ACK may be what was lost — the peer is probing
   * because it heard nothing — and a probe without it leaves the peer with
   * nothing to detect its own losses by (§13.2.4 keeps the ranges until an
   * ACK of the ACK, for this).
   *
   * Initial and Handshake packets are acknowledged immediately (§13.2.1): pass
   * a `maxAckDelay` of 0 for those spaces.
   *
   * @param ackDelayExponent OUR ack_delay_exponent transport parameter: the ACK Delay field is scaled by it (§19.3).
   * @param maxAckDelay OUR max_ack_delay, in milliseconds.
   */
  pollAck(now: number, ackDelayExponent: number, maxAckDelay: number, force = false, repeat = false): Frame | undefined {
    if ((!this.pending && !repeat) || this.ranges.length === 0) return undefined;
    const deadline = this.ackDeadline(maxAckDelay);
    const due = deadline !== undefined && now >= deadline;
    if (!due && !force && !repeat) return undefined;
    this.clearOwed();
    const delayMicros = Math.max(0, now - this.largestTime) * 1000;
    const ranges: AckRange[] = [];
    for (let i = this.ranges.length - 1; i >= 0; i--) {
      const r = this.ranges[i] as Range;
      ranges.push({ smallest: r.smallest, largest: r.largest });
    }
    return { type: 'ack', ackDelay: Math.floor(delayMicros / 2 ** ackDelayExponent), ranges };
  }

  /** When an ACK frame becomes due (for the connection's poll timeout), or undefined if none is owed. */
  ackDeadline(maxAckDelay: number): number | undefined {
    if (this.immediateSince !== undefined) return this.immediateSince;
    if (this.firstUnackedTime !== undefined) return this.firstUnackedTime + maxAckDelay;
    return undefined;
  }

  /**
   * A packet carrying one of our ACK frames, whose Largest Acknowledged was
   * `largestAcked`, was itself acknowledged: the peer knows about everything
   * up to it, so those ranges need not be sent again (§13.2.4). The floor rises
   * with them, so late copies of those packets are dropped as duplicates.
   */
  onAckOfAckReceived(largestAcked: number): void {
    if (largestAcked < this.floor) return;
    this.floor = largestAcked + 1;
    while (this.ranges.length > 0) {
      const r = this.ranges[0] as Range;
      if (r.largest <= largestAcked) this.ranges.shift();
      else {
        r.smallest = Math.max(r.smallest, this.floor);
        break;
      }
    }
    // Nothing left to acknowledge: no ACK is owed any more, so no timer either.
    if (this.ranges.length === 0) this.clearOwed();
  }

  private clearOwed(): void {
    this.pending = false;
    this.unackedAckEliciting = 0;
    this.firstUnackedTime = undefined;
    this.immediateSince = undefined;
  }

  /** Adds `pn` to the ranges, merging neighbours; returns the range that now holds it. */
  private insert(pn: number): Range {
    const i = this.indexAtOrBelow(pn);
    const below = i >= 0 ? this.ranges[i] : undefined;
    const above = this.ranges[i + 1];
    let range: Range;
    if (below && below.largest + 1 === pn) {
      below.largest = pn;
      range = below;
      if (above && above.smallest === pn + 1) {
        below.largest = above.largest;
        this.ranges.splice(i + 1, 1);
      }
    } else if (above && above.smallest === pn + 1) {
      above.smallest = pn;
      range = above;
    } else {
      range = { smallest: pn, largest: pn };
      this.ranges.splice(i + 1, 0, range);
    }
    this.trim();
    return range;
  }

  /** Forgets the lowest ranges beyond `maxRanges`, raising the floor over them. */
  private trim(): void {
    const excess = this.ranges.length - this.maxRanges;
    if (excess <= 0) return;
    const dropped = this.ranges.splice(0, excess);
    const last = dropped[dropped.length - 1] as Range;
    this.floor = last.largest + 1;
  }

  /** Index of the last range whose smallest is at most `pn`, or -1. Most packets arrive in order, so try the top first. */
  private indexAtOrBelow(pn: number): number {
    const n = this.ranges.length;
    const top = this.ranges[n - 1];
    if (top === undefined) return -1;
    if (top.smallest <= pn) return n - 1;
    let lo = 0;
    let hi = n - 2;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if ((this.ranges[mid] as Range).smallest <= pn) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }
}
