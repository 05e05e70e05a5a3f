/**
 * A classic libpcap capture file (the format of tcpdump and Wireshark's
 * "pcap") of UDP datagrams, built in memory: each record is an IPv4 header
 * and a UDP header written here around the datagram, with link type
 * LINKTYPE_RAW (101, raw IPv4/IPv6), so no capture privileges are needed to
 * show a dissector exactly what went over the wire.
 */

export interface CapturedDatagram {
  /** Milliseconds since the epoch (any clock: it only orders the records). */
  readonly time: number;
  readonly src: readonly [number, number, number, number];
  readonly srcPort: number;
  readonly dst: readonly [number, number, number, number];
  readonly dstPort: number;
  readonly data: Uint8Array;
}

const LINKTYPE_RAW = 101;
const IPV4_HEADER = 20;
const UDP_HEADER = 8;

/** The pcap file: global header (magic a1b2c3d4, version 2.4, microseconds), then one record per datagram. */
export function pcapFile(datagrams: readonly CapturedDatagram[]): Uint8Array {
  const records = datagrams.map(record);
  const out = new Uint8Array(24 + records.reduce((n, r) => n + r.length, 0));
  const v = new DataView(out.buffer);
  v.setUint32(0, 0xa1b2c3d4, true);
  v.setUint16(4, 2, true);
  v.setUint16(6, 4, true);
  v.setInt32(8, 0, true); // thiszone
  v.setUint32(12, 0, true); // sigfigs
  v.setUint32(16, 65535, true); // snaplen
  v.setUint32(20, LINKTYPE_RAW, true);
  let at = 24;
  for (const r of records) {
    out.set(r, at);
    at += r.length;
  }
  return out;
}

function record(d: CapturedDatagram, index: number): Uint8Array {
  const packet = ipv4Udp(d, index);
  const r = new Uint8Array(16 + packet.length);
  const v = new DataView(r.buffer);
  const us = Math.round(d.time * 1000);
  v.setUint32(0, Math.floor(us / 1e6), true);
  v.setUint32(4, us % 1e6, true);
  v.setUint32(8, packet.length, true); // captured length
  v.setUint32(12, packet.length, true); // original length
  r.set(packet, 16);
  return r;
}

/** RFC 791 header (no options, DF set, TTL 64, protocol 17) and RFC 768 UDP header (checksum 0: none, allowed over IPv4). */
function ipv4Udp(d: CapturedDatagram, id: number): Uint8Array {
  const total = IPV4_HEADER + UDP_HEADER + d.data.length;
  if (total > 0xffff) throw new RangeError('datagram too large for IPv4');
  const p = new Uint8Array(total);
  const v = new DataView(p.buffer);
  p[0] = 0x45;
  v.setUint16(2, total);
  v.setUint16(4, id & 0xffff);
  v.setUint16(6, 0x4000);
  p[8] = 64;
  p[9] = 17;
  p.set(d.src, 12);
  p.set(d.dst, 16);
  v.setUint16(10, ipv4Checksum(p.subarray(0, IPV4_HEADER)));
  v.setUint16(20, d.srcPort);
  v.setUint16(22, d.dstPort);
  v.setUint16(24, UDP_HEADER + d.data.length);
  p.set(d.data, IPV4_HEADER + UDP_HEADER);
  return p;
}

/** The one's-complement sum of the header's 16-bit words (RFC 791 §3.1), with the checksum field zero. */
export function ipv4Checksum(header: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < header.length; i += 2) sum += ((header[i] as number) << 8) | (header[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}
