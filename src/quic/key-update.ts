import type { CryptoProvider, HeaderProtectionKey } from '../pq/provider.js';
import type { OutgoingHeader, ProtectedPacket } from './header.js';
import { deriveDirectionalKeys, derivePacketKey, nextTrafficSecret, type PacketKey, type QuicCipherSuite } from './keys.js';
import { decodePacketNumber } from './packet-number.js';
import {
  canOpenSync, canSealSync, decryptPayload, decryptPayloadInPlace, removeHeaderProtection, removeHeaderProtectionSync, restoreHeaderProtection,
  sealPacket, sealPacketSync, type OpenedPacket, type PacketNumbering, type PayloadHole,
} from './protection.js';
import type { QuicVersion } from './versions.js';

/** One key generation: both directions, derived from the two traffic secrets of that generation. */
interface Generation {
  readonly sendSecret: Uint8Array;
  readonly recvSecret: Uint8Array;
  readonly send: PacketKey;
  readonly recv: PacketKey;
}

/** A packet opened with 1-RTT keys, and whether it made the keys move on. */
export interface OpenedOneRttPacket extends OpenedPacket {
  /** True if this packet was the peer's first in a new key phase and the keys were updated (RFC 9001 §6.2). */
  readonly peerInitiatedKeyUpdate: boolean;
}

/**
 * 1-RTT packet protection with key update (RFC 9001 §6). Holds the current
 * generation, the next one (derived ahead of need, so that trying it on a
 * packet with a flipped key phase takes no longer than any other decryption,
 * §6.3) and the previous one, kept for reordered packets until
 * {@link discardPreviousKeys}. Header protection keys never change (§6).
 *
 * Not safe for concurrent calls: a connection seals and opens one packet at a time.
 */
export class OneRttKeys {
  private phase: 0 | 1 = 0;
  private current: Generation;
  private next: Generation;
  private previous: Generation | undefined;
  /** Lowest packet number received in the current phase: older packets with the other phase used the previous keys. */
  private firstPnInPhase: number | undefined;
  private generationCount = 0;

  private constructor(
    private readonly provider: CryptoProvider,
    readonly version: QuicVersion,
    readonly suite: QuicCipherSuite,
    private readonly sendHp: HeaderProtectionKey,
    private readonly recvHp: HeaderProtectionKey,
    current: Generation,
    next: Generation,
  ) {
    this.current = current;
    this.next = next;
    this.synchronous = canSealSync({ packet: current.send, header: sendHp }) && canOpenSync({ packet: current.recv, header: recvHp });
  }

  /**
   * Keys from the TLS application traffic secrets: `sendSecret` is this
   * endpoint's (client_application_traffic_secret_0 for a client).
   */
  static async create(
    provider: CryptoProvider, version: QuicVersion, suite: QuicCipherSuite, sendSecret: Uint8Array, recvSecret: Uint8Array,
  ): Promise<OneRttKeys> {
    const [send, recv] = await Promise.all([
      deriveDirectionalKeys(provider, version, suite, sendSecret),
      deriveDirectionalKeys(provider, version, suite, recvSecret),
    ]);
    const current: Generation = { sendSecret, recvSecret, send: send.packet, recv: recv.packet };
    const next = await deriveNext(provider, version, suite, current);
    return new OneRttKeys(provider, version, suite, send.header, recv.header, current, next);
  }

  /** The key-phase bit this endpoint currently sends. */
  get keyPhase(): 0 | 1 {
    return this.phase;
  }
  /** How many key updates have happened (either side's). */
  get updates(): number {
    return this.generationCount;
  }
  /** Whether the previous generation's receive keys are still held. */
  get hasPreviousKeys(): boolean {
    return this.previous !== undefined;
  }

  /** Protects a 1-RTT packet with the current keys and key phase. */
  seal(header: OutgoingHeader & { readonly type: '1rtt' }, payload: Uint8Array, numbering: PacketNumbering): Promise<Uint8Array> {
    return sealPacket({ packet: this.current.send, header: this.sendHp }, header, payload, numbering, this.phase);
  }

  /**
   * Whether {@link sealSync} and {@link openSync} may be used: the provider's
   * AEAD and header protection run on the calling thread. Every generation
   * comes from the same provider, so this never changes.
   */
  readonly synchronous: boolean;

  /** {@link seal} without a promise, the payload written in place by `writePayload` (see {@link sealPacketSync}). */
  sealSync(
    header: OutgoingHeader & { readonly type: '1rtt' }, payloadLength: number, writePayload: (bytes: Uint8Array, offset: number) => void | readonly PayloadHole[],
    numbering: PacketNumbering,
  ): Uint8Array {
    return sealPacketSync({ packet: this.current.send, header: this.sendHp }, header, payloadLength, writePayload, numbering, this.phase);
  }

