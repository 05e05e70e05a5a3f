import { AlertDescription, ConfigError, PqtlsError } from '../../errors.js';
import { concat, equalBytes } from '../../bytes.js';
import type { CryptoProvider } from '../../pq/provider.js';
import { resolveClientOptions, resolveServerOptions, type ClientOptions, type ServerOptions } from '../../tls13/config.js';
import { Outbox, type HandshakeAction, type HandshakeInfo, type Level } from '../../tls13/handshake/common.js';
import { handleClient, startClient, type ClientState } from '../../tls13/handshake/client.js';
import { handleServer, startServer, type ServerState } from '../../tls13/handshake/server.js';
import { HandshakeType } from '../../tls13/constants.js';
import type { HandshakeMessage } from '../../tls13/messages/handshake.js';
import { QuicTransportError, TransportErrorCode, InvalidPacketError } from '../errors.js';
import { decodeFrames } from '../frames/decode.js';
import { encodeFrames } from '../frames/encode.js';
import type { Frame } from '../frames/types.js';
import { headerLength, parsePacket, type OutgoingHeader, type ProtectedPacket, type RetryPacket, type VersionNegotiationPacket } from '../header.js';
import { OneRttKeys } from '../key-update.js';
import { deriveDirectionalKeys, initialKeys, quicCipherSuite, type QuicCipherSuite } from '../keys.js';
import { openPacket, sealPacket } from '../protection.js';
import { packetNumberLength } from '../packet-number.js';
import { verifyRetry } from '../retry.js';
import { isStatelessReset, statelessResetToken } from '../stateless-reset.js';
import {
  DEFAULT_TRANSPORT_PARAMETERS, decodeTransportParameters, encodeTransportParameters, type TransportParameters,
} from '../transport-parameters.js';
import { DEFAULT_VERSION_TABLE, versionTable, type QuicVersion, type QuicVersionTable } from '../versions.js';
import { Recovery, type SentPacket } from './recovery.js';
import { LEVEL_OF, PacketSpace, type SpaceName } from './space.js';
import type { ValidatedAddress } from './address-validation.js';
import { StreamManager, type StreamEvent } from './streams.js';
import { PeerConnectionIds } from './connection-ids.js';
import type { EndpointEvent, RemoteAddress, Transmit } from './path.js';
import { LocalConnectionIds } from './local-cids.js';
import { Path, Paths, isProbingFrame, onlyPortChanged, validationTimeout } from './paths.js';
import type { PreferredAddress } from '../transport-parameters.js';

/** Events a {@link QuicConnection} reports; read them with {@link QuicConnection.poll}. */
export type QuicEvent =
  | { readonly type: 'connected'; readonly info: HandshakeInfo; readonly peerParameters: TransportParameters }
  | { readonly type: 'stream'; readonly event: StreamEvent }
  /** An unreliable DATAGRAM frame's payload (RFC 9221). */
  | { readonly type: 'datagram'; readonly data: Uint8Array }
  | { readonly type: 'closed'; readonly local: boolean; readonly code: number; readonly application: boolean; readonly reason: string };

export interface QuicCommonOptions {
  /** Transport parameters we advertise (RFC 9000 §18.2); connection IDs are filled in. */
  readonly transportParameters?: Partial<TransportParameters>;
  /**
   * The versions this endpoint speaks, in preference order (default
   * `DEFAULT_QUIC_VERSIONS`: v1, then v2). Long-header packets of any
   * other version are not processed; a server endpoint answers them with
   * Version Negotiation (RFC 9000 §6.1).
   */
  readonly versions?: readonly QuicVersion[];
  /** The version a client starts in: one of `versions`, by default the first. */
  readonly version?: QuicVersion;
  /** Largest UDP payload we send (default 1200, the minimum every path must carry). */
  readonly maxDatagramSize?: number;
}
export interface QuicClientOptions extends QuicCommonOptions {
  readonly tls: ClientOptions;
  /** The server's address, in the transport's own format (default `''`): where {@link QuicConnection.pollTransmit} sends. */
  readonly remote?: RemoteAddress;
  /**
   * How the transport names an address of the server's preferred_address
   * (RFC 9000 §9.6), or undefined to stay where we are. Given this, the client
   * validates the address it returns once the handshake is confirmed and moves
   * there when the validation succeeds.
   */
  readonly preferredAddressRemote?: (address: PreferredAddress) => RemoteAddress | undefined;
}
export interface QuicServerOptions extends QuicCommonOptions {
  readonly tls: ServerOptions;
  /**
   * Secret (≥ 32 bytes) from which stateless reset tokens are derived per
   * connection ID (RFC 9000 §10.3.2); share it with the endpoint that answers
   * packets for connections it no longer knows. Without it no token is sent.
   */
  readonly statelessResetKey?: Uint8Array;
  /**
   * An address to advertise in the preferred_address transport parameter
   * (RFC 9000 §9.6, §18.2): an IPv4 and/or IPv6 address (4 or 16 bytes) and
   * port. The connection ID and reset token are made per connection; the
   * endpoint must also receive on that address.
   */
  readonly preferredAddress?: {
    readonly ipv4?: { readonly address: Uint8Array; readonly port: number };
    readonly ipv6?: { readonly address: Uint8Array; readonly port: number };
  };
}

const CID_LENGTH = 8;

/** The endpoint's version table; the shared default one unless `versions` is given. */
function versionsOf(options: QuicCommonOptions): QuicVersionTable {
  return options.versions ? versionTable(options.versions) : DEFAULT_VERSION_TABLE;
}

/**
 * What we advertise unless told otherwise. RFC 9000's defaults are zero
 * windows (nothing may be sent); these are working ones, in the spirit of
 * quinn's: 1 MiB per connection, 256 KiB per stream, 100 streams each way.
 */
export const QUIC_DEFAULT_LIMITS: Partial<TransportParameters> = Object.freeze({
  maxIdleTimeout: 30_000,
  initialMaxData: 1 << 20,
  initialMaxStreamDataBidiLocal: 1 << 18,
  initialMaxStreamDataBidiRemote: 1 << 18,
  initialMaxStreamDataUni: 1 << 18,
  initialMaxStreamsBidi: 100,
  initialMaxStreamsUni: 100,
});
const MIN_INITIAL_DATAGRAM = 1200;
/** Smallest probing datagram worth sending: a short header, PATH_CHALLENGE and PATH_RESPONSE, the tag. */
const MIN_PROBE_DATAGRAM = 64;
/** NewSessionTickets accepted between two pieces of stream data (the TLS default of limits.maxTickets). */
const MAX_TICKETS_WITHOUT_DATA = 16;
/** Room for frames an Initial must keep beside a Retry token (a ClientHello goes out in pieces of at least this). */
const MIN_INITIAL_ROOM = 256;
/** Received DATAGRAM payloads held for the application before more are dropped (RFC 9221 §5 lets them go). */
const MAX_QUEUED_DATAGRAMS = 1024;
const SPACES: readonly SpaceName[] = ['initial', 'handshake', 'application'];

type Tls = { role: 'client'; s: ClientState } | { role: 'server'; s: ServerState };

/**
 * A QUIC v1/v2 connection, sans-IO in the manner of quinn-proto: feed it
 * datagrams with {@link handleDatagram}, send what {@link pollTransmit}
 * returns, call {@link handleTimeout} at {@link pollTimeout}, and read
 * {@link poll} events. Time is passed in as milliseconds; nothing here reads a
 * clock, opens a socket or starts a timer. The TLS 1.3 handshake is the very
 * engine of `src/tls13`, carried in CRYPTO frames (RFC 9001 §4).
 */
