/**
 * A software QUAC 100: the C API's behaviour (quac100.h) on noble's ML-KEM
 * and ML-DSA, for tests, demos and benchmarks where no card is at hand. It
 * models what a server built on the card has to cope with: keys that never
 * leave the device, a single engine with a FIFO queue and a finite rate, a QRNG
 * whose entropy runs out, heat, and faults injected on demand.
 *
 * The model, in one place:
 * - Time. One ML-KEM-768 operation occupies the engine for `1 / rate` seconds
 *   (default rate 20,000/s, the card's claimed key exchanges per second). Of
 *   that, a fraction `callOverhead` (default 0.3) is per-call overhead
 *   (command setup, DMA descriptors, completion interrupt) and the rest
 *   compute; other operations scale the compute part by
 *   {@link EMULATED_RELATIVE_COST}. A call is served when the engine is free,
 *   in arrival order, and answered `latencyMs` later (the bus round trip,
 *   which does not occupy the engine). A batch is one queued job that pays the
 *   overhead once: its time is the sum of its items' single-call times minus
 *   (n − 1) overheads, so batching raises throughput by up to
 *   1 / (1 − callOverhead) as on a card whose per-call cost is not compute.
 *   Deadlines are absolute (the engine is busy until t), so imprecise timers
 *   add latency but never lower throughput. The arithmetic itself runs on the
 *   host (noble) when a job completes: on real timers throughput is the
 *   lesser of the modelled rate and what noble manages on the host CPU; on a
 *   {@link VirtualClock} it is the modelled rate.
 * - Entropy. The QRNG pool holds up to `entropy.capacityBits` and refills at
 *   `entropy.refillBitsPerSecond`; every random byte drawn (randomBytes, a
 *   key generation seed, an encapsulation message, a hedged signature's rnd)
 *   takes 8 bits. A draw that would leave less than `entropy.lowThresholdBits`
 *   fails with ENTROPY_LOW. The bytes themselves come from the injected
 *   RandomSource: the accounting models availability, not quality.
 * - Heat. The card relaxes towards ambient + utilisation × `fullLoadRiseC`
 *   with time constant `timeConstantS` (Newton cooling); at `limitC` it
 *   refuses work with OVER_TEMPERATURE until it has cooled.
 * - Storage. A card's stored keys belong to the library object (the card's
 *   flash): persistent keys survive close, shutdown and re-init of that
 *   object; session keys belong to the device handle that made them and vanish
 *   when it closes. No key is ever extractable. Handles are never reused.
 *   With a `storage` (card-state.ts) the flash outlives the process: the
 *   persistent keys and the handle counter are loaded when the library object
 *   is made and saved on every persistent key's creation and destruction (so
 *   after a restart a handle may come back only if it named a session key,
 *   which died with its process; never a persistent key's).
 * - FIPS mode (`init({ fips: true })`): the known-answer self-tests
 *   (self-test.ts) run at init and at every open; a card that fails is in the
 *   error state for good (every call SELF_TEST_FAILED) — it is never used.
 *   The module's approved-mode policy (this project's choice, FIPS 140-3 lets
 *   a module's security policy narrow the approved services): ML-DSA signing
 *   is hedged only (FIPS 204 §3.4 recommends it; deterministic signing is
 *   refused with FIPS_NOT_APPROVED), and a stored key generated outside FIPS
 *   mode is not used in FIPS mode (FIPS_NOT_APPROVED).
 */
import { systemRandom, type RandomSource } from '../../pq/random.js';
import { quacKem, quacSign, type QuacKemParameters, type QuacSignParameters } from './algorithms.js';
import { realClock, type QuacClock, type VirtualClock } from './clock.js';
import {
  QuacError, QuacHealthStatus, QuacResult,
  type QuacAlgorithmId, type QuacBatchItem, type QuacBatchItemResult, type QuacBatchOptions, type QuacBatchResult,
  type QuacDevice, type QuacHealth, type QuacKeyAttributes, type QuacKeyHandle, type QuacLibrary, type QuacSignOptions, type QuacStoredKey,
} from './device.js';
import { DSA_IMPL, KEM_IMPL, runKnownAnswerTests } from './self-test.js';
import { decodeCardState, encodeCardState, type EmulatedQuacStorage, type PersistedCard } from './card-state.js';

/**
 * Compute cost of each operation relative to an ML-KEM-768 encapsulation,
 * rounded from the published AVX2 cycle counts of the CRYSTALS reference
 * implementations (Kyber768 encaps ≈ 40 k cycles; Dilithium3 sign ≈ 280 k).
 * A model weight, not a measurement of any card.
 */
export const EMULATED_RELATIVE_COST = {
  kem: {
    'ML-KEM-512': { keygen: 0.6, encaps: 0.7, decaps: 0.6 },
    'ML-KEM-768': { keygen: 0.9, encaps: 1, decaps: 0.9 },
    'ML-KEM-1024': { keygen: 1.3, encaps: 1.4, decaps: 1.3 },
  },
  sign: {
    'ML-DSA-44': { keygen: 2, sign: 5, verify: 2 },
    'ML-DSA-65': { keygen: 3, sign: 7, verify: 3 },
    'ML-DSA-87': { keygen: 5, sign: 9, verify: 5 },
  },
  /** Key lookup, attributes, destroy, export refusal: a table access. */
  keyManagement: 0.05,
  /** randomBytes: a fixed part plus one unit per 8 KiB drawn. */
  randomFixed: 0.05,
  randomPerKiB: 0.125,
  /** The whole known-answer self-test. */
  selfTest: 40,
} as const;

