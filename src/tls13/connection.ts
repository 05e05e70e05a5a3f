import { AlertDescription, BadRecordMacError, ConfigError, PqtlsError, alertName } from '../errors.js';
import { concat } from '../bytes.js';
import { LEND_FROM, lendBuffer, releaseBuffer } from '../buffer-pool.js';
import { ContentType, MAX_PLAINTEXT } from './content-type.js';
import { HandshakeType } from './constants.js';
import { resolveClientOptions, resolveServerOptions, type ClientOptions, type ServerOptions } from './config.js';
import { Outbox, type HandshakeAction, type HandshakeInfo, type Level } from './handshake/common.js';
import { handleClient, startClient, type ClientState } from './handshake/client.js';
import { detachedExporter, exporter, updateWriteKey, type Connected, type KeyingMaterialExporter } from './handshake/post-handshake.js';
import { handleServer, startServer, type ServerState } from './handshake/server.js';
import { HandshakeReassembler, type HandshakeMessage } from './messages/handshake.js';
import { RecordReader, encodeRecord, encodeRecords, joinSmallPieces } from './record-layer.js';
import { RecordProtector, type OpenedRecord, type PaddingPolicy } from './record-protection.js';

/** Something the connection reports to its owner; read them with {@link TlsConnection.poll}. */
export type TlsEvent =
  | { readonly type: 'handshake'; readonly info: HandshakeInfo }
  | { readonly type: 'data'; readonly data: Uint8Array }
  /** Server: 0-RTT data the client sent before the handshake completed (replayable: RFC 8446 §8). */
  | { readonly type: 'earlyData'; readonly data: Uint8Array }
  /** The peer sent close_notify: it will send no more data. */
  | { readonly type: 'peerClosed' }
  /** The peer sent a fatal alert. */
  | { readonly type: 'alertReceived'; readonly alert: number; readonly name: string }
  /** We ended the connection with a fatal alert (already queued for sending). */
  | { readonly type: 'error'; readonly error: PqtlsError }
  /** A NewSessionTicket body, for session resumption. */
  | { readonly type: 'ticket'; readonly body: Uint8Array };

/**
 * Bounds on what a peer can make one connection do. A peer that exceeds a count
 * is cut off with unexpected_message. The counts follow BoringSSL (kMaxKeyUpdates,
 * kMaxEmptyRecords, kMaxWarningAlerts), which rustls copies in its TemperCounters,
 * and OpenSSL (MAX_EMPTY_RECORDS = 32). "Without application data" means the count
 * restarts whenever a non-empty application data record arrives, so a long-lived
 * connection may see any number of these, just not an unbroken flood.
 */
export interface ConnectionLimits {
  /**
   * Most bytes of received, not yet processed data held (default 256 KiB); at
   * least one full protected record (16,645 bytes).
   */
  readonly maxBufferedBytes?: number;
  /** KeyUpdate messages accepted without application data in between (default 32). Each one requesting an update is answered. */
  readonly maxKeyUpdates?: number;
  /** Consecutive records with no content (after decryption) accepted (default 32). */
  readonly maxEmptyRecords?: number;
  /** user_canceled warning alerts accepted without application data in between (default 4). */
  readonly maxWarningAlerts?: number;
  /** Client: NewSessionTicket messages accepted without application data in between (default 16). */
  readonly maxTickets?: number;
  /**
   * Compatibility change_cipher_spec records accepted in all (default 2: a
   * compliant peer sends at most one, RFC 8446 Appendix D.4; rustls allows two).
   */
  readonly maxChangeCipherSpecs?: number;
  /** Padding policy for records we send. */
  readonly padding?: PaddingPolicy;
}

type Counted = 'maxKeyUpdates' | 'maxEmptyRecords' | 'maxWarningAlerts' | 'maxTickets' | 'maxChangeCipherSpecs';

const DEFAULT_COUNTS: Readonly<Record<Counted, number>> = {
  maxKeyUpdates: 32, maxEmptyRecords: 32, maxWarningAlerts: 4, maxTickets: 16, maxChangeCipherSpecs: 2,
};

const DEFAULT_MAX_BUFFERED = 256 * 1024;

/** Validates limits up front, so a bad value is a ConfigError at construction, not a surprise mid-connection. */
function resolveLimits(limits: ConnectionLimits): Readonly<Record<Counted, number>> & { readonly maxBufferedBytes: number } {
  const maxBufferedBytes = limits.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED;
  if (!Number.isSafeInteger(maxBufferedBytes) || maxBufferedBytes < RECEIVE_SLICE) {
    throw new ConfigError(`limits.maxBufferedBytes must be an integer of at least ${RECEIVE_SLICE} (one full protected record), not ${maxBufferedBytes}`);
  }
  const out = { ...DEFAULT_COUNTS, maxBufferedBytes };
  for (const key of Object.keys(DEFAULT_COUNTS) as Counted[]) {
    const v = limits[key] ?? DEFAULT_COUNTS[key];
    if (!Number.isSafeInteger(v) || v < 0) throw new ConfigError(`limits.${key} must be a non-negative integer, not ${v}`);
    out[key] = v;
  }
  return out;
}

