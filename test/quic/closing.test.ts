/**
 * RFC 9000 §10.2: the closing and draining states. After an immediate close an
 * endpoint keeps only what identifies its packets and makes its
 * CONNECTION_CLOSE (§10.2.1); the one frame of the peer that still matters is
 * the peer's own CONNECTION_CLOSE, which moves it to draining (§10.2.2), where
 * it sends nothing. Both end at the timer set on closing, three PTOs.
 *
 * The peer here is the test, speaking 1-RTT to a server with the keys from the
 * client's key log (test/helpers/quic-attacker.ts): it can send the closing
 * server any frame an authenticated peer could.
 */
import { describe, expect, it } from 'vitest';
import { equalBytes } from '../../src/bytes.js';
import { QuicConnection, type QuicEvent, type QuicServerOptions } from '../../src/quic/connection/connection.js';
import { encodeFrames } from '../../src/quic/frames/encode.js';
import type { Frame } from '../../src/quic/frames/types.js';
import { deriveDirectionalKeys, nextTrafficSecret } from '../../src/quic/keys.js';
import { sealPacket } from '../../src/quic/protection.js';
import { QUIC_V1 } from '../../src/quic/versions.js';
import { established } from '../helpers/quic-attacker.js';
import { QuicSim, SIM_CLIENT_ADDRESS } from '../helpers/quic-sim.js';
import { clock, pinnedKeyVerifier, seededProvider, testKey } from '../helpers/tls-pair.js';

function drain(c: QuicConnection): QuicEvent[] {
  const out: QuicEvent[] = [];
  for (let e = c.poll(); e; e = c.poll()) out.push(e);
  return out;
}

/** Everything an authenticated peer might send on a live connection: data, credit, a new connection ID, a path challenge. */
function busyFrames(i: number): Frame[] {
  return [
    { type: 'stream', streamId: 0, offset: i * 100, data: new Uint8Array(100).fill(i), fin: false, hasLength: true },
    { type: 'max_data', maximum: 10_000_000 + i },
    { type: 'max_stream_data', streamId: 0, maximum: 10_000_000 + i },
    { type: 'max_streams', bidirectional: true, maximum: 1000 + i },
    { type: 'new_connection_id', sequenceNumber: 10 + i, retirePriorTo: 10 + i, connectionId: new Uint8Array(8).fill(0xe0 + i), statelessResetToken: new Uint8Array(16).fill(0xa0 + i) },
    { type: 'path_challenge', data: new Uint8Array(8).fill(0x30 + i) },
    { type: 'ping' },
  ];
}

/** Closes the server with an application error and takes its first CONNECTION_CLOSE. */
async function closeServer(seed: string) {
  const e = await established(seed);
  e.server.close(e.now, 7, 'bye');
  const first = await e.collect();
  expect(first.frames).toMatchObject([{ type: 'connection_close', application: true, errorCode: 7 }]);
  const closed = drain(e.server);
  expect(closed).toMatchObject([{ type: 'closed', local: true, code: 7, application: true }]);
  return { ...e, closeDcid: first.dcids[0] as Uint8Array, until: e.server.pollTimeout() as number };
}

