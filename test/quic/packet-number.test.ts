/** RFC 9000 §17.1 and Appendix A.2/A.3: packet-number encoding length and decoding. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodePacketNumber, packetNumberLength, truncatePacketNumber } from '../../src/quic/index.js';
import { seeded } from '../helpers/fc.js';

describe('packet numbers (RFC 9000 §17.1)', () => {
  it('Appendix A.2 examples: 0xac5c02 after 0xabe8b3 needs 2 bytes; 0xace8fe needs 3', () => {
    expect(packetNumberLength(0xac5c02, 0xabe8b3)).toBe(2);
    expect(packetNumberLength(0xace8fe, 0xabe8b3)).toBe(3);
  });
  it('Appendix A.3 example: 0x9b32 after 0xa82f30ea decodes to 0xa82f9b32', () => {
    expect(decodePacketNumber(0xa82f30ea, 0x9b32, 2)).toBe(0xa82f9b32);
  });
  it('before any acknowledgment the whole packet number counts (§17.1)', () => {
    expect(packetNumberLength(0, undefined)).toBe(1);
    expect(packetNumberLength(127, undefined)).toBe(2);
    expect(packetNumberLength(0x7fff, undefined)).toBe(3);
  });
  it('refuses a gap a 4-byte encoding cannot cover', () => {
    expect(() => packetNumberLength(2 ** 31, undefined)).toThrow();
    expect(() => packetNumberLength(5, 5)).toThrow();
  });
  it('the shortest length is shortest: one byte less would be ambiguous', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 40 }), fc.integer({ min: 1, max: 2 ** 31 - 1 }), (acked, gap) => {
      const len = packetNumberLength(acked + gap, acked);
      expect(gap).toBeLessThan(2 ** (8 * len - 1));
      if (len > 1) expect(gap).toBeGreaterThanOrEqual(2 ** (8 * (len - 1) - 1));
    }), seeded(36127));
  });
  it('for every (largest acked, pn) pair, a receiver whose largest received lies between them decodes pn', () => {
    fc.assert(fc.property(
      fc.integer({ min: -1, max: 2 ** 52 }), fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.double({ min: 0, max: 1, noNaN: true }),
      (acked, gap, where) => {
        const pn = acked + gap;
        const len = packetNumberLength(pn, acked < 0 ? undefined : acked);
        const received = acked + Math.floor(where * (gap - 1)); // in [acked, pn - 1]
        expect(decodePacketNumber(received, truncatePacketNumber(pn, len), len)).toBe(pn);
      },
    ), seeded(69487, { numRuns: 2000 }));
  });
  it('decoding picks the candidate closest to the next expected packet, either side (window of 256 around largest + 1)', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 50 }), fc.integer({ min: -126, max: 129 }), (largest, delta) => {
      const pn = largest + delta;
      fc.pre(pn >= 0);
      expect(decodePacketNumber(largest, truncatePacketNumber(pn, 1), 1)).toBe(pn);
    }), seeded(91700));
  });
});
