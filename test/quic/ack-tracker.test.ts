/**
 * RFC 9000 §13.2: generating acknowledgments — when an ACK frame is owed
 * (§13.2.1, §13.2.2), which ranges it carries (§13.2.3), forgetting ranges the
 * peer has seen acknowledged (§13.2.4), the ACK Delay field (§13.2.5, §19.3)
 * and dropping duplicates (§12.3).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AckTracker } from '../../src/quic/connection/ack-tracker.js';
import { decodeFrames, encodeFrames, type AckRange, type Frame } from '../../src/quic/index.js';
import { seeded } from '../helpers/fc.js';

const EXP = 3;
const MAX_ACK_DELAY = 25;

function rangesOf(f: Frame | undefined): readonly AckRange[] {
  if (f?.type !== 'ack') throw new Error(`expected an ACK frame, got ${f?.type}`);
  return f.ranges;
}

/** Receives ack-eliciting packets at `now`, then flushes the ACK so the next check starts clean. */
function receivedAndAcked(t: AckTracker, pns: number[], now = 0): void {
  for (const pn of pns) t.onPacketReceived(pn, true, now);
  expect(t.pollAck(now, EXP, MAX_ACK_DELAY, true)).toBeDefined();
}

describe('§13.2.1, §13.2.2: when an ACK frame is sent', () => {
  it('a single ack-eliciting packet is acknowledged within max_ack_delay, not before', () => {
    const t = new AckTracker();
    t.onPacketReceived(0, true, 100);
    expect(t.ackDeadline(MAX_ACK_DELAY)).toBe(125);
    expect(t.pollAck(124, EXP, MAX_ACK_DELAY)).toBeUndefined();
    expect(rangesOf(t.pollAck(125, EXP, MAX_ACK_DELAY))).toEqual([{ smallest: 0, largest: 0 }]);
    expect(t.ackDeadline(MAX_ACK_DELAY)).toBeUndefined();
    expect(t.pollAck(200, EXP, MAX_ACK_DELAY)).toBeUndefined();
  });

  it('the delay is measured from the first unacknowledged ack-eliciting packet', () => {
    const t = new AckTracker();
    t.onPacketReceived(0, false, 0);
    t.onPacketReceived(1, true, 10);
    expect(t.ackDeadline(MAX_ACK_DELAY)).toBe(35);
  });

  it('a second ack-eliciting packet makes the ACK due immediately', () => {
    const t = new AckTracker();
    t.onPacketReceived(0, true, 0);
    expect(t.pollAck(1, EXP, MAX_ACK_DELAY)).toBeUndefined();
    t.onPacketReceived(1, true, 2);
    expect(t.ackDeadline(MAX_ACK_DELAY)).toBe(2);
    expect(rangesOf(t.pollAck(2, EXP, MAX_ACK_DELAY))).toEqual([{ smallest: 0, largest: 1 }]);
  });

  it('a packet below an ack-eliciting packet already received is acknowledged immediately', () => {
    const t = new AckTracker();
    receivedAndAcked(t, [0, 2]);
    t.onPacketReceived(1, true, 5);
    expect(t.ackDeadline(MAX_ACK_DELAY)).toBe(5);
    expect(rangesOf(t.pollAck(5, EXP, MAX_ACK_DELAY))).toEqual([{ smallest: 0, largest: 2 }]);
  });

  it('a packet above a gap is acknowledged immediately', () => {
    const t = new AckTracker();
    receivedAndAcked(t, [0]);
    t.onPacketReceived(2, true, 5);
    expect(rangesOf(t.pollAck(5, EXP, MAX_ACK_DELAY))).toEqual([{ smallest: 2, largest: 2 }, { smallest: 0, largest: 0 }]);
  });

  it('the next packet in order after an ACK waits for max_ack_delay again', () => {
    const t = new AckTracker();
    receivedAndAcked(t, [0]);
    t.onPacketReceived(1, true, 5);
    expect(t.pollAck(5, EXP, MAX_ACK_DELAY)).toBeUndefined();
    expect(t.ackDeadline(MAX_ACK_DELAY)).toBe(30);
  });

  it('non-ack-eliciting packets alone never make an ACK due, but ride along with a packet sent anyway', () => {
    const t = new AckTracker();
    t.onPacketReceived(0, false, 0);
    t.onPacketReceived(1, false, 0);
    expect(t.ackDeadline(MAX_ACK_DELAY)).toBeUndefined();
    expect(t.pollAck(1000, EXP, MAX_ACK_DELAY)).toBeUndefined();
    expect(rangesOf(t.pollAck(1000, EXP, MAX_ACK_DELAY, true))).toEqual([{ smallest: 0, largest: 1 }]);
  });

  it('force sends nothing when nothing new was received', () => {
    const t = new AckTracker();
    expect(t.pollAck(0, EXP, MAX_ACK_DELAY, true)).toBeUndefined();
    receivedAndAcked(t, [0]);
    expect(t.pollAck(1, EXP, MAX_ACK_DELAY, true)).toBeUndefined();
  });

  it('Initial and Handshake packets are acknowledged immediately with a max_ack_delay of 0', () => {
    const t = new AckTracker();
    t.onPacketReceived(0, true, 7);
    expect(t.ackDeadline(0)).toBe(7);
    expect(t.pollAck(7, EXP, 0)).toBeDefined();
  });
});

