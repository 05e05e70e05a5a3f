import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { deviceConformance, expectQuacError } from './device-conformance.js';
import { emulatedQuacLibrary, type EmulatedQuacOptions } from '../../src/hw/quac100/emulated.js';
import { VirtualClock } from '../../src/hw/quac100/clock.js';
import { QuacAlgorithm, QuacHealthStatus, QuacResult } from '../../src/hw/quac100/device.js';
import { KAT_DIGESTS, dsaKnownAnswers, kemKnownAnswers, runKnownAnswerTests } from '../../src/hw/quac100/self-test.js';
import { seededRandom } from '../../src/testing/random.js';
import { ml_kem768, ml_kem1024 } from '@noble/post-quantum/ml-kem.js';
import { ml_dsa87 } from '@noble/post-quantum/ml-dsa.js';

const make = (o: EmulatedQuacOptions = {}) => emulatedQuacLibrary({ clock: new VirtualClock(), random: seededRandom('emulated quac'), ...o });

deviceConformance('EmulatedQuac100', () => make());

async function openOne(o: EmulatedQuacOptions = {}, fips = false) {
  const clock = new VirtualClock();
  const lib = make({ clock, ...o });
  await lib.init({ fips });
  const dev = await lib.open(0);
  return { clock, lib, dev };
}

describe('EmulatedQuac100: the arithmetic is noble\'s, the randomness the injected QRNG\'s', () => {
  it('with a seeded QRNG every output equals noble run on the same random bytes (FIPS 203 KeyGen/Encaps, FIPS 204 KeyGen/hedged Sign)', async () => {
    const { dev } = await openOne({ random: seededRandom('qrng twin') });
    const twin = seededRandom('qrng twin');
    const kp = await dev.kemKeygen(QuacAlgorithm.KYBER1024);
    expect(kp).toEqual(ml_kem1024.keygen(twin(64)));
    const enc = await dev.kemEncaps(QuacAlgorithm.KYBER1024, kp.publicKey);
    const want = ml_kem1024.encapsulate(kp.publicKey, twin(32));
    expect(enc).toEqual({ ciphertext: want.cipherText, sharedSecret: want.sharedSecret });
    const key = await dev.signKeygenStored(QuacAlgorithm.DILITHIUM5, 'twin', false);
    const dsa = ml_dsa87.keygen(twin(32));
    expect(key.publicKey).toEqual(dsa.publicKey);
    const msg = new Uint8Array([1, 2, 3]);
    expect(await dev.signStored(key.handle, msg)).toEqual(ml_dsa87.sign(msg, dsa.secretKey, { extraEntropy: twin(32) }));
    expect(await dev.signStored(key.handle, msg, { deterministic: true })).toEqual(ml_dsa87.sign(msg, dsa.secretKey, { extraEntropy: false }));
    expect(await dev.randomBytes(100)).toEqual(twin(100));
  });
});

