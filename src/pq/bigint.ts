/**
 * Unsigned big-integer helpers for the RSA code: the RFC 8017 §4 conversions
 * and modular arithmetic on native bigint.
 *
 * Native bigint arithmetic is not constant-time, and nothing written on top of
 * it can be: multiplication and remainder take time that depends on the
 * operands' values. {@link modPow} at least does the same sequence of
 * operations for every exponent of a given length, so the exponent's bits do
 * not choose which operations run; but the real defence for the RSA private
 * key is in the noble backend's rsa.ts, which blinds both the base (m·r^e) and the exponent
 * (d_p + r₁·(p−1), d_q + r₂·(q−1)) afresh for every signature, so whatever
 * leaks is about a value that is never used twice.
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

const WINDOW = 4;

/**
 * base^exp mod m with a fixed 4-bit window, for secret exponents; m > 1,
 * exp ≥ 0. Every window costs four squarings and one multiplication, a zero
 * window included (it multiplies by table[0] = 1), so the operation sequence
 * depends only on the exponent's length, not on its bits. See the module
 * comment for why that is not the same as constant time.
 */
export function modPow(base: bigint, exp: bigint, m: bigint): bigint {
  const b = mod(base, m);
  const table: bigint[] = [1n % m, b];
  for (let i = 2; i < 1 << WINDOW; i++) table.push(((table[i - 1] as bigint) * b) % m);
  const windows = Math.ceil(bitLength(exp) / WINDOW);
  const mask = BigInt((1 << WINDOW) - 1);
  let result = 1n % m;
  for (let w = windows - 1; w >= 0; w--) {
    for (let i = 0; i < WINDOW; i++) result = (result * result) % m;
    result = (result * (table[Number((exp >> BigInt(w * WINDOW)) & mask)] as bigint)) % m;
  }
  return result;
}

/**
 * base^exp mod m by plain square-and-multiply, for public exponents only
 * (verification, blinding with e): it skips multiplications for zero bits,
 * which is cheaper for e = 65537 and fine because e is no secret.
 */
export function modPowPublic(base: bigint, exp: bigint, m: bigint): bigint {
  let result = 1n;
  const b = mod(base, m);
  for (let i = bitLength(exp) - 1; i >= 0; i--) {
    result = (result * result) % m;
    if ((exp >> BigInt(i)) & 1n) result = (result * b) % m;
  }
  return result % m;
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
