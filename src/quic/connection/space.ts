import type { DirectionalKeys } from '../keys.js';
import type { Level } from '../../tls13/handshake/common.js';
import { AckTracker } from './ack-tracker.js';
import { CryptoRecvStream, CryptoSendStream } from './crypto-stream.js';

export type SpaceName = 'initial' | 'handshake' | 'application';

/** The TLS encryption level whose handshake messages travel in this space's CRYPTO frames (RFC 9001 §4.1.3). */
export const LEVEL_OF: Record<SpaceName, Level> = { initial: 'initial', handshake: 'handshake', application: 'application' };

/** Largest handshake message accepted over CRYPTO frames: ML-DSA-87 chains fit easily. */
const MAX_HANDSHAKE_MESSAGE = 256 * 1024;

/**
 * One packet number space (RFC 9000 §12.3): its keys (Initial and Handshake;
 * 1-RTT keys live in the connection because of key updates), packet numbers,
 * what was received (for ACKs), and its CRYPTO stream both ways.
 */
export class PacketSpace {
  read: DirectionalKeys | undefined;
  write: DirectionalKeys | undefined;
  nextPn = 0;
  largestReceived = -1;
  /** Set once the keys are discarded (RFC 9001 §4.9): nothing is sent or accepted here any more. */
  discarded = false;
  /** PTO probes owed in this space (RFC 9002 §6.2.4). */
  probes = 0;
  readonly acks = new AckTracker();
  readonly cryptoSend = new CryptoSendStream();
  readonly cryptoRecv = new CryptoRecvStream(MAX_HANDSHAKE_MESSAGE + 4, MAX_HANDSHAKE_MESSAGE);

  constructor(readonly name: SpaceName) {}
}
