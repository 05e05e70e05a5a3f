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
 * How far out-of-order CRYPTO data may reach in Initial packets, which anyone
 * can forge: a frame far ahead would otherwise make a fresh connection allocate
 * up to its whole buffer for a single spoofed datagram. A ClientHello or
 * ServerHello with hybrid key shares spans a few datagrams; RFC 9000 §7.5 asks
 * for at least 4096 bytes. Handshake and 1-RTT data come from a peer holding
 * handshake keys and keep the full reach, which a large certificate flight
 * whose first packet was lost needs.
 */
export const INITIAL_OUT_OF_ORDER = 8 * 1024;

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
  readonly cryptoRecv: CryptoRecvStream;

  constructor(readonly name: SpaceName) {
    this.cryptoRecv = new CryptoRecvStream(MAX_HANDSHAKE_MESSAGE + 4, MAX_HANDSHAKE_MESSAGE, name === 'initial' ? INITIAL_OUT_OF_ORDER : MAX_HANDSHAKE_MESSAGE + 4);
  }
}
