import { MAX_VARINT, varintLength } from '../../codec/writer.js';
import { QuicTransportError, TransportErrorCode } from '../errors.js';
import { FrameBudget, frameLength } from '../frames/encode.js';
import { FrameType, MAX_STREAMS_LIMIT, type Frame } from '../frames/types.js';
import { RecvStream } from './recv-stream.js';
import { SendStream } from './send-stream.js';
import { StreamsBlockedError, StreamUsageError } from './stream-errors.js';
import { canReceive, canSend, isBidirectional, isLocallyInitiated, streamIdFor, streamIndex, type Role } from './stream-id.js';

export { StreamsBlockedError, StreamUsageError } from './stream-errors.js';

/** Flow-control and concurrency limits from transport parameters (RFC 9000 §18.2). */
export interface StreamLimits {
  readonly initialMaxData: number;
  readonly initialMaxStreamDataBidiLocal: number;
  readonly initialMaxStreamDataBidiRemote: number;
  readonly initialMaxStreamDataUni: number;
  readonly initialMaxStreamsBidi: number;
  readonly initialMaxStreamsUni: number;
}

/** What the stream layer tells the application. */
export type StreamEvent =
  /** The peer opened stream `id`, explicitly or implicitly by opening a higher one of the same type (§3.2). */
  | { type: 'opened'; id: number }
  /** New in-order data, or the end of the stream, can be read. */
  | { type: 'readable'; id: number }
  /** Flow-control credit arrived for a stream that had data waiting for it. */
  | { type: 'writable'; id: number }
  /**
   * Every byte up to the FIN has been *received* (§3.2 "Data Recvd"); the
   * application may not have read them all yet — {@link StreamManager.read}
   * reports `fin: true` with the last of them.
   */
  | { type: 'finished'; id: number }
  /** The peer abandoned its sending part with RESET_STREAM; unread data is gone. */
  | { type: 'reset'; id: number; errorCode: number }
  /** The peer asked us to stop with STOP_SENDING; we reset the stream with the same code (§3.5). */
  | { type: 'stopped'; id: number; errorCode: number }
  /** After an {@link StreamsBlockedError}, the peer's MAX_STREAMS now lets {@link StreamManager.open} succeed. */
  | { type: 'streams_available'; bidirectional: boolean };

type Dir = 'bidi' | 'uni';

interface Stream {
  readonly id: number;
  readonly send: SendStream | undefined;
  readonly recv: RecvStream | undefined;
}

const NO_LIMITS: StreamLimits = {
  initialMaxData: 0, initialMaxStreamDataBidiLocal: 0, initialMaxStreamDataBidiRemote: 0,
  initialMaxStreamDataUni: 0, initialMaxStreamsBidi: 0, initialMaxStreamsUni: 0,
};

/**
 * Stream events queued for an application that does not poll them before the
 * peer gets no more stream credit: a peer could otherwise open and reset
 * streams without end, each adding events (RFC 9000 §4.6 lets us withhold MAX_STREAMS).
 */
export const MAX_STREAM_EVENT_BACKLOG = 4096;

/**
 * How far receive windows may grow (see {@link StreamManager}'s auto-tuning):
 * 2 × the default 1 MiB connection window, for the connection and for one
 * stream alike. A stream's ceiling adds no memory (every stream's unread bytes
 * count against the connection's window), and one below the connection's held
 * a lone stream — a download — to half the bytes in flight that many streams
 * together get: 1 MiB per RTT, 87 against 136 MB/s over a simulated 10 ms RTT.
 * The connection's is what one connection may hold unread and what a
 * sender may have in flight: kept below what a UDP socket buffer holds (the
 * Node adapter asks for 4 MiB), a receiver that falls behind makes the sender
 * wait instead of overflowing the kernel's queue — larger ceilings let a
 * loss-based sender, whose window grows until packets drop, fill that queue
 * with seconds of data and then lose hundreds of packets at once. Paths with a
 * larger bandwidth-delay product raise them with `receiveWindowLimits`.
 */
export const DEFAULT_MAX_CONNECTION_WINDOW = 2 << 20;
export const DEFAULT_MAX_STREAM_WINDOW = DEFAULT_MAX_CONNECTION_WINDOW;

/** Ceilings for receive-window auto-tuning; a ceiling at or below the initial window turns tuning off. */
export interface ReceiveWindowLimits {
  readonly maxStreamWindow: number;
  readonly maxConnectionWindow: number;
}

/**
 * A window whose credit ran out this fast — the update due again less than
 * this many RTTs after the previous one — is too small for the path (Chromium's
 * QuicFlowController and quiche: 2; OpenSSL bumps a window that would be used
 * up within 4 RTTs, the same rate for updates every half window).
 */
const WINDOW_TUNING_RTTS = 2;
/** The connection window kept at least this multiple of the largest stream window (quiche's 1.5). */
const CONNECTION_WINDOW_FACTOR = 1.5;

/** 2^62: stream offsets stay below it (§19.8). MAX_VARINT, 2^62-1, rounds to the same double, so compare with `>=`. */
const OFFSET_LIMIT = 2 ** 62;

const dirOf = (bidirectional: boolean): Dir => (bidirectional ? 'bidi' : 'uni');

/** Encoded size of one frame, by the frame encoder itself. */

/** The type byte of a STREAM frame as it would be encoded (RFC 9000 §19.8), for error reports. */
function streamFrameType(f: { offset: number; fin: boolean; hasLength: boolean }): number {
  return FrameType.STREAM | (f.offset !== 0 ? 0x04 : 0) | (f.hasLength ? 0x02 : 0) | (f.fin ? 0x01 : 0);
}

/** Most data bytes a STREAM frame with a Length field can carry in `room` bytes after its type, ID and offset. */
function maxStreamPayload(room: number): number {
  let best = -1;
  // Indexed, not destructured: no iterator for each of four lengths, for every frame.
  for (let i = 0; i < LENGTH_LIMITS.length; i++) {
    const l = LENGTH_LIMITS[i] as (typeof LENGTH_LIMITS)[number];
    best = Math.max(best, Math.min(room - l[0], l[1]));
  }
  return best;
}
/** Each varint length with the largest value it holds (a constant: this is read for every stream frame). */
const LENGTH_LIMITS = [[1, 63], [2, 16383], [4, 2 ** 30 - 1], [8, MAX_VARINT]] as const;

