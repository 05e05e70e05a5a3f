import { ConfigError } from '../../errors.js';
import { QuicTransportError, TransportErrorCode } from '../errors.js';
import { FrameType, type Frame } from '../frames/types.js';
import type { CongestionController, CongestionControllerFactory } from './congestion/controller.js';
import { cubic } from './congestion/cubic.js';
import { K_GRANULARITY, K_INITIAL_RTT, RttEstimator, type RttSnapshot } from './rtt.js';

/** kPacketThreshold (RFC 9002 §6.1.1). */
export const K_PACKET_THRESHOLD = 3;

/** kTimeThreshold, a multiple of the RTT (RFC 9002 §6.1.2). */
export const K_TIME_THRESHOLD = 9 / 8;

/** kPersistentCongestionThreshold, a multiple of the PTO period (RFC 9002 §7.6.1). */
export const K_PERSISTENT_CONGESTION_THRESHOLD = 3;

/** A packet number space (RFC 9000 §12.3). */
export type Space = 'initial' | 'handshake' | 'application';

const SPACES: readonly Space[] = ['initial', 'handshake', 'application'];

/** max_ack_delay assumed until the peer's transport parameters say otherwise (RFC 9000 §18.2 default). */
const DEFAULT_MAX_ACK_DELAY = 25;

/** A packet we sent, as loss detection tracks it (RFC 9002 Appendix A.1.1). Times in ms, size in bytes. */
export interface SentPacket {
  readonly pn: number;
  readonly space: Space;
  readonly timeSent: number;
  /** Bytes of the QUIC packet, headers and AEAD tag included, UDP/IP excluded. */
  readonly size: number;
  readonly ackEliciting: boolean;
  /** Counts toward bytes_in_flight: ack-eliciting or carrying PADDING (RFC 9002 §2). */
  readonly inFlight: boolean;
  /** The frames, so the caller can act on their acknowledgment or loss (RFC 9000 §13.3). */
  readonly frames: readonly Frame[];
  /**
   * A DPLPMTUD probe (RFC 9000 §14.4): its loss says the path may not carry
   * its size, not that the path is congested, so it is no congestion signal.
   */
  readonly mtuProbe?: boolean;
}

/** The peer's acknowledgment parameters, from its transport parameters (RFC 9000 §18.2). */
export interface PeerAckParams {
  readonly ackDelayExponent: number;
  /** Milliseconds. */
  readonly maxAckDelay: number;
}

/** Connection state that decides how the loss detection timer is armed (RFC 9002 §6.2.1, §6.2.2.1). */
export interface RecoveryTimerState {
  /** RFC 9001 §4.1.2. Until then no PTO is armed for Application Data. */
  readonly handshakeConfirmed: boolean;
  /**
   * The peer has validated our address (Appendix A.8 PeerCompletedAddressValidation).
   * ORed with what recovery knows itself: a server always has, a client has
   * once a Handshake ACK arrived or the handshake is confirmed.
   */
  readonly peerAddressValidated: boolean;
  readonly hasHandshakeKeys: boolean;
  /**
   * A server blocked by the anti-amplification limit (RFC 9000 §8.1): no PTO is
   * armed until more datagrams arrive, since a probe could not be sent
   * (§6.2.2.1). Call {@link Recovery.timeout} again once a datagram unblocks it.
   */
  readonly amplificationLimited?: boolean;
  /**
   * The peer's max_ack_delay (ms) once its transport parameters are known: the
   * Application Data PTO includes it from then on, not only from the next ACK.
   */
  readonly peerMaxAckDelay?: number;
}

/** A PTO's request: send `count` ack-eliciting probe packets in `space` (RFC 9002 §6.2.4). */
export interface ProbeRequest {
  readonly space: Space;
  readonly count: 1 | 2;
}

/**
 * Packets not in flight (ACK-only) remembered per space. Their loss changes
 * nothing and their acknowledgment only lets the ACK tracker forget ranges
 * sooner, so the newest few suffice; a peer that never acknowledges would
 * otherwise grow the map by one per ACK we send (Appendix A.1 leaves the choice).
 */
export const MAX_TRACKED_NOT_IN_FLIGHT = 64;

