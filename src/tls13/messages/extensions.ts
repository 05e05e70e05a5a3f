import { AlertDescription, DecodeError } from '../../errors.js';
import { Reader } from '../../codec/reader.js';
import { Writer } from '../../codec/writer.js';
import { fromUtf8, utf8 } from '../../bytes.js';
import { ExtensionType } from '../constants.js';

/** One extension as it appears on the wire: type and opaque body. */
export interface Extension {
  readonly type: number;
  readonly data: Uint8Array;
}

/**
 * Reads an `Extension extensions<min..max>` block. Duplicates are an
 * illegal_parameter (RFC 8446 §4.2: "There MUST NOT be more than one extension
 * of the same type").
 */
export function readExtensions(r: Reader, min = 0, max = 0xffff): Extension[] {
  const body = r.sub(2, min, max, 'extensions');
  const out: Extension[] = [];
  const seen = new Set<number>();
  while (!body.done) {
    const type = body.u16();
    const data = body.vec(2);
    if (seen.has(type)) throw new DecodeError(`duplicate extension ${type}`, AlertDescription.illegal_parameter);
    seen.add(type);
    out.push({ type, data });
  }
  return out;
}

export function writeExtensions(w: Writer, exts: readonly Extension[]): void {
  w.vec(2, (w) => {
    for (const e of exts) w.u16(e.type).vecBytes(2, e.data);
  });
}

export function findExtension(exts: readonly Extension[], type: number): Uint8Array | undefined {
  for (const e of exts) if (e.type === type) return e.data;
  return undefined;
}

/** Parses one extension body with `parse`, requiring it to consume every byte. */
export function parseExtension<T>(data: Uint8Array, what: string, parse: (r: Reader) => T): T {
  const r = new Reader(data, what);
  const v = parse(r);
  r.end();
  return v;
}

const build = (f: (w: Writer) => void): Uint8Array => {
  const w = new Writer(64);
  f(w);
  return w.finish();
};

// --- supported_versions (§4.2.1) ---
export const encodeSupportedVersionsClient = (versions: readonly number[]): Uint8Array =>
  build((w) => w.vec(1, (w) => versions.forEach((v) => w.u16(v)), 2, 254));
export const decodeSupportedVersionsClient = (d: Uint8Array): number[] =>
  parseExtension(d, 'supported_versions', (r) => u16List(r.sub(1, 2, 254)));
export const encodeSupportedVersionsServer = (v: number): Uint8Array => build((w) => w.u16(v));
export const decodeSupportedVersionsServer = (d: Uint8Array): number => parseExtension(d, 'supported_versions', (r) => r.u16());

function u16List(r: Reader): number[] {
  if (r.remaining % 2 !== 0) throw new DecodeError(`${r.what}: odd length`);
  const out: number[] = [];
  while (!r.done) out.push(r.u16());
  return out;
}

// --- supported_groups (§4.2.7), signature_algorithms(_cert) (§4.2.3) ---
export const encodeU16List = (list: readonly number[]): Uint8Array => build((w) => w.vec(2, (w) => list.forEach((v) => w.u16(v)), 2));
export const decodeU16List = (d: Uint8Array, what: string): number[] => parseExtension(d, what, (r) => u16List(r.sub(2, 2, 0xfffe)));

// --- key_share (§4.2.8) ---
export interface KeyShareEntry {
  readonly group: number;
  readonly share: Uint8Array;
}
const readEntry = (r: Reader): KeyShareEntry => ({ group: r.u16(), share: r.vec(2, 1) });
export const encodeKeyShareClient = (entries: readonly KeyShareEntry[]): Uint8Array =>
  build((w) => w.vec(2, (w) => entries.forEach((e) => w.u16(e.group).vecBytes(2, e.share, 1))));