describe('RFC 9000 §10.2.1: in the closing state only the CONNECTION_CLOSE is made', () => {
  it('a peer\'s STREAM, MAX_DATA, NEW_CONNECTION_ID and PATH_CHALLENGE have no effect: no event, no PATH_RESPONSE, no new connection ID; each is answered only by the CONNECTION_CLOSE, after 1, 2, 4, 8 datagrams', async () => {
    const e = await closeServer('closing-frames');
    const answeredAt: number[] = [];
    for (let i = 1; i <= 8; i++) {
      await e.send(busyFrames(i));
      const out = await e.collect();
      // "An endpoint that is closing is not required to process any received frame": nothing reaches the application.
      expect(drain(e.server)).toEqual([]);
      if (out.datagrams.length === 0) continue;
      answeredAt.push(i);
      // One packet with the same CONNECTION_CLOSE, to the connection ID the close used: the peer's
      // NEW_CONNECTION_ID (retiring every earlier one) was not taken up, its PATH_CHALLENGE not answered.
      expect(out.datagrams).toHaveLength(1);
      expect(out.frames).toMatchObject([{ type: 'connection_close', application: true, errorCode: 7 }]);
      expect(out.dcids.every((d) => equalBytes(d, e.closeDcid))).toBe(true);
    }
    // "An endpoint SHOULD limit the rate at which it generates packets in the closing state."
    expect(answeredAt).toEqual([1, 2, 4, 8]);
    // No stream came into being from the peer's data.
    expect(() => e.server.readStream(0)).toThrow(/has not been opened/);
    // The closing state ends at its timer, three PTOs from the close (§10.2), and the connection is gone.
    expect(e.server.pollTimeout()).toBe(e.until);
    await e.server.handleTimeout(e.until - 1);
    expect(e.server.isClosed).toBe(false);
    await e.server.handleTimeout(e.until);
    expect(e.server.isClosed).toBe(true);
    expect(drain(e.server)).toEqual([]);
  });

  it('a peer\'s ACK changes nothing: no loss or congestion state, no RTT sample', async () => {
    const e = await established('closing-acks');
    const id = e.server.openStream(true);
    e.server.writeStream(id, new Uint8Array(4000).fill(1));
    const sent = await e.collect();
    expect(sent.packetNumbers.length).toBeGreaterThan(0);
    e.server.close(e.now, 0, '');
    await e.collect();
    const before = { congestion: e.server.congestion, rtt: e.server.rtt };
    expect(before.congestion.bytesInFlight).toBeGreaterThan(0);
    const largest = Math.max(...sent.packetNumbers);
    const smallest = Math.min(...sent.packetNumbers);
    await e.send([{ type: 'ack', ackDelay: 0, ranges: [{ largest, smallest }] }]);
    expect(e.server.congestion).toEqual(before.congestion);
    expect(e.server.rtt).toEqual(before.rtt);
  });

  it('a peer\'s packet from a new address is discarded: no migration, no answer to it (§10.2.1, §9)', async () => {
    const e = await closeServer('closing-new-address');
    await e.deliver(await e.seal(busyFrames(1)), 'elsewhere:4433');
    expect((await e.collect()).datagrams).toEqual([]);
    // The path in use still gets the answer to the peer's next packet there.
    await e.send([{ type: 'ping' }]);
    const out = await e.collect();
    expect(out.datagrams.map((d) => d.remote)).toEqual([SIM_CLIENT_ADDRESS]);
    expect(out.frames).toMatchObject([{ type: 'connection_close' }]);
  });
});

describe('RFC 9000 §10.2.2: a CONNECTION_CLOSE received in the closing state leads to draining', () => {
  it('nothing more is sent, the application gets no second `closed`, and the draining state ends when the closing state would have', async () => {
    const e = await closeServer('closing-to-draining');
    await e.send([...busyFrames(1), { type: 'connection_close', application: true, errorCode: 9, frameType: 0, reason: new TextEncoder().encode('me too') }]);
    expect((await e.collect()).datagrams).toEqual([]);
    expect(drain(e.server)).toEqual([]);
    // "the draining state ends when the closing state would have ended": the same end time.
    expect(e.server.pollTimeout()).toBe(e.until);
    // "An endpoint in the draining state MUST NOT send any packets", whatever arrives.
    for (let i = 2; i <= 5; i++) {
      await e.send(busyFrames(i));
      expect((await e.collect()).datagrams).toEqual([]);
    }
    expect(drain(e.server)).toEqual([]);
    await e.server.handleTimeout(e.until - 1);
    expect(e.server.isClosed).toBe(false);
    await e.server.handleTimeout(e.until);
    expect(e.server.isClosed).toBe(true);
  });

  it('a CONNECTION_CLOSE sent after the peer updated its keys is read without following the update (§10.2.1: no key update is handled)', async () => {
    const e = await closeServer('closing-key-update');
    // The peer's next key generation (RFC 9001 §6.1), and the flipped key phase.
    const provider = seededProvider('closing-key-update');
    const current = await deriveDirectionalKeys(provider, QUIC_V1, e.suite, e.secrets.client);
    const updated = await deriveDirectionalKeys(provider, QUIC_V1, e.suite, await nextTrafficSecret(provider, QUIC_V1, e.suite, e.secrets.client));
    // Header protection keys do not change with a key update (RFC 9001 §6).
    const next = { ...updated, header: current.header };
    const close: Frame = { type: 'connection_close', application: false, errorCode: 0, frameType: 0, reason: new Uint8Array(0) };
    await e.deliver(await sealPacket(next, { type: '1rtt', dcid: e.server.localCid }, encodeFrames([close]), { packetNumber: 20_000 }, 1));
    expect(e.server.keyPhase).toEqual({ phase: 0, updates: 0 });
    expect((await e.collect()).datagrams).toEqual([]);
    expect(e.server.pollTimeout()).toBe(e.until);
    expect(drain(e.server)).toEqual([]);
  });
});

