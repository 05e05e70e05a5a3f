/**
 * The HPACK Huffman code (RFC 7541 §5.2, Appendix B), which QPACK reuses for
 * string literals (RFC 9204 §4.1.2). The code is canonical, so it is fully
 * given by each symbol's code length; the codes themselves are derived here
 * and checked against the RFC's table in the tests. Decoding only: we send
 * literals plain, which every decoder accepts, but peers (nghttp3, quiche)
 * Huffman-encode theirs.
 */
import { Http3Error, H3ErrorCode } from './errors.js';

/** Code length in bits of symbols 0..255 and EOS (256), RFC 7541 Appendix B. */
const LENGTHS: readonly number[] = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28,
  28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6,
  5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
  7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5,
  6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,
  24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23,
  21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
  19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,
  26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
  30,
];
const EOS = 256;

/** The canonical codes: by length, then symbol, each the previous plus one, shifted to its length. */
function canonicalCodes(): number[] {
  const codes = new Array<number>(LENGTHS.length).fill(0);
  const order = LENGTHS.map((_, s) => s).sort((a, b) => (LENGTHS[a] as number) - (LENGTHS[b] as number) || a - b);
  let code = 0;
  let prev = LENGTHS[order[0] as number] as number;
  order.forEach((s, i) => {
    const len = LENGTHS[s] as number;
    if (i > 0) code = (code + 1) * 2 ** (len - prev);
    prev = len;
    codes[s] = code;
  });
  return codes;
}

/** Symbol and code, per symbol (EOS included), as Appendix B lists them. */
export const HUFFMAN_CODES: readonly { readonly code: number; readonly bits: number }[] =
  canonicalCodes().map((code, s) => ({ code, bits: LENGTHS[s] as number }));

/**
 * The decoding tree as flat arrays: node 0 is the root; `next[2n+b]` is the
 * child of node n for bit b (> 0: an inner node; ≤ 0: -symbol, a leaf).
 */
const tree = ((): Int32Array => {
  const next = new Int32Array(2 * 512).fill(0);
  let nodes = 1;
  HUFFMAN_CODES.forEach(({ code, bits }, symbol) => {
    let n = 0;
    for (let i = bits - 1; i >= 0; i--) {
      const b = Math.floor(code / 2 ** i) & 1;
      const slot = 2 * n + b;
      if (i === 0) next[slot] = -symbol;
      else {
        if (next[slot] === 0) next[slot] = nodes++;
        n = next[slot] as number;
      }
    }
  });
  return next;
})();

/**
 * Decodes a Huffman-coded string literal (RFC 7541 §5.2). Padding must be
 * fewer than 8 bits and all ones (a prefix of EOS); an EOS symbol inside the
 * string is an error. Each input byte yields at most two symbols (codes are
 * ≥ 5 bits), so the output is bounded by twice the input.
 * @throws Http3Error QPACK_DECOMPRESSION_FAILED
 */
export function huffmanDecode(input: Uint8Array): Uint8Array {
  const out = new Uint8Array(input.length * 2);
  let o = 0;
  let node = 0;
  /** Bits since the last symbol, and whether they were all ones. */
  let pending = 0;
  let allOnes = true;
  for (const byte of input) {
    for (let i = 7; i >= 0; i--) {
      const b = (byte >> i) & 1;
      const child = tree[2 * node + b] as number;
      pending++;
      allOnes &&= b === 1;
      if (child > 0) {
        node = child;
        continue;
      }
      if (-child === EOS) throw new Http3Error(H3ErrorCode.QPACK_DECOMPRESSION_FAILED, 'EOS inside a Huffman-coded string (RFC 7541 §5.2)');
      out[o++] = -child;
      node = 0;
      pending = 0;
      allOnes = true;
    }
  }
  if (pending > 7 || !allOnes) throw new Http3Error(H3ErrorCode.QPACK_DECOMPRESSION_FAILED, 'bad Huffman padding (RFC 7541 §5.2)');
  return out.slice(0, o);
}

/** Huffman-encodes `input` (used by the tests to build peer-style literals). */
export function huffmanEncode(input: Uint8Array): Uint8Array {
  const bits: number[] = [];
  for (const s of input) {
    const { code, bits: n } = HUFFMAN_CODES[s] as { code: number; bits: number };
    for (let i = n - 1; i >= 0; i--) bits.push(Math.floor(code / 2 ** i) & 1);
  }
  while (bits.length % 8) bits.push(1);
  const out = new Uint8Array(bits.length / 8);
  bits.forEach((b, i) => {
    out[i >> 3] = (out[i >> 3] as number) | (b << (7 - (i & 7)));
  });
  return out;
}
