/**
 * A server decides whether a datagram starts a connection by decrypting its
 * first packet with the Initial keys derived from that packet's own
 * Destination Connection ID (RFC 9001 §5.2), before it keeps any state; a
 * packet that does not authenticate is discarded (RFC 9001 §5.5).
 */
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../src/bytes.js';
import { createNobleProvider } from '../../src/pq/noble/index.js';
import { openFirstInitial } from '../../src/quic/first-initial.js';
import { loadAppendixA } from './rfc-vectors.js';

describe('openFirstInitial (RFC 9001 §5.2, §5.5)', () => {
  const provider = createNobleProvider();
  for (const rfc of ['rfc9001', 'rfc9369'] as const) {
    const v = loadAppendixA(rfc);

    it(`${rfc} Appendix A client Initial: decrypts to packet number ${v.clientInitial.packetNumber} and the CRYPTO frame, leaving the datagram as it was`, async () => {
      const datagram = fromHex(v.clientInitial.packet);
      const first = await openFirstInitial(provider, datagram);
      expect(first?.opened.packetNumber).toBe(v.clientInitial.packetNumber);
      expect(toHex(first?.opened.payload.subarray(0, v.clientInitial.cryptoFrame.length / 2) ?? new Uint8Array())).toBe(v.clientInitial.cryptoFrame);
      expect(toHex(first?.packet.dcid ?? new Uint8Array())).toBe(v.dcid);
      expect(toHex(datagram)).toBe(v.clientInitial.packet);
    });

    it(`${rfc}: any one flipped bit in header or payload, or a datagram under 1200 bytes, is no Initial`, async () => {
      const packet = fromHex(v.clientInitial.packet);
      // Positions in the flags, version, CIDs, length, packet number, payload and tag.
      for (const at of [0, 3, 7, 16, 20, 40, 600, packet.length - 1]) {
        const bad = packet.slice();
        bad[at] = (bad[at] as number) ^ 0x10;
        expect(await openFirstInitial(provider, bad), `byte ${at}`).toBeUndefined();
      }
      expect(await openFirstInitial(provider, packet.subarray(0, 1199))).toBeUndefined();
    });
  }
});
