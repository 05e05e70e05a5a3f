import { AlertDescription, ConfigError, PqtlsError } from '../../errors.js';
import { concat, equalBytes } from '../../bytes.js';
import type { CryptoProvider } from '../../pq/provider.js';
import type { SessionStore } from '../../tls13/session.js';
import { resolveClientOptions, resolveServerOptions, type ClientOptions, type ResolvedClient, type ServerOptions } from '../../tls13/config.js';
import { Outbox, type HandshakeAction, type HandshakeInfo, type Level } from '../../tls13/handshake/common.js';
import { earlyDataSession, handleClient, startClient, type ClientState } from '../../tls13/handshake/client.js';
import { handleServer, startServer, type ServerState } from '../../tls13/handshake/server.js';
import { HandshakeType } from '../../tls13/constants.js';
import type { HandshakeMessage } from '../../tls13/messages/handshake.js';
import { QuicTransportError, TransportErrorCode, InvalidPacketError } from '../errors.js';
import { decodeFrames } from '../frames/decode.js';
import { FrameBudget, encodeFrames, encodeFramesGather, frameLength } from '../frames/encode.js';
import type { Frame } from '../frames/types.js';
import { headerLength, parsePacket, type OutgoingHeader, type ProtectedPacket, type RetryPacket, type VersionNegotiationPacket } from '../header.js';
import { OneRttKeys } from '../key-update.js';
import { deriveDirectionalKeys, initialKeys, quicCipherSuite, type DirectionalKeys, type QuicCipherSuite } from '../keys.js';
import { canSealSync, openPacket, sealPacket, sealPacketSync, type PayloadHole } from '../protection.js';
import { packetNumberLength } from '../packet-number.js';
import { verifyRetry } from '../retry.js';
import { isStatelessReset, statelessResetToken } from '../stateless-reset.js';
import {
  DEFAULT_TRANSPORT_PARAMETERS, decodeTransportParameters, encodeTransportParameters, type TransportParameters,
} from '../transport-parameters.js';
import { DEFAULT_VERSION_TABLE, versionTable, type QuicVersion, type QuicVersionTable } from '../versions.js';
import { Recovery, type SentPacket } from './recovery.js';
import type { RttSnapshot } from './rtt.js';
import type { CongestionControllerFactory } from './congestion/controller.js';
import { PACING_GAIN, Pacer, SLOW_START_PACING_GAIN } from './pacer.js';
import { DEFAULT_MTU_CEILING, MtuDiscovery, type MtuDiscoveryOptions } from './mtud.js';
import { LEVEL_OF, PacketSpace, type SpaceName } from './space.js';
import type { ValidatedAddress } from './address-validation.js';
import { DEFAULT_MAX_CONNECTION_WINDOW, DEFAULT_MAX_STREAM_WINDOW, StreamManager, type ReceiveWindowLimits, type StreamEvent } from './streams.js';
import { PeerConnectionIds } from './connection-ids.js';
import type { EndpointEvent, RemoteAddress, Transmit } from './path.js';
import type { QlogSink } from '../qlog.js';
import { QlogTrace } from './qlog-trace.js';
import { checkServerVersionInformation, serverChooseVersion, versionAfterNegotiation, versionInformationOf } from './version-negotiation.js';
import {
  EarlyPacketBuffer, checkRememberedNotReduced, checkTicketEarlyData, checkZeroRttFrame, earlyDataContext, versionScopedSealer, versionScopedStore,
} from './zero-rtt.js';
import { LocalConnectionIds } from './local-cids.js';
import { PendingPackets } from './pending-packets.js';
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
   * Version Negotiation (RFC 9000 §6.1). A server given this list switches a
   * client to its most preferred version the client also offers (compatible
   * version negotiation, RFC 9368 §2.3); without it, the client's version stays.
   */
  readonly versions?: readonly QuicVersion[];
  /** The version a client starts in: one of `versions`, by default the first. */
  readonly version?: QuicVersion;
  /** Largest UDP payload we send (default 1200, the minimum every path must carry). */
  readonly maxDatagramSize?: number;
  /**
   * Receives this connection's qlog events (src/quic/qlog.ts), with the same
   * `now` as the calls that raised them. One sink per connection.
   */
  readonly qlog?: QlogSink;
  /** Builds the connection's congestion controller: `cubic` (RFC 9438) by default, or `newReno` (RFC 9002 Appendix B) or another. */
  readonly congestionController?: CongestionControllerFactory;
  /**
   * DPLPMTUD (RFC 9000 §14.3): once the handshake is confirmed, probe for
   * datagrams larger than `maxDatagramSize`, up to `ceiling` (default 1452; a
   * number, or a function of each path's remote address) and the peer's
   * max_udp_payload_size. `false` keeps every datagram at `maxDatagramSize`.
   */
  readonly mtuDiscovery?: MtuDiscoveryOptions | false;
  /**
   * How far receive windows may grow (bytes, default 2 MiB, per stream and
   * per connection). They start at the initial_max_stream_data_* and
   * initial_max_data we advertise and double while the application reads a
   * half-window within two RTTs (auto-tuning); a ceiling no larger than the
   * initial window keeps that window fixed. This bounds what one connection
   * holds unread.
   */
  readonly receiveWindowLimits?: Partial<ReceiveWindowLimits>;
  /**
   * The smoothed RTT (ms) a previous connection to the same peer over the same network ended with, assumed
   * until this one's first sample instead of kInitialRtt's 333 ms (RFC 9002 §6.2.2). It sets the first PTO
   * (three times it): a lost first flight goes again after a few round trips, not after a second and then
   * two and four more, and many more probes fit in the idle timeout. A new path starts from kInitialRtt.
   */
  readonly initialRtt?: number;
}
export interface QuicClientOptions extends QuicCommonOptions {
  readonly tls: ClientOptions;
  /** The server's address, in the transport's own format (default `''`): where {@link QuicConnection.pollTransmit} sends. */
  readonly remote?: RemoteAddress;
  /**
   * Attempt 0-RTT (RFC 9001 §4.6.1) when `tls.sessionStore` holds a ticket for
   * the server that allows it: streams opened and written right after
   * {@link QuicConnection.connect} go out in 0-RTT packets, within the
   * transport parameters remembered with the ticket. See
   * {@link QuicConnection.earlyData} for the outcome; rejected data is resent in 1-RTT.
   * 0-RTT data can be replayed by an attacker: send only idempotent requests.
   */
  readonly earlyData?: boolean;
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
  /**
   * Whether a path key names the client as reached through the preferred
   * address (the transport's naming, e.g. the Node adapter's `pref|` prefix).
   * Given it, the server follows RFC 9000 §9.6.2: it sends non-probing packets
   * through the preferred address only once that path is validated, and once
   * there it drops newer packets that arrive at its original address. Without
   * it a move through the preferred address is handled as any migration (§9.3).
   */
  readonly viaPreferredAddress?: (remote: RemoteAddress) => boolean;
  /**
   * Acknowledge the client's Initial before the TLS step that answers its ClientHello (RFC 9000 §13.2.1: at
   * once), rather than with the first flight after it. That step signs the CertificateVerify, which with ML-DSA
   * in JavaScript takes tens of ms, and seconds on a loaded machine; the client's first RTT sample (RFC 9002
   * §5.3 takes it as it is) then measures the network, not the signing. The step runs from
   * {@link QuicConnection.handleTimeout}, which {@link QuicConnection.pollTimeout} asks for at once after the
   * ACK was polled: only for a driver that follows pollTimeout, as the Node adapter (which turns this on) does.
   */
  readonly ackClientHelloFirst?: boolean;
  // 0-RTT is accepted when `tls.earlyData` is given (its AntiReplay is the TLS one; its maxSize is
  // replaced by 0xffffffff, the only value QUIC allows in tickets, RFC 9001 §4.6.1).
}

const CID_LENGTH = 8;

