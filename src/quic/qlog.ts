/**
 * qlog for QUIC: structured event logs (draft-ietf-quic-qlog-main-schema,
 * draft-ietf-quic-qlog-quic-events) in the JSON-SEQ serialisation (RFC 7464:
 * each record is RS, a JSON text, LF), the `.sqlog` files qvis loads.
 *
 * The version followed is the drafts' qlog 0.3 (`qlog_version` "0.3", event
 * categories `connectivity:`, `transport:`, `security:`, `recovery:`): what
 * OpenSSL 3.5 (QLOGDIR) and ngtcp2 1.11 (--qlog-dir) write and qvis reads. Later
 * drafts moved the same events into a `quic:` namespace (quic:packet_sent for
 * transport:packet_sent, and so on).
 *
 * Sans-IO: the connection reports events to a {@link QlogSink}; the
 * {@link QlogJsonSeqWriter} turns them into text and hands each record to a
 * callback. Opening files is the Node adapter's business (src/node/qlog-file.ts).
 * @module
 */
import { toHex } from '../bytes.js';
import type { Frame } from './frames/types.js';
import type { TransportParameters } from './transport-parameters.js';

/** A JSON value as qlog carries it. */
export type QlogValue = string | number | boolean | null | readonly QlogValue[] | { readonly [key: string]: QlogValue | undefined };
/** An event's `data` member. Members that are undefined are left out of the record. */
export type QlogData = { readonly [key: string]: QlogValue | undefined };

/** What a connection says about its trace once, before its first event. */
export interface QlogTraceStart {
  readonly vantagePoint: 'client' | 'server';
  /** The time the event times are relative to, in the connection's own clock (milliseconds). */
  readonly referenceTime: number;
  /** The Destination Connection ID of the client's first Initial: the name qlog tools group a connection's traces by. */
  readonly odcid: Uint8Array;
}

/**
 * Where a connection's qlog events go. `time` is the connection's `now` (the
 * same clock as every `now` passed to it); `name` is `category:event`.
 * One sink per connection: {@link start} is called once, first.
 */
export interface QlogSink {
  start?(trace: QlogTraceStart): void;
  event(time: number, name: string, data: QlogData): void;
}

/** The JSON-SEQ record separator (RFC 7464 §2.2). */
export const RECORD_SEPARATOR = '\u001e';
export const QLOG_VERSION = '0.3';

/** One JSON-SEQ record: RS, the JSON text, LF. */
export function jsonSeqRecord(value: QlogValue): string {
  return `${RECORD_SEPARATOR}${JSON.stringify(value, finite)}\n`;
}

/** JSON has no Infinity or NaN (JSON.stringify would write null): such members are left out. */
function finite(_key: string, v: unknown): unknown {
  return typeof v === 'number' && !Number.isFinite(v) ? undefined : v;
}

/** The header record of a trace: qlog_version 0.3, relative times from `reference_time`. */
export function qlogHeaderRecord(trace: QlogTraceStart, title = 'pqtls'): string {
  return jsonSeqRecord({
    qlog_version: QLOG_VERSION,
    qlog_format: 'JSON-SEQ',
    title,
    trace: {
      vantage_point: { name: 'pqtls', type: trace.vantagePoint },
      common_fields: {
        protocol_type: ['QUIC'],
        time_format: 'relative',
        reference_time: trace.referenceTime,
        group_id: toHex(trace.odcid),
        ODCID: toHex(trace.odcid),
      },
    },
  });
}

/** One event record; `relativeTime` is already relative to the header's reference time. */
export function qlogEventRecord(relativeTime: number, name: string, data: QlogData): string {
  return jsonSeqRecord({ time: roundTime(relativeTime), name, data });
}

