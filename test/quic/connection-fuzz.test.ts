/**
 * Bad input never escapes a QuicConnection as an exception: random datagrams,
 * and real packets with bytes flipped, are dropped (RFC 9000 §12.2: packets that
 * fail to parse or authenticate are discarded) or close the connection with a
 * transport error.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { QuicConnection, type QuicServerOptions } from '../../src/quic/connection/connection.js';
import { QuicTransportError } from '../../src/quic/errors.js';
import { clock, pinnedKeyVerifier, seededProvider, testKey } from '../helpers/tls-pair.js';
import { seeded } from '../helpers/fc.js';

async function pair() {
  const provider = seededProvider('quic-fuzz');
  const key = await testKey(provider, 'ed25519');
  const so: QuicServerOptions = { tls: { provider, now: clock, certificate: { chain: [key.publicKey], ...key }, alpnProtocols: ['f'] } };
  const client = await QuicConnection.connect({ tls: { provider, now: clock, serverName: 'f', verifier: pinnedKeyVerifier(key), alpnProtocols: ['f'] } }, 0);
  const first = (await client.pollTransmit(0))?.data;
  if (!first) throw new Error('no Initial');
  const server = await QuicConnection.accept(so, first, 0);
  const flight: Uint8Array[] = [];
  for (let d = (await server.pollTransmit(1))?.data; d; d = (await server.pollTransmit(1))?.data) flight.push(d);
  return { client, server, first, flight };
}

function cleanlyHandled(c: QuicConnection): void {
  if (c.error) expect(c.error).toBeInstanceOf(QuicTransportError);
}

describe('QUIC connections and hostile datagrams', () => {
  it('random datagrams to a server mid-handshake', async () => {
    const { server } = await pair();
    await fc.assert(fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 1500 }), async (d) => {
      await server.handleDatagram(d, 2);
      cleanlyHandled(server);
    }), seeded(79132, { numRuns: 300 }));
  });

  it('the server flight with any byte flipped, to the client', async () => {
    await fc.assert(fc.asyncProperty(fc.nat(), fc.integer({ min: 1, max: 255 }), async (pos, xor) => {
      const { client, flight } = await pair();
      const all = flight.map((d) => d.slice());
      const target = all[pos % all.length] as Uint8Array;
      const i = Math.floor(pos / all.length) % target.length;
      target[i] = (target[i] as number) ^ xor;
      for (const d of all) await client.handleDatagram(d, 2);
      cleanlyHandled(client);
      // Whatever happened, the client can still be polled.
      (await client.pollTransmit(3))?.data;
      client.pollTimeout();
    }), seeded(2247, { numRuns: 40 }));
  });

  it('an Initial that is not a valid first packet is refused by accept() with a typed error', async () => {
    await fc.assert(fc.asyncProperty(fc.uint8Array({ minLength: 1200, maxLength: 1300 }), async (d) => {
      const provider = seededProvider('accept-fuzz');
      const key = await testKey(provider, 'ed25519');
      await QuicConnection.accept({ tls: { provider, now: clock, certificate: { chain: [key.publicKey], ...key }, alpnProtocols: ['f'] } }, d, 0).then(
        (s) => cleanlyHandled(s),
        (e: unknown) => expect((e as Error).name).toMatch(/InvalidPacketError|DecodeError/),
      );
    }), seeded(24460, { numRuns: 100 }));
  });
});