describe('EmulatedQuac100: the service model (FIFO queue, rate, batching) in virtual time', () => {
  it('N ML-KEM-768 encapsulations queued at once finish at N / rate, in arrival order', async () => {
    const { clock, dev } = await openOne({ rate: 20_000, latencyMs: 0 });
    const pk = ml_kem768.keygen(new Uint8Array(64)).publicKey;
    const done: number[] = [];
    const t0 = clock.now();
    await Promise.all(Array.from({ length: 200 }, (_, i) => dev.kemEncaps(QuacAlgorithm.KYBER768, pk).then(() => done.push(i))));
    expect(clock.now() - t0).toBeCloseTo((200 / 20_000) * 1000, 9);
    expect(done).toEqual([...done].sort((a, b) => a - b));
  });

  it('a single call takes 1 / rate plus the latency; one arriving at a busy engine waits its turn', async () => {
    const { clock, dev } = await openOne({ rate: 1000, latencyMs: 0.25 });
    const pk = ml_kem768.keygen(new Uint8Array(64)).publicKey;
    const t0 = clock.now();
    await dev.kemEncaps(QuacAlgorithm.KYBER768, pk);
    expect(clock.now() - t0).toBeCloseTo(1 + 0.25, 9);
    const t1 = clock.now();
    const ends: number[] = [];
    await Promise.all([0, 1, 2].map(() => dev.kemEncaps(QuacAlgorithm.KYBER768, pk).then(() => ends.push(clock.now() - t1))));
    expect(ends.map((e) => Number(e.toFixed(6)))).toEqual([1.25, 2.25, 3.25]);
  });

  it('other operations cost their documented relative weight (ML-DSA-65 signing = 7 encapsulations of compute)', async () => {
    const { clock, dev } = await openOne({ rate: 1000, latencyMs: 0, callOverhead: 0.3 });
    const key = await dev.signKeygenStored(QuacAlgorithm.DILITHIUM3, 'cost', false);
    const t0 = clock.now();
    await dev.signStored(key.handle, new Uint8Array(8));
    expect(clock.now() - t0).toBeCloseTo(0.3 + 7 * 0.7, 9);
  });

  it('a batch is one job paying the per-call overhead once: n items take n/rate − (n−1)·overhead', async () => {
    const { clock, dev } = await openOne({ rate: 10_000, latencyMs: 0, callOverhead: 0.3 });
    const pk = ml_kem768.keygen(new Uint8Array(64)).publicKey;
    const items = Array.from({ length: 100 }, () => ({ op: 'kem-encaps' as const, alg: QuacAlgorithm.KYBER768, publicKey: pk }));
    const t0 = clock.now();
    const r = await dev.batchExecute(items);
    const ms = 100 * 0.1 - 99 * 0.03;
    expect(clock.now() - t0).toBeCloseTo(ms, 9);
    expect(r.totalTimeUs).toBe(Math.round(ms * 1000));
    expect(r.completed).toBe(100);
    // Singly, the same work takes the full 100/rate.
    const t1 = clock.now();
    await Promise.all(items.map((i) => dev.kemEncaps(i.alg, i.publicKey)));
    expect(clock.now() - t1).toBeCloseTo(10, 9);
  });

  it('items past the batch timeout are not run and report TIMEOUT', async () => {
    const { dev } = await openOne({ rate: 1000, latencyMs: 0, callOverhead: 0 });
    const r = await dev.batchExecute(Array.from({ length: 5 }, () => ({ op: 'kem-keygen' as const, alg: QuacAlgorithm.KYBER512 })), { timeoutMs: 1.9 });
    // ML-KEM-512 keygen weighs 0.6: items end at 0.6, 1.2, 1.8, 2.4, 3.0 ms.
    expect(r.items.map((i) => i.result)).toEqual([0, 0, 0, QuacResult.TIMEOUT, QuacResult.TIMEOUT]);
    expect([r.completed, r.failed, r.totalTimeUs]).toEqual([3, 2, 1800]);
  });

  it('the queue is bounded: past maxQueue the card answers BUSY', async () => {
    const { dev } = await openOne({ maxQueue: 3 });
    const calls = Array.from({ length: 5 }, () => dev.randomBytes(4).then(() => 'ok', (e: { resultName: string }) => e.resultName));
    expect(await Promise.all(calls)).toEqual(['ok', 'ok', 'ok', 'BUSY', 'BUSY']);
    // Requests to a card that stopped answering hold their slots until they time out.
    dev.inject('timeout');
    const hung = Array.from({ length: 4 }, () => dev.randomBytes(4).then(() => 'ok', (e: { resultName: string }) => e.resultName));
    expect(await Promise.all(hung)).toEqual(['TIMEOUT', 'TIMEOUT', 'TIMEOUT', 'BUSY']);
  });
});

