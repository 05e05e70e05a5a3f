/**
 * RSA signatures for TLS on node:crypto: RSASSA-PKCS1-v1_5 and RSASSA-PSS
 * with MGF1 on the same hash and salt length = hash length
 * (`rsa_pss_rsae_*`, RFC 8446 §4.2.3).
 *
 * Keys are parsed and checked by the shared strict PKCS #1 parser
 * (src/pq/rsa-keys.ts) before OpenSSL sees them, so both backends accept
 * and refuse the same keys with the same errors.
 *
 * PSS signing encodes EMSA-PSS with the shared code (src/pq/rsa-pss.ts, on
 * OpenSSL's hashes) and leaves only the raw
 * private-key operation to OpenSSL: node's PSS signer draws its salt from
 * OpenSSL's generator, and the provider's contract is that every random byte
 * comes from the injected source. OpenSSL blinds and fault-checks the raw
 * operation itself.
 */
import { constants, createHash, createPrivateKey, createPublicKey, privateEncrypt, sign, verify, type KeyObject } from 'node:crypto';
import { hashLength, type HashAlgorithm, type RsaPssRestriction } from '../../pq/ids.js';
import { encodeRsaPublicKey, parseRsaPrivateKey, parseRsaPublicKey, type RsaPublicKey } from '../../pq/rsa-keys.js';
import { pssEncode, pssParams, type Digest, type PssParams } from '../../pq/rsa-pss.js';
import { nodeDigestName } from './symmetric.js';

export interface NodeRsaKey {
  /** `rsa-pss`: an id-RSASSA-PSS key, limited to `rsa_pss_pss_*` within {@link NodeRsaKey.pss}. */
  readonly algorithm: 'rsa' | 'rsa-pss';
  readonly pss?: RsaPssRestriction;
  readonly key: KeyObject;
  /** DER `RSAPrivateKey`, kept for export. */
  readonly pkcs1: Uint8Array;
  /** DER `RSAPublicKey`. */
  readonly publicKey: Uint8Array;
  readonly bits: number;
  /** Modulus length in bytes. */
  readonly k: number;
}

/** Imports a DER `RSAPrivateKey`; invalid or too-small keys are a ConfigError (from the shared parser). */
export function rsaImport(
  pkcs1: Uint8Array, minBits: number, algorithm: 'rsa' | 'rsa-pss' = 'rsa', pss?: RsaPssRestriction,
): NodeRsaKey {
  const parsed = parseRsaPrivateKey(pkcs1, minBits);
  return {
    algorithm,
    ...(pss ? { pss } : {}),
    key: createPrivateKey({ key: Buffer.from(pkcs1), format: 'der', type: 'pkcs1' }),
    pkcs1: pkcs1.slice(),
    publicKey: encodeRsaPublicKey(parsed),
    bits: parsed.bits,
    k: parsed.k,
  };
}

/** OpenSSL's hash as a {@link Digest}, for the shared EMSA-PSS code. */
function nodeDigest(alg: HashAlgorithm | 'SHA-1'): Digest {
  const name = alg === 'SHA-1' ? 'sha1' : nodeDigestName(alg);
  return Object.assign((data: Uint8Array): Uint8Array => new Uint8Array(createHash(name).update(data).digest()), {
    outputLen: alg === 'SHA-1' ? 20 : hashLength(alg),
  });
}

/** The PSS parameters TLS uses (RFC 8446 §4.2.3), on OpenSSL's hashes; MGF1 on `mgfHash` for restricted keys. */
export function nodePssParams(alg: HashAlgorithm, mgfHash: HashAlgorithm | 'SHA-1' = alg): PssParams {
  return pssParams(nodeDigest, alg, mgfHash);
}

/**
 * RSASSA-PSS-SIGN (RFC 8017 §8.1.1) with the given hash-length salt; MGF1 on
 * the same hash unless an id-RSASSA-PSS key's restriction names another.
 */
export function rsaPssSign(key: NodeRsaKey, alg: HashAlgorithm, message: Uint8Array, salt: Uint8Array): Uint8Array {
  const em = pssEncode(message, key.bits - 1, nodePssParams(alg, key.pss?.mgfHash ?? alg), salt);
  // RSASP1 on the k-byte representative (EM is one byte shorter when bits ≡ 1 mod 8).
  const m = new Uint8Array(key.k);
  m.set(em, key.k - em.length);
  return new Uint8Array(privateEncrypt({ key: key.key, padding: constants.RSA_NO_PADDING }, m));
}

/** RSASSA-PKCS1-V1_5-SIGN (RFC 8017 §8.2.1): deterministic, so OpenSSL's signer is used whole. */
export function rsaPkcs1Sign(key: NodeRsaKey, alg: HashAlgorithm, message: Uint8Array): Uint8Array {
  return new Uint8Array(sign(nodeDigestName(alg), message, { key: key.key, padding: constants.RSA_PKCS1_PADDING }));
}

/** Parses a peer's DER `RSAPublicKey` (IllegalParameterError if malformed or out of bounds) into a KeyObject. */
export function rsaPublicKey(der: Uint8Array): { readonly parsed: RsaPublicKey; readonly key: KeyObject } {
  const parsed = parseRsaPublicKey(der);
  return { parsed, key: createPublicKey({ key: Buffer.from(der), format: 'der', type: 'pkcs1' }) };
}

/**
 * RSASSA-PSS-VERIFY or RSASSA-PKCS1-V1_5-VERIFY. A signature that is not
 * exactly k bytes is refused first (RFC 8017 §8.1.2 and §8.2.2 step 1), since
 * OpenSSL would accept a shorter one with the leading zeros dropped.
 */
export function rsaVerify(der: Uint8Array, pss: boolean, alg: HashAlgorithm, message: Uint8Array, signature: Uint8Array): boolean {
  const { parsed, key } = rsaPublicKey(der);
  if (signature.length !== parsed.k) return false;
  const padding = pss
    ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: hashLength(alg) }
    : { key, padding: constants.RSA_PKCS1_PADDING };
  try {
    return verify(nodeDigestName(alg), message, padding, signature);
  } catch {
    return false;
  }
}