export class QuicConnection {
  private readonly spaces: Record<SpaceName, PacketSpace> = {
    initial: new PacketSpace('initial'), handshake: new PacketSpace('handshake'), application: new PacketSpace('application'),
  };
  private oneRtt: OneRttKeys | undefined;
  private appSecrets: { read?: Uint8Array; write?: Uint8Array; suite?: QuicCipherSuite } = {};
  private readonly events: QuicEvent[] = [];
  private readonly recovery: Recovery;
  private readonly streams: StreamManager;
  private peerParams: TransportParameters | undefined;
  private handshakeDone = false;
  private confirmed = false;
  private sendHandshakeDone = false;
  private addressValidated: boolean;
  private bytesReceived = 0;
  private bytesSent = 0;
  private lastActivity: number;
  private closeState: { kind: 'closing' | 'draining' | 'closed'; until: number; frame?: Frame; sent?: boolean } | undefined;
  private retryToken = new Uint8Array(0);
  private retried = false;
  /** The Source Connection ID of the server's Retry, which its transport parameters must repeat (RFC 9000 §7.3). */
  private retrySourceCid: Uint8Array | undefined;
  private receivedFromPeer = false;
  /** The Source Connection ID of the first server packet the client processed (RFC 9000 §7.2). */
  private serverScid: Uint8Array | undefined;
  /** Connection IDs the peer issued (RFC 9000 §5.1), from its first NEW_CONNECTION_ID on. */
  private peerCids: PeerConnectionIds | undefined;
  /** DATAGRAM payloads received and not yet polled. */
  private datagramEvents = 0;
  /** NewSessionTickets since the peer last sent stream data: each costs a PSK derivation and a session store write. */
  private ticketsSinceData = 0;
  /** DATAGRAM payloads waiting for room; they are never retransmitted (RFC 9221 §5). */
  private datagrams: Uint8Array[] = [];
  private pendingError: QuicTransportError | undefined;
  /** When the previous 1-RTT keys go, after a key update (RFC 9001 §6.5). */
  private discardPreviousKeysAt: number | undefined;
  /** First packet number sent with keys from our own update; until one at or above it is acknowledged, no further update (§6.1). */
  private updateAwaitingAck: number | undefined;
  /** The peer updated its keys and we have not yet sent an ACK under the new ones (RFC 9001 §6.2). */
  private peerUpdateUnacked = false;
  private readonly maxDatagramSize: number;
  /** The paths to the peer (RFC 9000 §8.2, §9): the current one and any being validated. */
  private paths = new Paths('', true);
  /** Connection-ID changes the endpoint has not yet polled. */
  private readonly endpointEvents: EndpointEvent[] = [];
  /** The connection IDs we issue (RFC 9000 §5.1). */
  private readonly localCids: LocalConnectionIds;
  /** The server's key for stateless reset tokens of the IDs it issues (RFC 9000 §10.3.2). */
  private statelessResetKey: Uint8Array | undefined;
  /** A client's way to name the server's preferred address (RFC 9000 §9.6). */
  private preferredAddressRemote: QuicClientOptions['preferredAddressRemote'];
  /** The client acted on the server's preferred_address: active migration is allowed then, whatever disable_active_migration says (§9). */
  private usedPreferredAddress = false;

  private constructor(
    private readonly provider: CryptoProvider,
    private tls: Tls,
    private readonly out: Outbox,
    readonly version: QuicVersion,
    private readonly versions: QuicVersionTable,
    /** Our connection ID (the peer's Destination Connection ID). */
    readonly localCid: Uint8Array,
    /** The peer's connection ID we send to. */
    private remoteCid: Uint8Array,
    /** The Destination Connection ID of the client's first Initial (RFC 9000 §7.3). */
    private readonly originalDcid: Uint8Array,
    private readonly localParams: TransportParameters,
    now: number,
    maxDatagramSize: number,
  ) {
    this.maxDatagramSize = maxDatagramSize;
    this.addressValidated = tls.role === 'client';
    this.recovery = new Recovery({ maxDatagramSize, isClient: tls.role === 'client' });
    this.streams = new StreamManager(tls.role, localParams);
    this.lastActivity = now;
    this.localCids = new LocalConnectionIds(localCid, this.endpointEvents);
  }

  get role(): 'client' | 'server' {
    return this.tls.role;
  }
  get isHandshakeComplete(): boolean {
    return this.handshakeDone;
  }
  /** RFC 9001 §4.1.2: the server on completion, the client on HANDSHAKE_DONE. */
  get isHandshakeConfirmed(): boolean {
    return this.confirmed;
  }
  get isClosed(): boolean {
    return this.closeState?.kind === 'closed';
  }

  /** Starts a client: its first Initial is ready in {@link pollTransmit}. */
  static async connect(options: QuicClientOptions, now: number): Promise<QuicConnection> {
    const p = options.tls.provider;
    const versions = versionsOf(options);
    const version = options.version ?? (versions.versions[0] as QuicVersion);
    if (versions.get(version.number) !== version) throw new ConfigError(`version ${version.name} is not one of the endpoint's versions`);
    const dcid = await p.random(CID_LENGTH);
    const scid = await p.random(CID_LENGTH);
    const params: TransportParameters = { ...DEFAULT_TRANSPORT_PARAMETERS, ...QUIC_DEFAULT_LIMITS, ...options.transportParameters, initialSourceConnectionId: scid };
    const cfg = resolveClientOptions({ ...options.tls, middleboxCompat: false });
    const { state, out } = await startClient(cfg, { transportParameters: encodeTransportParameters(params) });
    const c = new QuicConnection(p, { role: 'client', s: state }, out, version, versions, scid, dcid, dcid, params, now, options.maxDatagramSize ?? MIN_INITIAL_DATAGRAM);
    c.paths = new Paths(options.remote ?? '', true);
    c.preferredAddressRemote = options.preferredAddressRemote;
    await c.installInitialKeys(dcid);
    await c.applyTls();
    return c;
  }

  /**
   * A server for the client whose first datagram is `datagram` (the caller's
   * endpoint routes by connection ID and calls this for unknown Initials).
   */
  static async accept(
    options: QuicServerOptions, datagram: Uint8Array, now: number, validated?: ValidatedAddress, remote: RemoteAddress = '',
  ): Promise<QuicConnection> {
    const p = options.tls.provider;
    const versions = versionsOf(options);
    const first = parsePacket(datagram, 0, { shortDcidLength: CID_LENGTH, versions }).packet;
    if (!('pnOffset' in first) || first.type !== 'initial' || !first.version) throw new InvalidPacketError('not an Initial packet');
    if (datagram.length < MIN_INITIAL_DATAGRAM) throw new InvalidPacketError('client Initial datagram below 1200 bytes (RFC 9000 §14.1)');
    const scid = await p.random(CID_LENGTH);
    const resetToken = options.statelessResetKey ? await statelessResetToken(p, options.statelessResetKey, scid) : undefined;
    const preferred = options.preferredAddress ? await preferredAddressParameter(p, options) : undefined;
    const params: TransportParameters = {
      ...DEFAULT_TRANSPORT_PARAMETERS, ...QUIC_DEFAULT_LIMITS, ...options.transportParameters, initialSourceConnectionId: scid,
      ...(resetToken ? { statelessResetToken: resetToken } : {}),
      // After a Retry these name the client's first Initial and our Retry (RFC 9000 §7.3).
      originalDestinationConnectionId: (validated?.originalDcid ?? first.dcid).slice(),
      ...(validated ? { retrySourceConnectionId: validated.retrySourceCid.slice() } : {}),
      ...(preferred ? { preferredAddress: preferred } : {}),
    };
    const cfg = resolveServerOptions(options.tls);
    const state = startServer(cfg, { transportParameters: encodeTransportParameters(params) });
    const s = new QuicConnection(
      p, { role: 'server', s: state }, new Outbox(cfg.keyLog, new Uint8Array(32)), first.version, versions, scid, first.scid.slice(),
      (validated?.originalDcid ?? first.dcid).slice(), params, now, options.maxDatagramSize ?? MIN_INITIAL_DATAGRAM,
    );
    // A returned Retry token proves the address: no amplification limit (RFC 9000 §8.1).
    if (validated) s.addressValidated = true;
    s.paths = new Paths(remote, true);
    s.statelessResetKey = options.statelessResetKey;
    // Its connection ID is sequence 1 (RFC 9000 §5.1.1), routed from the start: the client may probe it once confirmed.
    if (preferred) s.localCids.addPreferred(preferred.connectionId, preferred.statelessResetToken);
    await s.installInitialKeys(first.dcid);
    await s.handleDatagram(datagram, now, remote);
    return s;
  }

