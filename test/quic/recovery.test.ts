/**
 * RFC 9002: RTT estimation (§5), loss detection by packet and time thresholds
 * (§6.1), the probe timeout (§6.2), discarding keys (§6.4), NewReno congestion
 * control (§7) with persistent congestion (§7.6), and the PROTOCOL_VIOLATION of
 * RFC 9000 §13.1. Times are milliseconds; the 1200-byte datagram is the norm.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { Recovery, type SentPacket, type Space } from '../../src/quic/connection/recovery.js';
import { newReno } from '../../src/quic/connection/congestion/new-reno.js';
import { QuicTransportError, TransportErrorCode, type AckRange, type Frame } from '../../src/quic/index.js';
import { seeded } from '../helpers/fc.js';

type AckFrame = Extract<Frame, { type: 'ack' }>;

const MDS = 1200;
const PEER = { ackDelayExponent: 3, maxAckDelay: 25 };
const SERVER = { handshakeConfirmed: false, peerAddressValidated: true, hasHandshakeKeys: true };
const CONFIRMED = { ...SERVER, handshakeConfirmed: true };

function pkt(space: Space, pn: number, timeSent: number, opts: Partial<SentPacket> = {}): SentPacket {
  return { pn, space, timeSent, size: MDS, ackEliciting: true, inFlight: true, frames: [{ type: 'ping' }], ...opts };
}

/** An ACK frame for the given inclusive ranges, highest first; `delayMs` is encoded with PEER's exponent. */
function ack(ranges: [number, number][], delayMs = 0): AckFrame {
  return {
    type: 'ack',
    ackDelay: (delayMs * 1000) / 2 ** PEER.ackDelayExponent,
    ranges: ranges.map(([largest, smallest]) => ({ largest, smallest })),
  };
}

/** Appendix B's pseudocode is NewReno, so these tests pin it (CUBIC, the default, has its own tests). */
const server = (opts: { initialRtt?: number; maxDatagramSize?: number } = {}): Recovery =>
  new Recovery({ maxDatagramSize: MDS, isClient: false, congestionController: newReno, ...opts });

const pns = (ps: readonly SentPacket[]): number[] => ps.map((p) => p.pn);

