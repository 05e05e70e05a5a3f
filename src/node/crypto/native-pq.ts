/**
 * ML-KEM (FIPS 203) and ML-DSA (FIPS 204) on node:crypto, for runtimes whose
 * OpenSSL has them (Node ≥ 24.7 ships OpenSSL 3.5 with both). Detected once, by
 * trying the operations, not by version string: a Node built against another
 * OpenSSL, or a future runtime, gets whatever it really has.
 *
 * Private keys reach OpenSSL as PEM text of PKCS #8 with the seed-only key
 * (RFC 9881 / draft-ietf-lamps-kyber-certificates: `seed [0] IMPLICIT OCTET
 * STRING`), so a key is the very seed the provider drew and generation is
 * byte-identical to noble's. A peer's public key goes in raw where node
 * imports that, with stack captures off (see `withoutStackTraces`), else as a
 * PEM SubjectPublicKeyInfo; either import performs FIPS 203 §7.2's modulus
 * check on an encapsulation key.
 */
import * as nodeCrypto from 'node:crypto';
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { IllegalParameterError } from '../../errors.js';
import { bits, integer, octets, oid, sequence, tlv } from '../../codec/der.js';
import type { MlDsaAlgorithm } from '../../pq/ids.js';
import { requireLength, type KexPart, type PendingShare } from '../../pq/kex-part.js';
import type { MlKemName } from '../../pq/mlkem.js';
import type { RandomSource } from '../../pq/random.js';
import { exportRawPublic, importRawPublic, pem, withoutStackTraces } from './key-objects.js';

/** What Node 24 adds to node:crypto; absent from the type definitions of older Nodes. */
interface KemFunctions {
  encapsulate(key: KeyObject): { sharedKey: Uint8Array; ciphertext: Uint8Array };
  decapsulate(key: KeyObject, ciphertext: Uint8Array): Uint8Array;
}

const KEM_OID: Readonly<Record<MlKemName, string>> = {
  'ML-KEM-512': '2.16.840.1.101.3.4.4.1',
  'ML-KEM-768': '2.16.840.1.101.3.4.4.2',
  'ML-KEM-1024': '2.16.840.1.101.3.4.4.3',
};
const KEM_TYPE = { 'ML-KEM-512': 'ml-kem-512', 'ML-KEM-768': 'ml-kem-768', 'ML-KEM-1024': 'ml-kem-1024' } as const;
const DSA_OID: Readonly<Record<MlDsaAlgorithm, string>> = {
  'ml-dsa-44': '2.16.840.1.101.3.4.3.17',
  'ml-dsa-65': '2.16.840.1.101.3.4.3.18',
  'ml-dsa-87': '2.16.840.1.101.3.4.3.19',
};
/** FIPS 204 Table 2: public key and signature sizes. */
export const ML_DSA_PUBLIC_KEY_LENGTH: Readonly<Record<MlDsaAlgorithm, number>> = { 'ml-dsa-44': 1312, 'ml-dsa-65': 1952, 'ml-dsa-87': 2592 };
const ML_DSA_SIGNATURE_LENGTH: Readonly<Record<MlDsaAlgorithm, number>> = { 'ml-dsa-44': 2420, 'ml-dsa-65': 3309, 'ml-dsa-87': 4627 };

/** PKCS #8 OneAsymmetricKey (RFC 5958) around a private key's own encoding. */
function pkcs8(dottedOid: string, privateKey: Uint8Array): KeyObject {
  const der = sequence(integer(0), sequence(oid(dottedOid)), octets(privateKey));
  try {
    return createPrivateKey(pem('PRIVATE KEY', der));
  } finally {
    der.fill(0);
  }
}

/** A peer's ML-KEM or ML-DSA public key: raw where node imports that, else through a SubjectPublicKeyInfo. */
function peerPublicKey(type: (typeof KEM_TYPE)[MlKemName] | MlDsaAlgorithm, dottedOid: string, raw: Uint8Array): KeyObject {
  return importRawPublic(type, raw) ?? withoutStackTraces(() => createPublicKey(pem('PUBLIC KEY', sequence(sequence(oid(dottedOid)), bits(raw)))));
}

