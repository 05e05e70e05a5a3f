/** RFC 9001 §6 key update: "quic ku" generations, the key-phase bit, and keeping the previous keys for reordered packets. */
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../src/bytes.js';
import { createNobleProvider } from '../../src/pq/noble/index.js';
import { hashLength } from '../../src/pq/ids.js';
import { seededRandom } from '../../src/testing/index.js';
import {
  AES_128_GCM_SHA256, AES_256_GCM_SHA384, CHACHA20_POLY1305_SHA256, OneRttKeys, QUIC_V1, QUIC_V2, parsePacket,
  type ProtectedPacket, type QuicCipherSuite, type QuicVersion,
} from '../../src/quic/index.js';

const provider = createNobleProvider({ random: seededRandom('quic key update') });
const dcid = fromHex('0011223344556677');

async function endpoints(version: QuicVersion, suite: QuicCipherSuite): Promise<{ client: OneRttKeys; server: OneRttKeys }> {
  const c = seededRandom('client secret')(hashLength(suite.hash));
  const s = seededRandom('server secret')(hashLength(suite.hash));
  return {
    client: await OneRttKeys.create(provider, version, suite, c, s),
    server: await OneRttKeys.create(provider, version, suite, s, c),
  };
}
const parse = (b: Uint8Array): ProtectedPacket => parsePacket(b, 0, { shortDcidLength: 8 }).packet as ProtectedPacket;
const send = (k: OneRttKeys, pn: number, body = 'abcd'): Promise<Uint8Array> =>
  k.seal({ type: '1rtt', dcid }, fromHex(body), { packetNumber: pn, pnLength: 4 });

describe.each([
  ['v1 AES-128-GCM', QUIC_V1, AES_128_GCM_SHA256], ['v1 AES-256-GCM', QUIC_V1, AES_256_GCM_SHA384],
  ['v2 ChaCha20-Poly1305', QUIC_V2, CHACHA20_POLY1305_SHA256],
] as const)('key update, %s', (_n, version, suite) => {
  it('a peer-initiated update is followed: the key phase flips and both directions move on (§6.2)', async () => {
    const { client, server } = await endpoints(version, suite);
    expect(client.keyPhase).toBe(0);
    const p0 = await server.open(parse(await send(client, 0)), -1);
    expect(p0).toMatchObject({ packetNumber: 0, keyPhase: 0, peerInitiatedKeyUpdate: false });

    await client.initiateKeyUpdate();
    expect(client.keyPhase).toBe(1);
    const p1 = await server.open(parse(await send(client, 1)), 0);
    expect(p1).toMatchObject({ packetNumber: 1, keyPhase: 1, peerInitiatedKeyUpdate: true });
    expect(server.keyPhase).toBe(1);
    expect(server.updates).toBe(1);

    // The server now sends with the new keys, which the client already has.
    const reply = await client.open(parse(await send(server, 0)), -1);
    expect(reply).toMatchObject({ keyPhase: 1, peerInitiatedKeyUpdate: false });
    expect(client.updates).toBe(1);
  });

  it('a reordered packet from before the update still opens with the previous keys (§6.5)', async () => {
    const { client, server } = await endpoints(version, suite);
    const late = await send(client, 5);
    const lateAgain = late.slice(); // opening unmasks the header in place
    await client.initiateKeyUpdate();
    expect(await server.open(parse(await send(client, 6)), 4)).toMatchObject({ peerInitiatedKeyUpdate: true });
    const opened = await server.open(parse(late), 6);
    expect(opened).toMatchObject({ packetNumber: 5, keyPhase: 0, peerInitiatedKeyUpdate: false });
    expect(server.keyPhase).toBe(1);
    server.discardPreviousKeys();
    expect(server.hasPreviousKeys).toBe(false);
    expect(await server.open(parse(lateAgain), 6)).toBeNull();
  });

  it('updates chain: each generation derives from the last with "quic ku", and the bit alternates', async () => {
    const { client, server } = await endpoints(version, suite);
    let pn = 0;
    for (let gen = 1; gen <= 4; gen++) {
      await client.initiateKeyUpdate();
      const opened = await server.open(parse(await send(client, pn)), pn - 1);
      expect(opened).toMatchObject({ packetNumber: pn, keyPhase: gen % 2, peerInitiatedKeyUpdate: true });
      pn++;
    }
    expect(server.updates).toBe(4);
  });

  it('a packet with the other phase that fails authentication changes nothing', async () => {
    const { client, server } = await endpoints(version, suite);
    await client.initiateKeyUpdate();
    const bytes = await send(client, 3);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 1;
    const before = toHex(bytes);
    expect(await server.open(parse(bytes), 2)).toBeNull();
    expect(toHex(bytes)).toBe(before);
    expect(server.keyPhase).toBe(0);
    expect(server.updates).toBe(0);
  });
});
