/**
 * Unsigned big-integer helpers for the RSA code: the RFC 8017 §4 conversions
 * and modular arithmetic on native bigint.
 *
 * Native bigint arithmetic is not constant-time. The RSA private-key operation
 * compensates with base blinding (see rsa.ts); nothing else here touches secrets
 * in a data-dependent way that blinding does not cover.
 */

/** Big-endian unsigned bytes to bigint (OS2IP, RFC 8017 §4.2). */
export function bytesToBigInt(b: Uint8Array): bigint {
  let v = 0n;
  for (const x of b) v = (v << 8n) | BigInt(x);
  return v;
}

/** Bigint to exactly `length` big-endian bytes (I2OSP, RFC 8017 §4.1); RangeError if it does not fit. */
export function bigIntToBytes(v: bigint, length: number): Uint8Array {
  if (v < 0n) throw new RangeError('negative integer');
  const out = new Uint8Array(length);
  let x = v;
  for (let i = length - 1; i >= 0; i--) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  if (x !== 0n) throw new RangeError('integer too large');
  return out;
}

export function bitLength(v: bigint): number {
  return v <= 0n ? 0 : v.toString(2).length;
}

export function byteLength(v: bigint): number {
  return Math.ceil(bitLength(v) / 8);
}

/** Non-negative remainder. */
export function mod(a: bigint, m: bigint): bigint {
  const r = a % m;
  return r < 0n ? r + m : r;
}

/** base^exp mod m by left-to-right square-and-multiply; m > 1, exp ≥ 0. */
export function modPow(base: bigint, exp: bigint, m: bigint): bigint {
  let result = 1n;
  const b = mod(base, m);
  for (let i = bitLength(exp) - 1; i >= 0; i--) {
    result = (result * result) % m;
    if ((exp >> BigInt(i)) & 1n) result = (result * b) % m;
  }
  return result;
}

/** a^-1 mod m, or undefined when gcd(a, m) ≠ 1. */
export function modInverse(a: bigint, m: bigint): bigint | undefined {
  let [oldR, r] = [mod(a, m), m];
  let [oldS, s] = [1n, 0n];
  while (r !== 0n) {
    const q = oldR / r;
    [oldR, r] = [r, oldR - q * r];
    [oldS, s] = [s, oldS - q * s];
  }
  return oldR === 1n ? mod(oldS, m) : undefined;
}