describe('EmulatedQuac100: fault injection', () => {
  it("fail: 'next' fails one operation with the given code; fail: n the next n, batch items included", async () => {
    const { dev } = await openOne();
    dev.inject({ fail: 'next', code: QuacResult.INTERNAL });
    await expectQuacError(dev.randomBytes(8), 'INTERNAL');
    expect((await dev.randomBytes(8)).length).toBe(8);
    dev.inject({ fail: 2, code: QuacResult.BUSY });
    const r = await dev.batchExecute([0, 1, 2].map(() => ({ op: 'kem-keygen' as const, alg: QuacAlgorithm.KYBER512 })));
    expect(r.items.map((i) => i.result)).toEqual([QuacResult.BUSY, QuacResult.BUSY, QuacResult.SUCCESS]);
    dev.inject({ fail: 5, code: QuacResult.INTERNAL });
    dev.clear('fail');
    await dev.randomBytes(1);
  });

  it('timeout: the card stops answering; calls reject with TIMEOUT after the configured timeout, queued ones included', async () => {
    const { clock, dev } = await openOne({ timeoutMs: 250, rate: 1000, latencyMs: 0 });
    const queued = dev.randomBytes(8); // served at t = 0.05 ms, after the hang below
    dev.inject({ timeout: true });
    const t0 = clock.now();
    await expectQuacError(dev.kemKeygen(QuacAlgorithm.KYBER768), 'TIMEOUT');
    expect(clock.now() - t0).toBe(250);
    await expectQuacError(queued, 'TIMEOUT');
    await expectQuacError(dev.health(), 'TIMEOUT');
    dev.clear('timeout');
    expect((await dev.randomBytes(8)).length).toBe(8);
  });

  it('overheat: status OVER_TEMPERATURE and every operation fails with OVER_TEMPERATURE until cleared', async () => {
    const { dev } = await openOne();
    dev.inject('overheat');
    const h = await dev.health();
    expect(h.status).toBe(QuacHealthStatus.OVER_TEMPERATURE);
    expect(h.temperatureCelsius).toBeGreaterThanOrEqual(90);
    await expectQuacError(dev.kemKeygen(QuacAlgorithm.KYBER768), 'OVER_TEMPERATURE');
    await expectQuacError(dev.randomBytes(1), 'OVER_TEMPERATURE');
    dev.clear('overheat');
    expect((await dev.health()).status).toBe(QuacHealthStatus.OK);
    await dev.kemKeygen(QuacAlgorithm.KYBER768);
  });

  it('entropyLow: randomBytes and every operation that needs randomness fail with ENTROPY_LOW; the rest work', async () => {
    const { dev } = await openOne();
    const kp = await dev.kemKeygen(QuacAlgorithm.KYBER768);
    const key = await dev.signKeygenStored(QuacAlgorithm.DILITHIUM2, 'e', false);
    dev.inject({ entropyLow: true });
    const h = await dev.health();
    expect([h.status, h.entropyAvailableBits]).toEqual([QuacHealthStatus.ENTROPY_LOW, 0]);
    await expectQuacError(dev.randomBytes(1), 'ENTROPY_LOW');
    await expectQuacError(dev.kemKeygen(QuacAlgorithm.KYBER768), 'ENTROPY_LOW');
    await expectQuacError(dev.kemEncaps(QuacAlgorithm.KYBER768, kp.publicKey), 'ENTROPY_LOW');
    await expectQuacError(dev.signStored(key.handle, new Uint8Array(1)), 'ENTROPY_LOW');
    const c = ml_kem768.encapsulate(kp.publicKey, new Uint8Array(32).fill(7));
    expect(await dev.kemDecaps(QuacAlgorithm.KYBER768, c.cipherText, kp.secretKey)).toEqual(c.sharedSecret);
    expect((await dev.signStored(key.handle, new Uint8Array(1), { deterministic: true })).length).toBe(2420);
    dev.clear('entropyLow');
    expect((await dev.randomBytes(4)).length).toBe(4);
  });

  it('disappear: DEVICE_REMOVED for every call, those in flight included; the card is gone from the library', async () => {
    const { lib, dev } = await openOne({ rate: 100 });
    const inFlight = [dev.kemKeygen(QuacAlgorithm.KYBER1024), dev.randomBytes(32)];
    dev.inject({ disappear: true });
    for (const p of inFlight) await expectQuacError(p, 'DEVICE_REMOVED');
    await expectQuacError(dev.randomBytes(1), 'DEVICE_REMOVED');
    await expectQuacError(dev.health(), 'DEVICE_REMOVED');
    expect(await lib.deviceCount()).toBe(0);
    await expectQuacError(lib.open(0), 'DEVICE_NOT_FOUND');
  });

  it('selfTestFailure: selfTest fails and the card is never usable again', async () => {
    const { lib, dev } = await openOne();
    dev.inject({ selfTestFailure: true });
    await dev.randomBytes(1); // outside FIPS mode nothing has run the KATs yet
    await expectQuacError(dev.selfTest(), 'SELF_TEST_FAILED');
    await expectQuacError(dev.randomBytes(1), 'SELF_TEST_FAILED');
    expect((await dev.health()).status).toBe(QuacHealthStatus.SELF_TEST_FAILED);
    await expectQuacError(lib.open(0), 'SELF_TEST_FAILED');
  });

  it('selfTestFailure in FIPS mode: init fails before any device is used, and so does open', async () => {
    const lib = make();
    lib.inject(0, { selfTestFailure: true });
    await expectQuacError(lib.init({ fips: true }), 'SELF_TEST_FAILED');
    await expectQuacError(lib.open(0), 'NOT_INITIALIZED');

    const lib2 = make();
    await lib2.init({ fips: true });
    lib2.inject(0, { selfTestFailure: true });
    await expectQuacError(lib2.open(0), 'SELF_TEST_FAILED');
  });
});