export interface EmulatedQuacOptions {
  /** Cards in the slot (default 1). */
  readonly devices?: number;
  readonly clock?: QuacClock;
  /** The QRNG's output (default the platform CSPRNG); seed it for reproducible tests. */
  readonly random?: RandomSource;
  /** ML-KEM-768 operations per second one card serves (default 20,000). */
  readonly rate?: number;
  /** Share of a single call's time that is per-call overhead, saved by batching (default 0.3). */
  readonly callOverhead?: number;
  /** Bus round trip added to every answer, not occupying the engine (default 0.05 ms). */
  readonly latencyMs?: number;
  /** How long a call waits for a card that stopped answering before TIMEOUT (default 1000 ms). */
  readonly timeoutMs?: number;
  /** Requests queued on one card before it answers BUSY (default 4096). */
  readonly maxQueue?: number;
  /** Items one batch may hold (default 1024). */
  readonly maxBatchItems?: number;
  /** Stored keys one card holds before OUT_OF_MEMORY (default 1024). */
  readonly maxStoredKeys?: number;
  readonly entropy?: { readonly capacityBits?: number; readonly refillBitsPerSecond?: number; readonly lowThresholdBits?: number };
  readonly thermal?: { readonly ambientC?: number; readonly fullLoadRiseC?: number; readonly timeConstantS?: number; readonly limitC?: number };
  /**
   * The cards' flash across processes (persistent keys, handle counters); default none, so
   * persistent keys last as long as the library object. `fileQuacStorage(path)` in `pqtls/node` keeps it in a file.
   */
  readonly storage?: EmulatedQuacStorage;
}

/**
 * A fault to inject into a card. `fail: n` fails the next n operations with
 * `code` (each batch item counts as one; health is not an operation);
 * `fail: 'next'` is n = 1. `timeout`: the card stops answering — every call,
 * queued ones included, rejects with TIMEOUT `timeoutMs` after it was made.
 * `overheat`: health reports OVER_TEMPERATURE and every operation fails with
 * it. `entropyLow`: the QRNG reports no entropy, so randomBytes and every
 * operation that draws randomness fail with ENTROPY_LOW. `disappear`: the card
 * is removed — DEVICE_REMOVED for every call, those in flight at once, and
 * the library no longer lists it. `selfTestFailure`: the engine computes wrong
 * answers, so the next known-answer self-test fails (selfTest, and in FIPS
 * mode init and open) and the card is unusable from then on. A name alone is
 * the same as `{ name: true }`.
 */
export type EmulatedFault =
  | { readonly fail: 'next' | number; readonly code: number }
  | { readonly timeout: true }
  | { readonly overheat: true }
  | { readonly entropyLow: true }
  | { readonly disappear: true }
  | { readonly selfTestFailure: true }
  | 'timeout' | 'overheat' | 'entropyLow' | 'disappear' | 'selfTestFailure';

/** Faults that can be cleared (a removed card and a failed self-test are permanent). */
export type ClearableFault = 'fail' | 'timeout' | 'overheat' | 'entropyLow';

const MAX_LABEL_BYTES = 64;
const MAX_RANDOM_BYTES = 65536;
const MAX_CONTEXT = 255;
const OVERHEAT_REPORTED_MARGIN_C = 5;

interface StoredKey {
  readonly handle: QuacKeyHandle;
  readonly alg: QuacAlgorithmId;
  readonly label: string;
  readonly persistent: boolean;
  readonly publicKey: Uint8Array;
  readonly secretKey: Uint8Array;
  /** The device handle that owns a session key; undefined for persistent keys. */
  readonly session: number | undefined;
  readonly fipsGenerated: boolean;
}

interface Pending {
  readonly reject: (e: QuacError) => void;
}

const fail = (code: number, op: string, detail?: string): never => {
  throw new QuacError(code, op, detail);
};

function positive(v: number | undefined, fallback: number, name: string): number {
  const x = v ?? fallback;
  if (!Number.isFinite(x) || x < 0) throw new RangeError(`emulated QUAC 100: ${name} must be a finite number >= 0`);
  return x;
}

/** One physical card: its engine, queue, QRNG, heat, key storage and faults. Lives as long as the library object. */
class EmulatedCard {
  readonly keys = new Map<bigint, StoredKey>();
  private nextHandle = 0x1000n;
  removed = false;
  selfTestFailed = false;
  corrupted = false;
  hung = false;
  overheated = false;
  entropyStarved = false;
  private failCount = 0;
  private failCode: number = QuacResult.INTERNAL;
  operationsTotal = 0;
  private busyUntil: number;
  private scheduledBusyMs = 0;
  private queued = 0;
  readonly pending = new Set<Pending>();
  private entropyBits: number;
  private entropyAt: number;
  private temperature: number;
  private thermalAt: number;
  private busyAtThermal = 0;

  constructor(readonly index: number, private readonly o: Resolved) {
    const t = o.clock.now();
    this.busyUntil = t;
    this.entropyBits = o.entropyCapacity;
    this.entropyAt = t;
    this.temperature = o.ambientC;
    this.thermalAt = t;
  }

  newHandle(): QuacKeyHandle {
    return this.nextHandle++;
  }

  /** What the flash holds: the persistent keys and the handle counter. */
  persisted(): PersistedCard {
    const keys = [...this.keys.values()].filter((k) => k.persistent)
      .map(({ handle, alg, label, fipsGenerated, publicKey, secretKey }) => ({ handle, alg, label, fipsGenerated, publicKey, secretKey }));
    return { nextHandle: this.nextHandle, keys };
  }

  restore(state: PersistedCard): void {
    for (const k of state.keys) this.keys.set(k.handle, { ...k, persistent: true, session: undefined });
    if (state.nextHandle > this.nextHandle) this.nextHandle = state.nextHandle;
  }

