/** How long a burst may last at the current rate: the bucket holds this much of a window per RTT (quinn's BURST_INTERVAL). */
const BURST_INTERVAL_MS = 2;
/** The smallest burst, in datagrams: fewer would cost more timer wake-ups than pacing is worth (RFC 9002 §7.7: "~10"). */
export const MIN_BURST_DATAGRAMS = 10;
/** The largest burst, in datagrams, however fast the path: keeps a single burst from overrunning buffers on the way. */
export const MAX_BURST_DATAGRAMS = 256;
/** N in RFC 9002 §7.7: pace at 1.25 × cwnd / smoothed_rtt, so pacing itself never holds the window back. */
export const PACING_GAIN = 1.25;
/**
 * In slow start the window doubles every round trip, which 1.25 × cwnd per RTT
 * would hold back; Linux paces slow start at 2 × (tcp_pacing_ss_ratio = 200%).
 */
export const SLOW_START_PACING_GAIN = 2;
/** Delays shorter than this (ms) are not worth a timer. */
const MIN_DELAY_MS = 1e-3;

/**
 * A token-bucket pacer (RFC 9002 §7.7, after quinn-proto's `Pacer`): tokens
 * refill at 1.25 · cwnd / smoothed_rtt bytes per ms (2 · in slow start), up to a burst of
 * cwnd · 2 ms / smoothed_rtt, kept between 10 and 256 datagrams. Sans-IO:
 * {@link delay} says when enough tokens will be there and the connection
 * reports that time in `pollTimeout()` so its caller wakes up to send; a
 * caller that wakes up late gets the tokens of its lateness, up to one more burst.
 * Times in ms, sizes in bytes.
 */
export class Pacer {
  private capacity: number;
  private tokens: number;
  private lastWindow: number;
  private lastMtu: number;
  private prev: number;
  /** The time {@link delay} last told the caller to come back at, until it does. */
  private releaseAt: number | undefined;

  constructor(smoothedRtt: number, window: number, mtu: number, now: number) {
    this.capacity = optimalCapacity(smoothedRtt, window, mtu);
    this.tokens = this.capacity;
    this.lastWindow = window;
    this.lastMtu = mtu;
    this.prev = now;
  }

  /** Bytes that may leave at once now (for tests and diagnostics). */
  get available(): number {
    return this.tokens;
  }

  /**
   * When `bytes` may be sent, or undefined if they may go now. Waiting lets
   * the bucket fill to a whole burst (or `bytes`), as quinn does, so the caller
   * wakes once per burst rather than once per datagram.
   */
  delay(smoothedRtt: number, bytes: number, mtu: number, window: number, now: number, gain = PACING_GAIN): number | undefined {
    if (window !== this.lastWindow || mtu !== this.lastMtu) {
      this.capacity = optimalCapacity(smoothedRtt, window, mtu);
      this.tokens = Math.min(this.tokens, this.capacity);
      this.lastWindow = window;
      this.lastMtu = mtu;
    }
    if (this.tokens >= bytes) return undefined;
    if (!(smoothedRtt > 0) || window <= 0) return undefined;
    const rate = (window * gain) / smoothedRtt;
    const elapsed = Math.max(0, now - this.prev);
    // A caller that comes back later than the release time it was given (a timer fires a millisecond or more
    // late: a whole burst interval on a fast path) gets the tokens of the time it was kept waiting, up to one
    // more burst, so scheduling delays do not lower the rate (§7.7 lets the rate deviate over short periods;
    // the average stays 1.25 · cwnd / smoothed_rtt). Without that the bucket overflowed while the timer was late.
    const late = this.releaseAt === undefined ? 0 : Math.min(Math.max(0, now - this.releaseAt) * rate, this.capacity);
    this.releaseAt = undefined;
    this.tokens = Math.min(this.capacity + late, this.tokens + rate * elapsed);
    this.prev = now;
    if (this.tokens >= bytes) return undefined;
    const wait = (Math.max(bytes, this.capacity) - this.tokens) / rate;
    if (wait < MIN_DELAY_MS) return undefined;
    this.releaseAt = now + wait;
    return this.releaseAt;
  }

  /** Nothing waits for the release time {@link delay} gave: coming back later is idleness, which earns no extra burst. */
  cancelRelease(): void {
    this.releaseAt = undefined;
  }

  /** A datagram of `bytes` left: its tokens are spent. */
  onTransmit(bytes: number): void {
    this.tokens = Math.max(0, this.tokens - bytes);
  }
}

/** The bucket size: what the window allows in one burst interval, clamped to [10, 256] datagrams. */
function optimalCapacity(smoothedRtt: number, window: number, mtu: number): number {
  const capacity = (window * BURST_INTERVAL_MS) / Math.max(smoothedRtt, 1e-3);
  return Math.min(Math.max(capacity, MIN_BURST_DATAGRAMS * mtu), MAX_BURST_DATAGRAMS * mtu);
}