describe('EmulatedQuac100: bounded key storage', () => {
  it('a full key store answers OUT_OF_MEMORY until a key is destroyed; labels are at most 64 bytes', async () => {
    const { dev } = await openOne({ maxStoredKeys: 2 });
    const a = await dev.kemKeygenStored(QuacAlgorithm.KYBER512, 'a', false);
    await dev.kemKeygenStored(QuacAlgorithm.KYBER512, 'b', true);
    await expectQuacError(dev.kemKeygenStored(QuacAlgorithm.KYBER512, 'c', false), 'OUT_OF_MEMORY');
    await dev.keyDestroy(a.handle);
    await dev.kemKeygenStored(QuacAlgorithm.KYBER512, 'x'.repeat(64), false);
    await expectQuacError(dev.kemKeygenStored(QuacAlgorithm.KYBER512, 'x'.repeat(65), false), 'INVALID_PARAMETER');
    await expectQuacError(dev.keyFind('é'.repeat(33)), 'INVALID_PARAMETER');
  });
});

describe('EmulatedQuac100: every failure is a QuacError', () => {
  it('a failing QRNG source or clock surfaces as INTERNAL, never as another exception type', async () => {
    const { dev } = await openOne({ random: () => { throw new Error('qrng broken'); } });
    const e = await expectQuacError(dev.randomBytes(8), 'INTERNAL');
    expect(e.message).toContain('qrng broken');
    const broken = { now: () => 0, sleep: () => Promise.reject(new Error('timer broken')) };
    const lib = make({ clock: broken });
    await lib.init({});
    const dev2 = await lib.open(0);
    await expectQuacError(dev2.randomBytes(8), 'INTERNAL');
    await expectQuacError(dev2.health(), 'INTERNAL');
  });
});