describe('§5: estimating the round-trip time', () => {
  it('§5.3 / A.4: before any sample, smoothed_rtt is kInitialRtt (333 ms) and rttvar half of it', () => {
    expect(server().rtt).toEqual({ latest: 0, smoothed: 333, rttvar: 166.5, min: 0 });
    expect(server({ initialRtt: 100 }).rtt).toEqual({ latest: 0, smoothed: 100, rttvar: 50, min: 0 });
  });

  it('§5.3: the first sample sets smoothed_rtt and min_rtt to it and rttvar to half of it, ignoring ack_delay', () => {
    const r = server();
    r.onPacketSent(pkt('application', 0, 0));
    r.onAck('application', ack([[0, 0]], 20), 100, PEER, true);
    expect(r.rtt).toEqual({ latest: 100, smoothed: 100, rttvar: 50, min: 100 });
  });

  it('§5.3: later samples subtract the ack delay when the result stays at or above min_rtt', () => {
    const r = server();
    r.onPacketSent(pkt('application', 0, 0));
    r.onAck('application', ack([[0, 0]]), 100, PEER, true);
    r.onPacketSent(pkt('application', 1, 200));
    r.onAck('application', ack([[1, 1]], 10), 330, PEER, true);
    // latest 130, adjusted 130 - 10 = 120; rttvar = 3/4·50 + 1/4·|100 - 120|; smoothed = 7/8·100 + 1/8·120.
    expect(r.rtt).toEqual({ latest: 130, smoothed: 102.5, rttvar: 42.5, min: 100 });
  });

  it('§5.3: the ack delay is not subtracted when that would take the sample below min_rtt', () => {
    const r = server();
    r.onPacketSent(pkt('application', 0, 0));
    r.onAck('application', ack([[0, 0]]), 100, PEER, true);
    r.onPacketSent(pkt('application', 1, 200));
    r.onAck('application', ack([[1, 1]], 10), 305, PEER, true);
    expect(r.rtt.smoothed).toBe((7 / 8) * 100 + (1 / 8) * 105);
  });

  it('§5.3: after handshake confirmation the ack delay is capped at max_ack_delay, before it is not', () => {
    const sample = (confirmed: boolean): number => {
      const r = server();
      r.onPacketSent(pkt('application', 0, 0));
      r.onAck('application', ack([[0, 0]]), 100, PEER, confirmed);
      r.onPacketSent(pkt('application', 1, 1000));
      r.onAck('application', ack([[1, 1]], 50), 1200, PEER, confirmed);
      return (r.rtt.smoothed - (7 / 8) * 100) * 8;
    };
    expect(sample(true)).toBeCloseTo(200 - 25);
    expect(sample(false)).toBeCloseTo(200 - 50);
  });

  it('§5.3: the ack delay of Initial ACKs is ignored (they are never delayed on purpose)', () => {
    const r = server();
    r.onPacketSent(pkt('initial', 0, 0));
    r.onAck('initial', ack([[0, 0]]), 100, PEER, false);
    r.onPacketSent(pkt('initial', 1, 200));
    r.onAck('initial', ack([[1, 1]], 10), 330, PEER, false);
    expect(r.rtt.smoothed).toBe((7 / 8) * 100 + (1 / 8) * 130);
  });

  it('§5.1: no sample unless the largest acknowledged is newly acknowledged', () => {
    const r = server();
    r.onPacketSent(pkt('application', 0, 0));
    r.onPacketSent(pkt('application', 1, 0));
    r.onAck('application', ack([[1, 1]]), 100, PEER, true);
    r.onAck('application', ack([[1, 0]]), 900, PEER, true);
    expect(r.rtt.latest).toBe(100);
  });

  it('§5.1: no sample when only non-ack-eliciting packets are newly acknowledged', () => {
    const r = server();
    r.onPacketSent(pkt('application', 0, 0, { ackEliciting: false, inFlight: false, frames: [] }));
    const { acked } = r.onAck('application', ack([[0, 0]]), 100, PEER, true);
    expect(pns(acked)).toEqual([0]);
    expect(r.rtt).toEqual({ latest: 0, smoothed: 333, rttvar: 166.5, min: 0 });
  });
});

