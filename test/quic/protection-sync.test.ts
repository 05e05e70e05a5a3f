/**
 * RFC 9001 §5.3–§5.4 packet protection on its two paths: without a promise
 * (`sealPacketSync`/`openPacketSync`, for a provider whose AEAD has `sealInto`
 * and `openSync` and whose header protection has `maskSync`) and through the
 * promises (a provider without them). Both must produce the RFC 9001 and
 * RFC 9369 Appendix A packets byte for byte, with the noble and the
 * node:crypto provider, and refuse what §5.5 says to discard.
 */
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../src/bytes.js';
import { ConfigError } from '../../src/errors.js';
import { createNodeCryptoProvider } from '../../src/node/index.js';
import { createNobleProvider } from '../../src/pq/noble/index.js';
import type { CryptoProvider } from '../../src/pq/provider.js';
import { seededRandom } from '../../src/testing/index.js';
import {
  AES_128_GCM_SHA256, CHACHA20_POLY1305_SHA256, OneRttKeys, QUIC_V1, QUIC_V2, deriveDirectionalKeys, initialKeys, openPacket, parsePacket,
  sealPacket, type DirectionalKeys, type OutgoingHeader, type ProtectedPacket, type QuicVersion,
} from '../../src/quic/index.js';
import { canOpenSync, canSealSync, openPacketSync, sealPacketSync } from '../../src/quic/protection.js';
import { promisesOnly } from '../helpers/promises-only.js';
import { loadAppendixA } from './rfc-vectors.js';

const EMPTY = new Uint8Array(0);


const providers: [string, CryptoProvider, boolean][] = [
  ['noble', createNobleProvider({ random: seededRandom('protection sync') }), true],
  ['node:crypto', createNodeCryptoProvider({ random: seededRandom('protection sync') }), true],
  ['promises only', promisesOnly(createNobleProvider({ random: seededRandom('protection sync') })), false],
];

const versions: [string, 'rfc9001' | 'rfc9369', QuicVersion][] = [['v1', 'rfc9001', QUIC_V1], ['v2', 'rfc9369', QUIC_V2]];

function parseProtected(bytes: Uint8Array, shortDcidLength = 0): ProtectedPacket {
  const { packet } = parsePacket(bytes, 0, { shortDcidLength });
  if (!('pnOffset' in packet)) throw new Error(`expected a protected packet, got ${packet.type}`);
  return packet;
}

/** Seals `payload` on the path the keys allow: in place without a promise, or through the promises. */
async function sealEither(keys: DirectionalKeys, header: OutgoingHeader, payload: Uint8Array, pn: number, pnLength: 1 | 2 | 3 | 4): Promise<Uint8Array> {
  if (!canSealSync(keys)) return sealPacket(keys, header, payload, { packetNumber: pn, pnLength });
  return sealPacketSync(keys, header, payload.length, (out, offset) => out.set(payload, offset), { packetNumber: pn, pnLength });
}