/** Loss detection state of one packet number space (Appendix A.3). */
class SpaceRecovery {
  /** Outstanding packets; a Map keeps insertion order, which is packet-number order. */
  readonly sent = new Map<number, SentPacket>();
  /** Packet numbers of the not-in-flight packets recorded, oldest first (some may be gone from `sent` already). */
  notInFlight: number[] = [];
  largestSent = -1;
  largestAcked: number | undefined;
  timeOfLastAckEliciting: number | undefined;
  lossTime: number | undefined;
  ackElicitingInFlight = 0;
  ecnCe = 0;

  remove(p: SentPacket): void {
    this.sent.delete(p.pn);
    if (p.ackEliciting && p.inFlight) this.ackElicitingInFlight--;
  }
}

/**
 * Loss detection and congestion control for one connection (RFC 9002 §5–7),
 * following the pseudocode of Appendices A and B. Sans-IO: every time is
 * passed in, in milliseconds, and the caller owns the single timer, asking
 * {@link timeout} when it is due and calling {@link onTimeout} when it fires.
 *
 * Persistent congestion (§7.6.2) is judged across all packet number spaces:
 * the send times of acknowledged packets are kept while any older packet is
 * still outstanding, so that a run of lost packets is broken by any
 * acknowledgment in between, whatever its space.
 */
export class Recovery {
  private readonly isClient: boolean;
  private rttEstimator: RttEstimator;
  private readonly ccFactory: CongestionControllerFactory;
  private readonly initialRtt: number;
  private cc: CongestionController;
  private inFlightBytes = 0;
  /** The sender left the window unused when it last could send (RFC 9002 §7.8); set by the connection. */
  appLimited = false;
  private readonly spaces: Record<Space, SpaceRecovery> = {
    initial: new SpaceRecovery(), handshake: new SpaceRecovery(), application: new SpaceRecovery(),
  };
  private ptoCountValue = 0;
  /** When the timer was last re-armed by an event: the anti-deadlock PTO counts from here (Appendix A.8 "now()"). */
  private armedAt: number | undefined;
  private handshakeAckReceived = false;
  private peerMaxAckDelay = DEFAULT_MAX_ACK_DELAY;
  /** Send times of acknowledged packets, ascending, for persistent congestion; pruned as packets resolve. */
  private ackedSendTimes: number[] = [];
  /**
   * Per space, the first packet number sent on the current path: those below
   * went out on a path left by {@link resetPath} and must not feed the new
   * path's congestion controller or RTT estimate (RFC 9000 §9.4).
   */
  private readonly pathStart: Record<Space, number> = { initial: 0, handshake: 0, application: 0 };

  /**
   * `initialRtt` is the estimate of every path before its first sample (kInitialRtt by default);
   * `previousRtt`, the first path's alone: what a previous connection over the same network measured (§6.2.2).
   */
  constructor(opts: { maxDatagramSize: number; initialRtt?: number; previousRtt?: number; isClient: boolean; congestionController?: CongestionControllerFactory; now?: number }) {
    const initialRtt = opts.initialRtt ?? K_INITIAL_RTT;
    const firstRtt = opts.previousRtt ?? initialRtt;
    for (const rtt of [initialRtt, firstRtt]) if (!(rtt > 0) || !Number.isFinite(rtt)) throw new ConfigError('an initial RTT must be a positive number of milliseconds');
    this.isClient = opts.isClient;
    this.initialRtt = initialRtt;
    this.rttEstimator = new RttEstimator(firstRtt);
    this.ccFactory = opts.congestionController ?? cubic;
    this.cc = this.ccFactory({ now: opts.now ?? 0, maxDatagramSize: opts.maxDatagramSize });
  }

  /** The congestion controller in use. */
  get controller(): CongestionController {
    return this.cc;
  }

  /** Replaces the congestion controller (a copy kept across a port-only change, RFC 9000 §9.4). Bytes in flight stay counted. */
  set controller(cc: CongestionController) {
    this.cc = cc;
  }