describe('§6.1: acknowledgment-based loss detection', () => {
  /** Five packets sent together at t=0, so only the packet threshold can declare loss on an ACK of pn 3 at t=100. */
  function fiveSentThenThreeAcked(): { r: Recovery; lost: SentPacket[]; acked: SentPacket[] } {
    const r = server();
    for (let pn = 0; pn < 5; pn++) r.onPacketSent(pkt('application', pn, 0));
    return { r, ...r.onAck('application', ack([[3, 3]]), 100, PEER, true) };
  }

  it('§6.1.1: a packet kPacketThreshold (3) below an acknowledged one is lost; closer ones are not yet', () => {
    const { acked, lost } = fiveSentThenThreeAcked();
    expect(pns(acked)).toEqual([3]);
    expect(pns(lost)).toEqual([0]);
  });

  it('§6.1.2: packets not yet lost get a loss time of kTimeThreshold · max(smoothed_rtt, latest_rtt) after sending', () => {
    const { r } = fiveSentThenThreeAcked();
    // RTT 100, so the loss delay is 9/8 · 100 = 112.5 ms; pn 4 is above the largest acknowledged and not a candidate.
    expect(r.timeout(100, CONFIRMED)).toBe(112.5);
    expect(r.onTimeout(112, CONFIRMED)).toEqual({ lost: [] });
    const { lost, probe } = r.onTimeout(112.5, CONFIRMED);
    expect(pns(lost)).toEqual([1, 2]);
    expect(probe).toBeUndefined();
  });

  it('§6.1.2: a packet sent more than the loss delay before an ACK arrives is lost by time', () => {
    const r = server();
    r.onPacketSent(pkt('application', 0, 0));
    r.onPacketSent(pkt('application', 1, 0));
    r.onAck('application', ack([[1, 1]]), 100, PEER, true);
    r.onPacketSent(pkt('application', 2, 150));
    r.onPacketSent(pkt('application', 3, 300));
    const { lost } = r.onAck('application', ack([[3, 3]]), 400, PEER, true);
    // Loss delay ≈ 9/8 · 100: pn 2, sent at 150, is older than 400 - 112.5 although only one packet below pn 3.
    expect(pns(lost)).toEqual([0, 2]);
  });

  it('§6.1.2: the loss delay is at least kGranularity (1 ms)', () => {
    const r = server();
    r.onPacketSent(pkt('application', 0, 0));
    r.onPacketSent(pkt('application', 1, 0));
    r.onAck('application', ack([[1, 1]]), 0.1, PEER, true);
    expect(r.timeout(0.1, CONFIRMED)).toBe(1);
  });

  it('A.7: an ACK of packets already acknowledged or lost changes nothing', () => {
    const { r } = fiveSentThenThreeAcked();
    const before = r.bytesInFlight;
    expect(r.onAck('application', ack([[3, 3], [0, 0]]), 101, PEER, true)).toEqual({ acked: [], lost: [] });
    expect(r.bytesInFlight).toBe(before);
  });

  it('RFC 9000 §13.1: an acknowledgment of a packet never sent is a PROTOCOL_VIOLATION', () => {
    const r = server();
    r.onPacketSent(pkt('handshake', 0, 0));
    const violation = (space: Space, f: AckFrame): unknown => {
      try {
        r.onAck(space, f, 10, PEER, false);
      } catch (e) {
        return e;
      }
      return undefined;
    };
    const e = violation('handshake', ack([[1, 0]]));
    expect(e).toBeInstanceOf(QuicTransportError);
    expect(e).toMatchObject({ code: TransportErrorCode.PROTOCOL_VIOLATION, frameType: 0x02 });
    expect(violation('initial', { ...ack([[0, 0]]), ecn: { ect0: 0, ect1: 0, ce: 0 } })).toMatchObject({ frameType: 0x03 });
  });

  it('A.5: packet numbers must increase within a space, and ack-eliciting packets are in flight (§2)', () => {
    const r = server();
    r.onPacketSent(pkt('application', 5, 0));
    expect(() => r.onPacketSent(pkt('application', 5, 1))).toThrow(ConfigError);
    expect(() => r.onPacketSent(pkt('handshake', 5, 1))).not.toThrow();
    expect(() => r.onPacketSent(pkt('handshake', 6, 1, { inFlight: false }))).toThrow(/in flight/);
  });
});

