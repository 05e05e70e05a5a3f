/**
 * ML-DSA-44/65/87 (FIPS 204) as TLS uses it: pure ML-DSA with an empty context
 * string (draft-ietf-tls-mldsa §3), hedged signing, and the key forms of
 * RFC 9881 §6 (32-byte seed, expanded FIPS 204 private key, or both).
 */
import { ml_dsa44, ml_dsa65, ml_dsa87 } from '@noble/post-quantum/ml-dsa.js';
import { shake256 } from '@noble/hashes/sha3.js';
import { ConfigError, IllegalParameterError } from '../../errors.js';
import { constantTimeEqual } from '../../bytes.js';
import type { MlDsaAlgorithm } from '../ids.js';
import type { RandomSource } from '../random.js';

type Dsa = typeof ml_dsa44;

/** FIPS 204 Table 2 sizes, with the seed of Algorithm 1 and the rnd of Algorithm 2. */
export interface MlDsaSizes {
  readonly publicKey: number;
  readonly expanded: number;
  readonly signature: number;
  readonly seed: 32;
  readonly rnd: 32;
}

const impls: Record<MlDsaAlgorithm, Dsa> = { 'ml-dsa-44': ml_dsa44, 'ml-dsa-65': ml_dsa65, 'ml-dsa-87': ml_dsa87 };

export const ML_DSA_SIZES: Readonly<Record<MlDsaAlgorithm, MlDsaSizes>> = {
  'ml-dsa-44': { publicKey: 1312, expanded: 2560, signature: 2420, seed: 32, rnd: 32 },
  'ml-dsa-65': { publicKey: 1952, expanded: 4032, signature: 3309, seed: 32, rnd: 32 },
  'ml-dsa-87': { publicKey: 2592, expanded: 4896, signature: 4627, seed: 32, rnd: 32 },
};

/** FIPS 204 §7.2: the expanded key holds tr = H(pk, 64) after ρ and K. */
const TR_OFFSET = 64;
const TR_LENGTH = 64;
/** FIPS 204 §5.2: ctx is at most 255 bytes. */
const MAX_CONTEXT = 255;

/** A usable ML-DSA private key; `seed` is kept when known so it can be exported (RFC 9881 prefers it). */
export interface MlDsaKey {
  readonly algorithm: MlDsaAlgorithm;
  readonly seed: Uint8Array | undefined;
  readonly expanded: Uint8Array;
  readonly publicKey: Uint8Array;
}

/** ML-DSA.KeyGen_internal (FIPS 204 Algorithm 6) from a 32-byte seed ξ. */
export function mlDsaFromSeed(algorithm: MlDsaAlgorithm, seed: Uint8Array): MlDsaKey {
  if (seed.length !== 32) throw new ConfigError(`${algorithm} seed must be 32 bytes, got ${seed.length}`);
  const { secretKey, publicKey } = impls[algorithm].keygen(seed);
  return { algorithm, seed: seed.slice(), expanded: secretKey, publicKey };
}

/**
 * A key from its expanded form alone. The coefficients of s1 and s2 are
 * range-checked while the public key is recomputed, and tr must equal H(pk), so
 * a corrupted or hand-edited key is refused instead of signing garbage.
 */
export function mlDsaFromExpanded(algorithm: MlDsaAlgorithm, expanded: Uint8Array): MlDsaKey {
  const size = ML_DSA_SIZES[algorithm];
  if (expanded.length !== size.expanded) {
    throw new ConfigError(`${algorithm} expanded private key must be ${size.expanded} bytes, got ${expanded.length}`);
  }
  let publicKey: Uint8Array;
  try {
    publicKey = impls[algorithm].getPublicKey(expanded);
  } catch (err) {
    throw new ConfigError(`${algorithm} expanded private key is malformed: ${err instanceof Error ? err.message : String(err)}`);
  }
  const tr = shake256(publicKey, { dkLen: TR_LENGTH });
  if (!constantTimeEqual(tr, expanded.subarray(TR_OFFSET, TR_OFFSET + TR_LENGTH))) {
    throw new ConfigError(`${algorithm} expanded private key is inconsistent (tr does not match its public key)`);
  }
  return { algorithm, seed: undefined, expanded: expanded.slice(), publicKey };
}

