/**
 * Time for the QUAC provider: the batcher's bounded wait, device back-off and
 * latency metrics. Injected so tests run on a virtual clock; the default reads
 * the platform's monotonic clock and timers, which every supported runtime
 * (Node, browsers, Workers) has. This file is the only one in src/hw that
 * touches a clock or a timer.
 */
export interface QuacScheduler {
  /** Milliseconds on a monotonic clock. */
  now(): number;
  /** Runs `fn` once after `ms` milliseconds; the returned function cancels it. */
  setTimer(ms: number, fn: () => void): () => void;
}

export const systemScheduler: QuacScheduler = Object.freeze({
  now: () => globalThis.performance.now(),
  setTimer: (ms: number, fn: () => void) => {
    const t = globalThis.setTimeout(fn, ms);
    return () => globalThis.clearTimeout(t);
  },
});

/**
 * A scheduler on a clock that can only sleep (the emulator's `QuacClock`, its
 * `VirtualClock` in tests): a timer is a sleep whose wake-up is ignored once
 * cancelled.
 */
export function schedulerFromClock(clock: { now(): number; sleep(ms: number): Promise<void> }): QuacScheduler {
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
