/**
 * RFC 9001 Appendix A and RFC 9369 Appendix A, byte for byte in both
 * directions: Initial key derivation (A.1), the client's and server's Initial
 * packets (A.2, A.3), the Retry integrity tag (A.4) and a ChaCha20-Poly1305
 * short-header packet (A.5).
 */
import { describe, expect, it } from 'vitest';
import { concat, fromHex, toHex } from '../../src/bytes.js';
import { createNobleProvider } from '../../src/pq/noble/index.js';
import { seededRandom } from '../../src/testing/index.js';
import {
  CHACHA20_POLY1305_SHA256, QUIC_V1, QUIC_V2, decodeFrames, deriveDirectionalKeys, encodeFrames, encodeRetry,
  initialKeys, initialSecrets, nextTrafficSecret, openPacket, packetNonce, parsePacket, sealPacket, verifyRetry,
  type ProtectedPacket, type QuicVersion, type RetryPacket,
} from '../../src/quic/index.js';
import { hkdfExpandLabel, hkdfLabel } from '../../src/tls13/hkdf-label.js';
import { loadAppendixA } from './rfc-vectors.js';

const provider = createNobleProvider({ random: seededRandom('quic vectors') });
const EMPTY = new Uint8Array(0);

function parseProtected(bytes: Uint8Array, shortDcidLength = 0): ProtectedPacket {
  const { packet, next } = parsePacket(bytes, 0, { shortDcidLength });
  expect(next).toBe(bytes.length);
  if (packet.type === 'retry' || packet.type === 'version-negotiation' || packet.type === 'unsupported-version') {
    throw new Error(`expected a protected packet, got ${packet.type}`);
  }
  return packet;
}

const cases: [string, 'rfc9001' | 'rfc9369', QuicVersion][] = [
  ['RFC 9001 (QUIC v1)', 'rfc9001', QUIC_V1],
  ['RFC 9369 (QUIC v2)', 'rfc9369', QUIC_V2],
];

