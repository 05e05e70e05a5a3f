import { lendBuffer, releaseBuffer } from '../buffer-pool.js';
import { ConfigError } from '../errors.js';
import type { AeadKey, HeaderProtectionKey } from '../pq/provider.js';
import { QuicTransportError, TransportErrorCode } from './errors.js';
import { headerLength, TAG_LENGTH, writeHeader, type OutgoingHeader, type ProtectedPacket } from './header.js';
import type { DirectionalKeys, PacketKey } from './keys.js';
import { decodePacketNumber, packetNumberLength, truncatePacketNumber } from './packet-number.js';

/** Header protection samples 16 bytes starting 4 bytes after the packet number's start (RFC 9001 §5.4.2). */
const SAMPLE_OFFSET = 4;
const SAMPLE_LENGTH = 16;

/** How to number a packet being sealed. */
export interface PacketNumbering {
  readonly packetNumber: number;
  /** Largest packet number the peer acknowledged in this space; undefined before the first ACK. */
  readonly largestAcked?: number;
  /** Force an encoding length instead of the shortest safe one (RFC 9000 §17.1 allows longer). */
  readonly pnLength?: 1 | 2 | 3 | 4;
}

/** The AEAD nonce: the IV XORed with the packet number, left-padded to 12 bytes (RFC 9001 §5.3). */
export function packetNonce(iv: Uint8Array, pn: number): Uint8Array {
  const nonce = iv.slice();
  xorPacketNumber(nonce, pn);
  return nonce;
}

function xorPacketNumber(nonce: Uint8Array, pn: number): void {
  const lo = pn >>> 0;
  const hi = Math.floor(pn / 0x100000000);
  nonce[4] = (nonce[4] as number) ^ (hi >>> 24);
  nonce[5] = (nonce[5] as number) ^ ((hi >>> 16) & 0xff);
  nonce[6] = (nonce[6] as number) ^ ((hi >>> 8) & 0xff);
  nonce[7] = (nonce[7] as number) ^ (hi & 0xff);
  nonce[8] = (nonce[8] as number) ^ (lo >>> 24);
  nonce[9] = (nonce[9] as number) ^ ((lo >>> 16) & 0xff);
  nonce[10] = (nonce[10] as number) ^ ((lo >>> 8) & 0xff);
  nonce[11] = (nonce[11] as number) ^ (lo & 0xff);
}

/**
 * Builds and protects one packet (RFC 9001 §5.3, §5.4): writes the header,
 * seals `payload` with the header as associated data, then masks the first
 * byte and packet number in place. A payload too short to leave a header
 * protection sample is padded with PADDING frames (zero bytes, RFC 9001 §5.4.2).
 * One allocation for the packet; with synchronous keys ({@link canSealSync})
 * the AEAD seals in place, otherwise its output is the only other.
 */
export async function sealPacket(
  keys: PacketProtectionKeys, header: OutgoingHeader, payload: Uint8Array, numbering: PacketNumbering, keyPhase: 0 | 1 = 0,
): Promise<Uint8Array> {
  const layout = layoutPacket(header, payload.length, numbering, keyPhase);
  layout.bytes.set(payload, layout.payloadOffset);
  if (canSealSync(keys)) {
    protectSync(keys, layout);
    return layout.bytes;
  }
  const { bytes, pnOffset, payloadOffset, payloadLength } = layout;
  const sealed = await keys.packet.aead.seal(packetNonce(keys.packet.iv, layout.packetNumber), bytes.subarray(0, payloadOffset),
    bytes.subarray(payloadOffset, payloadOffset + payloadLength));
  bytes.set(sealed, payloadOffset);
  applyMask(bytes, pnOffset, layout.pnLength, await keys.header.mask(sampleOf(bytes, pnOffset)));
  return bytes;
}

/** The keys that protect packets in one direction: the AEAD with its IV, and header protection. */
export interface PacketProtectionKeys {
  readonly packet: PacketKey;
  readonly header: HeaderProtectionKey;
}

/** Whether {@link sealPacketSync} may be used: the provider seals and masks on the calling thread. */
export function canSealSync(keys: PacketProtectionKeys): boolean {
  return keys.packet.aead.sealInto !== undefined && keys.header.maskSync !== undefined;
}

