import { AlertDescription, DecodeError } from '../../errors.js';
import { Reader } from '../../codec/reader.js';
import { Writer } from '../../codec/writer.js';
import { HandshakeType } from '../constants.js';
import { parseExtension, readExtensions, writeExtensions, type Extension } from './extensions.js';
import { frameHandshake } from './handshake.js';

/** PskIdentity (RFC 8446 §4.2.11). */
export interface PskIdentity {
  readonly identity: Uint8Array;
  readonly obfuscatedTicketAge: number;
}

/** The client's pre_shared_key extension: identities and their binders, in the same order. */
export interface OfferedPsks {
  readonly identities: readonly PskIdentity[];
  readonly binders: readonly Uint8Array[];
}

export function encodeOfferedPsks(o: OfferedPsks): Uint8Array {
  const w = new Writer(256);
  w.vec(2, (w) => o.identities.forEach((i) => w.vecBytes(2, i.identity, 1).u32(i.obfuscatedTicketAge)), 7);
  w.vec(2, (w) => o.binders.forEach((b) => w.vecBytes(1, b, 32)), 33);
  return w.finish();
}

export function decodeOfferedPsks(d: Uint8Array): OfferedPsks {
  return parseExtension(d, 'pre_shared_key', (r) => {
    const ids = r.sub(2, 7);
    const identities: PskIdentity[] = [];
    while (!ids.done) identities.push({ identity: ids.vec(2, 1).slice(), obfuscatedTicketAge: ids.u32() });
    const bs = r.sub(2, 33);
    const binders: Uint8Array[] = [];
    while (!bs.done) binders.push(bs.vec(1, 32).slice());
    // §4.2.11: as many binders as identities.
    if (binders.length !== identities.length) throw new DecodeError('pre_shared_key: binder count differs from identity count', AlertDescription.illegal_parameter);
    return { identities, binders };
  });
}

/** Length of the binders list (with its length prefix) at the end of a ClientHello that offers `binders`. */
export function bindersLength(binders: readonly Uint8Array[]): number {
  return 2 + binders.reduce((n, b) => n + 1 + b.length, 0);
}

export const encodeSelectedIdentity = (index: number): Uint8Array => new Writer(2).u16(index).finish();
export const decodeSelectedIdentity = (d: Uint8Array): number => parseExtension(d, 'pre_shared_key', (r) => r.u16());

/** psk_key_exchange_modes values (§4.2.9). */
export const PskMode = { psk_ke: 0, psk_dhe_ke: 1 } as const;

/** early_data in NewSessionTicket carries max_early_data_size (§4.2.10); elsewhere it is empty. */
export const encodeMaxEarlyData = (n: number): Uint8Array => new Writer(4).u32(n).finish();
export const decodeMaxEarlyData = (d: Uint8Array): number => parseExtension(d, 'early_data', (r) => r.u32());

/** NewSessionTicket (§4.6.1). */
export interface NewSessionTicket {
  readonly lifetime: number;
  readonly ageAdd: number;
  readonly nonce: Uint8Array;
  readonly ticket: Uint8Array;
  readonly extensions: readonly Extension[];
}

export function encodeNewSessionTicket(t: NewSessionTicket): Uint8Array {
  const w = new Writer(t.ticket.length + 64).u32(t.lifetime).u32(t.ageAdd).vecBytes(1, t.nonce).vecBytes(2, t.ticket, 1);
  writeExtensions(w, t.extensions);
  return frameHandshake(HandshakeType.new_session_ticket, w.finish());
}

export function decodeNewSessionTicket(body: Uint8Array): NewSessionTicket {
  const r = new Reader(body, 'NewSessionTicket');
  // §4.6.1: unlike the other messages' blocks, NewSessionTicket's is extensions<0..2^16-2>.
  const t = { lifetime: r.u32(), ageAdd: r.u32(), nonce: r.vec(1).slice(), ticket: r.vec(2, 1).slice(), extensions: readExtensions(r, 0, 0xfffe) };
  r.end();
  // §4.6.1: lifetimes over seven days are not allowed.
  if (t.lifetime > 604800) throw new DecodeError('NewSessionTicket lifetime exceeds 7 days', AlertDescription.illegal_parameter);
  return t;
}

/** EndOfEarlyData (§4.5): an empty message. */
export const encodeEndOfEarlyData = (): Uint8Array => frameHandshake(HandshakeType.end_of_early_data, new Uint8Array(0));
