import { DecodeError } from '../errors.js';
import { fromUtf8, utf8 } from '../bytes.js';
import { Reader } from '../codec/reader.js';
import { Writer } from '../codec/writer.js';
import { cipherSuiteInfo, type CipherSuite } from './cipher-suites.js';

/** A resumable session as a client keeps it: one ticket and what it stands for (RFC 8446 §4.6.1). */
export interface Session {
  readonly ticket: Uint8Array;
  readonly suite: CipherSuite;
  /** The resumption PSK for this ticket. */
  readonly psk: Uint8Array;
  /** When the ticket arrived, milliseconds since the epoch (client clock). */
  readonly receivedAt: number;
  /** ticket_lifetime, seconds. */
  readonly lifetime: number;
  readonly ageAdd: number;
  /** max_early_data_size the server allows with this ticket (0: no 0-RTT). */
  readonly maxEarlyData: number;
  readonly alpn: string | undefined;
  /** The server's certificate chain from the original handshake (DER), reported again on resumption. */
  readonly peerCertificates: readonly Uint8Array[];
  readonly peerSignatureScheme: number | undefined;
  /**
   * QUIC only: the server's transport parameters from the original connection
   * (their encoding), which bound 0-RTT data sent with this ticket (RFC 9000 §7.4.1).
   */
  readonly quicTransportParameters?: Uint8Array;
}

/** Whether the ticket may still be offered at `now` (ms). */
export function sessionUsable(s: Session, now: number): boolean {
  return now >= s.receivedAt && now - s.receivedAt < s.lifetime * 1000;
}

/**
 * Where a client keeps sessions, keyed by server name. Tickets are single-use
 * (RFC 8446 Appendix C.4: reuse lets observers link connections), so `take`
 * removes what it returns.
 */
export interface SessionStore {
  put(key: string, session: Session): void | Promise<void>;
  take(key: string, now: number): Session | undefined | Promise<Session | undefined>;
}

/** The default store: in memory, the newest few tickets per server. */
export class MemorySessionStore implements SessionStore {
  private readonly sessions = new Map<string, Session[]>();
  constructor(private readonly perServer = 4, private readonly maxServers = 1024) {}

  put(key: string, session: Session): void {
    const list = [session, ...(this.sessions.get(key) ?? [])].slice(0, this.perServer);
    this.sessions.delete(key);
    this.sessions.set(key, list);
    // Oldest-inserted servers go first once the map is full.
    while (this.sessions.size > this.maxServers) this.sessions.delete(this.sessions.keys().next().value as string);
  }

  take(key: string, now: number): Session | undefined {
    const list = (this.sessions.get(key) ?? []).filter((s) => sessionUsable(s, now));
    const s = list.shift();
    if (list.length) this.sessions.set(key, list);
    else this.sessions.delete(key);
    return s;
  }
}

/** Version 2 adds the QUIC transport parameters; version 1 encodings still decode. */
const SESSION_VERSION = 2;

/** Serialises a session, e.g. for `pqtls client --session FILE`. It holds a secret: store it like a key. */
export function encodeSession(s: Session): Uint8Array {
  const w = new Writer(s.ticket.length + 256).u8(SESSION_VERSION).vecBytes(2, s.ticket, 1).u16(s.suite).vecBytes(1, s.psk, 32);
  w.u32(Math.floor(s.receivedAt / 2 ** 32)).u32(s.receivedAt >>> 0).u32(s.lifetime).u32(s.ageAdd).u32(s.maxEarlyData);
  w.vecBytes(1, utf8(s.alpn ?? '')).u16(s.peerSignatureScheme ?? 0);
  w.vec(3, (w) => s.peerCertificates.forEach((c) => w.vecBytes(3, c, 1)));
  w.vecBytes(2, s.quicTransportParameters ?? new Uint8Array(0));
  return w.finish();
}

export function decodeSession(b: Uint8Array): Session {
  const r = new Reader(b, 'session');
  const version = r.u8();
  if (version !== 1 && version !== SESSION_VERSION) throw new DecodeError('session: unknown version');
  const ticket = r.vec(2, 1).slice();
  const suite = r.u16();
  if (!cipherSuiteInfo(suite)) throw new DecodeError('session: unknown cipher suite');
  const psk = r.vec(1, 32).slice();
  const receivedAt = r.u32() * 2 ** 32 + r.u32();
  const lifetime = r.u32();
  const ageAdd = r.u32();
  const maxEarlyData = r.u32();
  const alpn = fromUtf8(r.vec(1));
  const scheme = r.u16();
  const certs = r.sub(3);
  const peerCertificates: Uint8Array[] = [];
  while (!certs.done) peerCertificates.push(certs.vec(3, 1).slice());
  const tp = version >= 2 ? r.vec(2).slice() : new Uint8Array(0);
  r.end();
  return {
    ticket, suite: suite as CipherSuite, psk, receivedAt, lifetime, ageAdd, maxEarlyData, alpn: alpn || undefined,
    peerCertificates, peerSignatureScheme: scheme || undefined, ...(tp.length ? { quicTransportParameters: tp } : {}),
  };
}