  private async installInitialKeys(dcid: Uint8Array): Promise<void> {
    const keys = await initialKeys(this.provider, this.version, dcid);
    const sp = this.spaces.initial;
    sp.write = this.role === 'client' ? keys.client : keys.server;
    sp.read = this.role === 'client' ? keys.server : keys.client;
  }

  // ---- events and streams ----

  poll(): QuicEvent | undefined {
    const e = this.events.shift();
    if (e?.type === 'datagram') this.datagramEvents--;
    if (e) return e;
    const s = this.streams.pollEvent();
    return s ? { type: 'stream', event: s } : undefined;
  }

  openStream(bidirectional = true): number {
    return this.streams.open(bidirectional);
  }
  writeStream(id: number, data: Uint8Array, fin = false): void {
    this.streams.write(id, data, fin);
  }
  readStream(id: number, max?: number): { data: Uint8Array; fin: boolean } | undefined {
    return this.streams.read(id, max);
  }
  resetStream(id: number, errorCode: number): void {
    this.streams.reset(id, errorCode);
  }
  stopSending(id: number, errorCode: number): void {
    this.streams.stopSending(id, errorCode);
  }

  /**
   * Starts a 1-RTT key update (RFC 9001 §6.1): later packets use the next
   * key generation and the flipped key phase. Allowed once the handshake is
   * confirmed and the previous update has been acknowledged.
   */
  async updateKeys(now: number): Promise<void> {
    if (!this.confirmed || !this.oneRtt) throw new ConfigError('key updates wait until the handshake is confirmed (RFC 9001 §6.1)');
    if (this.updateAwaitingAck !== undefined) throw new ConfigError('the previous key update is not acknowledged yet (RFC 9001 §6.1)');
    await this.oneRtt.initiateKeyUpdate();
    this.updateAwaitingAck = this.spaces.application.nextPn;
    this.discardPreviousKeysAt = now + 3 * this.pto();
  }

  /** Key phase this endpoint sends (0 or 1), and how many updates either side made. */
  get keyPhase(): { readonly phase: 0 | 1; readonly updates: number } {
    return { phase: this.oneRtt?.keyPhase ?? 0, updates: this.oneRtt?.updates ?? 0 };
  }

  /**
   * Queues an unreliable datagram (RFC 9221). The peer must have advertised
   * max_datagram_frame_size large enough for it; a lost datagram is not resent.
   */
  sendDatagram(data: Uint8Array): void {
    const max = this.peerParams?.maxDatagramFrameSize;
    if (!this.handshakeDone || max === undefined) throw new ConfigError('the peer does not accept DATAGRAM frames (RFC 9221 §3)');
    const frameSize = encodeFrames([{ type: 'datagram', data, hasLength: true }]).length;
    if (frameSize > max || frameSize > this.maxDatagramSize - 64) throw new ConfigError(`a ${data.length}-byte datagram does not fit the peer's limit of ${max}`);
    this.datagrams.push(data.slice());
  }

  /** Closes the connection with an application error code (RFC 9000 §10.2). */
  close(now: number, errorCode = 0, reason = ''): void {
    if (this.closeState) return;
    const frame: Frame = this.handshakeDone
      ? { type: 'connection_close', application: true, errorCode, frameType: 0, reason: new TextEncoder().encode(reason) }
      // Before the handshake, an application close is sent as a transport APPLICATION_ERROR (§10.2.3).
      : { type: 'connection_close', application: false, errorCode: TransportErrorCode.APPLICATION_ERROR, frameType: 0, reason: new Uint8Array(0) };
    this.enterClosing(now, frame, { local: true, code: errorCode, application: true, reason });
  }

  private enterClosing(now: number, frame: Frame, report: Omit<Extract<QuicEvent, { type: 'closed' }>, 'type'>): void {
    this.closeState = { kind: 'closing', until: now + 3 * this.pto(), frame };
    this.events.push({ type: 'closed', ...report });
  }

  private pto(): number {
    const r = this.recovery.rtt;
    return r.smoothed + Math.max(4 * r.rttvar, 1) + (this.peerParams?.maxAckDelay ?? 25);
  }

  // ---- receiving ----

  /**
   * Processes one UDP datagram from the peer, received from `remote` (default:
   * the current path's address). Errors close the connection; nothing is
   * thrown for bad input.
   */
  async handleDatagram(datagram: Uint8Array, now: number, remote: RemoteAddress = this.paths.current.remote): Promise<void> {
    if (this.closeState?.kind === 'draining' || this.closeState?.kind === 'closed') return;
    this.bytesReceived += datagram.length;
    const from: PacketContext = { remote, datagramBytes: datagram.length, dcid: new Uint8Array(0), authenticated: false };
    try {
      await this.handlePackets(datagram, now, from);
    } catch (e) {
      this.fail(e, now);
    }
    // §8.1, §9.3.1: what a path may be sent grows with what authenticated packets brought from it.
    if (from.authenticated) this.paths.onReceived(remote, datagram.length);
  }

  private async handlePackets(datagram: Uint8Array, now: number, from: PacketContext): Promise<void> {
    {
      let offset = 0;
      while (offset < datagram.length) {
        let parsed;
        try {
          parsed = parsePacket(datagram, offset, { shortDcidLength: CID_LENGTH, versions: this.versions });
        } catch (e) {
          if (e instanceof InvalidPacketError) return; // §12.2: the rest of the datagram is dropped
          throw e;
        }
        offset = parsed.next;
        const pkt = parsed.packet;
        // §14.1: a server MUST discard a client Initial in a datagram under 1200 bytes (first or not).
        if (pkt.type === 'initial' && this.role === 'server' && datagram.length < MIN_INITIAL_DATAGRAM) continue;
        if (pkt.type === 'retry') await this.onRetry(pkt);
        else if (pkt.type === 'version-negotiation') this.onVersionNegotiation(pkt, now);
        else if ('pnOffset' in pkt) {
          const processed = await this.onPacket(pkt, now, from);
          if (!processed && this.isResetFromPeer(datagram)) return this.onStatelessReset(now);
        }
        if (this.closeState) return;
      }
    }
  }

  private fail(e: unknown, now: number): void {
    const err = e instanceof QuicTransportError ? e
      : e instanceof PqtlsError ? QuicTransportError.crypto(e.alert, e.message)
      : new QuicTransportError(TransportErrorCode.INTERNAL_ERROR, e instanceof Error ? e.message : String(e), { cause: e });
    if (this.closeState) return;
    this.pendingError = err;
    // The peer learns the code; the wording of an internal failure stays here (it may describe our internals).
    const wire = err.code === TransportErrorCode.INTERNAL_ERROR ? 'internal error' : err.message.slice(0, 100);
    this.enterClosing(now, { type: 'connection_close', application: false, errorCode: err.code, frameType: err.frameType ?? 0, reason: new TextEncoder().encode(wire) },
      { local: true, code: err.code, application: false, reason: err.message });
  }

  /** The error that closed the connection, if we closed it for one. */
  get error(): QuicTransportError | undefined {
    return this.pendingError;
  }

