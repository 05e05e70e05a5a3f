import { ConfigError, DecodeError } from '../errors.js';
import { Reader } from '../codec/reader.js';
import { Writer } from '../codec/writer.js';
import { QuicTransportError, TransportErrorCode } from './errors.js';
import { exceedsPowerOfTwo, readVarintParts, saturate } from './varint.js';

/** Transport parameter IDs (RFC 9000 §18.2, RFC 9368 §3, RFC 9287 §3, RFC 9221 §3). */
export const TransportParameterId = {
  original_destination_connection_id: 0x00,
  max_idle_timeout: 0x01,
  stateless_reset_token: 0x02,
  max_udp_payload_size: 0x03,
  initial_max_data: 0x04,
  initial_max_stream_data_bidi_local: 0x05,
  initial_max_stream_data_bidi_remote: 0x06,
  initial_max_stream_data_uni: 0x07,
  initial_max_streams_bidi: 0x08,
  initial_max_streams_uni: 0x09,
  ack_delay_exponent: 0x0a,
  max_ack_delay: 0x0b,
  disable_active_migration: 0x0c,
  preferred_address: 0x0d,
  active_connection_id_limit: 0x0e,
  initial_source_connection_id: 0x0f,
  retry_source_connection_id: 0x10,
  version_information: 0x11,
  max_datagram_frame_size: 0x20,
  grease_quic_bit: 0x2ab2,
} as const;

/** The server's preferred address (RFC 9000 §18.2, Figure 22). */
export interface PreferredAddress {
  /** 4 bytes; all zero with port 0 when the server offers no IPv4 address. */
  readonly ipv4Address: Uint8Array;
  readonly ipv4Port: number;
  /** 16 bytes. */
  readonly ipv6Address: Uint8Array;
  readonly ipv6Port: number;
  readonly connectionId: Uint8Array;
  readonly statelessResetToken: Uint8Array;
}

/** version_information (RFC 9368 §3). */
export interface VersionInformation {
  readonly chosenVersion: number;
  readonly availableVersions: readonly number[];
}

/**
 * An endpoint's transport parameters, with the RFC defaults filled in for
 * absent integers. Integer limits above 2^53-1 read as Number.MAX_SAFE_INTEGER.
 */
export interface TransportParameters {
  readonly originalDestinationConnectionId?: Uint8Array;
  /** Milliseconds; 0 disables the idle timeout. */
  readonly maxIdleTimeout: number;
  readonly statelessResetToken?: Uint8Array;
  readonly maxUdpPayloadSize: number;
  readonly initialMaxData: number;
  readonly initialMaxStreamDataBidiLocal: number;
  readonly initialMaxStreamDataBidiRemote: number;
  readonly initialMaxStreamDataUni: number;
  readonly initialMaxStreamsBidi: number;
  readonly initialMaxStreamsUni: number;
  readonly ackDelayExponent: number;
  /** Milliseconds. */
  readonly maxAckDelay: number;
  readonly disableActiveMigration: boolean;
  readonly preferredAddress?: PreferredAddress;
  readonly activeConnectionIdLimit: number;
  readonly initialSourceConnectionId?: Uint8Array;
  readonly retrySourceConnectionId?: Uint8Array;
  readonly versionInformation?: VersionInformation;
  /** RFC 9221: absent means DATAGRAM frames are not supported. */
  readonly maxDatagramFrameSize?: number;
  /** RFC 9287: the peer may send packets with the fixed bit cleared. */
  readonly greaseQuicBit: boolean;
}

/** The values that apply when a parameter is absent (RFC 9000 §18.2). */
export const DEFAULT_TRANSPORT_PARAMETERS: TransportParameters = Object.freeze({
  maxIdleTimeout: 0,
  maxUdpPayloadSize: 65527,
  initialMaxData: 0,
  initialMaxStreamDataBidiLocal: 0,
  initialMaxStreamDataBidiRemote: 0,
  initialMaxStreamDataUni: 0,
  initialMaxStreamsBidi: 0,
  initialMaxStreamsUni: 0,
  ackDelayExponent: 3,
  maxAckDelay: 25,
  disableActiveMigration: false,
  activeConnectionIdLimit: 2,
  greaseQuicBit: false,
});

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
type IntegerKey = {
  [K in keyof TransportParameters]-?: NonNullable<TransportParameters[K]> extends number ? K : never
}[keyof TransportParameters];

