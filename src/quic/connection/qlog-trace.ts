import { toHex } from '../../bytes.js';
import type { Frame } from '../frames/types.js';
import { qlogFrame, qlogPacketType, qlogParameters, qlogVersion, type QlogData, type QlogSink } from '../qlog.js';
import type { TransportParameters } from '../transport-parameters.js';
import type { RttSnapshot } from './rtt.js';
import type { SentPacket } from './recovery.js';
import type { SpaceName } from './space.js';

/** qlog's ConnectionState values (quic-events draft, connectivity:connection_state_updated). */
export type QlogConnectionState = 'attempted' | 'handshake_started' | 'handshake_complete' | 'handshake_confirmed' | 'closing' | 'draining' | 'closed';

const STATE_ORDER: readonly QlogConnectionState[] = ['attempted', 'handshake_started', 'handshake_complete', 'handshake_confirmed', 'closing', 'draining', 'closed'];

/** What recovery:metrics_updated reports; a member is logged when it changed since the last event. */
export interface QlogMetrics {
  readonly rtt: RttSnapshot;
  readonly congestionWindow: number;
  readonly bytesInFlight: number;
  readonly ssthresh: number;
  readonly ptoCount: number;
}

/** How a connection ended, as the `closed` QuicEvent reports it. */
export interface QlogCloseReport {
  readonly local: boolean;
  readonly code: number;
  readonly application: boolean;
  readonly reason: string;
}

export interface QlogPacketHeader {
  readonly type: SpaceName | 'initial' | 'handshake' | '0rtt' | '1rtt' | 'retry';
  readonly packetNumber?: number;
  readonly dcid?: Uint8Array;
  readonly scid?: Uint8Array;
}

/**
 * The qlog side of one {@link QuicConnection}: turns what the connection
 * does into quic-events records for its {@link QlogSink}. Kept apart so the
 * connection carries one call per event site, and so the bookkeeping that
 * qlog wants (changed metrics only, state transitions once) lives here.
 */
export class QlogTrace {
  private state: QlogConnectionState | undefined;
  private lastMetrics: Record<string, number> = {};
  /**
   * The latest `now` the connection was called with: events raised deep inside
   * a step (a secret installed while a CRYPTO frame is read, a packet declared
   * lost) carry the time of the call that caused them.
   */
  private time: number;

  constructor(private readonly sink: QlogSink, private readonly role: 'client' | 'server', odcid: Uint8Array, now: number) {
    this.time = now;
    sink.start?.({ vantagePoint: role, referenceTime: now, odcid: odcid.slice() });
  }

  /** Sets the time of events that are not given one. */
  tick(now: number): void {
    this.time = now;
  }

  private emit(now: number | undefined, name: string, data: QlogData): void {
    if (now !== undefined) this.time = now;
    this.sink.event(this.time, name, data);
  }

  /** connectivity:connection_started, transport:version_information and our transport:parameters_set. */
  started(now: number, o: { localCid: Uint8Array; remoteCid: Uint8Array; version: number; versions: readonly number[]; params: TransportParameters }): void {
    this.emit(now, 'connectivity:connection_started', {
      protocol: 'QUIC', src_cid: toHex(o.localCid), dst_cid: toHex(o.remoteCid),
    });
    this.setState(now, 'attempted');
    this.emit(now, 'transport:version_information', {
      [this.role === 'client' ? 'client_versions' : 'server_versions']: o.versions.map(qlogVersion),
      chosen_version: qlogVersion(o.version),
    });
    this.emit(now, 'transport:parameters_set', qlogParameters('local', o.params));
  }

  remoteParameters(now: number | undefined, p: TransportParameters, alpn: string | undefined, ourAlpns: readonly string[] | undefined): void {
    this.emit(now, 'transport:parameters_set', qlogParameters('remote', p));
    this.emit(now, 'transport:alpn_information', {
      [this.role === 'client' ? 'client_alpns' : 'server_alpns']: ourAlpns ? [...ourAlpns] : undefined,
      chosen_alpn: alpn,
    });
  }

  packetSent(now: number, h: QlogPacketHeader, frames: readonly Frame[], length: number, ackDelayExponent: number): void {
    this.emit(now, 'transport:packet_sent', {
      header: header(h), raw: { length }, frames: frames.map((f) => qlogFrame(f, ackDelayExponent)),
    });
  }

