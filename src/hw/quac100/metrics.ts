/**
 * Counters and latency summaries of a QUAC provider, as plain data
 * ({@link QuacMetricsSnapshot}), and their Prometheus text exposition
 * (format 0.0.4). The exposition is written here rather than with prom-client,
 * which is Node-only: this code also runs in browsers.
 */
import { ConfigError } from '../../errors.js';
import type { QuacHealth } from './device.js';

/** A cumulative histogram: `counts[i]` observations were ≤ `bounds[i]`; `count` is the +Inf bucket. */
export interface HistogramSnapshot {
  readonly bounds: readonly number[];
  readonly counts: readonly number[];
  readonly sum: number;
  readonly count: number;
}

export type DeviceState = 'active' | 'backoff' | 'failed';

export interface DeviceSnapshot {
  readonly index: number;
  readonly state: DeviceState;
  /** Why it left the rotation, if it did. */
  readonly reason?: string;
  readonly inFlight: number;
  /** Calls into the device (a batch is one call). */
  readonly calls: number;
  /** Operations those calls carried (a batch of 8 is 8). */
  readonly operations: number;
  /** From the last health poll. */
  readonly temperatureCelsius?: number;
  readonly entropyAvailableBits?: number;
  readonly healthStatus?: number;
}

export interface LabelledCount {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface QuacMetricsSnapshot {
  /** ML-KEM operations by `operation` (keygen, encaps, decaps) and `algorithm`, wherever they ran. */
  readonly kemOperations: readonly LabelledCount[];
  /** ML-DSA operations by `operation` (sign, verify) and `algorithm`. */
  readonly signOperations: readonly LabelledCount[];
  readonly kemLatencySeconds: HistogramSnapshot;
  readonly signLatencySeconds: HistogramSnapshot;
  /** Items per batchExecute call. */
  readonly batchSizes: HistogramSnapshot;
  /** Calls into any device, and the operations they carried. */
  readonly deviceCalls: number;
  readonly deviceOperations: number;
  /** Operations routed to the software provider because no device was usable, by `operation`. */
  readonly softwareFallbacks: readonly LabelledCount[];
  /** Failed device results by `result` (QUAC result name). */
  readonly deviceErrors: readonly LabelledCount[];
  /** Pre-generated ML-KEM keys waiting, by `algorithm`, and how many were generated and taken. */
  readonly keyPoolAvailable: readonly LabelledCount[];
  readonly keyPoolGenerated: number;
  readonly keyPoolTaken: number;
  readonly devices: readonly DeviceSnapshot[];
}

const LATENCY_BOUNDS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
const BATCH_BOUNDS = [1, 2, 4, 8, 16, 32, 64, 128, 256];

export class Histogram {
  private readonly counts: number[];
  private sum = 0;
  private count = 0;

  constructor(private readonly bounds: readonly number[]) {
    this.counts = bounds.map(() => 0);
  }

  observe(v: number): void {
    this.sum += v;
    this.count++;
    for (let i = 0; i < this.bounds.length; i++) if (v <= (this.bounds[i] as number)) this.counts[i] = (this.counts[i] as number) + 1;
  }

  snapshot(): HistogramSnapshot {
    return { bounds: [...this.bounds], counts: [...this.counts], sum: this.sum, count: this.count };
  }
}

class Counter {
  private readonly values = new Map<string, { labels: Record<string, string>; value: number }>();

  add(labels: Record<string, string>, n = 1): void {
    const key = JSON.stringify(labels);
    const e = this.values.get(key);
    if (e) e.value += n;
    else this.values.set(key, { labels, value: n });
  }

  total(): number {
    let t = 0;
    for (const e of this.values.values()) t += e.value;
    return t;
  }

  snapshot(): LabelledCount[] {
    return [...this.values.values()].map((e) => ({ labels: { ...e.labels }, value: e.value }));
  }
}

export interface MetricsOptions {
  /** Upper bounds of the latency histograms' buckets, in seconds, increasing. Default 100 µs … 1 s. */
  readonly latencyBucketsSeconds?: readonly number[];
  /** Upper bounds of the batch-size histogram's buckets, increasing. Default 1, 2, 4 … 256. */
  readonly batchSizeBuckets?: readonly number[];
}

function bounds(b: readonly number[] | undefined, fallback: readonly number[], what: string): readonly number[] {
  if (b === undefined) return fallback;
  if (b.length === 0 || b.length > 64 || b.some((x, i) => !Number.isFinite(x) || (i > 0 && x <= (b[i - 1] as number)))) {
    throw new ConfigError(`metrics.${what}: 1 to 64 finite, strictly increasing bounds`);
  }
  return [...b];
}

/** The mutable side, fed by the pool, batcher, key pool and provider. */
export class QuacMetricsRecorder {
  readonly kem = new Counter();
  readonly sign = new Counter();
  readonly fallbacks = new Counter();
  readonly errors = new Counter();
  readonly kemLatency: Histogram;
  readonly signLatency: Histogram;
  readonly batchSizes: Histogram;

  constructor(options: MetricsOptions = {}) {
    const latency = bounds(options.latencyBucketsSeconds, LATENCY_BOUNDS, 'latencyBucketsSeconds');
    this.kemLatency = new Histogram(latency);
    this.signLatency = new Histogram(latency);
    this.batchSizes = new Histogram(bounds(options.batchSizeBuckets, BATCH_BOUNDS, 'batchSizeBuckets'));
  }

