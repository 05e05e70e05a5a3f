import { AlertDescription, PqtlsError } from '../../errors.js';
import { concat, toHex, utf8 } from '../../bytes.js';
import { SignatureScheme, pssSchemeAllowed, schemeKeyAlgorithm, type KeyAlgorithm, type NamedGroup, type RsaPssRestriction } from '../../pq/ids.js';
import type { CipherSuiteInfo } from '../cipher-suites.js';
import { ExtensionType } from '../constants.js';
import type { Extension } from '../messages/extensions.js';

/**
 * Encryption levels of the handshake (RFC 9001 §4 calls them the same): TLS
 * maps them to record protection states, QUIC to packet number spaces.
 */
export type Level = 'initial' | 'early' | 'handshake' | 'application';

/** What a handshake step asks its driver (the TLS record layer or a QUIC connection) to do, in order. */
export type HandshakeAction =
  | { readonly kind: 'send'; readonly level: Level; readonly data: Uint8Array }
  | { readonly kind: 'readSecret'; readonly level: Level; readonly suite: CipherSuiteInfo; readonly secret: Uint8Array }
  | { readonly kind: 'writeSecret'; readonly level: Level; readonly suite: CipherSuiteInfo; readonly secret: Uint8Array }
  | { readonly kind: 'complete'; readonly info: HandshakeInfo }
  | { readonly kind: 'ticket'; readonly body: Uint8Array }
  /** Server: early data is accepted, up to `maxBytes` (RFC 8446 §4.2.10). */
  | { readonly kind: 'acceptEarlyData'; readonly maxBytes: number }
  /** Server: early data was offered and rejected; skip records that do not decrypt, up to `maxBytes`. */
  | { readonly kind: 'skipEarlyData'; readonly maxBytes: number }
  /** The peer's record_size_limit (RFC 8449): our protected records must not exceed it from now on. */
  | { readonly kind: 'peerRecordSizeLimit'; readonly limit: number }
  /** TLS only: send a dummy change_cipher_spec now (middlebox compatibility, RFC 8446 Appendix D.4). */
  | { readonly kind: 'changeCipherSpec' };

/** The negotiated parameters, reported once the handshake completes. */
export interface HandshakeInfo {
  readonly version: 'TLSv1.3';
  readonly cipherSuite: CipherSuiteInfo;
  /** The key-exchange group; undefined only for psk_ke resumption, which has no key exchange. */
  readonly group: NamedGroup | undefined;
  /** The scheme the peer signed its CertificateVerify with (undefined if it sent no certificate). */
  readonly peerSignatureScheme: SignatureScheme | undefined;
  /** The scheme we signed with (undefined if we sent no certificate). */
  readonly signatureScheme: SignatureScheme | undefined;
  readonly alpn: string | undefined;
  readonly serverName: string | undefined;
  /**
   * The peer's certificate chain as sent, leaf first (DER). A server resuming a
   * session has only the client's leaf: its tickets do not carry the chain.
   */
  readonly peerCertificates: readonly Uint8Array[];
  readonly helloRetryRequest: boolean;
  readonly resumed: boolean;
  /** 0-RTT: not attempted, accepted by the server, or rejected (the data was not delivered). */
  readonly earlyData: 'none' | 'accepted' | 'rejected';
  /** QUIC only: the peer's quic_transport_parameters extension body. */
  readonly peerTransportParameters: Uint8Array | undefined;
}

/** Collects the actions of one step, in order, and the NSS key-log lines. */
export class Outbox {
  readonly actions: HandshakeAction[] = [];
  constructor(private readonly keyLog: ((line: string) => void) | undefined, private clientRandom: Uint8Array) {}
  /** A server learns the client random from the ClientHello. */
  setClientRandom(r: Uint8Array): void {
    this.clientRandom = r;
  }
  send(level: Level, data: Uint8Array): void {
    this.actions.push({ kind: 'send', level, data });
  }
  read(level: Level, suite: CipherSuiteInfo, secret: Uint8Array): void {
    this.actions.push({ kind: 'readSecret', level, suite, secret });
  }
  write(level: Level, suite: CipherSuiteInfo, secret: Uint8Array): void {
    this.actions.push({ kind: 'writeSecret', level, suite, secret });
  }
  changeCipherSpec(): void {
    this.actions.push({ kind: 'changeCipherSpec' });
  }
  /** NSS key log format: `LABEL <client_random> <secret>`. */
  log(label: string, secret: Uint8Array): void {
    this.keyLog?.(`${label} ${toHex(this.clientRandom)} ${toHex(secret)}`);
  }
}

export function fail(alert: AlertDescription, message: string): never {
  throw new PqtlsError(message, alert);
}

/** Any message but the one a state waits for is unexpected_message (RFC 8446 §6.2). */
export function expectType(msg: { readonly type: number }, type: number, state: string): void {
  if (msg.type !== type) fail(AlertDescription.unexpected_message, `got handshake message ${msg.type} in ${state}`);
}

/** The content a CertificateVerify signs (RFC 8446 §4.4.3). */
export function certificateVerifyContent(role: 'server' | 'client', transcriptHash: Uint8Array): Uint8Array {
  const pad = new Uint8Array(64).fill(0x20);
  return concat(pad, utf8(`TLS 1.3, ${role} CertificateVerify`), new Uint8Array([0]), transcriptHash);
}