  private async onRetry(pkt: RetryPacket): Promise<void> {
    // §17.2.5.2: one Retry, only before anything else from the server, and only with a valid tag.
    if (this.role !== 'client' || this.retried || this.receivedFromPeer) return;
    // It must be addressed to us, and must not name our original DCID as its own (a reflected or forged Retry).
    if (!equalBytes(pkt.dcid, this.localCid) || equalBytes(pkt.scid, this.originalDcid)) return;
    if (!(await verifyRetry(this.provider, pkt, this.originalDcid))) return;
    if (pkt.token.length === 0) return;
    // Every later Initial carries the token: one that leaves no room for the ClientHello in a datagram we
    // may send is unusable, and following it would leave us silent until the idle timeout (anyone who saw
    // our first Initial can forge a Retry: its integrity key is public).
    const header: OutgoingHeader = { type: 'initial', version: this.version, dcid: pkt.scid, scid: this.localCid, token: pkt.token };
    if (this.maxDatagramSize - (headerLength(header, 0x3fff) + 4 + 16) < MIN_INITIAL_ROOM) return;
    this.retried = true;
    this.retryToken = pkt.token.slice();
    this.remoteCid = pkt.scid.slice();
    this.retrySourceCid = pkt.scid.slice();
    await this.installInitialKeys(pkt.scid);
    // The ClientHello goes again, in a new Initial, from offset 0 (§17.2.5.3).
    this.recovery.discardSpace('initial');
    this.spaces.initial.cryptoSend.retransmitUnacked();
  }

  private onVersionNegotiation(pkt: VersionNegotiationPacket, now: number): void {
    // §6.2: a client that gets no version it supports gives up; we speak only the version we started with.
    if (this.role !== 'client' || this.receivedFromPeer || this.retried || pkt.versions.includes(this.version.number)) return;
    // §17.2.1: its connection IDs must echo those of a packet we sent, or it is discarded: anyone can forge one.
    if (!equalBytes(pkt.dcid, this.localCid) || !equalBytes(pkt.scid, this.remoteCid)) return;
    this.closeState = { kind: 'closed', until: now };
    this.events.push({ type: 'closed', local: false, code: 0, application: false, reason: `version negotiation: server offers ${pkt.versions.map((v) => v.toString(16)).join(', ')}` });
  }

  private spaceOf(type: ProtectedPacket['type']): PacketSpace | undefined {
    if (type === 'initial') return this.spaces.initial;
    if (type === 'handshake') return this.spaces.handshake;
    if (type === '1rtt') return this.spaces.application;
    return undefined; // 0-RTT is not accepted
  }

  /** A datagram we could not use whose tail is the peer's stateless reset token (RFC 9000 §10.3.1). */
  private isResetFromPeer(datagram: Uint8Array): boolean {
    const token = this.role === 'client' ? this.peerParams?.statelessResetToken : undefined;
    // §10.3.1: the token of any connection ID the peer issued us (§19.15) counts, as does the handshake's.
    const tokens = [...(token ? [token] : []), ...(this.peerCids?.resetTokens() ?? [])];
    return tokens.length > 0 && isStatelessReset(datagram, tokens);
  }

  private onStatelessReset(now: number): void {
    // §10.3.1: the peer lost the connection; enter draining without sending anything.
    this.closeState = { kind: 'draining', until: now + 3 * this.pto() };
    this.events.push({ type: 'closed', local: false, code: TransportErrorCode.NO_ERROR, application: false, reason: 'stateless reset' });
  }

  /** Returns false if the packet could not be decrypted (or has no keys), true once processed. */
  private async onPacket(pkt: ProtectedPacket, now: number, from: PacketContext): Promise<boolean> {
    const space = this.spaceOf(pkt.type);
    if (!space || space.discarded) return false;
    // §9: a client discards, undecrypted, packets from a server address it did not choose (§9.6: its preferred one, once probed).
    if (this.role === 'client' && from.remote !== this.paths.current.remote && this.paths.find(from.remote) === undefined) return true;
    // §17.2.2: a server's Initial carries no token; a client discards one that does.
    if (this.role === 'client' && pkt.type === 'initial' && pkt.token.length > 0) return false;
    // §7.2: once a server packet was processed, any other Source Connection ID is discarded.
    if (this.role === 'client' && pkt.type !== '1rtt' && this.serverScid && !equalBytes(pkt.scid, this.serverScid)) return false;
    let opened;
    if (pkt.type === '1rtt') {
      if (!this.oneRtt) return false;
      opened = await this.oneRtt.open(pkt, space.largestReceived);
    } else {
      if (!space.read) return false;
      opened = await openPacket(space.read, pkt, space.largestReceived);
    }
    if (!opened) return false; // §12.2: undecryptable packets are dropped
    if ('peerInitiatedKeyUpdate' in opened && opened.peerInitiatedKeyUpdate) {
      // §6.2: a second update before we acknowledged the first under the new keys: each update costs a key
      // derivation, and a peer flipping the key phase on every packet would make every packet cost one.
      if (this.peerUpdateUnacked) throw new QuicTransportError(TransportErrorCode.KEY_UPDATE_ERROR, 'the peer updated its keys again before our acknowledgment of the last update');
      this.peerUpdateUnacked = true;
      this.discardPreviousKeysAt = now + 3 * this.pto();
    }
    if (space.acks.isDuplicate(opened.packetNumber)) return true;
    from.authenticated = true;
    from.dcid = pkt.dcid;
    const highest = opened.packetNumber > space.largestReceived;
    if (this.role === 'client' && !this.receivedFromPeer && pkt.type !== '1rtt') {
      // §7.2: the client adopts the server's chosen connection ID.
      this.remoteCid = pkt.scid.slice();
      this.serverScid = this.remoteCid;
    }
    this.receivedFromPeer = true;
    this.lastActivity = now;
    space.largestReceived = Math.max(space.largestReceived, opened.packetNumber);
    if (this.role === 'server' && pkt.type === 'handshake') {
      // §8.1: a Handshake packet proves the address; §4.9.1 of RFC 9001: Initial keys go.
      this.addressValidated = true;
      this.discardSpace('initial');
    }
    const frames = decodeFrames(opened.payload, pkt.type, { maxDatagramFrameSize: this.localParams.maxDatagramFrameSize });
    // §9.3: the highest-numbered non-probing packet from a new address means the client moved there.
    if (this.role === 'server' && from.remote !== this.paths.current.remote && pkt.type === '1rtt' && highest && this.confirmed && !frames.every(isProbingFrame)) {
      await this.migrateTo(from.remote, now);
    }
    let ackEliciting = false;
    for (const f of frames) {
      if (f.type !== 'ack' && f.type !== 'padding' && f.type !== 'connection_close') ackEliciting = true;
      await this.onFrame(space, f, now, from);
      if (this.closeState) return true;
    }
    space.acks.onPacketReceived(opened.packetNumber, ackEliciting, now);
    return true;
  }

