import type { ProtectedPacketType } from '../header.js';
import { FrameType } from './types.js';

const I = 1, H = 2, Z = 4, O = 8;
const PACKET_BIT: { readonly [T in ProtectedPacketType]: number } = { initial: I, handshake: H, '0rtt': Z, '1rtt': O };

/** The "Pkts" column of RFC 9000 §12.4 Table 3, plus DATAGRAM (RFC 9221 §4: 0-RTT and 1-RTT only). */
const ALLOWED = new Map<number, number>([
  [FrameType.PADDING, I | H | Z | O],
  [FrameType.PING, I | H | Z | O],
  [FrameType.ACK, I | H | O],
  [FrameType.ACK_ECN, I | H | O],
  [FrameType.RESET_STREAM, Z | O],
  [FrameType.STOP_SENDING, Z | O],
  [FrameType.CRYPTO, I | H | O],
  [FrameType.NEW_TOKEN, O],
  ...[0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f].map((t): [number, number] => [t, Z | O]),
  [FrameType.MAX_DATA, Z | O],
  [FrameType.MAX_STREAM_DATA, Z | O],
  [FrameType.MAX_STREAMS_BIDI, Z | O],
  [FrameType.MAX_STREAMS_UNI, Z | O],
  [FrameType.DATA_BLOCKED, Z | O],
  [FrameType.STREAM_DATA_BLOCKED, Z | O],
  [FrameType.STREAMS_BLOCKED_BIDI, Z | O],
  [FrameType.STREAMS_BLOCKED_UNI, Z | O],
  [FrameType.NEW_CONNECTION_ID, Z | O],
  [FrameType.RETIRE_CONNECTION_ID, Z | O],
  [FrameType.PATH_CHALLENGE, Z | O],
  [FrameType.PATH_RESPONSE, O],
  // "ih01": only the transport variant may close a connection during the handshake (§12.5).
  [FrameType.CONNECTION_CLOSE, I | H | Z | O],
  [FrameType.CONNECTION_CLOSE_APP, Z | O],
  [FrameType.HANDSHAKE_DONE, O],
  [FrameType.DATAGRAM, Z | O],
  [FrameType.DATAGRAM_LEN, Z | O],
]);

/** True if `frameType` is a frame type this library knows. */
export function isKnownFrameType(frameType: number): boolean {
  return ALLOWED.has(frameType);
}

/** True if a frame of `frameType` may appear in a packet of `packetType` (RFC 9000 §12.4). */
export function isFrameAllowed(frameType: number, packetType: ProtectedPacketType): boolean {
  return ((ALLOWED.get(frameType) ?? 0) & PACKET_BIT[packetType]) !== 0;
}