describe.each(cases)('%s Appendix A', (_name, rfc, version) => {
  const v = loadAppendixA(rfc);
  const dcid = fromHex(v.dcid);
  const serverCid = fromHex('f067a5502a4262b5');

  describe('A.1 keys', () => {
    it('HkdfLabel encodings of the labels', () => {
      expect(toHex(hkdfLabel('client in', EMPTY, 32))).toBe(v.keys.hkdfLabels.clientIn);
      expect(toHex(hkdfLabel('server in', EMPTY, 32))).toBe(v.keys.hkdfLabels.serverIn);
      expect(toHex(hkdfLabel(version.labels.key, EMPTY, 16))).toBe(v.keys.hkdfLabels.key);
      expect(toHex(hkdfLabel(version.labels.iv, EMPTY, 12))).toBe(v.keys.hkdfLabels.iv);
      expect(toHex(hkdfLabel(version.labels.hp, EMPTY, 16))).toBe(v.keys.hkdfLabels.hp);
    });

    it('initial_secret and the client and server Initial secrets', async () => {
      const initial = await provider.hkdfExtract('SHA-256', version.initialSalt, dcid);
      expect(toHex(initial)).toBe(v.keys.initialSecret);
      const s = await initialSecrets(provider, version, dcid);
      expect(toHex(s.client)).toBe(v.keys.client.secret);
      expect(toHex(s.server)).toBe(v.keys.server.secret);
    });

    it('key, iv and hp of each side', async () => {
      for (const side of ['client', 'server'] as const) {
        const secret = fromHex(v.keys[side].secret);
        const label = (l: string, n: number): Promise<string> =>
          hkdfExpandLabel(provider, 'SHA-256', secret, l, EMPTY, n).then(toHex);
        expect(await label(version.labels.key, 16)).toBe(v.keys[side].key);
        expect(await label(version.labels.iv, 12)).toBe(v.keys[side].iv);
        expect(await label(version.labels.hp, 16)).toBe(v.keys[side].hp);
        const keys = (await initialKeys(provider, version, dcid))[side];
        expect(toHex(keys.packet.iv)).toBe(v.keys[side].iv);
      }
    });
  });

  describe('A.2 client Initial', () => {
    const c = v.clientInitial;
    const payload = new Uint8Array(c.payloadLength);
    payload.set(fromHex(c.cryptoFrame));

    it('header protection mask from the sample', async () => {
      const keys = await initialKeys(provider, version, dcid);
      expect(toHex(await keys.client.header.mask(fromHex(c.sample)))).toBe(c.mask);
    });

    it('protects to the exact packet', async () => {
      const keys = await initialKeys(provider, version, dcid);
      const packet = await sealPacket(keys.client, { type: 'initial', version, dcid, scid: EMPTY }, payload,
        { packetNumber: c.packetNumber, pnLength: 4 });
      expect(packet.length).toBe(1200);
      expect(toHex(packet.subarray(0, c.protectedHeader.length / 2))).toBe(c.protectedHeader);
      expect(toHex(packet)).toBe(c.packet);
    });

    it('unprotects to the exact header and payload, and the payload decodes to CRYPTO + PADDING', async () => {
      const keys = await initialKeys(provider, version, dcid);
      const bytes = fromHex(c.packet);
      const parsed = parseProtected(bytes);
      expect(parsed.type).toBe('initial');
      expect(parsed.version).toBe(version);
      expect(toHex(parsed.dcid)).toBe(v.dcid);
      const opened = await openPacket(keys.client, parsed, -1);
      expect(opened?.packetNumber).toBe(c.packetNumber);
      expect(toHex(opened!.payload)).toBe(toHex(payload));
      expect(toHex(bytes.subarray(0, c.header.length / 2))).toBe(c.header);
      const frames = decodeFrames(opened!.payload, 'initial');
      expect(frames.map((f) => f.type)).toEqual(['crypto', 'padding']);
      expect(encodeFrames(frames)).toEqual(payload);
    });

    it('the server cannot open it with its own keys', async () => {
      const keys = await initialKeys(provider, version, dcid);
      const bytes = fromHex(c.packet);
      expect(await openPacket(keys.server, parseProtected(bytes), -1)).toBeNull();
      expect(toHex(bytes)).toBe(c.packet); // the failed attempt left the bytes as they were
    });
  });

  describe('A.3 server Initial', () => {
    const s = v.serverInitial;
    const payload = fromHex(s.payload);
    const header = { type: 'initial', version, dcid: EMPTY, scid: serverCid } as const;

    it('protects to the exact packet', async () => {
      const keys = await initialKeys(provider, version, dcid);
      expect(toHex(await keys.server.header.mask(fromHex(s.sample)))).toBe(s.mask);
      const packet = await sealPacket(keys.server, header, payload, { packetNumber: s.packetNumber, pnLength: 2 });
      expect(toHex(packet)).toBe(s.packet);
    });

    it('unprotects to the exact header and payload, which decodes to ACK + CRYPTO', async () => {
      const keys = await initialKeys(provider, version, dcid);
      const bytes = fromHex(s.packet);
      const opened = await openPacket(keys.server, parseProtected(bytes), 0);
      expect(opened?.packetNumber).toBe(s.packetNumber);
      expect(toHex(opened!.payload)).toBe(s.payload);
      expect(toHex(bytes.subarray(0, s.header.length / 2))).toBe(s.header);
      const frames = decodeFrames(opened!.payload, 'initial');
      expect(frames[0]).toEqual({ type: 'ack', ackDelay: 0, ranges: [{ smallest: 0, largest: 0 }] });
      expect(frames[1]?.type).toBe('crypto');
      expect(toHex(encodeFrames(frames))).toBe(s.payload);
    });

    it('both Initial packets coalesce into one datagram and split back', async () => {
      const datagram = concat(fromHex(s.packet), fromHex(v.clientInitial.packet));
      const first = parsePacket(datagram, 0, { shortDcidLength: 0 });
      expect(first.next).toBe(s.packet.length / 2);
      const second = parsePacket(datagram, first.next, { shortDcidLength: 0 });
      expect(second.next).toBe(datagram.length);
    });
  });

  describe('A.4 Retry', () => {
    const r = v.retry;
    const odcid = fromHex(r.originalDcid);

    it('generates the exact Retry packet and integrity tag', async () => {
      const bytes = fromHex(r.packet);
      const retry = await encodeRetry(provider, {
        version, dcid: EMPTY, scid: serverCid, token: new TextEncoder().encode('token'), unused: bytes[0]! & 0x0f,
      }, odcid);
      expect(toHex(retry)).toBe(r.packet);
    });

    it('parses and verifies it, and rejects it for any other original DCID', async () => {
      const { packet } = parsePacket(fromHex(r.packet), 0, { shortDcidLength: 0 });
      expect(packet.type).toBe('retry');
      const retry = packet as RetryPacket;
      expect(retry.version).toBe(version);
      expect(new TextDecoder().decode(retry.token)).toBe('token');
      expect(toHex(retry.scid)).toBe('f067a5502a4262b5');
      expect(await verifyRetry(provider, retry, odcid)).toBe(true);
      const other = odcid.slice();
      other[7] = other[7]! ^ 1;
      expect(await verifyRetry(provider, retry, other)).toBe(false);
    });
  });

  describe('A.5 ChaCha20-Poly1305 short header', () => {
    const x = v.chacha20ShortHeader;
    const secret = fromHex(x.secret);

    it('key, iv, hp and ku', async () => {
      const h = (l: string, n: number): Promise<string> => hkdfExpandLabel(provider, 'SHA-256', secret, l, EMPTY, n).then(toHex);
      expect(await h(version.labels.key, 32)).toBe(x.key);
      expect(await h(version.labels.iv, 12)).toBe(x.iv);
      expect(await h(version.labels.hp, 32)).toBe(x.hp);
      expect(toHex(await nextTrafficSecret(provider, version, CHACHA20_POLY1305_SHA256, secret))).toBe(x.ku);
    });

    it('nonce, mask and the 21-byte packet', async () => {
      const keys = await deriveDirectionalKeys(provider, version, CHACHA20_POLY1305_SHA256, secret);
      expect(toHex(packetNonce(keys.packet.iv, x.packetNumber))).toBe(x.nonce);
      expect(toHex(await keys.header.mask(fromHex(x.sample)))).toBe(x.mask);
      const packet = await sealPacket(keys, { type: '1rtt', dcid: EMPTY }, fromHex(x.payload),
        { packetNumber: x.packetNumber, pnLength: 3 });
      expect(toHex(packet)).toBe(x.packet);
      expect(toHex(packet.subarray(4))).toBe(x.ciphertext);
    });

    it('unprotects to PING with the full packet number', async () => {
      const keys = await deriveDirectionalKeys(provider, version, CHACHA20_POLY1305_SHA256, secret);
      const bytes = fromHex(x.packet);
      const opened = await openPacket(keys, parseProtected(bytes), x.packetNumber - 1);
      expect(opened).toEqual({ packetNumber: x.packetNumber, payload: fromHex(x.payload), keyPhase: 0, spin: false });
      expect(toHex(bytes.subarray(0, 4))).toBe(x.unprotectedHeader);
      expect(decodeFrames(opened!.payload, '1rtt')).toEqual([{ type: 'ping' }]);
    });
  });
});