function checkErrorCode(id: number, code: number): void {
  if (!Number.isSafeInteger(code) || code < 0) throw new StreamUsageError(id, `error code ${code} is not a varint`);
}

const DIRECTIONS = ['bidi', 'uni'] as const;
const NO_IDS: readonly number[] = [];

/**
 * All application streams of one QUIC connection (RFC 9000 §2–§4), sans-IO:
 * the connection feeds it received frames ({@link onFrame}), asks it for
 * frames to send ({@link pollFrames}) and reports their fate
 * ({@link onAcked}, {@link onLost}); the application opens, writes, reads and
 * resets streams and drains {@link pollEvent}.
 *
 * Peer misbehaviour throws {@link QuicTransportError} with the §20.1 code the
 * RFC names; the connection closes with it. Local misuse throws
 * {@link StreamUsageError} or {@link StreamsBlockedError} (both ConfigError).
 *
 * Memory: a stream's receive buffer never spans more than the stream window we
 * advertised, and the peer cannot make all streams together hold more than the
 * connection window. Overlapping received data must repeat the bytes still
 * buffered, else PROTOCOL_VIOLATION (§2.2). Frames for streams already closed
 * and forgotten are ignored, so the §4.5 SHOULD about data beyond a closed
 * stream's final size is not enforced for them.
 */
export class StreamManager {
  private readonly role: Role;
  private readonly local: StreamLimits;
  private peer: StreamLimits = NO_LIMITS;
  private readonly streams = new Map<number, Stream>();

  private events: StreamEvent[] = [];
  private eventHead = 0;
  /** Streams with a `readable` event still queued, so it is not queued twice. */
  private readonly readableQueued = new Set<number>();
  /** Likewise for `writable`: credit the peer hands out a byte at a time adds one event, not one per frame. */
  private readonly writableQueued = new Set<number>();
  /** Closed peer streams whose credit waits until the application polls its backlog of events. */
  private readonly withheldCredit: Record<Dir, number> = { bidi: 0, uni: 0 };

  // Locally initiated streams (§4.6).
  private readonly nextLocal: Record<Dir, number> = { bidi: 0, uni: 0 };
  private readonly peerMaxStreams: Record<Dir, number> = { bidi: 0, uni: 0 };
  private readonly openRefused: Record<Dir, boolean> = { bidi: false, uni: false };
  private readonly streamsBlockedPending: Record<Dir, boolean> = { bidi: false, uni: false };
  private readonly streamsBlockedAt: Record<Dir, number> = { bidi: -1, uni: -1 };

  // Peer-initiated streams.
  private readonly nextPeer: Record<Dir, number> = { bidi: 0, uni: 0 };
  private readonly closedPeer: Record<Dir, number> = { bidi: 0, uni: 0 };
  private readonly maxStreamsSent: Record<Dir, number>;
  private readonly maxStreamsPending: Record<Dir, boolean> = { bidi: false, uni: false };

  // Connection-level send credit (§4.1).
  private peerMaxData = 0;
  private sentData = 0;
  private dataBlockedAt = -1;
  private dataBlockedPending = false;
  /** Streams with unsent data and no credit: they get a `writable` event when credit comes. */
  private readonly blocked = new Set<number>();

  // Connection-level receive credit.
  private recvMaxData: number;
  /** Credit kept ahead of what was consumed: initial_max_data, grown by auto-tuning. */
  private recvWindow: number;
  /** When we last sent MAX_DATA. */
  private lastMaxDataUpdate: number | undefined;
  /** Sum of the largest offsets received on all streams (§4.1). */
  private recvData = 0;
  /** Bytes read by the application or discarded: credit that may be handed back. */
  private consumedData = 0;
  private maxDataPending = false;

  private readonly maxStreamDataPending = new Set<number>();
  private readonly streamDataBlockedPending = new Set<number>();
  /** Streams owing a RESET_STREAM or STOP_SENDING. */
  private readonly controlPending = new Set<number>();
  /** Streams with data to send, in round-robin order: a stream that sent goes to the back. */
  private readonly sendQueue = new Set<number>();
  /** {@link queueSnapshot}'s array for a queue of one. */
  private readonly oneQueued: number[] = [0];

  /**
   * @param role which end we are: decides which stream IDs are ours (§2.1)
   * @param local the limits we advertised in our transport parameters
   * @param windows how far receive windows may grow by auto-tuning
   */
  constructor(role: Role, local: StreamLimits, private readonly windows: ReceiveWindowLimits = { maxStreamWindow: DEFAULT_MAX_STREAM_WINDOW, maxConnectionWindow: DEFAULT_MAX_CONNECTION_WINDOW }) {
    this.role = role;
    this.local = local;
    this.recvMaxData = local.initialMaxData;
    this.recvWindow = local.initialMaxData;
    this.maxStreamsSent = { bidi: local.initialMaxStreamsBidi, uni: local.initialMaxStreamsUni };
  }

  /**
   * Applies the peer's transport parameters: its stream-count limits and the
   * initial credit for our sending. Limits only ever grow.
   */
  setPeerLimits(peer: StreamLimits): void {
    this.peer = peer;
    this.peerMaxData = Math.max(this.peerMaxData, peer.initialMaxData);
    this.raiseStreamLimit('bidi', peer.initialMaxStreamsBidi);
    this.raiseStreamLimit('uni', peer.initialMaxStreamsUni);
    for (const s of this.streams.values()) {
      if (s.send) s.send.maxData = Math.max(s.send.maxData, this.initialSendCredit(s.id));
    }
    this.unblock();
  }

  /**
   * 0-RTT was rejected: the server's new transport parameters replace the
   * remembered ones we sent 0-RTT data under, and may be lower (RFC 9000
   * §7.4.1). Returns false, changing nothing, when the streams and bytes that
   * 0-RTT already used do not fit the new limits: that data could not be resent.
   */
  replacePeerLimits(peer: StreamLimits): boolean {
    if (this.sentData > peer.initialMaxData || this.nextLocal.bidi > peer.initialMaxStreamsBidi || this.nextLocal.uni > peer.initialMaxStreamsUni) return false;
    const previous = this.peer;
    this.peer = peer;
    for (const s of this.streams.values()) {
      if (s.send && s.send.sent > this.initialSendCredit(s.id)) {
        this.peer = previous;
        return false;
      }
    }
    this.peerMaxData = peer.initialMaxData;
    this.peerMaxStreams.bidi = peer.initialMaxStreamsBidi;
    this.peerMaxStreams.uni = peer.initialMaxStreamsUni;
    for (const s of this.streams.values()) if (s.send) s.send.maxData = this.initialSendCredit(s.id);
    this.unblock();
    return true;
  }