describe('RFC 9000 §10.3.1: a stateless reset received in the closing state', () => {
  it('moves the connection to draining: nothing more is sent, no second `closed`, the same end time', async () => {
    const e = await closeServer('closing-reset');
    const token = e.server.peerResetTokens()[0];
    if (!token) throw new Error('the client issued no connection ID with a reset token');
    // §10.3: a short-header-looking datagram of unpredictable bits ending in the token.
    const reset = new Uint8Array(40).fill(0x5a);
    reset[0] = 0x40 | 0x1a;
    reset.set(token, reset.length - token.length);
    await e.deliver(reset);
    expect((await e.collect()).datagrams).toEqual([]);
    expect(drain(e.server)).toEqual([]);
    expect(e.server.pollTimeout()).toBe(e.until);
    await e.send([{ type: 'ping' }]);
    expect((await e.collect()).datagrams).toEqual([]);
    await e.server.handleTimeout(e.until);
    expect(e.server.isClosed).toBe(true);
  });
});

describe('RFC 9000 §8.1, §10.2.1: the CONNECTION_CLOSE of a server that has not validated the client\'s address', () => {
  it('keeps to three times what was received, like everything else it sends', async () => {
    const provider = seededProvider('closing-amplification');
    const key = await testKey(provider, 'ml-dsa-65');
    // A chain large enough that the server's first flight fills its 3× allowance.
    const serverOptions: QuicServerOptions = { tls: { provider, now: clock, certificate: { chain: [key.publicKey, new Uint8Array(6000).fill(1)], ...key }, alpnProtocols: ['q'] } };
    const client = await QuicConnection.connect({ tls: { provider, now: clock, serverName: 'q', verifier: pinnedKeyVerifier(key), alpnProtocols: ['q'] } }, 1_000_000);
    // Nothing from the client reaches the server once the server has answered: its address stays unvalidated.
    const sim: QuicSim = new QuicSim(client, serverOptions, { seed: 'closing-amplification', drop: (d) => d.toServer && sim.sent.toClient.length > 0 });
    await sim.run(() => sim.server !== undefined && sim.sent.toClient.length > 0);
    await sim.advance(200);
    const server = sim.server as QuicConnection;
    expect(server.isHandshakeComplete).toBe(false);
    let received = sim.bytesFrom.get(SIM_CLIENT_ADDRESS) ?? 0;
    const sent = (): number => sim.bytesTo.get(SIM_CLIENT_ADDRESS) ?? 0;
    expect(sent()).toBeLessThanOrEqual(3 * received);
    const datagramsBefore = sim.sent.toClient.length;
    server.close(sim.now, 0, 'going away');
    await sim.advance(50);
    expect(sent()).toBeLessThanOrEqual(3 * received);
    // Each datagram the server attributes to the connection raises the allowance by three times its size, and no more;
    // the CONNECTION_CLOSE goes again (at the falling rate) once the allowance holds it.
    for (let i = 0; i < 16; i++) {
      const d = new Uint8Array(1 + 8 + 16).fill(0x41);
      d.set(server.localCid, 1);
      await server.handleDatagram(d, sim.now);
      received += d.length;
      await sim.advance(1);
      expect(sent()).toBeLessThanOrEqual(3 * received);
    }
    expect(sim.sent.toClient.length).toBeGreaterThan(datagramsBefore);
  });
});
