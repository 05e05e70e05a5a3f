/**
 * TLS 1.3 (RFC 8446), sans-IO: configuration, the connection, the handshake
 * seam QUIC drives, and the certificate verifier.
 *
 * Exported flat, like every pqtls entry, with the shared error classes
 * (`PqtlsError` and its subclasses, `AlertDescription`).
 * @module
 */
export * from '../errors.js';
export { TlsConnection, type TlsEvent, type ConnectionLimits } from './connection.js';
export {
  type ClientOptions, type ServerOptions, type CommonOptions, type CertifiedKey, type CertificateVerifier, type PeerIdentity,
  type PskModeName, type TicketOptions, type EarlyDataOptions, DEFAULT_KEY_SHARES, MAX_RECORD_SIZE_LIMIT,
} from './config.js';
export { TicketKeyRing, type TicketSealer, type TicketKeyMaterial, type TicketState } from './tickets.js';
export { MemorySessionStore, encodeSession, decodeSession, sessionUsable, type Session, type SessionStore } from './session.js';
export { MemoryAntiReplay, type AntiReplay } from './anti-replay.js';
export { webPkiVerifier, type WebPkiVerifierOptions } from './verifier.js';
export { loadCertifiedKey, pemCertificates } from './credentials.js';
export { CipherSuite, cipherSuiteInfo, cipherSuiteName, DEFAULT_CIPHER_SUITES, type CipherSuiteInfo, type CipherSuiteName } from './cipher-suites.js';
export type { HandshakeInfo, HandshakeAction, Level } from './handshake/common.js';
export type { KeyingMaterialExporter } from './handshake/post-handshake.js';
export { noPadding, padToBlockSize, padToMaximum, type PaddingPolicy } from './record-protection.js';
export { hkdfExpandLabel, deriveSecret } from './hkdf-label.js';
