/**
 * SLH-DSA (FIPS 205) as X.509 uses it (RFC 9909): pure SLH-DSA with an empty
 * context, all twelve parameter sets, hedged signing. A certificate-only
 * algorithm: TLS 1.3 has no CertificateVerify code point for it.
 */
import {
  slh_dsa_sha2_128f, slh_dsa_sha2_128s, slh_dsa_sha2_192f, slh_dsa_sha2_192s, slh_dsa_sha2_256f, slh_dsa_sha2_256s,
  slh_dsa_shake_128f, slh_dsa_shake_128s, slh_dsa_shake_192f, slh_dsa_shake_192s, slh_dsa_shake_256f, slh_dsa_shake_256s,
} from '@noble/post-quantum/slh-dsa.js';
import { ConfigError, IllegalParameterError } from '../../errors.js';
import { slhDsaSizes, type SlhDsaAlgorithm } from '../ids.js';
import type { RandomSource } from '../random.js';

const impls: Record<SlhDsaAlgorithm, typeof slh_dsa_sha2_128f> = {
  'slh-dsa-sha2-128s': slh_dsa_sha2_128s,
  'slh-dsa-sha2-128f': slh_dsa_sha2_128f,
  'slh-dsa-sha2-192s': slh_dsa_sha2_192s,
  'slh-dsa-sha2-192f': slh_dsa_sha2_192f,
  'slh-dsa-sha2-256s': slh_dsa_sha2_256s,
  'slh-dsa-sha2-256f': slh_dsa_sha2_256f,
  'slh-dsa-shake-128s': slh_dsa_shake_128s,
  'slh-dsa-shake-128f': slh_dsa_shake_128f,
  'slh-dsa-shake-192s': slh_dsa_shake_192s,
  'slh-dsa-shake-192f': slh_dsa_shake_192f,
  'slh-dsa-shake-256s': slh_dsa_shake_256s,
  'slh-dsa-shake-256f': slh_dsa_shake_256f,
};

/** A usable SLH-DSA private key: the FIPS 205 SK (SK.seed ‖ SK.prf ‖ PK.seed ‖ PK.root) and its PK. */
export interface SlhDsaKey {
  readonly algorithm: SlhDsaAlgorithm;
  readonly secretKey: Uint8Array;
  readonly publicKey: Uint8Array;
}

/** slh_keygen_internal (FIPS 205 Algorithm 18) from SK.seed ‖ SK.prf ‖ PK.seed (3n bytes). */
function fromSeeds(algorithm: SlhDsaAlgorithm, seeds: Uint8Array): SlhDsaKey {
  const { secretKey, publicKey } = impls[algorithm].keygen(seeds);
  return { algorithm, secretKey, publicKey };
}

/** Fresh key from 3n bytes of `random` (FIPS 205 Algorithm 21). */
export function slhDsaGenerate(algorithm: SlhDsaAlgorithm, random: RandomSource): SlhDsaKey {
  return fromSeeds(algorithm, random(3 * slhDsaSizes(algorithm).n));
}

/**
 * A key from its 4n-byte private key. Only the length is checked here:
 * proving that PK.root belongs to SK.seed and PK.seed means rebuilding the top
 * XMSS tree, a whole key generation (seconds for the "s" sets in pure JS).
 * {@link slhDsaSign} checks every signature it makes instead, so an
 * inconsistent key is refused at its first use and never emits a signature
 * that does not verify.
 */
export function slhDsaImport(algorithm: SlhDsaAlgorithm, secretKey: Uint8Array): SlhDsaKey {
  const { n, secretKey: want } = slhDsaSizes(algorithm);
  if (secretKey.length !== want) throw new ConfigError(`${algorithm} private key must be ${want} bytes, got ${secretKey.length}`);
  return { algorithm, secretKey: secretKey.slice(), publicKey: secretKey.slice(2 * n) };
}

/** Throws {@link IllegalParameterError} unless `publicKey` is 2n bytes (every such string is a valid PK). */
export function checkSlhDsaPublicKey(algorithm: SlhDsaAlgorithm, publicKey: Uint8Array): void {
  const want = slhDsaSizes(algorithm).publicKey;
  if (publicKey.length !== want) throw new IllegalParameterError(`${algorithm} public key must be ${want} bytes, got ${publicKey.length}`);
}

/**
 * slh_sign (FIPS 205 Algorithm 22) with an empty context and opt_rand =
 * `rnd` (n bytes; the hedged variant, which FIPS 205 §10.2.1 prefers).
 */
export function slhDsaSign(key: SlhDsaKey, message: Uint8Array, rnd: Uint8Array): Uint8Array {
  const { n } = slhDsaSizes(key.algorithm);
  if (rnd.length !== n) throw new ConfigError(`${key.algorithm} opt_rand must be ${n} bytes`);
  const signature = impls[key.algorithm].sign(message, key.secretKey, { extraEntropy: rnd, context: new Uint8Array(0) });
  // Verification costs a small fraction of signing; it catches a private key whose PK.root does not
  // match its seeds (see slhDsaImport) and a fault during the long signing computation.
  if (!slhDsaVerify(key.algorithm, key.publicKey, message, signature)) {
    throw new ConfigError(`${key.algorithm} private key is inconsistent: its signature does not verify under its own public key`);
  }
  return signature;
}

/**
 * slh_verify (FIPS 205 Algorithm 24) with an empty context. False for any
 * signature that does not verify, wrong length included; a public key of the
 * wrong length is an {@link IllegalParameterError}.
 */
export function slhDsaVerify(algorithm: SlhDsaAlgorithm, publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  checkSlhDsaPublicKey(algorithm, publicKey);
  if (signature.length !== slhDsaSizes(algorithm).signature) return false;
  try {
    return impls[algorithm].verify(signature, message, publicKey, { context: new Uint8Array(0) });
  } catch {
    return false;
  }
}