  /**
   * Opens the next locally initiated stream and returns its ID (§2.1).
   * @throws StreamsBlockedError when the peer's MAX_STREAMS allows no more;
   *   a STREAMS_BLOCKED frame is then queued (§4.6, §19.14).
   */
  open(bidirectional: boolean): number {
    const dir = dirOf(bidirectional);
    const index = this.nextLocal[dir];
    const limit = this.peerMaxStreams[dir];
    if (index >= limit) {
      this.openRefused[dir] = true;
      if (this.streamsBlockedAt[dir] !== limit) this.streamsBlockedPending[dir] = true;
      throw new StreamsBlockedError(bidirectional, limit);
    }
    this.nextLocal[dir] = index + 1;
    const id = streamIdFor(index, this.role, bidirectional);
    this.streams.set(id, {
      id,
      send: new SendStream(this.initialSendCredit(id)),
      recv: bidirectional ? new RecvStream(this.local.initialMaxStreamDataBidiLocal) : undefined,
    });
    return id;
  }

  /** How many more streams of that direction {@link open} would open now. */
  openable(bidirectional: boolean): number {
    const dir = dirOf(bidirectional);
    return Math.max(0, this.peerMaxStreams[dir] - this.nextLocal[dir]);
  }

  /**
   * Queues `data` (copied) on stream `id`, with FIN after it if `fin`. Never
   * blocks: flow control decides when it leaves in {@link pollFrames}.
   * @throws StreamUsageError for a receive-only, unopened or closed stream, or after FIN or a reset.
   */
  write(id: number, data: Uint8Array, fin = false, copy = true): void {
    const w = this.sendPart(id);
    if (w.reset) {
      throw new StreamUsageError(id, w.stoppedBy !== undefined ? `the peer sent STOP_SENDING (error ${w.stoppedBy})` : 'the stream was reset');
    }
    if (!w.writable) throw new StreamUsageError(id, 'written after FIN');
    if (w.written + data.length >= OFFSET_LIMIT) throw new StreamUsageError(id, 'stream offsets cannot exceed 2^62-1');
    w.write(data, fin, copy);
    if (data.length > 0 || fin) this.sendQueue.add(id);
  }

  /** Streams still held: open, or closing with data or a reset still unacknowledged. */
  get streamCount(): number {
    return this.streams.size;
  }

  /** Bytes written on `id` that the peer has not acknowledged yet (0 for a closed stream). */
  bufferedAmount(id: number): number {
    return this.streams.get(id)?.send?.buffered ?? 0;
  }

  /**
   * Takes up to `max` bytes of in-order data from stream `id`. `fin` is true
   * when the returned bytes end the stream (then `data` may be empty).
   * Undefined when nothing is readable now, or the stream is closed, reset or
   * stopped. Reading hands credit back to the peer: MAX_STREAM_DATA and
   * MAX_DATA are queued once half of a window is consumed. With `chunk`, at
   * most what one received frame brought (see {@link RecvBuffer.nextChunkLength}):
   * a view of the packet it came in, never a copy (quinn's `read_chunk`).
   * @throws StreamUsageError for a send-only or unopened stream.
   */
  read(id: number, max = Number.POSITIVE_INFINITY, chunk = false): { data: Uint8Array; fin: boolean } | undefined {
    this.checkLocalId(id, 'recv');
    const r = this.streams.get(id)?.recv;
    if (!r || r.discarding || r.state === 'data_read') return undefined;
    const n = Math.min(chunk ? r.buffer.nextChunkLength : r.buffer.available, max);
    const atEnd = r.finalSize !== undefined && r.buffer.readOffset + n === r.finalSize;
    if (n <= 0 && !atEnd) return undefined;
    const data = r.buffer.read(n);
    this.consume(r, r.buffer.readOffset);
    if (atEnd) {
      r.state = 'data_read';
      this.maybeClose(id);
    } else if (r.wantsUpdate) {
      this.maxStreamDataPending.add(id);
    }
    return { data, fin: atEnd };
  }

  /**
   * Abandons sending on `id` (§3.1, §19.4): unsent and lost data is dropped
   * and RESET_STREAM carries the final size. No effect if the sending part is
   * already over.
   */
  reset(id: number, errorCode: number): void {
    checkErrorCode(id, errorCode);
    this.checkLocalId(id, 'send');
    const w = this.streams.get(id)?.send;
    if (w && w.abandon(errorCode)) this.afterAbandon(id);
  }

  /**
   * Asks the peer to stop sending on `id` (§3.5, §19.5). Buffered and later
   * data is discarded and its credit handed back. No effect once all data was
   * received or the stream was reset.
   */
  stopSending(id: number, errorCode: number): void {
    checkErrorCode(id, errorCode);
    this.checkLocalId(id, 'recv');
    const r = this.streams.get(id)?.recv;
    if (!r || r.done || r.stop) return;
    // With every byte already here, the peer has nothing left to stop (§3.5).
    const needed = r.state === 'recv' || r.state === 'size_known';
    r.stop = { errorCode, state: needed ? 'pending' : 'acked' };
    if (needed) this.controlPending.add(id);
    this.maxStreamDataPending.delete(id);
    this.readableQueued.delete(id);
    this.discardReceived(r);
    this.maybeClose(id);
  }