/** Integer parameters: key, id, and the validity rule of RFC 9000 §18.2. */
const INTEGERS: readonly { key: IntegerKey; id: number; valid?: (v: number) => boolean; limitBits?: number }[] = [
  { key: 'maxIdleTimeout', id: 0x01 },
  { key: 'maxUdpPayloadSize', id: 0x03, valid: (v) => v >= 1200 },
  { key: 'initialMaxData', id: 0x04 },
  { key: 'initialMaxStreamDataBidiLocal', id: 0x05 },
  { key: 'initialMaxStreamDataBidiRemote', id: 0x06 },
  { key: 'initialMaxStreamDataUni', id: 0x07 },
  { key: 'initialMaxStreamsBidi', id: 0x08, limitBits: 60 },
  { key: 'initialMaxStreamsUni', id: 0x09, limitBits: 60 },
  { key: 'ackDelayExponent', id: 0x0a, valid: (v) => v <= 20 },
  { key: 'maxAckDelay', id: 0x0b, valid: (v) => v < 2 ** 14 },
  { key: 'activeConnectionIdLimit', id: 0x0e, valid: (v) => v >= 2 },
  { key: 'maxDatagramFrameSize', id: 0x20 },
];
const INTEGER_BY_ID = new Map(INTEGERS.map((d) => [d.id, d]));

const CID_PARAMS = [
  { key: 'originalDestinationConnectionId', id: 0x00 },
  { key: 'initialSourceConnectionId', id: 0x0f },
  { key: 'retrySourceConnectionId', id: 0x10 },
] as const;

/** Parameters only a server may send (RFC 9000 §18.2). */
const SERVER_ONLY = new Set<number>([0x00, 0x02, 0x0d, 0x10]);

/**
 * Encodes transport parameters (RFC 9000 §18). Integers equal to their
 * default are left out. `extra` appends further parameters verbatim, e.g.
 * reserved ones (31·N + 27) to exercise peers' handling of unknown IDs (§18.1).
 */
export function encodeTransportParameters(
  p: Partial<TransportParameters>, extra: readonly { id: number; value: Uint8Array }[] = [],
): Uint8Array {
  const w = new Writer(128);
  const put = (id: number, value: Uint8Array): void => {
    w.varint(id).varintBytes(value);
  };
  for (const d of CID_PARAMS) {
    const v = p[d.key];
    if (v === undefined) continue;
    if (v.length > 20) throw new ConfigError('connection ID longer than 20 bytes');
    put(d.id, v);
  }
  if (p.statelessResetToken) {
    if (p.statelessResetToken.length !== 16) throw new ConfigError('stateless_reset_token must be 16 bytes');
    put(0x02, p.statelessResetToken);
  }
  for (const d of INTEGERS) {
    const v = p[d.key];
    if (v === undefined || (d.key !== 'maxDatagramFrameSize' && v === DEFAULT_TRANSPORT_PARAMETERS[d.key])) continue;
    if ((d.valid && !d.valid(v)) || (d.limitBits !== undefined && v > 2 ** d.limitBits)) {
      throw new ConfigError(`transport parameter ${d.key} has an invalid value ${v}`);
    }
    put(d.id, new Writer(8).varint(v).finish());
  }
  if (p.disableActiveMigration) put(0x0c, new Uint8Array(0));
  if (p.preferredAddress) put(0x0d, encodePreferredAddress(p.preferredAddress));
  if (p.versionInformation) {
    const vi = p.versionInformation;
    const vw = new Writer(4 + 4 * vi.availableVersions.length).u32(vi.chosenVersion);
    for (const v of vi.availableVersions) vw.u32(v);
    put(0x11, vw.finish());
  }
  if (p.greaseQuicBit) put(0x2ab2, new Uint8Array(0));
  for (const e of extra) put(e.id, e.value);
  return w.finish();
}

function encodePreferredAddress(a: PreferredAddress): Uint8Array {
  if (a.ipv4Address.length !== 4 || a.ipv6Address.length !== 16) throw new ConfigError('preferred_address: bad address length');
  if (a.connectionId.length < 1 || a.connectionId.length > 20) throw new ConfigError('preferred_address: connection ID must be 1–20 bytes');
  if (a.statelessResetToken.length !== 16) throw new ConfigError('preferred_address: stateless reset token must be 16 bytes');
  return new Writer(64).bytes(a.ipv4Address).u16(a.ipv4Port).bytes(a.ipv6Address).u16(a.ipv6Port)
    .vecBytes(1, a.connectionId).bytes(a.statelessResetToken).finish();
}

