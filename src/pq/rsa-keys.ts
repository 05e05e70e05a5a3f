/**
 * PKCS #1 RSA key syntax (RFC 8017 Appendix A.1): strict DER parsing of
 * `RSAPublicKey` and `RSAPrivateKey`, and the checks that make a parsed key safe
 * to use. Both backends parse with it, so they accept and refuse the same keys
 * with the same errors. Key generation is deliberately absent: neither
 * backend's prime search could draw from an injected random source.
 */
import { ConfigError, DecodeError, IllegalParameterError } from '../errors.js';
import { contents, decodeDer, integer, sequence, Tag, unsignedIntegerBytes, type DerReader } from '../codec/der.js';
import { bitLength, byteLength, bytesToBigInt, mod, modInverse } from './bigint.js';

/** Smallest modulus accepted for verification; below this a signature proves little. */
export const RSA_MIN_VERIFY_BITS = 1024;
/** Smallest modulus accepted for signing (NIST SP 800-131A, CA/B Forum baseline). */
export const RSA_MIN_SIGN_BITS = 2048;
/** Largest modulus accepted, which bounds the work a peer's key can cost us. */
export const RSA_MAX_BITS = 16384;
/** Largest public exponent accepted; larger ones serve no purpose and slow verification. */
const RSA_MAX_EXPONENT = 1n << 32n;

export interface RsaPublicKey {
  readonly n: bigint;
  readonly e: bigint;
  /** Modulus length in bits. */
  readonly bits: number;
  /** Modulus length in bytes: the length of every signature (RFC 8017 §5.2, "k"). */
  readonly k: number;
}

/** A two-prime private key with its CRT parameters. */
export interface RsaPrivateKey extends RsaPublicKey {
  readonly d: bigint;
  readonly p: bigint;
  readonly q: bigint;
  readonly dp: bigint;
  readonly dq: bigint;
  readonly qInv: bigint;
  /** The DER `RSAPrivateKey` it was imported from. */
  readonly pkcs1: Uint8Array;
}

/** The next element of `seq`, a non-negative INTEGER. */
function readUnsigned(seq: DerReader, field: string): bigint {
  return bytesToBigInt(unsignedIntegerBytes(seq.expect(Tag.INTEGER, field), `${seq.what} ${field}`));
}

function checkPublic(n: bigint, e: bigint, minBits: number): string | undefined {
  const bits = bitLength(n);
  if (bits < minBits) return `RSA modulus of ${bits} bits is below the minimum of ${minBits}`;
  if (bits > RSA_MAX_BITS) return `RSA modulus of ${bits} bits exceeds ${RSA_MAX_BITS}`;
  if ((n & 1n) === 0n) return 'RSA modulus is even';
  if (e < 3n || (e & 1n) === 0n || e >= RSA_MAX_EXPONENT || e >= n) return 'RSA public exponent is not an odd value in [3, 2^32)';
  return undefined;
}

/**
 * Parses a DER `RSAPublicKey` for verification. Anything malformed, or a key
 * outside the accepted sizes, is an {@link IllegalParameterError}: the key came
 * from a peer's certificate.
 */
export function parseRsaPublicKey(der: Uint8Array): RsaPublicKey {
  let n: bigint, e: bigint;
  try {
    const seq = contents(decodeDer(der, 'RSAPublicKey'), 'RSAPublicKey');
    n = readUnsigned(seq, 'modulus');
    e = readUnsigned(seq, 'publicExponent');
    seq.end();
  } catch (err) {
    if (err instanceof DecodeError) throw new IllegalParameterError(`malformed RSA public key: ${err.message}`);
    throw err;
  }
  const problem = checkPublic(n, e, RSA_MIN_VERIFY_BITS);
  if (problem) throw new IllegalParameterError(problem);
  return { n, e, bits: bitLength(n), k: byteLength(n) };
}

/** Encodes the DER `RSAPublicKey` of a key. */
export function encodeRsaPublicKey(key: RsaPublicKey): Uint8Array {
  return sequence(integer(key.n), integer(key.e));
}

/**
 * Parses and checks a DER `RSAPrivateKey` (two-prime, version 0). The CRT
 * parameters must agree with each other and with n and e, so a corrupted key is
 * refused here rather than producing faulty signatures later. Problems are
 * {@link ConfigError}s: private keys come from the local configuration.
 */
export function parseRsaPrivateKey(der: Uint8Array, minBits: number = RSA_MIN_SIGN_BITS): RsaPrivateKey {
  const ints: bigint[] = [];
  try {
    const seq = contents(decodeDer(der, 'RSAPrivateKey'), 'RSAPrivateKey');
    const version = readUnsigned(seq, 'version');
    if (version !== 0n) throw new ConfigError('RSAPrivateKey: only two-prime keys (version 0) are supported');
    for (const field of ['modulus', 'publicExponent', 'privateExponent', 'prime1', 'prime2', 'exponent1', 'exponent2', 'coefficient']) {
      ints.push(readUnsigned(seq, field));
    }
    seq.end();
  } catch (err) {
    if (err instanceof DecodeError) throw new ConfigError(`malformed RSA private key: ${err.message}`);
    throw err;
  }
  const [n, e, d, p, q, dp, dq, qInv] = ints as [bigint, bigint, bigint, bigint, bigint, bigint, bigint, bigint];
  const problem = checkPublic(n, e, minBits);
  if (problem) throw new ConfigError(problem);
  const consistent =
    p > 1n && q > 1n && p * q === n &&
    d > 0n && d < n &&
    dp === mod(d, p - 1n) && dq === mod(d, q - 1n) &&
    mod(e * dp, p - 1n) === 1n && mod(e * dq, q - 1n) === 1n &&
    qInv > 0n && qInv < p && modInverse(q, p) === qInv;
  if (!consistent) throw new ConfigError('RSA private key parameters are inconsistent');
  return { n, e, d, p, q, dp, dq, qInv, bits: bitLength(n), k: byteLength(n), pkcs1: der.slice() };
}
