import { ConfigError, DecodeError } from '../errors.js';
import { concat, equalBytes, fromUtf8, utf8 } from '../bytes.js';
import { Reader } from '../codec/reader.js';
import { Writer } from '../codec/writer.js';
import type { AeadKey, CryptoProvider } from '../pq/provider.js';
import { cipherSuiteInfo, type CipherSuite } from './cipher-suites.js';

/** What a server needs to resume a session from a ticket (RFC 8446 §4.6.1). */
export interface TicketState {
  readonly suite: CipherSuite;
  /** The resumption PSK (already expanded from resumption_master_secret and the ticket nonce). */
  readonly psk: Uint8Array;
  /** Issue time, milliseconds since the epoch (server clock). */
  readonly issuedAt: number;
  /** ticket_lifetime, seconds. */
  readonly lifetime: number;
  readonly ageAdd: number;
  /** max_early_data_size promised in the ticket; 0 if early data is not allowed. */
  readonly maxEarlyData: number;
  readonly alpn: string | undefined;
  readonly serverName: string | undefined;
  /**
   * The client's leaf certificate, when the original handshake authenticated one (DER):
   * the chain is the client's to size, the ticket is not, so only the leaf is kept.
   */
  readonly peerCertificates: readonly Uint8Array[];
  /**
   * QUIC only: what the server promised the connection that got this ticket (the
   * transport parameters a client remembers, RFC 9000 §7.4.1), in an encoding the
   * QUIC layer chooses; 0-RTT is accepted only while the server promises the same (RFC 9001 §4.6.3).
   */
  readonly quicContext?: Uint8Array;
}

/** Version 2 adds the QUIC context; version 1 states still decode. */
const TICKET_STATE_VERSION = 2;

export function encodeTicketState(s: TicketState): Uint8Array {
  const w = new Writer(256).u8(TICKET_STATE_VERSION).u16(s.suite).vecBytes(1, s.psk, 32);
  w.u32(Math.floor(s.issuedAt / 2 ** 32)).u32(s.issuedAt >>> 0).u32(s.lifetime).u32(s.ageAdd).u32(s.maxEarlyData);
  w.vecBytes(1, utf8(s.alpn ?? '')).vecBytes(2, utf8(s.serverName ?? ''));
  w.vec(3, (w) => s.peerCertificates.forEach((c) => w.vecBytes(3, c, 1)));
  w.vecBytes(2, s.quicContext ?? new Uint8Array(0));
  return w.finish();
}

/** Decodes a ticket state; anything malformed is a DecodeError, which servers treat as "no ticket". */
export function decodeTicketState(b: Uint8Array): TicketState {
  const r = new Reader(b, 'ticket state');
  const version = r.u8();
  if (version !== 1 && version !== TICKET_STATE_VERSION) throw new DecodeError('ticket state: unknown version');
  const suite = r.u16();
  if (!cipherSuiteInfo(suite)) throw new DecodeError('ticket state: unknown suite');
  const psk = r.vec(1, 32).slice();
  const issuedAt = r.u32() * 2 ** 32 + r.u32();
  const lifetime = r.u32();
  const ageAdd = r.u32();
  const maxEarlyData = r.u32();
  const alpn = fromUtf8(r.vec(1));
  const serverName = fromUtf8(r.vec(2));
  const certs = r.sub(3);
  const peerCertificates: Uint8Array[] = [];
  while (!certs.done) peerCertificates.push(certs.vec(3, 1).slice());
  const quicContext = version >= 2 ? r.vec(2).slice() : new Uint8Array(0);
  r.end();
  return {
    suite: suite as CipherSuite, psk, issuedAt, lifetime, ageAdd, maxEarlyData,
    alpn: alpn || undefined, serverName: serverName || undefined, peerCertificates, ...(quicContext.length ? { quicContext } : {}),
  };
}

/**
 * Seals and opens session tickets (in the manner of rustls's `ProducesTickets`).
 * `open` returns undefined for any ticket it cannot authenticate: a server then
 * falls back to a full handshake, never an error.
 */
