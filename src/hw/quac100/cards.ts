/**
 * The cards as one shared resource: opened devices with their self-tests run,
 * the device pool, the batcher and the metrics. A provider makes its own by
 * default; several providers (say, one per software backend, or one per
 * tenant's configuration) pass one `createQuacPool` result as `pool` and then
 * share the cards, their health state and their batches.
 */
import { ConfigError } from '../../errors.js';
import { Batcher, type BatchOptions } from './batcher.js';
import { realClock, type QuacClock } from './clock.js';
import { QuacError, QuacResult, type QuacDevice, type QuacLibrary } from './device.js';
import { QuacMetricsRecorder, type MetricsOptions, type QuacMetricsSnapshot } from './metrics.js';
import { DevicePool, type BackoffOptions } from './pool.js';
import { schedulerFromClock, type QuacScheduler } from './scheduler.js';

export interface QuacPoolOptions {
  /** The library to initialise (with `fips`) and open every device of. */
  readonly library?: QuacLibrary;
  /** Devices already opened (the caller initialised the library and keeps ownership). */
  readonly devices?: readonly QuacDevice[];
  /** Initialise the library in FIPS mode (QUAC_INIT_FIPS_MODE). */
  readonly fips?: boolean;
  /** Cross-connection batching. Default `{ maxSize: 32, maxWaitMs: 1, maxQueue: 4096 }`. */
  readonly batch?: BatchOptions;
  readonly backoff?: BackoffOptions;
  /**
   * Polls every device's health this often (ms), so a card that runs hot or
   * short of entropy leaves the rotation before work fails on it. Default off:
   * call `pollHealth()` from your own scheduler instead. Stopped by `close()`.
   */
  readonly healthPollMs?: number;
  /** Clock for batching waits, back-off and latency (default real time; tests pass the emulator's VirtualClock). */
  readonly clock?: QuacClock;
  /** Histogram buckets of the metrics. */
  readonly metrics?: MetricsOptions;
}

export interface QuacPool {
  readonly fips: boolean;
  /** Counters, latency histograms and per-device health of everything run on these cards. */
  metrics(): QuacMetricsSnapshot;
  /** Polls every device's health now; probes devices whose back-off has passed. */
  pollHealth(): Promise<void>;
  /** Refuses later work; closes the devices and shuts the library down when it opened them from `library`. */
  close(): Promise<void>;
}

/** What providers built on a pool use; not part of the public surface. */
export interface QuacPoolParts {
  readonly devices: DevicePool;
  readonly batcher: Batcher;
  readonly metrics: QuacMetricsRecorder;
  readonly scheduler: QuacScheduler;
  /** Pre-generated key stocks register here, so metrics() reports them. */
  readonly keyStocks: Set<() => readonly { labels: Readonly<Record<string, string>>; value: number }[]>;
}

const parts = new WeakMap<QuacPool, QuacPoolParts>();

/** @internal */
export function poolParts(p: QuacPool): QuacPoolParts {
  const x = parts.get(p);
  if (!x) throw new ConfigError('pool: not made by createQuacPool');
  return x;
}

async function openDevices(o: QuacPoolOptions): Promise<QuacDevice[]> {
  if (o.devices && o.library) throw new ConfigError('QUAC pool: give library or devices, not both');
  if (o.devices) return [...o.devices];
  if (!o.library) throw new ConfigError('QUAC pool: library or devices is required');
  await o.library.init({ fips: o.fips === true });
  const n = await o.library.deviceCount();
  const out: QuacDevice[] = [];
  for (let i = 0; i < n; i++) {
    try {
      out.push(await o.library.open(i));
    } catch (e) {
      // A card that cannot be opened (gone, or failed its self-test at open in FIPS mode) is never used.
      if (!(e instanceof QuacError)) throw e;
    }
  }
  return out;
}

/**
 * Opens the cards and runs each one's known-answer self-test (a card that
 * fails it is never used). A pool with no usable card is returned as such:
 * the provider decides whether that is fatal.
 */
export async function createQuacPool(options: QuacPoolOptions): Promise<QuacPool> {
  const clock = options.clock ?? realClock;
  const scheduler = schedulerFromClock(clock);
  const metrics = new QuacMetricsRecorder(options.metrics);
  const opened = await openDevices(options);
  const devices = new DevicePool(opened, scheduler, metrics, options.backoff);
  await devices.start();
  const batcher = new Batcher(devices, scheduler, options.batch);
  const keyStocks = new Set<QuacPoolParts['keyStocks'] extends Set<infer F> ? F : never>();
  let closed = false;
  const pool: QuacPool = Object.freeze({
    fips: options.fips === true,
    metrics: () => metrics.snapshot(devices.snapshot(), [...keyStocks].flatMap((f) => f())),
    pollHealth: () => devices.pollHealth(),
    close: async () => {
      if (closed) return;
      closed = true;
      devices.closed = true;
      batcher.close('the QUAC provider is closed');
      if (options.library) {
        await Promise.allSettled(opened.map((d) => d.close()));
        await options.library.shutdown();
      }
    },
  });
  const pollMs = options.healthPollMs ?? 0;
  if (pollMs > 0) {
    void (async () => {
      // pollHealth settles every device's outcome itself; it never rejects.
      while (!closed) {
        await clock.sleep(pollMs);
        if (!closed) await devices.pollHealth();
      }
    })();
  }
  parts.set(pool, { devices, batcher, metrics, scheduler, keyStocks });
  return pool;
}

/** The error a provider raises when its pool has no usable card and it may not fall back. */
export function noCardError(p: QuacPoolParts): QuacError {
  const code = p.devices.devices.length === 0 ? QuacResult.DEVICE_NOT_FOUND : QuacResult.SELF_TEST_FAILED;
  return new QuacError(code, 'createQuacProvider', `no usable QUAC device (${p.devices.describe()})`);
}
