/**
 * Time for the emulated card. The card is outside the sans-IO core (it models
 * a device that answers later), so it sleeps; what it sleeps on is injected:
 * real timers for demos and benchmarks, {@link VirtualClock} for tests, which
 * run the same queue in virtual time without waiting.
 */

/** Milliseconds, monotonic. */
export interface QuacClock {
  now(): number;
  /**
   * Resolves once `now()` has advanced by at least `ms` (immediately when `ms <= 0`).
   * With `signal`: an abort releases the timer and rejects with the signal's reason.
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/**
 * The platform's monotonic clock and timers. A sleep shorter than the timer
 * granularity (about 1 ms) still takes one timer tick; the emulator schedules
 * against absolute deadlines, so this adds latency to an idle call but never
 * lowers throughput under load.
 */
export const realClock: QuacClock = {
  now: () => globalThis.performance.now(),
  sleep: (ms, signal) => {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (ms <= 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        clearTimeout(t);
        reject(signal?.reason);
      };
      const t = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  },
};

interface Timer {
  readonly at: number;
  readonly seq: number;
  readonly wake: () => void;
}

/** Runs `fn` after every pending microtask, without a timer tick (setImmediate in Node, a MessageChannel in browsers). */
function macrotask(fn: () => void): void {
  const g = globalThis as { setImmediate?: (f: () => void) => unknown; MessageChannel?: typeof MessageChannel };
  if (g.setImmediate) {
    g.setImmediate(fn);
  } else if (g.MessageChannel) {
    const ch = new g.MessageChannel();
    ch.port1.onmessage = () => {
      ch.port1.close();
      fn();
    };
    ch.port2.postMessage(0);
  } else {
    setTimeout(fn, 0);
  }
}

/**
 * Discrete-event time. With `auto` (the default), whenever every pending
 * microtask has run and someone is sleeping, time jumps to the earliest wake-up
 * and that sleeper resumes: a queue of a thousand 50 µs operations finishes
 * at virtual t = 50 ms in a few real milliseconds, in a reproducible order
 * (earliest deadline first, ties in the order the sleeps began). Without
 * `auto`, time moves only by {@link VirtualClock.advance}.
 */
export class VirtualClock implements QuacClock {
  private t: number;
  private seq = 0;
  private readonly timers: Timer[] = [];
  private pumping = false;
  private readonly auto: boolean;

  constructor(options: { start?: number; auto?: boolean } = {}) {
    this.t = options.start ?? 0;
    this.auto = options.auto ?? true;
  }

  now(): number {
    return this.t;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (!(ms > 0)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        const i = this.timers.indexOf(timer);
        if (i >= 0) this.timers.splice(i, 1);
        reject(signal?.reason);
      };
      const wake = (): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const timer = { at: this.t + ms, seq: this.seq++, wake };
      signal?.addEventListener('abort', onAbort, { once: true });
      // Binary insertion after every timer due no later: earliest first, ties in arrival order.
      let lo = 0;
      let hi = this.timers.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if ((this.timers[mid] as Timer).at <= timer.at) lo = mid + 1;
        else hi = mid;
      }
      this.timers.splice(lo, 0, timer);
      if (this.auto) this.schedulePump();
    });
  }

  /** Sleepers still waiting. */
  get pending(): number {
    return this.timers.length;
  }

  /** Moves time forward by `ms`, waking every sleeper due on the way in deadline order, each after the previous one's continuations ran. */
  async advance(ms: number): Promise<void> {
    const until = this.t + ms;
    for (;;) {
      await new Promise<void>((r) => macrotask(r));
      const next = this.timers[0];
      if (next === undefined || next.at > until) break;
      this.timers.shift();
      this.t = Math.max(this.t, next.at);
      next.wake();
    }
    this.t = Math.max(this.t, until);
  }

  private schedulePump(): void {
    if (this.pumping) return;
    this.pumping = true;
    macrotask(() => {
      this.pumping = false;
      const next = this.timers.shift();
      if (next === undefined) return;
      this.t = Math.max(this.t, next.at);
      next.wake();
      if (this.timers.length > 0) this.schedulePump();
    });
  }
}
