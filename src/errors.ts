/**
 * Typed errors shared by every layer. Each error knows the TLS alert it maps to
 * (RFC 8446 §6.2), so a connection can turn any failure into a precise alert and
 * a clean close instead of an exception escaping to the caller.
 */

/** TLS AlertDescription codes (RFC 8446 §6). */
export const AlertDescription = {
  close_notify: 0,
  unexpected_message: 10,
  bad_record_mac: 20,
  record_overflow: 22,
  handshake_failure: 40,
  bad_certificate: 42,
  unsupported_certificate: 43,
  certificate_revoked: 44,
  certificate_expired: 45,
  certificate_unknown: 46,
  illegal_parameter: 47,
  unknown_ca: 48,
  access_denied: 49,
  decode_error: 50,
  decrypt_error: 51,
  protocol_version: 70,
  insufficient_security: 71,
  internal_error: 80,
  inappropriate_fallback: 86,
  user_canceled: 90,
  missing_extension: 109,
  unsupported_extension: 110,
  unrecognized_name: 112,
  bad_certificate_status_response: 113,
  unknown_psk_identity: 115,
  certificate_required: 116,
  no_application_protocol: 120,
} as const;
export type AlertDescription = (typeof AlertDescription)[keyof typeof AlertDescription];

const alertNames = new Map<number, string>(Object.entries(AlertDescription).map(([k, v]) => [v, k]));

/** The name of an alert code, e.g. `illegal_parameter`, or `alert(N)` for an unknown one. */
export function alertName(code: number): string {
  return alertNames.get(code) ?? `alert(${code})`;
}

/** Base of every error this library raises on purpose. */
export class PqtlsError extends Error {
  /** The alert a TLS endpoint sends when this error ends the connection. */
  readonly alert: AlertDescription;
  constructor(message: string, alert: AlertDescription, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.alert = alert;
  }
}

/** Malformed encoding: truncated input, a length out of bounds, trailing bytes. */
export class DecodeError extends PqtlsError {
  constructor(message: string, alert: AlertDescription = AlertDescription.decode_error) {
    super(message, alert);
  }
}

/** A peer's value is well-formed but not acceptable (a bad key share, a wrong length). */
export class IllegalParameterError extends PqtlsError {
  constructor(message: string) {
    super(message, AlertDescription.illegal_parameter);
  }
}

/** The crypto provider does not implement the requested algorithm. */
export class UnsupportedAlgorithmError extends PqtlsError {
  constructor(message: string, alert: AlertDescription = AlertDescription.handshake_failure) {
    super(message, alert);
  }
}

/** A record or packet failed AEAD authentication. */
export class BadRecordMacError extends PqtlsError {
  constructor(message = 'AEAD authentication failed') {
    super(message, AlertDescription.bad_record_mac);
  }
}

/** A record exceeds the RFC 8446 §5 size limits. */
export class RecordOverflowError extends PqtlsError {
  constructor(message: string) {
    super(message, AlertDescription.record_overflow);
  }
}

/**
 * A length that does not fit its length field or buffer. Encoders and buffers
 * raise it because the size may come from a peer (a cookie to echo, a chain to
 * seal into a ticket, bytes to buffer), so unlike {@link ConfigError} it never
 * means caller misuse: a connection turns it into an alert. Code that knows the
 * size came from the peer catches it and sends a more precise alert.
 */
export class SizeOverflowError extends PqtlsError {
  constructor(message: string, alert: AlertDescription = AlertDescription.internal_error) {
    super(message, alert);
  }
}

/** Misuse of the API by the caller (bad configuration, wrong key type). Never caused by a peer. */
export class ConfigError extends PqtlsError {
  constructor(message: string) {
    super(message, AlertDescription.internal_error);
  }
}

/** An operation a provider refuses, e.g. exporting a key that lives inside a hardware device. */
export class KeyUnavailableError extends PqtlsError {
  constructor(message: string) {
    super(message, AlertDescription.internal_error);
  }
}