  inject(f: EmulatedFault): void {
    const fault = typeof f === 'string' ? ({ [f]: true } as Exclude<EmulatedFault, string>) : f;
    if ('fail' in fault) {
      const n = fault.fail === 'next' ? 1 : fault.fail;
      if (!Number.isInteger(n) || n < 0) throw new RangeError('fail: a count >= 0 or "next"');
      if (fault.code >= 0) throw new RangeError('fail: the code must be a failure (< 0)');
      this.failCount = n;
      this.failCode = fault.code;
    } else if ('timeout' in fault) {
      this.hung = true;
    } else if ('overheat' in fault) {
      this.overheated = true;
    } else if ('entropyLow' in fault) {
      this.entropyStarved = true;
    } else if ('disappear' in fault) {
      this.removed = true;
      const err = new QuacError(QuacResult.DEVICE_REMOVED, 'quac100', 'the device was removed');
      for (const p of [...this.pending]) p.reject(err);
      this.pending.clear();
    } else {
      this.corrupted = true;
    }
  }

  clear(fault: ClearableFault): void {
    if (fault === 'fail') this.failCount = 0;
    else if (fault === 'timeout') this.hung = false;
    else if (fault === 'overheat') this.overheated = false;
    else this.entropyStarved = false;
  }

  /** Runs the KATs; a failure puts the card in the error state for good. */
  selfTest(): boolean {
    const failed = runKnownAnswerTests(this.corrupted ? (d) => (d.length > 0 ? (d[0] === '0' ? '1' : '0') + d.slice(1) : 'x') : undefined);
    if (failed.length > 0) this.selfTestFailed = true;
    return !this.selfTestFailed;
  }

  // ---- heat and entropy, advanced lazily to now ---------------------------

  private busyDoneBy(t: number): number {
    return this.scheduledBusyMs - Math.max(0, this.busyUntil - t);
  }

  temperatureC(): number {
    const t = this.o.clock.now();
    const dt = t - this.thermalAt;
    if (dt > 0) {
      const busy = this.busyDoneBy(t);
      const utilisation = Math.min(1, Math.max(0, (busy - this.busyAtThermal) / dt));
      const target = this.o.ambientC + utilisation * this.o.fullLoadRiseC;
      this.temperature = target + (this.temperature - target) * Math.exp(-dt / (this.o.timeConstantS * 1000));
      this.thermalAt = t;
      this.busyAtThermal = busy;
    }
    return this.overheated ? Math.max(this.temperature, this.o.limitC + OVERHEAT_REPORTED_MARGIN_C) : this.temperature;
  }

  entropyAvailable(): number {
    const t = this.o.clock.now();
    if (t > this.entropyAt) {
      this.entropyBits = Math.min(this.o.entropyCapacity, this.entropyBits + ((t - this.entropyAt) / 1000) * this.o.entropyRefill);
      this.entropyAt = t;
    }
    return this.entropyStarved ? 0 : Math.floor(this.entropyBits);
  }

  /** `length` bytes from the QRNG, or ENTROPY_LOW when the pool would drop below its threshold. */
  draw(length: number, op: string): Uint8Array {
    const bits = 8 * length;
    if (this.entropyAvailable() < bits + this.o.entropyLow) fail(QuacResult.ENTROPY_LOW, op, 'QRNG entropy below threshold');
    this.entropyBits -= bits;
    return this.o.random(length);
  }

  status(): QuacHealth['status'] {
    if (this.selfTestFailed) return QuacHealthStatus.SELF_TEST_FAILED;
    const temp = this.temperatureC();
    if (temp >= this.o.limitC) return QuacHealthStatus.OVER_TEMPERATURE;
    const entropy = this.entropyAvailable();
    if (entropy < this.o.entropyLow + 8 * 64) return QuacHealthStatus.ENTROPY_LOW;
    if (temp >= this.o.limitC - 10 || entropy < 4 * this.o.entropyLow) return QuacHealthStatus.DEGRADED;
    return QuacHealthStatus.OK;
  }

  /** Why the card cannot take work now, as an error; undefined when it can. */
  refusal(op: string): QuacError | undefined {
    if (this.removed) return new QuacError(QuacResult.DEVICE_REMOVED, op, 'the device was removed');
    if (this.selfTestFailed) return new QuacError(QuacResult.SELF_TEST_FAILED, op, 'the device failed its self-test');
    if (this.temperatureC() >= this.o.limitC) return new QuacError(QuacResult.OVER_TEMPERATURE, op);
    return undefined;
  }

  /** Consumes one injected failure, if any is armed. */
  injectedFailure(op: string): QuacError | undefined {
    if (this.failCount <= 0) return undefined;
    this.failCount--;
    return new QuacError(this.failCode, op, 'injected fault');
  }

  // ---- the engine ------------------------------------------------------------

  /** Engine time of one call whose compute costs `cost` ML-KEM-768 encapsulations, in ms. */
  callMs(cost: number): number {
    const unit = 1000 / this.o.rate;
    return unit * this.o.callOverhead + cost * unit * (1 - this.o.callOverhead);
  }

  overheadMs(): number {
    return (1000 / this.o.rate) * this.o.callOverhead;
  }

