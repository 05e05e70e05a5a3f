/**
 * Key exchange on SubtleCrypto: X25519 (where the runtime has it, else
 * noble), P-256 and P-384 ECDH natively, ML-KEM on noble; the groups, hybrid
 * layouts, checks and lifecycle are the shared ones (src/pq/kex-groups.ts,
 * src/pq/hybrid.ts, src/pq/kex-part.ts).
 *
 * ## Randomness
 * The private keys ARE the bytes drawn from the provider's source, in the
 * order {@link groupKeyExchanges} documents, so a seeded stream gives the same
 * shares and secrets as noble: each part draws synchronously when called and
 * only then awaits SubtleCrypto, and a hybrid calls its second part before
 * awaiting its first, so concurrent exchanges on one provider interleave
 * their draws exactly as noble's synchronous code does. The drawn bytes are
 * imported into SubtleCrypto (PKCS #8 for X25519, JWK for the NIST curves)
 * and zeroed; SubtleCrypto never generates a key here.
 *
 * Peer shares are checked before anything is drawn where noble checks them
 * first (the NIST curves: form, length and curve equation, on noble's point
 * decoder, which costs no multiplication), so even a refused share leaves
 * the stream where noble leaves it.
 */
import { p256, p384 } from '@noble/curves/nist.js';
import { ConfigError, IllegalParameterError } from '../../errors.js';
import { COMPONENT_SIZES, HYBRID_LAYOUTS, type HybridLayout, type KexComponent } from '../hybrid.js';
import { KEX_GROUPS } from '../kex-groups.js';
import { NamedGroup, type NamedGroup as Group } from '../ids.js';
import { keyExchangeLifecycle, requireLength, type AsyncPendingShare, type KexPart } from '../kex-part.js';
import { mlKemParts } from '../mlkem.js';
import type { KeyExchange } from '../provider.js';
import type { RandomSource } from '../random.js';
import { P256_PART, P384_PART, type NistEcdhPart } from '../noble/kex-nist.js';
import { X25519_PART } from '../noble/kex-x25519.js';
import { ml_kem1024, ml_kem512, ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import { okpPkcs8, type SubtleFeatures } from './detect.js';
import { base64url, fromBase64url } from './jwk.js';
import { buf } from './symmetric.js';

type Encapsulated = { share: Uint8Array; secret: Uint8Array };

/**
 * A {@link KexPart} whose work finishes on SubtleCrypto. Both methods draw
 * (and refuse a malformed share) synchronously, throwing at once, and return
 * a promise for the rest.
 */
export interface WebKexPart {
  readonly name: string;
  readonly clientShareLength: number;
  readonly serverShareLength: number;
  readonly secretLength: number;
  generate(random: RandomSource): Promise<AsyncPendingShare>;
  encapsulate(clientShare: Uint8Array, random: RandomSource): Promise<Encapsulated>;
}

/** A synchronous noble part as a {@link WebKexPart}: it draws and computes at once. */
function fromSync(part: KexPart): WebKexPart {
  return {
    name: part.name,
    clientShareLength: part.clientShareLength,
    serverShareLength: part.serverShareLength,
    secretLength: part.secretLength,
    generate: (random) => Promise.resolve(part.generate(random)),
    encapsulate: (clientShare, random) => Promise.resolve(part.encapsulate(clientShare, random)),
  };
}

const allZero = (b: Uint8Array): boolean => b.every((v) => v === 0);
const lowOrder = (): IllegalParameterError =>
  new IllegalParameterError('X25519 share is a low-order point: the shared secret is all-zero (RFC 8446 §7.4.2)');

/**
 * X25519 (RFC 7748) with the RFC 8446 §7.4.2 all-zero check, on SubtleCrypto
 * when `features` says the runtime has it, on noble's part (fed the very
 * bytes drawn) when not. One 32-byte draw per `generate` / `encapsulate`.
 */
class WebX25519Part implements WebKexPart {
  readonly name = 'X25519';
  readonly clientShareLength = 32;
  readonly serverShareLength = 32;
  readonly secretLength = 32;

  constructor(private readonly subtle: SubtleCrypto, private readonly features: () => Promise<SubtleFeatures>) {}

  /** The drawn key in SubtleCrypto, and its public half (read from its JWK, which carries `x`). */
  private async keyed(d: Uint8Array): Promise<{ key: CryptoKey; share: Uint8Array }> {
    try {
      // Extractable only so that its JWK gives the public key; the CryptoKey never leaves this module.
      const key = await this.subtle.importKey('pkcs8', okpPkcs8('X25519', d), { name: 'X25519' }, true, ['deriveBits']);
      return { key, share: fromBase64url((await this.subtle.exportKey('jwk', key)).x, 32) };
    } finally {
      d.fill(0);
    }
  }

  private async secret(key: CryptoKey, peer: Uint8Array): Promise<Uint8Array> {
    requireLength(peer, 32, 'X25519 share');
    let secret: Uint8Array;
    try {
      const pub = await this.subtle.importKey('raw', buf(peer), { name: 'X25519' }, false, []);
      secret = new Uint8Array(await this.subtle.deriveBits({ name: 'X25519', public: pub }, key, 256));
    } catch {
      // WebCrypto refuses to derive the all-zero secret (WebCrypto Secure Curves §X25519 derive bits).
      throw lowOrder();
    }
    if (allZero(secret)) throw lowOrder();
    return secret;
  }

  generate(random: RandomSource): Promise<AsyncPendingShare> {
    const d = random(32);
    return (async () => {
      if (!(await this.features()).x25519) return X25519_PART.generate(() => d);
      const keyed = await this.keyed(d);
      let key: CryptoKey | undefined = keyed.key;
      return {
        share: keyed.share,
        complete: (serverShare: Uint8Array) => {
          if (!key) throw new ConfigError('X25519 key share was wiped');
          return this.secret(key, serverShare);
        },
        // A CryptoKey cannot be zeroed; dropping the only reference is the most we can do.
        wipe: () => {
          key = undefined;
        },
      };
    })();
  }

  encapsulate(clientShare: Uint8Array, random: RandomSource): Promise<Encapsulated> {
    const d = random(32);
    return (async () => {
      if (!(await this.features()).x25519) return X25519_PART.encapsulate(clientShare, () => d);
      const { key, share } = await this.keyed(d);
      return { secret: await this.secret(key, clientShare), share };
    })();
  }
}

/**
 * ECDHE over secp256r1 / secp384r1 (RFC 8446 §4.2.8.2, §7.4.2) on SubtleCrypto:
 * noble's part draws the scalar (its rejection loop) and checks peer shares
 * (uncompressed, on the curve), noble computes our public point from the
 * scalar, and SubtleCrypto, given the key as a JWK, does the variable-base
 * multiplication that dominates the cost.
 */
class WebEcdhPart implements WebKexPart {
  readonly name: string;
  readonly clientShareLength: number;
  readonly serverShareLength: number;
  readonly secretLength: number;

  constructor(
    private readonly subtle: SubtleCrypto,
    private readonly part: NistEcdhPart,
    private readonly curve: typeof p256 | typeof p384,
    private readonly namedCurve: 'P-256' | 'P-384',
  ) {
    this.name = part.name;
    this.clientShareLength = part.clientShareLength;
    this.serverShareLength = part.serverShareLength;
    this.secretLength = part.secretLength;
  }

  /** Draws the scalar and computes the share synchronously; the scalar is zeroed once imported. */
  private draw(random: RandomSource): { share: Uint8Array; key: Promise<CryptoKey> } {
    const d = this.part.drawScalar(random);
    const share = this.curve.getPublicKey(d, false);
    const n = this.secretLength;
    const jwk: JsonWebKey = {
      kty: 'EC', crv: this.namedCurve, d: base64url(d), x: base64url(share.subarray(1, 1 + n)), y: base64url(share.subarray(1 + n)), ext: false,
    };
    d.fill(0);
    return { share, key: this.subtle.importKey('jwk', jwk, { name: 'ECDH', namedCurve: this.namedCurve }, false, ['deriveBits']) };
  }

  private async secret(key: CryptoKey, peer: Uint8Array): Promise<Uint8Array> {
    try {
      const pub = await this.subtle.importKey('raw', buf(peer), { name: 'ECDH', namedCurve: this.namedCurve }, false, []);
      return new Uint8Array(await this.subtle.deriveBits({ name: 'ECDH', public: pub }, key, 8 * this.secretLength));
    } catch {
      throw new IllegalParameterError(`${this.name} share is not a point on the curve (RFC 8446 §4.2.8.2)`);
    }
  }

  generate(random: RandomSource): Promise<AsyncPendingShare> {
    const { share, key: pending } = this.draw(random);
    return pending.then((k) => {
      let key: CryptoKey | undefined = k;
      return {
        share,
        complete: async (serverShare: Uint8Array) => {
          if (!key) throw new ConfigError(`${this.name} key share was wiped`);
          this.part.parsePeer(serverShare);
          return this.secret(key, serverShare);
        },
        wipe: () => {
          key = undefined;
        },
      };
    });
  }

  encapsulate(clientShare: Uint8Array, random: RandomSource): Promise<Encapsulated> {
    // Validate before drawing, as noble does, so a bad share costs no randomness and no multiplication.
    this.part.parsePeer(clientShare);
    const { share, key } = this.draw(random);
    return key.then(async (k) => ({ share, secret: await this.secret(k, clientShare) }));
  }
}

/** a ‖ b in one allocation; zeroes both inputs, as the shared hybrid does. */
function join(a: Uint8Array, b: Uint8Array, wipe: boolean): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  if (wipe) {
    a.fill(0);
    b.fill(0);
  }
  return out;
}