describe.each(providers)('%s provider', (_name, provider, synchronous) => {
  describe.each(versions)('Appendix A (%s) on the %s path', (_v, rfc, version) => {
    const v = loadAppendixA(rfc);
    const dcid = fromHex(v.dcid);

    it('keys declare the synchronous path exactly when the provider has it', async () => {
      const keys = await initialKeys(provider, version, dcid);
      expect(canSealSync(keys.client)).toBe(synchronous);
      expect(canOpenSync(keys.client)).toBe(synchronous);
    });

    it('A.2: the client Initial seals to the exact packet and opens back to its payload', async () => {
      const c = v.clientInitial;
      const payload = new Uint8Array(c.payloadLength);
      payload.set(fromHex(c.cryptoFrame));
      const keys = await initialKeys(provider, version, dcid);
      const packet = await sealEither(keys.client, { type: 'initial', version, dcid, scid: EMPTY }, payload, c.packetNumber, 4);
      expect(toHex(packet)).toBe(c.packet);
      expect(toHex(await sealPacket(keys.client, { type: 'initial', version, dcid, scid: EMPTY }, payload, { packetNumber: c.packetNumber, pnLength: 4 })))
        .toBe(c.packet);
      const bytes = fromHex(c.packet);
      const opened = synchronous ? openPacketSync(keys.client, parseProtected(bytes), -1) : await openPacket(keys.client, parseProtected(bytes), -1);
      expect(opened?.packetNumber).toBe(c.packetNumber);
      expect(toHex(opened!.payload)).toBe(toHex(payload));
      expect(toHex(bytes.subarray(0, c.header.length / 2))).toBe(c.header);
    });

    it('A.3: the server Initial seals to the exact packet and opens back to its payload', async () => {
      const s = v.serverInitial;
      const keys = await initialKeys(provider, version, dcid);
      const header = { type: 'initial', version, dcid: EMPTY, scid: fromHex('f067a5502a4262b5') } as const;
      expect(toHex(await sealEither(keys.server, header, fromHex(s.payload), s.packetNumber, 2))).toBe(s.packet);
      const bytes = fromHex(s.packet);
      const opened = synchronous ? openPacketSync(keys.server, parseProtected(bytes), 0) : await openPacket(keys.server, parseProtected(bytes), 0);
      expect(toHex(opened!.payload)).toBe(s.payload);
    });

    it('A.5: the ChaCha20-Poly1305 short-header packet and its mask', async () => {
      const x = v.chacha20ShortHeader;
      const keys = await deriveDirectionalKeys(provider, version, CHACHA20_POLY1305_SHA256, fromHex(x.secret));
      if (synchronous) expect(toHex(keys.header.maskSync!(fromHex(x.sample)))).toBe(x.mask);
      expect(toHex(await sealEither(keys, { type: '1rtt', dcid: EMPTY }, fromHex(x.payload), x.packetNumber, 3))).toBe(x.packet);
      const bytes = fromHex(x.packet);
      const opened = synchronous ? openPacketSync(keys, parseProtected(bytes), x.packetNumber - 1) : await openPacket(keys, parseProtected(bytes), x.packetNumber - 1);
      expect(opened).toEqual({ packetNumber: x.packetNumber, payload: fromHex(x.payload), keyPhase: 0, spin: false });
      expect(toHex(bytes.subarray(0, 4))).toBe(x.unprotectedHeader);
    });
  });

  describe('§5.5: what does not authenticate is discarded, and the bytes are left as they were', () => {
    const dcid = fromHex('8394c8f03e515708');
    const header = { type: '1rtt', dcid } as const;

    async function sealed(): Promise<{ keys: DirectionalKeys; packet: Uint8Array }> {
      const keys = await deriveDirectionalKeys(provider, QUIC_V1, AES_128_GCM_SHA256, seededRandom('forgery')(32));
      return { keys, packet: await sealEither(keys, header, new Uint8Array(40).fill(1), 7, 2) };
    }
    const open = (keys: DirectionalKeys, bytes: Uint8Array) =>
      synchronous ? openPacketSync(keys, parseProtected(bytes, 8), 6) : openPacket(keys, parseProtected(bytes, 8), 6);

    it('a forged tag, a changed ciphertext byte or a changed header byte gives null', async () => {
      const { keys, packet } = await sealed();
      expect((await open(keys, packet.slice()))?.payload).toEqual(new Uint8Array(40).fill(1));
      for (const at of [packet.length - 1, packet.length - 20, 3]) {
        const forged = packet.slice();
        forged[at] = forged[at]! ^ 0x40;
        const before = toHex(forged);
        expect(await open(keys, forged)).toBeNull();
        expect(toHex(forged)).toBe(before);
      }
    });

    it('a packet too short to hold a header-protection sample gives null', async () => {
      const { keys, packet } = await sealed();
      const short = packet.subarray(0, 1 + 8 + 4 + 15);
      const before = toHex(short);
      expect(await open(keys, short)).toBeNull();
      expect(toHex(short)).toBe(before);
    });
  });

  it.runIf(synchronous)('the synchronous operations refuse a short output or sample (a caller bug, not peer input)', async () => {
    const aead = await provider.aead('AES-128-GCM', new Uint8Array(16));
    expect(() => aead.sealInto!(new Uint8Array(12), EMPTY, new Uint8Array(10), new Uint8Array(25))).toThrow(ConfigError);
    const hp = await provider.headerProtection('AES-128-ECB', new Uint8Array(16));
    expect(() => hp.maskSync!(new Uint8Array(15))).toThrow(ConfigError);
    const chacha = await provider.headerProtection('CHACHA20', new Uint8Array(32));
    expect(() => chacha.maskSync!(new Uint8Array(15))).toThrow(ConfigError);
  });

  it.runIf(!synchronous)('keys without synchronous operations refuse the synchronous calls and leave the packet alone', async () => {
    const keys = await deriveDirectionalKeys(provider, QUIC_V1, AES_128_GCM_SHA256, seededRandom('no sync')(32));
    expect(() => sealPacketSync(keys, { type: '1rtt', dcid: EMPTY }, 4, () => undefined, { packetNumber: 0 })).toThrow(ConfigError);
    const packet = await sealPacket(keys, { type: '1rtt', dcid: EMPTY }, new Uint8Array(30), { packetNumber: 0 });
    const before = toHex(packet);
    expect(() => openPacketSync(keys, parseProtected(packet), -1)).toThrow(ConfigError);
    expect(toHex(packet)).toBe(before);
  });

  describe('1-RTT keys (RFC 9001 §6)', () => {
    const dcid = fromHex('0011223344556677');
    const parse = (b: Uint8Array): ProtectedPacket => parseProtected(b, 8);
    async function endpoints(): Promise<{ client: OneRttKeys; server: OneRttKeys }> {
      const [c, s] = [seededRandom('client 1rtt')(32), seededRandom('server 1rtt')(32)];
      return {
        client: await OneRttKeys.create(provider, QUIC_V1, AES_128_GCM_SHA256, c, s),
        server: await OneRttKeys.create(provider, QUIC_V1, AES_128_GCM_SHA256, s, c),
      };
    }
    const body = fromHex('01020304050607');
    const send = (k: OneRttKeys, pn: number): Uint8Array | Promise<Uint8Array> => (k.synchronous
      ? k.sealSync({ type: '1rtt', dcid }, body.length, (out, offset) => out.set(body, offset), { packetNumber: pn, pnLength: 2 })
      : k.seal({ type: '1rtt', dcid }, body, { packetNumber: pn, pnLength: 2 }));

    it('sealSync and seal give the same packet; openSync opens it', async () => {
      const { client, server } = await endpoints();
      expect(client.synchronous).toBe(synchronous);
      const packet = await send(client, 3);
      expect(toHex(packet)).toBe(toHex(await client.seal({ type: '1rtt', dcid }, body, { packetNumber: 3, pnLength: 2 })));
      if (!synchronous) return;
      expect(server.openSync(parse(packet), 2)).toMatchObject({ packetNumber: 3, payload: body, peerInitiatedKeyUpdate: false });
      const forged = (await send(client, 4)).slice();
      forged[forged.length - 1] = forged[forged.length - 1]! ^ 1;
      expect(server.openSync(parse(forged), 3)).toBeNull();
    });

    it.runIf(synchronous)('openSync decrypts over the packet when the AEAD can (openInto): the payload is a view of the datagram; a forgery gives null, header re-masked, tag kept', async () => {
      const { client, server } = await endpoints();
      const inPlace = (await provider.aead('AES-128-GCM', new Uint8Array(16))).openInto !== undefined;
      // A datagram holding a packet after some other bytes: the view must be of this datagram, at the packet's payload.
      const packet = await send(client, 3);
      const datagram = new Uint8Array(5 + packet.length);
      datagram.set(packet, 5);
      const opened = server.openSync(parse(datagram.subarray(5)), 2);
      expect(opened).toMatchObject({ packetNumber: 3, payload: body });
      expect(opened!.payload.buffer === datagram.buffer).toBe(inPlace);
      if (inPlace) expect(opened!.payload.byteOffset).toBe(5 + 1 + dcid.length + 2);

      const forged = (await send(client, 4)).slice();
      forged[forged.length - 1] = forged[forged.length - 1]! ^ 1;
      const before = forged.slice();
      expect(server.openSync(parse(forged), 3)).toBeNull();
      // The header is protected again and the tag (where a Stateless Reset token would be, §10.3.1) untouched.
      expect(toHex(forged.subarray(0, 1 + dcid.length + 2))).toBe(toHex(before.subarray(0, 1 + dcid.length + 2)));
      expect(toHex(forged.subarray(forged.length - 16))).toBe(toHex(before.subarray(before.length - 16)));
    });

    it.runIf(synchronous)('openSync leaves a packet that starts a key update untouched (undefined), for open to take; reordered ones from before it open', async () => {
      const { client, server } = await endpoints();
      const before = await send(client, 5);
      await client.initiateKeyUpdate();
      const update = await send(client, 6);
      const copy = toHex(update);
      expect(server.openSync(parse(update), 4)).toBeUndefined();
      expect(toHex(update)).toBe(copy);
      expect(server.keyPhase).toBe(0);
      expect(await server.open(parse(update), 4)).toMatchObject({ packetNumber: 6, keyPhase: 1, peerInitiatedKeyUpdate: true });
      expect(server.keyPhase).toBe(1);
      // The packet from before the update, arriving late, opens with the previous keys on the synchronous path.
      expect(server.openSync(parse(before), 6)).toMatchObject({ packetNumber: 5, keyPhase: 0, peerInitiatedKeyUpdate: false });
      expect(server.openSync(parse(await send(client, 7)), 6)).toMatchObject({ packetNumber: 7, keyPhase: 1, peerInitiatedKeyUpdate: false });
    });
  });
});