/** A full protected record with its header. */
const RECEIVE_SLICE = 5 + (1 << 14) + 256;

/** Where {@link TlsConnection} goes on processing received bytes once a record's asynchronous work is done. */
interface Resume {
  readonly at: number;
  readonly wait: Promise<void>;
}

type State = { role: 'client'; s: ClientState } | { role: 'server'; s: ServerState };

/**
 * A TLS 1.3 connection, sans-IO. Feed it the bytes the transport received
 * with {@link receive}; send whatever {@link takeOutput} returns; read events
 * with {@link poll}. Nothing here touches a socket, a timer or a clock.
 *
 * Calls may be made without awaiting the previous one: they run in order.
 */
export class TlsConnection {
  private readonly reader: RecordReader;
  private readonly reassembler: HandshakeReassembler;
  private readonly events: TlsEvent[] = [];
  private output: Uint8Array[] = [];
  private readProtector: RecordProtector | undefined;
  private writeProtector: RecordProtector | undefined;
  private readLevel: Level = 'initial';
  private writeLevel: Level = 'initial';
  private pendingWrites: Uint8Array[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  /** Operations queued by {@link serial} and not yet finished: none means a receive may run at once. */
  private queued = 0;
  private info: HandshakeInfo | undefined;
  private failed: PqtlsError | undefined;
  private sentClose = false;
  private receivedClose = false;
  private peerFinishedSeen = false;
  /** Largest content per protected record: 2^14, or less under the peer's record_size_limit (RFC 8449). */
  private maxFragment = MAX_PLAINTEXT;
  private sentAnyRecord = false;
  /** Server: bytes of early data still acceptable (§4.2.10), while reading at the early level. */
  private earlyBudget = 0;
  /** Server: after rejecting 0-RTT, bytes of undecryptable records still to skip; undefined when not skipping. */
  private skipBudget: number | undefined;
  /** Client: the 0-RTT data to send when the session allows it. */
  private earlyDataToSend: Uint8Array | undefined;
  private replayEarlyData = false;
  private readonly caps: ReturnType<typeof resolveLimits>;
  /** What the peer has sent against each cap (see {@link ConnectionLimits}). */
  private readonly counts: Record<Counted, number> = {
    maxKeyUpdates: 0, maxEmptyRecords: 0, maxWarningAlerts: 0, maxTickets: 0, maxChangeCipherSpecs: 0,
  };

  private constructor(
    private state: State,
    private readonly outbox: Outbox,
    private readonly limits: ConnectionLimits,
    maxHandshakeMessageSize: number,
  ) {
    this.caps = resolveLimits(limits);
    this.reader = new RecordReader({ maxBufferedBytes: this.caps.maxBufferedBytes });
    this.reassembler = new HandshakeReassembler(maxHandshakeMessageSize);
  }

  /** Starts a client: the ClientHello is ready in {@link takeOutput} when this resolves. */
  static async client(options: ClientOptions, limits: ConnectionLimits = {}): Promise<TlsConnection> {
    const cfg = resolveClientOptions(options);
    resolveLimits(limits);
    const { state, out } = await startClient(cfg);
    const c = new TlsConnection({ role: 'client', s: state }, out, limits, cfg.maxHandshakeMessageSize);
    c.earlyDataToSend = cfg.earlyData;
    c.replayEarlyData = cfg.replayRejectedEarlyData;
    await c.apply();
    return c;
  }

  /** A server awaiting a ClientHello. Options are validated here, so misconfiguration throws at once. */
  static server(options: ServerOptions, limits: ConnectionLimits = {}): TlsConnection {
    const cfg = resolveServerOptions(options);
    return new TlsConnection({ role: 'server', s: startServer(cfg) }, new Outbox(cfg.keyLog, new Uint8Array(32)), limits, cfg.maxHandshakeMessageSize);
  }

  /** Negotiated parameters, once the handshake is complete. */
  get handshakeInfo(): HandshakeInfo | undefined {
    return this.info;
  }
  get isHandshaking(): boolean {
    return this.info === undefined && !this.failed;
  }
  /** The error that ended the connection, if one did. */
  get error(): PqtlsError | undefined {
    return this.failed;
  }
  /** True once neither side can send more: an error, or close_notify both ways. */
  get isClosed(): boolean {
    return this.failed !== undefined || (this.sentClose && this.receivedClose);
  }
  get peerHasClosed(): boolean {
    return this.receivedClose;
  }

  /** The next event, or undefined. */
  poll(): TlsEvent | undefined {
    return this.events.shift();
  }

  /** Bytes to hand to the transport (empty if none), as one array: a flight of records is concatenated. */
  takeOutput(): Uint8Array {
    const out = this.output.length === 1 ? (this.output[0] as Uint8Array) : concat(...this.output);
    this.output = [];
    return out;
  }

  /**
   * The same bytes as {@link takeOutput}, in order, as the records were made
   * (one array per record or flight): for a transport that takes a list
   * (`writev`, a corked socket), so nothing is copied to join them.
   */
  takeOutputChunks(): Uint8Array[] {
    const out = this.output;
    this.output = [];
    return out;
  }

  /**
   * Optional: gives back a chunk from {@link takeOutputChunks} once the
   * transport is done with it (the socket took its bytes, or failed): a later
   * bulk write's records may then be sealed in the same memory instead of a
   * fresh buffer (see ../buffer-pool.ts). Only call it when nothing reads the
   * chunk again; chunks that were not lent (small ones, parts of one, copies)
   * and second calls are ignored.
   */
  releaseOutput(chunk: Uint8Array): void {
    releaseBuffer(chunk);
  }

  /** Whether {@link takeOutput} has something. */
  get wantsWrite(): boolean {
    return this.output.length > 0;
  }

  /**
   * Processes bytes received from the peer. Whatever the bytes, and whatever
   * the connection's own code or callbacks throw meanwhile, this never rejects:
   * failures become an alert and an `error` event. `data` is read in place
   * (only a record cut across two calls is copied), so it must stay unchanged
   * until the promise resolves; after that the caller may reuse it.
   */
  receive(data: Uint8Array): Promise<void | undefined> {
    return this.serial(() => this.receiveFrom(data, undefined), true);
  }

  /**
   * {@link receive}, done before returning when it can be: with nothing else
   * queued, the records that need no asynchronous work (application data
   * under a synchronous AEAD) are processed at once, with no promise. Returns
   * undefined when all of `data` was processed that way (events are ready to
   * poll); otherwise a promise like receive's, for the rest. Either way
   * `data` must stay unchanged until then.
   *
   * With `consumable`, the caller gives `data` up for good (a transport that
   * never reuses its read buffers, as net.Socket): records lying wholly inside
   * it are decrypted in place and application data events view `data`, with
   * no copy and no slab. Without it `data` is only read.
   */
  receiveSync(data: Uint8Array, options?: { readonly consumable?: boolean }): Promise<void | undefined> | undefined {
    if (this.queued > 0) return this.receive(data);
    const consumable = options?.consumable === true;
    let more: Resume | undefined;
    try {
      more = this.receiveSome(data, 0, consumable);
    } catch (e) {
      this.reader.release();
      return this.serial(() => Promise.reject(e), true);
    }
    if (!more) return undefined;
    // A record needs asynchronous work (a handshake message, say), already started: the rest waits for it.
    more.wait.catch(() => undefined);
    return this.serial(() => this.receiveFrom(data, more, consumable), true);
  }

  /** Processes `data` from where `resume` says (from its start if undefined), waiting for each record that needs it. */
  private async receiveFrom(data: Uint8Array, resume: Resume | undefined, consumable = false): Promise<void> {
    try {
      for (let r = resume ?? this.receiveSome(data, 0, consumable); r; r = this.receiveSome(data, r.at, consumable)) await r.wait;
    } finally {
      this.reader.release();
    }
  }

  /**
   * Processes records, feeding the reader `data` from offset `o` on, until
   * all of it is done (undefined) or a record needs asynchronous work: then
   * where to go on from, once its promise settles. The reader borrows `data`
   * rather than copying it: records lying wholly inside it are opened where
   * they lie, and only a record cut across two reads is copied, while the
   * bytes the reader holds stay within its limit whatever the transport hands over.
   */
  private receiveSome(data: Uint8Array, o: number, consumable: boolean): Resume | undefined {
    for (;;) {
      for (let rec = this.done() ? undefined : this.reader.nextView(); rec; rec = this.done() ? undefined : this.reader.nextView()) {
        // Application data under a synchronous AEAD is handled without a promise per record; one lying in
        // bytes given up to us is opened in place (one assembled in the reader's buffer keeps the slab).
        const pending = rec.fragmentTail
          ? this.onSplitRecord(rec.type, rec.header, rec.fragment, rec.fragmentTail)
          : this.onRecord(rec.type, rec.header, rec.fragment, consumable && this.reader.lastInFed);
        if (pending) return { at: o, wait: pending };
      }
      this.reader.release();
      if (this.done() || o >= data.length) return undefined;
      const n = Math.min(this.reader.room, data.length - o);
      // Given up, a record cut across two reads is opened where its two parts lie (RecordReader.feed).
      this.reader.feed(data.subarray(o, o + n), consumable);
      o += n;
    }
  }

  /**
   * Queues application data. Before the handshake has an application key it is
   * held back (copied); after, it is sealed into records at once, and `data`
   * may be reused as soon as the promise resolves.
   */
  write(data: Uint8Array): Promise<void | undefined> {
    return this.writev([data]);
  }

  /**
   * {@link write} for several buffers, sent as if concatenated: records are cut
   * across their boundaries, so many small writes fill full records, and each
   * byte is copied once, into its record.
   */
  /**
   * {@link writev}, done before returning when it can be: with nothing else
   * queued and a synchronous AEAD, the records are sealed at once and ready in
   * the output, and the result is undefined; otherwise writev's promise.
   */
  writevSync(chunks: readonly Uint8Array[]): Promise<void | undefined> | undefined {
    const wp = this.writeProtector;
    if (this.queued > 0 || this.failed || this.sentClose || this.writeLevel !== 'application' || !wp || !(wp.sealsInPieces || wp.isSync)) {
      return this.writev(chunks);
    }
    try {
      void this.sealRecords(ContentType.application_data, chunks);
    } catch (e) {
      return this.serial(() => Promise.reject(e));
    }
    return undefined;
  }

  writev(chunks: readonly Uint8Array[]): Promise<void | undefined> {
    return this.serial(async () => {
      if (this.failed) throw this.failed;
      if (this.sentClose) throw new ConfigError('write after close');
      if (this.writeLevel !== 'application') {
        for (const c of chunks) if (c.length) this.pendingWrites.push(c.slice());
        return;
      }
      const sealed = this.sendAppData(chunks);
      if (sealed) await sealed;
    });
  }

  /**
   * Releases the record keys' native state (a provider's cipher contexts) now
   * rather than when the garbage collector finds this connection: for a
   * transport done with it, closed or destroyed. The keys stay in place,
   * disposed, so anything sealed or opened afterwards fails (as an error
   * event, like any failure), never falls back to plaintext.
   */
  dispose(): void {
    this.readProtector?.dispose();
    this.writeProtector?.dispose();
  }

  /** Nothing more is read after a failure or the peer's close_notify. */
  private done(): boolean {
    return this.failed !== undefined || this.receivedClose;
  }

  /** Sends close_notify (RFC 8446 §6.1). The peer may still send until it closes too. */
  close(): Promise<void | undefined> {
    return this.serial(async () => {
      if (this.sentClose || this.failed) return;
      const sent = this.sendAlert(AlertDescription.close_notify);
      if (sent) await sent;
      this.sentClose = true;
    });
  }

  /** Sends a KeyUpdate and switches to the next write key; `requestPeer` asks the peer to update too (§4.6.3). */
  keyUpdate(requestPeer = true): Promise<void | undefined> {
    return this.serial(async () => {
      const s = this.connected();
      const next = await updateWriteKey(s, requestPeer, this.outbox);
      this.state = { ...this.state, s: next } as State;
      await this.apply();
    });
  }

  /** TLS-Exporter (RFC 8446 §7.5, RFC 5705 interface). */
  exportKeyingMaterial(label: string, context: Uint8Array, length: number): Promise<Uint8Array> {
    return exporter(this.connected(), label, context, length);
  }

  /**
   * The exporter of {@link exportKeyingMaterial} on its own, undefined before the handshake completes: for a
   * transport that lets go of this connection once closed but still answers exporter calls, as
   * `tls.TLSSocket` does after close.
   */
  keyingMaterialExporter(): KeyingMaterialExporter | undefined {
    return this.state.s.kind === 'Connected' ? detachedExporter(this.state.s) : undefined;
  }

  private connected(): Connected {
    if (this.state.s.kind !== 'Connected') throw new ConfigError('the handshake is not complete');
    return this.state.s;
  }

  private serial<T>(f: () => Promise<T>, fromPeer = false): Promise<T | undefined> {
    this.queued++;
    const run = this.queue.then(() => this.guard(f, fromPeer));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async guard<T>(f: () => Promise<T>, fromPeer: boolean): Promise<T | undefined> {
    try {
      return await f();
    } catch (e) {
      // Misuse by the application (write after close, a key update mid-handshake) is reported
      // to the caller. Nothing that happens while processing received bytes is: a ConfigError
      // there may come from a size the peer chose, so it ends the connection like any error.
      if (!fromPeer && ((e instanceof ConfigError && !this.failed) || e === this.failed)) throw e;
      await this.abort(e);
      return undefined;
    } finally {
      this.queued--;
    }
  }

  /** Counts one more of something a peer may only send a bounded number of (see {@link ConnectionLimits}). */
  private count(what: Counted, description: string): void {
    if (++this.counts[what] > this.caps[what]) {
      throw new PqtlsError(`too many ${description} (limit ${this.caps[what]}, limits.${what})`, AlertDescription.unexpected_message);
    }
  }

  /** Application data restarts the counts that bound floods between data. */
  private onPeerData(): void {
    this.counts.maxKeyUpdates = 0;
    this.counts.maxTickets = 0;
    this.counts.maxWarningAlerts = 0;
  }

  private async abort(e: unknown): Promise<void> {
    const err = e instanceof PqtlsError ? e : new PqtlsError(`internal error: ${e instanceof Error ? e.message : String(e)}`, AlertDescription.internal_error, { cause: e });
    if (this.failed) return;
    this.failed = err;
    try {
      const sent = this.sendAlert(err.alert);
      if (sent) await sent;
    } catch {
      // The alert is best effort; the error event below is what the owner acts on.
    }
    this.events.push({ type: 'error', error: err });
  }

  /** Returns a promise only when the record needs asynchronous work (an asynchronous AEAD, a handshake message). */
  private onRecord(type: number, header: Uint8Array, payload: Uint8Array, inPlace = false): Promise<void> | void {
    if (type === ContentType.change_cipher_spec) {
      // §5: one byte 0x01, between the first ClientHello and the peer's Finished, is dropped.
      if (payload.length !== 1 || payload[0] !== 1 || this.peerFinishedSeen || this.beforeFirstClientHello()) {
        throw new PqtlsError('unexpected change_cipher_spec', AlertDescription.unexpected_message);
      }
      this.count('maxChangeCipherSpecs', 'change_cipher_spec records');
      return;
    }
    if (this.readProtector) {
      if (type !== ContentType.application_data) {
        throw new PqtlsError(`plaintext record of type ${type} after keys were established`, AlertDescription.unexpected_message);
      }
      const rp = this.readProtector;
      if (rp.isSync) return this.openSyncOrSkip(rp, header, payload, undefined, inPlace);
      return rp.open(header, payload).then(
        (opened) => this.onOpened(opened.contentType, opened.content),
        (e: unknown) => {
          if (e instanceof BadRecordMacError && this.skipBudget !== undefined) return this.skipEarly(payload.length);
          throw e;
        },
      );
    }
    if (type === ContentType.application_data) {
      if (this.skipBudget !== undefined) return this.skipEarly(payload.length);
      throw new PqtlsError('application data before the handshake keys', AlertDescription.unexpected_message);
    } else if (type === ContentType.handshake) {
      // §4.2.10: after a HelloRetryRequest, 0-RTT records are skipped only until ClientHello2 (which
      // cannot offer early data): from then on every record must decrypt, or it is bad_record_mac.
      this.skipBudget = undefined;
    }
    return this.onContent(type, payload);
  }

  /**
   * A record whose fragment is `head ‖ tail`, cut across two reads the
   * transport gave up. Application data under an AEAD that opens in place is
   * opened where the parts lie; anything else is joined first, and is then
   * like any record (a protected one opened in place in the joined array).
   */
  private onSplitRecord(type: number, header: Uint8Array, head: Uint8Array, tail: Uint8Array): Promise<void> | void {
    const rp = this.readProtector;
    if (!rp || !rp.isSync || type !== ContentType.application_data) return this.onRecord(type, header, concat(head, tail), true);
    return this.openSyncOrSkip(rp, header, head, tail, true);
  }

  /**
   * Opens a record under a synchronous AEAD, in two parts when `tail` is
   * given; one that fails to authenticate while rejected 0-RTT is being
   * skipped is skipped (§4.2.10).
   */
  private openSyncOrSkip(rp: RecordProtector, header: Uint8Array, payload: Uint8Array, tail: Uint8Array | undefined, inPlace: boolean): Promise<void> | void {
    let opened: OpenedRecord;
    try {
      opened = tail ? rp.openSplitSync(header, payload, tail) : rp.openSync(header, payload, inPlace);
    } catch (e) {
      if (e instanceof BadRecordMacError && this.skipBudget !== undefined) return this.skipEarly(payload.length + (tail?.length ?? 0));
      throw e;
    }
    return this.onOpened(opened.contentType, opened.content, opened.contentTail);
  }

  /** A record that authenticated: its content is a fresh array (see RecordProtector.open), handed out as is. */
  private onOpened(contentType: number, content: Uint8Array, contentTail?: Uint8Array): Promise<void> | void {
    this.skipBudget = undefined;
    // An empty record costs a decryption and yields nothing: a run of them is a flood (§5.4 allows them, not unboundedly).
    if (content.length === 0 && contentTail === undefined) this.count('maxEmptyRecords', 'consecutive empty records');
    else this.counts.maxEmptyRecords = 0;
    if (contentTail === undefined) return this.onContent(contentType, content);
    // Only application data comes in two parts (RecordProtector.openSplitSync), and it needs no promise.
    void this.onContent(contentType, content);
    return this.onContent(contentType, contentTail);
  }

  private onContent(contentType: number, content: Uint8Array): Promise<void> | void {
    // §5.1: nothing may come between the records of a fragmented handshake message
    // (a fatal alert is still read, so the peer's reason is reported).
    if (contentType === ContentType.application_data && this.reassembler.hasPartial) {
      throw new PqtlsError('application data inside a fragmented handshake message', AlertDescription.unexpected_message);
    }
    switch (contentType) {
      case ContentType.handshake:
        // The reassembler copies what it keeps, so content may be a view of the reader's buffer.
        return this.onHandshakeBytes(content);
      case ContentType.alert:
        this.onAlert(content);
        return;
      case ContentType.application_data:
        if (this.readLevel === 'early') {
          this.earlyBudget -= content.length;
          if (this.earlyBudget < 0) throw new PqtlsError('early data exceeds max_early_data_size', AlertDescription.unexpected_message);
          if (content.length) this.events.push({ type: 'earlyData', data: content });
          return;
        }
        if (this.readLevel !== 'application' || !this.info) {
          throw new PqtlsError('application data before the handshake completed', AlertDescription.unexpected_message);
        }
        if (content.length === 0) return;
        this.onPeerData();
        this.events.push({ type: 'data', data: content });
        return;
      default:
        throw new PqtlsError(`unexpected content type ${contentType}`, AlertDescription.unexpected_message);
    }
  }

  /** A server that has not yet seen a ClientHello (after a HelloRetryRequest it has). */
  private beforeFirstClientHello(): boolean {
    return this.state.role === 'server' && this.state.s.kind === 'ExpectClientHello' && this.state.s.hrr === undefined;
  }

  /** §4.2.10: a server that rejected 0-RTT skips the early data it cannot decrypt, within a bound. */
  private skipEarly(payloadLength: number): void {
    // An empty record would barely use up the budget, so it is counted like any empty record.
    if (payloadLength === 0) this.count('maxEmptyRecords', 'consecutive empty records');
    else this.counts.maxEmptyRecords = 0;
    // max_early_data_size counts plaintext; a 0-RTT record adds at least a 16-byte AEAD tag and the
    // content-type byte to it. Each record costs at least 1, so the skipping always ends.
    this.skipBudget = (this.skipBudget ?? 0) - Math.max(1, payloadLength - 17);
    if (this.skipBudget < 0) throw new PqtlsError('too much rejected early data', AlertDescription.unexpected_message);
  }

  private onAlert(content: Uint8Array): void {
    if (content.length !== 2) throw new PqtlsError('malformed alert', AlertDescription.decode_error);
    const description = content[1] as number;
    if (description === AlertDescription.close_notify) {
      this.receivedClose = true;
      this.events.push({ type: 'peerClosed' });
      return;
    }
    if (description === AlertDescription.user_canceled) {
      // §6.1: a warning; close_notify follows. More than a few in a row are a flood.
      this.count('maxWarningAlerts', 'user_canceled alerts');
      return;
    }
    // §6.2: every other alert is fatal, whatever its level byte says.
    this.failed = new PqtlsError(`peer sent alert ${alertName(description)}`, description as AlertDescription);
    this.events.push({ type: 'alertReceived', alert: description, name: alertName(description) });
  }

  private async onHandshakeBytes(content: Uint8Array): Promise<void> {
    this.reassembler.push(content);
    for (let msg = this.reassembler.next(); msg; msg = this.reassembler.next()) {
      await this.step(msg);
      if (this.failed) return;
    }
  }

  private async step(msg: HandshakeMessage): Promise<void> {
    const level = this.readLevel;
    if (this.state.s.kind === 'Connected') {
      // Each KeyUpdate costs a key derivation (and an answer when requested); each ticket a PSK
      // derivation and a session store write: bounded between application data.
      if (msg.type === HandshakeType.key_update) this.count('maxKeyUpdates', 'KeyUpdate messages without application data');
      if (msg.type === HandshakeType.new_session_ticket) this.count('maxTickets', 'NewSessionTicket messages without application data');
    }
    if (this.state.role === 'client') {
      this.state = { role: 'client', s: await handleClient(this.state.s, level, msg, this.outbox) };
    } else {
      this.state = { role: 'server', s: await handleServer(this.state.s, level, msg, this.outbox) };
    }
    await this.apply();
  }

  /**
   * Carries out the handshake's actions in order. Consecutive handshake
   * messages for the same level share records, as a flight is usually sent.
   * Only the actions that are really asynchronous (keying a record protector,
   * an asynchronous AEAD) are awaited: an `await` of nothing still costs a
   * microtask, and a handshake carries out a dozen actions.
   */
  private async apply(): Promise<void> {
    const actions = this.outbox.actions.splice(0);
    let flight: Uint8Array[] = [];
    let flightLevel: Level = 'initial';
    for (const a of actions) {
      if (a.kind === 'send') {
        // Initial-level messages are plaintext whatever key is current: a ClientHello2 may follow early data.
        if (a.level !== 'initial' && a.level !== this.writeLevel) {
          throw new PqtlsError(`send at ${a.level} while writing at ${this.writeLevel}`, AlertDescription.internal_error);
        }
        if (a.level !== flightLevel && flight.length) {
          const sent = this.sendRecords(ContentType.handshake, flight, flightLevel === 'initial');
          flight = [];
          if (sent) await sent;
        }
        flightLevel = a.level;
        flight.push(a.data);
        continue;
      }
      if (flight.length) {
        const sent = this.sendRecords(ContentType.handshake, flight, flightLevel === 'initial');
        flight = [];
        if (sent) await sent;
      }
      const done = this.applyOne(a);
      if (done) await done;
    }
    if (flight.length) {
      const sent = this.sendRecords(ContentType.handshake, flight, flightLevel === 'initial');
      if (sent) await sent;
    }
  }

  /** One non-send action; a promise only when it has asynchronous work. */
  private applyOne(a: Exclude<HandshakeAction, { kind: 'send' }>): Promise<void> | void {
    switch (a.kind) {
      case 'acceptEarlyData':
        this.earlyBudget = a.maxBytes;
        return;
      case 'skipEarlyData':
        this.skipBudget = a.maxBytes;
        return;
      case 'peerRecordSizeLimit':
        // The limit counts the content-type byte; TLS 1.3 caps it at 2^14 + 1 (RFC 8449 §4).
        this.maxFragment = Math.min(MAX_PLAINTEXT, a.limit - 1);
        return;
      case 'changeCipherSpec':
        this.output.push(encodeRecord(ContentType.change_cipher_spec, new Uint8Array([1])));
        return;
      case 'readSecret': {
        // §5.1: handshake messages must not span a key change.
        if (this.reassembler.hasPartial) throw new PqtlsError('handshake message spans a key change', AlertDescription.unexpected_message);
        const rp = RecordProtector.createSync(this.stateProvider(), a.suite, a.secret);
        if (!rp) return this.installReadKeyAsync(a);
        this.installReadKey(a, rp);
        return;
      }
      case 'writeSecret': {
        const wp = RecordProtector.createSync(this.stateProvider(), a.suite, a.secret, { padding: this.limits.padding });
        return wp ? this.installWriteKey(a, wp) : this.installWriteKeyAsync(a);
      }
      case 'complete':
        this.info = a.info;
        this.events.push({ type: 'handshake', info: a.info });
        if (a.info.earlyData === 'rejected' && this.replayEarlyData && this.earlyDataToSend) return this.sendAppData(this.earlyDataToSend);
        return;
      case 'ticket':
        this.events.push({ type: 'ticket', body: a.body });
        return;
    }
  }

  /** A provider without synchronous key derivation: the protector is keyed through promises. */
  private async installReadKeyAsync(a: Extract<HandshakeAction, { kind: 'readSecret' }>): Promise<void> {
    this.installReadKey(a, await RecordProtector.create(this.stateProvider(), a.suite, a.secret));
  }

  private installReadKey(a: Extract<HandshakeAction, { kind: 'readSecret' }>, rp: RecordProtector): void {
    // The key it replaces opens nothing more (§5.1: no message spans a key change): its native state goes now.
    this.readProtector?.dispose();
    this.readProtector = rp;
    if (a.level === 'application' && this.readLevel === 'handshake') this.peerFinishedSeen = true;
    this.readLevel = a.level;
  }

  private async installWriteKeyAsync(a: Extract<HandshakeAction, { kind: 'writeSecret' }>): Promise<void> {
    const done = this.installWriteKey(a, await RecordProtector.create(this.stateProvider(), a.suite, a.secret, { padding: this.limits.padding }));
    if (done) await done;
  }

  /** Switches the write key and sends what waited for it: a promise only when that sealing is asynchronous. */
  private installWriteKey(a: Extract<HandshakeAction, { kind: 'writeSecret' }>, wp: RecordProtector): Promise<void> | void {
    // Everything sealed under the old key is already in the output: nothing seals with it again.
    this.writeProtector?.dispose();
    this.writeProtector = wp;
    this.writeLevel = a.level;
    if (a.level === 'early' && this.earlyDataToSend) return this.sendAppData(this.earlyDataToSend);
    if (a.level === 'application' && this.pendingWrites.length) {
      const queued = this.pendingWrites;
      this.pendingWrites = [];
      return this.sendAppData(queued);
    }
  }

  private stateProvider() {
    const s = this.state.s;
    if (s.kind === 'Connected') return s.provider;
    if (this.state.role === 'client') {
      const c = s as Exclude<ClientState, Connected>;
      return c.kind === 'ExpectServerHello' ? c.hello.cfg.provider : c.n.hello.cfg.provider;
    }
    const v = s as Exclude<ServerState, Connected>;
    return v.kind === 'ExpectClientHello' ? v.cfg.provider : v.n.cfg.provider;
  }

  /** A promise only when the records need asynchronous work (an asynchronous AEAD). */
  private sendRecords(type: ContentType, data: Uint8Array | readonly Uint8Array[], plaintext = false): Promise<void> | void {
    if (!this.writeProtector || plaintext) {
      if (!(data instanceof Uint8Array)) data = concat(...data);
      // §5.1: the initial ClientHello may say 0x0301, as most stacks do, for old middleboxes.
      const legacyVersion = this.state.role === 'client' && !this.sentAnyRecord ? 0x0301 : 0x0303;
      this.sentAnyRecord = true;
      for (const r of encodeRecords(type, data, { legacyVersion })) this.output.push(r);
      return;
    }
    return this.sealRecords(type, data instanceof Uint8Array ? [data] : data);
  }

  /**
   * Seals `chunks`, taken as one stream, into records of the largest allowed
   * size: a record may span chunks, whose bytes are copied once, into it.
   */
  private sealRecords(type: ContentType, chunks: readonly Uint8Array[]): Promise<void> | void {
    const wp = this.writeProtector;
    if (!wp) throw new PqtlsError('no write key', AlertDescription.internal_error);
    const plan: { content: Uint8Array | Uint8Array[]; pad: number | undefined; size: number }[] = [];
    let total = 0;
    let i = 0;
    let offset = 0;
    for (;;) {
      const parts: Uint8Array[] = [];
      let length = 0;
      while (length < this.maxFragment && i < chunks.length) {
        const c = chunks[i] as Uint8Array;
        const take = Math.min(this.maxFragment - length, c.length - offset);
        if (take > 0) parts.push(offset === 0 && take === c.length ? c : c.subarray(offset, offset + take));
        length += take;
        offset += take;
        if (offset >= c.length) {
          i++;
          offset = 0;
        }
      }
      if (length === 0) break;
      // Padding must keep the inner plaintext within the peer's limit too.
      const limited = this.maxFragment < MAX_PLAINTEXT ? Math.min(this.padFor(type, length), this.maxFragment - length) : undefined;
      const pad = wp.paddingFor(type, length, limited);
      const size = RecordProtector.recordLength(length, pad);
      plan.push({ content: parts.length === 1 ? (parts[0] as Uint8Array) : parts, pad, size });
      total += size;
    }
    if (plan.length === 0) return;
    if (wp.sealsInPieces) {
      // The AEAD's output goes out as it came: no record array, no copy of the content or the ciphertext.
      const pieces: Uint8Array[] = [];
      for (const r of plan) wp.sealPieces(type, r.content, r.pad, pieces);
      for (const c of joinSmallPieces(pieces)) this.output.push(c);
      return;
    }
    if (!wp.isSync) return this.sealEach(wp, type, plan);
    // Every record of this write in one array: one allocation, and one chunk for the transport. A large one (a
    // bulk write: 64 KiB and more) is lent by ../buffer-pool.ts, which the transport may give back once it was
    // sent; the records tile it exactly and every byte of each is written, so what it held before never shows.
    const out = total >= LEND_FROM ? lendBuffer(total) : new Uint8Array(total);
    let o = 0;
    for (const r of plan) {
      wp.sealSync(type, r.content, r.pad, out.subarray(o, o + r.size));
      o += r.size;
    }
    this.output.push(out);
  }

  /** An asynchronous AEAD's records, one at a time. */
  private async sealEach(wp: RecordProtector, type: ContentType, plan: readonly { content: Uint8Array | Uint8Array[]; pad: number | undefined }[]): Promise<void> {
    for (const r of plan) this.output.push(await wp.seal(type, r.content, r.pad));
  }

  private padFor(type: ContentType, length: number): number {
    return this.limits.padding ? this.limits.padding(type, length) : 0;
  }

  private sendAppData(data: Uint8Array | readonly Uint8Array[]): Promise<void> | void {
    return this.sealRecords(ContentType.application_data, data instanceof Uint8Array ? [data] : data);
  }

  private sendAlert(description: number): Promise<void> | void {
    // §6: alerts are sent under the current write key; level is ignored in TLS 1.3 but 1 (warning) for close_notify.
    const level = description === AlertDescription.close_notify || description === AlertDescription.user_canceled ? 1 : 2;
    return this.sendRecords(ContentType.alert, new Uint8Array([level, description]));
  }
}
