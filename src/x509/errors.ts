import { AlertDescription, PqtlsError } from '../errors.js';

/**
 * Why a certificate (or a chain) was refused. Each reason maps to exactly one
 * TLS alert (RFC 8446 §6.2), see {@link certificateAlert}.
 */
export type CertificateErrorReason =
  /** Not valid DER, or not a well-formed X.509 v3 structure. */
  | 'malformed'
  /** A signature or public-key algorithm this library does not implement. */
  | 'unsupported_algorithm'
  /** AlgorithmIdentifier parameters where the algorithm forbids them (RFC 9881 §2), or wrong ones. */
  | 'bad_algorithm_parameters'
  /** A public key of the wrong length, off the curve, or otherwise unusable. */
  | 'bad_public_key'
  | 'expired'
  | 'not_yet_valid'
  /** No path from the certificate to any configured trust anchor. */
  | 'unknown_ca'
  | 'bad_signature'
  /** The leaf's subjectAltName does not cover the host name or IP address asked for. */
  | 'hostname_mismatch'
  /** extendedKeyUsage does not allow the purpose asked for (serverAuth / clientAuth). */
  | 'bad_eku'
  /** A certificate used as an issuer is not a CA (basicConstraints cA absent or FALSE). */
  | 'not_a_ca'
  | 'path_len_exceeded'
  | 'unknown_critical_extension'
  /** keyUsage forbids the use (no keyCertSign on an issuer, no digitalSignature on the leaf). */
  | 'key_usage'
  /** A name outside the permitted subtrees or inside the excluded ones of a CA above it. */
  | 'name_constraints'
  /** More certificates than `limits.maxChainLength`, or a path deeper than it. */
  | 'chain_too_long'
  /** More bytes than `limits.maxTotalBytes`. */
  | 'chain_too_large'
  /** Path building gave up after `limits.maxSignatureChecks` signature verifications or `limits.maxNameConstraintChecks` comparisons. */
  | 'path_search_exhausted'
  /**
   * The signatures a path search needed would cost more than
   * `limits.maxSignatureCost`: the peer sent certificates that are expensive to
   * check (large RSA keys, many look-alike issuers), not merely an unknown chain.
   */
  | 'signature_budget_exceeded';

const alertOf: Record<CertificateErrorReason, AlertDescription> = {
  malformed: AlertDescription.bad_certificate,
  unsupported_algorithm: AlertDescription.unsupported_certificate,
  bad_algorithm_parameters: AlertDescription.bad_certificate,
  bad_public_key: AlertDescription.bad_certificate,
  expired: AlertDescription.certificate_expired,
  not_yet_valid: AlertDescription.certificate_expired,
  unknown_ca: AlertDescription.unknown_ca,
  bad_signature: AlertDescription.bad_certificate,
  hostname_mismatch: AlertDescription.bad_certificate,
  bad_eku: AlertDescription.unsupported_certificate,
  not_a_ca: AlertDescription.bad_certificate,
  path_len_exceeded: AlertDescription.bad_certificate,
  unknown_critical_extension: AlertDescription.unsupported_certificate,
  key_usage: AlertDescription.bad_certificate,
  name_constraints: AlertDescription.bad_certificate,
  chain_too_long: AlertDescription.certificate_unknown,
  chain_too_large: AlertDescription.certificate_unknown,
  path_search_exhausted: AlertDescription.certificate_unknown,
  signature_budget_exceeded: AlertDescription.bad_certificate,
};

/** The TLS alert a {@link CertificateErrorReason} is reported with. */
export function certificateAlert(reason: CertificateErrorReason): AlertDescription {
  return alertOf[reason];
}

/** Which certificate an error is about. */
export interface CertificateRef {
  /**
   * Position in the list as presented, in TLS Certificate-message order:
   * 0 is the leaf, `i + 1` is `intermediates[i]`. Absent for a trust anchor
   * and for a certificate parsed on its own.
   */
  readonly index?: number;
  /** The certificate's subject in RFC 4514 form, when it could be parsed that far. */
  readonly subject?: string;
  /** True when the certificate is one of the configured trust anchors. */
  readonly trustAnchor?: boolean;
}

/**
 * Every failure to parse or validate a certificate or chain. `reason` says
 * what was wrong, `certificate` which certificate, `alert` what a TLS endpoint
 * sends.
 */
export class CertificateError extends PqtlsError {
  readonly reason: CertificateErrorReason;
  readonly certificate: CertificateRef;
  constructor(reason: CertificateErrorReason, detail: string, certificate: CertificateRef = {}, options?: { cause?: unknown }) {
    super(`${describe(certificate)}${reason}: ${detail}`, certificateAlert(reason), options);
    this.reason = reason;
    this.certificate = certificate;
  }

  /** The same error, attributed to `certificate` (fields already set are kept). */
  withCertificate(certificate: CertificateRef): CertificateError {
    const merged = { ...certificate, ...this.certificate };
    const e = new CertificateError(this.reason, this.detail, merged, { cause: this.cause });
    return e;
  }

  /** The message without the certificate prefix. */
  get detail(): string {
    const prefix = `${describe(this.certificate)}${this.reason}: `;
    return this.message.startsWith(prefix) ? this.message.slice(prefix.length) : this.message;
  }
}

function describe(c: CertificateRef): string {
  const parts: string[] = [];
  if (c.trustAnchor) parts.push('trust anchor');
  else if (c.index !== undefined) parts.push(c.index === 0 ? 'certificate 0 (leaf)' : `certificate ${c.index}`);
  if (c.subject !== undefined) parts.push(`"${c.subject}"`);
  return parts.length ? `${parts.join(' ')}: ` : '';
}

/** Shorthand for a parse failure. */
export function malformed(detail: string): CertificateError {
  return new CertificateError('malformed', detail);
}
