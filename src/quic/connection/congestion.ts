import { ConfigError } from '../../errors.js';

/** kLossReductionFactor (RFC 9002 §7.3.2). */
export const K_LOSS_REDUCTION_FACTOR = 0.5;

/** kPersistentCongestionThreshold, a multiple of the PTO period (RFC 9002 §7.6.1). */
export const K_PERSISTENT_CONGESTION_THRESHOLD = 3;

/** The smallest max_datagram_size QUIC allows (RFC 9000 §14). */
const MIN_MAX_DATAGRAM_SIZE = 1200;

/** kInitialWindow (RFC 9002 §7.2): min(10·mds, max(14720, 2·mds)). */
export function initialWindow(maxDatagramSize: number): number {
  return Math.min(10 * maxDatagramSize, Math.max(14720, 2 * maxDatagramSize));
}

/** kMinimumWindow (RFC 9002 §7.2): 2·mds. */
export function minimumWindow(maxDatagramSize: number): number {
  return 2 * maxDatagramSize;
}

/** The fields of a sent packet that congestion control reads (RFC 9002 Appendix A.1.1). */
export interface CongestionPacket {
  readonly timeSent: number;
  readonly size: number;
  readonly inFlight: boolean;
}

/**
 * NewReno congestion control as in RFC 9002 §7 and Appendix B: slow start,
 * congestion avoidance, one window reduction per recovery period, and the
 * collapse to the minimum window on persistent congestion. Sizes in bytes,
 * times in milliseconds.
 *
 * Congestion avoidance counts acknowledged bytes (RFC 3465 §2.1, as Appendix
 * B.5 suggests) so the window stays an integer: it grows by one
 * max_datagram_size per window's worth of acknowledged bytes.
 */
export class NewReno {
  readonly maxDatagramSize: number;
  readonly minimumWindow: number;
  window: number;
  bytesInFlight = 0;
  ssthresh = Infinity;
  /** Start of the current recovery period; undefined outside one (Appendix B's 0). */
  recoveryStartTime: number | undefined;
  /** Bytes acknowledged in congestion avoidance since the window last grew. */
  private avoidanceAcked = 0;

  constructor(maxDatagramSize: number) {
    if (!Number.isInteger(maxDatagramSize) || maxDatagramSize < MIN_MAX_DATAGRAM_SIZE) {
      throw new ConfigError(`max_datagram_size must be an integer of at least ${MIN_MAX_DATAGRAM_SIZE}`);
    }
    this.maxDatagramSize = maxDatagramSize;
    this.minimumWindow = minimumWindow(maxDatagramSize);
    this.window = initialWindow(maxDatagramSize);
  }

  /** True if `bytes` more fit in the congestion window. */
  canSend(bytes: number): boolean {
    return this.bytesInFlight + bytes <= this.window;
  }

  /** Appendix B.4. */
  onPacketSent(p: CongestionPacket): void {
    if (p.inFlight) this.bytesInFlight += p.size;
  }

  /** Appendix B.5. */
  onPacketsAcked(packets: readonly CongestionPacket[]): void {
    for (const p of packets) {
      if (!p.inFlight) continue;
      this.bytesInFlight -= p.size;
      // No growth from packets sent before the recovery period began (§7.3.2).
      if (this.inRecovery(p.timeSent)) continue;
      if (this.window < this.ssthresh) {
        this.window += p.size;
      } else {
        this.avoidanceAcked += p.size;
        if (this.avoidanceAcked >= this.window) {
          this.avoidanceAcked -= this.window;
          this.window += this.maxDatagramSize;
        }
      }
    }
  }

  /** Appendix B.6: a loss or ECN-CE for a packet sent at `sentTime` reduces the window, once per recovery period. */
  onCongestionEvent(sentTime: number, now: number): void {
    if (this.inRecovery(sentTime)) return;
    this.recoveryStartTime = now;
    this.ssthresh = Math.floor(this.window * K_LOSS_REDUCTION_FACTOR);
    this.window = Math.max(this.ssthresh, this.minimumWindow);
    this.avoidanceAcked = 0;
  }

  /** Appendix B.8, without the persistent congestion check (the loss detector owns the send history it needs). */
  onPacketsLost(lost: readonly CongestionPacket[], now: number): void {
    let lastLoss: number | undefined;
    for (const p of lost) {
      if (!p.inFlight) continue;
      this.bytesInFlight -= p.size;
      lastLoss = Math.max(lastLoss ?? p.timeSent, p.timeSent);
    }
    if (lastLoss !== undefined) this.onCongestionEvent(lastLoss, now);
  }

  /** §7.6.2: the window collapses to kMinimumWindow and the recovery period ends. */
  onPersistentCongestion(): void {
    this.window = this.minimumWindow;
    this.recoveryStartTime = undefined;
    this.avoidanceAcked = 0;
  }

  /** Appendix B.9: packets of a discarded space leave bytes_in_flight without any congestion signal. */
  removeFromBytesInFlight(packets: Iterable<CongestionPacket>): void {
    for (const p of packets) if (p.inFlight) this.bytesInFlight -= p.size;
  }

  private inRecovery(sentTime: number): boolean {
    return this.recoveryStartTime !== undefined && sentTime <= this.recoveryStartTime;
  }
}