/** Settles a part started beside one that failed, and wipes what it made. */
function discard<T>(p: Promise<T>, wipe: (value: T) => void): void {
  p.then(wipe, () => undefined);
}

/**
 * The shared hybrid combinator (src/pq/hybrid.ts) for asynchronous parts, on the same
 * {@link HYBRID_LAYOUTS}: shares and secrets are `first ‖ second`, and
 * `first` draws first. The second part is called (and draws) before the
 * first is awaited; if the first refuses synchronously, the second is never
 * called, as in the synchronous hybrid.
 */
class WebHybridPart implements WebKexPart {
  readonly name: string;
  readonly clientShareLength: number;
  readonly serverShareLength: number;
  readonly secretLength: number;

  constructor(layout: HybridLayout, private readonly first: WebKexPart, private readonly second: WebKexPart) {
    this.name = layout.name;
    this.clientShareLength = first.clientShareLength + second.clientShareLength;
    this.serverShareLength = first.serverShareLength + second.serverShareLength;
    this.secretLength = first.secretLength + second.secretLength;
  }

  generate(random: RandomSource): Promise<AsyncPendingShare> {
    const pa = this.first.generate(random);
    let pb: Promise<AsyncPendingShare>;
    try {
      pb = this.second.generate(random);
    } catch (e) {
      discard(pa, (a) => a.wipe());
      throw e;
    }
    return (async () => {
      const [ra, rb] = await Promise.allSettled([pa, pb]);
      if (ra.status === 'rejected' || rb.status === 'rejected') {
        if (ra.status === 'fulfilled') ra.value.wipe();
        if (rb.status === 'fulfilled') rb.value.wipe();
        throw ra.status === 'rejected' ? ra.reason : (rb as PromiseRejectedResult).reason;
      }
      const [a, b] = [ra.value, rb.value];
      const split = this.first.serverShareLength;
      return {
        share: join(a.share, b.share, false),
        complete: async (serverShare: Uint8Array) => {
          const [sa, sb] = await Promise.allSettled([a.complete(serverShare.subarray(0, split)), b.complete(serverShare.subarray(split))]);
          if (sa.status === 'rejected' || sb.status === 'rejected') {
            if (sa.status === 'fulfilled') sa.value.fill(0);
            if (sb.status === 'fulfilled') sb.value.fill(0);
            throw sa.status === 'rejected' ? sa.reason : (sb as PromiseRejectedResult).reason;
          }
          return join(sa.value, sb.value, true);
        },
        wipe: () => {
          a.wipe();
          b.wipe();
        },
      };
    })();
  }

