/**
 * ML-DSA with device-held keys. A key made here is generated inside one card
 * (`signKeygenStored`, non-extractable) and named by a {@link QuacKeyRef}: the
 * device index, the 64-bit handle and the label. Signing sends `sign-stored`
 * to that device only; if it is out of the rotation, signing fails rather
 * than move (the key exists nowhere else). Export is refused.
 */
import { ConfigError, IllegalParameterError, KeyUnavailableError } from '../../errors.js';
import { schemeKeyAlgorithm, signingSchemeName, type MlDsaAlgorithm, type SigningScheme } from '../../pq/ids.js';
import type { KeyPair, PrivateKeyRef } from '../../pq/provider.js';
import type { Batcher } from './batcher.js';
import { QUAC_ALGORITHMS, quacSign, type QuacSignParameters } from './algorithms.js';
import { QuacError, QuacResult, type QuacKeyAttributes } from './device.js';
import type { QuacMetricsRecorder } from './metrics.js';
import type { DevicePool } from './pool.js';
import type { QuacScheduler } from './scheduler.js';

/** A private key that lives on a QUAC device; carries no key bytes. */
export interface QuacKeyRef extends PrivateKeyRef {
  readonly algorithm: MlDsaAlgorithm;
  readonly device: number;
  readonly handle: bigint;
  readonly label: string;
}

/** The card's parameters of an ML-DSA key algorithm (algorithms.ts, the one table). */
function params(alg: MlDsaAlgorithm): QuacSignParameters {
  const p = QUAC_ALGORITHMS.find((x): x is QuacSignParameters => x.kind === 'sign' && x.algorithm === alg);
  if (!p) throw new ConfigError(`the QUAC 100 has no ${alg}`);
  return p;
}

export function isMlDsa(a: unknown): a is MlDsaAlgorithm {
  return a === 'ml-dsa-44' || a === 'ml-dsa-65' || a === 'ml-dsa-87';
}

export function mlDsaOfScheme(s: SigningScheme): MlDsaAlgorithm | undefined {
  if (typeof s === 'string') return undefined;
  const a = schemeKeyAlgorithm(s);
  return isMlDsa(a) ? a : undefined;
}

function algOfId(id: number): MlDsaAlgorithm | undefined {
  return quacSign(id)?.algorithm;
}

export class DeviceSigner {
  /** Refs this provider made: a look-alike object is not one of them. */
  private readonly refs = new WeakSet<object>();

  constructor(
    private readonly providerName: string,
    private readonly pool: DevicePool,
    private readonly batcher: Batcher,
    private readonly metrics: QuacMetricsRecorder,
    private readonly scheduler: QuacScheduler,
  ) {}

  owns(key: PrivateKeyRef): key is QuacKeyRef {
    return this.refs.has(key);
  }

  private ref(alg: MlDsaAlgorithm, device: number, handle: bigint, label: string): QuacKeyRef {
    const r: QuacKeyRef = Object.freeze({ algorithm: alg, provider: this.providerName, device, handle, label });
    this.refs.add(r);
    return r;
  }

  /** A new non-extractable ML-DSA key on `device`, or the least-loaded device. */
  async create(alg: MlDsaAlgorithm, label: string, persistent: boolean, device?: number): Promise<KeyPair> {
    const pd = device === undefined ? await this.pool.acquire('sign-keygen-stored') : await this.pool.bound(device, 'sign-keygen-stored');
    const k = await this.pool.call(pd, 1, (d) => d.signKeygenStored(params(alg).alg, label, persistent));
    if (k.publicKey.length !== params(alg).publicKey) throw new QuacError(QuacResult.INTERNAL, 'sign-keygen-stored', 'public key of the wrong length');
    return { privateKey: this.ref(alg, pd.index, k.handle, label), publicKey: k.publicKey };
  }

  /**
   * The stored ML-DSA key with this label: devices are asked in index order
   * (those in the rotation), the first that has it wins.
   * @throws KeyUnavailableError if no usable device holds one.
   */
  async find(label: string): Promise<KeyPair> {
    for (const pd of this.pool.devices) {
      if (pd.state !== 'active') continue;
      const k = await this.pool.call(pd, 1, (d) => d.keyFind(label));
      if (!k) continue;
      const alg = algOfId(k.alg);
      if (!alg) throw new ConfigError(`stored key ${JSON.stringify(label)} on device ${pd.index} is not an ML-DSA key`);
      return { privateKey: this.ref(alg, pd.index, k.handle, label), publicKey: k.publicKey };
    }
    throw new KeyUnavailableError(`no QUAC device in the rotation holds a key labelled ${JSON.stringify(label)}`);
  }

  async sign(scheme: SigningScheme, key: QuacKeyRef, message: Uint8Array): Promise<Uint8Array> {
    if (mlDsaOfScheme(scheme) !== key.algorithm) {
      throw new ConfigError(`${signingSchemeName(scheme)} cannot sign with the ${key.algorithm} key ${JSON.stringify(key.label)}`);
    }
    const started = this.scheduler.now();
    const r = await this.batcher.submit({ op: 'sign-stored', handle: key.handle, message }, key.device);
    const sig = r.signature;
    if (!sig || sig.length !== params(key.algorithm).signature) throw new QuacError(QuacResult.INTERNAL, 'sign-stored', 'device returned no signature');
    this.metrics.sign.add({ operation: 'sign', algorithm: key.algorithm });
    this.metrics.signLatency.observe((this.scheduler.now() - started) / 1000);
    return sig;
  }

  /** FIPS 204 verification with the empty context TLS uses; false for anything that does not verify. */
  async verify(alg: MlDsaAlgorithm, publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
    const p = params(alg);
    if (publicKey.length !== p.publicKey) throw new IllegalParameterError(`${alg} public key has ${publicKey.length} bytes, expected ${p.publicKey}`);
    const started = this.scheduler.now();
    let valid = false;
    if (signature.length === p.signature) {
      const r = await this.batcher.submit({ op: 'verify', alg: p.alg, publicKey, message, signature });
      valid = r.valid === true;
    }
    this.metrics.sign.add({ operation: 'verify', algorithm: alg });
    this.metrics.signLatency.observe((this.scheduler.now() - started) / 1000);
    return valid;
  }

  /** The card's attributes of a stored key; QuacError KEY_NOT_FOUND once it is destroyed. */
  async attributes(key: QuacKeyRef): Promise<QuacKeyAttributes> {
    const pd = await this.pool.bound(key.device, 'key-attributes');
    return this.pool.call(pd, 1, (d) => d.keyAttributes(key.handle));
  }

  /** Destroys the key on its card: signing with it, or finding it, fails from then on. */
  async destroy(key: QuacKeyRef): Promise<void> {
    const pd = await this.pool.bound(key.device, 'key-destroy');
    await this.pool.call(pd, 1, (d) => d.keyDestroy(key.handle));
  }

  exportRefused(key: QuacKeyRef): never {
    throw new KeyUnavailableError(
      `${key.algorithm} key ${JSON.stringify(key.label)} lives on QUAC device ${key.device} (handle ${key.handle}) and is not extractable`,
    );
  }
}
