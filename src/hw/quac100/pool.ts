/**
 * Several QUAC devices as one: least-loaded dispatch by operations in flight,
 * devices that fault leave the rotation and are probed back after a back-off,
 * devices that fail a known-answer self-test are never used again.
 *
 * States: `active` (in the rotation); `backoff` (left after a device fault or a
 * bad health report; probed with health() then selfTest() once `retryAt` has
 * passed, lazily when work arrives or on {@link DevicePool.pollHealth}; the
 * back-off doubles per failed probe up to `maxMs`); `failed` (its self-test
 * failed: FIPS 140-3 §7.10 error state, the device is never used again).
 */
import { QuacError, QuacHealthStatus, QuacResult, type QuacDevice, type QuacHealth } from './device.js';
import { healthFields, type DeviceSnapshot, type DeviceState, type QuacMetricsRecorder } from './metrics.js';
import type { QuacScheduler } from './scheduler.js';

export interface BackoffOptions {
  /** First wait before probing a device that left the rotation. Default 1000 ms. */
  readonly initialMs?: number;
  /** Cap of the doubling wait. Default 60 000 ms. */
  readonly maxMs?: number;
}

export class PooledDevice {
  state: DeviceState = 'active';
  reason: string | undefined;
  inFlight = 0;
  calls = 0;
  operations = 0;
  retryAt = 0;
  backoffMs: number;
  lastHealth: QuacHealth | undefined;
  probing: Promise<void> | undefined;

  constructor(readonly device: QuacDevice, initialBackoffMs: number) {
    this.backoffMs = initialBackoffMs;
  }

  get index(): number {
    return this.device.index;
  }
}

/** No device can take the work: every one is out of the rotation or has failed. */
export class NoDeviceError extends QuacError {
  constructor(operation: string, detail: string) {
    super(QuacResult.DEVICE_NOT_FOUND, operation, detail);
    this.name = 'NoDeviceError';
  }
}

/** Health reports that take a device out of the rotation. */
function badHealth(h: QuacHealth): string | undefined {
  if (h.status === QuacHealthStatus.OVER_TEMPERATURE) return `over temperature (${h.temperatureCelsius} °C)`;
  if (h.status === QuacHealthStatus.ENTROPY_LOW) return `entropy low (${h.entropyAvailableBits} bits)`;
  if (h.status === QuacHealthStatus.SELF_TEST_FAILED) return 'self-test failed';
  return undefined;
}

export class DevicePool {
  readonly devices: readonly PooledDevice[];
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;
  private rr = 0;
  /** Set by the provider's close(): no new work, and it is not a device fault (nothing falls back). */
  closed = false;

  constructor(devices: readonly QuacDevice[], private readonly scheduler: QuacScheduler, readonly metrics: QuacMetricsRecorder, backoff: BackoffOptions = {}) {
    this.initialBackoffMs = backoff.initialMs ?? 1000;
    this.maxBackoffMs = backoff.maxMs ?? 60_000;
    this.devices = devices.map((d) => new PooledDevice(d, this.initialBackoffMs));
  }

  /**
   * Start-up: every device runs its known-answer self-test and reports its
   * health before it takes work. A self-test failure is final; a bad health
   * report puts the device in back-off.
   */
  async start(): Promise<void> {
    await Promise.all(this.devices.map(async (pd) => {
      try {
        await pd.device.selfTest();
      } catch (e) {
        // A failed known-answer test is final. A card that could not run it (hot, gone, busy) waits in back-off:
        // the probe that would bring it back runs the self-test first, so no card works untested.
        if (e instanceof QuacError && e.resultName !== 'SELF_TEST_FAILED') this.leave(pd, `self-test not run: ${e.message}`);
        else this.fail(pd, `self-test failed: ${e instanceof Error ? e.message : String(e)}`);
        return;
      }
      await this.checkHealth(pd);
    }));
  }

  /** Polls every device that is not failed; probes those whose back-off has passed. */
  async pollHealth(): Promise<void> {
    await Promise.all(this.devices.map(async (pd) => {
      if (pd.state === 'active') await this.checkHealth(pd);
      else if (pd.state === 'backoff' && this.scheduler.now() >= pd.retryAt) await this.probe(pd);
    }));
  }

  private async checkHealth(pd: PooledDevice): Promise<void> {
    let h: QuacHealth;
    try {
      h = await pd.device.health();
    } catch (e) {
      this.fault(pd, e);
      return;
    }
    pd.lastHealth = h;
    if (h.status === QuacHealthStatus.SELF_TEST_FAILED) this.fail(pd, 'health reports self-test failure');
    else {
      const bad = badHealth(h);
      if (bad) this.leave(pd, bad);
    }
  }

  /** Takes a device out after a device-level error (QuacError.deviceFault); SELF_TEST_FAILED is final. */
  fault(pd: PooledDevice, e: unknown): void {
    if (e instanceof QuacError && e.resultName === 'SELF_TEST_FAILED') this.fail(pd, e.message);
    else this.leave(pd, e instanceof Error ? e.message : String(e));
  }

  private leave(pd: PooledDevice, reason: string): void {
    if (pd.state === 'failed') return;
    if (pd.state === 'active') pd.backoffMs = this.initialBackoffMs;
    pd.state = 'backoff';
    pd.reason = reason;
    pd.retryAt = this.scheduler.now() + pd.backoffMs;
  }

  private fail(pd: PooledDevice, reason: string): void {
    pd.state = 'failed';
    pd.reason = reason;
  }

