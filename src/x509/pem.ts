import { malformed } from './errors.js';

/**
 * PEM (RFC 7468) without Node's Buffer: the strict textual encoding, with
 * explanatory text allowed between blocks as RFC 7468 §2 permits.
 */

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const VALUE = new Map<string, number>([...ALPHABET].map((c, i) => [c, i]));

export function base64Encode(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += 3) {
    const n = ((b[i] as number) << 16) | ((b[i + 1] ?? 0) << 8) | (b[i + 2] ?? 0);
    s += ALPHABET[(n >> 18) & 63] as string;
    s += ALPHABET[(n >> 12) & 63] as string;
    s += i + 1 < b.length ? (ALPHABET[(n >> 6) & 63] as string) : '=';
    s += i + 2 < b.length ? (ALPHABET[n & 63] as string) : '=';
  }
  return s;
}

/** Decodes base64 (whitespace ignored, padding required, no stray characters). */
export function base64Decode(text: string): Uint8Array {
  const s = text.replace(/[ \t\r\n]/g, '');
  if (s.length % 4 !== 0) throw malformed('base64: length is not a multiple of 4');
  const pad = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0;
  const out = new Uint8Array((s.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < s.length; i += 4) {
    let n = 0;
    for (let j = 0; j < 4; j++) {
      const c = s[i + j] as string;
      const last = i + 4 === s.length;
      if (c === '=' && last && j >= 4 - pad) {
        n <<= 6;
        continue;
      }
      const v = VALUE.get(c);
      if (v === undefined) throw malformed(`base64: invalid character ${JSON.stringify(c)}`);
      n = (n << 6) | v;
    }
    if (o < out.length) out[o++] = (n >> 16) & 0xff;
    if (o < out.length) out[o++] = (n >> 8) & 0xff;
    if (o < out.length) out[o++] = n & 0xff;
  }
  return out;
}

export interface PemBlock {
  readonly label: string;
  readonly bytes: Uint8Array;
}

/** Every PEM block in `text`, in order. A BEGIN without its END is `malformed`. */
export function decodePem(text: string): PemBlock[] {
  const out: PemBlock[] = [];
  const re = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END ([A-Z0-9 ]+)-----/g;
  let m: RegExpExecArray | null;
  let last = 0;
  while ((m = re.exec(text)) !== null) {
    const label = m[1] as string;
    if (m[3] !== label) throw malformed(`PEM: BEGIN ${label} closed by END ${m[3] ?? ''}`);
    const body = m[2] as string;
    if (body.includes(':')) throw malformed(`PEM ${label}: encrypted or header-bearing blocks are not supported`);
    out.push({ label, bytes: base64Decode(body) });
    last = re.lastIndex;
  }
  if (text.indexOf('-----BEGIN', last) >= 0) throw malformed('PEM: BEGIN line without a matching END line');
  return out;
}

/** One PEM block with 64-character lines and a trailing newline. */
export function encodePem(label: string, bytes: Uint8Array): string {
  const b64 = base64Encode(bytes);
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64));
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}