describe('§13.2.5, §19.3: ACK Delay', () => {
  it('is the time since the largest packet arrived, in microseconds scaled down by 2^ack_delay_exponent', () => {
    const t = new AckTracker();
    t.onPacketReceived(0, true, 10);
    const ack = t.pollAck(35, 3, MAX_ACK_DELAY);
    expect(ack).toMatchObject({ type: 'ack', ackDelay: (25_000 / 8) });
  });

  it('is measured from the largest packet, not from a reordered older one', () => {
    const t = new AckTracker();
    t.onPacketReceived(5, true, 10);
    t.onPacketReceived(4, true, 20);
    expect(t.pollAck(20, 0, MAX_ACK_DELAY)).toMatchObject({ ackDelay: 10_000 });
  });
});

describe('§13.2.3: ACK ranges', () => {
  it('are sent highest first and merge as gaps fill', () => {
    const t = new AckTracker();
    for (const pn of [0, 1, 2, 3, 5, 7, 8]) t.onPacketReceived(pn, false, 0);
    expect(rangesOf(t.pollAck(0, EXP, MAX_ACK_DELAY, true))).toEqual([
      { smallest: 7, largest: 8 }, { smallest: 5, largest: 5 }, { smallest: 0, largest: 3 },
    ]);
    t.onPacketReceived(4, false, 0);
    expect(rangesOf(t.pollAck(0, EXP, MAX_ACK_DELAY, true))).toEqual([{ smallest: 7, largest: 8 }, { smallest: 0, largest: 5 }]);
    t.onPacketReceived(6, false, 0);
    expect(rangesOf(t.pollAck(0, EXP, MAX_ACK_DELAY, true))).toEqual([{ smallest: 0, largest: 8 }]);
  });

  it('are bounded: the highest maxRanges are kept and everything below them is treated as already received', () => {
    const t = new AckTracker(3);
    for (const pn of [0, 2, 4, 6, 8, 10]) t.onPacketReceived(pn, false, 0);
    expect(rangesOf(t.pollAck(0, EXP, MAX_ACK_DELAY, true))).toEqual([
      { smallest: 10, largest: 10 }, { smallest: 8, largest: 8 }, { smallest: 6, largest: 6 },
    ]);
    // The floor sits just above the highest forgotten range: a gap above it can still be filled.
    for (const pn of [0, 1, 3, 4]) expect(t.isDuplicate(pn)).toBe(true);
    for (const pn of [5, 7, 9, 11]) expect(t.isDuplicate(pn)).toBe(false);
  });

  it('rejects a non-positive range limit', () => {
    expect(() => new AckTracker(0)).toThrow(/maxRanges/);
  });
});

describe('§12.3: duplicates', () => {
  it('a packet number seen before is a duplicate; one never seen is not', () => {
    const t = new AckTracker();
    for (const pn of [3, 4, 9]) t.onPacketReceived(pn, true, 0);
    expect([2, 3, 4, 5, 8, 9, 10].map((pn) => t.isDuplicate(pn))).toEqual([false, true, true, false, false, true, false]);
  });

  it('a duplicate does not count toward an immediate ACK', () => {
    const t = new AckTracker();
    t.onPacketReceived(0, true, 0);
    t.onPacketReceived(0, true, 1);
    expect(t.ackDeadline(MAX_ACK_DELAY)).toBe(25);
  });
});

