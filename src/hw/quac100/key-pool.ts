/**
 * Pre-generated ML-KEM key pairs for client key shares. Generating a key share
 * is the one ML-KEM operation a client can do before it knows it needs it, so
 * keys are made in batches in the background: when a parameter set's stock
 * falls below `low`, one refill tops it up to `high` with batchExecute calls of
 * `kem-keygen` items. Each key is handed out once and removed (a KEM key pair is
 * never reused across handshakes); the stock never exceeds `high`, and
 * `close()` zeroes what is left.
 */
import { QuacError, QuacResult, quacSucceeded } from './device.js';
import type { LabelledCount, QuacMetricsRecorder } from './metrics.js';
import { ML_KEM_SETS, type MlKemName } from './mlkem.js';
import type { DevicePool } from './pool.js';

export interface KeyPoolOptions {
  /** Parameter sets to keep stock of. Default ML-KEM-768 (X25519MLKEM768, SecP256r1MLKEM768, MLKEM768). */
  readonly algorithms?: readonly MlKemName[];
  /** Refill when fewer than this many are left. Default 8. */
  readonly low?: number;
  /** Refill up to this many (at most 1024). Default 32. */
  readonly high?: number;
  /** Key pairs per batchExecute call while refilling. Default 32. */
  readonly batchSize?: number;
}

export interface KemKeyPair {
  readonly publicKey: Uint8Array;
  readonly secretKey: Uint8Array;
}

export class KeyPool {
  private readonly stock = new Map<MlKemName, KemKeyPair[]>();
  private readonly refilling = new Map<MlKemName, Promise<void>>();
  private readonly low: number;
  private readonly high: number;
  private readonly batchSize: number;
  private closed = false;

  constructor(private readonly pool: DevicePool, private readonly metrics: QuacMetricsRecorder, options: KeyPoolOptions = {}) {
    this.high = Math.min(1024, Math.max(1, Math.floor(options.high ?? 32)));
    this.low = Math.min(this.high, Math.max(0, Math.floor(options.low ?? 8)));
    this.batchSize = Math.max(1, Math.floor(options.batchSize ?? 32));
    for (const a of options.algorithms ?? ['ML-KEM-768']) this.stock.set(a, []);
  }

  /** A fresh key pair, removed from the stock, or undefined if none is ready (the caller generates one). */
  take(alg: MlKemName): KemKeyPair | undefined {
    const s = this.stock.get(alg);
    if (!s) return undefined;
    const k = s.shift();
    if (k) this.metrics.keyPoolTaken++;
    if (s.length < this.low) void this.refill(alg);
    return k;
  }

  /** Tops every stock up to `high`; resolves when done. Failures leave the stock short, never filled with anything else. */
  async fill(): Promise<void> {
    await Promise.all([...this.stock.keys()].map((a) => this.refill(a)));
  }

  private refill(alg: MlKemName): Promise<void> {
    const running = this.refilling.get(alg);
    if (running) return running;
    const s = this.stock.get(alg) as KemKeyPair[];
    const set = ML_KEM_SETS[alg];
    const run = async (): Promise<void> => {
      while (!this.closed && s.length < this.high) {
        const n = Math.min(this.batchSize, this.high - s.length);
        this.metrics.batchSizes.observe(n);
        const r = await this.pool.run('kem-keygen', n, (d) => d.batchExecute(Array.from({ length: n }, () => ({ op: 'kem-keygen' as const, alg: set.alg }))));
        let got = 0;
        for (const item of r.items.slice(0, n)) {
          if (!quacSucceeded(item.result)) continue;
          const { publicKey, secretKey } = item;
          if (publicKey?.length !== set.publicKey || secretKey?.length !== set.secretKey) continue;
          if (this.closed || s.length >= this.high) {
            secretKey.fill(0);
            continue;
          }
          s.push({ publicKey, secretKey });
          this.metrics.keyPoolGenerated++;
          got++;
        }
        if (got === 0) throw new QuacError(QuacResult.INTERNAL, 'kem-keygen', 'key pool refill produced no key');
      }
    };
    const p = run()
      .catch(() => {
        // The device's error is already counted; the stock stays short and take() callers generate on demand.
      })
      .finally(() => this.refilling.delete(alg));
    this.refilling.set(alg, p);
    return p;
  }

  available(): LabelledCount[] {
    return [...this.stock].map(([a, s]) => ({ labels: { algorithm: a }, value: s.length }));
  }

  close(): void {
    this.closed = true;
    for (const s of this.stock.values()) {
      for (const k of s) k.secretKey.fill(0);
      s.length = 0;
    }
  }
}