  encapsulate(clientShare: Uint8Array, random: RandomSource): Promise<Encapsulated> {
    const split = this.first.clientShareLength;
    const px = this.first.encapsulate(clientShare.subarray(0, split), random);
    let py: Promise<Encapsulated>;
    try {
      py = this.second.encapsulate(clientShare.subarray(split), random);
    } catch (e) {
      discard(px, (x) => x.secret.fill(0));
      throw e;
    }
    return (async () => {
      const [x, y] = await Promise.allSettled([px, py]);
      if (x.status === 'rejected' || y.status === 'rejected') {
        if (x.status === 'fulfilled') x.value.secret.fill(0);
        if (y.status === 'fulfilled') y.value.secret.fill(0);
        throw x.status === 'rejected' ? x.reason : (y as PromiseRejectedResult).reason;
      }
      return { share: join(x.value.share, y.value.share, false), secret: join(x.value.secret, y.value.secret, true) };
    })();
  }
}

const SOFTWARE_MLKEM = mlKemParts({ 'ML-KEM-512': ml_kem512, 'ML-KEM-768': ml_kem768, 'ML-KEM-1024': ml_kem1024 });

const SINGLE: ReadonlyMap<Group, KexComponent> = new Map<Group, KexComponent>([
  [NamedGroup.MLKEM512, 'ML-KEM-512'],
  [NamedGroup.MLKEM768, 'ML-KEM-768'],
  [NamedGroup.MLKEM1024, 'ML-KEM-1024'],
  [NamedGroup.x25519, 'X25519'],
  [NamedGroup.secp256r1, 'secp256r1'],
  [NamedGroup.secp384r1, 'secp384r1'],
]);