/**
 * A key from RFC 9881 material: seed, expanded, or both. When both are given
 * the expanded key must be exactly what the seed expands to.
 */
export function mlDsaImport(algorithm: MlDsaAlgorithm, seed: Uint8Array | undefined, expanded: Uint8Array | undefined): MlDsaKey {
  if (seed === undefined && expanded === undefined) throw new ConfigError(`${algorithm} key material has neither seed nor expanded key`);
  if (seed === undefined) return mlDsaFromExpanded(algorithm, expanded as Uint8Array);
  const key = mlDsaFromSeed(algorithm, seed);
  if (expanded !== undefined && !constantTimeEqual(key.expanded, expanded)) {
    throw new ConfigError(`${algorithm} seed and expanded private key do not match`);
  }
  return key;
}

/** Fresh key from 32 bytes of `random`. */
export function mlDsaGenerate(algorithm: MlDsaAlgorithm, random: RandomSource): MlDsaKey {
  return mlDsaFromSeed(algorithm, random(32));
}

/** Throws {@link IllegalParameterError} unless `publicKey` has the length of the parameter set (every such string is a valid pk). */
export function checkMlDsaPublicKey(algorithm: MlDsaAlgorithm, publicKey: Uint8Array): void {
  const want = ML_DSA_SIZES[algorithm].publicKey;
  if (publicKey.length !== want) throw new IllegalParameterError(`${algorithm} public key must be ${want} bytes, got ${publicKey.length}`);
}

/**
 * ML-DSA.Sign (FIPS 204 Algorithm 2) with context `context` and the 32-byte
 * `rnd` (all zeros gives the deterministic variant). TLS calls it with an empty
 * context and fresh randomness; the parameters exist for known-answer tests.
 */
export function mlDsaSign(key: MlDsaKey, message: Uint8Array, rnd: Uint8Array, context: Uint8Array = new Uint8Array(0)): Uint8Array {
  if (rnd.length !== 32) throw new ConfigError('ML-DSA rnd must be 32 bytes');
  if (context.length > MAX_CONTEXT) throw new ConfigError(`ML-DSA context is at most ${MAX_CONTEXT} bytes`);
  return impls[key.algorithm].sign(message, key.expanded, { extraEntropy: rnd, context });
}

/**
 * ML-DSA.Sign_internal (FIPS 204 Algorithm 7) on a caller-computed
 * µ = H(tr ‖ M′, 64), the "external µ" form. Exposed for known-answer tests.
 */
export function mlDsaSignMu(key: MlDsaKey, mu: Uint8Array, rnd: Uint8Array): Uint8Array {
  if (mu.length !== 64) throw new ConfigError('ML-DSA µ must be 64 bytes');
  if (rnd.length !== 32) throw new ConfigError('ML-DSA rnd must be 32 bytes');
  return impls[key.algorithm].internal.sign(mu, key.expanded, { extraEntropy: rnd, externalMu: true });
}

/**
 * ML-DSA.Verify (FIPS 204 Algorithm 3). False for any signature that does not
 * verify, wrong length or over-long context included; a public key of the wrong
 * length is an {@link IllegalParameterError}.
 */
export function mlDsaVerify(
  algorithm: MlDsaAlgorithm, publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array,
  context: Uint8Array = new Uint8Array(0),
): boolean {
  checkMlDsaPublicKey(algorithm, publicKey);
  if (signature.length !== ML_DSA_SIZES[algorithm].signature || context.length > MAX_CONTEXT) return false;
  try {
    return impls[algorithm].verify(signature, message, publicKey, { context });
  } catch {
    return false;
  }
}