  private async onFrame(space: PacketSpace, f: Frame, now: number, from: PacketContext): Promise<void> {
    switch (f.type) {
      case 'padding':
      case 'ping':
        return;
      case 'ack':
        return this.onAck(space, f, now);
      case 'crypto':
        return this.onCrypto(space, f.offset, f.data);
      case 'handshake_done':
        // §19.20: only a server sends it.
        if (this.role === 'server') throw new QuicTransportError(TransportErrorCode.PROTOCOL_VIOLATION, 'HANDSHAKE_DONE from a client', { frameType: 0x1e });
        if (!this.confirmed) {
          this.confirm();
          await this.probePreferredAddress(now);
        }
        return;
      case 'connection_close':
        this.closeState = { kind: 'draining', until: now + 3 * this.pto() };
        this.events.push({ type: 'closed', local: false, code: f.errorCode, application: f.application, reason: new TextDecoder().decode(f.reason) });
        return;
      case 'path_challenge':
        // §8.2.2: answered on the path it came from.
        this.paths.respond(from.remote, f.data, from.datagramBytes);
        return;
      case 'datagram':
        // decodeFrames already refused it unless we advertised max_datagram_frame_size and it fits.
        // RFC 9221 §5: datagrams may be dropped; an application that stops polling does not make us hoard them.
        if (this.datagramEvents >= MAX_QUEUED_DATAGRAMS) return;
        this.datagramEvents++;
        this.events.push({ type: 'datagram', data: f.data.slice() });
        return;
      case 'new_token':
        // §19.7: only a server sends it.
        if (this.role === 'server') throw new QuicTransportError(TransportErrorCode.PROTOCOL_VIOLATION, 'NEW_TOKEN from a client', { frameType: 0x07 });
        return; // tokens are not kept yet
      case 'new_connection_id':
        this.peerConnectionIds().onNewConnectionId(f);
        this.remoteCid = this.peerConnectionIds().current;
        return;
      case 'retire_connection_id':
        this.localCids.onRetire(f, from.dcid);
        // §5.1.1: a retired ID is replaced, so the peer keeps spares for migrating.
        return this.issueConnectionIds();
      case 'path_response':
        return this.onPathResponse(f.data);
      default:
        if (f.type === 'stream' && f.data.length > 0) this.ticketsSinceData = 0;
        this.streams.onFrame(f);
    }
  }

  private peerConnectionIds(): PeerConnectionIds {
    // Created on first use: NEW_CONNECTION_ID comes in 1-RTT packets, when the handshake's connection IDs are settled.
    this.peerCids ??= new PeerConnectionIds(this.remoteCid, this.localParams.activeConnectionIdLimit);
    return this.peerCids;
  }

  private async onCrypto(space: PacketSpace, offset: number, data: Uint8Array): Promise<void> {
    space.cryptoRecv.push(offset, data);
    // Whole messages only: the TLS layer never sees (or copies) a fragment.
    for (let m = space.cryptoRecv.nextMessage(); m; m = space.cryptoRecv.nextMessage()) await this.tlsStep(LEVEL_OF[space.name], m);
  }

  private async tlsStep(level: Level, msg: HandshakeMessage): Promise<void> {
    // As TLS over TCP bounds them (limits.maxTickets): a server may send tickets, not without end between data.
    if (this.handshakeDone && msg.type === HandshakeType.new_session_ticket && ++this.ticketsSinceData > MAX_TICKETS_WITHOUT_DATA) {
      throw new PqtlsError(`too many NewSessionTicket messages without stream data (limit ${MAX_TICKETS_WITHOUT_DATA})`, AlertDescription.unexpected_message);
    }
    if (this.tls.role === 'client') this.tls = { role: 'client', s: await handleClient(this.tls.s, level, msg, this.out) };
    else this.tls = { role: 'server', s: await handleServer(this.tls.s, level, msg, this.out) };
    await this.applyTls();
  }

  /** Carries out what the TLS handshake asked for (RFC 9001 §4.1). */
  private async applyTls(): Promise<void> {
    for (const a of this.out.actions.splice(0)) await this.applyAction(a);
  }

  private async applyAction(a: HandshakeAction): Promise<void> {
    switch (a.kind) {
      case 'send':
        this.spaceForLevel(a.level).cryptoSend.append(a.data);
        return;
      case 'readSecret':
      case 'writeSecret': {
        const suite = quicCipherSuite(a.suite.id);
        if (!suite) throw new QuicTransportError(TransportErrorCode.INTERNAL_ERROR, `no QUIC packet protection for suite ${a.suite.name}`);
        if (a.level === 'application') {
          if (a.kind === 'readSecret') this.appSecrets.read = a.secret;
          else this.appSecrets.write = a.secret;
          this.appSecrets.suite = suite;
          if (this.appSecrets.read && this.appSecrets.write && !this.oneRtt) {
            this.oneRtt = await OneRttKeys.create(this.provider, this.version, suite, this.appSecrets.write, this.appSecrets.read);
          }
          return;
        }
        const space = this.spaceForLevel(a.level);
        const keys = await deriveDirectionalKeys(this.provider, this.version, suite, a.secret);
        if (a.kind === 'readSecret') space.read = keys;
        else space.write = keys;
        return;
      }
      case 'complete':
        this.onHandshakeComplete(a.info);
        return this.issueConnectionIds();
      default:
        // Record-layer matters (change_cipher_spec, record sizes, early data) do not exist in QUIC; tickets go to the
        // client's session store inside the TLS engine (resumption is tested in connection.test.ts).
        return;
    }
  }

  private spaceForLevel(level: Level): PacketSpace {
    if (level === 'initial') return this.spaces.initial;
    if (level === 'handshake') return this.spaces.handshake;
    if (level === 'application') return this.spaces.application;
    throw new QuicTransportError(TransportErrorCode.INTERNAL_ERROR, '0-RTT is not supported');
  }

  private onHandshakeComplete(info: HandshakeInfo): void {
    const raw = info.peerTransportParameters;
    if (!raw) throw new QuicTransportError(TransportErrorCode.TRANSPORT_PARAMETER_ERROR, 'no transport parameters');
    const peer = decodeTransportParameters(raw, this.role === 'client' ? 'server' : 'client');
    this.checkConnectionIds(peer);
    this.peerParams = peer;
    // §5.1.1: the preferred_address connection ID is sequence 1, ours to use like one from NEW_CONNECTION_ID.
    if (peer.preferredAddress) this.peerConnectionIds().addPreferred(peer.preferredAddress.connectionId, peer.preferredAddress.statelessResetToken);
    this.streams.setPeerLimits(peer);
    this.handshakeDone = true;
    if (this.role === 'server') {
      // RFC 9001 §4.1.2: the server's handshake is confirmed at completion; it tells the client with HANDSHAKE_DONE.
      this.sendHandshakeDone = true;
      this.confirm();
    }
    this.events.push({ type: 'connected', info, peerParameters: peer });
  }

  /** RFC 9000 §7.3: connection IDs must match what the transport parameters authenticate. */
  private checkConnectionIds(peer: TransportParameters): void {
    const bad = (what: string): never => {
      throw new QuicTransportError(TransportErrorCode.TRANSPORT_PARAMETER_ERROR, `${what} does not match`);
    };
    if (!peer.initialSourceConnectionId || !equalBytes(peer.initialSourceConnectionId, this.remoteCid)) bad('initial_source_connection_id');
    if (this.role === 'client') {
      if (!peer.originalDestinationConnectionId || !equalBytes(peer.originalDestinationConnectionId, this.originalDcid)) bad('original_destination_connection_id');
      const retrySource = peer.retrySourceConnectionId;
      if ((retrySource === undefined) !== (this.retrySourceCid === undefined)) bad('retry_source_connection_id');
      if (retrySource && this.retrySourceCid && !equalBytes(retrySource, this.retrySourceCid)) bad('retry_source_connection_id');
    }
  }

  private confirm(): void {
    if (this.confirmed) return;
    this.confirmed = true;
    // RFC 9001 §4.9.2: Handshake keys are discarded once the handshake is confirmed.
    this.discardSpace('handshake');
  }

  private discardSpace(name: SpaceName): void {
    const s = this.spaces[name];
    if (s.discarded) return;
    s.discarded = true;
    s.read = undefined;
    s.write = undefined;
    this.recovery.discardSpace(name);
  }

