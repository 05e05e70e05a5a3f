/**
 * Key exchange for the QUAC provider. ML-KEM (alone, or as the ML-KEM half of
 * a hybrid) runs on the card through the batcher; the classical half of a
 * hybrid and the classical groups are the software provider's own
 * KeyExchange. Shares and secrets are laid out by the shared hybrid table
 * ({@link HYBRID_LAYOUTS}), so bytes on the wire are those of any other
 * backend.
 */
import { IllegalParameterError } from '../../errors.js';
import { NamedGroup } from '../../pq/ids.js';
import type { CryptoProvider, KeyExchange } from '../../pq/provider.js';
import type { Batcher } from './batcher.js';
import { QuacError, type QuacBatchItemResult } from './device.js';
import type { KeyPool } from './key-pool.js';
import { HYBRID_LAYOUTS, type KexComponent } from '../../pq/hybrid.js';
import { keyExchangeLifecycle, requireLength } from '../../pq/kex-part.js';
import type { QuacMetricsRecorder } from './metrics.js';
import { isMlKemName, ML_KEM_SETS, type MlKemSet } from './mlkem.js';
import type { QuacScheduler } from './scheduler.js';

/** A half-finished exchange; `complete` may run once. */
interface AsyncPending {
  readonly share: Uint8Array;
  complete(serverShare: Uint8Array): Promise<Uint8Array>;
  wipe(): void;
}

/** One key-exchange component in KEM shape, asynchronous because it may run on a device. */
interface AsyncPart {
  readonly clientShareLength: number;
  readonly serverShareLength: number;
  generate(): Promise<AsyncPending>;
  encapsulate(clientShare: Uint8Array): Promise<{ share: Uint8Array; secret: Uint8Array }>;
}

export interface KemContext {
  readonly batcher: Batcher;
  readonly keyPool: KeyPool | undefined;
  readonly metrics: QuacMetricsRecorder;
  readonly scheduler: QuacScheduler;
  readonly software: CryptoProvider;
  /** Route to `software` when the devices fail with a device fault. */
  readonly fallback: boolean;
}

/** A failure of the devices themselves (none usable, lost, hot, out of entropy), as opposed to this input. */
export function isDeviceFailure(e: unknown): e is QuacError {
  return e instanceof QuacError && e.deviceFault;
}

/** The item's output, which a successful result must carry with the right length; never made up. */
function output(r: QuacBatchItemResult, field: 'publicKey' | 'secretKey' | 'ciphertext' | 'sharedSecret', length: number, op: string): Uint8Array {
  const v = r[field];
  if (!v || v.length !== length) throw new QuacError(-17, op, `device returned no ${length}-byte ${field}`);
  return v;
}

/**
 * ML-KEM.Decaps on the card (batched) with a host-held decapsulation key: a
 * ciphertext of the wrong length is the peer's illegal_parameter; a key the card
 * refuses (FIPS 203 §7.3 checks) is our internal_error (a QuacError).
 */
export async function deviceDecapsulate(ctx: KemContext, set: MlKemSet, secretKey: Uint8Array, ct: Uint8Array): Promise<Uint8Array> {
  const started = ctx.scheduler.now();
  requireLength(ct, set.ciphertext, `${set.name} ciphertext`);
  const r = await ctx.batcher.submit({ op: 'kem-decaps', alg: set.alg, ciphertext: ct, secretKey });
  const ss = output(r, 'sharedSecret', 32, 'kem-decaps');
  ctx.metrics.kem.add({ operation: 'decaps', algorithm: set.name });
  ctx.metrics.kemLatency.observe((ctx.scheduler.now() - started) / 1000);
  return ss;
}

/** ML-KEM on the card. */
class DeviceMlKem implements AsyncPart {
  readonly clientShareLength: number;
  readonly serverShareLength: number;

  constructor(private readonly set: MlKemSet, private readonly ctx: KemContext) {
    this.clientShareLength = set.publicKey;
    this.serverShareLength = set.ciphertext;
  }