/** The same groups, in the same preference order, as the noble backend. */
export const WEBCRYPTO_GROUPS: readonly Group[] = KEX_GROUPS;

/**
 * Every group's {@link KeyExchange} on SubtleCrypto and noble, with the
 * shared lifecycle ({@link keyExchangeLifecycle}) and noble's draw order.
 */
export function webKeyExchanges(
  providerName: string, random: RandomSource, subtle: SubtleCrypto, features: () => Promise<SubtleFeatures>,
): ReadonlyMap<Group, KeyExchange> {
  const components: Record<KexComponent, WebKexPart> = {
    'X25519': new WebX25519Part(subtle, features),
    'secp256r1': new WebEcdhPart(subtle, P256_PART, p256, 'P-256'),
    'secp384r1': new WebEcdhPart(subtle, P384_PART, p384, 'P-384'),
    'ML-KEM-512': fromSync(SOFTWARE_MLKEM['ML-KEM-512']),
    'ML-KEM-768': fromSync(SOFTWARE_MLKEM['ML-KEM-768']),
    'ML-KEM-1024': fromSync(SOFTWARE_MLKEM['ML-KEM-1024']),
  };
  // The shared table's sizes, so that a wrong part cannot shift a hybrid's split.
  for (const [name, part] of Object.entries(components) as [KexComponent, WebKexPart][]) {
    const want = COMPONENT_SIZES[name];
    if (part.clientShareLength !== want.clientShareLength || part.serverShareLength !== want.serverShareLength || part.secretLength !== want.secretLength) {
      throw new ConfigError(`${part.name} does not have the sizes of ${name}`);
    }
  }
  const parts = new Map<Group, WebKexPart>();
  for (const layout of HYBRID_LAYOUTS) parts.set(layout.group, new WebHybridPart(layout, components[layout.first], components[layout.second]));
  for (const [group, component] of SINGLE) parts.set(group, components[component]);
  return new Map(KEX_GROUPS.map((g) => {
    const part = parts.get(g) as WebKexPart;
    return [g, keyExchangeLifecycle(g, {
      clientShareLength: part.clientShareLength,
      serverShareLength: part.serverShareLength,
      generate: () => part.generate(random),
      encapsulate: (clientShare) => part.encapsulate(clientShare, random),
    }, providerName)];
  }));
}
