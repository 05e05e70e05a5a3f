import { concat } from '../bytes.js';
import { InvalidPacketError } from './errors.js';
import { parsePacket, type Packet, type ParseOptions } from './header.js';

/** The packets of one UDP datagram, and the error that stopped parsing, if any. */
export interface SplitDatagram {
  readonly packets: readonly Packet[];
  /**
   * Why the bytes after the last packet could not be parsed. Packets before
   * it stand on their own (RFC 9000 §12.2); a datagram whose first packet is
   * invalid has no packets and may still be a Stateless Reset.
   */
  readonly error?: InvalidPacketError;
}

/**
 * Splits a datagram into its coalesced packets (RFC 9000 §12.2): long-header
 * packets end where their Length says; a short-header, Retry or Version
 * Negotiation packet takes the rest. Nothing is copied: each packet views the
 * datagram.
 */
export function splitDatagram(datagram: Uint8Array, options: ParseOptions): SplitDatagram {
  const packets: Packet[] = [];
  let offset = 0;
  while (offset < datagram.length) {
    try {
      const { packet, next } = parsePacket(datagram, offset, options);
      packets.push(packet);
      offset = next;
    } catch (e) {
      if (e instanceof InvalidPacketError) return { packets, error: e };
      throw e;
    }
  }
  return { packets };
}

/** Concatenates packets into one datagram (RFC 9000 §12.2); the caller keeps the short-header packet last. */
export function coalescePackets(packets: readonly Uint8Array[]): Uint8Array {
  return concat(...packets);
}
