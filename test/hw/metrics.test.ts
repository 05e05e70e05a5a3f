/**
 * provider.metrics() as plain data and its Prometheus text exposition (format
 * 0.0.4, https://prometheus.io/docs/instrumenting/exposition_formats/), checked
 * by a parser written to the format's grammar: HELP/TYPE before samples, one
 * TYPE per family, metric and label names, escaped label values, float values,
 * and histograms whose buckets are cumulative and end in le="+Inf" = _count.
 */
import { describe, expect, it } from 'vitest';
import { prometheusText, type QuacMetricsSnapshot } from '../../src/hw/quac100/metrics.js';
import { createNobleProvider } from '../../src/pq/index.js';
import { seededRandom } from '../../src/testing/index.js';
import { connectPair, pinnedKeyVerifier, testKey } from '../helpers/tls-pair.js';
import { quacFixture } from './quac-fixture.js';

interface Sample { readonly name: string; readonly labels: Record<string, string>; readonly value: number }
interface Family { type: string; help: string; samples: Sample[] }

/** Parses the text format strictly; throws on any line the grammar does not allow. */
function parsePrometheus(text: string): Map<string, Family> {
  if (!text.endsWith('\n')) throw new Error('exposition must end with a newline');
  const families = new Map<string, Family>();
  const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
  const familyOf = (sample: string): Family | undefined => {
    for (const suffix of ['', '_bucket', '_sum', '_count']) {
      if (suffix && !sample.endsWith(suffix)) continue;
      const f = families.get(sample.slice(0, sample.length - suffix.length));
      if (f && (suffix === '' || f.type === 'histogram')) return f;
    }
    return undefined;
  };
  for (const line of text.slice(0, -1).split('\n')) {
    let m: RegExpMatchArray | null;
    if ((m = line.match(/^# HELP ([^ ]+) (.*)$/))) {
      if (!NAME.test(m[1] as string)) throw new Error(`bad name in ${line}`);
      if (families.has(m[1] as string)) throw new Error(`HELP twice or after samples: ${line}`);
      families.set(m[1] as string, { type: 'untyped', help: m[2] as string, samples: [] });
    } else if ((m = line.match(/^# TYPE ([^ ]+) (counter|gauge|histogram|summary|untyped)$/))) {
      const f = families.get(m[1] as string);
      if (!f || f.type !== 'untyped' || f.samples.length) throw new Error(`TYPE out of place: ${line}`);
      f.type = m[2] as string;
    } else if ((m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/))) {
      const labels: Record<string, string> = {};
      let rest = m[2] ?? '';
      while (rest.length) {
        const lm = rest.match(/^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/);
        if (!lm) throw new Error(`bad labels in ${line}`);
        labels[lm[1] as string] = (lm[2] as string).replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
        rest = rest.slice(lm[0].length);
      }
      const raw = m[3] as string;
      const value = raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : raw === 'NaN' ? NaN : Number(raw);
      if (raw !== 'NaN' && Number.isNaN(value)) throw new Error(`bad value in ${line}`);
      const f = familyOf(m[1] as string);
      if (!f) throw new Error(`sample without HELP/TYPE: ${line}`);
      f.samples.push({ name: m[1] as string, labels, value });
    } else {
      throw new Error(`unparseable line: ${JSON.stringify(line)}`);
    }
  }
  for (const [name, f] of families) {
    if (f.type !== 'histogram') continue;
    const buckets = f.samples.filter((s) => s.name === `${name}_bucket`);
    const les = buckets.map((b) => (b.labels['le'] === '+Inf' ? Infinity : Number(b.labels['le'])));
    for (let i = 1; i < buckets.length; i++) {
      if (!((les[i] as number) > (les[i - 1] as number))) throw new Error(`${name}: le not increasing`);
      if ((buckets[i] as Sample).value < (buckets[i - 1] as Sample).value) throw new Error(`${name}: buckets not cumulative`);
    }
    const count = f.samples.find((s) => s.name === `${name}_count`);
    if (les[les.length - 1] !== Infinity || !count || buckets[buckets.length - 1]?.value !== count.value) throw new Error(`${name}: +Inf bucket != _count`);
    if (!f.samples.some((s) => s.name === `${name}_sum`)) throw new Error(`${name}: no _sum`);
  }
  return families;
}

describe('metrics and their Prometheus exposition', () => {
  it('after real handshakes: counts, latency and batch histograms, device health, all parseable', async () => {
    const { quac } = await quacFixture({ devices: 2, provider: { batch: { maxSize: 8, maxWaitMs: 1 } } });
    const key = await testKey(quac, 'ml-dsa-65');
    await Promise.all([0, 1, 2].map((i) => connectPair(
      { provider: createNobleProvider({ random: seededRandom(`m${i}`) }), verifier: pinnedKeyVerifier(key), groups: ['SecP256r1MLKEM768'] },
      { provider: quac, certificate: { chain: [key.publicKey], ...key }, groups: ['SecP256r1MLKEM768'] },
    )));
    await quac.pollHealth();
    const m: QuacMetricsSnapshot = quac.metrics();
    // Plain data: survives a JSON round trip unchanged.
    expect(JSON.parse(JSON.stringify(m))).toEqual(m);
    expect(m.kemOperations).toEqual([{ labels: { operation: 'encaps', algorithm: 'ML-KEM-768' }, value: 3 }]);
    expect(m.signOperations).toEqual([{ labels: { operation: 'sign', algorithm: 'ml-dsa-65' }, value: 3 }]);
    expect(m.kemLatencySeconds.count).toBe(3);
    expect(m.devices.every((d) => typeof d.temperatureCelsius === 'number' && typeof d.entropyAvailableBits === 'number')).toBe(true);

    const fam = parsePrometheus(prometheusText(m));
    const value = (name: string, labels: Record<string, string> = {}) =>
      fam.get(name)?.samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
    expect(fam.get('quac_kem_operations_total')?.type).toBe('counter');
    expect(value('quac_kem_operations_total', { operation: 'encaps', algorithm: 'ML-KEM-768' })).toBe(3);
    expect(value('quac_sign_operations_total', { operation: 'sign' })).toBe(3);
    expect(fam.get('quac_kem_latency_seconds')?.type).toBe('histogram');
    expect(fam.get('quac_kem_latency_seconds')?.samples.find((s) => s.name === 'quac_kem_latency_seconds_count')?.value).toBe(3);
    expect(fam.get('quac_batch_size')?.type).toBe('histogram');
    expect(value('quac_device_calls_total')).toBe(m.deviceCalls);
    expect(value('quac_device_temperature_celsius', { device: '0' })).toBe(m.devices[0]?.temperatureCelsius);
    expect(value('quac_entropy_available_bits', { device: '1' })).toBe(m.devices[1]?.entropyAvailableBits);
    expect(fam.get('quac_software_fallbacks_total')?.type).toBe('counter');
  });

  it('label values are escaped (backslash, quote, newline) and the parser reads them back', () => {
    const empty = { bounds: [1], counts: [0], sum: 0, count: 0 };
    const m: QuacMetricsSnapshot = {
      kemOperations: [], signOperations: [], kemLatencySeconds: empty, signLatencySeconds: empty, batchSizes: { bounds: [1, 2], counts: [1, 3], sum: 5, count: 4 },
      deviceCalls: 0, deviceOperations: 0, softwareFallbacks: [{ labels: { operation: 'we"ird\\op\nx' }, value: 2 }], deviceErrors: [],
      keyPoolAvailable: [], keyPoolGenerated: 0, keyPoolTaken: 0, devices: [],
    };
    const text = prometheusText(m);
    expect(text).toContain('quac_software_fallbacks_total{operation="we\\"ird\\\\op\\nx"} 2');
    const fam = parsePrometheus(text);
    expect(fam.get('quac_software_fallbacks_total')?.samples[0]?.labels['operation']).toBe('we"ird\\op\nx');
    expect(fam.get('quac_batch_size')?.samples.map((s) => s.value)).toEqual([1, 3, 4, 5, 4]);
  });

  it('histogram buckets are configurable (the metrics option), and nonsense bounds are refused', async () => {
    const { quac } = await quacFixture({ provider: { metrics: { latencyBucketsSeconds: [0.001, 0.01], batchSizeBuckets: [1, 10] } } });
    await quac.random(4);
    const m = quac.metrics();
    expect([m.kemLatencySeconds.bounds, m.batchSizes.bounds]).toEqual([[0.001, 0.01], [1, 10]]);
    await expect(quacFixture({ provider: { metrics: { batchSizeBuckets: [4, 2] } } })).rejects.toThrow(/strictly increasing/);
  });

  it('the parser rejects what the format forbids (so the checks above can fail)', () => {
    expect(() => parsePrometheus('x 1\n')).toThrow(/without HELP/);
    expect(() => parsePrometheus('# HELP h x\n# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 0\nh_count 1\n')).toThrow(/cumulative/);
    expect(() => parsePrometheus('# HELP c x\n# TYPE c counter\nc{a="unterminated} 1\n')).toThrow(/bad labels/);
  });
});
