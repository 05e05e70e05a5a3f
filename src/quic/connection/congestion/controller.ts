import { ConfigError } from '../../../errors.js';
import type { RttSnapshot } from '../rtt.js';

/** The smallest max_datagram_size QUIC allows (RFC 9000 §14). */
export const MIN_MAX_DATAGRAM_SIZE = 1200;

/** kInitialWindow (RFC 9002 §7.2): min(10·mds, max(14720, 2·mds)). */
export function initialWindow(maxDatagramSize: number): number {
  return Math.min(10 * maxDatagramSize, Math.max(14720, 2 * maxDatagramSize));
}

/** kMinimumWindow (RFC 9002 §7.2): 2·mds. */
export function minimumWindow(maxDatagramSize: number): number {
  return 2 * maxDatagramSize;
}

export function checkMaxDatagramSize(maxDatagramSize: number): void {
  if (!Number.isInteger(maxDatagramSize) || maxDatagramSize < MIN_MAX_DATAGRAM_SIZE) {
    throw new ConfigError(`max_datagram_size must be an integer of at least ${MIN_MAX_DATAGRAM_SIZE}`);
  }
}

/**
 * A congestion controller, after quinn-proto's `Controller`: it owns only the
 * congestion window. Loss detection (recovery.ts) decides what was acknowledged
 * or lost and keeps bytes_in_flight; the controller hears about it and answers
 * how many bytes may be in flight. Times are milliseconds, sizes bytes.
 */
export interface CongestionController {
  /** An in-flight packet of `bytes` left at `now` (RFC 9002 Appendix B.4). */
  onSent(now: number, bytes: number): void;
  /**
   * An in-flight packet sent at `sentTime` was acknowledged at `now`
   * (Appendix B.5). `appLimited`: the sender did not fill the window when it
   * last could, so the window must not grow on this evidence (RFC 9002 §7.8).
   */
  onAck(now: number, sentTime: number, bytes: number, appLimited: boolean, rtt: RttSnapshot): void;
  /**
   * Loss or ECN-CE for packets the newest of which was sent at `sentTime`
   * (Appendix B.6, B.8). At most one window reduction per recovery period;
   * `persistent` collapses the window to kMinimumWindow (§7.6.2).
   */
  onCongestionEvent(now: number, sentTime: number, persistent: boolean, lostBytes: number): void;
  /** The path's max_datagram_size changed (DPLPMTUD, RFC 9000 §14.3). */
  onMtuUpdate(maxDatagramSize: number): void;
  /** Bytes that may be in flight. */
  readonly window: number;
  /** kInitialWindow for the datagram size the controller was built with. */
  readonly initialWindow: number;
  /** Slow start threshold, for diagnostics; Infinity before the first congestion event. */
  readonly ssthresh: number;
  /**
   * A copy of this controller, state included (quinn's `clone_box`): a path
   * whose address only changed port may keep its window (RFC 9000 §9.4); a new
   * path starts from the factory instead.
   */
  clone(): CongestionController;
}

/** Builds the controller of one connection (quinn's `ControllerFactory`). */
export type CongestionControllerFactory = (init: { readonly now: number; readonly maxDatagramSize: number }) => CongestionController;
