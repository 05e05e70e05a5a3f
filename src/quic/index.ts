/**
 * QUIC wire format and packet protection (RFC 9000 §12–19, RFC 9001 §5–6,
 * RFC 9369): versions, packet headers, packet numbers, Initial and per-level
 * keys, header and payload protection with key update, Retry integrity,
 * frames, transport parameters and stateless resets; the sans-IO
 * connection, and the sans-IO endpoint that routes datagrams to connections,
 * admits new ones, and answers with Retry, Version Negotiation and Stateless
 * Reset.
 *
 * Exported flat, like every pqtls entry, with the shared error classes
 * (`PqtlsError` and its subclasses, `AlertDescription`).
 * @module
 */
export * from '../errors.js';
export {
  TransportErrorCode, QuicTransportError, InvalidPacketError, transportErrorName,
} from './errors.js';
export {
  QUIC_V1, QUIC_V2, DEFAULT_QUIC_VERSIONS, versionTable, isReservedVersion, longPacketType, versionNegotiationProbe,
  type QuicVersion, type QuicVersionTable, type LongPacketType,
} from './versions.js';
export { packetNumberLength, truncatePacketNumber, decodePacketNumber, MAX_PACKET_NUMBER } from './packet-number.js';
export {
  parsePacket, encodeVersionNegotiation, headerLength, writeHeader, MAX_CID_LENGTH, TAG_LENGTH,
  type Packet, type ProtectedPacket, type ProtectedPacketType, type RetryPacket, type VersionNegotiationPacket,
  type UnsupportedVersionPacket, type ParseOptions, type OutgoingHeader,
} from './header.js';
export { splitDatagram, coalescePackets, type SplitDatagram } from './datagram.js';
export {
  AES_128_GCM_SHA256, AES_256_GCM_SHA384, CHACHA20_POLY1305_SHA256, quicCipherSuite, initialSecrets, initialKeys,
  deriveDirectionalKeys, derivePacketKey, nextTrafficSecret,
  type QuicCipherSuite, type PacketKey, type DirectionalKeys,
} from './keys.js';
export {
  sealPacket, openPacket, packetNonce, removeHeaderProtection, restoreHeaderProtection, decryptPayload,
  type PacketNumbering, type OpenedPacket, type UnmaskedHeader,
} from './protection.js';
export { OneRttKeys, type OpenedOneRttPacket } from './key-update.js';
export { encodeRetry, verifyRetry, type RetryFields } from './retry.js';
export { openFirstInitial, type FirstInitial } from './first-initial.js';
export * from './frames/index.js';
export {
  TransportParameterId, DEFAULT_TRANSPORT_PARAMETERS, encodeTransportParameters, decodeTransportParameters,
  type TransportParameters, type PreferredAddress, type VersionInformation,
} from './transport-parameters.js';
export {
  statelessResetToken, statelessResetLength, encodeStatelessReset, isStatelessReset,
  STATELESS_RESET_TOKEN_LENGTH, MIN_STATELESS_RESET_LENGTH,
} from './stateless-reset.js';
export { QlogJsonSeqWriter, type QlogSink, type QlogData, type QlogValue, type QlogTraceStart } from './qlog.js';
export {
  QuicConnection, QUIC_DEFAULT_LIMITS, type QuicEvent, type QuicClientOptions, type QuicServerOptions, type QuicCommonOptions,
} from './connection/connection.js';
export { StreamsBlockedError, StreamUsageError, type ReceiveWindowLimits, type StreamEvent, type StreamLimits } from './connection/streams.js';
export { RetryTokens, type ValidatedAddress } from './connection/address-validation.js';
export type { RemoteAddress, Transmit, EndpointEvent } from './connection/path.js';
export {
  QuicEndpoint, DEFAULT_MAX_QUEUED_DATAGRAMS, DEFAULT_MAX_CONCURRENT_HANDSHAKES, DEFAULT_HANDSHAKE_TIMEOUT_MS,
  type QuicEndpointOptions, type QuicEndpointServerOptions, type QuicEndpointEvent,
} from './endpoint.js';
export { quicSessionKey } from './connection/zero-rtt.js';
export { type CongestionController, type CongestionControllerFactory } from './connection/congestion/controller.js';
export { NewReno, newReno } from './connection/congestion/new-reno.js';
export { Cubic, cubic } from './connection/congestion/cubic.js';
export { type MtuCeiling, type MtuDiscoveryOptions } from './connection/mtud.js';