/**
 * Decodes the peer's transport parameters (RFC 9000 §18, §7.4). `sender` is
 * the peer's role: a server rejects the server-only parameters from a client.
 * Unknown parameters are skipped; duplicates, malformed or invalid values are
 * a TRANSPORT_PARAMETER_ERROR.
 */
export function decodeTransportParameters(data: Uint8Array, sender: 'client' | 'server'): TransportParameters {
  try {
    return decode(data, sender);
  } catch (e) {
    if (e instanceof DecodeError) throw new QuicTransportError(TransportErrorCode.TRANSPORT_PARAMETER_ERROR, e.message, { cause: e });
    throw e;
  }
}

function decode(data: Uint8Array, sender: 'client' | 'server'): TransportParameters {
  const out: Mutable<TransportParameters> = { ...DEFAULT_TRANSPORT_PARAMETERS };
  // Keyed by the exact 62-bit ID: two unknown IDs above 2^53 must not collide.
  const seen = new Set<string>();
  const r = new Reader(data, 'transport parameters');
  while (!r.done) {
    const idParts = readVarintParts(r);
    const id = saturate(idParts);
    const value = new Reader(r.varintBytes(), `transport parameter 0x${id.toString(16)}`);
    const key = `${idParts.hi}:${idParts.lo}`;
    if (seen.has(key)) invalid(`duplicate transport parameter 0x${id.toString(16)}`);
    seen.add(key);
    if (sender === 'client' && SERVER_ONLY.has(id)) invalid(`client sent server-only transport parameter 0x${id.toString(16)}`);
    const int = INTEGER_BY_ID.get(id);
    if (int) {
      const parts = readVarintParts(value);
      value.end();
      const v = saturate(parts);
      if ((int.limitBits !== undefined && exceedsPowerOfTwo(parts, int.limitBits)) || (int.valid && !int.valid(v))) {
        invalid(`transport parameter 0x${id.toString(16)} has an invalid value`);
      }
      out[int.key] = v;
      continue;
    }
    switch (id) {
      case 0x00: out.originalDestinationConnectionId = cid(value); break;
      case 0x0f: out.initialSourceConnectionId = cid(value); break;
      case 0x10: out.retrySourceConnectionId = cid(value); break;
      case 0x02: out.statelessResetToken = value.bytes(16); value.end(); break;
      case 0x0c: value.end(); out.disableActiveMigration = true; break;
      case 0x2ab2: value.end(); out.greaseQuicBit = true; break;
      case 0x0d: out.preferredAddress = preferredAddress(value); break;
      case 0x11: out.versionInformation = versionInformation(value); break;
      default: break; // unknown: ignored (RFC 9000 §7.4.2)
    }
  }
  return out;
}

function invalid(message: string): never {
  throw new QuicTransportError(TransportErrorCode.TRANSPORT_PARAMETER_ERROR, message);
}

function cid(r: Reader): Uint8Array {
  if (r.remaining > 20) invalid('connection ID longer than 20 bytes');
  return r.rest();
}

function preferredAddress(r: Reader): PreferredAddress {
  const ipv4Address = r.bytes(4);
  const ipv4Port = r.u16();
  const ipv6Address = r.bytes(16);
  const ipv6Port = r.u16();
  const connectionId = r.vec(1);
  // A zero-length or over-long CID here is a TRANSPORT_PARAMETER_ERROR (RFC 9000 §18.2).
  if (connectionId.length < 1 || connectionId.length > 20) invalid(`preferred_address connection ID length ${connectionId.length}`);
  const statelessResetToken = r.bytes(16);
  r.end();
  return { ipv4Address, ipv4Port, ipv6Address, ipv6Port, connectionId, statelessResetToken };
}

/** RFC 9368 §3: a Chosen Version and zero or more Available Versions, none of them 0. */
function versionInformation(r: Reader): VersionInformation {
  if (r.remaining < 4 || r.remaining % 4 !== 0) invalid('version_information length not a positive multiple of 4');
  const chosenVersion = r.u32();
  const availableVersions: number[] = [];
  while (!r.done) availableVersions.push(r.u32());
  if (chosenVersion === 0 || availableVersions.includes(0)) invalid('version_information contains version 0');
  return { chosenVersion, availableVersions };
}