  /**
   * Takes a stream-related frame from the peer (STREAM, RESET_STREAM,
   * STOP_SENDING, MAX_DATA, MAX_STREAM_DATA, MAX_STREAMS, DATA_BLOCKED,
   * STREAM_DATA_BLOCKED, STREAMS_BLOCKED); other frame types are ignored.
   * @throws QuicTransportError STREAM_STATE_ERROR, STREAM_LIMIT_ERROR,
   *   FLOW_CONTROL_ERROR, FINAL_SIZE_ERROR, FRAME_ENCODING_ERROR or
   *   PROTOCOL_VIOLATION as RFC 9000 §4, §19 and §2.2 require.
   */
  onFrame(frame: Frame): void {
    switch (frame.type) {
      case 'stream': return this.onStream(frame);
      case 'reset_stream': return this.onResetStream(frame);
      case 'stop_sending': return this.onStopSending(frame);
      case 'max_data':
        // §19.9: a MAX_DATA that does not raise the limit is ignored.
        if (frame.maximum > this.peerMaxData) {
          this.peerMaxData = frame.maximum;
          this.unblock();
        }
        return;
      case 'max_stream_data': {
        const w = this.resolve(frame.streamId, 'send', FrameType.MAX_STREAM_DATA)?.send;
        if (w && frame.maximum > w.maxData) {
          w.maxData = frame.maximum;
          this.unblock(frame.streamId);
        }
        return;
      }
      case 'max_streams': {
        const ft = frame.bidirectional ? FrameType.MAX_STREAMS_BIDI : FrameType.MAX_STREAMS_UNI;
        if (frame.maximum > MAX_STREAMS_LIMIT) throw transportError(TransportErrorCode.FRAME_ENCODING_ERROR, `MAX_STREAMS ${frame.maximum} exceeds 2^60 (§4.6)`, ft);
        this.raiseStreamLimit(dirOf(frame.bidirectional), frame.maximum);
        return;
      }
      case 'data_blocked':
        // §4.1: the peer is blocked; answer if we have more credit to give than we advertised.
        if (this.consumedData + this.recvWindow > this.recvMaxData) this.maxDataPending = true;
        return;
      case 'stream_data_blocked': {
        const r = this.resolve(frame.streamId, 'recv', FrameType.STREAM_DATA_BLOCKED)?.recv;
        if (r && r.state === 'recv' && !r.stop && r.nextMaxData() > r.maxData) this.maxStreamDataPending.add(frame.streamId);
        return;
      }
      case 'streams_blocked': {
        const ft = frame.bidirectional ? FrameType.STREAMS_BLOCKED_BIDI : FrameType.STREAMS_BLOCKED_UNI;
        if (frame.limit > MAX_STREAMS_LIMIT) throw transportError(TransportErrorCode.FRAME_ENCODING_ERROR, `STREAMS_BLOCKED ${frame.limit} exceeds 2^60 (§19.14)`, ft);
        const dir = dirOf(frame.bidirectional);
        if (this.allowedPeerStreams(dir) > this.maxStreamsSent[dir]) this.maxStreamsPending[dir] = true;
        return;
      }
      default:
        return;
    }
  }

  /**
   * Frames to send now, at most `budget` encoded bytes in all, each sized by
   * the frame encoder (STREAM frames always carry a Length field, so they may
   * sit anywhere in a packet). Order: credit updates (MAX_DATA,
   * MAX_STREAM_DATA, MAX_STREAMS), RESET_STREAM and STOP_SENDING, lost stream
   * data (§13.3), new stream data within flow control with streams served
   * round-robin, then DATA_BLOCKED, STREAM_DATA_BLOCKED, STREAMS_BLOCKED.
   * Every frame returned counts as in flight until {@link onAcked} or
   * {@link onLost}.
   *
   * With `now` and the smoothed RTT (ms), receive windows are auto-tuned as
   * Chromium, quiche and OpenSSL do (§4.2 leaves the sizing to the receiver):
   * a MAX_STREAM_DATA or MAX_DATA due again within two RTTs of the previous
   * one means the application read a whole half-window in that time, so the
   * window, not the reader, was what held the sender back; it doubles, up to
   * the ceilings of {@link ReceiveWindowLimits}.
   */
  pollFrames(budget: number, now?: number, rtt?: number): Frame[] {
    // A budget object rather than a closure: this runs for every packet.
    const b = new FrameBudget(budget);
    const out = b.frames;

    if (this.maxDataPending) {
      const window = tunedWindow(this.recvWindow, this.windows.maxConnectionWindow, this.lastMaxDataUpdate, now, rtt);
      const maximum = Math.max(this.recvMaxData, this.consumedData + window);
      if (b.add({ type: 'max_data', maximum })) {
        this.recvMaxData = maximum;
        this.recvWindow = window;
        this.lastMaxDataUpdate = now;
        this.maxDataPending = false;
      }
    }
    for (const id of this.maxStreamDataPending.size > 0 ? [...this.maxStreamDataPending] : NO_IDS) {
      const r = this.streams.get(id)?.recv;
      if (!r || !needsMaxStreamData(r)) {
        this.maxStreamDataPending.delete(id);
        continue;
      }
      const window = tunedWindow(r.window, this.windows.maxStreamWindow, r.lastUpdate, now, rtt);
      const maximum = Math.max(r.maxData, r.buffer.readOffset + window);
      if (b.add({ type: 'max_stream_data', streamId: id, maximum })) {
        r.maxData = maximum;
        r.lastUpdate = now;
        if (window > r.window) {
          r.window = window;
          r.buffer.raiseCapacityLimit(window);
          // Streams that grew need the connection's credit to grow with them, or it becomes the limit.
          const floor = Math.min(Math.floor(window * CONNECTION_WINDOW_FACTOR), Math.max(this.windows.maxConnectionWindow, this.local.initialMaxData));
          if (floor > this.recvWindow) {
            this.recvWindow = floor;
            this.checkMaxData();
          }
        }
        this.maxStreamDataPending.delete(id);
      }
    }
    for (const dir of DIRECTIONS) {
      if (!this.maxStreamsPending[dir]) continue;
      const maximum = Math.max(this.maxStreamsSent[dir], this.allowedPeerStreams(dir));
      if (b.add({ type: 'max_streams', bidirectional: dir === 'bidi', maximum })) {
        this.maxStreamsSent[dir] = maximum;
        this.maxStreamsPending[dir] = false;
      }
    }

    for (const id of this.controlPending.size > 0 ? [...this.controlPending] : NO_IDS) {
      const s = this.streams.get(id);
      const reset = s?.send?.reset;
      if (reset?.state === 'pending' && b.add({ type: 'reset_stream', streamId: id, errorCode: reset.errorCode, finalSize: reset.finalSize })) {
        reset.state = 'sent';
      }
      const r = s?.recv;
      if (r?.stop?.state === 'pending') {
        if (!needsStopSending(r)) r.stop.state = 'acked';
        else if (b.add({ type: 'stop_sending', streamId: id, errorCode: r.stop.errorCode })) r.stop.state = 'sent';
      }
      if (!owesControl(s)) {
        this.controlPending.delete(id);
        this.maybeClose(id);
      }
    }

    b.left = this.pollStreamData(out, b.left, 'lost');
    b.left = this.pollStreamData(out, b.left, 'new');

    if (this.dataBlockedPending) {
      if (this.sentData < this.peerMaxData) this.dataBlockedPending = false;
      else if (b.add({ type: 'data_blocked', limit: this.peerMaxData })) {
        this.dataBlockedAt = this.peerMaxData;
        this.dataBlockedPending = false;
      }
    }
    for (const id of this.streamDataBlockedPending.size > 0 ? [...this.streamDataBlockedPending] : NO_IDS) {
      const w = this.streams.get(id)?.send;
      if (!w || !isStreamBlocked(w)) {
        this.streamDataBlockedPending.delete(id);
        continue;
      }
      if (b.add({ type: 'stream_data_blocked', streamId: id, limit: w.maxData })) {
        w.blockedAt = w.maxData;
        this.streamDataBlockedPending.delete(id);
      }
    }
    for (const dir of DIRECTIONS) {
      if (!this.streamsBlockedPending[dir]) continue;
      const limit = this.peerMaxStreams[dir];
      if (this.nextLocal[dir] < limit) this.streamsBlockedPending[dir] = false;
      else if (b.add({ type: 'streams_blocked', bidirectional: dir === 'bidi', limit })) {
        this.streamsBlockedAt[dir] = limit;
        this.streamsBlockedPending[dir] = false;
      }
    }
    return out;
  }