  /**
   * A new path (RFC 9000 §9.4): the congestion controller starts over from the
   * factory at `maxDatagramSize`, and the RTT estimate from kInitialRtt.
   */
  resetPath(now: number, maxDatagramSize: number): void {
    this.cc = this.ccFactory({ now, maxDatagramSize });
    this.rttEstimator = new RttEstimator(this.initialRtt);
    this.ptoCountValue = 0;
    // §9.4: packets still outstanding were sent on the old path. Loss recovery keeps them (their frames are
    // still acknowledged or resent), but their bytes leave the new path's bytes in flight, and their
    // acknowledgment or loss is no sample and no congestion signal for it.
    for (const space of SPACES) {
      const s = this.spaces[space];
      this.pathStart[space] = s.largestSent + 1;
      for (const p of s.sent.values()) if (p.inFlight) this.inFlightBytes -= p.size;
    }
  }

  /** Whether `p` was sent on the current path, i.e. after the last {@link resetPath} (RFC 9000 §9.4). */
  sentOnCurrentPath(p: SentPacket): boolean {
    return p.pn >= this.pathStart[p.space];
  }

  get rtt(): RttSnapshot {
    return this.rttEstimator.snapshot();
  }

  /** smoothed_rtt (ms) without a snapshot: read for every packet built (pacing, receive-window tuning). */
  get smoothedRtt(): number {
    return this.rttEstimator.smoothed;
  }

  get congestionWindow(): number {
    return this.cc.window;
  }

  get bytesInFlight(): number {
    return this.inFlightBytes;
  }

  /** Slow start threshold; Infinity until the first congestion event. */
  get ssthresh(): number {
    return this.cc.ssthresh;
  }

  /** Consecutive PTOs without an acknowledgment: the exponent of the PTO backoff (§6.2.1). */
  get ptoCount(): number {
    return this.ptoCountValue;
  }

  /** Packets of `space` recorded and not yet acknowledged, declared lost or forgotten. */
  trackedPackets(space: Space): number {
    return this.spaces[space].sent.size;
  }

  /** The outstanding packets of `space`, oldest first (what a PTO probe may retransmit, RFC 9002 §6.2.4). */
  outstanding(space: Space): IterableIterator<SentPacket> {
    return this.spaces[space].sent.values();
  }

  /** True if `bytes` more fit in the congestion window (probe packets on PTO may ignore it, §7.5). */
  canSend(bytes: number): boolean {
    return this.inFlightBytes + bytes <= this.cc.window;
  }

  /**
   * Records a packet just sent (Appendix A.5). Packet numbers must increase
   * within a space; the PTO timer restarts with each ack-eliciting packet.
   */
  onPacketSent(p: SentPacket): void {
    const s = this.spaces[p.space];
    if (!Number.isSafeInteger(p.pn) || p.pn <= s.largestSent) {
      throw new ConfigError(`packet number ${p.pn} in ${p.space} does not increase`);
    }
    // RFC 9002 §2: an ack-eliciting packet is always in flight.
    if (p.ackEliciting && !p.inFlight) throw new ConfigError('an ack-eliciting packet must count as in flight');
    s.largestSent = p.pn;
    s.sent.set(p.pn, p);
    if (!p.inFlight) {
      s.notInFlight.push(p.pn);
      if (s.notInFlight.length > MAX_TRACKED_NOT_IN_FLIGHT) s.sent.delete(s.notInFlight.shift() as number);
      return;
    }
    if (p.ackEliciting) {
      s.timeOfLastAckEliciting = p.timeSent;
      s.ackElicitingInFlight++;
    }
    this.inFlightBytes += p.size;
    this.cc.onSent(p.timeSent, p.size);
    this.armedAt = p.timeSent;
  }

