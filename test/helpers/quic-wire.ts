/**
 * What a middlebox can read of QUIC without keys: the invariant header
 * (RFC 8999 §5), the long-header packet types of v1 (RFC 9000 §17.2) and v2
 * (RFC 9369 §3.2), and the Length field that delimits coalesced packets
 * (RFC 9000 §12.2). Written independently of `src/quic` so the interop
 * checks do not lean on the code they check.
 */

export const VERSION_NEGOTIATION = 0;
export const QUIC_V1_NUMBER = 0x00000001;
export const QUIC_V2_NUMBER = 0x6b3343cf;

export type LongPacketType = 'initial' | '0rtt' | 'handshake' | 'retry';

/** A long-header packet as seen on the wire, or the short-header rest of a datagram. */
export type WirePacket =
  | {
      readonly form: 'long';
      readonly version: number;
      /** Undefined for Version Negotiation (version 0) and for versions we do not know. */
      readonly type: LongPacketType | 'version-negotiation' | undefined;
      readonly dcid: Uint8Array;
      readonly scid: Uint8Array;
      /** Bytes of this packet in the datagram, header included. */
      readonly size: number;
      /** Versions listed by a Version Negotiation packet. */
      readonly versions?: readonly number[];
    }
  | { readonly form: 'short'; readonly size: number };

const V1_TYPES: readonly LongPacketType[] = ['initial', '0rtt', 'handshake', 'retry'];
// RFC 9369 §3.2: v2 rotates the two type bits.
const V2_TYPES: readonly LongPacketType[] = ['retry', 'initial', '0rtt', 'handshake'];

function u32(b: Uint8Array, at: number): number {
  return (((b[at] ?? 0) << 24) | ((b[at + 1] ?? 0) << 16) | ((b[at + 2] ?? 0) << 8) | (b[at + 3] ?? 0)) >>> 0;
}

/** RFC 9000 §16 variable-length integer at `at`: [value, length], or undefined if truncated. */
function varint(b: Uint8Array, at: number): [number, number] | undefined {
  const first = b[at];
  if (first === undefined) return undefined;
  const len = 1 << (first >> 6);
  if (at + len > b.length) return undefined;
  let v = first & 0x3f;
  for (let i = 1; i < len; i++) v = v * 256 + (b[at + i] as number);
  return [v, len];
}

/**
 * Splits a datagram into its packets. Parsing stops (without throwing) at the
 * first thing that does not parse: a corrupted datagram yields what could be
 * read, which is what a passive observer gets too.
 */
export function parseDatagram(d: Uint8Array): WirePacket[] {
  const out: WirePacket[] = [];
  let at = 0;
  while (at < d.length) {
    const first = d[at] as number;
    if ((first & 0x80) === 0) {
      out.push({ form: 'short', size: d.length - at });
      break;
    }
    if (at + 6 > d.length) break;
    const version = u32(d, at + 1);
    const dcidLen = d[at + 5] as number;
    if (dcidLen > 20 || at + 6 + dcidLen + 1 > d.length) break;
    const dcid = d.slice(at + 6, at + 6 + dcidLen);
    const scidLenAt = at + 6 + dcidLen;
    const scidLen = d[scidLenAt] as number;
    if (scidLen > 20 || scidLenAt + 1 + scidLen > d.length) break;
    const scid = d.slice(scidLenAt + 1, scidLenAt + 1 + scidLen);
    let p = scidLenAt + 1 + scidLen;
    if (version === VERSION_NEGOTIATION) {
      const versions: number[] = [];
      for (; p + 4 <= d.length; p += 4) versions.push(u32(d, p));
      out.push({ form: 'long', version, type: 'version-negotiation', dcid, scid, size: d.length - at, versions });
      break;
    }
    const table = version === QUIC_V1_NUMBER ? V1_TYPES : version === QUIC_V2_NUMBER ? V2_TYPES : undefined;
    const type = table?.[(first >> 4) & 3];
    if (type === undefined || type === 'retry') {
      // A Retry (and anything of an unknown version) runs to the end of the datagram.
      out.push({ form: 'long', version, type, dcid, scid, size: d.length - at });
      break;
    }
    if (type === 'initial') {
      const token = varint(d, p);
      if (!token) break;
      p += token[1] + token[0];
    }
    const length = varint(d, p);
    if (!length) break;
    const end = p + length[1] + length[0];
    if (end > d.length) break;
    out.push({ form: 'long', version, type, dcid, scid, size: end - at });
    at = end;
  }
  return out;
}

export function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}