export function decodeKeyShareClient(d: Uint8Array): KeyShareEntry[] {
  return parseExtension(d, 'key_share', (r) => {
    const body = r.sub(2);
    const out: KeyShareEntry[] = [];
    while (!body.done) {
      const e = readEntry(body);
      // §4.2.8: clients MUST NOT offer multiple shares for the same group.
      if (out.some((o) => o.group === e.group)) throw new DecodeError('key_share: duplicate group', AlertDescription.illegal_parameter);
      out.push(e);
    }
    return out;
  });
}
export const encodeKeyShareServer = (e: KeyShareEntry): Uint8Array => build((w) => w.u16(e.group).vecBytes(2, e.share, 1));
export const decodeKeyShareServer = (d: Uint8Array): KeyShareEntry => parseExtension(d, 'key_share', readEntry);
export const encodeKeyShareHrr = (group: number): Uint8Array => build((w) => w.u16(group));
export const decodeKeyShareHrr = (d: Uint8Array): number => parseExtension(d, 'key_share', (r) => r.u16());

// --- server_name (RFC 6066 §3) ---
export const encodeServerName = (host: string): Uint8Array =>
  build((w) => w.vec(2, (w) => w.u8(0).vecBytes(2, utf8(host), 1)));
export function decodeServerName(d: Uint8Array): string | undefined {
  return parseExtension(d, 'server_name', (r) => {
    const list = r.sub(2, 1);
    let host: string | undefined;
    while (!list.done) {
      const type = list.u8();
      const name = list.vec(2, 1);
      if (type !== 0) continue;
      if (host !== undefined) throw new DecodeError('server_name: two host names', AlertDescription.illegal_parameter);
      host = decodeHostName(name);
    }
    return host;
  });
}
function decodeHostName(b: Uint8Array): string {
  for (const c of b) if (c < 0x21 || c > 0x7e) throw new DecodeError('server_name: not an ASCII host name', AlertDescription.illegal_parameter);
  return fromUtf8(b).toLowerCase();
}
/** A server's acknowledgement of SNI is an empty server_name extension. */
export const EMPTY = new Uint8Array(0);

// --- ALPN (RFC 7301) ---
export const encodeAlpn = (protocols: readonly string[]): Uint8Array =>
  build((w) => w.vec(2, (w) => protocols.forEach((p) => w.vecBytes(1, utf8(p), 1)), 2));
export function decodeAlpn(d: Uint8Array): string[] {
  return parseExtension(d, 'application_layer_protocol_negotiation', (r) => {
    const list = r.sub(2, 2);
    const out: string[] = [];
    while (!list.done) out.push(decodeProtocolName(list.vec(1, 1)));
    return out;
  });
}
function decodeProtocolName(b: Uint8Array): string {
  try {
    return fromUtf8(b);
  } catch {
    // Protocol names are opaque; keep non-UTF-8 ones distinct and unmatchable.
    return '\uFFFD' + Array.from(b, (x) => x.toString(16)).join('');
  }
}

// --- cookie (§4.2.2) ---
export const encodeCookie = (c: Uint8Array): Uint8Array => build((w) => w.vecBytes(2, c, 1));
export const decodeCookie = (d: Uint8Array): Uint8Array => parseExtension(d, 'cookie', (r) => r.vec(2, 1));

// --- psk_key_exchange_modes (§4.2.9) ---
export const encodePskModes = (modes: readonly number[]): Uint8Array => build((w) => w.vec(1, (w) => modes.forEach((m) => w.u8(m)), 1));
export const decodePskModes = (d: Uint8Array): number[] => parseExtension(d, 'psk_key_exchange_modes', (r) => Array.from(r.vec(1, 1)));

// --- record_size_limit (RFC 8449 §4) ---
export const encodeRecordSizeLimit = (limit: number): Uint8Array => build((w) => w.u16(limit));
/** Values under 64 are illegal_parameter (RFC 8449 §4). */
export function decodeRecordSizeLimit(d: Uint8Array): number {
  const v = parseExtension(d, 'record_size_limit', (r) => r.u16());
  if (v < 64) throw new DecodeError(`record_size_limit ${v} is below 64`, AlertDescription.illegal_parameter);
  return v;
}

export { ExtensionType };
