/** Timer granularity, kGranularity (RFC 9002 §6.1.2), in milliseconds. */
export const K_GRANULARITY = 1;

/** The RTT used before any sample, kInitialRtt (RFC 9002 §6.2.2), in milliseconds. */
export const K_INITIAL_RTT = 333;

/** A snapshot of the RTT estimator, in milliseconds. */
export interface RttSnapshot {
  readonly latest: number;
  readonly smoothed: number;
  readonly rttvar: number;
  readonly min: number;
}

/**
 * The RTT estimator of RFC 9002 §5 (Appendix A.7 UpdateRtt): latest_rtt,
 * min_rtt, smoothed_rtt and rttvar, in milliseconds.
 */
export class RttEstimator {
  latest = 0;
  smoothed: number;
  rttvar: number;
  min = 0;
  /** When the first sample was taken; undefined until then (Appendix A's first_rtt_sample = 0). */
  firstSampleTime: number | undefined;

  constructor(initialRtt = K_INITIAL_RTT) {
    this.smoothed = initialRtt;
    this.rttvar = initialRtt / 2;
  }

  /**
   * Takes one RTT sample (§5.1) at `now`. `ackDelay` is the peer's decoded ACK
   * Delay in milliseconds; it is capped by `maxAckDelay` only once the
   * handshake is confirmed (§5.3), and never subtracted when that would take
   * the sample below min_rtt.
   */
  update(latestRtt: number, ackDelay: number, maxAckDelay: number, handshakeConfirmed: boolean, now: number): void {
    this.latest = latestRtt;
    if (this.firstSampleTime === undefined) {
      this.min = latestRtt;
      this.smoothed = latestRtt;
      this.rttvar = latestRtt / 2;
      this.firstSampleTime = now;
      return;
    }
    // §5.2: min_rtt ignores the acknowledgment delay.
    this.min = Math.min(this.min, latestRtt);
    const delay = handshakeConfirmed ? Math.min(ackDelay, maxAckDelay) : ackDelay;
    const adjusted = latestRtt >= this.min + delay ? latestRtt - delay : latestRtt;
    this.rttvar = (3 / 4) * this.rttvar + (1 / 4) * Math.abs(this.smoothed - adjusted);
    this.smoothed = (7 / 8) * this.smoothed + (1 / 8) * adjusted;
  }

  /** smoothed_rtt + max(4·rttvar, kGranularity): the PTO period without max_ack_delay or backoff (§6.2.1). */
  get ptoBase(): number {
    return this.smoothed + Math.max(4 * this.rttvar, K_GRANULARITY);
  }

  snapshot(): RttSnapshot {
    return { latest: this.latest, smoothed: this.smoothed, rttvar: this.rttvar, min: this.min };
  }
}