  private async onAck(space: PacketSpace, f: Extract<Frame, { type: 'ack' }>, now: number): Promise<void> {
    const peer = this.peerParams ?? DEFAULT_TRANSPORT_PARAMETERS;
    const { acked, lost } = this.recovery.onAck(space.name, f, now, { ackDelayExponent: peer.ackDelayExponent, maxAckDelay: peer.maxAckDelay }, this.confirmed);
    for (const p of acked) this.onPacketAcked(p);
    if (space.name === 'application' && this.updateAwaitingAck !== undefined && acked.some((p) => p.pn >= (this.updateAwaitingAck as number))) {
      this.updateAwaitingAck = undefined;
    }
    for (const p of lost) this.onPacketLost(p);
    if (this.role === 'client' && space.name === 'handshake') this.discardSpace('initial');
  }

  private onPacketAcked(p: SentPacket): void {
    const space = this.spaces[p.space];
    for (const f of p.frames) {
      if (f.type === 'crypto') space.cryptoSend.onAcked(f.offset, f.data.length);
      else if (f.type === 'ack') space.acks.onAckOfAckReceived(f.ranges[0]?.largest ?? 0);
      else if (f.type === 'retire_connection_id') this.peerCids?.onRetireAcked(f.sequenceNumber);
      else if (isStreamFrame(f)) this.streams.onAcked(f);
    }
  }

  private onPacketLost(p: SentPacket): void {
    const space = this.spaces[p.space];
    for (const f of p.frames) {
      if (f.type === 'crypto') space.cryptoSend.onLost(f.offset, f.data.length);
      else if (f.type === 'handshake_done') this.sendHandshakeDone = true;
      else if (f.type === 'retire_connection_id') this.peerCids?.onRetireLost(f.sequenceNumber);
      else if (f.type === 'new_connection_id') this.localCids.onLost(f);
      else if (isStreamFrame(f)) this.streams.onLost(f);
    }
  }

  // ---- timers ----

  /** When {@link handleTimeout} should next be called, or undefined. */
  pollTimeout(): number | undefined {
    if (this.closeState) return this.closeState.kind === 'closed' ? undefined : this.closeState.until;
    const times: number[] = [];
    const idle = this.idleTimeout();
    if (idle !== undefined) times.push(this.lastActivity + idle);
    if (this.discardPreviousKeysAt !== undefined) times.push(this.discardPreviousKeysAt);
    const path = this.paths.timeout(MIN_PROBE_DATAGRAM);
    if (path !== undefined) times.push(path);
    const r = this.recovery.timeout(this.lastActivity, this.recoveryState());
    if (r !== undefined) times.push(r);
    // A path held back by its 3× limit (§8.1) sends no ACK until more arrives from it: no timer for one.
    const pathBlocked = this.paths.current.budget < MIN_PROBE_DATAGRAM;
    for (const n of SPACES) {
      const s = this.spaces[n];
      const d = s.discarded || pathBlocked ? undefined : s.acks.ackDeadline(this.ackDelayFor(n));
      if (d !== undefined) times.push(d);
    }
    return times.length ? Math.min(...times) : undefined;
  }

  /** Initial and Handshake packets are acknowledged at once (RFC 9000 §13.2.1); 1-RTT ones within max_ack_delay. */
  private ackDelayFor(name: SpaceName): number {
    return name === 'application' ? this.localParams.maxAckDelay : 0;
  }

  private idleTimeout(): number | undefined {
    const a = this.localParams.maxIdleTimeout;
    const b = this.peerParams?.maxIdleTimeout ?? 0;
    const t = a && b ? Math.min(a, b) : a || b;
    return t ? Math.max(t, 3 * this.pto()) : undefined;
  }

  private recoveryState() {
    return { handshakeConfirmed: this.confirmed, peerAddressValidated: this.role === 'server' || this.handshakeDone, hasHandshakeKeys: this.spaces.handshake.write !== undefined };
  }

  async handleTimeout(now: number): Promise<void> {
    if (this.closeState) {
      if (this.closeState.kind !== 'closed' && now >= this.closeState.until) this.closeState = { kind: 'closed', until: now };
      return;
    }
    const idle = this.idleTimeout();
    if (idle !== undefined && now >= this.lastActivity + idle) {
      // §10.1: an idle timeout closes silently.
      this.closeState = { kind: 'closed', until: now };
      this.events.push({ type: 'closed', local: true, code: TransportErrorCode.NO_ERROR, application: false, reason: 'idle timeout' });
      return;
    }
    if (this.discardPreviousKeysAt !== undefined && now >= this.discardPreviousKeysAt) {
      this.oneRtt?.discardPreviousKeys();
      this.discardPreviousKeysAt = undefined;
    }
    // §8.2.4, §9.3.2: a failed validation of the path we moved to sends us back to the last validated one.
    // The ID we moved to stays in use there: the one the old path had is retired already.
    if (this.paths.onTimeout(now) === 'reverted') this.paths.current.dcid = undefined;
    const r = this.recovery.timeout(this.lastActivity, this.recoveryState());
    if (r !== undefined && now >= r) {
      const { lost, probe } = this.recovery.onTimeout(now, this.recoveryState());
      for (const p of lost) this.onPacketLost(p);
      if (probe) {
        this.spaces[probe.space].probes += probe.count;
        // Probes carry data rather than bare PINGs where they can (RFC 9002 §6.2.4): the handshake
        // bytes not yet acknowledged, in every space still in use, so a lost flight is resent at once.
        if (!this.confirmed) for (const n of SPACES) if (!this.spaces[n].discarded) this.spaces[n].cryptoSend.retransmitUnacked();
      }
    }
  }

  // ---- sending ----

  /** The next datagram to send and where to, or undefined when there is nothing (or congestion control says wait). */
  async pollTransmit(now: number): Promise<Transmit | undefined> {
    const probe = await this.probeDatagram(now);
    if (probe) return probe;
    const data = await this.nextDatagram(now);
    if (!data) return undefined;
    const remote = this.paths.current.remote;
    this.paths.onSent(remote, data.length);
    return { data, remote };
  }

  /**
   * The next connection-ID change for the endpoint: route datagrams carrying an
   * issued ID to this connection, stop routing a retired one.
   */
  pollEndpointEvent(): EndpointEvent | undefined {
    return this.endpointEvents.shift();
  }

  // ---- connection IDs and paths (RFC 9000 §5.1, §8.2, §9) ----

  /** Issues connection IDs until the peer holds as many as its active_connection_id_limit allows (§5.1.1). */
  private async issueConnectionIds(): Promise<void> {
    const limit = this.peerParams?.activeConnectionIdLimit;
    if (limit === undefined || this.closeState) return;
    const key = this.statelessResetKey;
    await this.localCids.replenish(limit, async () => {
      const cid = await this.provider.random(CID_LENGTH);
      // §10.3.2: a server derives each token from a static key, so it can reset connections it lost; a client has no use for that.
      const resetToken = key ? await statelessResetToken(this.provider, key, cid) : await this.provider.random(16);
      return { cid, resetToken };
    });
  }

  /**
   * The client moved to a new local address (RFC 9000 §9.2): the transport
   * rebound its socket, and tells us so, since a sans-IO connection cannot
   * see its own address. Later packets use a connection ID no other path used
   * (§9.5), the new path is validated with PATH_CHALLENGE, and congestion
   * control and RTT start afresh (§9.4). `remote` names the server's address
   * as the new socket sees it (default: unchanged).
   *
   * @throws ConfigError before the handshake is confirmed (§9), if the server
   *   sent disable_active_migration (§18.2), or if it gave no spare connection ID.
   */
  async migrate(now: number, remote: RemoteAddress = this.paths.current.remote): Promise<void> {
    if (this.role !== 'client') throw new ConfigError('only a client migrates (RFC 9000 §9)');
    if (!this.confirmed || !this.oneRtt) throw new ConfigError('no migration before the handshake is confirmed (RFC 9000 §9)');
    if (this.closeState) throw new ConfigError('the connection is closed');
    if (this.peerParams?.disableActiveMigration && !this.usedPreferredAddress) {
      throw new ConfigError('the server disabled active migration (RFC 9000 §18.2 disable_active_migration)');
    }
    if (!this.peerConnectionIds().switchToNext()) throw new ConfigError('the server gave no spare connection ID for a new path (RFC 9000 §9.5)');
    this.remoteCid = this.peerConnectionIds().current;
    // The server's address was validated in the handshake (§9.2): no amplification limit, only the challenge.
    const path = new Path(remote, true);
    path.startValidation(await this.provider.random(8), now, validationTimeout(this.pto()));
    this.paths.current = path;
    this.paths.probe = undefined;
    this.recovery.resetPath();
  }