describe('§6.2: probe timeout', () => {
  it('§6.2.1: PTO = smoothed_rtt + max(4·rttvar, kGranularity), with max_ack_delay 0 for Initial packets', () => {
    const r = server();
    r.onPacketSent(pkt('initial', 0, 10));
    expect(r.timeout(10, SERVER)).toBe(10 + 333 + 4 * 166.5);
  });

  it('§6.2.1: Application Data includes the peer max_ack_delay, and is not armed before handshake confirmation', () => {
    const r = server();
    r.onPacketSent(pkt('application', 0, 0));
    r.onAck('application', ack([[0, 0]]), 100, { ...PEER, maxAckDelay: 40 }, true);
    r.onPacketSent(pkt('application', 1, 200));
    expect(r.timeout(200, SERVER)).toBeUndefined();
    expect(r.timeout(200, CONFIRMED)).toBe(200 + 100 + 4 * 50 + 40);
  });

  it('§6.2.1: with packets in flight in several spaces the earliest deadline wins', () => {
    const r = server();
    r.onPacketSent(pkt('handshake', 0, 0));
    r.onPacketSent(pkt('initial', 0, 5));
    expect(r.timeout(5, SERVER)).toBe(999);
    expect(r.onTimeout(999, SERVER).probe).toEqual({ space: 'handshake', count: 2 });
  });

  it('§6.2.1: each PTO doubles the next one; an acknowledgment resets the backoff', () => {
    const r = server();
    r.onPacketSent(pkt('initial', 0, 0));
    expect(r.timeout(0, SERVER)).toBe(999);
    expect(r.onTimeout(999, SERVER)).toEqual({ lost: [], probe: { space: 'initial', count: 2 } });
    expect(r.ptoCount).toBe(1);
    expect(r.timeout(999, SERVER)).toBe(2 * 999);
    r.onTimeout(2 * 999, SERVER);
    expect(r.timeout(2 * 999, SERVER)).toBe(4 * 999);
    r.onPacketSent(pkt('initial', 1, 2000));
    r.onAck('initial', ack([[1, 1]]), 2100, PEER, false);
    expect(r.ptoCount).toBe(0);
  });

  it('§6.2.1: a timer set for time-threshold loss takes the place of the PTO', () => {
    const r = server();
    r.onPacketSent(pkt('application', 0, 0));
    r.onPacketSent(pkt('application', 1, 0));
    r.onPacketSent(pkt('application', 2, 0));
    r.onAck('application', ack([[1, 1]]), 100, PEER, true);
    expect(r.timeout(100, CONFIRMED)).toBe(112.5);
  });

  it('§6.2.1: a client keeps the backoff on an Initial ACK, until the server has validated its address', () => {
    const client = new Recovery({ maxDatagramSize: MDS, isClient: true });
    const state = { handshakeConfirmed: false, peerAddressValidated: false, hasHandshakeKeys: false };
    client.onPacketSent(pkt('initial', 0, 0));
    client.onTimeout(999, state);
    client.onPacketSent(pkt('initial', 1, 999));
    client.onAck('initial', ack([[1, 0]]), 1100, PEER, false);
    expect(client.ptoCount).toBe(1);
    client.onPacketSent(pkt('handshake', 0, 1100));
    client.onAck('handshake', ack([[0, 0]]), 1200, PEER, false);
    expect(client.ptoCount).toBe(0);
  });

  it('§6.2.2.1: a client with nothing in flight arms an anti-deadlock PTO until its address is validated', () => {
    const client = new Recovery({ maxDatagramSize: MDS, isClient: true });
    const state = { handshakeConfirmed: false, peerAddressValidated: false, hasHandshakeKeys: false };
    client.onPacketSent(pkt('initial', 0, 0));
    client.onAck('initial', ack([[0, 0]]), 100, PEER, false);
    // Nothing in flight: counted from the ACK at t=100, with the RTT now 100 ms.
    expect(client.timeout(100, state)).toBe(100 + 100 + 4 * 50);
    expect(client.timeout(150, state)).toBe(400);
    expect(client.onTimeout(400, state)).toEqual({ lost: [], probe: { space: 'initial', count: 1 } });
    expect(client.timeout(400, { ...state, hasHandshakeKeys: true })).toBe(400 + 2 * 300);
    expect(client.onTimeout(1000, { ...state, hasHandshakeKeys: true }).probe).toEqual({ space: 'handshake', count: 1 });
    expect(client.timeout(1000, { ...state, peerAddressValidated: true })).toBeUndefined();
  });

  it('§6.2.2.1: a server with nothing in flight, or at its anti-amplification limit, arms no PTO', () => {
    const r = server();
    expect(r.timeout(0, SERVER)).toBeUndefined();
    r.onPacketSent(pkt('initial', 0, 0));
    expect(r.timeout(0, { ...SERVER, amplificationLimited: true })).toBeUndefined();
    expect(r.onTimeout(5000, { ...SERVER, amplificationLimited: true })).toEqual({ lost: [] });
    expect(r.timeout(0, SERVER)).toBe(999);
  });

  it('a timeout before the timer is due does nothing', () => {
    const r = server();
    r.onPacketSent(pkt('initial', 0, 0));
    expect(r.onTimeout(998, SERVER)).toEqual({ lost: [] });
    expect(r.ptoCount).toBe(0);
  });
});

