/**
 * RFC 9000 §17 packet formats and RFC 9001 §5 packet protection: every packet
 * type built, protected, split from a coalesced datagram (§12.2) and opened
 * again; any flipped bit rejected; Version Negotiation; header checks.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { concat, fromHex, toHex } from '../../src/bytes.js';
import { createNobleProvider } from '../../src/pq/noble/index.js';
import { seededRandom } from '../../src/testing/index.js';
import {
  AES_128_GCM_SHA256, AES_256_GCM_SHA384, CHACHA20_POLY1305_SHA256, InvalidPacketError, QUIC_V1, QUIC_V2,
  QuicTransportError, TransportErrorCode, coalescePackets, deriveDirectionalKeys, encodeVersionNegotiation,
  isReservedVersion, openPacket, packetNonce, parsePacket, sealPacket, splitDatagram, versionTable, DEFAULT_QUIC_VERSIONS,
  type DirectionalKeys, type OutgoingHeader, type ProtectedPacket, type QuicCipherSuite,
} from '../../src/quic/index.js';
import { hashLength } from '../../src/pq/ids.js';
import { seeded } from '../helpers/fc.js';

const provider = createNobleProvider({ random: seededRandom('quic packets') });
const suites: [string, QuicCipherSuite][] = [
  ['AES-128-GCM', AES_128_GCM_SHA256], ['AES-256-GCM', AES_256_GCM_SHA384], ['ChaCha20-Poly1305', CHACHA20_POLY1305_SHA256],
];
const keysFor = (suite: QuicCipherSuite, label: string): Promise<DirectionalKeys> =>
  deriveDirectionalKeys(provider, QUIC_V1, suite, seededRandom(label)(hashLength(suite.hash)));

const cid = fc.uint8Array({ minLength: 0, maxLength: 20 });
const SHORT_CID = 8;
const header: fc.Arbitrary<OutgoingHeader> = fc.oneof(
  fc.record({
    type: fc.constantFrom('initial', '0rtt', 'handshake'), version: fc.constantFrom(QUIC_V1, QUIC_V2), dcid: cid, scid: cid,
    token: fc.uint8Array({ maxLength: 40 }),
  }).map((h): OutgoingHeader => (h.type === 'initial' ? h : { ...h, token: undefined })),
  fc.record({ type: fc.constant('1rtt' as const), dcid: fc.uint8Array({ minLength: SHORT_CID, maxLength: SHORT_CID }), spin: fc.boolean() }),
);

function asProtected(bytes: Uint8Array, offset = 0): { packet: ProtectedPacket; next: number } {
  const { packet, next } = parsePacket(bytes, offset, { shortDcidLength: SHORT_CID });
  if (!('pnOffset' in packet)) throw new Error(`not a protected packet: ${packet.type}`);
  return { packet, next };
}

describe.each(suites)('packet protection with %s (RFC 9001 §5)', (_name, suite) => {
  it('every packet type round-trips through protect, parse and unprotect', async () => {
    const keys = await keysFor(suite, 'round trip');
    await fc.assert(fc.asyncProperty(
      header, fc.uint8Array({ minLength: 1, maxLength: 300 }), fc.integer({ min: 0, max: 2 ** 40 }), fc.integer({ min: 1, max: 2 ** 20 }), fc.boolean(),
      async (h, payload, acked, gap, phase) => {
        const pn = acked + gap;
        const bytes = await sealPacket(keys, h, payload, { packetNumber: pn, largestAcked: acked }, phase ? 1 : 0);
        const { packet, next } = asProtected(bytes);
        expect(next).toBe(bytes.length);
        expect(packet.type).toBe(h.type);
        expect(toHex(packet.dcid)).toBe(toHex(h.dcid));
        if (h.type !== '1rtt') {
          expect(packet.version).toBe(h.version);
          expect(toHex(packet.scid)).toBe(toHex(h.scid));
          expect(toHex(packet.token)).toBe(toHex(h.token ?? new Uint8Array(0)));
        }
        const opened = await openPacket(keys, packet, acked);
        expect(opened).not.toBeNull();
        expect(opened!.packetNumber).toBe(pn);
        expect(toHex(opened!.payload.subarray(0, payload.length))).toBe(toHex(payload));
        if (h.type === '1rtt') {
          expect(opened!.keyPhase).toBe(phase ? 1 : 0);
          expect(opened!.spin).toBe(h.spin ?? false);
        }
      },
    ), seeded(2485, { numRuns: 60 }));
  });

  it('a flipped bit anywhere in a protected packet is rejected, and the bytes are left as they were', async () => {
    const keys = await keysFor(suite, 'bit flip');
    await fc.assert(fc.asyncProperty(header, fc.uint8Array({ minLength: 1, maxLength: 64 }), fc.nat(), fc.integer({ min: 0, max: 7 }),
      async (h, payload, where, bit) => {
        const bytes = await sealPacket(keys, h, payload, { packetNumber: 7, largestAcked: 5 });
        const i = where % bytes.length;
        bytes[i] = bytes[i]! ^ (1 << bit);
        const before = toHex(bytes);
        // A flip may break the header (dropped), change the version or type (no longer these keys'
        // packet), or leave a packet that parses: then it must fail authentication.
        for (const p of splitDatagram(bytes, { shortDcidLength: SHORT_CID }).packets) {
          if ('pnOffset' in p) expect(await openPacket(keys, p, 5)).toBeNull();
          else expect(p.type).not.toBe(h.type);
        }
        expect(toHex(bytes)).toBe(before);
      }), seeded(80271, { numRuns: 200 }));
  });

  it('short payloads are padded so a header-protection sample exists (§5.4.2)', async () => {
    const keys = await keysFor(suite, 'short');
    const bytes = await sealPacket(keys, { type: '1rtt', dcid: new Uint8Array(SHORT_CID) }, fromHex('01'), { packetNumber: 0 });
    expect(bytes.length).toBe(1 + SHORT_CID + 4 + 16);
    const opened = await openPacket(keys, asProtected(bytes).packet, -1);
    expect(toHex(opened!.payload)).toBe('010000'); // 1-byte packet number + 3 payload bytes reach the sample
  });
});

describe('packet parsing (RFC 9000 §17)', () => {
  it('coalesced Initial, Handshake and 1-RTT packets split back in order (§12.2)', async () => {
    const keys = await keysFor(AES_128_GCM_SHA256, 'coalesce');
    const dcid = fromHex('0102030405060708');
    const parts = [
      await sealPacket(keys, { type: 'initial', version: QUIC_V2, dcid, scid: fromHex('aa'), token: fromHex('beef') }, fromHex('01'), { packetNumber: 0 }),
      await sealPacket(keys, { type: 'handshake', version: QUIC_V2, dcid, scid: fromHex('aa') }, fromHex('01'), { packetNumber: 0 }),
      await sealPacket(keys, { type: '1rtt', dcid }, fromHex('01'), { packetNumber: 0 }),
    ];
    const split = splitDatagram(coalescePackets(parts), { shortDcidLength: 8 });
    expect(split.error).toBeUndefined();
    expect(split.packets.map((p) => p.type)).toEqual(['initial', 'handshake', '1rtt']);
    expect(split.packets.map((p) => p.bytes.length)).toEqual(parts.map((p) => p.length));
  });

  it('garbage after a packet is reported without losing the packets before it', async () => {
    const keys = await keysFor(AES_128_GCM_SHA256, 'coalesce');
    const p = await sealPacket(keys, { type: 'handshake', version: QUIC_V1, dcid: new Uint8Array(0), scid: new Uint8Array(0) }, fromHex('01'), { packetNumber: 0 });
    const split = splitDatagram(concat(p, fromHex('c0000000')), { shortDcidLength: 0 });
    expect(split.packets).toHaveLength(1);
    expect(split.error).toBeInstanceOf(InvalidPacketError);
  });

  it('Version Negotiation (§17.2.1) echoes the connection IDs swapped and lists versions', () => {
    const vn = encodeVersionNegotiation(fromHex('0102'), fromHex('0304'), versionTable(DEFAULT_QUIC_VERSIONS).numbers);
    expect(toHex(vn)).toBe('c000000000' + '020304' + '020102' + '00000001' + '6b3343cf');
    const { packet } = parsePacket(vn, 0, { shortDcidLength: 0 });
    expect(packet).toMatchObject({ type: 'version-negotiation', versions: [1, 0x6b3343cf] });
    expect(toHex((packet as { dcid: Uint8Array }).dcid)).toBe('0304');
  });

  it('a long header of an unknown version yields its invariant fields only (RFC 8999 §5.1)', () => {
    const { packet, next } = parsePacket(fromHex('c0' + '1a2a3a4a' + '0201' + '02' + '00' + 'ff'.repeat(30)), 0, { shortDcidLength: 0 });
    expect(packet).toMatchObject({ type: 'unsupported-version', version: 0x1a2a3a4a });
    expect(next).toBe(39);
    expect(isReservedVersion(0x1a2a3a4a)).toBe(true);
    expect(isReservedVersion(1)).toBe(false);
  });

  it.each([
    ['a v1 connection ID of 21 bytes', 'c000000001' + '15' + '00'.repeat(21) + '00' + '00' + '01' + '00'],
    ['a long header with the fixed bit cleared', '8000000001' + '00' + '00' + '00' + '01' + '00'],
    ['a short header with the fixed bit cleared', '00' + '00'.repeat(30)],
    ['a Length beyond the datagram', 'e000000001' + '00' + '00' + '4100' + '00'],
    ['a Retry without a token', 'f000000001' + '00' + '00' + '00'.repeat(16)],
    ['a Version Negotiation with a partial version', '8000000000' + '00' + '00' + '000001'],
  ])('drops %s', (_n, hex) => {
    expect(() => parsePacket(fromHex(hex), 0, { shortDcidLength: 0 })).toThrow(InvalidPacketError);
  });

  it('accepts a cleared fixed bit after advertising grease_quic_bit (RFC 9287)', async () => {
    const keys = await keysFor(AES_128_GCM_SHA256, 'grease');
    const bytes = await sealPacket(keys, { type: '1rtt', dcid: new Uint8Array(0), greaseFixedBit: true }, fromHex('01'), { packetNumber: 3 });
    expect(bytes[0]! & 0x40).toBe(0);
    expect(() => parsePacket(bytes, 0, { shortDcidLength: 0 })).toThrow(InvalidPacketError);
    const { packet } = parsePacket(bytes, 0, { shortDcidLength: 0, allowZeroFixedBit: true });
    expect(await openPacket(keys, packet as ProtectedPacket, 2)).not.toBeNull();
  });

  it('non-zero reserved bits in an authentic packet are a PROTOCOL_VIOLATION (§17.2, §17.3.1)', async () => {
    const keys = await keysFor(AES_128_GCM_SHA256, 'reserved');
    const h = { type: '1rtt', dcid: new Uint8Array(0) } as const;
    const payload = fromHex('01');
    const good = await sealPacket(keys, h, payload, { packetNumber: 1, pnLength: 1 });
    // Unprotect, set a reserved bit, and protect again with the same keys via the AEAD directly.
    const { packet } = parsePacket(good, 0, { shortDcidLength: 0 });
    const opened = await openPacket(keys, packet as ProtectedPacket, 0);
    expect(opened).not.toBeNull();
    const header = good.slice(0, 2);
    header[0] = header[0]! | 0x08;
    const sealed = await keys.packet.aead.seal(packetNonce(keys.packet.iv, 1), header, opened!.payload);
    const bad = concat(header, sealed);
    const mask = await keys.header.mask(bad.subarray(1 + 4, 1 + 20));
    bad[0] = bad[0]! ^ (mask[0]! & 0x1f);
    bad[1] = bad[1]! ^ mask[1]!;
    const parsed = parsePacket(bad, 0, { shortDcidLength: 0 }).packet as ProtectedPacket;
    await expect(openPacket(keys, parsed, 0)).rejects.toSatisfy(
      (e: unknown) => e instanceof QuicTransportError && e.code === TransportErrorCode.PROTOCOL_VIOLATION);
  });
});
