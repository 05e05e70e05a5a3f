/**
 * A CryptoProvider wrapper that times every call into the wrapped provider, so
 * a benchmark can split a handshake's cost into "inside the primitives" and
 * "everything else" (the engine, codecs, X.509 parsing).
 *
 * Time is wall time from the call to the settlement of its promise (or the
 * return, for synchronous methods). The benchmark runs one connection step at a
 * time on one thread, so nothing else runs in those intervals but microtask
 * hops. Overlapping calls (a Promise.all) are counted once in `totalMs`, which
 * is the union of the intervals; the per-primitive figures are per call.
 */
import { groupName, signingSchemeName } from '../src/pq/ids.js';
import type {
  AeadKey, CryptoProvider, HashContext, HashFunction, KeyExchange, KeyShare,
} from '../src/pq/provider.js';

export interface PrimitiveStats {
  calls: number;
  ms: number;
}

/** Accumulates provider time; `context` labels calls made while it is set (e.g. chain verification). */
export class ProviderClock {
  totalMs = 0;
  readonly primitives = new Map<string, PrimitiveStats>();
  context: string | undefined;
  private active = 0;
  private since = 0;

  reset(): void {
    this.totalMs = 0;
    this.primitives.clear();
  }

  /** Times a synchronous call. */
  sync<T>(name: string, f: () => T): T {
    const t0 = this.enter();
    try {
      return f();
    } finally {
      this.leave(name, t0);
    }
  }

  /** Times an asynchronous call until its promise settles. */
  async async<T>(name: string, f: () => Promise<T>): Promise<T> {
    const t0 = this.enter();
    try {
      return await f();
    } finally {
      this.leave(name, t0);
    }
  }

  private enter(): number {
    const t0 = performance.now();
    if (this.active++ === 0) this.since = t0;
    return t0;
  }

  private leave(name: string, t0: number): void {
    const t1 = performance.now();
    if (--this.active === 0) this.totalMs += t1 - this.since;
    const key = this.context === undefined ? name : `${name} (${this.context})`;
    const s = this.primitives.get(key);
    if (s) {
      s.calls++;
      s.ms += t1 - t0;
    } else {
      this.primitives.set(key, { calls: 1, ms: t1 - t0 });
    }
  }
}

function timedContext(ctx: HashContext, name: string, clock: ProviderClock): HashContext {
  const wrapped: HashContext = {
    update(data: Uint8Array) {
      clock.sync(`${name} update`, () => ctx.update(data));
      return this;
    },
    digest: () => clock.sync(`${name} digest`, () => ctx.digest()),
    clone: () => timedContext(clock.sync(`${name} clone`, () => ctx.clone()), name, clock),
  };
  return wrapped;
}

function timedHash(fn: HashFunction, clock: ProviderClock): HashFunction {
  const name = fn.algorithm;
  return {
    algorithm: fn.algorithm,
    outputLength: fn.outputLength,
    blockLength: fn.blockLength,
    create: () => timedContext(clock.sync(`${name} create`, () => fn.create()), name, clock),
    digest: (data) => clock.sync(`${name} digest`, () => fn.digest(data)),
  };
}

function timedAead(key: AeadKey, clock: ProviderClock): AeadKey {
  return {
    algorithm: key.algorithm,
    tagLength: key.tagLength,
    nonceLength: key.nonceLength,
    seal: (nonce, aad, plaintext) => clock.async(`${key.algorithm} seal`, () => key.seal(nonce, aad, plaintext)),
    open: (nonce, aad, ciphertext) => clock.async(`${key.algorithm} open`, () => key.open(nonce, aad, ciphertext)),
  };
}

function timedKeyExchange(kex: KeyExchange, clock: ProviderClock): KeyExchange {
  const name = groupName(kex.group);
  const wrapShare = (share: KeyShare): KeyShare => ({
    group: share.group,
    share: share.share,
    privateKey: share.privateKey,
    complete: (serverShare) => clock.async(`${name} complete`, () => share.complete(serverShare)),
  });
  return {
    group: kex.group,
    clientShareLength: kex.clientShareLength,
    serverShareLength: kex.serverShareLength,
    generate: async () => wrapShare(await clock.async(`${name} generate`, () => kex.generate())),
    encapsulate: (clientShare) => clock.async(`${name} encapsulate`, () => kex.encapsulate(clientShare)),
  };
}

/** `inner` with every operation timed into `clock`. */
export function timedProvider(inner: CryptoProvider, clock: ProviderClock): CryptoProvider {
  return {
    name: inner.name,
    groups: inner.groups,
    signatureSchemes: inner.signatureSchemes,
    random: (length) => clock.async('random', () => inner.random(length)),
    hash: (alg) => timedHash(clock.sync(`hash(${alg})`, () => inner.hash(alg)), clock),
    hmac: (alg, key, data) => clock.async(`HMAC-${alg}`, () => inner.hmac(alg, key, data)),
    hkdfExtract: (alg, salt, ikm) => clock.async(`HKDF-Extract-${alg}`, () => inner.hkdfExtract(alg, salt, ikm)),
    hkdfExpand: (alg, prk, info, length) => clock.async(`HKDF-Expand-${alg}`, () => inner.hkdfExpand(alg, prk, info, length)),
    aead: async (alg, key) => timedAead(await clock.async(`${alg} key`, () => inner.aead(alg, key)), clock),
    headerProtection: (alg, key) => clock.async(`${alg} header protection key`, () => inner.headerProtection(alg, key)),
    keyExchange: (group) => timedKeyExchange(clock.sync(`keyExchange(${groupName(group)})`, () => inner.keyExchange(group)), clock),
    sign: (scheme, key, message) => clock.async(`sign ${signingSchemeName(scheme)}`, () => inner.sign(scheme, key, message)),
    verify: (scheme, publicKey, message, signature, options) =>
      clock.async(`verify ${signingSchemeName(scheme)}`, () => inner.verify(scheme, publicKey, message, signature, options)),
    generateKeyPair: (alg) => clock.async(`generateKeyPair ${alg}`, () => inner.generateKeyPair(alg)),
    importPrivateKey: (material) => clock.async(`importPrivateKey ${material.algorithm}`, () => inner.importPrivateKey(material)),
    exportPrivateKey: (key) => clock.async(`exportPrivateKey ${key.algorithm}`, () => inner.exportPrivateKey(key)),
  };
}
