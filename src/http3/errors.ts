/**
 * HTTP/3 and QPACK error codes (RFC 9114 §8.1, RFC 9204 §6) and the error
 * class that carries one. An {@link Http3Error} ends the whole connection: the
 * HTTP/3 layer closes the QUIC connection with its code as the application
 * error (RFC 9114 §8); a stream error resets only that stream.
 */
import { AlertDescription, PqtlsError } from '../errors.js';

export const H3ErrorCode = {
  H3_NO_ERROR: 0x100,
  H3_GENERAL_PROTOCOL_ERROR: 0x101,
  H3_INTERNAL_ERROR: 0x102,
  H3_STREAM_CREATION_ERROR: 0x103,
  H3_CLOSED_CRITICAL_STREAM: 0x104,
  H3_FRAME_UNEXPECTED: 0x105,
  H3_FRAME_ERROR: 0x106,
  H3_EXCESSIVE_LOAD: 0x107,
  H3_ID_ERROR: 0x108,
  H3_SETTINGS_ERROR: 0x109,
  H3_MISSING_SETTINGS: 0x10a,
  H3_REQUEST_REJECTED: 0x10b,
  H3_REQUEST_CANCELLED: 0x10c,
  H3_REQUEST_INCOMPLETE: 0x10d,
  H3_MESSAGE_ERROR: 0x10e,
  H3_CONNECT_ERROR: 0x10f,
  H3_VERSION_FALLBACK: 0x110,
  QPACK_DECOMPRESSION_FAILED: 0x200,
  QPACK_ENCODER_STREAM_ERROR: 0x201,
  QPACK_DECODER_STREAM_ERROR: 0x202,
} as const;
export type H3ErrorCode = (typeof H3ErrorCode)[keyof typeof H3ErrorCode];

const names = new Map<number, string>(Object.entries(H3ErrorCode).map(([k, v]) => [v, k]));

/** `H3_FRAME_UNEXPECTED` for 0x105; `0x…` for a code we do not know. */
export function h3ErrorName(code: number): string {
  return names.get(code) ?? `0x${code.toString(16)}`;
}

/**
 * A peer broke RFC 9114 or RFC 9204. `stream` is set for a stream error (only
 * that request is reset, RFC 9114 §8); otherwise the connection closes with
 * `code`. The TLS alert is unused over QUIC and only fills the base class.
 */
export class Http3Error extends PqtlsError {
  constructor(readonly code: H3ErrorCode, message: string, readonly stream?: number) {
    super(`${h3ErrorName(code)}: ${message}`, AlertDescription.internal_error);
  }
}
