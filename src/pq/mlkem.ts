import { AlertDescription, ConfigError, IllegalParameterError, PqtlsError } from '../errors.js';
import { requireLength, type KexPart, type PendingShare } from './kex-part.js';
import type { RandomSource } from './random.js';

/**
 * The ML-KEM primitive a backend supplies (the shape of noble's `ml_kem768`):
 * the FIPS 203 internal algorithms on caller-drawn randomness. `encapsulate`
 * must throw when the encapsulation key fails the §7.2 modulus check, and
 * `decapsulate` when the decapsulation key fails the §7.3 hash check.
 */
export interface MlKem {
  keygen(seed: Uint8Array): { publicKey: Uint8Array; secretKey: Uint8Array };
  encapsulate(publicKey: Uint8Array, m: Uint8Array): { cipherText: Uint8Array; sharedSecret: Uint8Array };
  decapsulate(cipherText: Uint8Array, secretKey: Uint8Array): Uint8Array;
}

export type MlKemName = 'ML-KEM-512' | 'ML-KEM-768' | 'ML-KEM-1024';

/** An ML-KEM parameter set (FIPS 203 Table 3 sizes) with the backend's primitive for it. */
export interface MlKemParams {
  readonly name: MlKemName;
  readonly kem: MlKem;
  /** Encapsulation key (the client share). */
  readonly ekLength: number;
  /** Decapsulation key, the FIPS 203 expanded form. */
  readonly dkLength: number;
  /** Ciphertext (the server share). */
  readonly ctLength: number;
}

/** FIPS 203 Table 3: encapsulation key, decapsulation key and ciphertext sizes. */
const SIZES: Readonly<Record<MlKemName, { ekLength: number; dkLength: number; ctLength: number }>> = {
  'ML-KEM-512': { ekLength: 800, dkLength: 1632, ctLength: 768 },
  'ML-KEM-768': { ekLength: 1184, dkLength: 2400, ctLength: 1088 },
  'ML-KEM-1024': { ekLength: 1568, dkLength: 3168, ctLength: 1568 },
};

/** The parameter set `name` on a backend's primitive. */
export function mlKemParams(name: MlKemName, kem: MlKem): MlKemParams {
  return Object.freeze({ name, kem, ...SIZES[name] });
}

/** ML-KEM.KeyGen_internal (FIPS 203 Alg. 16) from the 64-byte seed d ‖ z. */
export function mlkemKeygen(p: MlKemParams, seed: Uint8Array): { ek: Uint8Array; dk: Uint8Array } {
  if (seed.length !== 64) throw new ConfigError(`${p.name} key generation needs a 64-byte seed d ‖ z, got ${seed.length}`);
  const { publicKey, secretKey } = p.kem.keygen(seed);
  return { ek: publicKey, dk: secretKey };
}

/**
 * ML-KEM.Encaps_internal (FIPS 203 Alg. 17) to a peer's encapsulation key, with
 * the §7.2 input check draft-ietf-tls-mlkem §4.2 requires of the server: a key of
 * the wrong length, or one whose coefficients are not reduced mod q (the modulus
 * check), is an illegal_parameter.
 */
export function mlkemEncapsulate(p: MlKemParams, ek: Uint8Array, m: Uint8Array): { ct: Uint8Array; ss: Uint8Array } {
  requireLength(ek, p.ekLength, `${p.name} encapsulation key`);
  if (m.length !== 32) throw new ConfigError(`${p.name} encapsulation needs 32 random bytes, got ${m.length}`);
  let out: { cipherText: Uint8Array; sharedSecret: Uint8Array };
  try {
    // The primitive performs the modulus check itself; with both lengths checked above it is the only refusal left.
    out = p.kem.encapsulate(ek, m);
  } catch {
    throw new IllegalParameterError(`${p.name} encapsulation key fails the FIPS 203 §7.2 modulus check`);
  }
  return { ct: out.cipherText, ss: out.sharedSecret };
}

/**
 * ML-KEM.Decaps (FIPS 203 Alg. 18, with the §7.3 key check). A ciphertext of the
 * wrong length is an illegal_parameter; a well-formed ciphertext never fails, a
 * wrong one yields the implicit-rejection secret. A decapsulation key that fails
 * its own hash check is our fault, not the peer's: internal_error, as
 * draft-ietf-tls-mlkem §4.2 says for any other decapsulation failure.
 */
export function mlkemDecapsulate(p: MlKemParams, dk: Uint8Array, ct: Uint8Array): Uint8Array {
  requireLength(ct, p.ctLength, `${p.name} ciphertext`);
  if (dk.length !== p.dkLength) {
    throw new PqtlsError(`${p.name} decapsulation key has ${dk.length} bytes, expected ${p.dkLength}`, AlertDescription.internal_error);
  }
  try {
    return p.kem.decapsulate(ct, dk);
  } catch {
    throw new PqtlsError(`${p.name} decapsulation key fails the FIPS 203 §7.3 hash check`, AlertDescription.internal_error);
  }
}

/**
 * ML-KEM as a TLS key exchange (draft-ietf-tls-mlkem): the client share is the
 * encapsulation key, the server share the ciphertext, the secret 32 bytes.
 *
 * Randomness: `generate` draws one 64-byte chunk, the key-generation seed d ‖ z
 * (FIPS 203 Alg. 16); `encapsulate` draws one 32-byte chunk, the message m
 * (Alg. 17). Both are zeroed after use.
 */
export class MlKemPart implements KexPart {
  readonly name: string;
  readonly clientShareLength: number;
  readonly serverShareLength: number;
  readonly secretLength = 32;

  constructor(private readonly params: MlKemParams) {
    this.name = params.name;
    this.clientShareLength = params.ekLength;
    this.serverShareLength = params.ctLength;
    Object.freeze(this);
  }

  generate(random: RandomSource): PendingShare {
    const seed = random(64);
    let keys: { ek: Uint8Array; dk: Uint8Array };
    try {
      keys = mlkemKeygen(this.params, seed);
    } finally {
      seed.fill(0); // dk holds its own copy of z
    }
    const { ek, dk } = keys;
    return {
      share: ek,
      complete: (serverShare: Uint8Array) => mlkemDecapsulate(this.params, dk, serverShare),
      wipe: () => dk.fill(0),
    };
  }

  encapsulate(clientShare: Uint8Array, random: RandomSource): { share: Uint8Array; secret: Uint8Array } {
    const m = random(32);
    try {
      const { ct, ss } = mlkemEncapsulate(this.params, clientShare, m);
      return { share: ct, secret: ss };
    } finally {
      m.fill(0);
    }
  }
}

/** The three ML-KEM key-exchange parts on a backend's primitives. */
export function mlKemParts(kems: Readonly<Record<MlKemName, MlKem>>): Readonly<Record<MlKemName, KexPart>> {
  return Object.freeze({
    'ML-KEM-512': new MlKemPart(mlKemParams('ML-KEM-512', kems['ML-KEM-512'])),
    'ML-KEM-768': new MlKemPart(mlKemParams('ML-KEM-768', kems['ML-KEM-768'])),
    'ML-KEM-1024': new MlKemPart(mlKemParams('ML-KEM-1024', kems['ML-KEM-1024'])),
  });
}