  /**
   * Queues a job of `serviceMs` engine time; `run` executes when the engine
   * finishes it (in arrival order) and the answer arrives `latencyMs` later.
   * Synchronous up to the returned promise, so a fault injected right after a
   * call sees it in flight.
   */
  submit<T>(op: string, serviceMs: number, run: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const entry: Pending = { reject: (e) => settle(() => reject(e)) };
      const settle = (f: () => void): void => {
        if (settled) return;
        settled = true;
        this.pending.delete(entry);
        f();
      };
      this.pending.add(entry);
      const { clock } = this.o;
      const submitted = clock.now();
      const timeout = (): QuacError => new QuacError(QuacResult.TIMEOUT, op, 'the device did not answer');

      const answer = async (): Promise<T> => {
        const refused = this.refusal(op);
        if (refused !== undefined) {
          await clock.sleep(this.o.latencyMs);
          throw refused;
        }
        if (this.queued >= this.o.maxQueue) {
          await clock.sleep(this.o.latencyMs);
          throw new QuacError(QuacResult.BUSY, op, 'queue full');
        }
        this.queued++;
        try {
          if (this.hung) {
            // Unanswered requests still hold their queue slots until they time out.
            await clock.sleep(this.o.timeoutMs);
            throw timeout();
          }
          const start = Math.max(submitted, this.busyUntil);
          this.busyUntil = start + serviceMs;
          this.scheduledBusyMs += serviceMs;
          await clock.sleep(this.busyUntil - submitted);
        } finally {
          this.queued--;
        }
        if (settled) throw new QuacError(QuacResult.DEVICE_REMOVED, op);
        if (this.hung) {
          // The card stopped answering while this job was queued: the caller hears nothing until its timeout.
          await clock.sleep(submitted + this.o.timeoutMs - clock.now());
          throw timeout();
        }
        let outcome: { ok: true; value: T } | { ok: false; error: unknown };
        try {
          const late = this.refusal(op);
          if (late !== undefined) throw late;
          outcome = { ok: true, value: run() };
        } catch (error) {
          outcome = { ok: false, error };
        }
        await clock.sleep(this.o.latencyMs);
        if (!outcome.ok) throw outcome.error;
        return outcome.value;
      };

      // Every failure is a QuacError (the interface's promise); anything else, a fault of the model or of an
      // injected clock or random source, is INTERNAL rather than an exception of another type.
      answer().then(
        (value) => settle(() => resolve(value)),
        (e: unknown) => settle(() => reject(e instanceof QuacError ? e : new QuacError(QuacResult.INTERNAL, op, e instanceof Error ? e.message : String(e)))),
      );
    });
  }
}

interface Resolved {
  readonly clock: QuacClock;
  readonly random: RandomSource;
  readonly rate: number;
  readonly callOverhead: number;
  readonly latencyMs: number;
  readonly timeoutMs: number;
  readonly maxQueue: number;
  readonly maxBatchItems: number;
  readonly maxStoredKeys: number;
  readonly entropyCapacity: number;
  readonly entropyRefill: number;
  readonly entropyLow: number;
  readonly ambientC: number;
  readonly fullLoadRiseC: number;
  readonly timeConstantS: number;
  readonly limitC: number;
}

function resolveOptions(o: EmulatedQuacOptions): Resolved {
  const rate = positive(o.rate, 20_000, 'rate');
  if (rate === 0) throw new RangeError('emulated QUAC 100: rate must be > 0');
  const callOverhead = positive(o.callOverhead, 0.3, 'callOverhead');
  if (callOverhead >= 1) throw new RangeError('emulated QUAC 100: callOverhead must be < 1');
  return {
    clock: o.clock ?? realClock,
    random: o.random ?? systemRandom,
    rate,
    callOverhead,
    latencyMs: positive(o.latencyMs, 0.05, 'latencyMs'),
    timeoutMs: positive(o.timeoutMs, 1000, 'timeoutMs'),
    maxQueue: positive(o.maxQueue, 4096, 'maxQueue'),
    maxBatchItems: positive(o.maxBatchItems, 1024, 'maxBatchItems'),
    maxStoredKeys: positive(o.maxStoredKeys, 1024, 'maxStoredKeys'),
    entropyCapacity: positive(o.entropy?.capacityBits, 1 << 20, 'entropy.capacityBits'),
    entropyRefill: positive(o.entropy?.refillBitsPerSecond, 16_000_000, 'entropy.refillBitsPerSecond'),
    entropyLow: positive(o.entropy?.lowThresholdBits, 1024, 'entropy.lowThresholdBits'),
    ambientC: o.thermal?.ambientC ?? 35,
    fullLoadRiseC: positive(o.thermal?.fullLoadRiseC, 30, 'thermal.fullLoadRiseC'),
    timeConstantS: positive(o.thermal?.timeConstantS, 30, 'thermal.timeConstantS'),
    limitC: o.thermal?.limitC ?? 90,
  };
}

const kemCost = (p: QuacKemParameters, op: 'keygen' | 'encaps' | 'decaps'): number => EMULATED_RELATIVE_COST.kem[p.name][op];
const signCost = (p: QuacSignParameters, op: 'keygen' | 'sign' | 'verify'): number => EMULATED_RELATIVE_COST.sign[p.name][op];

function labelOk(label: string, op: string): void {
  if (typeof label !== 'string' || new TextEncoder().encode(label).length > MAX_LABEL_BYTES || label.includes('\0')) {
    fail(QuacResult.INVALID_PARAMETER, op, `label must be at most ${MAX_LABEL_BYTES} bytes without NUL`);
  }
}

function bytesOk(b: Uint8Array, length: number, op: string, what: string): void {
  if (!(b instanceof Uint8Array) || b.length !== length) fail(QuacResult.INVALID_PARAMETER, op, `${what} must be ${length} bytes`);
}

function kemOf(alg: number, op: string): QuacKemParameters {
  return quacKem(alg) ?? fail(QuacResult.UNSUPPORTED_ALGORITHM, op, `not an ML-KEM algorithm: 0x${Number(alg).toString(16)}`);
}

function signOf(alg: number, op: string): QuacSignParameters {
  return quacSign(alg) ?? fail(QuacResult.UNSUPPORTED_ALGORITHM, op, `not an ML-DSA algorithm: 0x${Number(alg).toString(16)}`);
}