export interface TicketSealer {
  seal(plaintext: Uint8Array): Promise<Uint8Array>;
  open(ticket: Uint8Array): Promise<Uint8Array | undefined>;
}

/** A ticket key as shared between servers: a 4-byte id and a 32-byte AES-256-GCM key. */
export interface TicketKeyMaterial {
  readonly id: Uint8Array;
  readonly secret: Uint8Array;
}

interface LoadedKey {
  readonly id: Uint8Array;
  readonly secret: Uint8Array;
  readonly aead: AeadKey;
}

const ID_LENGTH = 4;
const NONCE_LENGTH = 12;

/**
 * A ring of ticket keys: tickets are sealed under the current key and opened
 * under any key still in the ring, so keys can be rotated without invalidating
 * tickets in flight, and servers sharing the ring's material accept each
 * other's tickets. Ticket layout: key id (4) ‖ nonce (12) ‖ AES-256-GCM(state),
 * with the key id as additional data.
 */
export class TicketKeyRing implements TicketSealer {
  private keys: LoadedKey[] = [];

  private constructor(private readonly provider: CryptoProvider, private readonly maxKeys: number) {}

  /**
   * A ring holding `keys` (the first is current), or one fresh random key.
   * `maxKeys` bounds how many previous keys are kept on rotation (default 3 in all).
   */
  static async create(provider: CryptoProvider, options: { keys?: readonly TicketKeyMaterial[]; maxKeys?: number } = {}): Promise<TicketKeyRing> {
    const ring = new TicketKeyRing(provider, options.maxKeys ?? 3);
    if (ring.maxKeys < 1) throw new ConfigError('maxKeys must be at least 1');
    const initial = options.keys ?? [];
    for (const k of [...initial].reverse()) await ring.rotate(k);
    if (initial.length === 0) await ring.rotate();
    return ring;
  }

  /** Makes `material` (or a fresh random key) current; the oldest key falls out past `maxKeys`. */
  async rotate(material?: TicketKeyMaterial): Promise<TicketKeyMaterial> {
    const m = material ?? { id: await this.provider.random(ID_LENGTH), secret: await this.provider.random(32) };
    if (m.id.length !== ID_LENGTH || m.secret.length !== 32) throw new ConfigError('ticket keys are a 4-byte id and a 32-byte secret');
    if (this.keys.some((k) => equalBytes(k.id, m.id))) throw new ConfigError('ticket key id already in the ring');
    const aead = await this.provider.aead('AES-256-GCM', m.secret);
    this.keys = [{ id: m.id.slice(), secret: m.secret.slice(), aead }, ...this.keys].slice(0, this.maxKeys);
    return m;
  }

  /** Removes a key: tickets sealed under it are no longer accepted. */
  retire(id: Uint8Array): void {
    this.keys = this.keys.filter((k) => !equalBytes(k.id, id));
  }

  /** The ring's key material, current first, for sharing with other servers. */
  export(): TicketKeyMaterial[] {
    return this.keys.map((k) => ({ id: k.id.slice(), secret: k.secret.slice() }));
  }

  async seal(plaintext: Uint8Array): Promise<Uint8Array> {
    const key = this.keys[0];
    if (!key) throw new ConfigError('ticket key ring is empty');
    const nonce = await this.provider.random(NONCE_LENGTH);
    return concat(key.id, nonce, await key.aead.seal(nonce, key.id, plaintext));
  }

  async open(ticket: Uint8Array): Promise<Uint8Array | undefined> {
    if (ticket.length < ID_LENGTH + NONCE_LENGTH + 16) return undefined;
    const id = ticket.subarray(0, ID_LENGTH);
    const key = this.keys.find((k) => equalBytes(k.id, id));
    if (!key) return undefined;
    return (await key.aead.open(ticket.subarray(ID_LENGTH, ID_LENGTH + NONCE_LENGTH), id, ticket.subarray(ID_LENGTH + NONCE_LENGTH))) ?? undefined;
  }
}
