/**
 * 0-RTT over QUIC (RFC 9001 §4.6, RFC 9000 §7.4.1): what a client remembers
 * of the server's transport parameters with a ticket, what a server seals into
 * its tickets to know it still honours them, the frames a 0-RTT packet may not
 * carry, and the 0-RTT packets a server holds while it waits for the ClientHello.
 */
import { concat, equalBytes } from '../../bytes.js';
import { Writer } from '../../codec/writer.js';
import type { SessionStore } from '../../tls13/session.js';
import type { TicketSealer } from '../../tls13/tickets.js';
import type { QuicVersion } from '../versions.js';
import { ExtensionType } from '../../tls13/constants.js';
import { findExtension } from '../../tls13/messages/extensions.js';
import { decodeMaxEarlyData, decodeNewSessionTicket } from '../../tls13/messages/psk.js';
import { QuicTransportError, TransportErrorCode } from '../errors.js';
import type { Frame } from '../frames/types.js';
import type { TransportParameters } from '../transport-parameters.js';

/**
 * The transport parameters a client remembers and applies to 0-RTT data
 * (RFC 9000 §7.4.1), plus max_datagram_frame_size (RFC 9221 §3).
 */
const REMEMBERED = [
  'activeConnectionIdLimit', 'initialMaxData', 'initialMaxStreamDataBidiLocal', 'initialMaxStreamDataBidiRemote',
  'initialMaxStreamDataUni', 'initialMaxStreamsBidi', 'initialMaxStreamsUni',
] as const;

const CONTEXT_VERSION = 1;

/**
 * What a server promises with its tickets: the remembered parameters as it
 * advertises them now. A server accepts 0-RTT only when the ticket's context
 * equals this one (RFC 9001 §4.6.3), so it never lowers a limit the client's
 * 0-RTT data was sent under. Connection IDs and tokens, which differ per
 * connection, are left out.
 */
export function earlyDataContext(p: TransportParameters): Uint8Array {
  const w = new Writer(64).u8(CONTEXT_VERSION);
  for (const k of REMEMBERED) w.u32(Math.floor(p[k] / 2 ** 32)).u32(p[k] >>> 0);
  const d = p.maxDatagramFrameSize;
  w.u8(d === undefined ? 0 : 1).u32(Math.floor((d ?? 0) / 2 ** 32)).u32((d ?? 0) >>> 0);
  return w.finish();
}

/**
 * RFC 9000 §7.4.1: a server that accepts 0-RTT must not reduce any limit the
 * client remembered; a client that sees one reduced closes with PROTOCOL_VIOLATION.
 */
export function checkRememberedNotReduced(remembered: TransportParameters, now: TransportParameters): void {
  const reduced = (name: string): never => {
    throw new QuicTransportError(TransportErrorCode.PROTOCOL_VIOLATION, `server accepted 0-RTT and reduced ${name} (RFC 9000 §7.4.1)`);
  };
  for (const k of REMEMBERED) if (now[k] < remembered[k]) reduced(k);
  const d = remembered.maxDatagramFrameSize;
  if (d !== undefined && (now.maxDatagramFrameSize === undefined || now.maxDatagramFrameSize < d)) reduced('maxDatagramFrameSize');
}

/** Frames that cannot appear in 0-RTT packets (RFC 9000 §12.5). */
const FORBIDDEN_IN_0RTT: ReadonlyMap<Frame['type'], number> = new Map<Frame['type'], number>([
  ['ack', 0x02], ['crypto', 0x06], ['new_token', 0x07], ['retire_connection_id', 0x19], ['path_response', 0x1b], ['handshake_done', 0x1e],
]);

/**
 * RFC 9000 §12.5: ACK, CRYPTO, HANDSHAKE_DONE, NEW_TOKEN, PATH_RESPONSE and
 * RETIRE_CONNECTION_ID cannot be sent in 0-RTT; a server MAY treat them as a
 * PROTOCOL_VIOLATION, and does. (The frame decoder already refuses all but
 * RETIRE_CONNECTION_ID by RFC 9000 §12.4's table; this names the whole rule.)
 */
export function checkZeroRttFrame(f: Frame): void {
  const code = FORBIDDEN_IN_0RTT.get(f.type);
  if (code !== undefined) {
    throw new QuicTransportError(TransportErrorCode.PROTOCOL_VIOLATION, `${f.type} frame in a 0-RTT packet (RFC 9000 §12.5)`, { frameType: code });
  }
}

/** 0-RTT packets held at most, and their bytes at most, while the ClientHello is incomplete. */
export const MAX_BUFFERED_0RTT_PACKETS = 16;
export const MAX_BUFFERED_0RTT_BYTES = 16 * 1500;

/**
 * 0-RTT packets that arrive before the server can decide on them: a
 * post-quantum ClientHello spans two Initial packets, and the 0-RTT packets
 * behind the first may come before the second (or the first may be lost).
 * Bounded in packets and bytes; beyond that they are dropped, as packets
 * without keys are (RFC 9001 §4.6.1 lets the client retransmit them).
 */
export class EarlyPacketBuffer {
  private packets: Uint8Array[] = [];
  private bytes = 0;

  /** Keeps a copy of `packet`; false if the buffer is full. */
  push(packet: Uint8Array): boolean {
    if (this.packets.length >= MAX_BUFFERED_0RTT_PACKETS || this.bytes + packet.length > MAX_BUFFERED_0RTT_BYTES) return false;
    this.packets.push(packet.slice());
    this.bytes += packet.length;
    return true;
  }

  get size(): number {
    return this.packets.length;
  }

  /** Empties the buffer, returning what it held in arrival order. */
  drain(): Uint8Array[] {
    const out = this.packets;
    this.packets = [];
    this.bytes = 0;
    return out;
  }
}