  /**
   * Processes an ACK frame received in `space` (Appendix A.7): returns the
   * packets it newly acknowledges and those it shows to be lost (§6.1),
   * updates the RTT estimate (§5) and the congestion controller (§7).
   *
   * @throws QuicTransportError PROTOCOL_VIOLATION for an acknowledgment of a packet never sent (RFC 9000 §13.1).
   */
  onAck(
    space: Space,
    ack: Extract<Frame, { type: 'ack' }>,
    now: number,
    peer: PeerAckParams,
    handshakeConfirmed: boolean,
  ): { acked: SentPacket[]; lost: SentPacket[] } {
    const s = this.spaces[space];
    const largest = ack.ranges[0]?.largest;
    if (largest === undefined) return { acked: [], lost: [] };
    if (largest > s.largestSent) {
      throw new QuicTransportError(
        TransportErrorCode.PROTOCOL_VIOLATION,
        `ACK of ${space} packet ${largest}, but the largest sent is ${s.largestSent}`,
        { frameType: ack.ecn ? FrameType.ACK_ECN : FrameType.ACK },
      );
    }
    this.peerMaxAckDelay = peer.maxAckDelay;
    if (space === 'handshake') this.handshakeAckReceived = true;
    s.largestAcked = Math.max(s.largestAcked ?? largest, largest);

    const acked = this.detectAndRemoveAcked(s, ack.ranges);
    const newest = acked[acked.length - 1];
    if (newest === undefined) return { acked: [], lost: [] };

    // §5.1: an RTT sample needs the largest acknowledged to be newly acknowledged and ack-eliciting packets among them;
    // RFC 9000 §9.4: and sent on this path.
    if (newest.pn === largest && this.sentOnCurrentPath(newest) && acked.some((p) => p.ackEliciting)) {
      // §5.3: Initial ACKs are never delayed on purpose, so their ACK Delay is ignored.
      const ackDelay = space === 'initial' ? 0 : (ack.ackDelay * 2 ** peer.ackDelayExponent) / 1000;
      this.rttEstimator.update(now - newest.timeSent, ackDelay, peer.maxAckDelay, handshakeConfirmed, now);
    }
    // Appendix B.7: a higher ECN-CE count is a congestion signal for the largest acknowledged packet.
    if (ack.ecn && ack.ecn.ce > s.ecnCe) {
      s.ecnCe = ack.ecn.ce;
      if (this.sentOnCurrentPath(newest)) this.cc.onCongestionEvent(now, newest.timeSent, false, 0);
    }
    this.rememberAcked(acked);

    const lost = this.detectAndRemoveLost(s, now);
    if (lost.length > 0) this.onPacketsLost(lost, now);
    const rtt = this.rttEstimator.snapshot();
    for (const p of acked) {
      if (!p.inFlight || !this.sentOnCurrentPath(p)) continue;
      this.inFlightBytes -= p.size;
      this.cc.onAck(now, p.timeSent, p.size, this.appLimited, rtt);
    }

    // §6.2.1: the backoff survives at a client not yet sure the server validated its address.
    if (this.peerCompletedAddressValidation(handshakeConfirmed, false)) this.ptoCountValue = 0;
    this.armedAt = now;
    this.pruneAckedSendTimes();
    return { acked, lost };
  }

  /**
   * When the loss detection timer is due (Appendix A.8), or undefined when
   * it is not armed: the earliest time-threshold loss time if any, else the
   * PTO. A server at its anti-amplification limit arms no PTO (§6.2.2.1); a
   * client that has nothing in flight keeps a PTO armed until the server has
   * validated its address (anti-deadlock), counted from the last send, ACK or
   * timeout — or from `now` if there was none.
   */
  timeout(now: number, state: RecoveryTimerState): number | undefined {
    const loss = this.earliestLossTime();
    if (loss) return loss.time;
    if (state.amplificationLimited) return undefined;
    if (this.noAckElicitingInFlight() && this.peerCompletedAddressValidation(state.handshakeConfirmed, state.peerAddressValidated)) {
      return undefined;
    }
    return this.ptoTimeAndSpace(now, state)?.time;
  }

  /**
   * The timer fired (Appendix A.9). Either time-threshold losses are returned,
   * or a probe is requested: 2 ack-eliciting packets in the PTO's space (§6.2.4
   * allows up to two, which survives a single lost datagram), or 1 for the
   * client's anti-deadlock probe — a Handshake packet if it has Handshake keys,
   * else an Initial padded to 1200 bytes (§6.2.2.1). The PTO backoff doubles.
   * A call before the timer is due changes nothing.
   */
  onTimeout(now: number, state: RecoveryTimerState): { lost: SentPacket[]; probe?: ProbeRequest } {
    const due = this.timeout(now, state);
    if (due === undefined || now < due) return { lost: [] };
    const loss = this.earliestLossTime();
    if (loss) {
      const lost = this.detectAndRemoveLost(this.spaces[loss.space], now);
      if (lost.length > 0) this.onPacketsLost(lost, now);
      this.armedAt = now;
      this.pruneAckedSendTimes();
      return { lost };
    }
    let probe: ProbeRequest;
    if (this.noAckElicitingInFlight()) {
      probe = { space: state.hasHandshakeKeys ? 'handshake' : 'initial', count: 1 };
    } else {
      const pto = this.ptoTimeAndSpace(now, state);
      if (!pto) return { lost: [] };
      probe = { space: pto.space, count: 2 };
    }
    this.ptoCountValue++;
    this.armedAt = now;
    return { lost: [], probe };
  }