/** Whether {@link openPacketSync} may be used: the provider opens and masks on the calling thread. */
export function canOpenSync(keys: PacketProtectionKeys): boolean {
  return keys.packet.aead.openSync !== undefined && keys.header.maskSync !== undefined;
}

/**
 * Bytes of a payload that its writer left out: `data` belongs at `at` in the
 * packet. The AEAD reads it from where it is ({@link AeadKey.sealGather}), so
 * STREAM data goes from the application's write to the packet in one pass.
 */
export interface PayloadHole {
  readonly at: number;
  readonly data: Uint8Array;
}

/**
 * {@link sealPacket} without a promise, for keys that {@link canSealSync}:
 * `writePayload` fills `bytes[offset, offset + payloadLength)` of the packet
 * itself, so the frames are encoded straight into it, and the AEAD then seals
 * them where they are. One allocation per packet, the AEAD's scratch aside.
 * The writer may leave holes (in ascending order, within the payload) and
 * return them: they are sealed from where their data lies, or copied in
 * first when the AEAD cannot gather.
 */
export function sealPacketSync(
  keys: PacketProtectionKeys, header: OutgoingHeader, payloadLength: number,
  writePayload: (bytes: Uint8Array, offset: number) => void | readonly PayloadHole[], numbering: PacketNumbering, keyPhase: 0 | 1 = 0,
): Uint8Array {
  if (!canSealSync(keys)) throw new ConfigError('these keys have no synchronous seal and mask');
  const layout = layoutPacket(header, payloadLength, numbering, keyPhase);
  const holes = writePayload(layout.bytes, layout.payloadOffset);
  if (holes && holes.length > 0) {
    if (keys.packet.aead.sealGather) {
      protectGathered(keys, layout, holes);
      return layout.bytes;
    }
    for (const h of holes) layout.bytes.set(h.data, h.at);
  }
  protectSync(keys, layout);
  return layout.bytes;
}

/** A packet being built: header written, the payload's place, then room for the tag. */
interface PacketLayout {
  readonly bytes: Uint8Array;
  readonly packetNumber: number;
  readonly pnOffset: number;
  readonly pnLength: 1 | 2 | 3 | 4;
  readonly payloadOffset: number;
  /** At least the caller's payload; longer by zero bytes (PADDING) when a sample needs them. */
  readonly payloadLength: number;
}

function layoutPacket(header: OutgoingHeader, payloadLength: number, numbering: PacketNumbering, keyPhase: 0 | 1): PacketLayout {
  const pn = numbering.packetNumber;
  const pnLength = numbering.pnLength ?? packetNumberLength(pn, numbering.largestAcked);
  if (!Number.isSafeInteger(pn) || pn < 0) throw new ConfigError(`packet number out of range: ${pn}`);
  if (!Number.isInteger(payloadLength) || payloadLength < 0) throw new ConfigError(`payload length out of range: ${payloadLength}`);
  const padded = Math.max(payloadLength, SAMPLE_OFFSET - pnLength);
  const length = pnLength + padded + TAG_LENGTH;
  const bytes = packetBytes(headerLength(header, length) + length);
  const pnOffset = writeHeader(bytes, header, length, pnLength, truncatePacketNumber(pn, pnLength), keyPhase);
  const payloadOffset = pnOffset + pnLength;
  // A recycled buffer holds an old packet: the sample's PADDING must still be zero bytes (RFC 9001 §5.4.2).
  if (padded > payloadLength) bytes.fill(0, payloadOffset + payloadLength, payloadOffset + padded);
  return { bytes, packetNumber: pn, pnOffset, pnLength, payloadOffset, payloadLength: padded };
}

/**
 * Packets are cut from shared slabs, as Buffer's pool does: a fresh zeroed
 * typed array per packet costs a backing-store allocation and its GC
 * bookkeeping each time, a subarray of a slab only a view. No byte of a slab
 * is handed out twice, so a packet never changes under whoever still holds
 * one, and zero bytes (the sample's PADDING, RFC 9001 §5.4.2) stay zero
 * until written. A slab lives while any packet cut from it does: at most
 * SLAB_SIZE bytes kept for one long-lived packet.
 *
 * Larger packets (DPLPMTUD on a path with a large MTU, up to 64 KiB) each
 * get a whole buffer from ../buffer-pool.ts, which a transport gives back with
 * {@link releaseDatagram} once the datagram left.
 */
