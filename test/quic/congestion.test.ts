/**
 * Congestion controllers behind the `CongestionController` interface:
 * CUBIC (RFC 9438) — the window after a congestion event (§4.6), fast
 * convergence (§4.7), concave and convex growth along W_cubic (§4.4, §4.5),
 * the Reno-friendly region (§4.3), application-limited flows (§5.8) — and
 * NewReno (RFC 9002 §7). Sizes in bytes, times in milliseconds.
 */
import { describe, expect, it } from 'vitest';
import { CUBIC_ALPHA, CUBIC_BETA, CUBIC_C, Cubic, cubic } from '../../src/quic/connection/congestion/cubic.js';
import { NewReno, newReno } from '../../src/quic/connection/congestion/new-reno.js';
import type { RttSnapshot } from '../../src/quic/connection/rtt.js';
import { ConfigError } from '../../src/errors.js';

const MDS = 1200;
const RTT: RttSnapshot = { latest: 100, smoothed: 100, rttvar: 10, min: 100 };

/** A CUBIC controller in congestion avoidance after one loss at `cwndSegments`, at time `t0`. */
function cubicAfterLoss(cwndSegments: number, t0 = 1000): Cubic {
  const c = new Cubic(MDS);
  // Slow start up to the wanted window.
  c.onAck(0, 0, cwndSegments * MDS - c.window, false, RTT);
  expect(c.window).toBe(cwndSegments * MDS);
  c.onCongestionEvent(t0, t0 - 50, false, MDS);
  return c;
}

/** Acknowledges one full segment sent just after the recovery period began. */
const ackSegment = (c: Cubic, now: number, appLimited = false): void => c.onAck(now, 1001, MDS, appLimited, RTT);

