/**
 * The sliver of DER (X.690 §10) the signature code needs: SEQUENCE and
 * INTEGER, read strictly and written canonically. Strictness matters here
 * because signatures and keys are compared and hashed by their encodings, and
 * every leniency (long-form lengths for short values, padded integers, trailing
 * bytes) is a malleability Wycheproof tests for.
 */
import { DecodeError } from '../../errors.js';
import { Reader } from '../../codec/reader.js';
import { concat } from '../../bytes.js';
import { bigIntToBytes, byteLength, bytesToBigInt } from './bigint.js';

export const DER_INTEGER = 0x02;
export const DER_SEQUENCE = 0x30;

/** Reads one TLV with a minimal definite length, checks its tag and returns its contents. */
export function readTlv(r: Reader, tag: number): Uint8Array {
  const got = r.u8();
  if (got !== tag) throw new DecodeError(`${r.what}: expected DER tag 0x${tag.toString(16)}, got 0x${got.toString(16)}`);
  const first = r.u8();
  let length: number;
  if (first < 0x80) {
    length = first;
  } else {
    const n = first & 0x7f;
    // 0x80 is BER's indefinite length; more than 4 length bytes is beyond anything we parse.
    if (n === 0 || n > 4) throw new DecodeError(`${r.what}: unsupported DER length form 0x${first.toString(16)}`);
    const lenBytes = r.bytes(n);
    length = 0;
    for (const b of lenBytes) length = length * 256 + b;
    if (lenBytes[0] === 0 || length < 0x80) throw new DecodeError(`${r.what}: non-minimal DER length`);
  }
  return r.bytes(length);
}

/** Reads a non-negative INTEGER in minimal two's-complement form, as a bigint. */
export function readUnsignedInteger(r: Reader): bigint {
  const body = readTlv(r, DER_INTEGER);
  const b0 = body[0];
  if (b0 === undefined) throw new DecodeError(`${r.what}: empty DER INTEGER`);
  if (b0 & 0x80) throw new DecodeError(`${r.what}: negative DER INTEGER`);
  if (b0 === 0 && body.length > 1 && !((body[1] as number) & 0x80)) {
    throw new DecodeError(`${r.what}: non-minimal DER INTEGER`);
  }
  return bytesToBigInt(body);
}

/** Reads a SEQUENCE and returns a reader over exactly its contents. */
export function readSequence(r: Reader, what = r.what): Reader {
  return new Reader(readTlv(r, DER_SEQUENCE), what);
}

function encodeLength(n: number): Uint8Array {
  if (n < 0x80) return Uint8Array.of(n);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

/** Encodes one TLV. */
export function encodeTlv(tag: number, contents: Uint8Array): Uint8Array {
  return concat(Uint8Array.of(tag), encodeLength(contents.length), contents);
}

/** Encodes a non-negative bigint as a minimal INTEGER. */
export function encodeUnsignedInteger(v: bigint): Uint8Array {
  if (v < 0n) throw new RangeError('negative integer');
  const mag = v === 0n ? Uint8Array.of(0) : bigIntToBytes(v, byteLength(v));
  return encodeTlv(DER_INTEGER, (mag[0] as number) & 0x80 ? concat(Uint8Array.of(0), mag) : mag);
}

export function encodeSequence(...items: readonly Uint8Array[]): Uint8Array {
  return encodeTlv(DER_SEQUENCE, concat(...items));
}
