/**
 * The QUAC 100 backend: a {@link CryptoProvider} whose ML-KEM and ML-DSA run
 * on one or more QUAC 100 cards, batched across connections, with signing
 * keys that never leave the card. Everything else (the classical half of a
 * hybrid, AEAD, hashes, HKDF, HMAC, header protection, Ed25519/ECDSA/RSA) is
 * delegated to a software provider, noble by default, with identical byte
 * formats: a QUAC server talks to a noble client and the reverse.
 *
 * Behaviour, in one place (each pinned by a test in test/hw/):
 * - Key exchange: ML-KEM-512/768/1024 and the ML-KEM half of every hybrid on
 *   the card (kex.ts), laid out by the shared hybrid table (src/pq/hybrid.ts); the
 *   classical half is the software provider's own KeyExchange. Client key
 *   shares come from a pre-generated stock when `keyPool` is on (key-pool.ts).
 * - Signing: `generateKeyPair('ml-dsa-*')` and `createStoredKey` make a
 *   non-extractable key on one card; its {@link QuacKeyRef} names the device,
 *   handle and label; `exportPrivateKey` refuses it (KeyUnavailableError, as
 *   the CryptoProvider contract says for device keys); signing goes to that
 *   card only and fails if it is out. `importPrivateKey` hands the material to
 *   the software provider: such a key is NOT device-held.
 * - Pool (pool.ts): least-loaded dispatch; device faults and bad health take a
 *   card out, probes (health + self-test) bring it back after a back-off; a
 *   failed self-test is final. A lost batch is retried once on another card.
 * - Batching (batcher.ts): up to `batch.maxSize` items per call, or after
 *   `batch.maxWaitMs`; per-item results; a bounded queue.
 * - FIPS (fips.ts): the library is initialised in FIPS mode, every card runs
 *   its known-answer self-tests before use, non-approved algorithms are
 *   refused, and there is no software fallback.
 * - Never weaker: key material and random bytes come from a card or, only
 *   with `fallback: 'software'`, from the software provider, counted per
 *   operation in `software_fallbacks_total`. Only device faults fall back
 *   (never a refused input); a key share generated on a card is decapsulated
 *   on a card or not at all. Otherwise the call fails closed with a
 *   {@link QuacError}.
 */
import { ConfigError, UnsupportedAlgorithmError } from '../../errors.js';
import { createNobleProvider } from '../../pq/index.js';
import {
  groupName, type AeadAlgorithm, type HashAlgorithm, type HeaderProtectionAlgorithm,
  type KeyAlgorithm, type MlDsaAlgorithm, type NamedGroup, type SignatureScheme, type SigningScheme,
} from '../../pq/ids.js';
import type { CryptoProvider, KeyExchange, KeyPair, PrivateKeyMaterial, PrivateKeyRef, VerifyOptions } from '../../pq/provider.js';
import { createQuacPool, noCardError, poolParts, type QuacPool, type QuacPoolOptions } from './cards.js';
import { QuacError, QuacResult, type QuacKeyAttributes } from './device.js';
import { fipsAllowsAead, fipsAllowsGroup, fipsAllowsHeaderProtection } from './fips.js';
import { KeyPool, type KeyPoolOptions } from './key-pool.js';
import { isDeviceFailure, quacKeyExchanges } from './kex.js';
import type { QuacMetricsSnapshot } from './metrics.js';
import { DeviceSigner, isMlDsa, mlDsaOfScheme, type QuacKeyRef } from './signing.js';

const RANDOM_CHUNK = 65536;
/** Numbers providers in this process, so generated key labels differ between providers sharing a pool. */
let instances = 0;

export interface QuacProviderOptions extends QuacPoolOptions {
  /**
   * Cards shared with other providers (from {@link createQuacPool}); instead of
   * `library`/`devices` and the pool options. `close()` leaves a shared pool open.
   */
  readonly pool?: QuacPool;
  /** The software provider for everything that is not ML-KEM or ML-DSA. Default `createNobleProvider()`. */
  readonly software?: CryptoProvider;
  /** FIPS mode: library initialised with QUAC_INIT_FIPS_MODE, non-approved algorithms refused (see fips.ts). */
  readonly fips?: boolean;
  /** Pre-generated client ML-KEM keys; `false` turns it off. Default `{ algorithms: ['ML-KEM-768'], low: 8, high: 32 }`. */
  readonly keyPool?: KeyPoolOptions | false;
  /** `software`: when no device is usable, ML-KEM, verification and random go to the software provider (counted). Default `none`. */
  readonly fallback?: 'none' | 'software';
  /** Where ML-DSA verification runs. Default `device`. */
  readonly verifyOn?: 'device' | 'software';
}