describe('CUBIC (RFC 9438)', () => {
  it('starts at kInitialWindow and grows by every acknowledged byte in slow start (RFC 9002 §7.2, §7.3.1; RFC 9438 §4.10)', () => {
    const c = new Cubic(MDS);
    expect(c.window).toBe(12000);
    expect(c.initialWindow).toBe(12000);
    c.onAck(10, 0, 3000, false, RTT);
    expect(c.window).toBe(15000);
    expect(() => new Cubic(1000)).toThrow(ConfigError);
  });

  it('§4.6: a congestion event sets ssthresh = cwnd·β_cubic (0.7) and cwnd = ssthresh; W_max = the window before it', () => {
    const c = cubicAfterLoss(100);
    expect(CUBIC_BETA).toBe(0.7);
    expect(c.ssthresh).toBe(70 * MDS);
    expect(c.window).toBe(70 * MDS);
    expect(c.wMax).toBe(100 * MDS);
  });

  it('RFC 9002 §7.3.2: one reduction per recovery period; packets sent before it do not grow the window', () => {
    const c = cubicAfterLoss(100);
    c.onCongestionEvent(1100, 990, false, MDS); // sent before the period began
    expect(c.window).toBe(70 * MDS);
    c.onAck(1200, 999, MDS, false, RTT);
    expect(c.window).toBe(70 * MDS);
  });

  it('§4.6: never below kMinimumWindow (2 segments)', () => {
    const c = new Cubic(MDS);
    for (let i = 0; i < 10; i++) c.onCongestionEvent(1000 * (i + 1), 1000 * (i + 1) - 1, false, MDS);
    expect(c.window).toBe(2 * MDS);
  });

  it('§4.7: fast convergence — a loss before the window regained W_max lowers W_max to cwnd·(1 + β)/2', () => {
    const c = cubicAfterLoss(100);
    ackSegment(c, 1100); // congestion avoidance starts: t_epoch
    const cwndAtLoss = c.window; // about 70 segments, under W_max = 100
    c.onCongestionEvent(1200, 1150, false, MDS);
    expect(c.wMax as number).toBeCloseTo((cwndAtLoss * (1 + CUBIC_BETA)) / 2, -1);
    expect(c.ssthresh).toBe(Math.floor(cwndAtLoss * CUBIC_BETA));
    expect(c.window).toBe(c.ssthresh);
  });

  it('Figure 2: K = ∛((W_max − cwnd_epoch)/C) seconds, and W_cubic(K) = W_max', () => {
    const c = cubicAfterLoss(100);
    ackSegment(c, 1100);
    expect(c.k).toBeCloseTo(Math.cbrt(30 / CUBIC_C), 9); // ∛75 ≈ 4.217 s
    expect(c.wCubic(c.k)).toBeCloseTo(100 * MDS, 6);
    expect(c.wCubic(0)).toBeCloseTo(70 * MDS, 6);
  });

  it('§4.4/§4.5: concave growth toward W_max, flat near K, convex beyond it — following W_cubic one RTT ahead (§4.2)', () => {
    const c = cubicAfterLoss(100);
    const start = 1100;
    // One RTT's worth of acknowledgments per 100 ms: cwnd/MDS segments spread over the round trip.
    const windows: number[] = [];
    let now = start;
    for (let rtt = 0; rtt < 100; rtt++) {
      const n = Math.floor(c.window / MDS);
      for (let i = 0; i < n; i++) ackSegment(c, now + (i * 100) / n);
      now += 100;
      windows.push(c.window);
    }
    const at = (seconds: number): number => windows[Math.round(seconds * 10) - 1] as number;
    const k = c.k;
    // Concave: the growth per second shrinks as the window nears W_max...
    const g1 = at(1) - at(0.1);
    const g2 = at(2) - at(1);
    const g3 = at(3) - at(2);
    expect(g1).toBeGreaterThan(g2);
    expect(g2).toBeGreaterThan(g3);
    expect(at(k - 0.5)).toBeLessThan(100 * MDS);
    // ...near K it plateaus around W_max (W_cubic(K) = W_max)...
    expect(Math.abs(at(k) - 100 * MDS)).toBeLessThan(3 * MDS);
    // ...and beyond it grows faster and faster (convex), tracking W_cubic(t + RTT) within the 1.5·cwnd cap.
    const h1 = at(k + 2) - at(k + 1);
    const h2 = at(k + 3) - at(k + 2);
    expect(h2).toBeGreaterThan(h1);
    for (const t of [1, 2, k + 2, k + 4]) {
      const expected = c.wCubic(t);
      expect(Math.abs(at(t) - expected) / expected).toBeLessThan(0.03);
    }
  });

  it('§4.3: the Reno-friendly region — with W_cubic(t) below W_est, cwnd follows W_est = cwnd_epoch + α_cubic per window', () => {
    const c = cubicAfterLoss(20);
    // Acknowledgments arrive faster than the cubic curve moves (t stays ≈ 0): one window's worth at once.
    const epochWindow = c.window;
    const n = Math.round(epochWindow / MDS);
    for (let i = 0; i < n; i++) ackSegment(c, 1100);
    expect(c.wCubic(0)).toBeLessThan(c.wEst);
    expect(c.window).toBe(Math.floor(c.wEst));
    // α_cubic = 3(1 − β)/(1 + β) ≈ 0.529 segments per window.
    expect(CUBIC_ALPHA).toBeCloseTo(0.5294, 4);
    expect((c.window - epochWindow) / MDS).toBeGreaterThan(0.5 * CUBIC_ALPHA);
    expect((c.window - epochWindow) / MDS).toBeLessThanOrEqual(CUBIC_ALPHA + 0.001);
  });

  it('§4.3: once W_est reaches cwnd_prior, α_cubic is 1 (Reno\'s own increase)', () => {
    const c = cubicAfterLoss(4); // cwnd_prior 4 segments, cwnd 2.8 → kept at 3360 bytes
    // Keep t ≈ 0 so the region stays Reno-friendly, and acknowledge until W_est passes cwnd_prior.
    ackSegment(c, 1100);
    const first = c.wEst - 3360;
    expect(first / ((CUBIC_ALPHA * MDS * MDS) / 3360)).toBeCloseTo(1, 3);
    while (c.wEst < 4 * MDS) ackSegment(c, 1100);
    const before = c.wEst;
    const cwnd = c.wEst; // in the Reno-friendly region cwnd = W_est
    ackSegment(c, 1100);
    expect((c.wEst - before) / ((MDS * MDS) / cwnd)).toBeCloseTo(1, 6);
  });

  it('§5.8: no growth while application limited, and that time does not count toward t', () => {
    const c = cubicAfterLoss(100);
    ackSegment(c, 1100);
    const w = c.window;
    for (let now = 1200; now < 5000; now += 100) ackSegment(c, now, true);
    expect(c.window).toBe(w);
    // Growth resumes where it left off rather than jumping along the curve by the 3.9 idle seconds.
    ackSegment(c, 5000);
    expect(c.window - w).toBeLessThan(MDS);
  });

  it('RFC 9002 §7.6.2 / RFC 9438 §4.8: persistent congestion collapses to kMinimumWindow; the next stage starts with K = 0', () => {
    const c = cubicAfterLoss(50);
    c.onCongestionEvent(2000, 1900, true, 10 * MDS);
    expect(c.window).toBe(2 * MDS);
    expect(c.ssthresh).toBe(Math.floor(35 * MDS * CUBIC_BETA));
    // Slow start back up to ssthresh, then congestion avoidance with W_max = cwnd_epoch.
    c.onAck(2100, 2001, c.ssthresh - c.window, false, RTT);
    ackSegment(c, 2200);
    expect(c.k).toBe(0);
  });

  it('a larger path MTU keeps the window at least kMinimumWindow of the new size; clone() copies state', () => {
    const c = new Cubic(MDS);
    for (let i = 0; i < 10; i++) c.onCongestionEvent(1000 * (i + 1), 1000 * (i + 1) - 1, false, MDS);
    c.onMtuUpdate(1452);
    expect(c.window).toBe(2 * 1452);
    const d = c.clone();
    d.onAck(20_000, 19_999, 5000, false, RTT);
    expect(d.window).toBeGreaterThan(c.window);
    expect(cubic({ now: 0, maxDatagramSize: 1500 }).window).toBe(14720);
  });
});

describe('NewReno (RFC 9002 §7, Appendix B)', () => {
  it('§7.3.1 slow start, §7.3.2 halving once per recovery period, §7.3.3 one datagram per window', () => {
    const r = new NewReno(MDS);
    r.onAck(100, 0, 2 * MDS, false, RTT);
    expect(r.window).toBe(12000 + 2 * MDS);
    r.onCongestionEvent(200, 150, false, MDS);
    expect(r.window).toBe(7200);
    expect(r.ssthresh).toBe(7200);
    r.onCongestionEvent(300, 190, false, MDS);
    expect(r.window).toBe(7200);
    for (let i = 0; i < 6; i++) r.onAck(400, 250, MDS, false, RTT);
    expect(r.window).toBe(7200 + MDS);
  });

  it('§7.8: an application-limited sender does not grow the window', () => {
    const r = newReno({ now: 0, maxDatagramSize: MDS });
    r.onAck(100, 0, 5 * MDS, true, RTT);
    expect(r.window).toBe(12000);
  });

  it('§7.6.2: persistent congestion collapses the window to kMinimumWindow', () => {
    const r = new NewReno(MDS);
    r.onCongestionEvent(1000, 900, true, 5 * MDS);
    expect(r.window).toBe(2 * MDS);
    expect(r.ssthresh).toBe(6000);
  });
});