describe('a payload written with holes (STREAM data the AEAD reads from where it lies)', () => {
  // The node provider gathers (sealGather on the FFI keys); noble has no gather, and the holes are copied in first.
  it.each([
    ['node:crypto', createNodeCryptoProvider({ random: seededRandom('holes') }), true],
    ['noble', createNobleProvider({ random: seededRandom('holes') }), false],
  ] as const)('%s: the packet is the one written whole, byte for byte', async (_name, provider, gathers) => {
    const keys = await deriveDirectionalKeys(provider, QUIC_V1, AES_128_GCM_SHA256, seededRandom('holes secret')(32));
    expect(keys.packet.aead.sealGather !== undefined).toBe(gathers);
    const header = { type: '1rtt', dcid: fromHex('8394c8f03e515708') } as const;
    const rnd = seededRandom('holes payload');
    const payload = rnd(5000);
    // Two holes and the bytes around them: [0,10) written, [10,2010) hole, [2010,2020) written, [2020,4990) hole, the rest written.
    const holes = [{ from: 10, to: 2010 }, { from: 2020, to: 4990 }];
    const whole = sealPacketSync(keys, header, payload.length, (out, offset) => out.set(payload, offset), { packetNumber: 9, pnLength: 2 });
    const gathered = sealPacketSync(keys, header, payload.length, (out, offset) => {
      out.set(payload, offset);
      for (const h of holes) out.fill(0xee, offset + h.from, offset + h.to);
      return holes.map((h) => ({ at: offset + h.from, data: payload.slice(h.from, h.to) }));
    }, { packetNumber: 9, pnLength: 2 });
    expect(toHex(gathered)).toBe(toHex(whole));
  });

  it('holes out of order or past the payload are ConfigError', async () => {
    const provider = createNodeCryptoProvider({ random: seededRandom('holes') });
    const keys = await deriveDirectionalKeys(provider, QUIC_V1, AES_128_GCM_SHA256, seededRandom('holes secret')(32));
    const header = { type: '1rtt', dcid: EMPTY } as const;
    const seal = (holes: { at: number; len: number }[]) => () => sealPacketSync(keys, header, 100, (_out, offset) =>
      holes.map((h) => ({ at: offset + h.at, data: new Uint8Array(h.len) })), { packetNumber: 1 });
    expect(seal([{ at: 50, len: 10 }, { at: 20, len: 10 }])).toThrow(ConfigError);
    expect(seal([{ at: 95, len: 10 }])).toThrow(ConfigError);
    expect(seal([{ at: 0, len: 100 }])).not.toThrow();
  });
});