  /**
   * Whether {@link pollFrames} has something to send given enough budget:
   * every pending entry is checked, so this is never true for nothing.
   */
  get hasPendingFrames(): boolean {
    if (this.maxDataPending) return true;
    if (this.dataBlockedPending && this.sentData >= this.peerMaxData) return true;
    // Asked for every packet built: no iterator is made over an empty set (most are, most of the time).
    for (const dir of DIRECTIONS) {
      if (this.maxStreamsPending[dir]) return true;
      if (this.streamsBlockedPending[dir] && this.nextLocal[dir] >= this.peerMaxStreams[dir]) return true;
    }
    if (this.maxStreamDataPending.size > 0) {
      for (const id of this.maxStreamDataPending) {
        const r = this.streams.get(id)?.recv;
        if (r && needsMaxStreamData(r)) return true;
      }
    }
    if (this.streamDataBlockedPending.size > 0) {
      for (const id of this.streamDataBlockedPending) {
        const w = this.streams.get(id)?.send;
        if (w && isStreamBlocked(w)) return true;
      }
    }
    if (this.controlPending.size > 0) {
      for (const id of this.controlPending) {
        const s = this.streams.get(id);
        if (s?.send?.reset?.state === 'pending') return true;
        if (s?.recv?.stop?.state === 'pending' && needsStopSending(s.recv)) return true;
      }
    }
    if (this.sendQueue.size === 0) return false;
    for (const id of this.sendQueue) {
      const w = this.streams.get(id)?.send;
      if (!w) continue;
      if (w.hasLost || w.finOnlyReady || (w.unsent > 0 && this.credit(w) > 0)) return true;
      if (w.unsent > 0 && this.wouldAnnounceBlocked(w)) return true;
    }
    return false;
  }

  /** A frame from {@link pollFrames} was acknowledged: free acknowledged data, finish streams. */
  onAcked(frame: Frame): void {
    switch (frame.type) {
      case 'stream': {
        const w = this.streams.get(frame.streamId)?.send;
        if (!w) return;
        w.onAcked(frame.offset, frame.data.length, frame.fin);
        if (w.done) this.maybeClose(frame.streamId);
        return;
      }
      case 'reset_stream': {
        const reset = this.streams.get(frame.streamId)?.send?.reset;
        if (!reset) return;
        reset.state = 'acked';
        this.maybeClose(frame.streamId);
        return;
      }
      case 'stop_sending': {
        const stop = this.streams.get(frame.streamId)?.recv?.stop;
        if (stop) stop.state = 'acked';
        return;
      }
      default:
        return;
    }
  }

  /**
   * A frame from {@link pollFrames} was declared lost: queue again what is
   * still needed (§13.3) — unacknowledged data of streams not reset; a
   * RESET_STREAM until acknowledged; STOP_SENDING while data is still
   * expected; credit and blocked frames only if their value is still current
   * (a newer value is sent instead).
   */
  onLost(frame: Frame): void {
    switch (frame.type) {
      case 'stream': {
        const w = this.streams.get(frame.streamId)?.send;
        if (w?.onLost(frame.offset, frame.data.length, frame.fin)) this.sendQueue.add(frame.streamId);
        return;
      }
      case 'reset_stream': {
        const reset = this.streams.get(frame.streamId)?.send?.reset;
        if (reset && reset.state !== 'acked') {
          reset.state = 'pending';
          this.controlPending.add(frame.streamId);
        }
        return;
      }
      case 'stop_sending': {
        const r = this.streams.get(frame.streamId)?.recv;
        if (r?.stop && r.stop.state !== 'acked' && needsStopSending(r)) {
          r.stop.state = 'pending';
          this.controlPending.add(frame.streamId);
        }
        return;
      }
      case 'max_data':
        if (frame.maximum === this.recvMaxData) this.maxDataPending = true;
        return;
      case 'max_stream_data': {
        const r = this.streams.get(frame.streamId)?.recv;
        if (r && frame.maximum === r.maxData && needsMaxStreamData(r)) this.maxStreamDataPending.add(frame.streamId);
        return;
      }
      case 'max_streams': {
        const dir = dirOf(frame.bidirectional);
        if (frame.maximum === this.maxStreamsSent[dir]) this.maxStreamsPending[dir] = true;
        return;
      }
      case 'data_blocked':
        if (frame.limit === this.peerMaxData && this.sentData >= this.peerMaxData) this.dataBlockedPending = true;
        return;
      case 'stream_data_blocked': {
        const w = this.streams.get(frame.streamId)?.send;
        if (w && frame.limit === w.maxData && isStreamBlocked(w)) this.streamDataBlockedPending.add(frame.streamId);
        return;
      }
      case 'streams_blocked': {
        const dir = dirOf(frame.bidirectional);
        if (frame.limit === this.peerMaxStreams[dir] && this.nextLocal[dir] >= frame.limit) this.streamsBlockedPending[dir] = true;
        return;
      }
      default:
        return;
    }
  }