function receiveWindowLimits(o: Partial<ReceiveWindowLimits> | undefined): ReceiveWindowLimits {
  const limits = { maxStreamWindow: o?.maxStreamWindow ?? DEFAULT_MAX_STREAM_WINDOW, maxConnectionWindow: o?.maxConnectionWindow ?? DEFAULT_MAX_CONNECTION_WINDOW };
  for (const [name, v] of Object.entries(limits)) {
    if (!Number.isSafeInteger(v) || v < 0) throw new ConfigError(`receiveWindowLimits.${name} must be a non-negative integer`);
  }
  return limits;
}

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
/** Frame bytes a packet must have room for to be worth building. */
const MIN_FRAME_ROOM = 32;

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
  /** Connection-ID changes the endpoint has not yet polled. */
  private readonly endpointEvents: EndpointEvent[] = [];
  private qlog: QlogTrace | undefined;
  private qlogAlpns: readonly string[] | undefined;

  /**
   * The tail of the asynchronous calls made on this connection: each runs after
   * the one before has finished (as `TlsConnection` does), so two datagrams
   * handed over without awaiting cannot interleave their decryptions, TLS
   * steps and acknowledgment state at an `await`.
   */
  private queue: Promise<unknown> = Promise.resolve();
  /** The version of the client's first Initial in this attempt, which 0-RTT packets keep (RFC 9368 §2.3). */
  private originalVersion: QuicVersion;
  /** The version in use: the original one, or the one compatible version negotiation chose (RFC 9368 §2.3). */
  private versionInUse: QuicVersion;
  /** The Destination Connection ID Initial keys are derived from (RFC 9001 §5.2), whatever the version. */
  private initialDcid: Uint8Array;
  /** Server: Initial keys of the original version, for client Initials sent before it saw our switch. */
  private originalInitialRead: DirectionalKeys | undefined;
  /** Server: the version chosen from the client's version_information, switched to before our first flight. */
  private pendingVersion: QuicVersion | undefined;
  /** Client: how to start over after a Version Negotiation packet, and whether it did (RFC 9000 §6.2). */
  private clientConfig: ResolvedClient | undefined;
  private clientStore: SessionStore | undefined;
  private vnRestarted = false;
  /** 0-RTT packet keys (RFC 9001 §4.6): the client writes with them, the server reads. */
  private zeroRttWrite: DirectionalKeys | undefined;
  private zeroRttRead: DirectionalKeys | undefined;
  /** The client's remembered server transport parameters its 0-RTT data is bound by (RFC 9000 §7.4.1). */
  private remembered: TransportParameters | undefined;
  private earlyStatus: 'none' | 'attempted' | 'accepted' | 'rejected' = 'none';
  /** Server: 0-RTT packets that came before the ClientHello was complete. */
  private readonly earlyPackets = new EarlyPacketBuffer();
  /** Handshake and 1-RTT packets that came before their keys (RFC 9001 §5.7), read once the keys are installed. */
  private readonly pendingPackets = new PendingPackets<PacketContext>();
  private readonly mtud: MtuDiscovery;
  /**
   * A DPLPMTUD probe is due that the window could hold but has no room for
   * now: new data waits until in-flight bytes leave it room (see {@link pollMtuProbe}).
   */
  private mtuProbeHeld = false;
  /** Outstanding packets whose frames a PTO probe queued again (RFC 9002 §6.2.4); their loss adds nothing. */
  private readonly requeuedByProbe = new WeakSet<SentPacket>();
  /**
   * Server: the client's Initial-level handshake messages (its ClientHello) whose TLS step waits until the ACK
   * of the Initial packets that brought them is out, and when the last of them came (see {@link onCrypto}).
   */
  private heldTls: { readonly messages: HandshakeMessage[]; since: number } | undefined;
  /** {@link peerResetTokens}' last answer and what it was made of. */
  private lastResetTokens: { readonly token: Uint8Array | undefined; readonly issued: readonly Uint8Array[]; readonly all: readonly Uint8Array[] } | undefined;
  /** Server: QuicServerOptions.ackClientHelloFirst. */
  private ackClientHelloFirst = false;
  /** Server: whether a client Initial already made us resend our Initial CRYPTO data before the PTO (RFC 9002 §6.2.3). */
  private initialSpedUp = false;
  private readonly pacer: Pacer;
  /** When the pacer lets waiting data go (RFC 9002 §7.7); a {@link pollTimeout} wake-up to send it. */
  private pacingWake: number | undefined;
  /** The paths to the peer (RFC 9000 §8.2, §9): the current one and any being validated. */
  private paths = new Paths('', true);
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
    private out: Outbox,
    version: QuicVersion,
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
    common: QuicCommonOptions,
  ) {
    this.originalVersion = version;
    this.versionInUse = version;
    this.initialDcid = originalDcid;
    const mtu = common.mtuDiscovery;
    const ceiling = mtu === false ? undefined : mtu?.ceiling ?? DEFAULT_MTU_CEILING;
    this.mtud = new MtuDiscovery(maxDatagramSize, typeof ceiling === 'number' ? Math.max(maxDatagramSize, ceiling) : ceiling);
    const congestionController = common.congestionController;
    this.addressValidated = tls.role === 'client';
    this.recovery = new Recovery({
      maxDatagramSize, isClient: tls.role === 'client', now, ...(congestionController ? { congestionController } : {}), ...(common.initialRtt !== undefined ? { previousRtt: common.initialRtt } : {}),
    });
    this.pacer = new Pacer(this.recovery.rtt.smoothed, this.recovery.congestionWindow, maxDatagramSize, now);
    this.streams = new StreamManager(tls.role, localParams, receiveWindowLimits(common.receiveWindowLimits));
    this.lastActivity = now;
    this.localCids = new LocalConnectionIds(localCid, this.endpointEvents);
  }

  /** The largest datagram we send now: the base size, raised by DPLPMTUD (RFC 9000 §14.3). */
  get maxDatagramSize(): number {
    return this.mtud.current;
  }

  get role(): 'client' | 'server' {
    return this.tls.role;
  }
  /** The QUIC version in use; a server may have switched a client to a compatible one (RFC 9368). */
  get version(): QuicVersion {
    return this.versionInUse;
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
  /**
   * 0-RTT (RFC 9001 §4.6): `attempted` while a client's 0-RTT data awaits the
   * server's answer, then `accepted` or `rejected` (rejected data is resent in
   * 1-RTT packets); a server reports what it did with a client's offer.
   */
  get earlyData(): 'none' | 'attempted' | 'accepted' | 'rejected' {
    return this.earlyStatus;
  }

  /** Starts a client: its first Initial is ready in {@link pollTransmit}. */
  static async connect(options: QuicClientOptions, now: number): Promise<QuicConnection> {
    const p = options.tls.provider;
    const versions = versionsOf(options);
    const version = options.version ?? (versions.versions[0] as QuicVersion);
    if (versions.get(version.number) !== version) throw new ConfigError(`version ${version.name} is not one of the endpoint's versions`);
    const dcid = await p.random(CID_LENGTH);
    const scid = await p.random(CID_LENGTH);
    const params: TransportParameters = {
      ...DEFAULT_TRANSPORT_PARAMETERS, ...QUIC_DEFAULT_LIMITS,
      // RFC 9368 §3: our versions, so that a server preferring another one we speak can switch us to it.
      versionInformation: versionInformationOf(version, versions),
      ...options.transportParameters, initialSourceConnectionId: scid,
    };
    // Tickets are per QUIC version (RFC 9369 §5): `c` is set before any ticket can arrive.
    let c: QuicConnection | undefined;
    const store = options.tls.sessionStore;
    const sessionStore = store && versionScopedStore(store, version, () => c?.versionInUse ?? version);
    const cfg = resolveClientOptions({ ...options.tls, middleboxCompat: false, ...(sessionStore ? { sessionStore } : {}) });
    const { state, out } = await startClient(cfg, { transportParameters: encodeTransportParameters(params), earlyData: options.earlyData === true });
    c = new QuicConnection(p, { role: 'client', s: state }, out, version, versions, scid, dcid, dcid, params, now, options.maxDatagramSize ?? MIN_INITIAL_DATAGRAM, options);
    c.paths = new Paths(options.remote ?? '', true);
    c.preferredAddressRemote = options.preferredAddressRemote;
    c.startQlog(options, now);
    c.clientConfig = cfg;
    c.clientStore = store;
    const session = earlyDataSession(state);
    if (session?.quicTransportParameters) {
      // 0-RTT data is bound by the limits the server gave the connection that got the ticket (RFC 9000 §7.4.1).
      c.remembered = decodeTransportParameters(session.quicTransportParameters, 'server');
      c.earlyStatus = 'attempted';
      c.streams.setPeerLimits(c.remembered);
    }
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
    // RFC 9001 §4.6.1: a ticket allowing 0-RTT says max_early_data_size 0xffffffff; the transport parameters bound the data.
    const early = options.tls.earlyData;
    let s: QuicConnection | undefined;
    // Tickets are per QUIC version (RFC 9369 §5): sealed with the negotiated one, opened only for the client's first Initial's.
    const tickets = options.tls.tickets;
    const sealer = tickets && versionScopedSealer(tickets.sealer, first.version, () => s?.versionInUse ?? (first.version as QuicVersion));
    const cfg = resolveServerOptions({
      ...options.tls,
      ...(early ? { earlyData: { ...early, maxSize: 0xffffffff } } : {}),
      ...(tickets && sealer ? { tickets: { ...tickets, sealer } } : {}),
    });
    const state = startServer(cfg, {
      // Called with the client's transport parameters, before our first flight: compatible version negotiation
      // picks the version here, and ours say which it is (RFC 9368 §2.3, §4).
      transportParameters: (clientTp) => {
        // Without a stated preference (`versions`) the server keeps the client's choice: the default order
        // (v1 first) is the order a client starts in, not a reason to move a v2 client back to v1.
        const chosen = options.versions === undefined ? (first.version as QuicVersion)
          : serverChooseVersion(first.version as QuicVersion, versions, decodeTransportParameters(clientTp, 'client').versionInformation);
        if (s && chosen !== s.versionInUse) s.pendingVersion = chosen;
        return encodeTransportParameters({ ...params, versionInformation: versionInformationOf(chosen, versions) });
      },
      earlyDataContext: earlyDataContext(params),
    });
    s = new QuicConnection(
      p, { role: 'server', s: state }, new Outbox(cfg.keyLog, new Uint8Array(32)), first.version, versions, scid, first.scid.slice(),
      (validated?.originalDcid ?? first.dcid).slice(), params, now, options.maxDatagramSize ?? MIN_INITIAL_DATAGRAM, options,
    );
    // A returned Retry token proves the address: no amplification limit (RFC 9000 §8.1).
    if (validated) s.addressValidated = true;
    s.ackClientHelloFirst = options.ackClientHelloFirst === true;
    s.paths = new Paths(remote, true);
    if (preferred) s.paths.viaPreferred = options.viaPreferredAddress;
    s.statelessResetKey = options.statelessResetKey;
    // Its connection ID is sequence 1 (RFC 9000 §5.1.1), routed from the start: the client may probe it once confirmed.
    if (preferred) s.localCids.addPreferred(preferred.connectionId, preferred.statelessResetToken);
    s.startQlog(options, now);
    await s.installInitialKeys(first.dcid);
    await s.handleDatagram(datagram, now, remote);
    // The client's connection ID came from the header: only an Initial that decrypted authenticates it (a
    // corrupted copy would otherwise fix the wrong one, and the real handshake fail on transport parameters).
    if (!s.receivedFromPeer) throw new InvalidPacketError('the first Initial does not decrypt (RFC 9001 §5.5)');
    return s;
  }

  private async installInitialKeys(dcid: Uint8Array): Promise<void> {
    this.initialDcid = dcid;
    const keys = await initialKeys(this.provider, this.version, dcid);
    const sp = this.spaces.initial;
    sp.write = this.role === 'client' ? keys.client : keys.server;
    sp.read = this.role === 'client' ? keys.server : keys.client;
    this.qlog?.keyUpdated(undefined, 'initial', 'write', 'tls');
    this.qlog?.keyUpdated(undefined, 'initial', 'read', 'tls');
  }

  // ---- qlog ----

  private startQlog(options: QuicClientOptions | QuicServerOptions, now: number): void {
    if (!options.qlog) return;
    this.qlog = new QlogTrace(options.qlog, this.role, this.originalDcid, now);
    this.qlogAlpns = options.tls.alpnProtocols;
    this.qlog.started(now, { localCid: this.localCid, remoteCid: this.remoteCid, version: this.version.number, versions: this.versions.numbers, params: this.localParams });
  }

  private qlogMetrics(now: number): void {
    const r = this.recovery;
    this.qlog?.metrics(now, { rtt: r.rtt, congestionWindow: r.congestionWindow, bytesInFlight: r.bytesInFlight, ssthresh: r.ssthresh, ptoCount: r.ptoCount });
  }

  /** connection_state_updated on each transition; connection_closed with the report of the `closed` event on entering closing. */
  private qlogState(now: number | undefined, closed?: Extract<QuicEvent, { type: 'closed' }>): void {
    const q = this.qlog;
    if (!q) return;
    const state = this.closeState?.kind ?? (this.confirmed ? 'handshake_confirmed' : this.handshakeDone ? 'handshake_complete' : this.receivedFromPeer ? 'handshake_started' : 'attempted');
    if (this.closeState && !this.qlogClosed) {
      this.qlogClosed = true;
      // The `closed` event, unless already being polled: it is still queued.
      const report = closed ?? [...this.events].reverse().find((e) => e.type === 'closed');
      if (report?.type === 'closed') q.closed(now, report);
    }
    q.setState(now, state);
  }
  private qlogClosed = false;

  /**
   * Called (synchronously) by every call that may give this connection
   * something new to send, whoever makes it: the application's writes and
   * closes, datagrams and timers. An endpoint sets it to poll only connections
   * that may have work, not all of them (src/quic/endpoint.ts).
   */
  onActivity: (() => void) | undefined = undefined;

  private serial<T>(f: () => Promise<T>): Promise<T> {
    const run = this.queue.then(f);
    this.queue = run.catch(() => undefined);
    return run;
  }

  // ---- events and streams ----

  poll(): QuicEvent | undefined {
    const e = this.events.shift();
    if (e?.type === 'datagram') this.datagramEvents--;
    if (e?.type === 'closed') this.qlogState(undefined, e);
    if (e) return e;
    const s = this.streams.pollEvent();
    return s ? { type: 'stream', event: s } : undefined;
  }

  openStream(bidirectional = true): number {
    this.onActivity?.();
    return this.streams.open(bidirectional);
  }
  /**
   * Queues `data` (and with `fin` the stream's end) on stream `id`. The bytes
   * are copied, so the caller may reuse `data` at once. With `copy: false` the
   * connection keeps `data` itself until the peer acknowledged it — quinn's
   * `write_chunk`, quiche's zero-copy send: for a large body (a file read into
   * memory, a fixed response) the copy and its fresh allocation are most of
   * what a write costs. The caller must then never change those bytes again.
   */
  writeStream(id: number, data: Uint8Array, fin = false, options?: { readonly copy?: boolean }): void {
    this.onActivity?.();
    this.streams.write(id, data, fin, options?.copy !== false);
  }
  readStream(id: number, max?: number): { data: Uint8Array; fin: boolean } | undefined {
    return this.readFrom(id, max, false);
  }
  /**
   * {@link readStream}, but at most the bytes one received STREAM frame
   * brought, as a view (of the packet they came in, or of the reassembly
   * buffer once frames arrived out of order): never a copy, however much is
   * readable. A reader that takes the bytes piece by piece (a hash, a file, a
   * socket) calls it until it returns undefined; each piece costs no array.
   */
  readStreamChunk(id: number, max?: number): { data: Uint8Array; fin: boolean } | undefined {
    return this.readFrom(id, max, true);
  }
  private readFrom(id: number, max: number | undefined, chunk: boolean): { data: Uint8Array; fin: boolean } | undefined {
    const r = this.streams.read(id, max, chunk);
    // Reading frees flow-control credit: a MAX_STREAM_DATA/MAX_DATA may follow (or MAX_STREAMS, once a stream is
    // done), and then there is something to send. Most reads free too little for an update (§4.2: one per half
    // window), and a reader keeping up reads after every batch of datagrams: those leave the endpoint nothing to
    // ask this connection for.
    if (this.streams.hasPendingFrames) this.onActivity?.();
    return r;
  }
  resetStream(id: number, errorCode: number): void {
    this.onActivity?.();
    this.streams.reset(id, errorCode);
  }
  stopSending(id: number, errorCode: number): void {
    this.onActivity?.();
    this.streams.stopSending(id, errorCode);
  }

  /**
   * Starts a 1-RTT key update (RFC 9001 §6.1): later packets use the next
   * key generation and the flipped key phase. Allowed once the handshake is
   * confirmed and the previous update has been acknowledged.
   */
  updateKeys(now: number): Promise<void> {
    this.onActivity?.();
    return this.serial(() => this.startKeyUpdate(now));
  }

  private async startKeyUpdate(now: number): Promise<void> {
    if (!this.confirmed || !this.oneRtt) throw new ConfigError('key updates wait until the handshake is confirmed (RFC 9001 §6.1)');
    if (this.updateAwaitingAck !== undefined) throw new ConfigError('the previous key update is not acknowledged yet (RFC 9001 §6.1)');
    await this.oneRtt.initiateKeyUpdate();
    this.qlog?.keyUpdated(now, 'application', 'write', 'local_update', this.oneRtt.updates);
    this.qlog?.keyUpdated(now, 'application', 'read', 'local_update', this.oneRtt.updates);
    this.updateAwaitingAck = this.spaces.application.nextPn;
    this.discardPreviousKeysAt = now + 3 * this.pto();
  }

  /** The RTT estimate (RFC 9002 §5), in ms. */
  get rtt(): RttSnapshot {
    return this.recovery.rtt;
  }

  /** The congestion window and the bytes in flight (RFC 9002 §7), for diagnostics. */
  get congestion(): { readonly window: number; readonly bytesInFlight: number; readonly ssthresh: number } {
    return { window: this.recovery.congestionWindow, bytesInFlight: this.recovery.bytesInFlight, ssthresh: this.recovery.ssthresh };
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
    const frameSize = frameLength({ type: 'datagram', data, hasLength: true });
    // Against the base size: a black hole can take the datagram size back down to it (RFC 8899 §4.3).
    if (frameSize > max || frameSize > this.mtud.base - 64) throw new ConfigError(`a ${data.length}-byte datagram does not fit the peer's limit of ${max}`);
    this.datagrams.push(data.slice());
    this.onActivity?.();
  }

  /** Closes the connection with an application error code (RFC 9000 §10.2). */
  close(now: number, errorCode = 0, reason = ''): void {
    if (this.closeState) return;
    this.onActivity?.();
    const frame: Frame = this.handshakeDone
      ? { type: 'connection_close', application: true, errorCode, frameType: 0, reason: new TextEncoder().encode(reason) }
      // Before the handshake, an application close is sent as a transport APPLICATION_ERROR (§10.2.3).
      : { type: 'connection_close', application: false, errorCode: TransportErrorCode.APPLICATION_ERROR, frameType: 0, reason: new Uint8Array(0) };
    this.enterClosing(now, frame, { local: true, code: errorCode, application: true, reason });
  }

  private enterClosing(now: number, frame: Frame, report: Omit<Extract<QuicEvent, { type: 'closed' }>, 'type'>): void {
    this.closeState = { kind: 'closing', until: now + 3 * this.pto(), frame };
    this.events.push({ type: 'closed', ...report });
    this.dropHeld(now);
  }

  /**
   * Once the connection closes, nothing held for keys or for its turn will be read (RFC 9000 §10.2.1 keeps
   * only what makes the CONNECTION_CLOSE; RFC 9001 §4.9, §5.7): packets kept until their keys came, 0-RTT
   * kept for the ClientHello's answer, and a TLS step kept behind its ACK are let go now, each packet
   * logged as dropped, rather than held for as long as the application keeps the connection object.
   */
  private dropHeld(now: number): void {
    if (this.pendingPackets.size > 0) {
      for (const p of this.pendingPackets.take(takeAll)) this.qlog?.packetDropped(now, { type: p.type }, p.bytes.length, 'key_unavailable');
    }
    if (this.earlyPackets.size > 0) {
      for (const bytes of this.earlyPackets.drain()) this.qlog?.packetDropped(now, { type: '0rtt' }, bytes.length, 'key_unavailable');
    }
    this.heldTls = undefined;
  }

  private pto(): number {
    const r = this.recovery.rtt;
    return r.smoothed + Math.max(4 * r.rttvar, 1) + (this.peerParams?.maxAckDelay ?? 25);
  }

  // ---- receiving ----

  /**
   * Processes one UDP datagram from the peer, received from `remote` (default:
   * the current path's address). Errors close the connection; nothing is
   * thrown for bad input. The datagram is given up: packets are unprotected
   * and decrypted over it, and received stream data may stay views of it
   * until read, so the caller must not reuse or change it afterwards.
   */
  handleDatagram(datagram: Uint8Array, now: number, remote: RemoteAddress = this.paths.current.remote): Promise<void> {
    this.onActivity?.();
    return this.serial(() => this.receiveDatagram(datagram, now, remote));
  }

  private async receiveDatagram(datagram: Uint8Array, now: number, remote: RemoteAddress): Promise<void> {
    // §10.2.2: a draining (or closed) connection reads nothing and sends nothing.
    if (this.closeState) return this.closeState.kind === 'closing' ? this.receiveWhileClosing(this.closeState, datagram, now, remote) : undefined;
    this.bytesReceived += datagram.length;
    this.qlog?.tick(now);
    const from: PacketContext = { remote, datagramBytes: datagram.length, dcid: NO_DCID, authenticated: false, receivedAt: now };
    try {
      // Each async call costs a promise and a saved frame per datagram: made only when there is something held.
      if (this.heldTls) await this.runHeldTls(now);
      await this.handlePackets(datagram, now, from);
    } catch (e) {
      this.fail(e, now);
    }
    // §8.1, §9.3.1: what a path may be sent grows with what authenticated packets brought from it.
    if (from.authenticated) this.paths.onReceived(remote, datagram.length);
  }

  /** Datagrams received in the closing state, and the count at which the CONNECTION_CLOSE goes again. */
  private closingReceived = 0;
  private closingAnswerAt = 1;

  /**
   * RFC 9000 §10.2.1: in the closing state, a packet from the peer is answered with the CONNECTION_CLOSE
   * again — the peer is still sending because it has not heard it — at a rate that falls off: after 1, 2,
   * 4, 8… datagrams. Unanswered, a peer whose CONNECTION_CLOSE was lost resends its data until its idle
   * timeout (a pqtls server did for 30 s per connection in the interop case handshakecorruption).
   */
  private answerWhileClosing(c: NonNullable<QuicConnection['closeState']>): void {
    if (++this.closingReceived < this.closingAnswerAt) return;
    this.closingAnswerAt *= 2;
    c.sent = false;
  }

  /**
   * RFC 9000 §10.2.1: the closing state keeps only what identifies the connection's packets and makes
   * its CONNECTION_CLOSE. A packet is still opened, with the keys already held, for one thing: the peer's
   * own CONNECTION_CLOSE, which moves the connection to draining (§10.2.2). Every other frame is left
   * unread — no stream data, no events, no ACK, loss or congestion processing, no connection IDs, no path
   * validation — and nothing new is made: no key update is followed (§10.2.1), no packet is held for
   * keys that will not come, no version is switched to. What a datagram costs is opening its packets,
   * as before the close.
   */
  private async receiveWhileClosing(c: NonNullable<QuicConnection['closeState']>, datagram: Uint8Array, now: number, remote: RemoteAddress): Promise<void> {
    // §10.2.1: packets from an unvalidated address are discarded (the CONNECTION_CLOSE goes on the path in
    // use, the only one this connection vouches for), and any other path is one we stopped validating.
    if (remote !== this.paths.current.remote) return;
    this.bytesReceived += datagram.length;
    this.qlog?.tick(now);
    this.answerWhileClosing(c);
    let closedByPeer = false;
    try {
      for (let offset = 0; offset < datagram.length && !closedByPeer;) {
        const parsed = parsePacket(datagram, offset, { shortDcidLength: CID_LENGTH, versions: this.versions });
        offset = parsed.next;
        if ('pnOffset' in parsed.packet) closedByPeer = await this.carriesConnectionClose(parsed.packet);
      }
    } catch {
      // §12.2: the rest of a datagram that does not parse is dropped. A frame that does not decode, or any
      // other failure, has no one to go to: the connection already closed, and §10.2.1 asks for no frame.
    }
    if (!closedByPeer && !this.isResetFromPeer(datagram)) return;
    // §10.2.2: from closing to draining, the end time stays the closing state's; the application had its
    // `closed` event when the connection closed, and gets no second.
    this.closeState = { kind: 'draining', until: c.until };
    this.qlogState(now);
  }

  /** Whether `pkt` opens with the keys held and carries a CONNECTION_CLOSE (for {@link receiveWhileClosing}: nothing else is acted on). */
  private async carriesConnectionClose(pkt: ProtectedPacket): Promise<boolean> {
    const space = this.spaceOf(pkt.type);
    if (!space || space.discarded) return false;
    let opened;
    if (pkt.type === '1rtt') opened = this.oneRtt && await this.oneRtt.open(pkt, space.largestReceived, false);
    else if (pkt.type === '0rtt') opened = this.zeroRttRead && await openPacket(this.zeroRttRead, pkt, space.largestReceived);
    else opened = space.read && pkt.version === this.versionInUse && await openPacket(space.read, pkt, space.largestReceived);
    if (!opened) return false;
    const frames = decodeFrames(opened.payload, pkt.type, { maxDatagramFrameSize: this.localParams.maxDatagramFrameSize });
    return frames.some(isConnectionClose);
  }

  private async handlePackets(datagram: Uint8Array, now: number, from: PacketContext): Promise<void> {
    {
      let offset = 0;
      while (offset < datagram.length) {
        let parsed;
        try {
          parsed = parsePacket(datagram, offset, { shortDcidLength: CID_LENGTH, versions: this.versions });
        } catch (e) {
          if (e instanceof InvalidPacketError) { // §12.2: the rest of the datagram is dropped
            this.qlog?.packetDropped(now, undefined, datagram.length - offset, 'invalid');
            return;
          }
          throw e;
        }
        offset = parsed.next;
        const pkt = parsed.packet;
        // §14.1: a server MUST discard a client Initial in a datagram under 1200 bytes (first or not).
        if (pkt.type === 'initial' && this.role === 'server' && datagram.length < MIN_INITIAL_DATAGRAM) continue;
        if (pkt.type === 'retry') await this.onRetry(pkt);
        else if (pkt.type === 'version-negotiation') await this.onVersionNegotiation(pkt, now);
        else if ('pnOffset' in pkt) {
          const processed = await this.onPacket(pkt, now, from);
          if (processed === 'held') continue;
          // Read what this packet's keys freed before the packets after it: arrival order.
          if (processed && this.pendingPackets.size > 0) await this.replayPendingPackets(now, from);
          if (!processed) this.qlog?.packetDropped(now, { type: pkt.type, dcid: pkt.dcid }, pkt.bytes.length, this.keysFor(pkt.type) ? 'decryption_failure' : 'key_unavailable');
          if (!processed && this.isResetFromPeer(datagram)) return this.onStatelessReset(now);
        }
        if (this.closeState) return;
      }
      if (this.earlyPackets.size > 0) await this.replayEarlyPackets(now);
    }
  }

  /**
   * Keeps a packet that came before its keys (RFC 9001 §5.7: a server MAY
   * buffer 1-RTT packets until its handshake is complete; §4.1.4: likewise
   * packets of a level whose keys are not yet installed). Full buffer: dropped.
   */
  private holdUntilKeys(type: 'handshake' | '1rtt', pkt: ProtectedPacket, now: number, from: PacketContext): 'held' | false {
    if (!this.pendingPackets.push(type, pkt.bytes, from)) return false;
    this.qlog?.packetBuffered(now, { type, dcid: pkt.dcid }, pkt.bytes.length);
    return 'held';
  }

  /**
   * Reads the held packets whose keys have come, in arrival order. A Handshake
   * packet read here may bring the Finished that installs the 1-RTT keys, so
   * this goes round until nothing more becomes readable.
   */
  private async replayPendingPackets(now: number, current: PacketContext): Promise<void> {
    // A discarded Handshake space counts as ready: what was held for it is then dropped by onPacket.
    const ready = (type: 'handshake' | '1rtt'): boolean => type === '1rtt' ? this.oneRtt !== undefined
      : this.spaces.handshake.read !== undefined || this.spaces.handshake.discarded;
    for (let batch = this.pendingPackets.take(ready); batch.length > 0; batch = this.pendingPackets.take(ready)) {
      for (const p of batch) {
        if (this.closeState) return;
        let parsed;
        try {
          parsed = parsePacket(p.bytes, 0, { shortDcidLength: CID_LENGTH, versions: this.versions });
        } catch (e) {
          if (e instanceof InvalidPacketError) continue;
          throw e;
        }
        const pkt = parsed.packet;
        if (!('pnOffset' in pkt)) continue;
        const credited = p.context.authenticated;
        const processed = await this.onPacket(pkt, now, p.context);
        if (processed === false) this.qlog?.packetDropped(now, { type: pkt.type, dcid: pkt.dcid }, pkt.bytes.length, 'decryption_failure');
        // §8.1: the datagram it came in now counts toward the 3× limit, once (the current one is credited by our caller).
        if (!credited && p.context.authenticated && p.context !== current) this.paths.onReceived(p.context.remote, p.context.datagramBytes);
      }
    }
  }

  /** Server: whether a 0-RTT packet without keys may still become readable (the ClientHello is not yet answered). */
  private earlyUndecided(): boolean {
    return this.role === 'server' && this.earlyStatus === 'none' && !this.spaces.handshake.write && !this.handshakeDone;
  }

  /** Server: the 0-RTT packets held for the ClientHello, once it has been answered: read with the 0-RTT keys, or dropped. */
  private async replayEarlyPackets(now: number): Promise<void> {
    if (this.earlyPackets.size === 0 || this.earlyUndecided()) return;
    for (const bytes of this.earlyPackets.drain()) {
      if (!this.zeroRttRead || this.closeState) return;
      let parsed;
      try {
        parsed = parsePacket(bytes, 0, { shortDcidLength: CID_LENGTH, versions: this.versions });
      } catch (e) {
        if (e instanceof InvalidPacketError) continue;
        throw e;
      }
      // Held 0-RTT came on the handshake's path, before any migration could happen.
      const from: PacketContext = { remote: this.paths.current.remote, datagramBytes: bytes.length, dcid: new Uint8Array(0), authenticated: false, receivedAt: now };
      if (parsed.packet.type === '0rtt') await this.onPacket(parsed.packet, now, from);
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
    this.qlog?.packetReceived(undefined, { type: 'retry', dcid: pkt.dcid, scid: pkt.scid }, [], pkt.bytes.length, 0);
    this.retryToken = pkt.token.slice();
    this.remoteCid = pkt.scid.slice();
    this.retrySourceCid = pkt.scid.slice();
    await this.installInitialKeys(pkt.scid);
    // The ClientHello goes again, in a new Initial, from offset 0 (§17.2.5.3).
    this.recovery.discardSpace('initial');
    this.spaces.initial.cryptoSend.retransmitUnacked();
    // 0-RTT packets sent before the Retry reached no connection: their data goes again, to the new
    // connection ID, in 0-RTT packets while those are still allowed (§17.2.5.3).
    for (const p of this.recovery.discardSpace('application')) this.onPacketLost(p);
  }

  private async onVersionNegotiation(pkt: VersionNegotiationPacket, now: number): Promise<void> {
    // §6.2: only before anything else from the server, only one, and never one that lists the version we tried.
    if (this.role !== 'client' || this.receivedFromPeer || this.retried || this.vnRestarted || pkt.versions.includes(this.version.number)) return;
    // §17.2.1: its connection IDs must echo those of a packet we sent, or it is discarded: anyone can forge one.
    if (!equalBytes(pkt.dcid, this.localCid) || !equalBytes(pkt.scid, this.remoteCid)) return;
    // RFC 9368 §2.1: a version we speak, and we start over in it; the server's version_information
    // later shows whether the packet was forged to push us down (§4).
    const next = versionAfterNegotiation(this.versions, this.version, pkt.versions);
    if (next && this.clientConfig) return this.restartIn(next);
    // §6.2: a client that gets no version it supports gives up.
    this.closeState = { kind: 'closed', until: now };
    this.dropHeld(now);
    this.events.push({ type: 'closed', local: false, code: 0, application: false, reason: `version negotiation: server offers ${pkt.versions.map((v) => v.toString(16)).join(', ')}` });
  }

  private keysFor(type: ProtectedPacket['type']): boolean {
    const space = this.spaceOf(type);
    return space !== undefined && !space.discarded && (type === '1rtt' ? this.oneRtt !== undefined : space.read !== undefined);
  }

  /**
   * A new connection attempt in `v` after Version Negotiation (RFC 9000 §6.2,
   * RFC 9368 §2.1): a new ClientHello whose version_information names `v`, in
   * a fresh Initial space (packet numbers go on: nothing of the first attempt
   * is acknowledged). 0-RTT is not attempted again; data written for it waits
   * for 1-RTT, as after a rejection.
   */
  private async restartIn(v: QuicVersion): Promise<void> {
    const store = this.clientStore;
    // Tickets for the new version only (RFC 9369 §5).
    const cfg: ResolvedClient = { ...(this.clientConfig as ResolvedClient), sessionStore: store && versionScopedStore(store, v, () => this.versionInUse) };
    this.vnRestarted = true;
    this.versionInUse = v;
    this.originalVersion = v;
    const params: TransportParameters = { ...this.localParams, versionInformation: versionInformationOf(v, this.versions) };
    const { state, out } = await startClient(cfg, { transportParameters: encodeTransportParameters(params) });
    this.tls = { role: 'client', s: state };
    this.out = out;
    const nextPn = this.spaces.initial.nextPn;
    this.spaces.initial = new PacketSpace('initial');
    this.spaces.initial.nextPn = nextPn;
    this.recovery.discardSpace('initial');
    if (this.zeroRttWrite) {
      this.zeroRttWrite = undefined;
      this.earlyStatus = 'rejected';
      for (const p of this.recovery.discardSpace('application')) this.onPacketLost(p);
    }
    await this.installInitialKeys(this.initialDcid);
    await this.applyTls();
  }

  private spaceOf(type: ProtectedPacket['type']): PacketSpace | undefined {
    if (type === 'initial') return this.spaces.initial;
    if (type === 'handshake') return this.spaces.handshake;
    if (type === '1rtt') return this.spaces.application;
    // 0-RTT and 1-RTT share the application data space (RFC 9000 §12.3); only a server receives 0-RTT.
    return this.role === 'server' ? this.spaces.application : undefined;
  }

  /**
   * A long-header packet in a version other than the one in use (RFC 9368 §2.3).
   * A server still reads the client's Initials in the original version. A
   * client takes a server Initial in another of its versions, before the
   * ServerHello, as compatible version negotiation, and switches once it
   * decrypts: from then on it sends that version too. Anything else is dropped.
   */
  private async openInOtherVersion(pkt: ProtectedPacket, space: PacketSpace): Promise<Awaited<ReturnType<typeof openPacket>>> {
    const v = pkt.version;
    if (!v || pkt.type !== 'initial') return null;
    if (this.role === 'server') {
      return v === this.originalVersion && this.originalInitialRead ? openPacket(this.originalInitialRead, pkt, space.largestReceived) : null;
    }
    // Until the server's ServerHello: a server may acknowledge the first part of our ClientHello before the
    // whole of it tells it which version to choose. One switch only.
    if (this.spaces.handshake.read || this.versionInUse !== this.originalVersion || v !== this.versions.get(v.number)) return null;
    const keys = await initialKeys(this.provider, v, this.initialDcid);
    const opened = await openPacket(keys.server, pkt, space.largestReceived);
    if (!opened) return null;
    this.versionInUse = v;
    space.read = keys.server;
    space.write = keys.client;
    return opened;
  }

  /**
   * The stateless reset tokens that end this connection (RFC 9000 §10.3.1):
   * an endpoint indexes them to find, for a datagram to no connection ID it
   * routes, the one connection it may reset.
   */
  peerResetTokens(): readonly Uint8Array[] {
    const token = this.role === 'client' ? this.peerParams?.statelessResetToken : undefined;
    // §10.3.1: the token of any connection ID the peer issued us (§19.15) counts, as does the handshake's.
    const issued = this.peerCids?.resetTokens() ?? NO_TOKENS;
    // The endpoint asks after every datagram: the same list while neither part changed (no allocation).
    const last = this.lastResetTokens;
    if (last && last.token === token && last.issued === issued) return last.all;
    const all = token ? [token, ...issued] : issued;
    this.lastResetTokens = { token, issued, all };
    return all;
  }

  /** A datagram we could not use whose tail is the peer's stateless reset token (RFC 9000 §10.3.1). */
  private isResetFromPeer(datagram: Uint8Array): boolean {
    const tokens = this.peerResetTokens();
    return tokens.length > 0 && isStatelessReset(datagram, tokens);
  }

  private onStatelessReset(now: number): void {
    // §10.3.1: the peer lost the connection; enter draining without sending anything.
    this.closeState = { kind: 'draining', until: now + 3 * this.pto() };
    this.dropHeld(now);
    this.events.push({ type: 'closed', local: false, code: TransportErrorCode.NO_ERROR, application: false, reason: 'stateless reset' });
  }

  /** Returns false if the packet could not be decrypted (or has no keys), 'held' if kept until its keys come, true once processed. */
  private async onPacket(pkt: ProtectedPacket, now: number, from: PacketContext): Promise<boolean | 'held'> {
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
      // §5.7 of RFC 9001: a server installs its 1-RTT read keys at handshake completion; before then, as a client's before the server's Finished, held.
      if (!this.oneRtt) return this.holdUntilKeys('1rtt', pkt, now, from);
      // Without a promise when the keys allow it; a packet starting a key update takes the asynchronous path.
      opened = this.oneRtt.synchronous ? this.oneRtt.openSync(pkt, space.largestReceived) : undefined;
      if (opened === undefined) opened = await this.oneRtt.open(pkt, space.largestReceived);
    } else if (pkt.type === '0rtt') {
      if (!this.zeroRttRead) {
        if (this.earlyUndecided()) this.earlyPackets.push(pkt.bytes);
        return false;
      }
      opened = await openPacket(this.zeroRttRead, pkt, space.largestReceived);
    } else if (pkt.type === 'handshake' && !space.read) {
      return this.holdUntilKeys('handshake', pkt, now, from);
    } else if (pkt.version !== this.versionInUse) {
      opened = await this.openInOtherVersion(pkt, space);
    } else {
      if (!space.read) return false;
      opened = await openPacket(space.read, pkt, space.largestReceived);
    }
    if (!opened) return false; // §12.2: undecryptable packets are dropped
    if ('peerInitiatedKeyUpdate' in opened && opened.peerInitiatedKeyUpdate) {
      // §6.2: a second update before we acknowledged the first under the new keys: each update costs a key
      // derivation, and a peer flipping the key phase on every packet would make every packet cost one.
      if (this.peerUpdateUnacked) throw new QuicTransportError(TransportErrorCode.KEY_UPDATE_ERROR, 'the peer updated its keys again before our acknowledgment of the last update');
      this.qlog?.keyUpdated(now, 'application', 'read', 'remote_update', this.oneRtt?.updates);
      this.qlog?.keyUpdated(now, 'application', 'write', 'remote_update', this.oneRtt?.updates);
      this.peerUpdateUnacked = true;
      this.discardPreviousKeysAt = now + 3 * this.pto();
    }
    if (space.acks.isDuplicate(opened.packetNumber)) {
      this.qlog?.packetDropped(now, { type: pkt.type, packetNumber: opened.packetNumber, dcid: pkt.dcid }, pkt.bytes.length, 'duplicate');
      return true;
    }
    from.authenticated = true;
    from.dcid = pkt.dcid;
    const highest = opened.packetNumber > space.largestReceived;
    if (this.role === 'server' && pkt.type === '1rtt' && highest && this.paths.leftForPreferred(from.remote)) {
      // §9.6.2: the connection moved to our preferred address; newer packets at the original one are dropped
      // (delayed ones, not the highest, are still read), and cannot pull the connection back.
      this.qlog?.packetDropped(now, { type: pkt.type, packetNumber: opened.packetNumber, dcid: pkt.dcid }, pkt.bytes.length, 'rejected');
      return true;
    }
    if (this.role === 'client' && !this.receivedFromPeer && pkt.type !== '1rtt') {
      // §7.2: the client adopts the server's chosen connection ID.
      this.remoteCid = pkt.scid.slice();
      this.serverScid = this.remoteCid;
    }
    if (!this.receivedFromPeer) this.qlog?.setState(now, 'handshake_started');
    this.receivedFromPeer = true;
    this.lastActivity = now;
    space.largestReceived = Math.max(space.largestReceived, opened.packetNumber);
    if (this.role === 'server' && pkt.type === 'handshake') {
      // §8.1: a Handshake packet proves the address; §4.9.1 of RFC 9001: Initial keys go.
      this.addressValidated = true;
      this.discardSpace('initial');
    }
    const frames = decodeFrames(opened.payload, pkt.type, { maxDatagramFrameSize: this.localParams.maxDatagramFrameSize });
    this.qlog?.packetReceived(now, { type: pkt.type, packetNumber: opened.packetNumber, dcid: pkt.dcid, scid: pkt.type === '1rtt' ? undefined : pkt.scid },
      frames, pkt.bytes.length, (this.peerParams ?? DEFAULT_TRANSPORT_PARAMETERS).ackDelayExponent);
    // §9.3: the highest-numbered non-probing packet from a new address means the client moved there.
    if (this.role === 'server' && from.remote !== this.paths.current.remote && pkt.type === '1rtt' && highest && this.confirmed && !frames.every(isProbingFrame)) {
      await this.migrateTo(from.remote, now);
    }
    let ackEliciting = false;
    for (const f of frames) {
      if (pkt.type === '0rtt') checkZeroRttFrame(f);
      if (f.type !== 'ack' && f.type !== 'padding' && f.type !== 'connection_close') ackEliciting = true;
      const handled = this.onFrame(space, f, now, from);
      if (handled) await handled;
      if (this.closeState) return true;
    }
    // RFC 9000 §13.2.5: the ACK Delay includes the time a packet waited for its keys. Left out, a client's
    // 1-RTT request held while its lost Finished was resent gave the client an RTT sample of the whole wait
    // (6.5 s in the interop case handshakecorruption), and PTOs of 11 s for the rest of the connection.
    space.acks.onPacketReceived(opened.packetNumber, ackEliciting, from.receivedAt);
    if (pkt.type === 'initial' && ackEliciting) this.speedUpHandshake();
    return true;
  }

  /**
   * RFC 9002 §6.2.3: once per connection, a server resends its unacknowledged Initial CRYPTO data (the
   * ServerHello) when the client sends an ack-eliciting Initial, rather than at its PTO — a second or more on,
   * from kInitialRtt, with no RTT sample yet. The RFC's cue is duplicate CRYPTO data; a server that acknowledged
   * the ClientHello first (ackClientHelloFirst) gets none, as the client has nothing left to resend: its Initial
   * probe then (RFC 9002 §6.2.2.1: a client without Handshake keys probes with an Initial) says the same.
   */
  private speedUpHandshake(): void {
    if (!this.ackClientHelloFirst || this.initialSpedUp || this.heldTls) return;
    const crypto = this.spaces.initial.cryptoSend;
    if (crypto.hasPending) return;
    crypto.retransmitUnacked();
    this.initialSpedUp = crypto.hasPending;
  }

  /** Acts on one frame; returns a promise only for the frames whose handling waits on something (most return at once). */
  private onFrame(space: PacketSpace, f: Frame, now: number, from: PacketContext): Promise<void> | undefined {
    switch (f.type) {
      case 'padding':
      case 'ping':
        return;
      case 'ack':
        this.onAck(space, f, now);
        return;
      case 'crypto':
        return this.onCrypto(space, f.offset, f.data, now);
      case 'handshake_done':
        // §19.20: only a server sends it.
        if (this.role === 'server') throw new QuicTransportError(TransportErrorCode.PROTOCOL_VIOLATION, 'HANDSHAKE_DONE from a client', { frameType: 0x1e });
        if (!this.confirmed) {
          this.confirm();
          return this.probePreferredAddress(now);
        }
        return;
      case 'connection_close':
        this.closeState = { kind: 'draining', until: now + 3 * this.pto() };
        this.dropHeld(now);
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
        return this.onPathResponse(f.data, now);
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

  private async onCrypto(space: PacketSpace, offset: number, data: Uint8Array, now: number): Promise<void> {
    space.cryptoRecv.push(offset, data);
    // Whole messages only: the TLS layer never sees (or copies) a fragment.
    for (let m = space.cryptoRecv.nextMessage(); m; m = space.cryptoRecv.nextMessage()) {
      // A server acknowledges the client's Initial before the TLS step that answers it (RFC 9000 §13.2.1: at
      // once): that step signs the CertificateVerify, tens of ms with ML-DSA in JavaScript, seconds on a loaded
      // machine. With the ACK behind it, the client's first RTT sample — taken as it is, ACK Delay ignored
      // (RFC 9002 §5.3: Initial ACK Delay may be ignored, and min_rtt is the first sample, below which no delay
      // is subtracted) — measured the signing, and its PTOs were seconds long for the rest of the connection.
      if (this.ackClientHelloFirst && space.name === 'initial') {
        this.heldTls ??= { messages: [], since: now };
        this.heldTls.messages.push(m);
        this.heldTls.since = now;
        continue;
      }
      await this.tlsStep(LEVEL_OF[space.name], m);
    }
  }

  private async tlsStep(level: Level, msg: HandshakeMessage): Promise<void> {
    // As TLS over TCP bounds them (limits.maxTickets): a server may send tickets, not without end between data.
    if (this.handshakeDone && msg.type === HandshakeType.new_session_ticket && ++this.ticketsSinceData > MAX_TICKETS_WITHOUT_DATA) {
      throw new PqtlsError(`too many NewSessionTicket messages without stream data (limit ${MAX_TICKETS_WITHOUT_DATA})`, AlertDescription.unexpected_message);
    }
    if (this.role === 'client' && msg.type === HandshakeType.new_session_ticket) checkTicketEarlyData(msg.body);
    if (this.tls.role === 'client') this.tls = { role: 'client', s: await handleClient(this.tls.s, level, msg, this.out) };
    else this.tls = { role: 'server', s: await handleServer(this.tls.s, level, msg, this.out) };
    if (this.pendingVersion) await this.switchVersion(this.pendingVersion);
    // RFC 8446 §4.1.2: no early data after a HelloRetryRequest, which the client now answers afresh.
    if (this.tls.role === 'client' && this.zeroRttWrite && this.tls.s.kind === 'ExpectServerHello' && !earlyDataSession(this.tls.s)) this.zeroRttWrite = undefined;
    await this.applyTls();
  }

  /**
   * Server: whether the held TLS step may run — once no ACK of an Initial is owed, i.e. the one for the packets
   * that brought its messages was polled (it is due at once, §13.2.1), so the driver sent it before this work.
   */
  private heldTlsDue(): boolean {
    return this.heldTls !== undefined && this.spaces.initial.acks.ackDeadline(0) === undefined;
  }

  /**
   * Runs the held TLS step (see {@link onCrypto}) if its ACK is out: from {@link handleTimeout}, which
   * {@link pollTimeout} asks for at once, or before the next datagram. Not from {@link pollTransmit}: the
   * flight it makes must carry the time after the step, which only the driver's next call brings (the
   * server's own first RTT sample would otherwise hold the signing).
   */
  private async runHeldTls(now: number): Promise<void> {
    const held = this.heldTls;
    if (!held || !this.heldTlsDue()) return;
    this.heldTls = undefined;
    if (this.closeState) return;
    for (const m of held.messages) await this.tlsStep('initial', m);
    // 0-RTT that came with or after the ClientHello waited for these keys (earlyUndecided).
    await this.replayEarlyPackets(now);
  }

  /**
   * Server: compatible version negotiation chose `v` (RFC 9368 §2.3). Our first
   * flight and everything after it is in `v`, under Initial keys of `v` from the
   * same connection ID; the client's Initials in the original version stay readable.
   */
  private async switchVersion(v: QuicVersion): Promise<void> {
    this.pendingVersion = undefined;
    this.originalInitialRead = this.spaces.initial.read;
    this.versionInUse = v;
    await this.installInitialKeys(this.initialDcid);
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
        if (a.level === 'handshake' || a.level === 'application') this.qlog?.keyUpdated(undefined, a.level, a.kind === 'readSecret' ? 'read' : 'write', 'tls');
        if (a.level === 'early') {
          // client_early_traffic_secret protects 0-RTT packets (RFC 9001 §5.1), in the version of the client's first Initial.
          const keys = await deriveDirectionalKeys(this.provider, this.originalVersion, suite, a.secret);
          if (a.kind === 'readSecret') this.zeroRttRead = keys;
          else this.zeroRttWrite = keys;
          return;
        }
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
      case 'acceptEarlyData':
        this.earlyStatus = 'accepted';
        return;
      case 'skipEarlyData':
        // Rejected 0-RTT (or a HelloRetryRequest): what was held cannot be read.
        this.earlyStatus = 'rejected';
        this.earlyPackets.drain();
        return;
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
    if (this.role === 'client') checkServerVersionInformation(this.versionInUse, this.versions, peer.versionInformation, this.vnRestarted);
    this.settleEarlyData(info, peer);
    this.peerParams = peer;
    this.qlog?.remoteParameters(undefined, peer, info.alpn, this.qlogAlpns);
    // §5.1.1: the preferred_address connection ID is sequence 1, ours to use like one from NEW_CONNECTION_ID.
    if (peer.preferredAddress) this.peerConnectionIds().addPreferred(peer.preferredAddress.connectionId, peer.preferredAddress.statelessResetToken);
    this.handshakeDone = true;
    this.qlog?.setState(undefined, 'handshake_complete');
    if (this.role === 'server') {
      // RFC 9001 §4.1.2: the server's handshake is confirmed at completion; it tells the client with HANDSHAKE_DONE.
      this.sendHandshakeDone = true;
      this.confirm();
    }
    this.events.push({ type: 'connected', info, peerParameters: peer });
  }

  /**
   * The end of 0-RTT at handshake completion (RFC 9001 §4.6). A client whose
   * 0-RTT was accepted checks that the server kept every limit it remembered
   * (RFC 9000 §7.4.1); one whose 0-RTT was rejected counts its 0-RTT packets
   * lost, so their STREAM frames go again in 1-RTT, under the server's new
   * limits (RFC 9001 §4.6.2). A server stops reading 0-RTT.
   */
  private settleEarlyData(info: HandshakeInfo, peer: TransportParameters): void {
    if (this.role === 'server') {
      this.zeroRttRead = undefined;
      this.earlyPackets.drain();
      this.streams.setPeerLimits(peer);
      return;
    }
    this.zeroRttWrite = undefined;
    if (this.earlyStatus === 'attempted' && info.earlyData === 'accepted' && this.remembered) {
      checkRememberedNotReduced(this.remembered, peer);
      this.earlyStatus = 'accepted';
    } else if (this.earlyStatus === 'attempted') {
      this.earlyStatus = 'rejected';
      // Every application-space packet so far was 0-RTT: 1-RTT keys have only just been installed.
      for (const p of this.recovery.discardSpace('application')) this.onPacketLost(p);
    }
    if (this.earlyStatus !== 'rejected') {
      this.streams.setPeerLimits(peer);
      return;
    }
    if (!this.streams.replacePeerLimits(peer)) {
      throw new QuicTransportError(TransportErrorCode.INTERNAL_ERROR, '0-RTT was rejected and the server\'s new limits are below the data already written (RFC 9000 §7.4.1)');
    }
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
    this.qlog?.setState(undefined, 'handshake_confirmed');
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
    this.qlog?.keyDiscarded(undefined, name, 'write', 'tls');
    this.qlog?.keyDiscarded(undefined, name, 'read', 'tls');
  }

  private onAck(space: PacketSpace, f: Extract<Frame, { type: 'ack' }>, now: number): void {
    const peer = this.peerParams ?? DEFAULT_TRANSPORT_PARAMETERS;
    const { acked, lost } = this.recovery.onAck(space.name, f, now, { ackDelayExponent: peer.ackDelayExponent, maxAckDelay: peer.maxAckDelay }, this.confirmed);
    for (const p of acked) this.onPacketAcked(p);
    if (space.name === 'application' && this.updateAwaitingAck !== undefined && acked.some((p) => p.pn >= (this.updateAwaitingAck as number))) {
      this.updateAwaitingAck = undefined;
    }
    for (const p of lost) this.onPacketLost(p);
    this.qlogMetrics(now);
    if (lost.length) this.onLossEvent(lost, now);
    if (this.role === 'client' && space.name === 'handshake') this.discardSpace('initial');
  }

  private onPacketAcked(p: SentPacket): void {
    if (p.mtuProbe) {
      if (this.mtud.onProbeAcked(p.size) !== undefined) this.recovery.controller.onMtuUpdate(this.mtud.current);
    } else if (p.inFlight && this.recovery.sentOnCurrentPath(p)) {
      // RFC 9000 §9.4: what the old path carried says nothing about the new one's MTU.
      this.mtud.onAcked(p.size);
    }
    const space = this.spaces[p.space];
    for (const f of p.frames) {
      if (f.type === 'crypto') space.cryptoSend.onAcked(f.offset, f.data.length);
      else if (f.type === 'ack') space.acks.onAckOfAckReceived(f.ranges[0]?.largest ?? 0);
      else if (f.type === 'retire_connection_id') this.peerCids?.onRetireAcked(f.sequenceNumber);
      else if (isStreamFrame(f)) this.streams.onAcked(f);
    }
  }

  private onPacketLost(p: SentPacket): void {
    this.qlog?.packetLost(undefined, p);
    // A probe already queued its frames again; that copy's own loss or acknowledgment settles them.
    if (this.requeuedByProbe.has(p)) return;
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
    if (this.pacingWake !== undefined) times.push(this.pacingWake);
    const mtu = this.mtud.timeout;
    if (mtu !== undefined) times.push(mtu);
    const path = this.paths.timeout(MIN_PROBE_DATAGRAM);
    if (path !== undefined) times.push(path);
    const r = this.recovery.timeout(this.lastActivity, this.recoveryState());
    if (r !== undefined) times.push(r);
    if (this.heldTlsDue()) times.push((this.heldTls as { since: number }).since);
    // A path held back by its 3× limit (§8.1) sends no ACK until more arrives from it: no timer for one.
    const pathBlocked = this.paths.current.budget < MIN_PROBE_DATAGRAM;
    for (const n of SPACES) {
      const s = this.spaces[n];
      // 0-RTT packets are acknowledged in 1-RTT packets (RFC 9000 §12.5): a server that has read 0-RTT owes that ACK
      // only once its 1-RTT keys are complete, at the client's Finished. A deadline before then was one no call could
      // act on, and a driver woke for it in a busy loop until that Finished came (for as long as it was lost).
      if (n === 'application' && !this.oneRtt) continue;
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
    return {
      handshakeConfirmed: this.confirmed, peerAddressValidated: this.role === 'server' || this.handshakeDone, hasHandshakeKeys: this.spaces.handshake.write !== undefined,
      // RFC 9002 §6.2.2.1: a server that could not send a probe arms no PTO (its backoff would only climb).
      amplificationLimited: !this.canSendAnyPacket(this.amplificationRoom()),
      ...(this.peerParams ? { peerMaxAckDelay: this.peerParams.maxAckDelay } : {}),
    };
  }

  /** What the anti-amplification limit still lets us send (RFC 9000 §8.1): 3× what we received, until the address is validated. */
  private amplificationRoom(): number {
    return this.addressValidated ? Infinity : 3 * this.bytesReceived - this.bytesSent;
  }

  /** Whether `budget` bytes hold a packet in some space with keys — the least {@link pollTransmit} will build. */
  private canSendAnyPacket(budget: number): boolean {
    return SPACES.some((n) => !this.spaces[n].discarded && (n === 'application' ? this.oneRtt : this.spaces[n].write) && budget - this.overhead(n) >= MIN_FRAME_ROOM);
  }

  handleTimeout(now: number): Promise<void> {
    this.onActivity?.();
    return this.serial(async () => {
      if (this.heldTls && !this.closeState) {
        try {
          await this.runHeldTls(now);
        } catch (e) {
          this.fail(e, now);
        }
      }
      this.onTimeout(now);
    });
  }

  private onTimeout(now: number): void {
    this.qlog?.tick(now);
    if (this.closeState) {
      if (this.closeState.kind !== 'closed' && now >= this.closeState.until) this.closeState = { kind: 'closed', until: now };
      return;
    }
    const idle = this.idleTimeout();
    if (idle !== undefined && now >= this.lastActivity + idle) {
      // §10.1: an idle timeout closes silently.
      this.closeState = { kind: 'closed', until: now };
      this.dropHeld(now);
      this.events.push({ type: 'closed', local: true, code: TransportErrorCode.NO_ERROR, application: false, reason: 'idle timeout' });
      return;
    }
    if (this.discardPreviousKeysAt !== undefined && now >= this.discardPreviousKeysAt) {
      this.oneRtt?.discardPreviousKeys();
      this.qlog?.keyDiscarded(now, 'application', 'read', 'tls', (this.oneRtt?.updates ?? 1) - 1);
      this.discardPreviousKeysAt = undefined;
    }
    // The pacer has tokens again: the caller's next pollTransmit sends.
    if (this.pacingWake !== undefined && now >= this.pacingWake) this.pacingWake = undefined;
    // The MTU raise timer or black-hole cooldown ended: the next pollTransmit probes.
    this.mtud.onTimeout(now);
    // §8.2.4, §9.3.2: a failed validation of the path we moved to sends us back to the last validated one.
    // The ID we moved to stays in use there: the one the old path had is retired already.
    if (this.paths.onTimeout(now) === 'reverted') this.paths.current.dcid = undefined;
    const r = this.recovery.timeout(this.lastActivity, this.recoveryState());
    if (r !== undefined && now >= r) {
      const { lost, probe } = this.recovery.onTimeout(now, this.recoveryState());
      for (const p of lost) this.onPacketLost(p);
      if (lost.length) this.onLossEvent(lost, now);
      if (probe) {
        this.spaces[probe.space].probes += probe.count;
        // Probes carry data rather than bare PINGs where they can (RFC 9002 §6.2.4): the handshake
        // bytes not yet acknowledged, in every space still in use, so a lost flight is resent at once.
        if (!this.confirmed) for (const n of SPACES) if (!this.spaces[n].discarded) this.spaces[n].cryptoSend.retransmitUnacked();
        this.queueProbeData(probe.space, probe.count);
      }
      this.qlogMetrics(now);
    }
  }

  /**
   * RFC 9002 §6.2.4: a probe carries new data if there is any, else data
   * retransmitted from the oldest outstanding packets (quinn's
   * `maybe_queue_probe`). A lost request whose ACK-only replies were lost too is
   * then resent by the first probe instead of after a PING round trip and a
   * loss declaration; bare PINGs only when nothing is left to send.
   */
  private queueProbeData(name: SpaceName, count: number): void {
    if (name === 'application' && (this.streams.hasPendingFrames || this.datagrams.length > 0)) return;
    if (this.spaces[name].cryptoSend.hasPending) return;
    let queued = 0;
    for (const p of this.recovery.outstanding(name)) {
      if (queued >= count) break;
      if (!p.ackEliciting || this.requeuedByProbe.has(p) || !p.frames.some(isRetransmittable)) continue;
      this.onPacketLost(p);
      this.requeuedByProbe.add(p);
      queued++;
    }
  }

  // ---- sending ----

  /** The next datagram to send and where to, or undefined when there is nothing (or congestion control says wait). */
  pollTransmit(now: number): Promise<Transmit | undefined> {
    return this.serial(() => Promise.resolve(this.transmit(now)));
  }

  /**
   * Up to `max` datagrams, the ones that many calls of {@link pollTransmit} at
   * `now` would give, in one call: fewer only when there is nothing more to send
   * now. A transport sending a flight pays for one call, not one per datagram.
   */
  pollTransmits(now: number, max: number): Promise<Transmit[]> {
    return this.serial(async () => {
      const out: Transmit[] = [];
      while (out.length < max) {
        const next = this.transmit(now);
        const t = next instanceof Promise ? await next : next;
        if (!t) break;
        out.push(t);
      }
      return out;
    });
  }

  /**
   * The next datagram and where to. Synchronous — no promise, no await — when
   * nothing in building it waits (keys that seal synchronously, no path probe):
   * this runs for every datagram.
   */
  private transmit(now: number): Transmit | undefined | Promise<Transmit | undefined> {
    if (this.pathProbeDue(now)) return this.probeDatagram(now).then((probe) => probe ?? this.transmitData(now));
    return this.transmitData(now);
  }

  private transmitData(now: number): Transmit | undefined | Promise<Transmit | undefined> {
    const data = this.nextDatagram(now);
    return data instanceof Promise ? data.then((d) => this.transmitted(d)) : this.transmitted(data);
  }

  private transmitted(data: Uint8Array | undefined): Transmit | undefined {
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
  migrate(now: number, remote: RemoteAddress = this.paths.current.remote): Promise<void> {
    this.onActivity?.();
    return this.serial(() => this.startMigration(now, remote));
  }

  private async startMigration(now: number, remote: RemoteAddress): Promise<void> {
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
    this.resetPathState(now);
  }

  /** A new path (RFC 9000 §9.4): congestion control, RTT and the path MTU start afresh. */
  private resetPathState(now: number): void {
    this.recovery.resetPath(now, this.mtud.base);
    this.mtud.reset();
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
    if (paths.towardsPreferred(remote)) {
      // §9.6.2: the client came to our preferred address. Non-probing packets keep going from the original
      // address until we validated the path from the preferred one (we MUST probe it, against spurious moves).
      if (paths.probe?.remote !== remote) paths.probe = next;
      return;
    }
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
  private async onPathResponse(data: Uint8Array, now: number): Promise<void> {
    const paths = this.paths;
    const path = paths.onResponse(data);
    if (!path) return;
    if (path === paths.current && paths.previous) {
      // §9.4: confirmed; a new host (not just a new port, a NAT rebinding) starts from fresh congestion state.
      if (!onlyPortChanged(paths.previous.remote, path.remote)) this.resetPathState(now);
      paths.previous = undefined;
    } else if (path === paths.probe && this.role === 'client') {
      // §9.6.1: the preferred address answered; from now on everything goes there, with its connection ID.
      paths.probe = undefined;
      const cid = path.dcid;
      path.dcid = undefined;
      const ids = this.peerConnectionIds();
      if (cid && ids.cidOf(1) && equalBytes(ids.cidOf(1) as Uint8Array, cid)) ids.switchTo(1);
      this.remoteCid = ids.current;
      // The server keeps sending from its original address until it validated our path to the preferred one
      // (§9.6.2): packets from there are still the server's, not a new address's (§9).
      paths.previous = paths.current;
      paths.current = path;
      this.usedPreferredAddress = true;
      this.resetPathState(now);
    } else if (path === paths.probe && this.role === 'server') {
      // §9.6.2: validated, after a non-probing packet arrived there (what started the probe): the connection moves
      // to the preferred address for good, and the original one is left (see Paths.leftForPreferred).
      paths.probe = undefined;
      paths.current = path;
      paths.previous = undefined;
      paths.onPreferred = true;
      this.resetPathState(now);
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

  /** Whether {@link probeDatagram} may have something to send. */
  private pathProbeDue(now: number): boolean {
    return !this.closeState && this.oneRtt !== undefined && this.confirmed && this.paths.hasProbe(now, MIN_PROBE_DATAGRAM);
  }

  /**
   * A datagram of path probing frames (PATH_CHALLENGE, PATH_RESPONSE), padded
   * to 1200 bytes as §8.2.1 and §8.2.2 require unless the path's 3× limit
   * forbids, on the path it belongs to.
   */
  private async probeDatagram(now: number): Promise<Transmit | undefined> {
    if (!this.pathProbeDue(now)) return undefined;
    const space = this.spaces.application;
    const plan = this.paths.pollProbe(now, this.pto(), MIN_PROBE_DATAGRAM);
    if (!plan) return undefined;
    const frames = plan.frames;
    // §9.3.3: an answer to a challenge on the path in use carries a non-probing frame, so a spurious migration ends.
    if (plan.remote === this.paths.current.remote) frames.push({ type: 'ping' });
    const dcid = plan.dcid ?? this.remoteCid;
    const size = (n: number): number => headerLength(this.headerFor('application', dcid), n) + packetNumberLength(space.nextPn, undefined) + n + 16;
    const payload = payloadLength(frames);
    const target = Math.min(MIN_INITIAL_DATAGRAM, plan.budget);
    const pad = target - size(payload);
    if (pad > 0) frames.push({ type: 'padding', length: pad });
    const data = await this.seal(space, frames, true, now, false, dcid);
    this.paths.onSent(plan.remote, data.length);
    this.bytesSent += data.length;
    return { data, remote: plan.remote };
  }

  private nextDatagram(now: number): Uint8Array | undefined | Promise<Uint8Array | undefined> {
    this.qlogState(now);
    if (this.closeState) return this.closeDatagram(now);
    const mtuProbe = this.pollMtuProbe(now);
    if (mtuProbe) return mtuProbe;
    // A datagram that carries a probe is exempt from congestion control (RFC 9002 §7.5) and pacing, all of it.
    const probing = this.probesOwed();
    // PTO probes keep to the base size: if the path's MTU shrank, they still get through, and their ACKs declare
    // the large packets lost, which is how the black hole shows (RFC 8899 §4.3).
    const budget = Math.min(probing ? this.mtud.base : this.maxDatagramSize, this.amplificationRoom(), this.paths.current.budget); // §8.1, §9.3
    const packets: PlannedPacket[] = [];
    let used = 0;
    this.pacingWake = undefined;
    const congestionOk = probing || (!this.mtuProbeHeld && this.congestionAllows(now));
    for (const name of SPACES) {
      const space = this.spaces[name];
      if (space.discarded || !(name === 'application' ? this.oneRtt ?? this.zeroRttWrite : space.write)) continue;
      const room = budget - used - this.overhead(name);
      if (room < MIN_FRAME_ROOM) break;
      const frames = this.framesFor(space, room, now, congestionOk);
      if (!frames.length) continue;
      const ackEliciting = frames.some(isAckEliciting);
      packets.push({ space, frames, ackEliciting });
      used += this.overhead(name) + payloadLength(frames);
    }
    if (!packets.length) {
      // RFC 9002 §7.8: the window is under-used when we stop for want of data, not for want of window — and,
      // as RFC 7661 §4.3 judges it, with less than half of it in flight (a flight that nearly filled it, like
      // the handshake's, still shows the path can take the growth).
      this.recovery.appLimited = congestionOk && this.recovery.bytesInFlight < this.recovery.congestionWindow / 2;
      return undefined;
    }
    // §14.1: datagrams carrying a client Initial, or an ack-eliciting server Initial, are padded to
    // 1200 bytes with PADDING frames in the Initial packet: a coalesced Handshake packet then carries only
    // its own frames, so a resumed handshake (no Certificate) looks as small on the wire as it is.
    const initialPacket = packets.find(inInitial);
    const needsPadding = initialPacket !== undefined && (this.role === 'client' || initialPacket.ackEliciting);
    if (needsPadding && budget >= MIN_INITIAL_DATAGRAM) {
      const last = initialPacket;
      const size = (): number => packets.reduce((n, p) => n + this.packetSize(p.space, payloadLength(p.frames)), 0);
      // A longer payload can lengthen the Length varint by a byte (a small Initial padded past 63 bytes):
      // then the padding gives that byte back, so the datagram is 1200 bytes, not 1201.
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
    for (let i = 0; i < packets.length; i++) {
      const p = packets[i] as PlannedPacket;
      const sealed = this.seal(p.space, p.frames, p.ackEliciting, now);
      // Keys that seal asynchronously: the rest of the datagram is sealed in turn, each after the one before.
      if (!(sealed instanceof Uint8Array)) return this.sealRest(sealed, packets, i + 1, datagram, needsPadding, now);
      datagram.push(sealed);
    }
    return this.datagramSealed(datagram, packets, needsPadding);
  }

  private async sealRest(first: Promise<Uint8Array>, packets: readonly PlannedPacket[], from: number, datagram: Uint8Array[], needsPadding: boolean, now: number): Promise<Uint8Array> {
    datagram.push(await first);
    for (const p of packets.slice(from)) datagram.push(await this.seal(p.space, p.frames, p.ackEliciting, now));
    return this.datagramSealed(datagram, packets, needsPadding);
  }

  /** The packets of a datagram are sealed: one datagram of them, counted for amplification and pacing. */
  private datagramSealed(datagram: readonly Uint8Array[], packets: readonly PlannedPacket[], needsPadding: boolean): Uint8Array {
    const out = datagram.length === 1 ? datagram[0] as Uint8Array : concat(...datagram);
    this.bytesSent += out.length;
    if (needsPadding || packets.some(carriesAckEliciting)) this.pacer.onTransmit(out.length);
    if (this.role === 'client' && packets.some(inHandshake)) this.discardSpace('initial'); // RFC 9001 §4.9.1
    return out;
  }

  /**
   * A DPLPMTUD probe, if one is due (RFC 9000 §14.4): a 1-RTT packet of PING
   * and PADDING of the size to try, alone in its datagram, within the
   * congestion window ("PMTU probes consume congestion window"). Not before
   * the handshake is confirmed, and not while PTO probes are owed. The pacer
   * does not hold it back (as in quinn, whose probes go outside pacing): its
   * bucket holds a few milliseconds of the window, in datagrams of the current
   * size, and data drains it as it refills, so a probe far larger than the
   * current size (64 KiB on a loopback path) waited for a bucket it never
   * found full and the search never began. One probe at a time, at most a few
   * per size: its bytes are still charged to the pacer.
   *
   * Nor does data take the room the probe waits for: a sender that keeps its
   * window full (every ACK's room refilled at once, 1200 bytes at a time)
   * never has 64 KiB free, and a 16-stream transfer over loopback never
   * probed. While a due probe fits the window but not the room left in it,
   * new data waits (ACKs still go) until in-flight bytes drop by its size,
   * some fraction of a round trip, once per probe.
   */
  private pollMtuProbe(now: number): Promise<Uint8Array> | undefined {
    this.mtuProbeHeld = false;
    if (!this.confirmed || !this.peerParams || !this.oneRtt || this.probesOwed()) return undefined;
    this.mtud.start(this.peerParams.maxUdpPayloadSize, now, this.paths.current.remote);
    const size = this.mtud.probeSize(now);
    if (size === undefined) return undefined;
    if (!this.recovery.canSend(size)) {
      this.mtud.cancelProbe();
      // With nothing in flight the room is the whole window: holding data back could then wait for nothing.
      this.mtuProbeHeld = size <= this.recovery.congestionWindow && this.recovery.bytesInFlight > 0;
      return undefined;
    }
    const space = this.spaces.application;
    // 1-RTT headers have no Length field: past the header-protection sample's minimum, a payload byte is a packet byte.
    const padding = size - (this.packetSize(space, 64) - 64) - 1;
    const frames: Frame[] = padding > 0 ? [{ type: 'ping' }, { type: 'padding', length: padding }] : [{ type: 'ping' }];
    return Promise.resolve(this.seal(space, frames, true, now, true)).then((out) => {
      this.bytesSent += out.length;
      this.pacer.onTransmit(out.length);
      return out;
    });
  }

  /** After a loss event: lost DPLPMTUD probes shrink the search; lost large datagrams may reveal a black hole (RFC 8899 §4.3). */
  private onLossEvent(lost: readonly SentPacket[], now: number): void {
    const sizes: number[] = [];
    for (const p of lost) {
      if (!this.recovery.sentOnCurrentPath(p)) continue; // RFC 9000 §9.4: the old path's losses are not the new one's
      if (p.mtuProbe) this.mtud.onProbeLost(p.size);
      else if (p.inFlight) sizes.push(p.size);
    }
    if (sizes.length && this.mtud.onLost(sizes, now) !== undefined) this.recovery.controller.onMtuUpdate(this.mtud.current);
  }

  /** PTO probes are owed in some space (RFC 9002 §6.2.4). A loop, not `SPACES.some` and a closure: asked for every packet. */
  private probesOwed(): boolean {
    const sp = this.spaces;
    return sp.initial.probes > 0 || sp.handshake.probes > 0 || sp.application.probes > 0;
  }

  /** Upper bound on a packet's bytes beyond its frames: header with a 4-byte packet number and 2-byte length, and the tag. */
  private overhead(name: SpaceName): number {
    return headerLength(this.headerFor(name), 0x3fff) + 4 + 16;
  }

  /**
   * Whether the congestion window and the pacer (RFC 9002 §7.7) let an
   * ack-eliciting datagram go now. When only the pacer holds it back and there
   * is something to send, the time it will allow it is kept for {@link pollTimeout}.
   */
  private congestionAllows(now: number): boolean {
    if (!this.recovery.canSend(this.maxDatagramSize)) return false;
    const window = this.recovery.congestionWindow;
    const gain = window < this.recovery.ssthresh ? SLOW_START_PACING_GAIN : PACING_GAIN;
    const until = this.pacer.delay(this.recovery.smoothedRtt, this.maxDatagramSize, this.maxDatagramSize, window, now, gain);
    if (until === undefined) return true;
    if (SPACES.some((n) => !this.spaces[n].discarded && this.wantsToSend(this.spaces[n]))) this.pacingWake = until;
    else this.pacer.cancelRelease();
    return false;
  }

  /** Something ack-eliciting is waiting in `space`. */
  private wantsToSend(space: PacketSpace): boolean {
    return space.cryptoSend.hasPending || space.probes > 0
      || (space.name === 'application' && (this.sendHandshakeDone || this.localCids.hasPending || this.peerCids?.hasPendingRetire === true || this.streams.hasPendingFrames || this.datagrams.length > 0));
  }

  private framesFor(space: PacketSpace, room: number, now: number, congestionOk: boolean): Frame[] {
    // A budget object rather than a closure: this runs for every packet.
    const b = new FrameBudget(room);
    const frames = b.frames;
    const peerExp = this.localParams.ackDelayExponent;
    // A client's application data before 1-RTT keys goes in 0-RTT packets, which carry no ACK (RFC 9000 §12.5).
    const zeroRtt = space.name === 'application' && !this.oneRtt;
    // An ACK rides along on a packet that goes anyway; one held back by the window or the pacer would go alone,
    // and an ACK-only packet is owed only for ack-eliciting ones, on the §13.2.1/§13.2.2 schedule, never for ACKs.
    // A Handshake PTO probe repeats the ACK ranges (RFC 9002 §6.2.4: it exists because acknowledgments went
    // missing, ours perhaps among them). A client whose one Handshake ACK was lost otherwise probes with bare
    // PINGs, and the server learns which datagrams of its flight to resend only from its own PTO, a second or
    // more later (with backoff), instead of one round trip. Kept to the Handshake space, where the defect was seen:
    // repeated Initial ACKs had servers declare losses that collapsed their window in the loss simulations, and
    // 1-RTT recovery is not what this measured.
    const ack = zeroRtt ? undefined
      : space.acks.pollAck(now, peerExp, this.ackDelayFor(space.name), this.wantsToSend(space) && congestionOk, space.probes > 0 && space.name === 'handshake');
    if (ack) b.add(ack);
    if (!congestionOk) return frames;
    while (space.cryptoSend.hasPending && b.left > 16) {
      const chunk = space.cryptoSend.next(b.left - 12);
      if (!chunk) break;
      b.add({ type: 'crypto', offset: chunk.offset, data: chunk.data });
    }
    if (space.name === 'application') {
      if (this.sendHandshakeDone && b.add({ type: 'handshake_done' })) this.sendHandshakeDone = false;
      for (let n = this.localCids.pollFrame(); n; n = this.localCids.pollFrame()) {
        if (!b.add(n)) {
          this.localCids.onLost(n);
          break;
        }
      }
      for (let r = this.peerCids?.pollRetire(); r; r = this.peerCids?.pollRetire()) {
        if (!b.add(r)) {
          this.peerCids?.unpoll(r.sequenceNumber);
          break;
        }
      }
      while (this.datagrams.length && b.add({ type: 'datagram', data: this.datagrams[0] as Uint8Array, hasLength: true })) this.datagrams.shift();
      // pollFrames sizes its frames to the budget and tracks them as sent, so every one goes in.
      if (this.handshakeDone || zeroRtt) {
        for (const f of this.streams.pollFrames(b.left, now, this.recovery.smoothedRtt)) {
          frames.push(f);
          b.left -= frameLength(f);
        }
      }
    }
    if (space.probes > 0) {
      if (!frames.some((f) => f.type !== 'ack')) b.add({ type: 'ping' });
      space.probes--;
    }
    return frames;
  }

  private headerFor(name: SpaceName, dcid = this.remoteCid): OutgoingHeader {
    if (name === 'application' && !this.oneRtt && this.zeroRttWrite) return { type: '0rtt', version: this.originalVersion, dcid, scid: this.localCid };
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

  /**
   * Seals the next packet of `space` and records it as sent. Synchronous keys
   * give the bytes at once, not a promise: this runs for every packet, and a
   * promise (with the await of each caller) was a good part of the work and the
   * garbage of a datagram.
   */
  private seal(space: PacketSpace, frames: Frame[], ackEliciting: boolean, now: number, mtuProbe = false, dcid?: Uint8Array): Uint8Array | Promise<Uint8Array> {
    const pn = space.nextPn++;
    const header = this.headerFor(space.name, dcid);
    // With synchronous keys the frames are encoded into the packet itself and sealed there.
    if (header.type === '1rtt' && this.oneRtt?.synchronous) {
      const n = payloadLength(frames);
      return this.onSealed(space, header, pn, frames, ackEliciting, now, mtuProbe, this.oneRtt.sealSync(header, n, frameWriter(frames, n), { packetNumber: pn }));
    }
    if (header.type === '1rtt') {
      return (this.oneRtt as OneRttKeys).seal(header, encodeFrames(frames), { packetNumber: pn })
        .then((bytes) => this.onSealed(space, header, pn, frames, ackEliciting, now, mtuProbe, bytes));
    }
    const keys = (header.type === '0rtt' ? this.zeroRttWrite : space.write) as DirectionalKeys;
    if (canSealSync(keys)) {
      const n = payloadLength(frames);
      return this.onSealed(space, header, pn, frames, ackEliciting, now, mtuProbe, sealPacketSync(keys, header, n, frameWriter(frames, n), { packetNumber: pn }));
    }
    return sealPacket(keys, header, encodeFrames(frames), { packetNumber: pn })
      .then((bytes) => this.onSealed(space, header, pn, frames, ackEliciting, now, mtuProbe, bytes));
  }

  /** A packet left {@link seal}: the key update, recovery and qlog hear of it. */
  private onSealed(space: PacketSpace, header: OutgoingHeader, pn: number, frames: Frame[], ackEliciting: boolean, now: number, mtuProbe: boolean, bytes: Uint8Array): Uint8Array {
    // Sent under the current keys, an ACK completes the peer's key update (RFC 9001 §6.2).
    if (header.type === '1rtt' && frames.some(isAck)) this.peerUpdateUnacked = false;
    const inFlight = ackEliciting || frames.some(isPadding);
    // Without a spread of a temporary object: this runs for every packet.
    this.recovery.onPacketSent(mtuProbe
      ? { pn, space: space.name, timeSent: now, size: bytes.length, ackEliciting, inFlight, frames, mtuProbe }
      : { pn, space: space.name, timeSent: now, size: bytes.length, ackEliciting, inFlight, frames });
    this.qlog?.packetSent(now, { type: header.type, packetNumber: pn, dcid: header.dcid, scid: header.type === '1rtt' ? undefined : header.scid },
      frames, bytes.length, this.localParams.ackDelayExponent);
    this.qlogMetrics(now);
    return bytes;
  }

  private async closeDatagram(now: number): Promise<Uint8Array | undefined> {
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
      const short = MIN_INITIAL_DATAGRAM - this.packetSize(space, payloadLength(frames));
      if (short > 0) frames.push({ type: 'padding', length: short });
    }
    // §8.1 holds in the closing state too (§10.2.1): a server whose first flight used up its 3× allowance sends
    // its CONNECTION_CLOSE once more has come from the client's address, when it answers that.
    if (this.packetSize(space, payloadLength(frames)) > this.amplificationRoom()) return undefined;
    const bytes = await this.seal(space, frames, false, now);
    this.bytesSent += bytes.length;
    return bytes;
  }
}

/** The bytes `frames` take encoded: a packet's payload before any padding for the header-protection sample. */
function payloadLength(frames: readonly Frame[]): number {
  let n = 0;
  for (const f of frames) n += frameLength(f);
  return n;
}

/**
 * Writes `frames`, whose {@link payloadLength} is `n`, where a packet's payload goes; never past those `n` bytes.
 * Long STREAM data is left for the AEAD to read from the send buffer (the holes returned): it is copied once,
 * encrypted, instead of copied into the packet and then encrypted there.
 */
function frameWriter(frames: readonly Frame[], n: number): (out: Uint8Array, offset: number) => readonly PayloadHole[] {
  return (out, offset) => {
    const { end, holes } = encodeFramesGather(frames, out.subarray(0, offset + n), offset);
    if (end !== offset + n) throw new ConfigError(`frames took ${end - offset} bytes, ${n} were reserved`);
    return holes;
  };
}

// Predicates of the per-packet checks, made once rather than a closure per call.
const isAck = (f: Frame): boolean => f.type === 'ack';
const isPadding = (f: Frame): boolean => f.type === 'padding';
const isConnectionClose = (f: Frame): boolean => f.type === 'connection_close';
const takeAll = (): boolean => true;
const isAckEliciting = (f: Frame): boolean => f.type !== 'ack' && f.type !== 'padding';
const carriesAckEliciting = (p: PlannedPacket): boolean => p.ackEliciting;
const inInitial = (p: PlannedPacket): boolean => p.space.name === 'initial';
const inHandshake = (p: PlannedPacket): boolean => p.space.name === 'handshake';

/** Frames whose loss makes us send something again (RFC 9000 §13.3). */
function isRetransmittable(f: Frame): boolean {
  return f.type === 'crypto' || f.type === 'handshake_done' || f.type === 'retire_connection_id' || isStreamFrame(f);
}

/** A packet of the datagram being built, before it is sealed. */
interface PlannedPacket {
  readonly space: PacketSpace;
  readonly frames: Frame[];
  readonly ackEliciting: boolean;
}

/** A context's DCID before a packet of its datagram is parsed: never written into, so one array serves every datagram. */
const NO_DCID = new Uint8Array(0);
const NO_TOKENS: readonly Uint8Array[] = [];

/** What the packets of one datagram share: where it came from, its size, its Destination Connection ID. */
interface PacketContext {
  readonly remote: RemoteAddress;
  readonly datagramBytes: number;
  dcid: Uint8Array;
  /** Some packet of it decrypted: only then does it count toward the path's 3× limit. */
  authenticated: boolean;
  /** When the datagram arrived (earlier than `now` for a packet held until its keys came). */
  readonly receivedAt: number;
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