  packetReceived(now: number | undefined, h: QlogPacketHeader, frames: readonly Frame[], length: number, ackDelayExponent: number): void {
    this.emit(now, 'transport:packet_received', {
      header: header(h), raw: { length }, frames: frames.map((f) => qlogFrame(f, ackDelayExponent)),
    });
  }

  /** transport:packet_dropped; `trigger` is one of the draft's PacketDroppedTrigger values. */
  packetDropped(now: number, h: QlogPacketHeader | undefined, length: number, trigger: 'invalid' | 'key_unavailable' | 'decryption_failure' | 'duplicate' | 'rejected' | 'unsupported'): void {
    this.emit(now, 'transport:packet_dropped', { header: h ? header(h) : undefined, raw: { length }, trigger });
  }

  /** transport:packet_buffered: held until its keys are available. */
  packetBuffered(now: number, h: QlogPacketHeader, length: number): void {
    this.emit(now, 'transport:packet_buffered', { header: header(h), raw: { length }, trigger: 'keys_unavailable' });
  }

  /** recovery:packet_lost for a packet loss detection gave up on. */
  packetLost(now: number | undefined, p: SentPacket): void {
    this.emit(now, 'recovery:packet_lost', {
      header: { packet_type: qlogPacketType(p.space), packet_number: p.pn },
      frames: p.frames.map((f) => qlogFrame(f, 0)).map(({ frame_type }) => ({ frame_type })),
    });
  }

  /** security:key_updated; `space` and `direction` name the secret as qlog's KeyType does. */
  keyUpdated(now: number | undefined, space: SpaceName, direction: 'read' | 'write', trigger: 'tls' | 'local_update' | 'remote_update', generation?: number): void {
    this.emit(now, 'security:key_updated', { key_type: this.keyType(space, direction), trigger, generation });
  }

  keyDiscarded(now: number | undefined, space: SpaceName, direction: 'read' | 'write', trigger: 'tls' | 'local_update' | 'remote_update', generation?: number): void {
    this.emit(now, 'security:key_discarded', { key_type: this.keyType(space, direction), trigger, generation });
  }

  private keyType(space: SpaceName, direction: 'read' | 'write'): string {
    const ours = direction === 'write';
    const side = (this.role === 'client') === ours ? 'client' : 'server';
    return `${side}_${space === 'application' ? '1rtt' : space}_secret`;
  }

  /** recovery:metrics_updated with the members that changed; nothing when none did. */
  metrics(now: number, m: QlogMetrics): void {
    const current: Record<string, number> = {
      min_rtt: m.rtt.min, smoothed_rtt: m.rtt.smoothed, latest_rtt: m.rtt.latest, rtt_variance: m.rtt.rttvar,
      pto_count: m.ptoCount, congestion_window: m.congestionWindow, bytes_in_flight: m.bytesInFlight, ssthresh: m.ssthresh,
    };
    const changed: Record<string, number> = {};
    let any = false;
    for (const [k, v] of Object.entries(current)) {
      if (this.lastMetrics[k] === v || !Number.isFinite(v)) continue;
      changed[k] = v;
      any = true;
    }
    this.lastMetrics = current;
    if (any) this.emit(now, 'recovery:metrics_updated', changed);
  }

  /** connectivity:connection_state_updated, once per transition; states only move forward. */
  setState(now: number | undefined, next: QlogConnectionState): void {
    if (this.state !== undefined && STATE_ORDER.indexOf(next) <= STATE_ORDER.indexOf(this.state)) return;
    this.emit(now, 'connectivity:connection_state_updated', { old: this.state, new: next });
    this.state = next;
  }

  /** connectivity:connection_closed. */
  closed(now: number | undefined, r: QlogCloseReport): void {
    const trigger = r.reason === 'idle timeout' ? 'idle_timeout' : r.reason === 'stateless reset' ? 'stateless_reset'
      : r.reason.startsWith('version negotiation') ? 'version_mismatch' : r.application ? 'application' : r.code === 0 ? 'clean' : 'error';
    this.emit(now, 'connectivity:connection_closed', {
      owner: r.local ? 'local' : 'remote',
      ...(r.application ? { application_code: r.code } : { connection_code: r.code }),
      reason: r.reason, trigger,
    });
  }
}

function header(h: QlogPacketHeader): QlogData {
  return {
    packet_type: qlogPacketType(h.type),
    packet_number: h.packetNumber,
    dcid: h.dcid ? toHex(h.dcid) : undefined,
    scid: h.scid ? toHex(h.scid) : undefined,
  };
}
