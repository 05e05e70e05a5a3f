/** Frame type code points (RFC 9000 §19, §12.4 Table 3; RFC 9221 §4). */
export const FrameType = {
  PADDING: 0x00,
  PING: 0x01,
  ACK: 0x02,
  ACK_ECN: 0x03,
  RESET_STREAM: 0x04,
  STOP_SENDING: 0x05,
  CRYPTO: 0x06,
  NEW_TOKEN: 0x07,
  /** 0x08–0x0f: the low three bits are OFF (0x04), LEN (0x02) and FIN (0x01). */
  STREAM: 0x08,
  MAX_DATA: 0x10,
  MAX_STREAM_DATA: 0x11,
  MAX_STREAMS_BIDI: 0x12,
  MAX_STREAMS_UNI: 0x13,
  DATA_BLOCKED: 0x14,
  STREAM_DATA_BLOCKED: 0x15,
  STREAMS_BLOCKED_BIDI: 0x16,
  STREAMS_BLOCKED_UNI: 0x17,
  NEW_CONNECTION_ID: 0x18,
  RETIRE_CONNECTION_ID: 0x19,
  PATH_CHALLENGE: 0x1a,
  PATH_RESPONSE: 0x1b,
  CONNECTION_CLOSE: 0x1c,
  CONNECTION_CLOSE_APP: 0x1d,
  HANDSHAKE_DONE: 0x1e,
  /** DATAGRAM without (0x30) and with (0x31) a Length field (RFC 9221 §4). */
  DATAGRAM: 0x30,
  DATAGRAM_LEN: 0x31,
} as const;

/** One acknowledged range, inclusive, as in RFC 9000 §19.3.1. */
export interface AckRange {
  readonly smallest: number;
  readonly largest: number;
}

/** ECN counts of an ACK frame of type 0x03 (RFC 9000 §19.3.2). */
export interface EcnCounts {
  readonly ect0: number;
  readonly ect1: number;
  readonly ce: number;
}

/**
 * A QUIC frame. Byte fields of decoded frames are views into the decrypted
 * payload, not copies. Integer fields are limited to 2^53-1; flow-control
 * limits and error codes above that read as Number.MAX_SAFE_INTEGER.
 */
export type Frame =
  /** One or more consecutive PADDING bytes, merged. */
  | { readonly type: 'padding'; readonly length: number }
  | { readonly type: 'ping' }
  | {
    readonly type: 'ack';
    /** Encoded ACK Delay: multiply by 2^ack_delay_exponent for microseconds. */
    readonly ackDelay: number;
    /** Acknowledged ranges, highest first, each separated from the next by at least one packet. */
    readonly ranges: readonly AckRange[];
    readonly ecn?: EcnCounts;
  }
  | { readonly type: 'reset_stream'; readonly streamId: number; readonly errorCode: number; readonly finalSize: number }
  | { readonly type: 'stop_sending'; readonly streamId: number; readonly errorCode: number }
  | { readonly type: 'crypto'; readonly offset: number; readonly data: Uint8Array }
  | { readonly type: 'new_token'; readonly token: Uint8Array }
  | {
    readonly type: 'stream';
    readonly streamId: number;
    readonly offset: number;
    readonly data: Uint8Array;
    readonly fin: boolean;
    /** False: no Length field, the data runs to the end of the packet (so the frame must be last). */
    readonly hasLength: boolean;
  }
  | { readonly type: 'max_data'; readonly maximum: number }
  | { readonly type: 'max_stream_data'; readonly streamId: number; readonly maximum: number }
  | { readonly type: 'max_streams'; readonly bidirectional: boolean; readonly maximum: number }
  | { readonly type: 'data_blocked'; readonly limit: number }
  | { readonly type: 'stream_data_blocked'; readonly streamId: number; readonly limit: number }
  | { readonly type: 'streams_blocked'; readonly bidirectional: boolean; readonly limit: number }
  | {
    readonly type: 'new_connection_id';
    readonly sequenceNumber: number;
    readonly retirePriorTo: number;
    readonly connectionId: Uint8Array;
    readonly statelessResetToken: Uint8Array;
  }
  | { readonly type: 'retire_connection_id'; readonly sequenceNumber: number }
  | { readonly type: 'path_challenge'; readonly data: Uint8Array }
  | { readonly type: 'path_response'; readonly data: Uint8Array }
  | {
    readonly type: 'connection_close';
    /** True for type 0x1d, an application error; false for 0x1c, a transport error. */
    readonly application: boolean;
    readonly errorCode: number;
    /** The frame type that caused a transport error (0 if unknown); always 0 for application closes. */
    readonly frameType: number;
    /** Reason phrase, UTF-8 by convention but not checked (RFC 9000 §19.19). */
    readonly reason: Uint8Array;
  }
  | { readonly type: 'handshake_done' }
  | { readonly type: 'datagram'; readonly data: Uint8Array; readonly hasLength: boolean };

export type FrameName = Frame['type'];

/** Largest value of MAX_STREAMS and STREAMS_BLOCKED (RFC 9000 §19.11, §19.14). */
export const MAX_STREAMS_LIMIT = 2 ** 60;
