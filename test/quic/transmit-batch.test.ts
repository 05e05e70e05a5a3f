/**
 * `pollTransmits(now, max)` on the endpoint and the connection: the UDP
 * adapter asks for datagrams a few at a time rather than one call each, and
 * must get exactly what one call per datagram would have given (RFC 9000 is
 * silent on how a transport drains its sender; the wire must not change).
 */
import { describe, expect, it } from 'vitest';
import type { CryptoProvider } from '../../src/pq/provider.js';
import { QuicConnection, type QuicServerOptions } from '../../src/quic/connection/connection.js';
import type { Transmit } from '../../src/quic/connection/path.js';
import type { QuicEndpoint } from '../../src/quic/endpoint.js';
import { promisesOnly } from '../helpers/promises-only.js';
import { QuicSim } from '../helpers/quic-sim.js';
import { clock, pinnedKeyVerifier, seededProvider, testKey } from '../helpers/tls-pair.js';


/** A confirmed connection on the simulator whose server has 60 000 bytes queued on a stream of its own and two more streams' worth. */
async function loaded(seed: string, wrap: (p: CryptoProvider) => CryptoProvider = (p) => p): Promise<{ sim: QuicSim; server: QuicEndpoint; now: number }> {
  const provider = wrap(seededProvider(seed));
  const key = await testKey(provider, 'ed25519');
  const serverOptions: QuicServerOptions = { tls: { provider, now: clock, certificate: { chain: [key.publicKey], ...key }, alpnProtocols: ['t'] } };
  const client = await QuicConnection.connect({ tls: { provider, now: clock, serverName: 'quic.test', verifier: pinnedKeyVerifier(key), alpnProtocols: ['t'] } }, 1_000_000);
  const sim = new QuicSim(client, serverOptions, { seed });
  await sim.run(() => client.isHandshakeConfirmed && sim.server?.isHandshakeConfirmed === true);
  const s = sim.server as QuicConnection;
  for (let i = 0; i < 3; i++) s.writeStream(s.openStream(true), new Uint8Array(20_000).fill(i + 1), true);
  const { server } = await sim.endpointPair();
  return { sim, server, now: sim.now };
}

const wire = (ts: readonly Transmit[]): string[] => ts.map((t) => `${t.remote} ${Buffer.from(t.data).toString('hex')}`);

describe('pollTransmits: a run of datagrams in one call', () => {
  it('gives the very datagrams one pollTransmit call each gives, in order, full batches until the sender has nothing left', async () => {
    const one = await loaded('batch');
    const single: Transmit[] = [];
    for (let t = await one.server.pollTransmit(one.now); t; t = await one.server.pollTransmit(one.now)) single.push(t);

    const two = await loaded('batch');
    const batches: Transmit[][] = [];
    for (let ts = await two.server.pollTransmits(two.now, 7); ts.length; ts = await two.server.pollTransmits(two.now, 7)) batches.push(ts);

    // The congestion window stops the sender well before 60 000 bytes: more than one batch, and a partial last one.
    expect(single.length).toBeGreaterThan(7);
    expect(wire(batches.flat())).toEqual(wire(single));
    for (const b of batches.slice(0, -1)) expect(b).toHaveLength(7);
    expect(batches.at(-1)!.length).toBeLessThanOrEqual(7);
  });

  it('on the connection itself: the same datagrams as pollTransmit, and nothing more once it is drained', async () => {
    const one = await loaded('batch-conn');
    const c1 = one.sim.server as QuicConnection;
    const single: Transmit[] = [];
    for (let t = await c1.pollTransmit(one.now); t; t = await c1.pollTransmit(one.now)) single.push(t);

    const two = await loaded('batch-conn');
    const c2 = two.sim.server as QuicConnection;
    const batched = [...await c2.pollTransmits(two.now, 5), ...await c2.pollTransmits(two.now, 1000)];
    expect(wire(batched)).toEqual(wire(single));
    expect(await c2.pollTransmits(two.now, 5)).toEqual([]);
  });
});

describe('datagrams sealed with keys that only have promises', () => {
  it('are the very datagrams synchronous keys give, coalesced handshake datagrams and a flight of stream data included', async () => {
    // The packets of a datagram are sealed one after the other on either path (recovery sees their numbers in order).
    const sync = await loaded('promise-keys');
    const promised = await loaded('promise-keys', promisesOnly);
    const all = (sim: QuicSim): string[] => [...sim.sent.toServer, ...sim.sent.toClient].map((d) => Buffer.from(d.data).toString('hex'));
    expect(all(promised.sim)).toEqual(all(sync.sim));
    // The handshake coalesced packets of two spaces in one datagram: that path was taken.
    expect(promised.sim.sent.toClient.some((d) => (d.data[0] as number) & 0x80 && d.data.length >= 1200)).toBe(true);
    const flight = async (l: typeof sync): Promise<Transmit[]> => {
      const out: Transmit[] = [];
      for (let ts = await l.server.pollTransmits(l.now, 3); ts.length; ts = await l.server.pollTransmits(l.now, 3)) out.push(...ts);
      return out;
    };
    const a = await flight(sync);
    expect(a.length).toBeGreaterThan(3);
    expect(wire(await flight(promised))).toEqual(wire(a));
  });
});
