/**
 * Key exchange on node:crypto: X25519, secp256r1 and secp384r1 natively, and
 * ML-KEM natively where the runtime has it (src/node/crypto/native-pq.ts) or
 * on @noble/post-quantum (Node 20 has no ML-KEM), plugged into the
 * shared group table (src/pq/kex-groups.ts) that the noble backend uses too,
 * so the hybrid layouts (ML-KEM first only in X25519MLKEM768) cannot drift
 * apart.
 *
 * Every random byte is drawn from the injected source in the order the group
 * table documents, and the private keys ARE those bytes, so a seeded stream
 * gives byte-identical shares and secrets on either backend.
 */
import { createECDH, diffieHellman, generateKeyPairSync, type ECDH, type KeyObject } from 'node:crypto';
import { ml_kem1024, ml_kem512, ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import { ConfigError, IllegalParameterError } from '../../errors.js';
import { bytesToBigInt } from '../../pq/bigint.js';
import type { KexComponent } from '../../pq/hybrid.js';
import type { NamedGroup } from '../../pq/ids.js';
import { groupKeyExchanges, KEX_GROUPS } from '../../pq/kex-groups.js';
import { requireLength, type KexPart, type PendingShare } from '../../pq/kex-part.js';
import { mlKemParts } from '../../pq/mlkem.js';
import type { KeyExchange } from '../../pq/provider.js';
import type { RandomSource } from '../../pq/random.js';
import { okpPrivateKey, okpPublicKey, okpRawPublicKey } from './key-objects.js';
import { NativeMlKemPart } from './native-pq.js';
import { ffiMlKemPart, ffiX25519Part } from './ffi-kex.js';
import type { OpensslPkey } from './openssl-pkey.js';
import type { MlKemName } from '../../pq/mlkem.js';

/**
 * X25519 (RFC 7748) with the RFC 8446 §7.4.2 all-zero check. OpenSSL refuses
 * to derive an all-zero secret, so a derivation failure on a 32-byte share is
 * exactly that case.
 */
function x25519Secret(privateKey: KeyObject, peerShare: Uint8Array): Uint8Array {
  requireLength(peerShare, 32, 'X25519 share');
  try {
    return new Uint8Array(diffieHellman({ privateKey, publicKey: okpPublicKey('X25519', peerShare) }));
  } catch {
    throw new IllegalParameterError('X25519 share is a low-order point: the shared secret is all-zero (RFC 8446 §7.4.2)');
  }
}

/** A private KeyObject from one 32-byte draw (which is the private key itself); the drawn bytes are zeroed. */
function x25519Key(random: RandomSource): KeyObject {
  const d = random(32);
  try {
    return okpPrivateKey('X25519', d);
  } finally {
    d.fill(0);
  }
}

/**
 * X25519 as a {@link KexPart}. With a random source of the caller's, one
 * 32-byte draw per `generate` / `encapsulate` is the private key. On OpenSSL's
 * own generator (`ownRandomness`, the provider's default source anyway) OpenSSL
 * makes the key pair itself: the same distribution, without importing a key
 * (~70 µs on Node 24, where the import's argument checks throw and catch), and
 * the private key never exists as JavaScript bytes or strings. node cannot zero
 * a KeyObject, so `wipe` drops the reference and refuses further use.
 */
export function nodeX25519Part(ownRandomness: boolean): KexPart {
  const keyPair = (random: RandomSource): { privateKey: KeyObject; share: Uint8Array } => {
    if (ownRandomness) {
      const { privateKey, publicKey } = generateKeyPairSync('x25519');
      return { privateKey, share: okpRawPublicKey(publicKey) };
    }
    const privateKey = x25519Key(random);
    return { privateKey, share: okpRawPublicKey(privateKey) };
  };
  return Object.freeze({
    name: 'X25519',
    clientShareLength: 32,
    serverShareLength: 32,
    secretLength: 32,
    generate(random: RandomSource): PendingShare {
      const pair = keyPair(random);
      let key: KeyObject | undefined = pair.privateKey;
      return {
        share: pair.share,
        complete: (serverShare: Uint8Array) => {
          if (!key) throw new ConfigError('X25519 key share was wiped');
          return x25519Secret(key, serverShare);
        },
        wipe: () => {
          key = undefined;
        },
      };
    },
    encapsulate(clientShare: Uint8Array, random: RandomSource) {
      // The draw first, then the secret before the share, as noble: a low-order client share is refused
      // before any share is produced.
      const pair = keyPair(random);
      const secret = x25519Secret(pair.privateKey, clientShare);
      return { share: pair.share, secret };
    },
  });
}

/** X25519 on the caller's random source: one 32-byte draw per `generate` / `encapsulate`. */
export const NODE_X25519_PART: KexPart = nodeX25519Part(false);

/** Draws far beyond any plausible rejection streak, as noble does. */
const MAX_SCALAR_DRAWS = 64;

/**
 * ECDHE over secp256r1 / secp384r1 (RFC 8446 §4.2.8.2, §7.4.2). Shares are
 * uncompressed SEC 1 points: node's `computeSecret` would also take a
 * compressed one, so the form is checked here before OpenSSL checks the curve
 * equation. The secret is the X coordinate, field-length bytes.
 *
 * Randomness: a field-length draw used as the big-endian scalar, redrawn while
 * it is 0 or ≥ n (the same rejection noble performs).
 */
export class NodeEcdhPart implements KexPart {
  readonly clientShareLength: number;
  readonly serverShareLength: number;

  constructor(
    readonly name: string,
    private readonly curve: 'prime256v1' | 'secp384r1',
    readonly secretLength: number,
    private readonly order: bigint,
  ) {
    this.clientShareLength = this.serverShareLength = 1 + 2 * secretLength;
    Object.freeze(this);
  }

  private drawScalar(random: RandomSource): Uint8Array {
    for (let i = 0; i < MAX_SCALAR_DRAWS; i++) {
      const candidate = random(this.secretLength);
      const s = bytesToBigInt(candidate);
      if (s > 0n && s < this.order) return candidate;
      candidate.fill(0);
    }
    throw new ConfigError(`random source gave ${MAX_SCALAR_DRAWS} invalid ${this.name} scalars in a row`);
  }

  private checkPeer(share: Uint8Array): void {
    requireLength(share, this.clientShareLength, `${this.name} share`);
    if (share[0] !== 0x04) throw new IllegalParameterError(`${this.name} share is not an uncompressed point (RFC 8446 §4.2.8.2)`);
  }

  private secret(ecdh: ECDH, peer: Uint8Array): Uint8Array {
    try {
      return new Uint8Array(ecdh.computeSecret(peer));
    } catch {
      throw new IllegalParameterError(`${this.name} share is not a point on the curve (RFC 8446 §4.2.8.2)`);
    }
  }

  private keyed(scalar: Uint8Array): ECDH {
    const ecdh = createECDH(this.curve);
    ecdh.setPrivateKey(scalar);
    return ecdh;
  }

  generate(random: RandomSource): PendingShare {
    const scalar = this.drawScalar(random);
    let ecdh: ECDH | undefined = this.keyed(scalar);
    scalar.fill(0);
    return {
      share: new Uint8Array(ecdh.getPublicKey()),
      complete: (serverShare: Uint8Array) => {
        if (!ecdh) throw new ConfigError(`${this.name} key share was wiped`);
        this.checkPeer(serverShare);
        return this.secret(ecdh, serverShare);
      },
      // node cannot zero an ECDH object's key; dropping the reference is the most we can do.
      wipe: () => {
        ecdh = undefined;
      },
    };
  }

  encapsulate(clientShare: Uint8Array, random: RandomSource): { share: Uint8Array; secret: Uint8Array } {
    // Validate the form before drawing, as noble does, so a bad share costs no randomness.
    this.checkPeer(clientShare);
    const scalar = this.drawScalar(random);
    const ecdh = this.keyed(scalar);
    scalar.fill(0);
    return { secret: this.secret(ecdh, clientShare), share: new Uint8Array(ecdh.getPublicKey()) };
  }
}

const P256_ORDER = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const P384_ORDER = 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n;
export const NODE_P256_PART = new NodeEcdhPart('secp256r1', 'prime256v1', 32, P256_ORDER);
export const NODE_P384_PART = new NodeEcdhPart('secp384r1', 'secp384r1', 48, P384_ORDER);

const OWN_RANDOMNESS_X25519_PART = nodeX25519Part(true);

/** The same groups, in the same preference order, as the noble backend. */
export const NODE_GROUPS: readonly NamedGroup[] = KEX_GROUPS;

const SOFTWARE_MLKEM = mlKemParts({ 'ML-KEM-512': ml_kem512, 'ML-KEM-768': ml_kem768, 'ML-KEM-1024': ml_kem1024 });

/**
 * How ML-KEM runs: on OpenSSL or not, and whether OpenSSL may draw
 * encapsulation's randomness itself (`ownRandomness`, which also lets OpenSSL
 * make the X25519 key pairs: see {@link nodeX25519Part}).
 */
export interface NodeMlKem {
  readonly native: boolean;
  readonly ownRandomness: boolean;
  /**
   * X25519 (and ML-KEM, unless `mlKemFfi` is false) on OpenSSL through koffi
   * (./ffi-kex.ts) whenever this returns the binding; absent or undefined: the
   * parts above. Called per operation: the binding is probed on first use.
   */
  readonly pkey?: () => OpensslPkey | undefined;
  readonly mlKemFfi?: boolean;
}

function components(mlKem: NodeMlKem): Readonly<Record<KexComponent, KexPart>> {
  const { pkey } = mlKem;
  const kem = (name: MlKemName): KexPart => {
    const part = mlKem.native ? new NativeMlKemPart(name, SOFTWARE_MLKEM[name], mlKem.ownRandomness) : SOFTWARE_MLKEM[name];
    return pkey && mlKem.mlKemFfi !== false ? ffiMlKemPart(pkey, name, SOFTWARE_MLKEM[name], mlKem.ownRandomness, part) : part;
  };
  const x25519 = mlKem.ownRandomness ? OWN_RANDOMNESS_X25519_PART : NODE_X25519_PART;
  return Object.freeze({
    'X25519': pkey ? ffiX25519Part(pkey, mlKem.ownRandomness, x25519) : x25519,
    'secp256r1': NODE_P256_PART,
    'secp384r1': NODE_P384_PART,
    'ML-KEM-512': kem('ML-KEM-512'),
    'ML-KEM-768': kem('ML-KEM-768'),
    'ML-KEM-1024': kem('ML-KEM-1024'),
  });
}

/**
 * Every group's {@link KeyExchange} on node:crypto, with the lifecycle and
 * randomness order of the noble backend (see `groupKeyExchanges`); the
 * hybrids take their ML-KEM half from the same parts.
 */
export function nodeKeyExchanges(providerName: string, random: RandomSource, mlKem: NodeMlKem): ReadonlyMap<NamedGroup, KeyExchange> {
  return groupKeyExchanges(components(mlKem), providerName, random);
}