  /**
   * The keys of `space` were discarded (Appendix A.11, B.9): its packets can
   * no longer be acknowledged, so they leave bytes_in_flight, and the timers
   * restart. Returns the packets that were outstanding.
   */
  discardSpace(space: Space): SentPacket[] {
    const s = this.spaces[space];
    const dropped = [...s.sent.values()];
    for (const p of dropped) if (p.inFlight && this.sentOnCurrentPath(p)) this.inFlightBytes -= p.size;
    s.sent.clear();
    s.notInFlight = [];
    s.ackElicitingInFlight = 0;
    s.timeOfLastAckEliciting = undefined;
    s.lossTime = undefined;
    this.ptoCountValue = 0;
    this.pruneAckedSendTimes();
    return dropped;
  }

  /** Removes and returns, ascending, the outstanding packets that `ranges` acknowledge. */
  private detectAndRemoveAcked(s: SpaceRecovery, ranges: readonly { smallest: number; largest: number }[]): SentPacket[] {
    const acked: SentPacket[] = [];
    // Ranges are highest first; walk them lowest first alongside the ascending packets.
    let r = ranges.length - 1;
    for (const p of s.sent.values()) {
      while (r >= 0 && (ranges[r] as { largest: number }).largest < p.pn) r--;
      const range = ranges[r];
      if (range === undefined) break;
      if (p.pn >= range.smallest) acked.push(p);
    }
    for (const p of acked) s.remove(p);
    return acked;
  }

  /** Appendix A.10 DetectAndRemoveLostPackets, both thresholds of §6.1. */
  private detectAndRemoveLost(s: SpaceRecovery, now: number): SentPacket[] {
    s.lossTime = undefined;
    const largestAcked = s.largestAcked;
    if (largestAcked === undefined) return [];
    const rtt = this.rttEstimator;
    const lossDelay = Math.max(K_TIME_THRESHOLD * Math.max(rtt.latest, rtt.smoothed), K_GRANULARITY);
    const lostSendTime = now - lossDelay;
    const lost: SentPacket[] = [];
    for (const p of s.sent.values()) {
      if (p.pn > largestAcked) break;
      if (p.timeSent <= lostSendTime || largestAcked >= p.pn + K_PACKET_THRESHOLD) {
        lost.push(p);
      } else {
        s.lossTime = Math.min(s.lossTime ?? Infinity, p.timeSent + lossDelay);
      }
    }
    for (const p of lost) s.remove(p);
    return lost;
  }

  /**
   * Appendix B.8 OnPacketsLost, with the persistent congestion check of §7.6.2.
   * Lost DPLPMTUD probes leave bytes_in_flight and signal nothing (RFC 9000 §14.4).
   */
  private onPacketsLost(lost: readonly SentPacket[], now: number): void {
    let lastLoss: number | undefined;
    let lostBytes = 0;
    for (const p of lost) {
      if (!p.inFlight || !this.sentOnCurrentPath(p)) continue;
      this.inFlightBytes -= p.size;
      if (p.mtuProbe) continue;
      lostBytes += p.size;
      lastLoss = Math.max(lastLoss ?? p.timeSent, p.timeSent);
    }
    if (lastLoss === undefined) return;
    const firstSample = this.rttEstimator.firstSampleTime;
    // Only packets sent after the first RTT sample count (§7.6.2).
    const candidates = firstSample === undefined ? []
      : lost.filter((p) => p.timeSent > firstSample && !p.mtuProbe && this.sentOnCurrentPath(p)).sort((a, b) => a.timeSent - b.timeSent);
    this.cc.onCongestionEvent(now, lastLoss, this.inPersistentCongestion(candidates), lostBytes);
  }