/** Noble throws on inputs FIPS 203/204 reject (an encapsulation key failing its modulus check, …): the card answers INVALID_PARAMETER. */
function arith<T>(op: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof QuacError) throw e;
    return fail(QuacResult.INVALID_PARAMETER, op, e instanceof Error ? e.message : String(e));
  }
}

let sessions = 0;

/** An open emulated card (`quac_device_t`). */
export class EmulatedQuac100 implements QuacDevice {
  private open = true;
  private readonly session = ++sessions;

  /** @internal Made by {@link EmulatedQuacLibrary.open}. */
  constructor(
    readonly index: number,
    private readonly card: EmulatedCard,
    private readonly lib: EmulatedQuacLibrary,
    private readonly fips: boolean,
  ) {}

  /** Arms a fault on this card (see {@link EmulatedFault}). */
  inject(fault: EmulatedFault): void {
    this.card.inject(fault);
  }

  clear(fault: ClearableFault): void {
    this.card.clear(fault);
  }

  /** Runs `run` on the engine after the open-handle and library checks, with an injected failure taking precedence. */
  private call<T>(op: string, cost: number, run: () => T): Promise<T> {
    if (!this.open) return Promise.reject(new QuacError(QuacResult.INVALID_PARAMETER, op, 'the device handle is closed'));
    return this.card.submit(op, this.card.callMs(cost), () => {
      const injected = this.card.injectedFailure(op);
      if (injected !== undefined) throw injected;
      const out = run();
      this.card.operationsTotal++;
      return out;
    });
  }

  private key(handle: QuacKeyHandle, op: string): StoredKey {
    const k = typeof handle === 'bigint' ? this.card.keys.get(handle) : undefined;
    if (k === undefined || (k.session !== undefined && k.session !== this.session)) return fail(QuacResult.KEY_NOT_FOUND, op);
    return k;
  }

