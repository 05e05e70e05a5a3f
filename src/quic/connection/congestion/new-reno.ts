import type { RttSnapshot } from '../rtt.js';
import { checkMaxDatagramSize, initialWindow, minimumWindow, type CongestionController, type CongestionControllerFactory } from './controller.js';

/** kLossReductionFactor (RFC 9002 §7.3.2). */
export const K_LOSS_REDUCTION_FACTOR = 0.5;

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
export class NewReno implements CongestionController {
  private maxDatagramSize: number;
  window: number;
  ssthresh = Infinity;
  readonly initialWindow: number;
  /** Start of the current recovery period; undefined outside one (Appendix B's 0). */
  recoveryStartTime: number | undefined;
  /** Bytes acknowledged in congestion avoidance since the window last grew. */
  private avoidanceAcked = 0;

  constructor(maxDatagramSize: number) {
    checkMaxDatagramSize(maxDatagramSize);
    this.maxDatagramSize = maxDatagramSize;
    this.initialWindow = initialWindow(maxDatagramSize);
    this.window = this.initialWindow;
  }

  onSent(): void {
    // Bytes in flight are kept by loss detection; NewReno only reacts to acknowledgments and losses.
  }

  /** Appendix B.5. */
  onAck(_now: number, sentTime: number, bytes: number, appLimited: boolean, _rtt: RttSnapshot): void {
    // No growth from packets sent before the recovery period began (§7.3.2), nor when the window was not used (§7.8).
    if (this.inRecovery(sentTime) || appLimited) return;
    if (this.window < this.ssthresh) {
      this.window += bytes;
      return;
    }
    this.avoidanceAcked += bytes;
    if (this.avoidanceAcked >= this.window) {
      this.avoidanceAcked -= this.window;
      this.window += this.maxDatagramSize;
    }
  }

  /** Appendix B.6, and B.8's reset to kMinimumWindow on persistent congestion (§7.6.2). */
  onCongestionEvent(now: number, sentTime: number, persistent: boolean, _lostBytes?: number): void {
    if (!this.inRecovery(sentTime)) {
      this.recoveryStartTime = now;
      this.ssthresh = Math.floor(this.window * K_LOSS_REDUCTION_FACTOR);
      this.window = Math.max(this.ssthresh, minimumWindow(this.maxDatagramSize));
      this.avoidanceAcked = 0;
    }
    if (persistent) {
      this.window = minimumWindow(this.maxDatagramSize);
      this.recoveryStartTime = undefined;
      this.avoidanceAcked = 0;
    }
  }

  onMtuUpdate(maxDatagramSize: number): void {
    checkMaxDatagramSize(maxDatagramSize);
    this.maxDatagramSize = maxDatagramSize;
    this.window = Math.max(this.window, minimumWindow(maxDatagramSize));
  }

  clone(): NewReno {
    return Object.assign(Object.create(NewReno.prototype) as NewReno, this);
  }

  private inRecovery(sentTime: number): boolean {
    return this.recoveryStartTime !== undefined && sentTime <= this.recoveryStartTime;
  }
}

/** A {@link CongestionControllerFactory} for NewReno. */
export const newReno: CongestionControllerFactory = ({ maxDatagramSize }) => new NewReno(maxDatagramSize);