const SLAB_SIZE = 64 * 1024;
let slab = new Uint8Array(SLAB_SIZE);
let slabUsed = 0;
function packetBytes(n: number): Uint8Array {
  if (n > SLAB_SIZE >>> 3) return lendBuffer(n);
  if (slabUsed + n > SLAB_SIZE) {
    slab = new Uint8Array(SLAB_SIZE);
    slabUsed = 0;
  }
  const b = slab.subarray(slabUsed, slabUsed + n);
  slabUsed += n;
  return b;
}

/**
 * Gives back a datagram's bytes once the transport is done with them (the
 * socket has sent them, or failed to): a later large packet may be built in
 * the same memory. Only the whole of a datagram from `pollTransmit` may be
 * given back, and only when nothing will read it again. Datagrams not built
 * in a buffer of their own (small packets cut from a slab, coalesced
 * packets), and a second release of the same one, are ignored: releasing is
 * never required, and never makes two packets share memory.
 */
export const releaseDatagram: (data: Uint8Array) => void = releaseBuffer;

/** Seals the payload in place and masks the header (RFC 9001 §5.3, §5.4.1). */
function protectSync(keys: PacketProtectionKeys, l: PacketLayout): void {
  const { bytes, payloadOffset, payloadLength } = l;
  const sealInto = keys.packet.aead.sealInto as NonNullable<AeadKey['sealInto']>;
  const maskSync = keys.header.maskSync as NonNullable<HeaderProtectionKey['maskSync']>;
  sealInto.call(keys.packet.aead, scratchNonce(keys.packet.iv, l.packetNumber), bytes.subarray(0, payloadOffset),
    bytes.subarray(payloadOffset, payloadOffset + payloadLength), bytes.subarray(payloadOffset, payloadOffset + payloadLength + TAG_LENGTH));
  applyMask(bytes, l.pnOffset, l.pnLength, maskSync.call(keys.header, sampleOf(bytes, l.pnOffset)));
}

/** {@link protectSync} for a payload with holes: the parts between them in place, each hole's data from where it lies. */
function protectGathered(keys: PacketProtectionKeys, l: PacketLayout, holes: readonly PayloadHole[]): void {
  const { bytes, payloadOffset, payloadLength } = l;
  const end = payloadOffset + payloadLength;
  const parts: Uint8Array[] = [];
  let at = payloadOffset;
  for (const h of holes) {
    if (h.at < at || h.at + h.data.length > end) throw new ConfigError('payload holes must be in order and within the payload');
    if (h.at > at) parts.push(bytes.subarray(at, h.at));
    parts.push(h.data);
    at = h.at + h.data.length;
  }
  if (at < end) parts.push(bytes.subarray(at, end));
  const sealGather = keys.packet.aead.sealGather as NonNullable<AeadKey['sealGather']>;
  sealGather.call(keys.packet.aead, scratchNonce(keys.packet.iv, l.packetNumber), bytes.subarray(0, payloadOffset), parts, bytes.subarray(payloadOffset, end + TAG_LENGTH));
  const maskSync = keys.header.maskSync as NonNullable<HeaderProtectionKey['maskSync']>;
  applyMask(bytes, l.pnOffset, l.pnLength, maskSync.call(keys.header, sampleOf(bytes, l.pnOffset)));
}

function sampleOf(b: Uint8Array, pnOffset: number): Uint8Array {
  return b.subarray(pnOffset + SAMPLE_OFFSET, pnOffset + SAMPLE_OFFSET + SAMPLE_LENGTH);
}

/**
 * The nonce of the synchronous paths, written into one array that every call
 * reuses: a synchronous AEAD is done with it when it returns, so nothing can
 * see it change. The asynchronous paths get a fresh one ({@link packetNonce}).
 */