  private store(alg: QuacAlgorithmId, label: string, persistent: boolean, publicKey: Uint8Array, secretKey: Uint8Array, op: string): QuacStoredKey {
    if (this.card.keys.size >= this.lib.options.maxStoredKeys) fail(QuacResult.OUT_OF_MEMORY, op, 'key storage full');
    const handle = this.card.newHandle();
    this.card.keys.set(handle, {
      handle, alg, label, persistent, publicKey, secretKey, session: persistent ? undefined : this.session, fipsGenerated: this.fips,
    });
    if (persistent) {
      try {
        this.lib.persist();
      } catch (e) {
        // A key the flash did not take does not exist: the caller must not believe it survives a restart.
        this.card.keys.delete(handle);
        secretKey.fill(0);
        fail(QuacResult.INTERNAL, op, `key storage write failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    return { handle, publicKey: publicKey.slice() };
  }

  kemKeygen(alg: QuacAlgorithmId): Promise<{ publicKey: Uint8Array; secretKey: Uint8Array }> {
    const op = 'quac_kem_keygen';
    const p = quacKem(alg);
    return this.call(op, p ? kemCost(p, 'keygen') : 0, () => {
      const kem = kemOf(alg, op);
      return KEM_IMPL.get(kem.alg)!.keygen(this.card.draw(kem.keygenRandom, op));
    });
  }

  kemEncaps(alg: QuacAlgorithmId, publicKey: Uint8Array): Promise<{ ciphertext: Uint8Array; sharedSecret: Uint8Array }> {
    const op = 'quac_kem_encaps';
    const p = quacKem(alg);
    return this.call(op, p ? kemCost(p, 'encaps') : 0, () => {
      const kem = kemOf(alg, op);
      bytesOk(publicKey, kem.publicKey, op, 'public key');
      const m = this.card.draw(kem.encapsRandom, op);
      // FIPS 203 §7.2: noble's modulus check on the encapsulation key refuses a bad one.
      const { cipherText, sharedSecret } = arith(op, () => KEM_IMPL.get(kem.alg)!.encapsulate(publicKey, m));
      return { ciphertext: cipherText, sharedSecret };
    });
  }

  kemDecaps(alg: QuacAlgorithmId, ciphertext: Uint8Array, secretKey: Uint8Array): Promise<Uint8Array> {
    const op = 'quac_kem_decaps';
    const p = quacKem(alg);
    return this.call(op, p ? kemCost(p, 'decaps') : 0, () => {
      const kem = kemOf(alg, op);
      bytesOk(ciphertext, kem.ciphertext, op, 'ciphertext');
      bytesOk(secretKey, kem.secretKey, op, 'secret key');
      return arith(op, () => KEM_IMPL.get(kem.alg)!.decapsulate(ciphertext, secretKey));
    });
  }

  kemKeygenStored(alg: QuacAlgorithmId, label: string, persistent: boolean): Promise<QuacStoredKey> {
    const op = 'quac_kem_keygen_stored';
    const p = quacKem(alg);
    return this.call(op, p ? kemCost(p, 'keygen') : 0, () => {
      const kem = kemOf(alg, op);
      labelOk(label, op);
      const { publicKey, secretKey } = KEM_IMPL.get(kem.alg)!.keygen(this.card.draw(kem.keygenRandom, op));
      return this.store(kem.alg, label, persistent === true, publicKey, secretKey, op);
    });
  }

  kemDecapsStored(handle: QuacKeyHandle, ciphertext: Uint8Array): Promise<Uint8Array> {
    const op = 'quac_kem_decaps_stored';
    const known = typeof handle === 'bigint' ? this.card.keys.get(handle) : undefined;
    const p = known ? quacKem(known.alg) : undefined;
    return this.call(op, p ? kemCost(p, 'decaps') : EMULATED_RELATIVE_COST.keyManagement, () => {
      const key = this.key(handle, op);
      const kem = kemOf(key.alg, op);
      this.approved(key, op);
      bytesOk(ciphertext, kem.ciphertext, op, 'ciphertext');
      return arith(op, () => KEM_IMPL.get(kem.alg)!.decapsulate(ciphertext, key.secretKey));
    });
  }

  signKeygenStored(alg: QuacAlgorithmId, label: string, persistent: boolean): Promise<QuacStoredKey> {
    const op = 'quac_sign_keygen_stored';
    const p = quacSign(alg);
    return this.call(op, p ? signCost(p, 'keygen') : 0, () => {
      const sig = signOf(alg, op);
      labelOk(label, op);
      const { publicKey, secretKey } = DSA_IMPL.get(sig.alg)!.keygen(this.card.draw(sig.keygenRandom, op));
      return this.store(sig.alg, label, persistent === true, publicKey, secretKey, op);
    });
  }

  signStored(handle: QuacKeyHandle, message: Uint8Array, options?: QuacSignOptions): Promise<Uint8Array> {
    const op = 'quac_sign_stored';
    const known = typeof handle === 'bigint' ? this.card.keys.get(handle) : undefined;
    const p = known ? quacSign(known.alg) : undefined;
    return this.call(op, p ? signCost(p, 'sign') : EMULATED_RELATIVE_COST.keyManagement, () => this.signWith(this.key(handle, op), message, options, op));
  }

  private approved(key: StoredKey, op: string): void {
    if (this.fips && !key.fipsGenerated) fail(QuacResult.FIPS_NOT_APPROVED, op, 'key generated outside FIPS mode');
  }

  private signWith(key: StoredKey, message: Uint8Array, options: QuacSignOptions | undefined, op: string): Uint8Array {
    const sig = signOf(key.alg, op);
    this.approved(key, op);
    if (!(message instanceof Uint8Array)) fail(QuacResult.INVALID_PARAMETER, op, 'message must be bytes');
    const context = options?.context ?? new Uint8Array(0);
    if (!(context instanceof Uint8Array) || context.length > MAX_CONTEXT) fail(QuacResult.INVALID_PARAMETER, op, `context is at most ${MAX_CONTEXT} bytes`);
    const deterministic = options?.deterministic === true;
    if (deterministic && this.fips) fail(QuacResult.FIPS_NOT_APPROVED, op, 'deterministic ML-DSA is not an approved service of this module');
    const rnd = deterministic ? false : this.card.draw(sig.signRandom, op);
    return DSA_IMPL.get(sig.alg)!.sign(message, key.secretKey, { extraEntropy: rnd, context });
  }

  verify(alg: QuacAlgorithmId, publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
    const op = 'quac_verify';
    const p = quacSign(alg);
    return this.call(op, p ? signCost(p, 'verify') : 0, () => this.verifyWith(alg, publicKey, message, signature, op));
  }

  private verifyWith(alg: QuacAlgorithmId, publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array, op: string): boolean {
    const sig = signOf(alg, op);
    bytesOk(publicKey, sig.publicKey, op, 'public key');
    if (!(message instanceof Uint8Array) || !(signature instanceof Uint8Array)) fail(QuacResult.INVALID_PARAMETER, op, 'message and signature must be bytes');
    if (signature.length !== sig.signature) return false;
    try {
      return DSA_IMPL.get(sig.alg)!.verify(signature, message, publicKey);
    } catch {
      return false;
    }
  }

  keyFind(label: string): Promise<(QuacStoredKey & { readonly alg: QuacAlgorithmId }) | undefined> {
    const op = 'quac_key_find';
    return this.call(op, EMULATED_RELATIVE_COST.keyManagement, () => {
      labelOk(label, op);
      let newest: StoredKey | undefined;
      for (const k of this.card.keys.values()) {
        if (k.label !== label || (k.session !== undefined && k.session !== this.session)) continue;
        if (newest === undefined || k.handle > newest.handle) newest = k;
      }
      return newest && { handle: newest.handle, alg: newest.alg, publicKey: newest.publicKey.slice() };
    });
  }

  keyAttributes(handle: QuacKeyHandle): Promise<QuacKeyAttributes> {
    const op = 'quac_key_get_attributes';
    return this.call(op, EMULATED_RELATIVE_COST.keyManagement, () => ({ extractable: false, persistent: this.key(handle, op).persistent }));
  }

  keyExport(handle: QuacKeyHandle): Promise<Uint8Array> {
    const op = 'quac_key_export';
    return this.call(op, EMULATED_RELATIVE_COST.keyManagement, (): Uint8Array => {
      this.key(handle, op);
      return fail(QuacResult.KEY_NOT_EXTRACTABLE, op);
    });
  }

  keyDestroy(handle: QuacKeyHandle): Promise<void> {
    const op = 'quac_key_destroy';
    return this.call(op, EMULATED_RELATIVE_COST.keyManagement, () => {
      const key = this.key(handle, op);
      this.card.keys.delete(key.handle);
      if (key.persistent) {
        try {
          this.lib.persist();
        } catch (e) {
          // Still in the flash, so still on the card.
          this.card.keys.set(key.handle, key);
          fail(QuacResult.INTERNAL, op, `key storage write failed: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
      key.secretKey.fill(0);
    });
  }

  randomBytes(length: number): Promise<Uint8Array> {
    const op = 'quac_random_bytes';
    const ok = Number.isInteger(length) && length >= 0 && length <= MAX_RANDOM_BYTES;
    const cost = EMULATED_RELATIVE_COST.randomFixed + (ok ? (length / 1024) * EMULATED_RELATIVE_COST.randomPerKiB : 0);
    return this.call(op, cost, () => {
      if (!ok) fail(QuacResult.INVALID_PARAMETER, op, `length must be an integer in 0..${MAX_RANDOM_BYTES}`);
      return this.card.draw(length, op);
    });
  }

  /**
   * One queued job for the whole batch (see the time model above). Every item
   * runs on its own: a bad item gets its own result code and the others go on;
   * items that would end after `options.timeoutMs` of engine time are not run
   * and get TIMEOUT. `maxParallel` is accepted and has no effect: the
   * emulated card has one engine.
   */
  batchExecute(items: readonly QuacBatchItem[], options?: QuacBatchOptions): Promise<QuacBatchResult> {
    const op = 'quac_batch_execute';
    if (!this.open) return Promise.reject(new QuacError(QuacResult.INVALID_PARAMETER, op, 'the device handle is closed'));
    if (!Array.isArray(items) || items.length === 0 || items.length > this.lib.options.maxBatchItems) {
      return Promise.reject(new QuacError(QuacResult.INVALID_PARAMETER, op, `a batch holds 1..${this.lib.options.maxBatchItems} items`));
    }
    const timeoutMs = options?.timeoutMs ?? 0;
    const maxParallel = options?.maxParallel ?? 0;
    if (!Number.isFinite(timeoutMs) || timeoutMs < 0 || !Number.isInteger(maxParallel) || maxParallel < 0 || maxParallel > 0xffffffff) {
      return Promise.reject(new QuacError(QuacResult.INVALID_PARAMETER, op, 'batch options: timeoutMs >= 0, maxParallel a uint32'));
    }
    const times = items.map((item) => this.card.callMs(this.itemCost(item)));
    // The overhead is paid once; an item runs if the engine reaches its end within the batch timeout.
    const overhead = this.card.overheadMs();
    let elapsed = overhead;
    const runs = times.map((t) => {
      const end = elapsed + (t - overhead);
      const run = timeoutMs === 0 || end <= timeoutMs;
      if (run) elapsed = end;
      return run;
    });
    const serviceMs = elapsed;
    return this.card.submit(op, serviceMs, () => {
      const results = items.map((item, i): QuacBatchItemResult => {
        if (!runs[i]) return { result: QuacResult.TIMEOUT };
        try {
          const injected = this.card.injectedFailure(op);
          if (injected !== undefined) throw injected;
          const r = this.runItem(item);
          this.card.operationsTotal++;
          return r;
        } catch (e) {
          return { result: e instanceof QuacError ? e.code : QuacResult.INTERNAL };
        }
      });
      const completed = results.filter((r) => r.result >= 0).length;
      return { completed, failed: results.length - completed, totalTimeUs: Math.round(serviceMs * 1000), items: results };
    });
  }

  private itemCost(item: QuacBatchItem): number {
    const kem = 'alg' in item ? quacKem(item.alg) : undefined;
    const sig = 'alg' in item ? quacSign(item.alg) : undefined;
    switch (item?.op) {
      case 'kem-keygen': return kem ? kemCost(kem, 'keygen') : 0;
      case 'kem-encaps': return kem ? kemCost(kem, 'encaps') : 0;
      case 'kem-decaps': return kem ? kemCost(kem, 'decaps') : 0;
      case 'verify': return sig ? signCost(sig, 'verify') : 0;
      case 'sign-stored': {
        const k = typeof item.handle === 'bigint' ? this.card.keys.get(item.handle) : undefined;
        const p = k ? quacSign(k.alg) : undefined;
        return p ? signCost(p, 'sign') : EMULATED_RELATIVE_COST.keyManagement;
      }
      default: return 0;
    }
  }

  private runItem(item: QuacBatchItem): QuacBatchItemResult {
    const ok = QuacResult.SUCCESS;
    switch (item?.op) {
      case 'kem-keygen': {
        const op = 'QUAC_BATCH_OP_KEM_KEYGEN';
        const kem = kemOf(item.alg, op);
        const { publicKey, secretKey } = KEM_IMPL.get(kem.alg)!.keygen(this.card.draw(kem.keygenRandom, op));
        return { result: ok, publicKey, secretKey };
      }
      case 'kem-encaps': {
        const op = 'QUAC_BATCH_OP_KEM_ENCAPS';
        const kem = kemOf(item.alg, op);
        bytesOk(item.publicKey, kem.publicKey, op, 'public key');
        const m = this.card.draw(kem.encapsRandom, op);
        const { cipherText, sharedSecret } = arith(op, () => KEM_IMPL.get(kem.alg)!.encapsulate(item.publicKey, m));
        return { result: ok, ciphertext: cipherText, sharedSecret };
      }
      case 'kem-decaps': {
        const op = 'QUAC_BATCH_OP_KEM_DECAPS';
        const kem = kemOf(item.alg, op);
        bytesOk(item.ciphertext, kem.ciphertext, op, 'ciphertext');
        bytesOk(item.secretKey, kem.secretKey, op, 'secret key');
        return { result: ok, sharedSecret: arith(op, () => KEM_IMPL.get(kem.alg)!.decapsulate(item.ciphertext, item.secretKey)) };
      }
      case 'sign-stored': {
        const op = 'QUAC_BATCH_OP_SIGN_STORED';
        return { result: ok, signature: this.signWith(this.key(item.handle, op), item.message, undefined, op) };
      }
      case 'verify': {
        const op = 'QUAC_BATCH_OP_VERIFY';
        return { result: ok, valid: this.verifyWith(item.alg, item.publicKey, item.message, item.signature, op) };
      }
      default:
        return fail(QuacResult.INVALID_PARAMETER, 'quac_batch_execute', 'unknown batch op');
    }
  }

  /**
   * Diagnostics are a register read: answered past the queue, even by a hot or
   * failed card (that is what they report). `operationsTotal` counts the
   * operations the card completed successfully (each batch item one) since the
   * library object was made; DEGRADED means within 10 °C of the limit or under
   * four times the entropy threshold, ENTROPY_LOW too little entropy for an
   * ML-KEM key generation.
   */
  async health(): Promise<QuacHealth> {
    const op = 'quac_diag_get_health';
    if (!this.open) throw new QuacError(QuacResult.INVALID_PARAMETER, op, 'the device handle is closed');
    const { clock, latencyMs, timeoutMs } = this.lib.options;
    try {
      if (this.card.hung && !this.card.removed) {
        await clock.sleep(timeoutMs);
        throw new QuacError(QuacResult.TIMEOUT, op, 'the device did not answer');
      }
      await clock.sleep(latencyMs);
    } catch (e) {
      throw e instanceof QuacError ? e : new QuacError(QuacResult.INTERNAL, op, e instanceof Error ? e.message : String(e));
    }
    if (this.card.removed) throw new QuacError(QuacResult.DEVICE_REMOVED, op, 'the device was removed');
    return {
      temperatureCelsius: this.card.temperatureC(),
      entropyAvailableBits: this.card.entropyAvailable(),
      status: this.card.status(),
      operationsTotal: this.card.operationsTotal,
    };
  }

  selfTest(): Promise<void> {
    const op = 'quac_diag_self_test';
    return this.call(op, EMULATED_RELATIVE_COST.selfTest, () => {
      if (!this.card.selfTest()) fail(QuacResult.SELF_TEST_FAILED, op, 'known-answer test mismatch');
    });
  }

  async close(): Promise<void> {
    if (!this.open) return;
    this.open = false;
    this.lib.forget(this);
    for (const [h, k] of this.card.keys) {
      if (k.session === this.session) {
        k.secretKey.fill(0);
        this.card.keys.delete(h);
      }
    }
  }
}

/** The emulated `quac_init` … `quac_shutdown`; its cards (and their persistent keys) live as long as this object. */
export class EmulatedQuacLibrary implements QuacLibrary {
  /** @internal */
  readonly options: Resolved;
  private readonly cards: EmulatedCard[];
  private initialized: { fips: boolean } | undefined;
  private readonly opened = new Set<EmulatedQuac100>();
  private readonly storage: EmulatedQuacStorage | undefined;