  /**
   * §9.3: the client's highest-numbered non-probing packet came from `remote`.
   * We send there from now on, within 3× what it sent us until it answers a
   * PATH_CHALLENGE (§8.1, §9.3.1), and probe the path we left as well (§9.3.3).
   * A return to the last validated path needs no new validation (§9.3).
   */
  private async migrateTo(remote: RemoteAddress, now: number): Promise<void> {
    const paths = this.paths;
    const left = paths.current;
    if (paths.previous?.remote === remote && paths.previous.validated) {
      // Back from a spurious migration (§9.3.2): the path we left was never validated, and is abandoned.
      paths.current = paths.previous;
      paths.current.dcid = undefined;
      paths.current.challenge = paths.current.challengeDue = paths.current.deadline = undefined;
      paths.previous = left.validated ? left : undefined;
      if (paths.previous) paths.previous.challenge = paths.previous.challengeDue = paths.previous.deadline = undefined;
      return;
    }
    const timeout = validationTimeout(this.pto());
    const next = new Path(remote, false);
    next.startValidation(await this.provider.random(8), now, timeout);
    if (left.validated) {
      // §9.3.3: the path we leave is challenged too, so an attacker's copies cannot pull us away unnoticed.
      // It keeps the connection ID it had; the new path gets one no other path used, if the client gave a spare (§9.5).
      left.dcid = this.remoteCid;
      left.startValidation(await this.provider.random(8), now, timeout);
      paths.previous = left;
    }
    paths.current = next;
    if (this.peerConnectionIds().switchToNext()) this.remoteCid = this.peerConnectionIds().current;
    else if (paths.previous) paths.previous.dcid = undefined;
  }

  /** §8.2.3: a PATH_RESPONSE validates the path whose challenge it echoes. */
  private async onPathResponse(data: Uint8Array): Promise<void> {
    const paths = this.paths;
    const path = paths.onResponse(data);
    if (!path) return;
    if (path === paths.current && paths.previous) {
      // §9.4: confirmed; a new host (not just a new port, a NAT rebinding) starts from fresh congestion state.
      if (!onlyPortChanged(paths.previous.remote, path.remote)) this.recovery.resetPath();
      paths.previous = undefined;
    } else if (path === paths.probe && this.role === 'client') {
      // §9.6.1: the preferred address answered; from now on everything goes there, with its connection ID.
      paths.probe = undefined;
      const cid = path.dcid;
      path.dcid = undefined;
      const ids = this.peerConnectionIds();
      if (cid && ids.cidOf(1) && equalBytes(ids.cidOf(1) as Uint8Array, cid)) ids.switchTo(1);
      this.remoteCid = ids.current;
      paths.current = path;
      this.usedPreferredAddress = true;
      this.recovery.resetPath();
    }
  }

  /** §9.6.1: once confirmed, a client that can name the server's preferred address validates it. */
  private async probePreferredAddress(now: number): Promise<void> {
    const pa = this.peerParams?.preferredAddress;
    const remote = pa && this.preferredAddressRemote?.(pa);
    const cid = this.peerCids?.cidOf(1);
    if (remote === undefined || !cid || remote === this.paths.current.remote) return;
    // The server's address is not ours to limit (§8.1 protects the client): the path is only unproven.
    const path = new Path(remote, true, cid);
    path.startValidation(await this.provider.random(8), now, validationTimeout(this.pto()));
    this.paths.probe = path;
  }

  /**
   * A datagram of path probing frames (PATH_CHALLENGE, PATH_RESPONSE), padded
   * to 1200 bytes as §8.2.1 and §8.2.2 require unless the path's 3× limit
   * forbids, on the path it belongs to.
   */
  private async probeDatagram(now: number): Promise<Transmit | undefined> {
    if (this.closeState || !this.oneRtt || !this.confirmed || !this.paths.hasProbe(now, MIN_PROBE_DATAGRAM)) return undefined;
    const space = this.spaces.application;
    const plan = this.paths.pollProbe(now, this.pto(), MIN_PROBE_DATAGRAM);
    if (!plan) return undefined;
    const frames = plan.frames;
    // §9.3.3: an answer to a challenge on the path in use carries a non-probing frame, so a spurious migration ends.
    if (plan.remote === this.paths.current.remote) frames.push({ type: 'ping' });
    const dcid = plan.dcid ?? this.remoteCid;
    const size = (n: number): number => headerLength(this.headerFor('application', dcid), n) + packetNumberLength(space.nextPn, undefined) + n + 16;
    const payload = encodeFrames(frames).length;
    const target = Math.min(MIN_INITIAL_DATAGRAM, plan.budget);
    const pad = target - size(payload);
    if (pad > 0) frames.push({ type: 'padding', length: pad });
    const data = await this.seal(space, frames, true, now, dcid);
    this.paths.onSent(plan.remote, data.length);
    this.bytesSent += data.length;
    return { data, remote: plan.remote };
  }

  private async nextDatagram(now: number): Promise<Uint8Array | undefined> {
    if (this.closeState) return this.closeDatagram();
    let budget = Math.min(this.maxDatagramSize, this.paths.current.budget);
    if (!this.addressValidated) budget = Math.min(budget, 3 * this.bytesReceived - this.bytesSent); // §8.1
    const packets: { space: PacketSpace; frames: Frame[]; ackEliciting: boolean }[] = [];
    let used = 0;
    // A datagram that carries a probe is exempt from congestion control (RFC 9002 §7.5), all of it.
    const probing = SPACES.some((n) => this.spaces[n].probes > 0);
    for (const name of SPACES) {
      const space = this.spaces[name];
      if (space.discarded || !(name === 'application' ? this.oneRtt : space.write)) continue;
      const room = budget - used - this.overhead(name);
      if (room < 32) break;
      const frames = this.framesFor(space, room, now, probing);
      if (!frames.length) continue;
      const ackEliciting = frames.some((f) => f.type !== 'ack' && f.type !== 'padding');
      packets.push({ space, frames, ackEliciting });
      used += this.overhead(name) + encodeFrames(frames).length;
    }
    if (!packets.length) return undefined;
    // §14.1: datagrams carrying a client Initial, or an ack-eliciting server Initial, are padded to
    // 1200 bytes with PADDING frames in the last packet.
    const needsPadding = packets.some((p) => p.space.name === 'initial' && (this.role === 'client' || p.ackEliciting));
    if (needsPadding && budget >= MIN_INITIAL_DATAGRAM) {
      const last = packets[packets.length - 1] as (typeof packets)[number];
      const size = (): number => packets.reduce((n, p) => n + this.packetSize(p.space, encodeFrames(p.frames).length), 0);
      // A longer payload can lengthen the Length varint by a byte (a small Handshake packet padded past
      // 63 bytes): then the padding gives that byte back, so the datagram is 1200 bytes, not 1201.
      for (let i = 0; i < 3; i++) {
        const n = size();
        const tail = last.frames[last.frames.length - 1];
        if (n < MIN_INITIAL_DATAGRAM) last.frames.push({ type: 'padding', length: MIN_INITIAL_DATAGRAM - n });
        else if (n > MIN_INITIAL_DATAGRAM && tail?.type === 'padding' && tail.length > n - MIN_INITIAL_DATAGRAM) {
          last.frames[last.frames.length - 1] = { type: 'padding', length: tail.length - (n - MIN_INITIAL_DATAGRAM) };
        } else break;
      }
    }
    const datagram: Uint8Array[] = [];
    for (const p of packets) datagram.push(await this.seal(p.space, p.frames, p.ackEliciting, now));
    const out = concat(...datagram);
    this.bytesSent += out.length;
    if (this.role === 'client' && packets.some((p) => p.space.name === 'handshake')) this.discardSpace('initial'); // RFC 9001 §4.9.1
    return out;
  }