  private count(operation: string, started: number): void {
    this.ctx.metrics.kem.add({ operation, algorithm: this.set.name });
    this.ctx.metrics.kemLatency.observe((this.ctx.scheduler.now() - started) / 1000);
  }

  private async fallback(operation: string): Promise<KeyExchange> {
    this.ctx.metrics.fallbacks.add({ operation });
    return this.ctx.software.keyExchange(this.set.group);
  }

  async generate(): Promise<AsyncPending> {
    const { set, ctx } = this;
    const started = ctx.scheduler.now();
    let keys = ctx.keyPool?.take(set.name);
    if (!keys) {
      try {
        const r = await ctx.batcher.submit({ op: 'kem-keygen', alg: set.alg });
        keys = { publicKey: output(r, 'publicKey', set.publicKey, 'kem-keygen'), secretKey: output(r, 'secretKey', set.secretKey, 'kem-keygen') };
      } catch (e) {
        if (!(ctx.fallback && isDeviceFailure(e))) throw e;
        const ks = await (await this.fallback('kem-keygen')).generate();
        this.count('keygen', started);
        return { share: ks.share, complete: (s) => ks.complete(s), wipe: () => undefined };
      }
    }
    this.count('keygen', started);
    const { publicKey, secretKey } = keys;
    return {
      share: publicKey,
      // The secret key is host-held, so decapsulation can run on any device of the pool (no software fallback:
      // the software provider cannot take a foreign decapsulation key, so without a device this fails closed).
      complete: async (ct: Uint8Array) => {
        try {
          return await deviceDecapsulate(ctx, set, secretKey, ct);
        } finally {
          secretKey.fill(0);
        }
      },
      wipe: () => secretKey.fill(0),
    };
  }

  async encapsulate(ek: Uint8Array): Promise<{ share: Uint8Array; secret: Uint8Array }> {
    const { set, ctx } = this;
    const started = ctx.scheduler.now();
    requireLength(ek, set.publicKey, `${set.name} encapsulation key`);
    let r: QuacBatchItemResult;
    try {
      r = await ctx.batcher.submit({ op: 'kem-encaps', alg: set.alg, publicKey: ek });
    } catch (e) {
      if (e instanceof QuacError && e.resultName === 'INVALID_PARAMETER') {
        // The only input left to refuse is the key's content: draft-ietf-tls-mlkem §4.2, FIPS 203 §7.2.
        throw new IllegalParameterError(`${set.name} encapsulation key fails the FIPS 203 §7.2 modulus check`);
      }
      if (!(ctx.fallback && isDeviceFailure(e))) throw e;
      const out = await (await this.fallback('kem-encaps')).encapsulate(ek);
      this.count('encaps', started);
      return out;
    }
    const out = { share: output(r, 'ciphertext', set.ciphertext, 'kem-encaps'), secret: output(r, 'sharedSecret', 32, 'kem-encaps') };
    this.count('encaps', started);
    return out;
  }
}

/** A classical group of the software provider as a component. */
class SoftwarePart implements AsyncPart {
  readonly clientShareLength: number;
  readonly serverShareLength: number;

  constructor(private readonly kx: KeyExchange) {
    this.clientShareLength = kx.clientShareLength;
    this.serverShareLength = kx.serverShareLength;
  }

  async generate(): Promise<AsyncPending> {
    const ks = await this.kx.generate();
    // The software share wipes its private half when completed; an abandoned one is left to the collector.
    return { share: ks.share, complete: (s) => ks.complete(s), wipe: () => undefined };
  }

  encapsulate(clientShare: Uint8Array): Promise<{ share: Uint8Array; secret: Uint8Array }> {
    return this.kx.encapsulate(clientShare);
  }
}