export interface StoredKeyOptions {
  /** Survives a power cycle of the card. Default false. */
  readonly persistent?: boolean;
  /** The device index to create it on (key rotation keeps a label on one card). Default the least-loaded device. */
  readonly device?: number;
}

export interface QuacProvider extends CryptoProvider {
  /** A new non-extractable ML-DSA key stored on the least-loaded device under `label`. */
  createStoredKey(alg: MlDsaAlgorithm, label: string, options?: StoredKeyOptions): Promise<KeyPair>;
  /** The stored ML-DSA key labelled `label` (devices in index order); KeyUnavailableError if none holds it. */
  storedKey(label: string): Promise<KeyPair>;
  /** The card's attributes of a stored key (a {@link QuacKeyRef} this provider made); QuacError KEY_NOT_FOUND once destroyed. */
  storedKeyAttributes(key: PrivateKeyRef): Promise<QuacKeyAttributes>;
  /** Destroys a stored key on its card (`quac_key_destroy`); signing with it fails from then on. */
  destroyStoredKey(key: PrivateKeyRef): Promise<void>;
  /** Counters, latency histograms and per-device health, as plain data. */
  metrics(): QuacMetricsSnapshot;
  /** Polls every device's health now; probes devices whose back-off has passed. */
  pollHealth(): Promise<void>;
  /** Fills the key pool to its high-water mark (start-up warm-up). */
  warmUp(): Promise<void>;
  /**
   * Zeroes pooled keys. Unless the cards are a shared `pool`: closes them too (see {@link QuacPool.close}), so
   * queued and later work is refused with QUAC_ERROR_NOT_INITIALIZED, never a fallback.
   */
  close(): Promise<void>;
}

/**
 * Opens the devices, runs every device's known-answer self-test (a device that
 * fails it is never used), and returns the provider.
 * @throws QuacError DEVICE_NOT_FOUND / SELF_TEST_FAILED when no device passed,
 *   unless `fallback: 'software'` (refused in FIPS mode).
 */