/**
 * Schemes that can sign with a key of `alg`, in our preference order; for an
 * id-RSASSA-PSS key, only those within its `rsaPss` restriction (RFC 4055 §3.1).
 */
export function schemesForKey(alg: KeyAlgorithm, ours: readonly SignatureScheme[], rsaPss?: RsaPssRestriction): SignatureScheme[] {
  return ours.filter((s) => schemeKeyAlgorithm(s) === alg && !isPkcs1(s) && (alg !== 'rsa-pss' || pssSchemeAllowed(s, rsaPss)));
}

/** rsa_pkcs1_* may only appear in certificates, never in CertificateVerify (RFC 8446 §4.2.3). */
export function isPkcs1(s: number): boolean {
  return s === SignatureScheme.rsa_pkcs1_sha256 || s === SignatureScheme.rsa_pkcs1_sha384 || s === SignatureScheme.rsa_pkcs1_sha512;
}

/** Picks the first of our schemes for `alg` that the peer offered. */
export function chooseScheme(
  alg: KeyAlgorithm, ours: readonly SignatureScheme[], peer: readonly number[], rsaPss?: RsaPssRestriction,
): SignatureScheme | undefined {
  return schemesForKey(alg, ours, rsaPss).find((s) => peer.includes(s));
}

/**
 * Extensions we recognise, and the messages each may appear in (RFC 8446
 * §4.2's table). A recognised extension in the wrong message is illegal_parameter;
 * one the peer sends that we did not offer is unsupported_extension.
 */
const ALLOWED: Record<number, readonly string[]> = {
  [ExtensionType.server_name]: ['CH', 'EE'],
  [ExtensionType.max_fragment_length]: ['CH', 'EE'],
  [ExtensionType.status_request]: ['CH', 'CR', 'CT'],
  [ExtensionType.supported_groups]: ['CH', 'EE'],
  [ExtensionType.signature_algorithms]: ['CH', 'CR'],
  [ExtensionType.use_srtp]: ['CH', 'EE'],
  [ExtensionType.heartbeat]: ['CH', 'EE'],
  [ExtensionType.application_layer_protocol_negotiation]: ['CH', 'EE'],
  [ExtensionType.signed_certificate_timestamp]: ['CH', 'CR', 'CT'],
  [ExtensionType.client_certificate_type]: ['CH', 'EE'],
  [ExtensionType.server_certificate_type]: ['CH', 'EE'],
  [ExtensionType.padding]: ['CH'],
  [ExtensionType.record_size_limit]: ['CH', 'EE'],
  [ExtensionType.key_share]: ['CH', 'SH', 'HRR'],
  [ExtensionType.pre_shared_key]: ['CH', 'SH'],
  [ExtensionType.psk_key_exchange_modes]: ['CH'],
  [ExtensionType.early_data]: ['CH', 'EE', 'NST'],
  [ExtensionType.cookie]: ['CH', 'HRR'],
  [ExtensionType.supported_versions]: ['CH', 'SH', 'HRR'],
  [ExtensionType.certificate_authorities]: ['CH', 'CR'],
  [ExtensionType.oid_filters]: ['CR'],
  [ExtensionType.post_handshake_auth]: ['CH'],
  [ExtensionType.signature_algorithms_cert]: ['CH', 'CR'],
  [ExtensionType.quic_transport_parameters]: ['CH', 'EE'],
};

/**
 * Checks the extensions of a message we received from the server (or of a
 * client Certificate entry) against the table and against what we offered.
 */
export function checkExtensions(message: 'SH' | 'HRR' | 'EE' | 'CR' | 'CT' | 'NST', exts: readonly Extension[], offered: ReadonlySet<number>): void {
  for (const e of exts) {
    const allowed = ALLOWED[e.type];
    if (allowed && !allowed.includes(message)) {
      fail(AlertDescription.illegal_parameter, `extension ${e.type} is not allowed in ${message}`);
    }
    // Servers may send unsolicited extensions only in CertificateRequest and NewSessionTicket,
    // and a cookie in HelloRetryRequest (§4.2).
    const unsolicitedOk = message === 'CR' || message === 'NST' || (message === 'HRR' && e.type === ExtensionType.cookie);
    if (!unsolicitedOk && !offered.has(e.type)) {
      fail(AlertDescription.unsupported_extension, `${message} carries extension ${e.type} that was not offered`);
    }
  }
}

/** RFC 8446 §7.5 label prefixes etc. are in key-schedule; here, the NSS labels we log. */
export const KeyLogLabel = {
  clientHandshake: 'CLIENT_HANDSHAKE_TRAFFIC_SECRET',
  serverHandshake: 'SERVER_HANDSHAKE_TRAFFIC_SECRET',
  clientTraffic0: 'CLIENT_TRAFFIC_SECRET_0',
  serverTraffic0: 'SERVER_TRAFFIC_SECRET_0',
  exporter: 'EXPORTER_SECRET',
  clientEarly: 'CLIENT_EARLY_TRAFFIC_SECRET',
} as const;