  /** health() then selfTest(); back into the rotation if both pass, else a doubled back-off (or failed). */
  private probe(pd: PooledDevice): Promise<void> {
    if (pd.probing) return pd.probing;
    const run = async (): Promise<void> => {
      try {
        const h = await pd.device.health();
        pd.lastHealth = h;
        const bad = badHealth(h);
        if (bad) throw new QuacError(QuacResult.INTERNAL, 'probe', bad);
        await pd.device.selfTest();
      } catch (e) {
        if (e instanceof QuacError && e.resultName === 'SELF_TEST_FAILED') {
          this.fail(pd, e.message);
          return;
        }
        pd.backoffMs = Math.min(pd.backoffMs * 2, this.maxBackoffMs);
        pd.state = 'backoff';
        pd.reason = e instanceof Error ? e.message : String(e);
        pd.retryAt = this.scheduler.now() + pd.backoffMs;
        return;
      }
      if (pd.state === 'failed') return;
      pd.state = 'active';
      pd.reason = undefined;
      pd.backoffMs = this.initialBackoffMs;
    };
    pd.probing = run().finally(() => {
      pd.probing = undefined;
    });
    return pd.probing;
  }

  /** Least operations in flight among active devices, ties in turn; undefined if none is active. */
  private pick(exclude: ReadonlySet<PooledDevice>): PooledDevice | undefined {
    const n = this.devices.length;
    let best: number | undefined;
    for (let k = 0; k < n; k++) {
      const i = (this.rr + k) % n;
      const pd = this.devices[i] as PooledDevice;
      if (pd.state !== 'active' || exclude.has(pd)) continue;
      if (best === undefined || pd.inFlight < (this.devices[best] as PooledDevice).inFlight) best = i;
    }
    if (best === undefined) return undefined;
    this.rr = (best + 1) % n;
    return this.devices[best];
  }

  /**
   * A device for new work. Devices whose back-off has passed are probed first
   * (in the background when another device is active, awaited when none is).
   * @throws NoDeviceError when no device is usable.
   */
  async acquire(operation: string, exclude: ReadonlySet<PooledDevice> = new Set()): Promise<PooledDevice> {
    if (this.closed) throw new QuacError(QuacResult.NOT_INITIALIZED, operation, 'the QUAC provider is closed');
    const now = this.scheduler.now();
    const due = this.devices.filter((pd) => pd.state === 'backoff' && now >= pd.retryAt && !exclude.has(pd));
    const probes = due.map((pd) => this.probe(pd));
    let pd = this.pick(exclude);
    if (!pd && probes.length) {
      await Promise.all(probes);
      pd = this.pick(exclude);
    }
    if (!pd) throw new NoDeviceError(operation, `no usable QUAC device (${this.describe()})`);
    return pd;
  }

  /**
   * The device a stored key lives on, if it is in the rotation. Work for a
   * stored key never moves to another device.
   * @throws QuacError DEVICE_REMOVED when that device is out.
   */
  async bound(index: number, operation: string): Promise<PooledDevice> {
    if (this.closed) throw new QuacError(QuacResult.NOT_INITIALIZED, operation, 'the QUAC provider is closed');
    const pd = this.devices.find((d) => d.index === index);
    if (!pd) throw new QuacError(QuacResult.DEVICE_NOT_FOUND, operation, `device ${index} is not in this pool`);
    if (pd.state === 'backoff' && this.scheduler.now() >= pd.retryAt) await this.probe(pd);
    if (pd.state !== 'active') {
      throw new QuacError(QuacResult.DEVICE_REMOVED, operation, `the key lives on device ${index}, which is out of the rotation (${pd.state}: ${pd.reason ?? ''})`);
    }
    return pd;
  }

  /** Runs one call on `pd`, counting it; a device fault takes `pd` out of the rotation before rethrowing. */
  async call<T>(pd: PooledDevice, operations: number, f: (d: QuacDevice) => Promise<T>): Promise<T> {
    pd.inFlight += operations;
    pd.calls++;
    pd.operations += operations;
    this.metrics.deviceCalls++;
    this.metrics.deviceOperations += operations;
    try {
      return await f(pd.device);
    } catch (e) {
      if (e instanceof QuacError) {
        this.metrics.errors.add({ result: e.resultName });
        if (e.deviceFault) this.fault(pd, e);
      }
      throw e;
    } finally {
      pd.inFlight -= operations;
    }
  }

  /**
   * One unbound call: on the least-loaded device, and once more on another
   * device if the first fails with a device fault.
   */
  async run<T>(operation: string, operations: number, f: (d: QuacDevice) => Promise<T>): Promise<T> {
    const first = await this.acquire(operation);
    try {
      return await this.call(first, operations, f);
    } catch (e) {
      if (!(e instanceof QuacError && e.deviceFault)) throw e;
      const second = await this.acquire(operation, new Set([first]));
      return this.call(second, operations, f);
    }
  }

  describe(): string {
    return this.devices.map((d) => `device ${d.index}: ${d.state}${d.reason ? ` (${d.reason})` : ''}`).join('; ') || 'no devices';
  }

  snapshot(): DeviceSnapshot[] {
    return this.devices.map((pd) => ({
      index: pd.index,
      state: pd.state,
      ...(pd.reason === undefined ? {} : { reason: pd.reason }),
      inFlight: pd.inFlight,
      calls: pd.calls,
      operations: pd.operations,
      ...healthFields(pd.lastHealth),
    }));
  }

  usable(): boolean {
    return this.devices.some((d) => d.state !== 'failed');
  }
}
