import { Duplex } from 'node:stream';
import { Socket } from 'node:net';
import { appendFileSync } from 'node:fs';
import { LEND_FROM } from '../buffer-pool.js';
import type { SocketReader } from './socket-reader.js';
import { ConfigError, type PqtlsError } from '../errors.js';
import { groupName, signatureSchemeName } from '../pq/ids.js';
import type { TlsConnection } from '../tls13/connection.js';
import type { KeyingMaterialExporter } from '../tls13/handshake/post-handshake.js';
import { parseCertificate, summarizeCertificate, type CertificateSummary } from '../x509/certificate.js';
import type { HandshakeInfo } from '../tls13/handshake/common.js';

/**
 * A TLS 1.3 stream over a Node socket: a Duplex with the accessors of
 * `tls.TLSSocket` that make sense for TLS 1.3. All protocol work happens in the
 * sans-IO {@link TlsConnection}; this class only moves bytes and events.
 */
export class PqTlsSocket extends Duplex {
  /** True once the handshake has completed. */
  encrypted = true as const;
  private info: HandshakeInfo | undefined;
  private closedByPeer = false;
  /** push() said the readable side is full; reading from the socket waits for _read. */
  private readerFull = false;
  /** Server: bytes of 0-RTT data received (replayable; RFC 8446 §8). */
  earlyDataReceived = 0;
  /** 0-RTT data that arrived before 'secure', when no one could have listened yet (see 'earlyData'). */
  private earlyBeforeSecure: Uint8Array[] = [];
  /** A received chunk is being processed: the socket stays paused until it is done. */
  private receiving = false;
  /** The transport said EOF. */
  private socketEnded = false;
  /** The transport closed. */
  private socketClosed = false;
  /** Large chunks whose write the socket has not reported done; each is given back once (see {@link writeChunks}). */
  private unreturned: { chunk: Uint8Array; given: boolean }[] = [];
  /** Whether written chunks are given back at all: only over a plain net.Socket (see the constructor). */
  private readonly givesBack: boolean;
  /** Where the socket reads into, when it is a {@link SocketReader}'s: given back once the socket is closed and idle. */
  private readonly reader: SocketReader | undefined;

  /**
   * Released when this stream is destroyed: whatever still holds a destroyed socket then holds this wrapper
   * only, not the connection's handshake state, keys and buffers. The application may; and on Node 24 a
   * closed server socket survives the next scavenge or two (the same happens to plain net.Sockets), which
   * promoted its whole connection to the old generation: about 6.5 KB per handshake, 2.6 KB without it.
   */
  private conn: TlsConnection | undefined;
  /** What the exporter needs of the released connection: tls.TLSSocket answers exportKeyingMaterial after close too. */
  private exporter: KeyingMaterialExporter | undefined;