/** The raw public key of a KeyObject: exported as such where node can, else the last `length` bytes of its SubjectPublicKeyInfo. */
function rawPublicKey(key: KeyObject, length: number): Uint8Array {
  const pub = createPublicKey(key);
  const raw = exportRawPublic(pub);
  if (raw) return raw;
  const der = pub.export({ format: 'der', type: 'spki' });
  return new Uint8Array(der.subarray(der.length - length));
}

/** The seed-only private key form, `[0] IMPLICIT OCTET STRING`. */
const seedOnly = (seed: Uint8Array): Uint8Array => tlv(0x80, seed);

export function mlKemPrivateKey(name: MlKemName, seed: Uint8Array): KeyObject {
  return pkcs8(KEM_OID[name], seedOnly(seed));
}

/**
 * An ML-DSA private key from its 32-byte seed, or from the FIPS 204 expanded
 * key when only that is known (the `expandedKey OCTET STRING` choice).
 */
export function mlDsaPrivateKey(alg: MlDsaAlgorithm, material: { readonly seed?: Uint8Array; readonly expanded?: Uint8Array }): KeyObject {
  if (material.seed) return pkcs8(DSA_OID[alg], seedOnly(material.seed));
  if (material.expanded) return pkcs8(DSA_OID[alg], octets(material.expanded));
  throw new IllegalParameterError(`${alg} private key needs a seed or an expanded key`);
}

/** What the running node:crypto can do, found by doing it once. */
export interface NativePqSupport {
  readonly mlKem: boolean;
  readonly mlDsa: boolean;
}

let detected: NativePqSupport | undefined;

/** Whether this runtime's node:crypto performs ML-KEM and ML-DSA (cached after the first call). */
export function nativePqSupport(): NativePqSupport {
  detected ??= Object.freeze({ mlKem: probeMlKem(), mlDsa: probeMlDsa() });
  return detected;
}

function kemFunctions(): KemFunctions | undefined {
  const c = nodeCrypto as Partial<KemFunctions>;
  return typeof c.encapsulate === 'function' && typeof c.decapsulate === 'function' ? (c as KemFunctions) : undefined;
}

function probeMlKem(): boolean {
  const kem = kemFunctions();
  if (!kem) return false;
  try {
    const key = mlKemPrivateKey('ML-KEM-768', new Uint8Array(64).fill(1));
    const { sharedKey, ciphertext } = kem.encapsulate(createPublicKey(key));
    return Buffer.compare(kem.decapsulate(key, ciphertext), sharedKey) === 0;
  } catch {
    return false;
  }
}

function probeMlDsa(): boolean {
  try {
    const key = mlDsaPrivateKey('ml-dsa-44', { seed: new Uint8Array(32).fill(1) });
    const message = new Uint8Array(1);
    return verify(null, message, createPublicKey(key), sign(null, message, key));
  } catch {
    return false;
  }
}

/**
 * ML-KEM as a TLS key exchange (draft-ietf-tls-mlkem) on OpenSSL, drop-in for
 * the noble {@link MlKemPart}: same shares, same checks, same draws.
 *
 * With a random source of the caller's (`ownRandomness` false), `generate`
 * draws the 64-byte seed d ‖ z and makes it an OpenSSL key, so the
 * encapsulation key is byte-identical to noble's from the same draw, and
 * decapsulation (deterministic) gives the same secret; encapsulation runs on
 * the noble part, on the draw it would have made, so every draw stays the
 * caller's. On OpenSSL's own generator, OpenSSL draws the seed and
 * encapsulation's 32-byte message itself.
 */
export class NativeMlKemPart implements KexPart {
  readonly clientShareLength: number;
  readonly serverShareLength: number;
  readonly secretLength = 32;

  constructor(
    readonly name: MlKemName,
    /** The software part (the sizes come from it): encapsulates when randomness must come from the provider's source. */
    private readonly software: KexPart,
    private readonly ownRandomness: boolean,
  ) {
    this.clientShareLength = software.clientShareLength;
    this.serverShareLength = software.serverShareLength;
    Object.freeze(this);
  }

  /**
   * The decapsulation key: on OpenSSL's own generator (`ownRandomness`) OpenSSL
   * draws d ‖ z itself (~45 µs, against ~65 µs importing a seed as PEM, and the
   * seed never becomes JavaScript bytes or strings); otherwise from one 64-byte draw.
   */
  private keyPair(random: RandomSource): KeyObject {
    if (this.ownRandomness) return (generateKeyPairSync as unknown as (type: string) => { privateKey: KeyObject })(this.name.toLowerCase()).privateKey;
    const seed = random(64);
    try {
      return mlKemPrivateKey(this.name, seed);
    } finally {
      seed.fill(0);
    }
  }

