import { ConfigError, DecodeError } from '../errors.js';
import { Reader } from '../codec/reader.js';
import { varintLength } from '../codec/writer.js';
import { InvalidPacketError } from './errors.js';
import { DEFAULT_VERSION_TABLE, longPacketType, type QuicVersion, type QuicVersionTable } from './versions.js';

/** Longest connection ID in QUIC v1 and v2 (RFC 9000 §17.2). */
export const MAX_CID_LENGTH = 20;
/** Length of a Retry Integrity Tag and of an AEAD tag (RFC 9001 §5.8). */
export const TAG_LENGTH = 16;

/** The packet types that carry protected frames. */
export type ProtectedPacketType = 'initial' | '0rtt' | 'handshake' | '1rtt';

/**
 * A protected packet located in a datagram, its header protection still on.
 * `bytes` is a view into the datagram (no copy); {@link openPacket} unmasks
 * the header in place.
 */
export interface ProtectedPacket {
  readonly type: ProtectedPacketType;
  /** The version, for long headers; undefined for 1-RTT (the connection knows it). */
  readonly version: QuicVersion | undefined;
  readonly dcid: Uint8Array;
  /** Empty for 1-RTT packets. */
  readonly scid: Uint8Array;
  /** The Initial token; empty for other types. */
  readonly token: Uint8Array;
  /** The whole packet: header, packet number, payload and tag. */
  readonly bytes: Uint8Array;
  /** Offset of the packet number within {@link bytes}. */
  readonly pnOffset: number;
}

/** A Retry packet (RFC 9000 §17.2.5). */
export interface RetryPacket {
  readonly type: 'retry';
  readonly version: QuicVersion;
  readonly dcid: Uint8Array;
  readonly scid: Uint8Array;
  readonly token: Uint8Array;
  readonly integrityTag: Uint8Array;
  readonly bytes: Uint8Array;
}

/** A Version Negotiation packet (RFC 9000 §17.2.1). */
export interface VersionNegotiationPacket {
  readonly type: 'version-negotiation';
  readonly dcid: Uint8Array;
  readonly scid: Uint8Array;
  readonly versions: readonly number[];
  readonly bytes: Uint8Array;
}

/**
 * A long-header packet of a version this library does not speak; only the
 * version-independent fields (RFC 8999 §5.1) are read, so that a server can
 * answer with Version Negotiation. It takes the rest of the datagram.
 */
export interface UnsupportedVersionPacket {
  readonly type: 'unsupported-version';
  readonly version: number;
  readonly dcid: Uint8Array;
  readonly scid: Uint8Array;
  readonly bytes: Uint8Array;
}

export type Packet = ProtectedPacket | RetryPacket | VersionNegotiationPacket | UnsupportedVersionPacket;

export interface ParseOptions {
  /** Length of the connection IDs this endpoint issues: short headers do not carry it (RFC 9000 §5.1). */
  readonly shortDcidLength: number;
  /** Accept a zero fixed bit: true once this endpoint has advertised grease_quic_bit (RFC 9287 §3). */
  readonly allowZeroFixedBit?: boolean;
  /**
   * The versions this endpoint speaks (default v1 and v2): a long header of
   * any other version parses as `unsupported-version`.
   */
  readonly versions?: QuicVersionTable;
}

/**
 * Parses the packet starting at `offset` of `datagram`, up to and including
 * the (still protected) packet-number offset. Returns the packet and where the
 * next coalesced packet starts (RFC 9000 §12.2). Throws {@link InvalidPacketError}
 * for a packet that must be discarded.
 */
export function parsePacket(datagram: Uint8Array, offset: number, options: ParseOptions): { packet: Packet; next: number } {
  try {
    return parse(datagram, offset, options);
  } catch (e) {
    if (e instanceof DecodeError && !(e instanceof InvalidPacketError)) throw new InvalidPacketError(e.message);
    throw e;
  }
}

