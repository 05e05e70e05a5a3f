/**
 * QuicConnection runs its asynchronous calls one after another, in call order
 * (as TlsConnection does): a transport that hands over a burst of datagrams
 * without awaiting each gets the very result of awaiting each, so correctness
 * does not hang on the caller's promise chain.
 */
import { describe, expect, it } from 'vitest';
import { toHex } from '../../src/bytes.js';
import { QuicConnection, type QuicServerOptions } from '../../src/quic/connection/connection.js';
import { clock, pinnedKeyVerifier, seededProvider, testKey } from '../helpers/tls-pair.js';

const T0 = 1_000_000;

/** A client and the server's whole first flight (several datagrams: an ML-DSA-65 certificate and signature). */
async function firstFlight(seed: string) {
  const provider = seededProvider(seed);
  const key = await testKey(provider, 'ml-dsa-65');
  const so: QuicServerOptions = { tls: { provider, now: clock, certificate: { chain: [key.publicKey], ...key }, alpnProtocols: ['s'] } };
  const client = await QuicConnection.connect({ tls: { provider, now: clock, serverName: 's', verifier: pinnedKeyVerifier(key), alpnProtocols: ['s'] } }, T0);
  const initials: Uint8Array[] = [];
  for (let t = await client.pollTransmit(T0); t; t = await client.pollTransmit(T0)) initials.push(t.data);
  const server = await QuicConnection.accept(so, initials[0] as Uint8Array, T0);
  for (const d of initials.slice(1)) await server.handleDatagram(d, T0);
  const flight: Uint8Array[] = [];
  for (let t = await server.pollTransmit(T0); t; t = await server.pollTransmit(T0)) flight.push(t.data);
  return { client, flight };
}

/** What the client does next: the datagrams it sends (hex) and whether its handshake completed. */
async function outcome(client: QuicConnection): Promise<{ complete: boolean; sent: string[]; error: string | undefined }> {
  const sent: string[] = [];
  for (let t = await client.pollTransmit(T0 + 1); t; t = await client.pollTransmit(T0 + 1)) sent.push(toHex(t.data));
  return { complete: client.isHandshakeComplete, sent, error: client.error?.message };
}

describe('QuicConnection serialises its own asynchronous calls', () => {
  it('the server flight handed over without awaiting gives the same result as awaiting each datagram', async () => {
    const awaited = await firstFlight('serial');
    expect(awaited.flight.length).toBeGreaterThan(2);
    for (const d of awaited.flight) await awaited.client.handleDatagram(d, T0 + 1);
    const expected = await outcome(awaited.client);
    expect(expected.complete).toBe(true);

    const burst = await firstFlight('serial');
    // Every call made at once, and a pollTransmit queued behind them.
    const calls = burst.flight.map((d) => burst.client.handleDatagram(d, T0 + 1));
    const polled = burst.client.pollTransmit(T0 + 1);
    await Promise.all(calls);
    const first = await polled;
    const rest = await outcome(burst.client);
    expect({ ...rest, sent: [toHex(first?.data ?? new Uint8Array(0)), ...rest.sent] }).toEqual(expected);
  });
});