  /** @throws ConfigError when `storage` holds a state this library cannot restore in full. */
  constructor(options: EmulatedQuacOptions = {}) {
    this.options = resolveOptions(options);
    const n = options.devices ?? 1;
    if (!Number.isInteger(n) || n < 0 || n > 64) throw new RangeError('emulated QUAC 100: devices must be an integer in 0..64');
    this.cards = Array.from({ length: n }, (_, i) => new EmulatedCard(i, this.options));
    this.storage = options.storage;
    const state = this.storage?.load();
    if (state !== undefined) {
      for (const [i, card] of decodeCardState(state, n, this.options.maxStoredKeys).entries()) this.cards[i]?.restore(card);
    }
  }

  /** @internal Writes every card's flash to the storage (no-op without one). */
  persist(): void {
    this.storage?.save(encodeCardState(this.cards.map((c) => c.persisted())));
  }

  /** Arms a fault on card `index` before or after it is opened. */
  inject(index: number, fault: EmulatedFault): void {
    this.cardAt(index).inject(fault);
  }

  clear(index: number, fault: ClearableFault): void {
    this.cardAt(index).clear(fault);
  }

  private cardAt(index: number): EmulatedCard {
    const c = this.cards[index];
    if (c === undefined) throw new RangeError(`no emulated card ${index}`);
    return c;
  }