  /** The next event, oldest first. */
  pollEvent(): StreamEvent | undefined {
    const ev = this.events[this.eventHead];
    if (!ev) return undefined;
    this.eventHead++;
    if (this.eventHead === this.events.length) {
      this.events = [];
      this.eventHead = 0;
    }
    if (ev.type === 'readable') this.readableQueued.delete(ev.id);
    if (ev.type === 'writable') this.writableQueued.delete(ev.id);
    // Half the backlog drained: the peer may open streams again.
    if (this.eventBacklog <= MAX_STREAM_EVENT_BACKLOG / 2) {
      for (const dir of DIRECTIONS) {
        if (this.withheldCredit[dir] === 0) continue;
        this.closedPeer[dir] += this.withheldCredit[dir];
        this.withheldCredit[dir] = 0;
        this.offerStreamCredit(dir);
      }
    }
    return ev;
  }

  /** Events queued and not yet polled. */
  get eventBacklog(): number {
    return this.events.length - this.eventHead;
  }

  // ---- receiving ----

  private onStream(f: Extract<Frame, { type: 'stream' }>): void {
    const ft = streamFrameType(f);
    const end = f.offset + f.data.length;
    // §19.8: no flow-control credit can cover bytes beyond 2^62-1.
    if (end >= OFFSET_LIMIT) throw transportError(TransportErrorCode.FRAME_ENCODING_ERROR, `STREAM data ends at ${end}, beyond 2^62-1`, ft);
    const r = this.resolve(f.streamId, 'recv', ft)?.recv;
    if (!r) return;
    checkFinalSize(r, end, f.fin, ft);
    if (end > r.maxData) {
      throw transportError(TransportErrorCode.FLOW_CONTROL_ERROR, `stream ${f.streamId}: data up to ${end} exceeds MAX_STREAM_DATA ${r.maxData} (§4.1)`, ft);
    }
    this.account(r, end, ft);
    if (f.fin && r.finalSize === undefined) {
      r.finalSize = end;
      if (r.state === 'recv') r.state = 'size_known';
      this.maxStreamDataPending.delete(f.streamId);
    }
    if (r.discarding) {
      this.consume(r, r.highest);
      this.maybeClose(f.streamId);
      return;
    }
    if (r.state === 'data_recvd' || r.state === 'data_read') return;
    const before = r.buffer.available;
    const inserted = r.buffer.insert(f.offset, f.data);
    if (inserted === 'conflict') {
      throw transportError(TransportErrorCode.PROTOCOL_VIOLATION, `stream ${f.streamId}: data at offset ${f.offset} differs from data received before (§2.2)`, ft);
    }
    if (inserted === 'fragmented') {
      // No honest sender scatters this many disjoint pieces; holding them would cost time per frame without bound.
      throw transportError(TransportErrorCode.PROTOCOL_VIOLATION, `stream ${f.streamId}: too many disjoint pieces of data outstanding`, ft);
    }
    const complete = r.state === 'size_known' && r.complete;
    if (r.buffer.available > before || complete) this.queueReadable(f.streamId);
    if (complete) {
      r.state = 'data_recvd';
      this.push({ type: 'finished', id: f.streamId });
    }
  }

  private onResetStream(f: Extract<Frame, { type: 'reset_stream' }>): void {
    const ft = FrameType.RESET_STREAM;
    const r = this.resolve(f.streamId, 'recv', ft)?.recv;
    if (!r) return;
    checkFinalSize(r, f.finalSize, true, ft);
    if (f.finalSize > r.maxData) {
      throw transportError(TransportErrorCode.FLOW_CONTROL_ERROR, `stream ${f.streamId}: final size ${f.finalSize} exceeds MAX_STREAM_DATA ${r.maxData} (§4.5)`, ft);
    }
    this.account(r, f.finalSize, ft);
    r.finalSize = f.finalSize;
    this.maxStreamDataPending.delete(f.streamId);
    // With all data already received the reset changes nothing the application needs (§3.2 leaves this to us).
    if (r.state === 'data_recvd' || r.state === 'data_read' || r.state === 'reset_recvd') return;
    r.state = 'reset_recvd';
    this.readableQueued.delete(f.streamId);
    this.discardReceived(r);
    this.push({ type: 'reset', id: f.streamId, errorCode: f.errorCode });
    this.maybeClose(f.streamId);
  }

  private onStopSending(f: Extract<Frame, { type: 'stop_sending' }>): void {
    const w = this.resolve(f.streamId, 'send', FrameType.STOP_SENDING)?.send;
    if (!w || !w.abandon(f.errorCode)) return;
    // §3.5: answer with RESET_STREAM, copying the error code.
    w.stoppedBy = f.errorCode;
    this.afterAbandon(f.streamId);
    this.push({ type: 'stopped', id: f.streamId, errorCode: f.errorCode });
  }

  /**
   * The stream a peer frame names, opening peer-initiated streams up to it
   * (§3.2) or undefined if it was closed and forgotten. `part` is the part of
   * the stream the frame is about, from our side.
   */
  private resolve(id: number, part: 'send' | 'recv', ft: number): Stream | undefined {
    if (part === 'recv' && !canReceive(id, this.role)) {
      throw transportError(TransportErrorCode.STREAM_STATE_ERROR, `frame 0x${ft.toString(16)} for our send-only stream ${id}`, ft);
    }
    if (part === 'send' && !canSend(id, this.role)) {
      throw transportError(TransportErrorCode.STREAM_STATE_ERROR, `frame 0x${ft.toString(16)} for our receive-only stream ${id}`, ft);
    }
    const dir = dirOf(isBidirectional(id));
    const index = streamIndex(id);
    if (isLocallyInitiated(id, this.role)) {
      if (index >= this.nextLocal[dir]) {
        throw transportError(TransportErrorCode.STREAM_STATE_ERROR, `frame 0x${ft.toString(16)} for stream ${id}, which we have not opened`, ft);
      }
      return this.streams.get(id);
    }
    if (index < this.nextPeer[dir]) return this.streams.get(id);
    if (index >= this.maxStreamsSent[dir]) {
      throw transportError(TransportErrorCode.STREAM_LIMIT_ERROR, `stream ${id} exceeds our MAX_STREAMS ${this.maxStreamsSent[dir]} (§4.6)`, ft);
    }
    for (let i = this.nextPeer[dir]; i <= index; i++) {
      const sid = streamIdFor(i, this.role === 'client' ? 'server' : 'client', dir === 'bidi');
      this.streams.set(sid, {
        id: sid,
        send: dir === 'bidi' ? new SendStream(this.initialSendCredit(sid)) : undefined,
        recv: new RecvStream(dir === 'bidi' ? this.local.initialMaxStreamDataBidiRemote : this.local.initialMaxStreamDataUni),
      });
      this.push({ type: 'opened', id: sid });
    }
    this.nextPeer[dir] = index + 1;
    return this.streams.get(id);
  }