describe('EmulatedQuac100: entropy and heat', () => {
  it('the QRNG pool drains with use, fails below its threshold and refills with time', async () => {
    const { clock, dev } = await openOne({ entropy: { capacityBits: 8192, refillBitsPerSecond: 1000, lowThresholdBits: 1024 }, latencyMs: 0 });
    expect((await dev.health()).entropyAvailableBits).toBe(8192);
    await dev.randomBytes(512); // 4096 bits
    expect((await dev.health()).entropyAvailableBits).toBeLessThanOrEqual(4096 + 1);
    await dev.randomBytes(350); // 2800 bits: about 1300 left
    await expectQuacError(dev.randomBytes(128), 'ENTROPY_LOW'); // would leave less than 1024
    await expectQuacError(dev.kemKeygen(QuacAlgorithm.KYBER768), 'ENTROPY_LOW'); // its 64-byte seed too
    expect((await dev.health()).status).toBe(QuacHealthStatus.ENTROPY_LOW);
    await clock.sleep(2000); // +2000 bits: about 3300
    expect((await dev.randomBytes(128)).length).toBe(128);
  });

  it('temperature rises under sustained load and falls back towards ambient when idle', async () => {
    const { clock, dev } = await openOne({ rate: 1000, latencyMs: 0, thermal: { ambientC: 30, fullLoadRiseC: 40, timeConstantS: 1, limitC: 90 } });
    expect((await dev.health()).temperatureCelsius).toBeCloseTo(30, 6);
    await Promise.all(Array.from({ length: 2000 }, () => dev.randomBytes(1))); // ~0.06 ms each: 120 ms of full load
    const hot = (await dev.health()).temperatureCelsius;
    expect(hot).toBeGreaterThan(33);
    await clock.sleep(10_000);
    const cool = (await dev.health()).temperatureCelsius;
    expect(cool).toBeLessThan(hot);
    expect(cool).toBeCloseTo(30, 2);
  });

  it('a card driven past its limit refuses work with OVER_TEMPERATURE until it cools', async () => {
    const { clock, dev } = await openOne({ rate: 1000, latencyMs: 0, thermal: { ambientC: 80, fullLoadRiseC: 40, timeConstantS: 0.05, limitC: 90 } });
    const key = await dev.signKeygenStored(QuacAlgorithm.DILITHIUM5, 'hot', false);
    await Promise.all(Array.from({ length: 20 }, () => dev.signStored(key.handle, new Uint8Array(1)).catch(() => undefined)));
    expect((await dev.health()).status).toBe(QuacHealthStatus.OVER_TEMPERATURE);
    await expectQuacError(dev.randomBytes(1), 'OVER_TEMPERATURE');
    await clock.sleep(1000);
    expect((await dev.randomBytes(1)).length).toBe(1);
  });
});

describe('EmulatedQuac100: FIPS 203/204 known-answer self-tests', () => {
  const file = JSON.parse(readFileSync(new URL('../../test-vectors/quac100/kat-digests.json', import.meta.url), 'utf8')) as {
    kem: Record<string, Record<string, string>>;
    dsa: Record<string, Record<string, string>>;
  };

  it('the digests the card compares against are the committed test vectors', () => {
    for (const [id, want] of Object.entries(file.kem)) {
      const { name: _, ...digests } = want;
      expect(KAT_DIGESTS.kem[Number(id)]).toEqual(digests);
    }
    for (const [id, want] of Object.entries(file.dsa)) {
      const { name: _, ...digests } = want;
      expect(KAT_DIGESTS.dsa[Number(id)]).toEqual(digests);
    }
    expect(Object.keys(file.kem)).toHaveLength(3);
    expect(Object.keys(file.dsa)).toHaveLength(3);
  });

  it('noble reproduces every digest, and a corrupted engine fails every check', () => {
    expect(kemKnownAnswers(QuacAlgorithm.KYBER768)).toEqual(KAT_DIGESTS.kem[QuacAlgorithm.KYBER768]);
    expect(dsaKnownAnswers(QuacAlgorithm.DILITHIUM3)).toEqual(KAT_DIGESTS.dsa[QuacAlgorithm.DILITHIUM3]);
    expect(runKnownAnswerTests()).toEqual([]);
    expect(runKnownAnswerTests((d) => d.replace(/^./, (c) => (c === 'f' ? '0' : 'f')))).toHaveLength(3 * 5 + 3 * 3);
  });
});