function join(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** Both halves concurrently (the card and the CPU work at once); on failure the other half's secret is zeroed. */
async function both<T>(a: Promise<T>, b: Promise<T>, secretOf: (t: T) => Uint8Array | undefined): Promise<[T, T]> {
  const [x, y] = await Promise.allSettled([a, b]);
  if (x.status === 'fulfilled' && y.status === 'fulfilled') return [x.value, y.value];
  for (const r of [x, y]) if (r.status === 'fulfilled') secretOf(r.value)?.fill(0);
  throw x.status === 'rejected' ? x.reason : (y as PromiseRejectedResult).reason;
}

/** `first ‖ second` for shares and secrets, draft-ietf-tls-ecdhe-mlkem §3.1. */
class HybridAsyncPart implements AsyncPart {
  readonly clientShareLength: number;
  readonly serverShareLength: number;

  constructor(private readonly first: AsyncPart, private readonly second: AsyncPart) {
    this.clientShareLength = first.clientShareLength + second.clientShareLength;
    this.serverShareLength = first.serverShareLength + second.serverShareLength;
  }

  async generate(): Promise<AsyncPending> {
    const [a, b] = await Promise.allSettled([this.first.generate(), this.second.generate()]);
    if (a.status === 'rejected' || b.status === 'rejected') {
      if (a.status === 'fulfilled') a.value.wipe();
      if (b.status === 'fulfilled') b.value.wipe();
      throw a.status === 'rejected' ? a.reason : (b as PromiseRejectedResult).reason;
    }
    const x = a.value;
    const y = b.value;
    const split = this.first.serverShareLength;
    return {
      share: join(x.share, y.share),
      complete: async (serverShare: Uint8Array) => {
        const [sa, sb] = await both(x.complete(serverShare.subarray(0, split)), y.complete(serverShare.subarray(split)), (s) => s);
        const out = join(sa, sb);
        sa.fill(0);
        sb.fill(0);
        return out;
      },
      wipe: () => {
        x.wipe();
        y.wipe();
      },
    };
  }

  async encapsulate(clientShare: Uint8Array): Promise<{ share: Uint8Array; secret: Uint8Array }> {
    const split = this.first.clientShareLength;
    const [x, y] = await both(this.first.encapsulate(clientShare.subarray(0, split)), this.second.encapsulate(clientShare.subarray(split)), (r) => r.secret);
    const secret = join(x.secret, y.secret);
    x.secret.fill(0);
    y.secret.fill(0);
    return { share: join(x.share, y.share), secret };
  }
}

const CLASSICAL: Readonly<Record<Exclude<KexComponent, `ML-KEM-${string}`>, NamedGroup>> = {
  'X25519': NamedGroup.x25519,
  'secp256r1': NamedGroup.secp256r1,
  'secp384r1': NamedGroup.secp384r1,
};

function component(c: KexComponent, ctx: KemContext): AsyncPart {
  if (isMlKemName(c)) return new DeviceMlKem(ML_KEM_SETS[c], ctx);
  return new SoftwarePart(ctx.software.keyExchange(CLASSICAL[c]));
}


/**
 * Every group the QUAC provider offers: the three ML-KEM sets and the hybrids
 * whose classical half the software provider has on the card side, and the
 * software provider's classical groups passed through unchanged.
 */
export function quacKeyExchanges(ctx: KemContext, providerName: string): Map<NamedGroup, KeyExchange> {
  const out = new Map<NamedGroup, KeyExchange>();
  const soft = new Set(ctx.software.groups);
  for (const h of HYBRID_LAYOUTS) {
    const classical = [h.first, h.second].find((c) => !isMlKemName(c));
    if (classical && !soft.has(CLASSICAL[classical as keyof typeof CLASSICAL])) continue;
    out.set(h.group, keyExchangeLifecycle(h.group, new HybridAsyncPart(component(h.first, ctx), component(h.second, ctx)), providerName));
  }
  for (const set of Object.values(ML_KEM_SETS)) out.set(set.group, keyExchangeLifecycle(set.group, new DeviceMlKem(set, ctx), providerName));
  for (const g of Object.values(CLASSICAL)) if (soft.has(g)) out.set(g, ctx.software.keyExchange(g));
  return out;
}