  /** Charges growth of a stream's largest offset to connection flow control (§4.1). */
  private account(r: RecvStream, end: number, ft: number): void {
    const growth = end - r.highest;
    if (growth <= 0) return;
    if (this.recvData + growth > this.recvMaxData) {
      throw transportError(TransportErrorCode.FLOW_CONTROL_ERROR, `connection data ${this.recvData + growth} exceeds MAX_DATA ${this.recvMaxData} (§4.1)`, ft);
    }
    this.recvData += growth;
    r.highest = end;
  }

  /** Hands credit up to stream offset `upTo` back to the connection window. */
  private consume(r: RecvStream, upTo: number): void {
    if (upTo <= r.consumed) return;
    this.consumedData += upTo - r.consumed;
    r.consumed = upTo;
    this.checkMaxData();
  }

  /** MAX_DATA is owed once half of the connection window has been consumed since the last one. */
  private checkMaxData(): void {
    const w = this.recvWindow;
    const next = this.consumedData + w;
    if (next > this.recvMaxData && next - this.recvMaxData >= w / 2) this.maxDataPending = true;
  }

  /** Drops buffered data (reset or stopped); all of it, and whatever follows, counts as consumed. */
  private discardReceived(r: RecvStream): void {
    const upTo = r.finalSize ?? r.highest;
    r.buffer.discard(upTo);
    this.consume(r, upTo);
  }

  private queueReadable(id: number): void {
    if (this.readableQueued.has(id)) return;
    this.readableQueued.add(id);
    this.push({ type: 'readable', id });
  }

  private push(ev: StreamEvent): void {
    this.events.push(ev);
  }

  // ---- sending ----

  /** One pass kind over the round-robin queue: lost data, or new data within credit. */
  private pollStreamData(out: Frame[], budget: number, kind: 'lost' | 'new'): number {
    if (this.sendQueue.size === 0) return budget;
    let left = budget;
    for (let progress = true; progress && left > 0;) {
      progress = false;
      for (const id of this.queueSnapshot()) {
        if (left <= 0) break; // a full packet: the streams left could not send a byte
        const w = this.streams.get(id)?.send;
        if (!w) {
          this.sendQueue.delete(id);
          continue;
        }
        const offset = kind === 'lost' ? w.nextLostOffset() : w.sent;
        if (offset === undefined) continue;
        const header = 1 + varintLength(id) + (offset > 0 ? varintLength(offset) : 0);
        let max = maxStreamPayload(left - header);
        if (max < 0) continue;
        if (kind === 'new') max = Math.min(max, this.credit(w));
        const chunk = kind === 'lost' ? w.takeLost(max) : w.takeNew(max);
        if (!chunk) continue;
        const frame: Frame = { type: 'stream', streamId: id, offset: chunk.offset, data: chunk.data, fin: chunk.fin, hasLength: true };
        out.push(frame);
        left -= header + varintLength(chunk.data.length) + chunk.data.length;
        if (kind === 'new') this.sentData += chunk.data.length;
        progress = true;
        // Round-robin: a stream that sent waits behind the others (alone, it is where it would go).
        if (this.sendQueue.size > 1) {
          this.sendQueue.delete(id);
          this.sendQueue.add(id);
        }
      }
    }
    if (kind === 'new') this.pruneSendQueue();
    return left;
  }

  /**
   * The send queue's streams, in order, to walk while the queue changes under the walk (a stream that sent goes to
   * the back, one with nothing left leaves). Asked two or three times per packet: one stream, the common case of a
   * bulk transfer, is handed back in an array kept for the purpose, not a fresh copy of the set.
   */
  private queueSnapshot(): readonly number[] {
    if (this.sendQueue.size !== 1) return [...this.sendQueue];
    const one = this.oneQueued;
    for (const id of this.sendQueue) one[0] = id;
    return one;
  }

  /** Drops streams with nothing left to send; those out of credit are marked blocked first. */
  private pruneSendQueue(): void {
    for (const id of this.queueSnapshot()) {
      const w = this.streams.get(id)?.send;
      if (w && !w.reset && (w.hasLost || w.finOnlyReady)) continue;
      if (w && !w.reset && w.unsent > 0) {
        if (this.credit(w) > 0) continue;
        this.markBlocked(id, w);
      }
      this.sendQueue.delete(id);
    }
  }

  private credit(w: SendStream): number {
    return Math.max(0, Math.min(w.maxData - w.sent, this.peerMaxData - this.sentData));
  }

  /** Whether a STREAM_DATA_BLOCKED or DATA_BLOCKED for the current limit is still unsent. */
  private wouldAnnounceBlocked(w: SendStream): boolean {
    return (w.sent >= w.maxData && w.blockedAt !== w.maxData) || (this.sentData >= this.peerMaxData && this.dataBlockedAt !== this.peerMaxData);
  }

  /** The stream waits for credit: announce it once per limit (§4.1, §19.12, §19.13). */
  private markBlocked(id: number, w: SendStream): void {
    this.blocked.add(id);
    if (w.sent >= w.maxData && w.blockedAt !== w.maxData) this.streamDataBlockedPending.add(id);
    if (this.sentData >= this.peerMaxData && this.dataBlockedAt !== this.peerMaxData) this.dataBlockedPending = true;
  }