  /**
   * @param reader - set when `socket` was opened with a {@link SocketReader}'s `onread`: each read then arrives
   *   in that reader's one buffer, not as a 'data' event.
   */
  constructor(
    conn: TlsConnection,
    readonly socket: Socket,
    readonly role: 'client' | 'server',
    reader?: SocketReader,
  ) {
    // As tls.TLSSocket: once the peer has closed its direction and everything it sent was read, this side
    // ends too, after the writes already queued (our close_notify, then FIN). The TCP socket below is
    // half-open capable, so a peer's FIN never cuts off a reply still being produced.
    super({ allowHalfOpen: false });
    this.conn = conn;
    // A net.Socket (exactly, not a subclass or another Duplex, whose chunks may be shared or reused) hands
    // each read over in a buffer of its own that it never touches again: records are decrypted in place in it.
    const plainSocket = Object.getPrototypeOf(socket) === Socket.prototype;
    // Likewise only a net.Socket is known to be done with a chunk once it reports the write (libuv has handed
    // the bytes to the kernel): another Duplex may call back while it still holds the chunk, queued further on.
    this.givesBack = plainSocket;
    this.reader = reader;
    // A reader's buffer is read again and again: records are opened out of it, never in place.
    if (reader) {
      reader.attach((chunk) => this.onChunk(chunk, false));
      // A read that came before this stream existed stopped the socket's reads.
      this.resumeReading();
    } else socket.on('data', (d: Buffer) => this.onChunk(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), plainSocket));
    // What we answer by ourselves (a KeyUpdate for each one the peer requests) is written whatever the
    // peer reads: reading waits while that output backs up, so a peer that never reads cannot grow it.
    socket.on('drain', () => this.resumeReading());
    // net.Socket reports EOF, and then its close, even while paused: with a chunk still being processed
    // (the client's Finished, while the provider makes the tickets, say), they are looked at once that
    // chunk is done, so a handshake the peer completed before hanging up completes here too.
    socket.on('end', () => {
      this.socketEnded = true;
      if (!this.receiving) this.peerEnded();
    });
    socket.on('error', (e) => this.destroy(e));
    socket.on('close', () => {
      this.socketClosed = true;
      if (!this.receiving) this.transportClosed();
    });
    this.flush();
  }

  /**
   * Hands one read to the connection. `chunk` stays untouched until its processing is done: a transport
   * that reuses its buffer (a {@link SocketReader}) reads again only once the socket is resumed.
   */
  private onChunk(chunk: Uint8Array, consumable: boolean): void {
    const conn = this.conn;
    if (!conn) return;
    const socket = this.socket;
    let pending: Promise<unknown> | undefined;
    try {
      pending = conn.receiveSync(chunk, { consumable });
      if (!pending) {
        // Processed at once (application data under a synchronous AEAD): the socket keeps flowing,
        // with no pause and resume per read, unless our reader or the socket's output is full.
        this.afterProcessing();
        if (this.readerFull || socket.writableNeedDrain) socket.pause();
        return;
      }
    } catch (e) {
      this.fail(e);
      return;
    }
    socket.pause();
    this.receiving = true;
    pending.then(() => {
      this.receiving = false;
      this.afterProcessing();
      if (this.socketEnded) this.peerEnded();
      if (this.socketClosed) this.transportClosed();
      else if (!this.socketEnded) this.resumeReading();
    }).catch((e: unknown) => this.fail(e));
  }

  /**
   * Sends whatever the connection has queued. False when the socket is above
   * its high-water mark, as `socket.write` says: the caller waits for `drain`.
   */
  private flush(): boolean {
    const conn = this.conn;
    if (!conn?.wantsWrite || this.socket.destroyed) return true;
    const chunks = conn.takeOutputChunks();
    if (chunks.length === 1) return this.writeChunks(conn, chunks);
    // Records go to the kernel together (one writev) without being joined first.
    this.socket.cork();
    const ok = this.writeChunks(conn, chunks);
    this.socket.uncork();
    this.giveBackWritten(conn);
    return ok;
  }

  /**
   * Large chunks (a bulk write's records) go back to the connection once the socket is done with them, sent or
   * failed: the next write is sealed in their memory instead of a fresh 64 KiB buffer, whose allocation cost
   * as much as sealing it. Node reports a write the kernel took at once only after this turn's microtasks, and
   * the application's next write is often one of them: such chunks are given back as soon as the socket's
   * queue is seen empty (see {@link giveBackWritten}); each chunk goes back once, whichever comes first.
   */
  private writeChunks(conn: TlsConnection, chunks: readonly Uint8Array[]): boolean {
    let ok = true;
    for (const chunk of chunks) {
      if (chunk.length < LEND_FROM || !this.givesBack) {
        ok = this.socket.write(chunk);
        continue;
      }
      const entry = { chunk, given: false };
      this.unreturned.push(entry);
      ok = this.socket.write(chunk, () => this.giveBack(conn, entry));
    }
    this.giveBackWritten(conn);
    return ok;
  }

  /** The socket's callback for one chunk: given back unless that already happened. */
  private giveBack(conn: TlsConnection, entry: { chunk: Uint8Array; given: boolean }): void {
    if (!release(conn, entry)) return;
    const i = this.unreturned.indexOf(entry);
    if (i >= 0) this.unreturned.splice(i, 1);
  }

  /** An empty queue means libuv wrote everything to the kernel already: nothing refers to those chunks' memory now. */
  private giveBackWritten(conn: TlsConnection): void {
    if (this.unreturned.length === 0 || this.socket.writableLength !== 0) return;
    for (const entry of this.unreturned) release(conn, entry);
    this.unreturned.length = 0;
  }

  /**
   * Anything unexpected (a rejected promise, a listener that threw) ends this
   * one connection with an `error` event, never the process with an
   * unhandled rejection.
   */
  private fail(e: unknown): void {
    if (this.destroyed) return;
    this.destroy(e instanceof Error ? e : new Error(String(e)));
  }

  private afterProcessing(): void {
    this.flush();
    const conn = this.conn;
    if (!conn) return;
    for (let e = conn.poll(); e; e = conn.poll()) {
      switch (e.type) {
        case 'handshake':
          this.info = e.info;
          this.emit(this.role === 'client' ? 'secureConnect' : 'secure');
          for (const d of this.earlyBeforeSecure.splice(0)) this.emit('earlyData', d);
          break;
        case 'data':
          if (!this.push(e.data)) this.readerFull = true;
          break;
        case 'earlyData':
          // 0-RTT data reads like the rest of the stream; `earlyDataReceived` says some of it came early.
          // It always arrives before the client's Finished, so before 'secure' and thus before
          // createServer hands the socket out: 'earlyData' is emitted right after 'secure' instead.
          this.earlyDataReceived += e.data.length;
          if (this.info) this.emit('earlyData', e.data);
          else this.earlyBeforeSecure.push(e.data);
          if (!this.push(e.data)) this.readerFull = true;
          break;
        case 'peerClosed':
          this.closedByPeer = true;
          this.push(null);
          break;
        case 'alertReceived':
        case 'error': {
          const err: PqtlsError | undefined = conn.error;
          this.flush();
          this.socket.end();
          this.destroy(err ?? new Error(`TLS alert ${e.type === 'alertReceived' ? e.name : ''}`));
          return;
        }
        case 'ticket':
          this.emit('session', e.body);
          break;
      }
    }
  }

  /** The socket has closed and no read is being processed: nothing refers to the read buffer any more. */
  private transportClosed(): void {
    this.reader?.release();
    if (!this.destroyed) this.destroy();
  }

  private peerEnded(): void {
    // A transport EOF without close_notify is a truncation (RFC 8446 §6.1).
    if (!this.closedByPeer && !this.destroyed) {
      if (this.info) this.push(null);
      else this.destroy(new Error('connection closed by peer during the handshake'));
    }
  }

  override _read(): void {
    // Records are decrypted as they arrive; when the consumer was behind, reading resumes here.
    if (this.readerFull) {
      this.readerFull = false;
      this.resumeReading();
    }
  }

  /** Backpressure both ways: the socket is read while our reader keeps up and our output drains. */
  private resumeReading(): void {
    if (!this.destroyed && !this.receiving && !this.readerFull && !this.socket.writableNeedDrain) this.socket.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.send([chunk], cb);
  }

  /** Writes queued while the previous one was being sealed arrive together: one pass fills full records. */
  override _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void): void {
    this.send(chunks.map((c) => c.chunk), cb);
  }

  private send(chunks: readonly Buffer[], cb: (err?: Error | null) => void): void {
    const views = chunks.map((c) => new Uint8Array(c.buffer, c.byteOffset, c.byteLength));
    const conn = this.conn;
    // Streams call _write only before destroy, which is when conn is released; this is for the type.
    if (!conn) {
      cb(new Error('write after the connection was destroyed'));
      return;
    }
    let pending: Promise<unknown> | undefined;
    try {
      // Sealed at once when the AEAD is synchronous and nothing else is queued: no promise per write.
      pending = conn.writevSync(views);
      if (!pending) {
        // The callback waits for a microtask all the same: writes the application makes meanwhile queue
        // up behind this one and arrive together in _writev, filling whole records.
        if (conn.error) cb(conn.error);
        else if (this.flush()) queueMicrotask(cb);
        else this.afterDrain(cb);
        return;
      }
    } catch (e) {
      this.fail(e);
      return;
    }
    pending.then(() => this.sent(cb), (err: Error) => cb(err)).catch((e: unknown) => this.fail(e));
  }

  /**
   * The chunks count as written only once the TCP socket took them without going over its high-water
   * mark, or drained: until then they stay in this stream's `writableLength` and write() returns false.
   */
  private sent(cb: (err?: Error | null) => void): void {
    const err = this.conn?.error;
    if (err) cb(err);
    else if (this.flush()) cb();
    else this.afterDrain(cb);
  }

  /** Calls `cb` once the socket drains, or closes (then this stream is destroyed too). */
  private afterDrain(cb: () => void): void {
    const done = (): void => {
      this.socket.off('drain', done);
      this.socket.off('close', done);
      cb();
    };
    this.socket.on('drain', done);
    this.socket.on('close', done);
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (!this.conn) {
      cb();
      return;
    }
    this.conn.close().then(
      () => {
        this.flush();
        this.socket.end();
        cb();
      },
      (err: Error) => cb(err),
    ).catch((e: unknown) => this.fail(e));
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.socket.destroy();
    // Nothing is read or written on this connection again: its keys' OpenSSL contexts are freed now, not at
    // some later full garbage collection (until which they would hold native memory, a few KiB per connection).
    const conn = this.conn;
    this.conn = undefined;
    this.exporter = conn?.keyingMaterialExporter();
    try {
      conn?.dispose();
    } catch (e) {
      // A provider whose dispose throws must not hide why this connection ended.
      err ??= e instanceof Error ? e : new Error(String(e));
    }
    cb(err);
  }

  /** Negotiated parameters (undefined before the handshake completes). */
  get handshakeInfo(): HandshakeInfo | undefined {
    return this.info;
  }
  getProtocol(): string | null {
    return this.info ? 'TLSv1.3' : null;
  }
  getCipher(): { name: string; standardName: string; version: string } | undefined {
    if (!this.info) return undefined;
    const n = this.info.cipherSuite.name;
    return { name: n, standardName: n, version: 'TLSv1.3' };
  }
  get alpnProtocol(): string | false {
    return this.info?.alpn ?? false;
  }
  /** The key-exchange group, in the shape of `tls.TLSSocket#getEphemeralKeyInfo`. */
  getEphemeralKeyInfo(): { type: string; name: string } | Record<string, never> {
    // psk_ke resumption has no ephemeral key.
    return this.info?.group !== undefined ? { type: 'TLSGroup', name: groupName(this.info.group) } : {};
  }
  /** The scheme the peer signed with, e.g. `mldsa65`. */
  getPeerSignatureScheme(): string | undefined {
    const s = this.info?.peerSignatureScheme;
    return s === undefined ? undefined : signatureSchemeName(s);
  }
  /**
   * The peer's leaf certificate, summarised (subject, issuer, validity, names,
   * algorithms) with its DER as `raw`, in the spirit of
   * `tls.TLSSocket#getPeerCertificate`; undefined if the peer sent none.
   */
  getPeerCertificate(): (CertificateSummary & { readonly raw: Uint8Array }) | undefined {
    const der = this.info?.peerCertificates[0];
    return der ? { ...summarizeCertificate(parseCertificate(der)), raw: der } : undefined;
  }
  /** The peer's certificates as sent, leaf first (DER). */
  getPeerCertificateChain(): readonly Uint8Array[] {
    return this.info?.peerCertificates ?? [];
  }
  /** RFC 8446 §7.5 exporter (argument order as `tls.TLSSocket#exportKeyingMaterial`, but async). */
  exportKeyingMaterial(length: number, label: string, context: Uint8Array = new Uint8Array(0)): Promise<Uint8Array> {
    if (this.conn) return this.conn.exportKeyingMaterial(label, context, length);
    // Destroyed: a handshake that completed still exports, from its exporter master secret alone.
    if (this.exporter) return this.exporter(label, context, length);
    throw new ConfigError('the handshake is not complete');
  }
  /** Sends a KeyUpdate (RFC 8446 §4.6.3). */
  async keyUpdate(requestPeer = true): Promise<void> {
    if (!this.conn) throw new Error('the connection was destroyed');
    await this.conn.keyUpdate(requestPeer);
    this.flush();
  }
}

/** Gives a written chunk back to its connection, once: false if it already was. */
function release(conn: TlsConnection, entry: { chunk: Uint8Array; given: boolean }): boolean {
  if (entry.given) return false;
  entry.given = true;
  conn.releaseOutput(entry.chunk);
  return true;
}

/** A key-log sink appending to `SSLKEYLOGFILE` when it is set, as OpenSSL and browsers do. */
export function envKeyLog(): ((line: string) => void) | undefined {
  const file = process.env.SSLKEYLOGFILE;
  if (!file) return undefined;
  return (line) => appendFileSync(file, line + '\n');
}