  /** Upper bound on a packet's bytes beyond its frames: header with a 4-byte packet number and 2-byte length, and the tag. */
  private overhead(name: SpaceName): number {
    return headerLength(this.headerFor(name), 0x3fff) + 4 + 16;
  }

  private framesFor(space: PacketSpace, room: number, now: number, probing: boolean): Frame[] {
    const frames: Frame[] = [];
    let left = room;
    const add = (f: Frame): boolean => {
      const n = encodeFrames([f]).length;
      if (n > left) return false;
      frames.push(f);
      left -= n;
      return true;
    };
    const peerExp = this.localParams.ackDelayExponent;
    const wantsToSend = space.cryptoSend.hasPending || space.probes > 0
      || (space.name === 'application' && (this.sendHandshakeDone || this.localCids.hasPending || this.peerCids?.hasPendingRetire === true || this.streams.hasPendingFrames || this.datagrams.length > 0));
    const ack = space.acks.pollAck(now, peerExp, this.ackDelayFor(space.name), wantsToSend);
    if (ack) add(ack);
    const congestionOk = this.recovery.canSend(this.maxDatagramSize) || probing;
    if (!congestionOk) return frames;
    while (space.cryptoSend.hasPending && left > 16) {
      const chunk = space.cryptoSend.next(left - 12);
      if (!chunk) break;
      add({ type: 'crypto', offset: chunk.offset, data: chunk.data });
    }
    if (space.name === 'application') {
      if (this.sendHandshakeDone && add({ type: 'handshake_done' })) this.sendHandshakeDone = false;
      for (let n = this.localCids.pollFrame(); n; n = this.localCids.pollFrame()) {
        if (!add(n)) {
          this.localCids.onLost(n);
          break;
        }
      }
      for (let r = this.peerCids?.pollRetire(); r; r = this.peerCids?.pollRetire()) {
        if (!add(r)) {
          this.peerCids?.unpoll(r.sequenceNumber);
          break;
        }
      }
      while (this.datagrams.length && add({ type: 'datagram', data: this.datagrams[0] as Uint8Array, hasLength: true })) this.datagrams.shift();
      // pollFrames sizes its frames to the budget and tracks them as sent, so every one goes in.
      if (this.handshakeDone) {
        for (const f of this.streams.pollFrames(left)) {
          frames.push(f);
          left -= encodeFrames([f]).length;
        }
      }
    }
    if (space.probes > 0) {
      if (!frames.some((f) => f.type !== 'ack')) add({ type: 'ping' });
      space.probes--;
    }
    return frames;
  }

  private headerFor(name: SpaceName, dcid = this.remoteCid): OutgoingHeader {
    if (name === 'application') return { type: '1rtt', dcid };
    return { type: name, version: this.version, dcid: this.remoteCid, scid: this.localCid, ...(name === 'initial' ? { token: this.retryToken } : {}) };
  }

  /** The exact size of the next packet of `space` with a payload of `payloadLength` bytes. */
  private packetSize(space: PacketSpace, payloadLength: number): number {
    const pnLength = packetNumberLength(space.nextPn, undefined);
    // sealPacket pads the payload so that a header-protection sample exists (RFC 9001 §5.4.2).
    const length = pnLength + Math.max(payloadLength, 4 - pnLength) + 16;
    return headerLength(this.headerFor(space.name), length) + length;
  }

  private async seal(space: PacketSpace, frames: Frame[], ackEliciting: boolean, now: number, dcid?: Uint8Array): Promise<Uint8Array> {
    const pn = space.nextPn++;
    const payload = encodeFrames(frames);
    const header = this.headerFor(space.name, dcid);
    const bytes = header.type === '1rtt'
      ? await (this.oneRtt as OneRttKeys).seal(header, payload, { packetNumber: pn })
      : await sealPacket(space.write as NonNullable<typeof space.write>, header, payload, { packetNumber: pn });
    // Sent under the current keys, an ACK completes the peer's key update (RFC 9001 §6.2).
    if (header.type === '1rtt' && frames.some((f) => f.type === 'ack')) this.peerUpdateUnacked = false;
    const inFlight = ackEliciting || frames.some((f) => f.type === 'padding');
    this.recovery.onPacketSent({ pn, space: space.name, timeSent: now, size: bytes.length, ackEliciting, inFlight, frames });
    return bytes;
  }

  private async closeDatagram(): Promise<Uint8Array | undefined> {
    const c = this.closeState;
    if (!c || c.kind !== 'closing' || c.sent || !c.frame) return undefined;
    c.sent = true;
    // In the highest space we have keys for (§10.2.3).
    const name = this.oneRtt ? 'application' : (['handshake', 'initial'] as const).find((n) => this.spaces[n].write && !this.spaces[n].discarded);
    if (!name) return undefined;
    let frame = c.frame;
    // Application closes are only sent in 1-RTT packets (§10.2.3).
    if (name !== 'application' && frame.type === 'connection_close' && frame.application) {
      frame = { ...frame, application: false, errorCode: TransportErrorCode.APPLICATION_ERROR };
    }
    const space = this.spaces[name];
    const frames: Frame[] = [frame];
    // A client's Initial datagram is at least 1200 bytes, closing ones included (RFC 9000 §14.1).
    if (name === 'initial' && this.role === 'client') {
      const short = MIN_INITIAL_DATAGRAM - this.packetSize(space, encodeFrames(frames).length);
      if (short > 0) frames.push({ type: 'padding', length: short });
    }
    return this.seal(space, frames, false, 0);
  }
}

/** What the packets of one datagram share: where it came from, its size, its Destination Connection ID. */
interface PacketContext {
  readonly remote: RemoteAddress;
  readonly datagramBytes: number;
  dcid: Uint8Array;
  /** Some packet of it decrypted: only then does it count toward the path's 3× limit. */
  authenticated: boolean;
}

/** The preferred_address transport parameter (RFC 9000 §18.2): the server's option, a fresh connection ID and its reset token. */
async function preferredAddressParameter(p: CryptoProvider, options: QuicServerOptions): Promise<PreferredAddress> {
  const a = options.preferredAddress;
  if (!a?.ipv4 && !a?.ipv6) throw new ConfigError('preferredAddress needs an IPv4 or an IPv6 address');
  const connectionId = await p.random(CID_LENGTH);
  const key = options.statelessResetKey;
  return {
    ipv4Address: a.ipv4?.address ?? new Uint8Array(4), ipv4Port: a.ipv4?.port ?? 0,
    ipv6Address: a.ipv6?.address ?? new Uint8Array(16), ipv6Port: a.ipv6?.port ?? 0,
    connectionId,
    statelessResetToken: key ? await statelessResetToken(p, key, connectionId) : await p.random(16),
  };
}

function isStreamFrame(f: Frame): boolean {
  return f.type === 'stream' || f.type === 'reset_stream' || f.type === 'stop_sending' || f.type === 'max_data' || f.type === 'max_stream_data'
    || f.type === 'max_streams' || f.type === 'data_blocked' || f.type === 'stream_data_blocked' || f.type === 'streams_blocked';
}
