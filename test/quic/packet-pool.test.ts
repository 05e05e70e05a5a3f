/**
 * Large packets (a DPLPMTUD path MTU past 8 KiB, RFC 9000 §14.3) are built in
 * buffers a transport may give back once the datagram left
 * (`releaseDatagram`): a later packet is then built in the same memory. What
 * is reused must never show through: every byte of the new packet is written
 * again, the header-protection sample's PADDING included (RFC 9001 §5.4.2),
 * and no buffer is ever handed to two packets at once.
 */
import { describe, expect, it } from 'vitest';
import { toHex } from '../../src/bytes.js';
import { createNodeCryptoProvider } from '../../src/node/index.js';
import { seededRandom } from '../../src/testing/index.js';
import { AES_128_GCM_SHA256, QUIC_V1, deriveDirectionalKeys, parsePacket, type DirectionalKeys, type OutgoingHeader } from '../../src/quic/index.js';
import { canSealSync, openPacketSync, releaseDatagram, sealPacketSync } from '../../src/quic/protection.js';

const provider = createNodeCryptoProvider({ random: seededRandom('packet pool') });
const dcid = seededRandom('packet pool dcid')(8);
const oneRtt: OutgoingHeader = { type: '1rtt', dcid };

async function keys(): Promise<DirectionalKeys> {
  const k = await deriveDirectionalKeys(provider, QUIC_V1, AES_128_GCM_SHA256, seededRandom('packet pool secret')(32));
  expect(canSealSync(k)).toBe(true);
  return k;
}

function seal(k: DirectionalKeys, header: OutgoingHeader, payload: Uint8Array, pn: number): Uint8Array {
  return sealPacketSync(k, header, payload.length, (out, offset) => out.set(payload, offset), { packetNumber: pn, pnLength: 1 });
}

function open(k: DirectionalKeys, bytes: Uint8Array): Uint8Array | undefined {
  const { packet } = parsePacket(bytes.slice(), 0, { shortDcidLength: dcid.length });
  if (!('pnOffset' in packet)) throw new Error('not a protected packet');
  return openPacketSync(k, packet, -1)?.payload;
}

const big = (fill: number): Uint8Array => new Uint8Array(20_000).fill(fill);

describe('large packets in buffers given back with releaseDatagram', () => {
  it('a released datagram\'s buffer carries the next large packet, rewritten byte for byte', async () => {
    const k = await keys();
    const first = seal(k, oneRtt, big(1), 5);
    const expected = toHex(first);
    // What the socket leaves behind is anything at all: the next packet must not depend on it.
    first.fill(0xff);
    releaseDatagram(first);
    const second = seal(k, oneRtt, big(1), 5);
    expect(second.buffer).toBe(first.buffer);
    expect(toHex(second)).toBe(expected);
    expect(open(k, second)).toEqual(big(1));
  });

  it('RFC 9001 §5.4.2: the PADDING a short payload gets for the sample is zero bytes in a reused buffer too', async () => {
    const k = await keys();
    // A long Initial token makes a packet of a single payload byte large enough for a buffer of its own.
    const initial: OutgoingHeader = { type: 'initial', version: QUIC_V1, dcid, scid: dcid, token: new Uint8Array(9_000).fill(7) };
    const first = seal(k, initial, Uint8Array.of(1), 0);
    first.fill(0xff);
    releaseDatagram(first);
    const second = seal(k, initial, Uint8Array.of(1), 0);
    expect(second.buffer).toBe(first.buffer);
    // pnLength 1: the payload is padded to 3 bytes so that the sample starts 4 bytes after the packet number.
    expect(open(k, second)).toEqual(Uint8Array.of(1, 0, 0));
  });

  it('a datagram released twice is reused once: two later packets never share its memory', async () => {
    const k = await keys();
    const d = seal(k, oneRtt, big(2), 1);
    releaseDatagram(d);
    releaseDatagram(d);
    const a = seal(k, oneRtt, big(3), 2);
    const b = seal(k, oneRtt, big(4), 3);
    expect(a.buffer).toBe(d.buffer);
    expect(b.buffer).not.toBe(d.buffer);
    expect(open(k, a)).toEqual(big(3));
    expect(open(k, b)).toEqual(big(4));
  });

  it('a part of a datagram, a small packet cut from a shared slab, or foreign bytes are not taken back', async () => {
    const k = await keys();
    const d = seal(k, oneRtt, big(5), 1);
    releaseDatagram(d.subarray(1));
    expect(seal(k, oneRtt, big(5), 2).buffer).not.toBe(d.buffer);

    const small = seal(k, oneRtt, new Uint8Array(100).fill(6), 3);
    const copy = small.slice();
    releaseDatagram(small);
    const next = seal(k, oneRtt, new Uint8Array(100).fill(8), 4);
    expect(next.buffer !== small.buffer || next.byteOffset >= small.byteOffset + small.length).toBe(true);
    expect(small).toEqual(copy);

    const foreign = new Uint8Array(30_000);
    releaseDatagram(foreign);
    expect(seal(k, oneRtt, big(9), 5).buffer).not.toBe(foreign.buffer);
  });

  it('a buffer too small for the next packet is passed over, and kept for one it fits', async () => {
    const k = await keys();
    const small = seal(k, oneRtt, new Uint8Array(9_000).fill(1), 1);
    releaseDatagram(small);
    const large = seal(k, oneRtt, big(2), 2);
    expect(large.buffer).not.toBe(small.buffer);
    expect(seal(k, oneRtt, new Uint8Array(9_000).fill(3), 3).buffer).toBe(small.buffer);
  });
});