  deviceCalls = 0;
  deviceOperations = 0;
  keyPoolGenerated = 0;
  keyPoolTaken = 0;

  snapshot(devices: readonly DeviceSnapshot[], keyPoolAvailable: readonly LabelledCount[]): QuacMetricsSnapshot {
    return {
      kemOperations: this.kem.snapshot(),
      signOperations: this.sign.snapshot(),
      kemLatencySeconds: this.kemLatency.snapshot(),
      signLatencySeconds: this.signLatency.snapshot(),
      batchSizes: this.batchSizes.snapshot(),
      deviceCalls: this.deviceCalls,
      deviceOperations: this.deviceOperations,
      softwareFallbacks: this.fallbacks.snapshot(),
      deviceErrors: this.errors.snapshot(),
      keyPoolAvailable,
      keyPoolGenerated: this.keyPoolGenerated,
      keyPoolTaken: this.keyPoolTaken,
      devices,
    };
  }
}

/** The health fields a device snapshot carries. */
export function healthFields(h: QuacHealth | undefined): Pick<DeviceSnapshot, 'temperatureCelsius' | 'entropyAvailableBits' | 'healthStatus'> {
  return h ? { temperatureCelsius: h.temperatureCelsius, entropyAvailableBits: h.entropyAvailableBits, healthStatus: h.status } : {};
}

// ---- Prometheus text exposition (https://prometheus.io/docs/instrumenting/exposition_formats/) ----

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function labelText(labels: Readonly<Record<string, string>>): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

function num(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function family(out: string[], name: string, type: 'counter' | 'gauge' | 'histogram', help: string): void {
  out.push(`# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${name} ${type}`);
}

function samples(out: string[], name: string, values: readonly LabelledCount[]): void {
  for (const v of values) out.push(`${name}${labelText(v.labels)} ${num(v.value)}`);
}

function histogram(out: string[], name: string, help: string, h: HistogramSnapshot): void {
  family(out, name, 'histogram', help);
  h.bounds.forEach((b, i) => out.push(`${name}_bucket{le="${num(b)}"} ${num(h.counts[i] ?? 0)}`));
  out.push(`${name}_bucket{le="+Inf"} ${num(h.count)}`, `${name}_sum ${num(h.sum)}`, `${name}_count ${num(h.count)}`);
}

/** The snapshot in the Prometheus text format, one metric family per block, ending in a newline. */
export function prometheusText(m: QuacMetricsSnapshot): string {
  const out: string[] = [];
  family(out, 'quac_kem_operations_total', 'counter', 'ML-KEM operations, by operation and algorithm.');
  samples(out, 'quac_kem_operations_total', m.kemOperations);
  family(out, 'quac_sign_operations_total', 'counter', 'ML-DSA operations, by operation and algorithm.');
  samples(out, 'quac_sign_operations_total', m.signOperations);
  histogram(out, 'quac_kem_latency_seconds', 'Latency of ML-KEM operations as the caller saw it, queueing included.', m.kemLatencySeconds);
  histogram(out, 'quac_sign_latency_seconds', 'Latency of ML-DSA operations as the caller saw it, queueing included.', m.signLatencySeconds);
  histogram(out, 'quac_batch_size', 'Operations per batch sent to a device.', m.batchSizes);
  family(out, 'quac_device_calls_total', 'counter', 'Calls into QUAC devices (a batch is one call).');
  out.push(`quac_device_calls_total ${num(m.deviceCalls)}`);
  family(out, 'quac_device_operations_total', 'counter', 'Operations carried by calls into QUAC devices.');
  out.push(`quac_device_operations_total ${num(m.deviceOperations)}`);
  family(out, 'quac_software_fallbacks_total', 'counter', 'Operations routed to the software provider because no device was usable.');
  samples(out, 'quac_software_fallbacks_total', m.softwareFallbacks);
  family(out, 'quac_device_errors_total', 'counter', 'Failed device results, by QUAC result name.');
  samples(out, 'quac_device_errors_total', m.deviceErrors);
  family(out, 'quac_key_pool_available', 'gauge', 'Pre-generated ML-KEM key pairs waiting, by algorithm.');
  samples(out, 'quac_key_pool_available', m.keyPoolAvailable);
  family(out, 'quac_device_up', 'gauge', '1 if the device is in the rotation.');
  samples(out, 'quac_device_up', m.devices.map((d) => ({ labels: { device: String(d.index), state: d.state }, value: d.state === 'active' ? 1 : 0 })));
  family(out, 'quac_device_in_flight', 'gauge', 'Operations in flight on the device.');
  samples(out, 'quac_device_in_flight', m.devices.map((d) => ({ labels: { device: String(d.index) }, value: d.inFlight })));
  family(out, 'quac_device_temperature_celsius', 'gauge', 'Device temperature at the last health poll.');
  samples(out, 'quac_device_temperature_celsius', m.devices.flatMap((d) =>
    d.temperatureCelsius === undefined ? [] : [{ labels: { device: String(d.index) }, value: d.temperatureCelsius }]));
  family(out, 'quac_entropy_available_bits', 'gauge', 'QRNG entropy available at the last health poll.');
  samples(out, 'quac_entropy_available_bits', m.devices.flatMap((d) =>
    d.entropyAvailableBits === undefined ? [] : [{ labels: { device: String(d.index) }, value: d.entropyAvailableBits }]));
  return `${out.join('\n')}\n`;
}