describe('§6.4: discarding keys', () => {
  it('removes the space packets from bytes in flight, returns them, and resets the PTO backoff', () => {
    const r = server();
    r.onPacketSent(pkt('initial', 0, 0));
    r.onPacketSent(pkt('initial', 1, 0, { size: 100 }));
    r.onPacketSent(pkt('handshake', 0, 0));
    r.onTimeout(999, SERVER);
    expect(r.bytesInFlight).toBe(2 * MDS + 100);
    expect(pns(r.discardSpace('initial'))).toEqual([0, 1]);
    expect(r.bytesInFlight).toBe(MDS);
    expect(r.ptoCount).toBe(0);
    expect(r.timeout(999, SERVER)).toBe(999);
    expect(r.onAck('initial', ack([[1, 0]]), 1000, PEER, false)).toEqual({ acked: [], lost: [] });
  });
});

describe('§7: congestion control', () => {
  it('§7.2: initial window min(10·mds, max(14720, 2·mds)), minimum window 2·mds', () => {
    expect(server().congestionWindow).toBe(12000);
    expect(server({ maxDatagramSize: 1500 }).congestionWindow).toBe(14720);
    expect(server({ maxDatagramSize: 9000 }).congestionWindow).toBe(18000);
    expect(() => server({ maxDatagramSize: 1199 })).toThrow(ConfigError);
  });

  it('§7.5: only the congestion window minus bytes in flight may be sent; ACK-only packets do not count', () => {
    const r = server();
    for (let pn = 0; pn < 9; pn++) r.onPacketSent(pkt('application', pn, 0));
    r.onPacketSent(pkt('application', 9, 0, { ackEliciting: false, inFlight: false, size: 50 }));
    expect(r.bytesInFlight).toBe(9 * MDS);
    expect(r.canSend(MDS)).toBe(true);
    expect(r.canSend(MDS + 1)).toBe(false);
  });

  it('§7.3.1: in slow start the window grows by every acknowledged byte', () => {
    const r = server();
    r.onPacketSent(pkt('application', 0, 0));
    r.onPacketSent(pkt('application', 1, 0, { size: 500 }));
    r.onAck('application', ack([[1, 0]]), 100, PEER, true);
    expect(r.congestionWindow).toBe(12000 + 1700);
    expect(r.bytesInFlight).toBe(0);
  });

  it('§7.3.2: a loss halves the window, sets ssthresh, and starts a recovery period that allows no growth', () => {
    const r = server();
    for (let pn = 0; pn < 6; pn++) r.onPacketSent(pkt('application', pn, 0));
    const { lost } = r.onAck('application', ack([[4, 4]]), 100, PEER, true);
    expect(pns(lost)).toEqual([0, 1]);
    expect(r.ssthresh).toBe(6000);
    expect(r.congestionWindow).toBe(6000);
    // pn 5 was sent before the recovery period started: its ACK neither grows nor shrinks the window...
    r.onAck('application', ack([[5, 4]]), 110, PEER, true);
    expect(r.congestionWindow).toBe(6000);
    // ...and neither does the loss of pns 2 and 3, sent before it too: one reduction per recovery period.
    r.onTimeout(r.timeout(110, CONFIRMED) ?? 0, CONFIRMED);
    expect(r.congestionWindow).toBe(6000);
  });

  it('§7.3.2: a packet sent after the recovery period started ends it; a later loss reduces again', () => {
    const r = server();
    for (let pn = 0; pn < 4; pn++) r.onPacketSent(pkt('application', pn, 0));
    r.onAck('application', ack([[3, 3]]), 100, PEER, true);
    expect(r.congestionWindow).toBe(6000);
    for (let pn = 4; pn < 9; pn++) r.onPacketSent(pkt('application', pn, 101));
    r.onAck('application', ack([[8, 8], [6, 6]]), 200, PEER, true);
    // pn 4 (sent after recovery began) is lost: 6000 → 3000, but never below kMinimumWindow.
    expect(r.congestionWindow).toBe(3000);
    for (let pn = 9; pn < 13; pn++) r.onPacketSent(pkt('application', pn, 201));
    r.onAck('application', ack([[12, 12]]), 300, PEER, true);
    expect(r.ssthresh).toBe(1500);
    expect(r.congestionWindow).toBe(2 * MDS);
  });

  it('§7.3.3: in congestion avoidance the window grows by one datagram per window of acknowledged bytes', () => {
    const r = server();
    for (let pn = 0; pn < 4; pn++) r.onPacketSent(pkt('application', pn, 0));
    r.onAck('application', ack([[3, 3]]), 100, PEER, true);
    expect(r.congestionWindow).toBe(6000);
    let pn = 4;
    let now = 200;
    const ackOne = (): void => {
      r.onPacketSent(pkt('application', pn, now));
      r.onAck('application', ack([[pn, pn]]), now + 100, PEER, true);
      pn++;
      now += 200;
    };
    for (let i = 0; i < 4; i++) ackOne(); // 4800 of 6000 bytes
    expect(r.congestionWindow).toBe(6000);
    ackOne();
    expect(r.congestionWindow).toBe(6000 + MDS);
  });

  it('B.7: an increased ECN-CE count is a congestion event', () => {
    const r = server();
    r.onPacketSent(pkt('application', 0, 0));
    r.onAck('application', { ...ack([[0, 0]]), ecn: { ect0: 1, ect1: 0, ce: 0 } }, 100, PEER, true);
    expect(r.congestionWindow).toBe(12000 + MDS);
    r.onPacketSent(pkt('application', 1, 100));
    r.onAck('application', { ...ack([[1, 0]]), ecn: { ect0: 1, ect1: 0, ce: 1 } }, 200, PEER, true);
    expect(r.congestionWindow).toBe(6600);
  });
});