function parse(datagram: Uint8Array, offset: number, options: ParseOptions): { packet: Packet; next: number } {
  const data = datagram.subarray(offset);
  const r = new Reader(data, 'QUIC packet');
  const first = r.u8();
  if ((first & 0x80) === 0) {
    if ((first & 0x40) === 0 && !options.allowZeroFixedBit) throw new InvalidPacketError('short header with fixed bit 0');
    const dcid = r.bytes(options.shortDcidLength);
    const packet: ProtectedPacket = {
      type: '1rtt', version: undefined, dcid, scid: EMPTY, token: EMPTY, bytes: data, pnOffset: r.offset,
    };
    return { packet, next: datagram.length };
  }
  const versionNumber = r.u32();
  const dcid = r.vec(1);
  const scid = r.vec(1);
  if (versionNumber === 0) {
    const list = r.rest();
    if (list.length === 0 || list.length % 4 !== 0) throw new InvalidPacketError('Version Negotiation: bad version list');
    const lr = new Reader(list);
    const versions: number[] = [];
    while (!lr.done) versions.push(lr.u32());
    return { packet: { type: 'version-negotiation', dcid, scid, versions, bytes: data }, next: datagram.length };
  }
  const version = (options.versions ?? DEFAULT_VERSION_TABLE).get(versionNumber);
  if (!version) {
    return { packet: { type: 'unsupported-version', version: versionNumber, dcid, scid, bytes: data }, next: datagram.length };
  }
  if (dcid.length > MAX_CID_LENGTH || scid.length > MAX_CID_LENGTH) {
    throw new InvalidPacketError(`connection ID longer than ${MAX_CID_LENGTH} bytes`);
  }
  if ((first & 0x40) === 0 && !options.allowZeroFixedBit) throw new InvalidPacketError('long header with fixed bit 0');
  const type = longPacketType(version, (first >> 4) & 3);
  if (type === 'retry') {
    const rest = r.rest();
    if (rest.length <= TAG_LENGTH) throw new InvalidPacketError('Retry without a token');
    const token = rest.subarray(0, rest.length - TAG_LENGTH);
    const integrityTag = rest.subarray(rest.length - TAG_LENGTH);
    return { packet: { type, version, dcid, scid, token, integrityTag, bytes: data }, next: datagram.length };
  }
  const token = type === 'initial' ? r.varintBytes() : EMPTY;
  const length = r.varint();
  const pnOffset = r.offset;
  if (length > r.remaining) throw new InvalidPacketError(`Length ${length} exceeds the ${r.remaining} bytes left`);
  const end = pnOffset + length;
  const packet: ProtectedPacket = { type, version, dcid, scid, token, bytes: data.subarray(0, end), pnOffset };
  return { packet, next: offset + end };
}

const EMPTY = new Uint8Array(0);

/** Header fields of a packet to send; the packet number and Length are filled in at protection time. */
export type OutgoingHeader =
  | {
    readonly type: 'initial' | '0rtt' | 'handshake';
    readonly version: QuicVersion;
    readonly dcid: Uint8Array;
    readonly scid: Uint8Array;
    /** Initial only (RFC 9000 §17.2.2); absent means empty. */
    readonly token?: Uint8Array;
    /** Send a zero fixed bit: only after the peer advertised grease_quic_bit (RFC 9287 §3). */
    readonly greaseFixedBit?: boolean;
  }
  | {
    readonly type: '1rtt';
    readonly dcid: Uint8Array;
    /** The latency spin bit (RFC 9000 §17.4). */
    readonly spin?: boolean;
    readonly greaseFixedBit?: boolean;
  };

/**
 * Bytes the header of `h` takes, up to but excluding the packet number.
 * `length` is the value of the Length field (packet number, payload and tag).
 */
export function headerLength(h: OutgoingHeader, length: number): number {
  if (h.type === '1rtt') return 1 + h.dcid.length;
  checkCid(h.dcid);
  checkCid(h.scid);
  const token = h.type === 'initial' ? (h.token?.length ?? 0) : -1;
  return 7 + h.dcid.length + h.scid.length + (token >= 0 ? varintLength(token) + token : 0) + varintLength(length);
}

