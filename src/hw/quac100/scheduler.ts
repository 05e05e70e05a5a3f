/**
 * Time for the QUAC provider: the batcher's bounded wait, device back-off and
 * latency metrics, on the same injectable {@link QuacClock} the emulated card
 * uses (real time by default, `VirtualClock` in tests). Timers are sleeps
 * whose wake-up is ignored once cancelled.
 */
import type { QuacClock } from './clock.js';

export interface QuacScheduler {
  /** Milliseconds on a monotonic clock. */
  now(): number;
  /** Runs `fn` once after `ms` milliseconds; the returned function cancels it. */
  setTimer(ms: number, fn: () => void): () => void;
}

export function schedulerFromClock(clock: QuacClock): QuacScheduler {
  return Object.freeze({
    now: () => clock.now(),
    setTimer: (ms: number, fn: () => void) => {
      let live = true;
      void clock.sleep(ms).then(() => {
        if (live) fn();
      });
      return () => {
        live = false;
      };
    },
  });
}