describe('§7.6: persistent congestion', () => {
  /**
   * The §7.6.3 example, one unit = 1 s, shifted by 1 s: packet 0 first gives
   * an RTT sample of 600 ms, and the ACK of #1 (1200 ms after it was sent,
   * 600 ms of it ack delay) keeps smoothed_rtt at 600 with rttvar 225, so
   * smoothed_rtt + 4·rttvar + max_ack_delay = 600 + 900 + 500 = 2 units.
   */
  function example(extra?: (r: Recovery) => void): Recovery {
    const peer = { ackDelayExponent: 3, maxAckDelay: 500 };
    const r = server();
    r.onPacketSent(pkt('application', 0, 0));
    r.onAck('application', ack([[0, 0]]), 600, peer, false);
    r.onPacketSent(pkt('application', 1, 1000));
    r.onPacketSent(pkt('application', 2, 2000));
    r.onAck('application', ack([[1, 0]], 600), 2200, peer, false);
    expect(r.rtt).toMatchObject({ smoothed: 600, rttvar: 225 });
    for (let pn = 3; pn <= 7; pn++) r.onPacketSent(pkt('application', pn, (pn - 1) * 1000 + 1000));
    extra?.(r);
    r.onPacketSent(pkt('application', 8, 9000)); // PTO 1
    r.onPacketSent(pkt('application', 9, 13000)); // PTO 2
    const { lost } = r.onAck('application', ack([[9, 9]]), 13200, peer, false);
    expect(pns(lost)).toEqual([2, 3, 4, 5, 6, 7, 8]);
    return r;
  }

  it('§7.6.3: packets 2–8 lost over 7 units, more than 3 × 2, collapse the window to kMinimumWindow', () => {
    // The ACK's RTT sample (200 ms) moves the duration to 3 · 2.125 units, still under 7. The recovery period ends
    // with persistent congestion, so the acknowledged #9 then grows the minimum window in slow start (B.8 then B.5).
    const r = example();
    expect(r.ssthresh).toBe(7200);
    expect(r.congestionWindow).toBe(2 * MDS + MDS);
  });

  it('§7.6.2: an acknowledgment of a packet sent in between, even in another space, breaks the period', () => {
    const r = example((rec) => {
      rec.onPacketSent(pkt('handshake', 0, 5500));
      rec.onAck('handshake', ack([[0, 0]]), 5700, { ackDelayExponent: 3, maxAckDelay: 500 }, false);
    });
    // An ordinary congestion event: halved, and #9, sent before it, does not grow the window.
    expect(r.congestionWindow).toBe(r.ssthresh);
    expect(r.ssthresh).toBe((12000 + 3 * MDS) / 2);
  });

  it('§7.6.2: losses spanning less than the persistent congestion duration are an ordinary congestion event', () => {
    const r = server();
    r.onPacketSent(pkt('application', 0, 0));
    r.onAck('application', ack([[0, 0]]), 100, PEER, true);
    // Duration = (100 + 200 + 25) · 3 = 975 ms; these span 900.
    for (let pn = 1; pn <= 4; pn++) r.onPacketSent(pkt('application', pn, 100 + (pn - 1) * 300));
    r.onPacketSent(pkt('application', 5, 2000));
    r.onAck('application', ack([[5, 5]]), 2100, PEER, true);
    expect(r.congestionWindow).toBe((12000 + MDS) / 2);
  });

  it('§7.6.2: packets sent before the first RTT sample do not establish persistent congestion', () => {
    const r = server();
    for (let pn = 0; pn <= 6; pn++) r.onPacketSent(pkt('application', pn, pn * 1000));
    r.onPacketSent(pkt('application', 7, 7000, { ackEliciting: false, inFlight: false, size: 40 }));
    const { lost } = r.onAck('application', ack([[7, 7]]), 7100, PEER, true);
    expect(pns(lost)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(r.rtt.latest).toBe(0);
    expect(r.congestionWindow).toBe(6000);
  });
});

describe('properties', () => {
  const space = fc.constantFrom<Space>('initial', 'handshake', 'application');
  const op = fc.oneof(
    { weight: 5, arbitrary: fc.record({ kind: fc.constant('send' as const), space, eliciting: fc.boolean(), padded: fc.boolean(), size: fc.integer({ min: 20, max: MDS }), dt: fc.nat(50) }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('ack' as const), space, picks: fc.array(fc.nat(), { minLength: 1, maxLength: 8 }), delay: fc.nat(2000), dt: fc.nat(300) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('timeout' as const), dt: fc.nat(3000) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('discard' as const), space: fc.constantFrom<Space>('initial', 'handshake'), dt: fc.constant(0) }) },
  );

  /** Inclusive ranges, highest first, of the given packet numbers. */
  function rangesFrom(numbers: Iterable<number>): AckRange[] {
    const sorted = [...new Set(numbers)].sort((a, b) => b - a);
    const ranges: { smallest: number; largest: number }[] = [];
    for (const n of sorted) {
      const last = ranges[ranges.length - 1];
      if (last && last.smallest === n + 1) last.smallest = n;
      else ranges.push({ smallest: n, largest: n });
    }
    return ranges;
  }

  it('bytes_in_flight equals the in-flight packets outstanding, and every packet ends acked, lost or discarded exactly once', () => {
    fc.assert(fc.property(fc.array(op, { maxLength: 80 }), fc.boolean(), fc.boolean(), (ops, isClient, confirmed) => {
      const r = new Recovery({ maxDatagramSize: MDS, isClient });
      const state = { handshakeConfirmed: confirmed, peerAddressValidated: !isClient, hasHandshakeKeys: true };
      const outstanding = new Map<string, SentPacket>();
      const resolved = new Set<string>();
      const nextPn: Record<Space, number> = { initial: 0, handshake: 0, application: 0 };
      const discarded = new Set<Space>();
      let now = 0;
      const key = (p: SentPacket): string => `${p.space}/${p.pn}`;
      const resolve = (ps: readonly SentPacket[]): void => {
        for (const p of ps) {
          expect(outstanding.has(key(p))).toBe(true);
          expect(resolved.has(key(p))).toBe(false);
          outstanding.delete(key(p));
          resolved.add(key(p));
        }
      };
      const check = (): void => {
        let sum = 0;
        for (const p of outstanding.values()) if (p.inFlight) sum += p.size;
        expect(r.bytesInFlight).toBe(sum);
        expect(r.congestionWindow).toBeGreaterThanOrEqual(2 * MDS);
      };
      const ackAll = (s: Space, ranges: AckRange[], delay: number): void => {
        if (ranges.length === 0) return;
        const { acked, lost } = r.onAck(s, { type: 'ack', ackDelay: delay, ranges }, now, PEER, confirmed);
        resolve(acked);
        resolve(lost);
      };
      for (const o of ops) {
        now += o.dt;
        if (o.kind === 'send') {
          if (discarded.has(o.space)) continue;
          const p = pkt(o.space, nextPn[o.space]++, now, { ackEliciting: o.eliciting, inFlight: o.eliciting || o.padded, size: o.size });
          r.onPacketSent(p);
          outstanding.set(key(p), p);
        } else if (o.kind === 'ack') {
          const sent = nextPn[o.space];
          if (sent === 0) continue;
          ackAll(o.space, rangesFrom(o.picks.map((x) => x % sent)), o.delay);
        } else if (o.kind === 'timeout') {
          const due = r.timeout(now, state);
          if (due !== undefined) {
            now = Math.max(now, due);
            const { lost, probe } = r.onTimeout(now, state);
            resolve(lost);
            if (probe) expect([1, 2]).toContain(probe.count);
          }
        } else {
          discarded.add(o.space);
          const dropped = r.discardSpace(o.space);
          expect(dropped.every((p) => p.space === o.space)).toBe(true);
          resolve(dropped);
        }
        check();
      }
      // Finally every packet still outstanding is acknowledged.
      now += 10;
      for (const s of ['initial', 'handshake', 'application'] as const) {
        const sent = nextPn[s];
        if (sent > 0 && !discarded.has(s)) ackAll(s, [{ smallest: 0, largest: sent - 1 }], 0);
      }
      check();
      expect(outstanding.size).toBe(0);
      expect(resolved.size).toBe(nextPn.initial + nextPn.handshake + nextPn.application);
      expect(r.bytesInFlight).toBe(0);
    }), seeded(84613, { numRuns: 300 }));
  });

  it('§6.2.1: without acknowledgments, each PTO deadline is later than the last and the backoff doubles', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 8 }), (packets, ptos) => {
      const r = server();
      for (let pn = 0; pn < packets; pn++) r.onPacketSent(pkt('handshake', pn, pn));
      let last = -Infinity;
      for (let i = 0; i < ptos; i++) {
        const due = r.timeout(0, SERVER);
        expect(due).toBeDefined();
        expect(due as number).toBeGreaterThan(last);
        expect(due).toBe(packets - 1 + 999 * 2 ** i);
        last = due as number;
        expect(r.onTimeout(last, SERVER).probe?.space).toBe('handshake');
      }
    }), seeded(62400, { numRuns: 50 }));
  });
});

describe('RFC 9000 §9.4: a new path', () => {
  it('resetPath() restarts congestion control from the factory and the RTT from kInitialRtt', () => {
    const r = server();
    r.onPacketSent(pkt('application', 0, 0));
    r.onAck('application', ack([[0, 0]]), 50, PEER, true);
    expect(r.congestionWindow).toBe(12000 + MDS);
    r.resetPath(100, 1452);
    expect(r.congestionWindow).toBe(14520);
    expect(r.rtt.smoothed).toBe(333);
  });
});