export async function createQuacProvider(options: QuacProviderOptions): Promise<QuacProvider> {
  const fips = options.fips === true;
  const fallback = options.fallback === 'software';
  if (fips && fallback) throw new ConfigError('createQuacProvider: FIPS mode cannot fall back to software ML-KEM/ML-DSA');
  const software = options.software ?? createNobleProvider();
  if (options.pool && (options.library || options.devices)) throw new ConfigError('createQuacProvider: give pool, or library/devices, not both');
  if (options.pool && options.pool.fips !== fips) throw new ConfigError(`createQuacProvider: fips is ${fips} but the pool's is ${options.pool.fips}`);
  const shared = options.pool;
  const cards = shared ?? await createQuacPool(options);
  const { devices: pool, batcher, metrics, scheduler, keyStocks } = poolParts(cards);
  const name = 'quac100';
  if (!pool.usable() && !fallback) {
    if (!shared) await cards.close();
    throw noCardError(poolParts(cards));
  }
  const keyPool = options.keyPool === false ? undefined : new KeyPool(pool, metrics, options.keyPool);
  const stock = () => keyPool?.available() ?? [];
  keyStocks.add(stock);
  const signer = new DeviceSigner(name, pool, batcher, metrics, scheduler);
  const kex = quacKeyExchanges({ batcher, keyPool, metrics, scheduler, software, fallback }, name);
  // The software provider's preference order, then any ML-KEM group it lacks.
  const groups = [...software.groups.filter((g) => kex.has(g)), ...[...kex.keys()].filter((g) => !software.groups.includes(g))]
    .filter((g) => !fips || fipsAllowsGroup(g));
  // Every scheme of the software provider: ML-DSA signs on the card (device keys) or in software (imported keys).
  const signatureSchemes: readonly SignatureScheme[] = software.signatureSchemes;
  const instance = ++instances;
  let stored = 0;

  const ownRef = (key: PrivateKeyRef): QuacKeyRef => {
    if (!signer.owns(key)) throw new ConfigError('not a stored key of this QUAC provider');
    return key;
  };

  const useFallback = async <T>(operation: string, e: unknown, f: () => Promise<T>): Promise<T> => {
    if (!(fallback && isDeviceFailure(e))) throw e;
    metrics.fallbacks.add({ operation });
    return f();
  };

  const provider: QuacProvider = {
    name,
    groups,
    signatureSchemes,
    random: async (length: number) => {
      try {
        const out = new Uint8Array(length);
        // quac_random_bytes serves at most 64 KiB a call (quac100.h).
        for (let o = 0; o < length; o += RANDOM_CHUNK) {
          const n = Math.min(RANDOM_CHUNK, length - o);
          const chunk = await pool.run('random', 1, (d) => d.randomBytes(n));
          if (chunk.length !== n) throw new QuacError(QuacResult.INTERNAL, 'random', `device returned ${chunk.length} of ${n} bytes`);
          out.set(chunk, o);
        }
        return out;
      } catch (e) {
        return useFallback('random', e, () => software.random(length));
      }
    },
    hash: (alg: HashAlgorithm) => software.hash(alg),
    hmac: (alg, key, data) => software.hmac(alg, key, data),
    hkdfExtract: (alg, salt, ikm) => software.hkdfExtract(alg, salt, ikm),
    hkdfExpand: (alg, prk, info, length) => software.hkdfExpand(alg, prk, info, length),
    aead: async (alg: AeadAlgorithm, key: Uint8Array) => {
      if (fips && !fipsAllowsAead(alg)) throw new UnsupportedAlgorithmError(`${alg} is not FIPS-approved`);
      return software.aead(alg, key);
    },
    headerProtection: async (alg: HeaderProtectionAlgorithm, key: Uint8Array) => {
      if (fips && !fipsAllowsHeaderProtection(alg)) throw new UnsupportedAlgorithmError(`${alg} header protection is not FIPS-approved`);
      return software.headerProtection(alg, key);
    },
    keyExchange: (group: NamedGroup): KeyExchange => {
      const k = kex.get(group);
      if (!k) throw new UnsupportedAlgorithmError(`quac100 provider has no key exchange for group ${groupName(group)}`);
      if (fips && !fipsAllowsGroup(group)) throw new UnsupportedAlgorithmError(`${groupName(group)} is not FIPS-approved`);
      return k;
    },
    sign: async (scheme: SigningScheme, key: PrivateKeyRef, message: Uint8Array) => {
      if (signer.owns(key)) return signer.sign(scheme, key, message);
      return software.sign(scheme, key, message);
    },
    verify: async (scheme: SigningScheme, publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array, opts?: VerifyOptions) => {
      const alg = mlDsaOfScheme(scheme);
      if (!alg || options.verifyOn === 'software') return software.verify(scheme, publicKey, message, signature, opts);
      try {
        return await signer.verify(alg, publicKey, message, signature);
      } catch (e) {
        return useFallback('verify', e, () => software.verify(scheme, publicKey, message, signature, opts));
      }
    },
    generateKeyPair: async (alg: KeyAlgorithm): Promise<KeyPair> => {
      if (!isMlDsa(alg)) return software.generateKeyPair(alg);
      // A session key (gone when its device handle closes) under a label unique to this provider.
      return signer.create(alg, `pqtls-${instance}-${alg}-${++stored}`, false);
    },
    // Imported key material is software material: the key signs in the software provider and is NOT device-held.
    // Put a key on the card with createStoredKey instead (the card cannot import keys: they are made inside it).
    importPrivateKey: (material: PrivateKeyMaterial) => software.importPrivateKey(material),
    exportPrivateKey: async (key: PrivateKeyRef): Promise<PrivateKeyMaterial> => {
      if (signer.owns(key)) return signer.exportRefused(key);
      return software.exportPrivateKey(key);
    },
    createStoredKey: async (alg: MlDsaAlgorithm, label: string, o: StoredKeyOptions = {}) => {
      if (!isMlDsa(alg)) throw new ConfigError(`stored keys are ML-DSA keys, not ${String(alg)}`);
      return signer.create(alg, label, o.persistent === true, o.device);
    },
    storedKeyAttributes: async (key: PrivateKeyRef) => signer.attributes(ownRef(key)),
    destroyStoredKey: async (key: PrivateKeyRef) => signer.destroy(ownRef(key)),
    storedKey: (label: string) => signer.find(label),
    metrics: () => cards.metrics(),
    pollHealth: () => cards.pollHealth(),
    warmUp: async () => keyPool?.fill(),
    close: async () => {
      keyPool?.close();
      keyStocks.delete(stock);
      if (!shared) await cards.close();
    },
  };
  // The key pool fills in the background from the start; a failure leaves it short, never filled otherwise.
  void keyPool?.fill();
  return Object.freeze(provider);
}

export type { QuacKeyRef };