/** Microsecond resolution is all a packet trace needs, and keeps float noise out of the file. */
function roundTime(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/**
 * A {@link QlogSink} that writes JSON-SEQ text: the header on {@link start},
 * then one record per event, each passed whole to `write`. Events before
 * `start` (a sink used outside a connection) get a header with reference time 0.
 */
export class QlogJsonSeqWriter implements QlogSink {
  private referenceTime: number | undefined;

  constructor(private readonly write: (record: string) => void, private readonly title = 'pqtls') {}

  start(trace: QlogTraceStart): void {
    if (this.referenceTime !== undefined) return;
    this.referenceTime = trace.referenceTime;
    this.write(qlogHeaderRecord(trace, this.title));
  }

  event(time: number, name: string, data: QlogData): void {
    if (this.referenceTime === undefined) this.start({ vantagePoint: 'client', referenceTime: 0, odcid: new Uint8Array(0) });
    this.write(qlogEventRecord(time - (this.referenceTime as number), name, data));
  }
}

// ---- QUIC event data (quic-events draft, qlog 0.3) --------------------------------------------

/** qlog's PacketType names. */
export function qlogPacketType(type: 'initial' | 'handshake' | '0rtt' | '1rtt' | 'application' | 'retry'): string {
  return type === '0rtt' ? '0RTT' : type === '1rtt' || type === 'application' ? '1RTT' : type;
}

/** A version as qlog writes it: eight hex digits. */
export function qlogVersion(v: number): string {
  return v.toString(16).padStart(8, '0');
}

/** TransportParameters as the `transport:parameters_set` event's members. */
export function qlogParameters(owner: 'local' | 'remote', p: TransportParameters): QlogData {
  const hex = (b: Uint8Array | undefined): string | undefined => (b ? toHex(b) : undefined);
  const pa = p.preferredAddress;
  return {
    owner,
    original_destination_connection_id: hex(p.originalDestinationConnectionId),
    initial_source_connection_id: hex(p.initialSourceConnectionId),
    retry_source_connection_id: hex(p.retrySourceConnectionId),
    stateless_reset_token: hex(p.statelessResetToken),
    disable_active_migration: p.disableActiveMigration,
    max_idle_timeout: p.maxIdleTimeout,
    max_udp_payload_size: p.maxUdpPayloadSize,
    ack_delay_exponent: p.ackDelayExponent,
    max_ack_delay: p.maxAckDelay,
    active_connection_id_limit: p.activeConnectionIdLimit,
    initial_max_data: p.initialMaxData,
    initial_max_stream_data_bidi_local: p.initialMaxStreamDataBidiLocal,
    initial_max_stream_data_bidi_remote: p.initialMaxStreamDataBidiRemote,
    initial_max_stream_data_uni: p.initialMaxStreamDataUni,
    initial_max_streams_bidi: p.initialMaxStreamsBidi,
    initial_max_streams_uni: p.initialMaxStreamsUni,
    max_datagram_frame_size: p.maxDatagramFrameSize,
    grease_quic_bit: p.greaseQuicBit,
    preferred_address: pa ? {
      ip_v4: Array.from(pa.ipv4Address).join('.'), port_v4: pa.ipv4Port,
      ip_v6: toHex(pa.ipv6Address), port_v6: pa.ipv6Port,
      connection_id: toHex(pa.connectionId), stateless_reset_token: toHex(pa.statelessResetToken),
    } : undefined,
  };
}

/**
 * A frame as qlog's QuicFrame: type and sizes, never the payload bytes
 * (stream data stays out of the log). `ackDelayExponent` is the sender's,
 * to turn the ACK Delay field into milliseconds.
 */
export function qlogFrame(f: Frame, ackDelayExponent: number): QlogData {
  switch (f.type) {
    case 'padding':
      return { frame_type: 'padding', length: f.length, payload_length: f.length };
    case 'ack':
      return {
        frame_type: 'ack',
        ack_delay: (f.ackDelay * 2 ** ackDelayExponent) / 1000,
        acked_ranges: f.ranges.map((r) => (r.smallest === r.largest ? [r.smallest] : [r.smallest, r.largest])),
        ...(f.ecn ? { ect0: f.ecn.ect0, ect1: f.ecn.ect1, ce: f.ecn.ce } : {}),
      };
    case 'reset_stream':
      return { frame_type: 'reset_stream', stream_id: f.streamId, error_code: f.errorCode, final_size: f.finalSize };
    case 'stop_sending':
      return { frame_type: 'stop_sending', stream_id: f.streamId, error_code: f.errorCode };
    case 'crypto':
      return { frame_type: 'crypto', offset: f.offset, length: f.data.length };
    case 'new_token':
      return { frame_type: 'new_token', token: { raw: { length: f.token.length } } };
    case 'stream':
      return { frame_type: 'stream', stream_id: f.streamId, offset: f.offset, length: f.data.length, fin: f.fin };
    case 'max_data':
      return { frame_type: 'max_data', maximum: f.maximum };
    case 'max_stream_data':
      return { frame_type: 'max_stream_data', stream_id: f.streamId, maximum: f.maximum };
    case 'max_streams':
      return { frame_type: 'max_streams', stream_type: f.bidirectional ? 'bidirectional' : 'unidirectional', maximum: f.maximum };
    case 'data_blocked':
      return { frame_type: 'data_blocked', limit: f.limit };
    case 'stream_data_blocked':
      return { frame_type: 'stream_data_blocked', stream_id: f.streamId, limit: f.limit };
    case 'streams_blocked':
      return { frame_type: 'streams_blocked', stream_type: f.bidirectional ? 'bidirectional' : 'unidirectional', limit: f.limit };
    case 'new_connection_id':
      return {
        frame_type: 'new_connection_id', sequence_number: f.sequenceNumber, retire_prior_to: f.retirePriorTo,
        connection_id_length: f.connectionId.length, connection_id: toHex(f.connectionId), stateless_reset_token: toHex(f.statelessResetToken),
      };
    case 'retire_connection_id':
      return { frame_type: 'retire_connection_id', sequence_number: f.sequenceNumber };
    case 'path_challenge':
    case 'path_response':
      return { frame_type: f.type, data: toHex(f.data) };
    case 'connection_close':
      return {
        frame_type: 'connection_close', error_space: f.application ? 'application' : 'transport',
        error_code: f.errorCode, raw_error_code: f.errorCode,
        // The reason is the peer's text: it goes in as a JSON string, escaped by JSON.stringify.
        reason: new TextDecoder('utf-8', { fatal: false }).decode(f.reason),
        ...(f.application ? {} : { trigger_frame_type: f.frameType }),
      };
    case 'datagram':
      return { frame_type: 'datagram', length: f.data.length };
    default:
      return { frame_type: f.type };
  }
}
