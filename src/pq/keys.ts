import { ConfigError } from '../errors.js';
import type { KeyAlgorithm, } from './ids.js';
import type { PrivateKeyRef } from './provider.js';

/**
 * Holds the secret behind each {@link PrivateKeyRef} a provider instance
 * hands out. The reference object carries no key bytes, so a ref that leaks into
 * logs or JSON leaks nothing, and a ref from another provider is refused.
 */
export class KeyStore<Secret> {
  private readonly secrets = new WeakMap<PrivateKeyRef, Secret>();
  constructor(private readonly provider: string) {}

  wrap(algorithm: KeyAlgorithm | 'kex', secret: Secret): PrivateKeyRef {
    const ref: PrivateKeyRef = Object.freeze({ algorithm, provider: this.provider });
    this.secrets.set(ref, secret);
    return ref;
  }

  unwrap(ref: PrivateKeyRef, algorithm?: KeyAlgorithm | 'kex'): Secret {
    const s = this.secrets.get(ref);
    if (s === undefined) throw new ConfigError(`private key does not belong to provider ${this.provider}`);
    if (algorithm !== undefined && ref.algorithm !== algorithm) {
      throw new ConfigError(`key is ${ref.algorithm}, operation needs ${algorithm}`);
    }
    return s;
  }
}