const NONCE = new Uint8Array(12);
function scratchNonce(iv: Uint8Array, pn: number): Uint8Array {
  NONCE.set(iv);
  xorPacketNumber(NONCE, pn);
  return NONCE;
}

function applyMask(b: Uint8Array, pnOffset: number, pnLength: number, mask: Uint8Array): void {
  b[0] = (b[0] as number) ^ ((mask[0] as number) & ((b[0] as number) & 0x80 ? 0x0f : 0x1f));
  for (let i = 0; i < pnLength; i++) b[pnOffset + i] = (b[pnOffset + i] as number) ^ (mask[1 + i] as number);
}

/** A header whose protection has been removed in place, with what is needed to put it back. */
export interface UnmaskedHeader {
  /** The unprotected first byte. */
  readonly firstByte: number;
  readonly pnLength: 1 | 2 | 3 | 4;
  readonly truncatedPn: number;
  /** Offset of the payload: the end of the associated data. */
  readonly headerEnd: number;
  readonly mask: Uint8Array;
}

/**
 * Removes header protection in place (RFC 9001 §5.4.1). Returns null for a
 * packet too short to hold a sample, which must be discarded.
 */
export async function removeHeaderProtection(hp: HeaderProtectionKey, packet: ProtectedPacket): Promise<UnmaskedHeader | null> {
  const b = packet.bytes;
  if (b.length < packet.pnOffset + SAMPLE_OFFSET + SAMPLE_LENGTH) return null;
  return unmask(packet, await hp.mask(sampleOf(b, packet.pnOffset)));
}

/** {@link removeHeaderProtection} on the calling thread, for a key with `maskSync`. */
export function removeHeaderProtectionSync(hp: HeaderProtectionKey, packet: ProtectedPacket): UnmaskedHeader | null {
  if (!hp.maskSync) throw new ConfigError('this header-protection key has no synchronous mask');
  const b = packet.bytes;
  if (b.length < packet.pnOffset + SAMPLE_OFFSET + SAMPLE_LENGTH) return null;
  return unmask(packet, hp.maskSync(sampleOf(b, packet.pnOffset)));
}

function unmask(packet: ProtectedPacket, mask: Uint8Array): UnmaskedHeader {
  const b = packet.bytes;
  const pnOffset = packet.pnOffset;
  b[0] = (b[0] as number) ^ ((mask[0] as number) & ((b[0] as number) & 0x80 ? 0x0f : 0x1f));
  const pnLength = (((b[0] as number) & 3) + 1) as 1 | 2 | 3 | 4;
  let truncatedPn = 0;
  for (let i = 0; i < pnLength; i++) {
    const v = (b[pnOffset + i] as number) ^ (mask[1 + i] as number);
    b[pnOffset + i] = v;
    truncatedPn = truncatedPn * 256 + v;
  }
  return { firstByte: b[0] as number, pnLength, truncatedPn, headerEnd: pnOffset + pnLength, mask };
}

/** Puts header protection back, so a packet that failed to open leaves the caller's bytes as they were. */
export function restoreHeaderProtection(packet: ProtectedPacket, h: UnmaskedHeader): void {
  applyMask(packet.bytes, packet.pnOffset, h.pnLength, h.mask);
}

/** A packet whose protection has been removed. */
export interface OpenedPacket {
  readonly packetNumber: number;
  /** The plaintext frames. */
  readonly payload: Uint8Array;
  /** The 1-RTT key-phase bit (RFC 9001 §6); 0 for long headers. */
  readonly keyPhase: 0 | 1;
  /** The 1-RTT spin bit (RFC 9000 §17.4); false for long headers. */
  readonly spin: boolean;
}

/**
 * Decrypts the payload of a packet whose header is already unmasked. Returns
 * null when authentication fails; then the header is re-masked.
 */
export async function decryptPayload(
  key: PacketKey, packet: ProtectedPacket, h: UnmaskedHeader, packetNumber: number,
): Promise<OpenedPacket | null> {
  const b = packet.bytes;
  const payload = await key.aead.open(packetNonce(key.iv, packetNumber), b.subarray(0, h.headerEnd), b.subarray(h.headerEnd));
  return opened(packet, h, packetNumber, payload);
}