function checkCid(cid: Uint8Array): void {
  if (cid.length > MAX_CID_LENGTH) throw new ConfigError(`connection ID longer than ${MAX_CID_LENGTH} bytes`);
}

/**
 * Writes the unprotected header of `h` into `out` from offset 0, with the
 * packet number `truncatedPn` on `pnLength` bytes, and returns the packet
 * number's offset. `keyPhase` is the 1-RTT key-phase bit (RFC 9001 §6).
 */
export function writeHeader(
  out: Uint8Array, h: OutgoingHeader, length: number, pnLength: 1 | 2 | 3 | 4, truncatedPn: number, keyPhase: 0 | 1,
): number {
  const fixed = h.greaseFixedBit ? 0 : 0x40;
  let p: number;
  if (h.type === '1rtt') {
    out[0] = fixed | (h.spin ? 0x20 : 0) | (keyPhase << 2) | (pnLength - 1);
    out.set(h.dcid, 1);
    p = 1 + h.dcid.length;
  } else {
    const v = h.version.number;
    out[0] = 0x80 | fixed | (h.version.longTypeCodes[h.type] << 4) | (pnLength - 1);
    out[1] = v >>> 24;
    out[2] = (v >>> 16) & 0xff;
    out[3] = (v >>> 8) & 0xff;
    out[4] = v & 0xff;
    out[5] = h.dcid.length;
    out.set(h.dcid, 6);
    p = 6 + h.dcid.length;
    out[p++] = h.scid.length;
    out.set(h.scid, p);
    p += h.scid.length;
    if (h.type === 'initial') {
      const token = h.token ?? EMPTY;
      p = putVarint(out, p, token.length);
      out.set(token, p);
      p += token.length;
    }
    p = putVarint(out, p, length);
  }
  for (let i = pnLength - 1, x = truncatedPn; i >= 0; i--, x >>>= 8) out[p + i] = x & 0xff;
  return p;
}

/** Writes `v` as a shortest QUIC varint at `p` and returns the offset after it. */
export function putVarint(out: Uint8Array, p: number, v: number): number {
  const len = varintLength(v);
  let x = v;
  for (let i = len - 1; i >= 0; i--) {
    out[p + i] = x % 256;
    x = Math.floor(x / 256);
  }
  out[p] = (out[p] as number) | ([0, 0, 0x40, 0, 0x80, 0, 0, 0, 0xc0][len] as number);
  return p + len;
}

/**
 * A Version Negotiation packet (RFC 9000 §17.2.1) answering a client whose
 * packet carried `dcid`/`scid`: the IDs are echoed swapped. `unused` fills the
 * seven arbitrary bits of the first byte; the default sets 0x40 as RFC 9000
 * recommends for multiplexing with other protocols.
 */
export function encodeVersionNegotiation(
  clientDcid: Uint8Array, clientScid: Uint8Array, versions: readonly number[], unused = 0x40,
): Uint8Array {
  if (versions.length === 0) throw new ConfigError('Version Negotiation needs at least one version');
  if (clientDcid.length > 255 || clientScid.length > 255) throw new ConfigError('connection ID longer than 255 bytes');
  const out = new Uint8Array(7 + clientDcid.length + clientScid.length + 4 * versions.length);
  out[0] = 0x80 | (unused & 0x7f);
  let p = 5;
  out[p++] = clientScid.length;
  out.set(clientScid, p);
  p += clientScid.length;
  out[p++] = clientDcid.length;
  out.set(clientDcid, p);
  p += clientDcid.length;
  for (const v of versions) {
    out[p++] = v >>> 24;
    out[p++] = (v >>> 16) & 0xff;
    out[p++] = (v >>> 8) & 0xff;
    out[p++] = v & 0xff;
  }
  return out;
}

