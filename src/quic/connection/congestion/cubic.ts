import type { RttSnapshot } from '../rtt.js';
import { checkMaxDatagramSize, initialWindow, minimumWindow, type CongestionController, type CongestionControllerFactory } from './controller.js';

/** C, the scaling constant of W_cubic, in segments per second³ (RFC 9438 §5). */
export const CUBIC_C = 0.4;

/** β_cubic, the multiplicative decrease factor (RFC 9438 §4.6). */
export const CUBIC_BETA = 0.7;

/** α_cubic = 3(1 − β)/(1 + β), the Reno-friendly additive increase (RFC 9438 §4.3, Figure 5). */
export const CUBIC_ALPHA = (3 * (1 - CUBIC_BETA)) / (1 + CUBIC_BETA);

/**
 * CUBIC congestion control (RFC 9438) on QUIC's loss detection (RFC 9002):
 * slow start as in RFC 9002 §7.3.1, then growth along
 * W_cubic(t) = C·(t − K)³ + W_max (Figure 1), concave below W_max and convex
 * above it, never slower than the Reno estimate W_est (§4.3); a congestion event
 * multiplies the window by β_cubic = 0.7, with fast convergence (§4.7) lowering
 * W_max when the window had not regained the previous one.
 *
 * The formulas are in segments and seconds; this keeps bytes and milliseconds
 * and converts (one segment = max_datagram_size). Recovery periods are RFC
 * 9002's: one reduction per period, and no growth from packets sent before it
 * began. The window is kept fractional and read as whole bytes.
 */
export class Cubic implements CongestionController {
  private mds: number;
  private cwnd: number;
  ssthresh = Infinity;
  readonly initialWindow: number;
  recoveryStartTime: number | undefined;
  /** W_max in bytes: the window just before the last reduction; undefined before any (or after persistent congestion, §4.8). */
  wMax: number | undefined;
  /** cwnd_prior (§4.6): the window before the last reduction, where α_cubic turns to 1 (§4.3). */
  private cwndPrior: number | undefined;
  /** t_epoch in ms: the start of the current congestion avoidance stage; undefined outside one. */
  epochStart: number | undefined;
  /** K in seconds (Figure 2). */
  k = 0;
  /** W_est in bytes (Figure 4). */
  wEst = 0;
  /** When the last acknowledgment was taken in congestion avoidance, to leave application-limited time out of t (§5.8). */
  private lastAckTime: number | undefined;

  constructor(maxDatagramSize: number) {
    checkMaxDatagramSize(maxDatagramSize);
    this.mds = maxDatagramSize;
    this.initialWindow = initialWindow(maxDatagramSize);
    this.cwnd = this.initialWindow;
  }

  get window(): number {
    return Math.floor(this.cwnd);
  }

  onSent(): void {
    // Bytes in flight are kept by loss detection.
  }

  /** W_cubic(t) of Figure 1, in bytes, `t` in seconds since the epoch. */
  wCubic(t: number): number {
    return CUBIC_C * (t - this.k) ** 3 * this.mds + (this.wMax ?? 0);
  }

  onAck(now: number, sentTime: number, bytes: number, appLimited: boolean, rtt: RttSnapshot): void {
    if (this.recoveryStartTime !== undefined && sentTime <= this.recoveryStartTime) return;
    if (appLimited) {
      // §5.8: no growth while the application leaves the window unused, and t must not count that time.
      if (this.epochStart !== undefined && this.lastAckTime !== undefined) this.epochStart += now - this.lastAckTime;
      this.lastAckTime = now;
      return;
    }
    if (this.cwnd < this.ssthresh) {
      this.cwnd += bytes; // RFC 9002 §7.3.1 (§4.10: CUBIC keeps the standard slow start)
      return;
    }
    if (this.epochStart === undefined) this.startEpoch(now);
    this.lastAckTime = now;
    const t = (now - (this.epochStart as number)) / 1000;
    // §4.3: W_est grows like Reno with α_cubic, which is 1 once W_est reaches cwnd_prior.
    const alpha = this.cwndPrior !== undefined && this.wEst >= this.cwndPrior ? 1 : CUBIC_ALPHA;
    this.wEst += (alpha * this.mds * bytes) / this.cwnd;
    if (this.wCubic(t) < this.wEst) {
      this.cwnd = this.wEst; // §4.3: the Reno-friendly region
      return;
    }
    // §4.2: aim at W_cubic one RTT ahead, within [cwnd, 1.5·cwnd]; §4.4/§4.5: concave and convex alike.
    const target = Math.min(Math.max(this.wCubic(t + rtt.smoothed / 1000), this.cwnd), 1.5 * this.cwnd);
    this.cwnd += ((target - this.cwnd) / this.cwnd) * bytes;
  }

  onCongestionEvent(now: number, sentTime: number, persistent: boolean, _lostBytes?: number): void {
    if (this.recoveryStartTime === undefined || sentTime > this.recoveryStartTime) {
      this.recoveryStartTime = now;
      // §4.7: fast convergence releases bandwidth to newer flows when the window did not regain W_max.
      this.wMax = this.wMax !== undefined && this.cwnd < this.wMax ? (this.cwnd * (1 + CUBIC_BETA)) / 2 : this.cwnd;
      this.cwndPrior = this.cwnd;
      // §4.6: ssthresh = cwnd·β_cubic, and cwnd = max(ssthresh, 2 segments).
      this.ssthresh = Math.max(Math.floor(this.cwnd * CUBIC_BETA), minimumWindow(this.mds));
      this.cwnd = this.ssthresh;
      this.epochStart = undefined;
    }
    if (persistent) {
      // §4.8 (a timeout): back to kMinimumWindow; the next stage starts with K = 0 and W_max = W_est = its first window.
      this.cwnd = minimumWindow(this.mds);
      this.recoveryStartTime = undefined;
      this.wMax = undefined;
      this.cwndPrior = undefined;
      this.epochStart = undefined;
    }
  }

  onMtuUpdate(maxDatagramSize: number): void {
    checkMaxDatagramSize(maxDatagramSize);
    this.mds = maxDatagramSize;
    this.cwnd = Math.max(this.cwnd, minimumWindow(maxDatagramSize));
  }

  clone(): Cubic {
    return Object.assign(Object.create(Cubic.prototype) as Cubic, this);
  }

  /** A congestion avoidance stage begins (§4.2): t_epoch, cwnd_epoch, K (Figure 2) and W_est (§4.3). */
  private startEpoch(now: number): void {
    this.epochStart = now;
    // No reduction yet (slow start ended at ssthresh) or one after persistent congestion: the curve starts at the window (§4.8).
    if (this.wMax === undefined || this.wMax < this.cwnd) this.wMax = this.cwnd;
    this.k = this.kFor(this.wMax, this.cwnd);
    this.wEst = this.cwnd;
  }

  /** K = ∛((W_max − cwnd_epoch)/C), in seconds (Figure 2). */
  private kFor(wMax: number, cwndEpoch: number): number {
    return Math.cbrt(Math.max(0, wMax - cwndEpoch) / this.mds / CUBIC_C);
  }
}

/** A {@link CongestionControllerFactory} for CUBIC, the default controller. */
export const cubic: CongestionControllerFactory = ({ maxDatagramSize }) => new Cubic(maxDatagramSize);