/** {@link decryptPayload} on the calling thread, for an AEAD with `openSync`. */
export function decryptPayloadSync(key: PacketKey, packet: ProtectedPacket, h: UnmaskedHeader, packetNumber: number): OpenedPacket | null {
  if (!key.aead.openSync) throw new ConfigError('this AEAD has no synchronous open');
  const b = packet.bytes;
  return opened(packet, h, packetNumber, key.aead.openSync(scratchNonce(key.iv, packetNumber), b.subarray(0, h.headerEnd), b.subarray(h.headerEnd)));
}

/**
 * {@link decryptPayloadSync} over the packet's own bytes, for a caller that
 * gives them up (the 1-RTT path: the datagram is the transport's to keep).
 * With the AEAD's `openInto` the plaintext is written over the ciphertext and
 * the payload is a view of `packet.bytes`: no array per packet, which for a
 * 64 KB datagram costs more to allocate (zeroed) and collect than to decrypt.
 * Without `openInto`, as {@link decryptPayloadSync}. When authentication
 * fails the header is re-masked but the payload bytes are not kept (the
 * backend zeroes them); the tag, and so a Stateless Reset token ending the
 * datagram (RFC 9000 §10.3.1), is never written.
 */
export function decryptPayloadInPlace(key: PacketKey, packet: ProtectedPacket, h: UnmaskedHeader, packetNumber: number): OpenedPacket | null {
  const openInto = key.aead.openInto;
  if (openInto === undefined) return decryptPayloadSync(key, packet, h, packetNumber);
  const b = packet.bytes;
  const ciphertext = b.subarray(h.headerEnd);
  if (ciphertext.length < TAG_LENGTH) return opened(packet, h, packetNumber, null);
  const payload = ciphertext.subarray(0, ciphertext.length - TAG_LENGTH);
  const ok = openInto.call(key.aead, scratchNonce(key.iv, packetNumber), b.subarray(0, h.headerEnd), ciphertext, payload);
  return opened(packet, h, packetNumber, ok ? payload : null);
}

function opened(packet: ProtectedPacket, h: UnmaskedHeader, packetNumber: number, payload: Uint8Array | null): OpenedPacket | null {
  if (payload === null) {
    restoreHeaderProtection(packet, h);
    return null;
  }
  const long = (h.firstByte & 0x80) !== 0;
  // Reserved bits are checked only after authentication (RFC 9000 §17.2, §17.3.1).
  if ((h.firstByte & (long ? 0x0c : 0x18)) !== 0) {
    throw new QuicTransportError(TransportErrorCode.PROTOCOL_VIOLATION, 'reserved header bits are not zero');
  }
  return {
    packetNumber,
    payload,
    keyPhase: long ? 0 : (((h.firstByte >> 2) & 1) as 0 | 1),
    spin: !long && (h.firstByte & 0x20) !== 0,
  };
}

/**
 * Removes header and packet protection (RFC 9001 §5). `largestPn` is the
 * largest packet number processed in this space (-1 if none). Returns null for
 * a packet that does not authenticate or is too short: such a packet is
 * discarded (RFC 9001 §5.5), never raised as an error. On success the header
 * bytes of `packet.bytes` are left unprotected.
 */
export async function openPacket(keys: DirectionalKeys, packet: ProtectedPacket, largestPn: number): Promise<OpenedPacket | null> {
  if (canOpenSync(keys)) return openPacketSync(keys, packet, largestPn);
  const h = await removeHeaderProtection(keys.header, packet);
  if (!h) return null;
  return decryptPayload(keys.packet, packet, h, decodePacketNumber(largestPn, h.truncatedPn, h.pnLength));
}

/** {@link openPacket} without a promise, for keys that {@link canOpenSync}. */
export function openPacketSync(keys: PacketProtectionKeys, packet: ProtectedPacket, largestPn: number): OpenedPacket | null {
  if (!canOpenSync(keys)) throw new ConfigError('these keys have no synchronous open and mask');
  const h = removeHeaderProtectionSync(keys.header, packet);
  if (!h) return null;
  return decryptPayloadSync(keys.packet, packet, h, decodePacketNumber(largestPn, h.truncatedPn, h.pnLength));
}