  generate(random: RandomSource): PendingShare {
    const kem = kemFunctions() as KemFunctions;
    let key: KeyObject | undefined = this.keyPair(random);
    return {
      share: rawPublicKey(key, this.clientShareLength),
      complete: (serverShare: Uint8Array) => {
        if (!key) throw new IllegalParameterError(`${this.name} key share was wiped`);
        requireLength(serverShare, this.serverShareLength, `${this.name} ciphertext`);
        return new Uint8Array(kem.decapsulate(key, serverShare));
      },
      // node cannot zero a KeyObject; dropping the reference is the most we can do.
      wipe: () => {
        key = undefined;
      },
    };
  }

  encapsulate(clientShare: Uint8Array, random: RandomSource): { share: Uint8Array; secret: Uint8Array } {
    if (!this.ownRandomness) return this.software.encapsulate(clientShare, random);
    requireLength(clientShare, this.clientShareLength, `${this.name} encapsulation key`);
    let peer: KeyObject;
    try {
      peer = peerPublicKey(KEM_TYPE[this.name], KEM_OID[this.name], clientShare);
    } catch {
      throw new IllegalParameterError(`${this.name} encapsulation key fails the FIPS 203 §7.2 modulus check`);
    }
    const { sharedKey, ciphertext } = (kemFunctions() as KemFunctions).encapsulate(peer);
    return { share: new Uint8Array(ciphertext), secret: new Uint8Array(sharedKey) };
  }
}

/** Peer ML-DSA public keys seen recently, as KeyObjects: a client verifying the same chain again skips the import. */
const PUBLIC_KEY_CACHE_SIZE = 32;
const publicKeys = new Map<string, { readonly raw: Uint8Array; readonly key: KeyObject }>();

function mlDsaPublicKey(alg: MlDsaAlgorithm, publicKey: Uint8Array): KeyObject {
  // Indexed by the key's first 32 bytes (ρ, FIPS 204 §7.2: the seed of the key's matrix), then compared in full:
  // no 2.6 KB base64 string per verification.
  const id = `${alg}:${Buffer.from(publicKey.buffer, publicKey.byteOffset, 32).toString('base64')}`;
  const hit = publicKeys.get(id);
  if (hit && Buffer.from(hit.raw.buffer, hit.raw.byteOffset, hit.raw.byteLength).equals(publicKey)) {
    publicKeys.delete(id);
    publicKeys.set(id, hit);
    return hit.key;
  }
  const key = peerPublicKey(alg, DSA_OID[alg], publicKey);
  publicKeys.delete(id);
  publicKeys.set(id, { raw: publicKey.slice(), key });
  if (publicKeys.size > PUBLIC_KEY_CACHE_SIZE) publicKeys.delete(publicKeys.keys().next().value as string);
  return key;
}

/** Pure ML-DSA with an empty context (draft-ietf-tls-mldsa), hedged by OpenSSL's own generator. */
export function nativeMlDsaSign(key: KeyObject, message: Uint8Array): Uint8Array {
  return new Uint8Array(sign(null, message, key));
}

/**
 * ML-DSA.Verify (FIPS 204 Algorithm 3) with an empty context: false for a
 * signature that does not verify, an {@link IllegalParameterError} for a
 * public key of the wrong length, as the noble backend.
 */
export function nativeMlDsaVerify(alg: MlDsaAlgorithm, publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  const want = ML_DSA_PUBLIC_KEY_LENGTH[alg];
  if (publicKey.length !== want) throw new IllegalParameterError(`${alg} public key must be ${want} bytes, got ${publicKey.length}`);
  if (signature.length !== ML_DSA_SIGNATURE_LENGTH[alg]) return false;
  try {
    return verify(null, message, mlDsaPublicKey(alg, publicKey), signature);
  } catch {
    return false;
  }
}

/** The public key OpenSSL derives from a private KeyObject. */
export function mlDsaRawPublicKey(alg: MlDsaAlgorithm, key: KeyObject): Uint8Array {
  return rawPublicKey(key, ML_DSA_PUBLIC_KEY_LENGTH[alg]);
}
