/**
 * The token-bucket pacer of RFC 9002 §7.7 (after quinn-proto's): rate
 * 1.25 · cwnd / smoothed_rtt, bursts of cwnd · 2 ms / smoothed_rtt kept
 * between 10 and 256 datagrams. Times in ms, sizes in bytes.
 */
import { describe, expect, it } from 'vitest';
import { MAX_BURST_DATAGRAMS, MIN_BURST_DATAGRAMS, Pacer } from '../../src/quic/connection/pacer.js';

const MTU = 1200;

describe('RFC 9002 §7.7: pacing', () => {
  it('starts with a full burst of at least 10 datagrams, then makes the sender wait', () => {
    const p = new Pacer(100, 12_000, MTU, 0);
    expect(p.available).toBe(MIN_BURST_DATAGRAMS * MTU);
    for (let i = 0; i < 10; i++) {
      expect(p.delay(100, MTU, MTU, 12_000, 0)).toBeUndefined();
      p.onTransmit(MTU);
    }
    const wake = p.delay(100, MTU, MTU, 12_000, 0);
    // Refilling the whole 12 000-byte burst at 1.25 · 12 000 bytes per 100 ms takes 80 ms.
    expect(wake).toBeCloseTo(80, 9);
  });

  it('refills at 1.25 · cwnd / smoothed_rtt', () => {
    const p = new Pacer(100, 12_000, MTU, 0);
    p.onTransmit(12_000);
    // After 8 ms: 1.25 · 12 000 · 8 / 100 = 1200 bytes, one datagram.
    expect(p.delay(100, MTU, MTU, 12_000, 8)).toBeUndefined();
    p.onTransmit(MTU);
    expect(p.delay(100, MTU, MTU, 12_000, 8)).toBeGreaterThan(8);
  });

  it('the burst is cwnd · 2 ms / smoothed_rtt, clamped to [10, 256] datagrams', () => {
    // 1 MB window over a 1 ms RTT: 2 MB per 2 ms, clamped to 256 datagrams.
    const fast = new Pacer(1, 1_000_000, MTU, 0);
    expect(fast.available).toBe(MAX_BURST_DATAGRAMS * MTU);
    // 600 KB over 40 ms: 30 KB, 25 datagrams.
    const mid = new Pacer(40, 600_000, MTU, 0);
    expect(mid.available).toBe(30_000);
    // A larger window shrinks nothing; a smaller one clamps the tokens it had.
    mid.delay(40, MTU, MTU, 120_000, 0);
    expect(mid.available).toBe(12_000);
  });

  it('a caller woken late (timer granularity, a busy event loop) gets the tokens of its lateness, up to one more burst', () => {
    // 600 KB over a 4 ms RTT: 1.25 · 600 000 / 4 = 187 500 bytes per ms, a burst of 256 datagrams (cwnd · 2 ms / 4 ms = 300 KB, clamped).
    const [rtt, cwnd] = [4, 600_000];
    const rate = (1.25 * cwnd) / rtt;
    const p = new Pacer(rtt, cwnd, MTU, 0);
    const burst = p.available;
    p.onTransmit(burst);
    const wake = p.delay(rtt, MTU, MTU, cwnd, 0) as number;
    expect(wake).toBeCloseTo(burst / rate, 9);
    // The timer fires 1 ms late: the rate allowed another 187 500 bytes meanwhile, and they may go now.
    expect(p.delay(rtt, MTU, MTU, cwnd, wake + 1)).toBeUndefined();
    expect(p.available).toBeCloseTo(burst + rate, 6);
    // Later than a whole burst interval: one extra burst at most.
    p.onTransmit(p.available);
    const next = p.delay(rtt, MTU, MTU, cwnd, wake + 1) as number;
    p.delay(rtt, MTU, MTU, cwnd, next + 50);
    expect(p.available).toBe(2 * burst);
  });

  it('a sender that was not waiting for the pacer gets one burst, however long it was away', () => {
    const p = new Pacer(4, 600_000, MTU, 0);
    const burst = p.available;
    p.onTransmit(burst);
    // No delay was asked for: coming back after 50 ms is an idle sender, not a late timer.
    p.delay(4, burst, MTU, 600_000, 50);
    expect(p.available).toBe(burst);
  });

  it('a delay too short for a timer is no delay', () => {
    const p = new Pacer(0.001, 100_000_000, MTU, 0);
    p.onTransmit(p.available);
    expect(p.delay(0.001, MTU, MTU, 100_000_000, 0)).toBeUndefined();
  });
});