describe('§13.2.4: limiting ranges by tracking ACK frames', () => {
  it('once an ACK with Largest Acknowledged L is itself acknowledged, packets up to L are no longer acknowledged', () => {
    const t = new AckTracker();
    for (let pn = 0; pn < 10; pn++) t.onPacketReceived(pn, false, 0);
    t.onPacketReceived(12, false, 0);
    t.onAckOfAckReceived(5);
    expect(rangesOf(t.pollAck(0, EXP, MAX_ACK_DELAY, true))).toEqual([{ smallest: 12, largest: 12 }, { smallest: 6, largest: 9 }]);
    expect(t.isDuplicate(3)).toBe(true);
    expect(t.isDuplicate(11)).toBe(false);
    expect(t.largestReceived).toBe(12);
  });

  it('when every range is forgotten, no ACK stays owed', () => {
    const t = new AckTracker();
    t.onPacketReceived(0, true, 0);
    t.onPacketReceived(1, true, 0);
    t.onAckOfAckReceived(1);
    expect(t.ackDeadline(0)).toBeUndefined();
    expect(t.pollAck(100, EXP, MAX_ACK_DELAY, true)).toBeUndefined();
  });

  it('an older ACK being acknowledged late changes nothing', () => {
    const t = new AckTracker();
    for (let pn = 0; pn < 6; pn++) t.onPacketReceived(pn, false, 0);
    t.onAckOfAckReceived(4);
    t.onAckOfAckReceived(2);
    expect(rangesOf(t.pollAck(0, EXP, MAX_ACK_DELAY, true))).toEqual([{ smallest: 5, largest: 5 }]);
  });
});

describe('properties', () => {
  const arrivals = fc.array(fc.record({ pn: fc.integer({ min: 0, max: 200 }), eliciting: fc.boolean() }), { maxLength: 150 });

  it('ACK ranges describe exactly the packets received: highest first, disjoint, never adjacent, and encodable', () => {
    fc.assert(fc.property(arrivals, (xs) => {
      const t = new AckTracker(1000);
      const seen = new Set<number>();
      for (const { pn, eliciting } of xs) {
        expect(t.isDuplicate(pn)).toBe(seen.has(pn));
        t.onPacketReceived(pn, eliciting, 0);
        seen.add(pn);
      }
      const ack = t.pollAck(0, EXP, MAX_ACK_DELAY, true);
      if (seen.size === 0) {
        expect(ack).toBeUndefined();
        return;
      }
      const ranges = rangesOf(ack);
      const covered = new Set<number>();
      ranges.forEach((r, i) => {
        const next = ranges[i + 1];
        if (next) expect(next.largest).toBeLessThan(r.smallest - 1);
        for (let pn = r.smallest; pn <= r.largest; pn++) covered.add(pn);
      });
      expect(covered).toEqual(seen);
      expect(decodeFrames(encodeFrames([ack as Frame]), '1rtt', { maxDatagramFrameSize: 0 })).toEqual([ack]);
    }), seeded(50024, { numRuns: 300 }));
  });

  it('with few ranges kept, the ACK holds the largest packet, at most maxRanges ranges, and nothing never received', () => {
    fc.assert(fc.property(arrivals, fc.integer({ min: 1, max: 6 }), (xs, maxRanges) => {
      const t = new AckTracker(maxRanges);
      const seen = new Set<number>();
      for (const { pn, eliciting } of xs) {
        t.onPacketReceived(pn, eliciting, 0);
        seen.add(pn);
        expect(t.isDuplicate(pn)).toBe(true);
      }
      const ack = t.pollAck(0, EXP, MAX_ACK_DELAY, true);
      if (seen.size === 0) return;
      const ranges = rangesOf(ack);
      expect(ranges.length).toBeLessThanOrEqual(maxRanges);
      expect(ranges[0]?.largest).toBe(Math.max(...seen));
      for (const r of ranges) for (let pn = r.smallest; pn <= r.largest; pn++) expect(seen.has(pn)).toBe(true);
    }), seeded(72237, { numRuns: 300 }));
  });
});