  /** FIPS mode runs every present card's self-tests; any failure fails init (FIPS 140-3: the module enters its error state). */
  async init(options: { readonly fips?: boolean }): Promise<void> {
    const fips = options?.fips === true;
    if (this.initialized !== undefined) {
      if (this.initialized.fips !== fips) throw new QuacError(QuacResult.INVALID_PARAMETER, 'quac_init', 'already initialised in the other mode; shut down first');
      return;
    }
    if (fips) {
      for (const card of this.cards) {
        if (!card.removed && !card.selfTest()) throw new QuacError(QuacResult.SELF_TEST_FAILED, 'quac_init', `device ${card.index} failed its known-answer self-tests`);
      }
    }
    this.initialized = { fips };
  }

  async deviceCount(): Promise<number> {
    if (this.initialized === undefined) throw new QuacError(QuacResult.NOT_INITIALIZED, 'quac_device_count');
    return this.cards.filter((c) => !c.removed).length;
  }

  async open(index: number): Promise<EmulatedQuac100> {
    const op = 'quac_open';
    if (this.initialized === undefined) throw new QuacError(QuacResult.NOT_INITIALIZED, op);
    const card = Number.isInteger(index) ? this.cards[index] : undefined;
    if (card === undefined || card.removed) throw new QuacError(QuacResult.DEVICE_NOT_FOUND, op, `no device ${index}`);
    if (card.selfTestFailed || (this.initialized.fips && !card.selfTest())) {
      throw new QuacError(QuacResult.SELF_TEST_FAILED, op, `device ${index} failed its known-answer self-tests`);
    }
    const dev = new EmulatedQuac100(index, card, this, this.initialized.fips);
    this.opened.add(dev);
    return dev;
  }

  /** @internal */
  forget(dev: EmulatedQuac100): void {
    this.opened.delete(dev);
  }

  /** Closes every open device (their session keys go); persistent keys stay on the cards. */
  async shutdown(): Promise<void> {
    for (const d of [...this.opened]) await d.close();
    this.initialized = undefined;
  }
}

/** A library of emulated QUAC 100 cards (see {@link EmulatedQuacOptions}). */
export function emulatedQuacLibrary(options: EmulatedQuacOptions = {}): EmulatedQuacLibrary {
  return new EmulatedQuacLibrary(options);
}
