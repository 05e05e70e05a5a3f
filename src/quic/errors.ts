import { AlertDescription, DecodeError, PqtlsError, alertName } from '../errors.js';

/** QUIC transport error codes (RFC 9000 §20.1, RFC 9001 §4.8), carried in CONNECTION_CLOSE 0x1c. */
export const TransportErrorCode = {
  NO_ERROR: 0x00,
  INTERNAL_ERROR: 0x01,
  CONNECTION_REFUSED: 0x02,
  FLOW_CONTROL_ERROR: 0x03,
  STREAM_LIMIT_ERROR: 0x04,
  STREAM_STATE_ERROR: 0x05,
  FINAL_SIZE_ERROR: 0x06,
  FRAME_ENCODING_ERROR: 0x07,
  TRANSPORT_PARAMETER_ERROR: 0x08,
  CONNECTION_ID_LIMIT_ERROR: 0x09,
  PROTOCOL_VIOLATION: 0x0a,
  INVALID_TOKEN: 0x0b,
  APPLICATION_ERROR: 0x0c,
  CRYPTO_BUFFER_EXCEEDED: 0x0d,
  KEY_UPDATE_ERROR: 0x0e,
  AEAD_LIMIT_REACHED: 0x0f,
  NO_VIABLE_PATH: 0x10,
  /** The version_information transport parameter shows a downgrade or a mismatch (RFC 9368 §4, §10.2). */
  VERSION_NEGOTIATION_ERROR: 0x11,
  /** Base of the CRYPTO_ERROR range: 0x100 + TLS alert (RFC 9001 §4.8). */
  CRYPTO_ERROR: 0x100,
} as const;
export type TransportErrorCode = number;

const codeNames = new Map<number, string>(Object.entries(TransportErrorCode).map(([k, v]) => [v, k]));

/** The RFC name of a transport error code, e.g. `FRAME_ENCODING_ERROR` or `CRYPTO_ERROR(decode_error)`. */
export function transportErrorName(code: number): string {
  if (code > 0x100 && code <= 0x1ff) return `CRYPTO_ERROR(${alertName(code - 0x100)})`;
  return codeNames.get(code) ?? `0x${code.toString(16)}`;
}

/** The TLS alert closest in meaning to a transport error, so a QUIC error still fits {@link PqtlsError}. */
function alertFor(code: number): AlertDescription {
  if (code >= 0x100 && code <= 0x1ff) return (code - 0x100) as AlertDescription;
  switch (code) {
    case TransportErrorCode.NO_ERROR: return AlertDescription.close_notify;
    case TransportErrorCode.FRAME_ENCODING_ERROR: return AlertDescription.decode_error;
    case TransportErrorCode.TRANSPORT_PARAMETER_ERROR: return AlertDescription.illegal_parameter;
    case TransportErrorCode.PROTOCOL_VIOLATION: return AlertDescription.unexpected_message;
    default: return AlertDescription.internal_error;
  }
}

/**
 * A QUIC connection error (RFC 9000 §11.1): the connection is closed with a
 * CONNECTION_CLOSE frame carrying {@link QuicTransportError.code}. `frameType`
 * is the type of the frame that triggered it, where there is one.
 */
export class QuicTransportError extends PqtlsError {
  readonly code: TransportErrorCode;
  readonly frameType: number | undefined;
  constructor(code: TransportErrorCode, message: string, options?: { frameType?: number; cause?: unknown }) {
    super(`${transportErrorName(code)}: ${message}`, alertFor(code), { cause: options?.cause });
    this.code = code;
    this.frameType = options?.frameType;
  }

  /** The CRYPTO_ERROR for a TLS alert (RFC 9001 §4.8): 0x100 + alert. */
  static crypto(alert: AlertDescription, message: string): QuicTransportError {
    return new QuicTransportError(TransportErrorCode.CRYPTO_ERROR + alert, message);
  }
}

/**
 * A packet that cannot be parsed (RFC 9000 §5.2, §12.2: such packets are
 * discarded, not answered with a connection error). A subclass of DecodeError
 * so that callers which only care "was it malformed" need one check.
 */
export class InvalidPacketError extends DecodeError {}

