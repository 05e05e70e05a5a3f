/**
 * Cross-connection batching: single operations from many handshakes are
 * queued and sent to a device together as one `batchExecute` call, when the
 * queue reaches `maxSize` or `maxWaitMs` after its first item, whichever
 * comes first. Each caller gets its own item's result; an item that fails
 * (its own `result` code) rejects only its caller.
 *
 * Unbound items (ML-KEM with host-held keys, verification) go to the
 * least-loaded device; if that whole call fails with a device fault they are
 * sent once more, to another device. Items for a stored key (`sign-stored`)
 * queue per device and never move: the key exists only there.
 */
import { QuacError, QuacResult, quacSucceeded, type QuacBatchItem, type QuacBatchItemResult } from './device.js';
import type { DevicePool, PooledDevice } from './pool.js';
import type { QuacScheduler } from './scheduler.js';

export interface BatchOptions {
  /** Items per device call, at most. Default 32. */
  readonly maxSize?: number;
  /** Longest an item waits for companions, in ms. Default 1. */
  readonly maxWaitMs?: number;
  /** Items queued (not yet sent) before new ones are refused with QUAC_ERROR_BUSY. Default 4096. */
  readonly maxQueue?: number;
}

interface Pending {
  readonly item: QuacBatchItem;
  readonly resolve: (r: QuacBatchItemResult) => void;
  readonly reject: (e: unknown) => void;
}

interface Queue {
  readonly items: Pending[];
  cancel: (() => void) | undefined;
}

const ANY = -1;

export class Batcher {
  private readonly maxSize: number;
  private readonly maxWaitMs: number;
  private readonly maxQueue: number;
  private readonly queues = new Map<number, Queue>();
  private queued = 0;
  private closed = false;

  constructor(private readonly pool: DevicePool, private readonly scheduler: QuacScheduler, options: BatchOptions = {}) {
    this.maxSize = Math.max(1, Math.floor(options.maxSize ?? 32));
    this.maxWaitMs = Math.max(0, options.maxWaitMs ?? 1);
    this.maxQueue = Math.max(1, options.maxQueue ?? 4096);
  }

  /** Queues one item; `device` binds it to the device holding its stored key. */
  submit(item: QuacBatchItem, device?: number): Promise<QuacBatchItemResult> {
    if (this.closed) return Promise.reject(new QuacError(QuacResult.NOT_INITIALIZED, item.op, 'the QUAC provider is closed'));
    if (this.queued >= this.maxQueue) {
      return Promise.reject(new QuacError(QuacResult.BUSY, item.op, `batch queue is full (${this.maxQueue} items)`));
    }
    return new Promise<QuacBatchItemResult>((resolve, reject) => {
      const key = device ?? ANY;
      let q = this.queues.get(key);
      if (!q) {
        q = { items: [], cancel: undefined };
        this.queues.set(key, q);
      }
      q.items.push({ item, resolve, reject });
      this.queued++;
      if (q.items.length >= this.maxSize) this.flush(key);
      else if (!q.cancel) q.cancel = this.scheduler.setTimer(this.maxWaitMs, () => this.flush(key));
    });
  }

  /** Sends up to maxSize items of one queue now; the rest wait for the next timer. */
  private flush(key: number): void {
    const q = this.queues.get(key);
    if (!q) return;
    q.cancel?.();
    q.cancel = undefined;
    const batch = q.items.splice(0, this.maxSize);
    this.queued -= batch.length;
    if (q.items.length) q.cancel = this.scheduler.setTimer(this.maxWaitMs, () => this.flush(key));
    else this.queues.delete(key);
    if (batch.length === 0) return;
    const sending = key === ANY ? this.sendUnbound(batch) : this.sendBound(key, batch);
    // Every rejection reaches its caller inside send*; nothing escapes here.
    sending.catch((e: unknown) => {
      for (const p of batch) p.reject(e);
    });
  }

  private async sendBound(index: number, batch: Pending[]): Promise<void> {
    const pd = await this.pool.bound(index, batch[0]?.item.op ?? 'batch');
    const results = await this.execute(pd, batch);
    this.settle(pd, batch, results, () => false);
  }

  private async sendUnbound(batch: Pending[]): Promise<void> {
    const tried = new Set<PooledDevice>();
    const first = await this.pool.acquire('batch');
    tried.add(first);
    let used = first;
    let results: readonly QuacBatchItemResult[];
    try {
      results = await this.execute(first, batch);
    } catch (e) {
      if (!(e instanceof QuacError && e.deviceFault)) throw e;
      // The device was lost with the batch in flight: once more, elsewhere.
      used = await this.pool.acquire('batch', tried);
      tried.add(used);
      results = await this.execute(used, batch);
    }
    const retry: Pending[] = [];
    this.settle(used, batch, results, (p) => {
      retry.push(p);
      return true;
    });
    if (retry.length === 0) return;
    // Items whose own result was a device fault (the device went bad mid-batch): once more, elsewhere.
    let second: PooledDevice;
    try {
      second = await this.pool.acquire('batch', tried);
    } catch (e) {
      for (const p of retry) p.reject(e);
      return;
    }
    let again: readonly QuacBatchItemResult[];
    try {
      again = await this.execute(second, retry);
    } catch (e) {
      for (const p of retry) p.reject(e);
      return;
    }
    this.settle(second, retry, again, () => false);
  }

  private async execute(pd: PooledDevice, batch: readonly Pending[]): Promise<readonly QuacBatchItemResult[]> {
    this.pool.metrics.batchSizes.observe(batch.length);
    const r = await this.pool.call(pd, batch.length, (d) => d.batchExecute(batch.map((p) => p.item)));
    if (r.items.length !== batch.length) {
      throw new QuacError(QuacResult.INTERNAL, 'batchExecute', `device ${pd.index} returned ${r.items.length} results for ${batch.length} items`);
    }
    return r.items;
  }

  /** Resolves or rejects each caller by its own item; `retry` may claim items that failed with a device fault. */
  private settle(pd: PooledDevice, batch: readonly Pending[], results: readonly QuacBatchItemResult[], retry: (p: Pending) => boolean): void {
    batch.forEach((p, i) => {
      const r = results[i] as QuacBatchItemResult;
      if (quacSucceeded(r.result)) {
        p.resolve(r);
        return;
      }
      const err = new QuacError(r.result, p.item.op);
      this.pool.metrics.errors.add({ result: err.resultName });
      if (err.deviceFault) {
        this.pool.fault(pd, err);
        if (retry(p)) return;
      }
      p.reject(err);
    });
  }

  /** Rejects everything still queued and all later work (on close); NOT_INITIALIZED is no device fault, so nothing falls back. */
  close(reason: string): void {
    this.closed = true;
    for (const [key, q] of this.queues) {
      q.cancel?.();
      for (const p of q.items) p.reject(new QuacError(QuacResult.NOT_INITIALIZED, p.item.op, reason));
      this.queued -= q.items.length;
      this.queues.delete(key);
    }
  }
}