  /** Credit arrived: blocked streams that can send again say so and rejoin the queue. */
  private unblock(only?: number): void {
    for (const id of only === undefined ? [...this.blocked] : [only]) {
      if (!this.blocked.has(id)) continue;
      const w = this.streams.get(id)?.send;
      if (!w || w.reset) {
        this.blocked.delete(id);
        continue;
      }
      if (this.credit(w) === 0) continue;
      this.blocked.delete(id);
      this.sendQueue.add(id);
      if (!this.writableQueued.has(id)) {
        this.writableQueued.add(id);
        this.push({ type: 'writable', id });
      }
    }
  }

  private afterAbandon(id: number): void {
    this.controlPending.add(id);
    this.sendQueue.delete(id);
    this.blocked.delete(id);
    this.streamDataBlockedPending.delete(id);
  }

  private raiseStreamLimit(dir: Dir, maximum: number): void {
    // §4.6: a limit that does not grow is ignored.
    if (maximum <= this.peerMaxStreams[dir]) return;
    this.peerMaxStreams[dir] = maximum;
    if (this.openRefused[dir] && this.nextLocal[dir] < maximum) {
      this.openRefused[dir] = false;
      this.push({ type: 'streams_available', bidirectional: dir === 'bidi' });
    }
  }

  /** The peer's initial credit for stream `id` (§18.2: "local" and "remote" are from the peer's side). */
  private initialSendCredit(id: number): number {
    if (!isBidirectional(id)) return this.peer.initialMaxStreamDataUni;
    return isLocallyInitiated(id, this.role) ? this.peer.initialMaxStreamDataBidiRemote : this.peer.initialMaxStreamDataBidiLocal;
  }

  // ---- lifetime ----

  /** Peer streams of a type the peer may have opened in all: initial limit plus those fully closed. */
  private allowedPeerStreams(dir: Dir): number {
    const initial = dir === 'bidi' ? this.local.initialMaxStreamsBidi : this.local.initialMaxStreamsUni;
    return Math.min(MAX_STREAMS_LIMIT, initial + this.closedPeer[dir]);
  }

  /** Forgets a stream once both parts are over (§3.3); a closed peer stream makes room for another. */
  private maybeClose(id: number): void {
    const s = this.streams.get(id);
    if (!s) return;
    if (s.send && !s.send.done) return;
    if (s.recv && !s.recv.done) return;
    this.streams.delete(id);
    this.sendQueue.delete(id);
    this.blocked.delete(id);
    this.controlPending.delete(id);
    this.maxStreamDataPending.delete(id);
    this.streamDataBlockedPending.delete(id);
    if (isLocallyInitiated(id, this.role)) return;
    const dir = dirOf(isBidirectional(id));
    if (this.eventBacklog >= MAX_STREAM_EVENT_BACKLOG) {
      this.withheldCredit[dir]++;
      return;
    }
    this.closedPeer[dir]++;
    this.offerStreamCredit(dir);
  }

  private offerStreamCredit(dir: Dir): void {
    // Raise the limit in batches of half the initial allowance, not one frame per stream.
    const initial = dir === 'bidi' ? this.local.initialMaxStreamsBidi : this.local.initialMaxStreamsUni;
    if (this.allowedPeerStreams(dir) - this.maxStreamsSent[dir] >= Math.max(1, Math.floor(initial / 2))) this.maxStreamsPending[dir] = true;
  }

  /** The part of one of our streams the application names; throws on misuse. */
  private sendPart(id: number): SendStream {
    this.checkLocalId(id, 'send');
    const w = this.streams.get(id)?.send;
    if (!w) throw new StreamUsageError(id, 'the sending part is closed');
    return w;
  }

  /** Application calls must name a stream that exists (or existed) and has the part used. */
  private checkLocalId(id: number, part: 'send' | 'recv'): void {
    if (!Number.isSafeInteger(id) || id < 0) throw new StreamUsageError(id, 'not a stream ID');
    if (part === 'send' && !canSend(id, this.role)) throw new StreamUsageError(id, 'is receive-only');
    if (part === 'recv' && !canReceive(id, this.role)) throw new StreamUsageError(id, 'is send-only');
    const dir = dirOf(isBidirectional(id));
    const next = isLocallyInitiated(id, this.role) ? this.nextLocal[dir] : this.nextPeer[dir];
    if (streamIndex(id) >= next) throw new StreamUsageError(id, 'has not been opened');
  }
}

function transportError(code: number, message: string, frameType: number): QuicTransportError {
  return new QuicTransportError(code, message, { frameType });
}

/** §4.5: a final size, once known, never changes, and no data lies beyond it. */
function checkFinalSize(r: RecvStream, end: number, fin: boolean, ft: number): void {
  if (r.finalSize !== undefined) {
    if (end > r.finalSize) throw transportError(TransportErrorCode.FINAL_SIZE_ERROR, `data up to ${end} beyond final size ${r.finalSize}`, ft);
    if (fin && end !== r.finalSize) throw transportError(TransportErrorCode.FINAL_SIZE_ERROR, `final size changed from ${r.finalSize} to ${end}`, ft);
  } else if (fin && end < r.highest) {
    throw transportError(TransportErrorCode.FINAL_SIZE_ERROR, `final size ${end} below data already received up to ${r.highest}`, ft);
  }
}

/**
 * The receive window to advertise now: doubled, up to `max`, when the previous
 * update of it went out less than {@link WINDOW_TUNING_RTTS} RTTs ago.
 */
function tunedWindow(window: number, max: number, lastUpdate: number | undefined, now: number | undefined, rtt: number | undefined): number {
  if (now === undefined || rtt === undefined || lastUpdate === undefined || window >= max) return window;
  return now - lastUpdate < WINDOW_TUNING_RTTS * rtt ? Math.min(2 * window, max) : window;
}

/** MAX_STREAM_DATA is only worth sending while the final size is unknown and we still want the data. */
function needsMaxStreamData(r: RecvStream): boolean {
  return r.state === 'recv' && !r.stop;
}

/** STOP_SENDING matters until every byte or a reset has arrived (§13.3). */
function needsStopSending(r: RecvStream): boolean {
  return r.state === 'recv' || r.state === 'size_known';
}

function isStreamBlocked(w: SendStream): boolean {
  return !w.reset && w.unsent > 0 && w.sent >= w.maxData;
}

function owesControl(s: Stream | undefined): boolean {
  return s?.send?.reset?.state === 'pending' || (s?.recv?.stop?.state === 'pending' && needsStopSending(s.recv));
}