  /**
   * Initiates a key update (RFC 9001 §6.1): later packets use the next
   * generation and the flipped key phase. The caller enforces that the
   * previous update was acknowledged first (§6.1, KEY_UPDATE_ERROR).
   */
  async initiateKeyUpdate(): Promise<void> {
    await this.rotate();
    this.firstPnInPhase = undefined;
  }

  /** Drops the previous generation's keys, e.g. three PTOs after an update (RFC 9001 §6.5). */
  discardPreviousKeys(): void {
    this.previous = undefined;
  }

  /**
   * Opens a 1-RTT packet (RFC 9001 §5, §6.3). A key phase different from the
   * current one means either a reordered packet from before the last update
   * (packet number below the first of this phase: previous keys) or the peer
   * starting an update (next keys; on success the keys rotate). Returns null
   * when the packet does not authenticate; the caller's bytes are then
   * unchanged, except the ciphertext that {@link openSync} decrypts in place.
   *
   * With `update` false the next keys are tried but the keys do not rotate: a
   * closing connection reads a CONNECTION_CLOSE sent after the peer's update
   * without deriving anything (RFC 9000 §10.2.1 does not ask it to follow
   * updates, and a peer flipping the phase on every packet would make every
   * packet cost a derivation).
   */
  async open(packet: ProtectedPacket, largestPn: number, update = true): Promise<OpenedOneRttPacket | null> {
    if (this.synchronous) {
      const opened = this.openSync(packet, largestPn);
      if (opened !== undefined) return opened;
    }
    const h = await removeHeaderProtection(this.recvHp, packet);
    if (!h) return null;
    const pn = decodePacketNumber(largestPn, h.truncatedPn, h.pnLength);
    const phase = (h.firstByte >> 2) & 1;
    if (phase === this.phase) {
      const opened = await decryptPayload(this.current.recv, packet, h, pn);
      if (opened && (this.firstPnInPhase === undefined || pn < this.firstPnInPhase)) this.firstPnInPhase = pn;
      return opened && oneRtt(opened, false);
    }
    if (this.previous && (this.firstPnInPhase === undefined || pn < this.firstPnInPhase)) {
      const opened = await decryptPayload(this.previous.recv, packet, h, pn);
      return opened && oneRtt(opened, false);
    }
    const opened = await decryptPayload(this.next.recv, packet, h, pn);
    if (!opened) return null;
    if (!update) return oneRtt(opened, false);
    await this.rotate();
    this.firstPnInPhase = pn;
    return oneRtt(opened, true);
  }

  /**
   * {@link open} on the calling thread, for keys that are {@link synchronous}:
   * the same results, except that a packet that would start a key update (its
   * success derives the next generation, which takes a promise) is left as it
   * was and undefined is returned: open it with {@link open}. The packet's
   * bytes are given up: an AEAD with `openInto` decrypts over them (the
   * payload is a view of them), and a packet that does not authenticate keeps
   * its header but not its ciphertext (see {@link decryptPayloadInPlace}).
   */
  openSync(packet: ProtectedPacket, largestPn: number): OpenedOneRttPacket | null | undefined {
    const h = removeHeaderProtectionSync(this.recvHp, packet);
    if (!h) return null;
    const pn = decodePacketNumber(largestPn, h.truncatedPn, h.pnLength);
    const phase = (h.firstByte >> 2) & 1;
    if (phase === this.phase) {
      const opened = decryptPayloadInPlace(this.current.recv, packet, h, pn);
      if (opened && (this.firstPnInPhase === undefined || pn < this.firstPnInPhase)) this.firstPnInPhase = pn;
      return opened && oneRtt(opened, false);
    }
    if (this.previous && (this.firstPnInPhase === undefined || pn < this.firstPnInPhase)) {
      const opened = decryptPayloadInPlace(this.previous.recv, packet, h, pn);
      return opened && oneRtt(opened, false);
    }
    restoreHeaderProtection(packet, h);
    return undefined;
  }

  private async rotate(): Promise<void> {
    this.previous = this.current;
    this.current = this.next;
    this.phase = this.phase === 0 ? 1 : 0;
    this.generationCount++;
    this.next = await deriveNext(this.provider, this.version, this.suite, this.current);
  }
}

function oneRtt(p: OpenedPacket, peerInitiatedKeyUpdate: boolean): OpenedOneRttPacket {
  return { packetNumber: p.packetNumber, payload: p.payload, keyPhase: p.keyPhase, spin: p.spin, peerInitiatedKeyUpdate };
}

async function deriveNext(
  provider: CryptoProvider, version: QuicVersion, suite: QuicCipherSuite, g: Generation,
): Promise<Generation> {
  const [sendSecret, recvSecret] = await Promise.all([
    nextTrafficSecret(provider, version, suite, g.sendSecret),
    nextTrafficSecret(provider, version, suite, g.recvSecret),
  ]);
  const [send, recv] = await Promise.all([
    derivePacketKey(provider, version, suite, sendSecret),
    derivePacketKey(provider, version, suite, recvSecret),
  ]);
  return { sendSecret, recvSecret, send, recv };
}