  /**
   * §7.6.2: two ack-eliciting lost packets further apart than the persistent
   * congestion duration, with no acknowledged packet (of any space) sent
   * between them. `lost` is sorted by send time.
   */
  private inPersistentCongestion(lost: readonly SentPacket[]): boolean {
    const duration = (this.rttEstimator.ptoBase + this.peerMaxAckDelay) * K_PERSISTENT_CONGESTION_THRESHOLD;
    let start: SentPacket | undefined;
    let prev: SentPacket | undefined;
    for (const p of lost) {
      if (prev && this.ackedSentBetween(prev.timeSent, p.timeSent)) start = undefined;
      prev = p;
      if (!p.ackEliciting) continue;
      start ??= p;
      if (p.timeSent - start.timeSent > duration) return true;
    }
    return false;
  }

  /** True if an acknowledged packet was sent strictly between `from` and `to`. */
  private ackedSentBetween(from: number, to: number): boolean {
    const times = this.ackedSendTimes;
    let lo = 0;
    let hi = times.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((times[mid] as number) <= from) lo = mid + 1;
      else hi = mid;
    }
    const next = times[lo];
    return next !== undefined && next < to;
  }

  private rememberAcked(acked: readonly SentPacket[]): void {
    const times = this.ackedSendTimes;
    const last = times[times.length - 1];
    for (const p of acked) times.push(p.timeSent);
    if (last !== undefined && (acked[0]?.timeSent ?? Infinity) < last) times.sort((a, b) => a - b);
  }

  /** Forgets acknowledged send times older than every outstanding packet: no future loss can straddle them. */
  private pruneAckedSendTimes(): void {
    let oldest = Infinity;
    for (const name of SPACES) {
      const first = this.spaces[name].sent.values().next();
      if (!first.done) oldest = Math.min(oldest, first.value.timeSent);
    }
    const times = this.ackedSendTimes;
    let drop = 0;
    while (drop < times.length && (times[drop] as number) < oldest) drop++;
    if (drop > 0) this.ackedSendTimes = times.slice(drop);
  }

  /** Appendix A.8 GetLossTimeAndSpace: the earliest loss time, if any space has one. */
  private earliestLossTime(): { time: number; space: Space } | undefined {
    let best: { time: number; space: Space } | undefined;
    for (const space of SPACES) {
      const t = this.spaces[space].lossTime;
      if (t !== undefined && (best === undefined || t < best.time)) best = { time: t, space };
    }
    return best;
  }

  /** Appendix A.8 GetPtoTimeAndSpace; undefined where the pseudocode returns infinite. */
  private ptoTimeAndSpace(now: number, state: RecoveryTimerState): { time: number; space: Space } | undefined {
    const backoff = 2 ** this.ptoCountValue;
    let duration = this.rttEstimator.ptoBase * backoff;
    if (this.noAckElicitingInFlight()) {
      // Anti-deadlock PTO: nothing to time, so it counts from the last time the timer was armed.
      return { time: (this.armedAt ?? now) + duration, space: state.hasHandshakeKeys ? 'handshake' : 'initial' };
    }
    let best: { time: number; space: Space } | undefined;
    for (const space of SPACES) {
      const s = this.spaces[space];
      if (s.ackElicitingInFlight === 0 || s.timeOfLastAckEliciting === undefined) continue;
      if (space === 'application') {
        // §6.2.1: no Application Data PTO before the handshake is confirmed.
        if (!state.handshakeConfirmed) return best;
        duration += (state.peerMaxAckDelay ?? this.peerMaxAckDelay) * backoff;
      }
      const t = s.timeOfLastAckEliciting + duration;
      if (best === undefined || t < best.time) best = { time: t, space };
    }
    return best;
  }

  private noAckElicitingInFlight(): boolean {
    return SPACES.every((space) => this.spaces[space].ackElicitingInFlight === 0);
  }

  /** Appendix A.8 PeerCompletedAddressValidation. */
  private peerCompletedAddressValidation(handshakeConfirmed: boolean, knownValidated: boolean): boolean {
    return !this.isClient || knownValidated || this.handshakeAckReceived || handshakeConfirmed;
  }
}