/**
 * RFC 9001 §4.6.1: over QUIC a NewSessionTicket either forbids 0-RTT or allows
 * it with max_early_data_size 0xffffffff; a client treats any other value as a
 * PROTOCOL_VIOLATION.
 */
export function checkTicketEarlyData(nstBody: Uint8Array): void {
  const ext = findExtension(decodeNewSessionTicket(nstBody).extensions, ExtensionType.early_data);
  if (ext && decodeMaxEarlyData(ext) !== 0xffffffff) {
    throw new QuicTransportError(TransportErrorCode.PROTOCOL_VIOLATION, 'NewSessionTicket max_early_data_size other than 0xffffffff (RFC 9001 §4.6.1)');
  }
}

/**
 * RFC 9369 §5: a session ticket belongs to the QUIC version of the connection
 * that issued it (the negotiated one, after compatible version negotiation),
 * and a client does not use it to start a connection in another version. The
 * client's store is keyed per version: tickets go in under the version in use
 * when they arrive, and are taken out for the version of the first Initial.
 */
export function versionScopedStore(store: SessionStore, takeVersion: QuicVersion, putVersion: () => QuicVersion): SessionStore {
  return {
    put: (key, session) => store.put(quicSessionKey(key, putVersion()), session),
    take: (key, now) => store.take(quicSessionKey(key, takeVersion), now),
  };
}

/** The key a QUIC client's session for server name `key` is kept under in its store, in version `v`. */
export function quicSessionKey(key: string, v: QuicVersion): string {
  return `${key}|quic-0x${v.number.toString(16)}`;
}

/**
 * The server's side of RFC 9369 §5: tickets are sealed with the version of the
 * connection issuing them, and a ticket from another version than that of the
 * client's first Initial does not open, so the handshake goes ahead in full.
 */
export function versionScopedSealer(sealer: TicketSealer, openVersion: QuicVersion, sealVersion: () => QuicVersion): TicketSealer {
  const tag = (v: QuicVersion): Uint8Array => new Writer(4).u32(v.number).finish();
  return {
    seal: (plaintext) => sealer.seal(concat(tag(sealVersion()), plaintext)),
    open: async (ticket) => {
      const plain = await sealer.open(ticket);
      if (!plain || plain.length < 4 || !equalBytes(plain.subarray(0, 4), tag(openVersion))) return undefined;
      return plain.subarray(4);
    },
  };
}

/** Connection IDs an endpoint holds 0-RTT datagrams for, datagrams per ID, and how long (ms) it holds them. */
export const MAX_PENDING_0RTT_CONNECTIONS = 64;
export const MAX_PENDING_0RTT_DATAGRAMS = 4;
export const PENDING_0RTT_LIFETIME_MS = 1000;
/**
 * Bytes held in all: the counts above allow 256 datagrams of up to 64 KB (16 MB); a client's 0-RTT datagrams
 * before its first Initial is answered are the size of that Initial's, ~1200–1500 bytes, so real ones fit.
 */
export const MAX_PENDING_0RTT_BYTES = 384 * 1024;

/**
 * An endpoint's 0-RTT datagrams that overtook the client's first Initial, so
 * no connection has their Destination Connection ID yet (RFC 9001 §4.6.1 lets
 * them be dropped; holding a few saves the client a retransmission). Bounded:
 * a few datagrams for a few connection IDs, each for a short time, the oldest
 * ID going first; an attacker filling it costs real clients only the
 * retransmission they would have made anyway.
 */
export class PendingZeroRtt {
  private readonly byCid = new Map<string, { readonly at: number; readonly datagrams: Uint8Array[]; bytes: number }>();
  /** Bytes of all the datagrams held, at most {@link MAX_PENDING_0RTT_BYTES}. */
  private held = 0;

  /** Holds a copy of `datagram`, whose first packet is 0-RTT to connection ID `cid` (hex). */
  add(cid: string, datagram: Uint8Array, now: number): void {
    let entry = this.byCid.get(cid);
    if (!entry || now - entry.at > PENDING_0RTT_LIFETIME_MS) {
      this.remove(cid);
      entry = { at: now, datagrams: [], bytes: 0 };
      this.byCid.set(cid, entry);
      while (this.byCid.size > MAX_PENDING_0RTT_CONNECTIONS) this.remove(this.byCid.keys().next().value as string);
    }
    if (entry.datagrams.length >= MAX_PENDING_0RTT_DATAGRAMS || datagram.length > MAX_PENDING_0RTT_BYTES) return;
    // Room is made by letting the oldest connection IDs go, as the count does; never this ID's own datagrams.
    for (const oldest of this.byCid.keys()) {
      if (this.held + datagram.length <= MAX_PENDING_0RTT_BYTES) break;
      if (oldest !== cid) this.remove(oldest);
    }
    if (this.held + datagram.length > MAX_PENDING_0RTT_BYTES) return;
    entry.datagrams.push(datagram.slice());
    entry.bytes += datagram.length;
    this.held += datagram.length;
  }

  /** Takes what is held for `cid`, if still fresh, in arrival order. */
  take(cid: string, now: number): Uint8Array[] {
    const entry = this.byCid.get(cid);
    this.remove(cid);
    return entry && now - entry.at <= PENDING_0RTT_LIFETIME_MS ? entry.datagrams : [];
  }

  private remove(cid: string): void {
    const entry = this.byCid.get(cid);
    if (!entry) return;
    this.held -= entry.bytes;
    this.byCid.delete(cid);
  }

  /** Bytes held now. */
  get bytes(): number {
    return this.held;
  }

  get size(): number {
    return this.byCid.size;
  }
}
