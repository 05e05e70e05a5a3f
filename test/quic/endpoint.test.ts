/**
 * The sans-IO QUIC endpoint (src/quic/endpoint.ts), on the in-memory network
 * of test/helpers/quic-sim.ts and by hand: routing by Destination Connection
 * ID (RFC 9000 §5.2), creating state only for a client Initial that decrypts
 * (RFC 9001 §5.2, §5.5), Retry (RFC 9000 §8.1.2), Version Negotiation (§6.1),
 * Stateless Reset (§10.3), and the bounds on handshakes and queues.
 */
import { describe, expect, it, vi } from 'vitest';
import { toHex } from '../../src/bytes.js';
import { QuicConnection, type QuicClientOptions, type QuicEvent, type QuicServerOptions } from '../../src/quic/connection/connection.js';
import type { EndpointEvent, Transmit } from '../../src/quic/connection/path.js';
import { RetryTokens } from '../../src/quic/connection/address-validation.js';
import { QuicEndpoint, type QuicEndpointEvent } from '../../src/quic/endpoint.js';
import { ConnectionTable, cidKey } from '../../src/quic/endpoint/routing.js';
import fc from 'fast-check';
import { seeded } from '../helpers/fc.js';
import { TransportErrorCode } from '../../src/quic/errors.js';
import { parsePacket } from '../../src/quic/header.js';
import { statelessResetToken } from '../../src/quic/stateless-reset.js';
import { encodeFrames } from '../../src/quic/frames/encode.js';
import { initialKeys } from '../../src/quic/keys.js';
import { openPacket, sealPacket } from '../../src/quic/protection.js';
import { decodeFrames } from '../../src/quic/frames/decode.js';
import { QUIC_V1, QUIC_V2 } from '../../src/quic/versions.js';
import type { CryptoProvider } from '../../src/pq/provider.js';
import { QuicSim, SIM_CLIENT_ADDRESS } from '../helpers/quic-sim.js';
import { clock, pinnedKeyVerifier, seededProvider, testKey, type TestKey } from '../helpers/tls-pair.js';

const T0 = 1_000_000;

async function setup(seed: string, server: Partial<QuicServerOptions> = {}) {
  const provider = seededProvider(seed);
  const key = await testKey(provider, 'ed25519');
  const serverOptions: QuicServerOptions = { tls: { provider, now: clock, certificate: { chain: [key.publicKey], ...key }, alpnProtocols: ['e'] }, ...server };
  const clientOptions = (alpn = 'e'): QuicClientOptions => ({ tls: { provider, now: clock, serverName: 'e', verifier: pinnedKeyVerifier(key), alpnProtocols: [alpn] } });
  return { provider, key, serverOptions, clientOptions };
}

function drain(c: QuicConnection | undefined): QuicEvent[] {
  const out: QuicEvent[] = [];
  for (let e = c?.poll(); e; e = c?.poll()) out.push(e);
  return out;
}

function events(ep: QuicEndpoint): QuicEndpointEvent[] {
  const out: QuicEndpointEvent[] = [];
  for (let e = ep.poll(); e; e = ep.poll()) out.push(e);
  return out;
}

async function transmits(ep: QuicEndpoint, now = T0): Promise<Transmit[]> {
  const out: Transmit[] = [];
  for (let t = await ep.pollTransmit(now); t; t = await ep.pollTransmit(now)) out.push(t);
  return out;
}

/** A client's first Initial datagram (from a connection nobody drives further). */
async function clientInitial(provider: CryptoProvider, key: TestKey): Promise<Uint8Array> {
  const c = await QuicConnection.connect({ tls: { provider, now: clock, serverName: 'e', verifier: pinnedKeyVerifier(key), alpnProtocols: ['e'] } }, T0);
  return ((await c.pollTransmit(T0))?.data) as Uint8Array;
}

/** Moves datagrams between two endpoints, with no delay, until both are quiet. */
async function pump(a: QuicEndpoint, aAddress: string, b: QuicEndpoint, bAddress: string, now = T0): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const [fromA, fromB] = [await transmits(a, now), await transmits(b, now)];
    if (!fromA.length && !fromB.length) return;
    for (const t of fromA) if (t.remote === bAddress) await b.handleDatagram(t.data, aAddress, now);
    for (const t of fromB) if (t.remote === aAddress) await a.handleDatagram(t.data, bAddress, now);
  }
  throw new Error('endpoints keep talking');
}

describe('QuicEndpoint routing (RFC 9000 §5.2)', () => {
  it('drives a client and a server endpoint through a handshake; the server sends to the address the client wrote from', async () => {
    const { serverOptions, clientOptions } = await setup('ep-pair');
    const client = await QuicConnection.connect(clientOptions(), T0);
    const sim = new QuicSim(client, serverOptions, { seed: 'ep-pair' });
    await sim.run(() => client.isHandshakeConfirmed && sim.server?.isHandshakeConfirmed === true);
    expect(sim.serverEvents.filter((e) => e.type === 'connection')).toEqual([{ type: 'connection', connection: sim.server, remote: SIM_CLIENT_ADDRESS }]);
    expect((await sim.server?.pollTransmit(sim.now))?.remote ?? SIM_CLIENT_ADDRESS).toBe(SIM_CLIENT_ADDRESS);
  });

  it('one client endpoint, two connections to one server endpoint: each datagram reaches the connection its DCID names', async () => {
    const { provider, serverOptions, clientOptions } = await setup('ep-two');
    const server = await QuicEndpoint.create({ provider, server: serverOptions });
    const client = await QuicEndpoint.create({ provider });
    const a = await client.connect(clientOptions(), 'srv', T0);
    const b = await client.connect(clientOptions(), 'srv', T0);
    await pump(client, 'cli', server, 'srv');
    const accepted = events(server).filter((e) => e.type === 'connection');
    expect(accepted).toHaveLength(2);
    expect([a.isHandshakeComplete, b.isHandshakeComplete]).toEqual([true, true]);
    // Data on one connection arrives on its peer only.
    const id = a.openStream(true);
    a.writeStream(id, new TextEncoder().encode('to a'), true);
    await pump(client, 'cli', server, 'srv');
    const [sa, sb] = accepted.map((e) => (e.type === 'connection' ? e.connection : undefined));
    // The connections' own events, through the endpoint: each client's 'connected' first.
    const first = client.pollConnectionEvent();
    expect(first?.event.type).toBe('connected');
    expect([a, b]).toContain(first?.connection);
    const streamsOf = (c: QuicConnection | undefined) => drain(c).filter((e) => e.type === 'stream' && e.event.type === 'finished');
    expect(streamsOf(sa).length + streamsOf(sb).length).toBe(1);
    expect(server.connectionCount).toBe(2);
    expect(client.connectionCount).toBe(2);
  });

  it('routes the connection IDs a connection issues and stops at the ones it retires (pollEndpointEvent)', async () => {
    const { provider } = await setup('ep-cids');
    const ep = await QuicEndpoint.create({ provider });
    const issued = new Uint8Array(8).fill(0x77);
    const got: Uint8Array[] = [];
    const pending: EndpointEvent[] = [{ type: 'cid-issued', cid: issued }];
    const fake = {
      localCid: new Uint8Array(8).fill(0x11), role: 'server', isHandshakeComplete: true, isClosed: false,
      handleDatagram: (d: Uint8Array) => (got.push(d), Promise.resolve()),
      pollTransmit: () => Promise.resolve(undefined), pollTimeout: () => undefined, poll: () => undefined, peerResetTokens: () => [],
      pollEndpointEvent: () => pending.shift(),
    } as unknown as QuicConnection;
    ep.adopt(fake, 'peer');
    const shortTo = (cid: Uint8Array): Uint8Array => new Uint8Array([0x40, ...cid, ...new Uint8Array(40).fill(1)]);
    await ep.handleDatagram(shortTo(issued), 'peer', T0);
    await ep.handleDatagram(shortTo(fake.localCid), 'peer', T0);
    expect(got).toHaveLength(2);
    pending.push({ type: 'cid-retired', cid: issued });
    await ep.handleDatagram(shortTo(fake.localCid), 'peer', T0); // the call after which the endpoint learns of the retirement
    await ep.handleDatagram(shortTo(issued), 'peer', T0);
    expect(got).toHaveLength(3);
  });
});

describe('QuicEndpoint admission: state only for a client Initial that decrypts (RFC 9001 §5.2, §5.5)', () => {
  it('junk behind an Initial header and a copy with a corrupted SCID create nothing; the real Initial a connection', async () => {
    const { provider, key, serverOptions } = await setup('ep-admit');
    const accept = vi.spyOn(QuicConnection, 'accept');
    accept.mockClear();
    try {
      const server = await QuicEndpoint.create({ provider, server: serverOptions });
      const real = await clientInitial(provider, key);
      const junk = real.slice();
      junk.fill(0x5a, 40);
      const corrupt = real.slice();
      corrupt.set(new Uint8Array(8).fill(0xee), 1 + 4 + 1 + 8 + 1); // the SCID: associated data, so the copy cannot decrypt
      await server.handleDatagram(junk, 'c', T0);
      await server.handleDatagram(corrupt, 'c', T0);
      expect(accept).not.toHaveBeenCalled();
      expect(server.connectionCount).toBe(0);
      await server.handleDatagram(real, 'c', T0);
      expect(accept).toHaveBeenCalledTimes(1);
      expect(events(server).map((e) => e.type)).toEqual(['connection']);
      // The server's first flight goes to the SCID of the Initial that decrypted.
      const [first] = await transmits(server);
      expect(toHex(parsePacket((first as Transmit).data, 0, { shortDcidLength: 8 }).packet.dcid)).toBe(toHex(parsePacket(real, 0, { shortDcidLength: 8 }).packet.scid));
      // The client's first DCID routes to the connection it made (a retransmitted Initial), not to a second one.
      await server.handleDatagram(real, 'c', T0 + 1);
      expect(accept).toHaveBeenCalledTimes(1);
      expect(server.connectionCount).toBe(1);
      expect(events(server)).toEqual([]);
    } finally {
      accept.mockRestore();
    }
  });

  it('issue 12: a corrupted first Initial does not break the server; the intact retransmission completes the handshake', async () => {
    for (const [what, at] of [['its SCID', 1 + 4 + 1 + 8 + 1], ['its payload', 600]] as const) {
      const { serverOptions, clientOptions } = await setup(`ep-corrupt-${at}`);
      const client = await QuicConnection.connect(clientOptions(), T0);
      const sim = new QuicSim(client, serverOptions, {
        seed: `corrupt ${what}`,
        alter: (d, toServer, i) => {
          if (!toServer || i !== 0) return d;
          const c = d.slice();
          c[at] = (c[at] as number) ^ 0xff;
          return c;
        },
      });
      await sim.run(() => client.isHandshakeConfirmed && sim.server?.isHandshakeConfirmed === true);
      expect(client.error).toBeUndefined();
      expect(sim.server?.error).toBeUndefined();
      for (const e of [...drain(client), ...drain(sim.server)]) {
        if (e.type === 'closed') expect(e.code).not.toBe(TransportErrorCode.TRANSPORT_PARAMETER_ERROR);
      }
    }
  });

  it('maxConcurrentHandshakes: Initials beyond the cap create nothing (and get a Retry when Retry is on)', async () => {
    const { provider, key, serverOptions } = await setup('ep-cap');
    const server = await QuicEndpoint.create({ provider, server: { ...serverOptions, maxConcurrentHandshakes: 2 } });
    for (let i = 0; i < 4; i++) await server.handleDatagram(await clientInitial(provider, key), `c${i}`, T0);
    expect(server.connectionCount).toBe(2);
    expect(server.handshakeCount).toBe(2);
    const retrying = await QuicEndpoint.create({ provider, server: { ...serverOptions, maxConcurrentHandshakes: 1, retry: true } });
    await retrying.handleDatagram(await clientInitial(provider, key), 'c', T0);
    expect(events(retrying).map((e) => e.type)).toEqual(['retry']);
    expect(retrying.connectionCount).toBe(0);
  });

  it('a handshake past handshakeTimeoutMs is closed and frees its slot for the next client', async () => {
    const { provider, key, serverOptions } = await setup('ep-deadline');
    const server = await QuicEndpoint.create({ provider, server: { ...serverOptions, maxConcurrentHandshakes: 1, handshakeTimeoutMs: 300 } });
    await server.handleDatagram(await clientInitial(provider, key), 'stalled', T0);
    const [accepted] = events(server);
    const next = await clientInitial(provider, key);
    await server.handleDatagram(next, 'next', T0);
    expect(server.connectionCount).toBe(1);
    expect(server.pollTimeout()).toBeLessThanOrEqual(T0 + 300);
    await server.handleTimeout(T0 + 300);
    expect(server.handshakeCount).toBe(0);
    const conn = accepted?.type === 'connection' ? accepted.connection : undefined;
    expect(drain(conn).find((e) => e.type === 'closed')).toMatchObject({ local: true, reason: 'handshake timeout' });
    await server.handleDatagram(next, 'next', T0 + 301);
    expect(events(server).map((e) => e.type)).toEqual(['connection']);
  });

  it('datagrams that arrive faster than a connection handles them wait in a bounded queue; the rest are dropped', async () => {
    const { provider } = await setup('ep-queue');
    const ep = await QuicEndpoint.create({ provider, maxQueuedDatagrams: 64 });
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    let handled = 0;
    const slow = {
      localCid: new Uint8Array(8).fill(0x22), role: 'server', isHandshakeComplete: true, isClosed: false,
      handleDatagram: async () => {
        await gate;
        handled++;
      },
      pollTransmit: () => Promise.resolve(undefined), pollTimeout: () => undefined, poll: () => undefined, peerResetTokens: () => [], pollEndpointEvent: () => undefined,
    } as unknown as QuicConnection;
    ep.adopt(slow, 'flood');
    const d = new Uint8Array([0x40, ...slow.localCid, ...new Uint8Array(1191)]);
    // A flood to a known connection ID, handed over without awaiting: each would otherwise be held until handled.
    const all = Array.from({ length: 10_000 }, () => ep.handleDatagram(d, 'flood', T0));
    release();
    await Promise.all(all);
    expect(handled).toBe(64);
    await ep.handleDatagram(d, 'flood', T0);
    expect(handled).toBe(65);
  });
});

describe('QuicEndpoint: Retry, Version Negotiation, Stateless Reset', () => {
  it('Retry (RFC 9000 §8.1.2): a token-less Initial gets a Retry to its sender; the one that returns the token is accepted', async () => {
    const { provider, serverOptions, clientOptions } = await setup('ep-retry');
    const client = await QuicConnection.connect(clientOptions(), T0);
    const sim = new QuicSim(client, serverOptions, { seed: 'ep-retry', retry: await RetryTokens.create(provider) });
    await sim.run(() => client.isHandshakeConfirmed && sim.server?.isHandshakeConfirmed === true);
    // The ClientHello with an X25519MLKEM768 share fills two Initials; the one that starts it gets the Retry.
    expect(sim.retries).toBe(1);
    expect(sim.serverEvents.map((e) => e.type)).toEqual([...Array(sim.retries).fill('retry'), 'connection']);
    expect(sim.serverEvents[0]).toEqual({ type: 'retry', remote: SIM_CLIENT_ADDRESS });
  });

  it('Version Negotiation (RFC 9000 §6.1): a full-size datagram of an unknown version gets our versions; a small one, or a client-only endpoint, nothing', async () => {
    const { provider, serverOptions } = await setup('ep-vn');
    const server = await QuicEndpoint.create({ provider, server: serverOptions });
    const probe = (size: number): Uint8Array => {
      const d = new Uint8Array(size);
      d.set([0xc0, 0x1a, 0x2a, 0x3a, 0x4a, 8, 1, 2, 3, 4, 5, 6, 7, 8, 4, 9, 9, 9, 9]);
      return d;
    };
    await server.handleDatagram(probe(1199), 'x', T0);
    expect(await transmits(server)).toEqual([]);
    await server.handleDatagram(probe(1200), 'x', T0);
    const [vn] = await transmits(server);
    expect(vn?.remote).toBe('x');
    const packet = parsePacket((vn as Transmit).data, 0, { shortDcidLength: 8 }).packet;
    expect(packet.type).toBe('version-negotiation');
    if (packet.type !== 'version-negotiation') return;
    expect(packet.versions).toEqual([QUIC_V1.number, QUIC_V2.number]);
    expect(Array.from(packet.dcid)).toEqual([9, 9, 9, 9]); // the IDs echoed swapped
    const clientOnly = await QuicEndpoint.create({ provider });
    await clientOnly.handleDatagram(probe(1200), 'x', T0);
    expect(await transmits(clientOnly)).toEqual([]);
  });

  it('Stateless Reset (RFC 9000 §10.3): a short-header packet for an unknown connection gets a smaller reset with the token of its DCID', async () => {
    const { provider, serverOptions } = await setup('ep-reset');
    const key = new Uint8Array(32).fill(3);
    const server = await QuicEndpoint.create({ provider, server: serverOptions, statelessResetKey: key });
    const dcid = new Uint8Array(8).fill(0x42);
    await server.handleDatagram(new Uint8Array([0x41, ...dcid, ...new Uint8Array(60)]), 'gone', T0);
    const [reset] = await transmits(server);
    expect(reset?.remote).toBe('gone');
    expect((reset as Transmit).data.length).toBeLessThan(69);
    expect(toHex((reset as Transmit).data.subarray(-16))).toBe(toHex(await statelessResetToken(provider, key, dcid)));
    const keyless = await QuicEndpoint.create({ provider, server: serverOptions });
    await keyless.handleDatagram(new Uint8Array([0x41, ...dcid, ...new Uint8Array(60)]), 'gone', T0);
    expect(await transmits(keyless)).toEqual([]);
  });

  it('a server endpoint that lost a connection resets it; the client endpoint hands the reset to that client, which ends', async () => {
    const { serverOptions, clientOptions } = await setup('ep-lost');
    const client = await QuicConnection.connect(clientOptions(), T0);
    const sim = new QuicSim(client, { ...serverOptions, statelessResetKey: new Uint8Array(32).fill(9) }, { seed: 'ep-lost' });
    await sim.run(() => client.isHandshakeConfirmed && sim.server?.isHandshakeConfirmed === true);
    const { server: serverEp, client: clientEp } = await sim.endpointPair();
    serverEp.abandon(sim.server as QuicConnection); // as a restarted server would
    drain(client);
    const id = client.openStream(true);
    client.writeStream(id, new Uint8Array(10), true);
    await sim.run(() => client.isClosed);
    expect(drain(client).find((e) => e.type === 'closed')).toMatchObject({ local: false, reason: 'stateless reset' });
    expect(events(clientEp).map((e) => e.type)).toEqual(['done']);
    expect(sim.delivered.toClient).toBeGreaterThan(0);
  });
});

describe('QuicEndpoint.setServerOptions: new connections get the new options, established ones keep theirs', () => {
  it('rotates the ALPN list (as a certificate would be rotated); an unusable certificate is refused and the old options stay', async () => {
    const { provider, serverOptions, clientOptions } = await setup('ep-rotate');
    const server = await QuicEndpoint.create({ provider, server: serverOptions });
    const client = await QuicEndpoint.create({ provider });
    expect(() => server.setServerOptions({ ...serverOptions, tls: { ...serverOptions.tls, certificate: { ...serverOptions.tls.certificate, chain: [] } } })).toThrow();
    server.setServerOptions({ ...serverOptions, tls: { ...serverOptions.tls, alpnProtocols: ['new'] } });
    const c = await client.connect(clientOptions('new'), 'srv', T0);
    await pump(client, 'cli', server, 'srv');
    expect(c.isHandshakeComplete).toBe(true);
    const old = await client.connect(clientOptions('e'), 'srv', T0);
    await pump(client, 'cli', server, 'srv');
    expect(old.isHandshakeComplete).toBe(false);
  });
});

describe('QuicConnection.accept without an endpoint (issue 12: a corrupted first Initial)', () => {
  it('refuses an Initial that does not decrypt rather than take its connection IDs', async () => {
    const { provider, key, serverOptions } = await setup('accept-corrupt');
    const real = await clientInitial(provider, key);
    const corrupt = real.slice();
    corrupt.set(new Uint8Array(8).fill(0xee), 1 + 4 + 1 + 8 + 1);
    await expect(QuicConnection.accept(serverOptions, corrupt, T0)).rejects.toThrow(/does not decrypt/);
    const server = await QuicConnection.accept(serverOptions, real, T0);
    expect(server.error).toBeUndefined();
  });
});

describe('the simulator gives both sides addresses (for NAT rebinding, RFC 9000 §9.3)', () => {
  it('after rebindClient the server endpoint hands the client\'s datagrams over with the new address', async () => {
    const { serverOptions, clientOptions } = await setup('sim-rebind');
    const client = await QuicConnection.connect(clientOptions(), T0);
    const sim = new QuicSim(client, serverOptions, { seed: 'sim-rebind' });
    await sim.run(() => client.isHandshakeConfirmed && sim.server?.isHandshakeConfirmed === true);
    const server = sim.server as QuicConnection;
    const seen: (string | undefined)[] = [];
    const handle = server.handleDatagram.bind(server);
    server.handleDatagram = (d, now, remote) => (seen.push(remote), handle(d, now, remote));
    sim.rebindClient('client:61000');
    const id = client.openStream(true);
    client.writeStream(id, new Uint8Array(100), true);
    await sim.run(() => seen.length > 0);
    // Every datagram of that instant (the stream, and an ACK the client may coalesce or send beside it) comes from there.
    expect(seen.length).toBeGreaterThan(0);
    expect(new Set(seen)).toEqual(new Set(['client:61000']));
  });
});

/** A connection stand-in that never has anything to send and counts how often it is asked. */
function idleConnection(i: number, onPoll: () => void): QuicConnection {
  const localCid = new Uint8Array(8);
  new DataView(localCid.buffer).setUint32(4, i + 1);
  return {
    localCid, role: 'server', isHandshakeComplete: true, isClosed: false,
    handleDatagram: () => Promise.resolve(), handleTimeout: () => Promise.resolve(),
    pollTransmit: () => (onPoll(), Promise.resolve(undefined)), pollTimeout: () => undefined, poll: () => undefined, peerResetTokens: () => [],
    pollEndpointEvent: () => undefined,
  } as unknown as QuicConnection;
}

describe('QuicEndpoint.pollTransmit asks only connections that may have something to send (issue 12)', () => {
  it('1000 idle connections and one busy one: the idle ones are not polled per transmit; a datagram to one gets it polled once', async () => {
    const { provider, serverOptions, clientOptions } = await setup('ep-idle');
    const server = await QuicEndpoint.create({ provider, server: serverOptions });
    const client = await QuicEndpoint.create({ provider });
    let idlePolls = 0;
    const idle = Array.from({ length: 1000 }, (_, i) => idleConnection(i, () => idlePolls++));
    idle.forEach((c, i) => server.adopt(c, `idle:${i}`));
    // A connection new to the endpoint may have something to send: each is asked once.
    expect(await transmits(server)).toEqual([]);
    expect(idlePolls).toBe(1000);
    idlePolls = 0;
    let serverPolls = 0;
    const poll = server.pollTransmit.bind(server);
    server.pollTransmit = (now: number) => (serverPolls++, poll(now));
    // A handshake and a stream on the busy connection.
    const a = await client.connect(clientOptions(), 'srv', T0);
    await pump(client, 'cli', server, 'srv');
    const id = a.openStream(true);
    a.writeStream(id, new Uint8Array(20_000).fill(7), true);
    await pump(client, 'cli', server, 'srv');
    expect(a.isHandshakeConfirmed).toBe(true);
    expect(serverPolls).toBeGreaterThan(10);
    // Before: every pollTransmit asked all 1000 (idlePolls = 1000 × serverPolls).
    expect(idlePolls).toBe(0);
    const shortTo = (cid: Uint8Array): Uint8Array => new Uint8Array([0x40, ...cid, ...new Uint8Array(40).fill(1)]);
    await server.handleDatagram(shortTo((idle[7] as QuicConnection).localCid), 'idle:7', T0);
    expect(await transmits(server)).toEqual([]);
    expect(idlePolls).toBe(1);
  });
});

describe('a read gets the connection polled only when it owes the peer credit (RFC 9000 §4.2)', () => {
  it('a read freeing less than half the stream window does not; the read that frees more does, and MAX_STREAM_DATA leaves', async () => {
    const { serverOptions, clientOptions } = await setup('read-activity');
    const client = await QuicConnection.connect(clientOptions(), T0);
    const sim = new QuicSim(client, serverOptions, { seed: 'read-activity' });
    await sim.run(() => client.isHandshakeConfirmed && sim.server?.isHandshakeConfirmed === true);
    const id = client.openStream(true);
    client.writeStream(id, new Uint8Array([1]), true);
    await sim.run(() => drain(sim.server).some((e) => e.type === 'stream' && e.event.type === 'readable'));
    // More than the client's window for its own stream (initial_max_stream_data_bidi_local, 256 KiB): the server
    // fills the window and waits for credit.
    (sim.server as QuicConnection).writeStream(id, new Uint8Array(1 << 20).fill(9), true);
    await sim.advance(1000);
    drain(client);
    const endpoint = (await sim.endpointPair()).client;
    let cues = 0;
    const cue = client.onActivity;
    client.onActivity = () => {
      cues++;
      cue?.();
    };
    const small = client.readStream(id, 10_000);
    expect(small?.data.length).toBe(10_000);
    // Before: every read cued the endpoint, which then asked the connection for a datagram it did not have.
    expect(cues).toBe(0);
    expect(await endpoint.pollTransmit(sim.now)).toBeUndefined();
    let read = 10_000;
    for (let r = client.readStream(id); r && r.data.length; r = client.readStream(id)) read += r.data.length;
    expect(read).toBe(1 << 18);
    expect(cues).toBeGreaterThan(0);
    const t = await endpoint.pollTransmit(sim.now);
    expect(t).toBeDefined();
    // The credit reaches the server and the rest of the body follows.
    client.onActivity = cue;
    let total = read;
    let fin = false;
    await sim.run(() => {
      for (let r = client.readStream(id); r; r = client.readStream(id)) {
        total += r.data.length;
        if (r.fin) fin = true;
        if (r.fin || !r.data.length) break;
      }
      return fin;
    });
    expect(total).toBe(1 << 20);
  });
});

describe('routing keys (RFC 9000 §5.2: a datagram reaches the connection its DCID names)', () => {
  it('cidKey tells apart every two connection IDs of 0..20 bytes (RFC 9000 §17.2: up to 20), lengths included', () => {
    const cid = fc.uint8Array({ minLength: 0, maxLength: 20 });
    fc.assert(fc.property(cid, cid, (a, b) => (cidKey(a) === cidKey(b)) === (toHex(a) === toHex(b) && a.length === b.length)), seeded(12_004));
    // The cases a careless packing would merge: a missing leading zero, an odd tail, an 8-byte ID against 7 or 9.
    const keys = [[], [0], [1], [0, 1], [1, 0], [0, 0, 1], [1, 0, 0], [0, 1, 0, 0], [1, 2, 3, 4, 5, 6, 7, 8], [1, 2, 3, 4, 5, 6, 7], [1, 2, 3, 4, 5, 6, 7, 8, 0]]
      .map((b) => cidKey(new Uint8Array(b)));
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('the table routes IDs of different lengths and equal bytes to different connections', () => {
    const table = new ConnectionTable();
    const one = { localCid: new Uint8Array([1]) } as unknown as QuicConnection;
    const two = { localCid: new Uint8Array([0, 1]) } as unknown as QuicConnection;
    table.add(one, 'a', [one.localCid]);
    table.add(two, 'b', [two.localCid]);
    expect(table.byConnectionId(new Uint8Array([1]))?.connection).toBe(one);
    expect(table.byConnectionId(new Uint8Array([0, 1]))?.connection).toBe(two);
    expect(table.byConnectionId(new Uint8Array([1, 0]))).toBeUndefined();
  });
});

/** A client Initial made by hand: one CRYPTO frame at `offset`, padded to a full datagram (RFC 9000 §14.1). */
async function handmadeInitial(provider: CryptoProvider, o: { dcid: Uint8Array; scid: Uint8Array; offset: number; token?: Uint8Array }): Promise<Uint8Array> {
  const keys = await initialKeys(provider, QUIC_V1, o.dcid);
  const payload = new Uint8Array(1200);
  payload.set(encodeFrames([{ type: 'crypto', offset: o.offset, data: new Uint8Array(200).fill(1) }]));
  return sealPacket(keys.client, { type: 'initial', version: QUIC_V1, dcid: o.dcid, scid: o.scid, ...(o.token ? { token: o.token } : {}) }, payload, { packetNumber: 0 });
}

/** The frames of a server Initial, opened as the client would (keys of the DCID the client sent to). */
async function serverInitialFrames(provider: CryptoProvider, d: Uint8Array, clientDcid: Uint8Array) {
  const p = parsePacket(d.slice(), 0, { shortDcidLength: 8 }).packet;
  if (p.type !== 'initial' || !('pnOffset' in p)) throw new Error(`not an Initial: ${p.type}`);
  const opened = await openPacket((await initialKeys(provider, QUIC_V1, clientDcid)).server, p, -1);
  return decodeFrames((opened as { payload: Uint8Array }).payload, 'initial');
}

describe('Retry: one per connection attempt, and INVALID_TOKEN for a failed Retry token (RFC 9000 §8.1.2, §8.1.3, §17.2.5)', () => {
  it('a ClientHello over two Initial datagrams gets one Retry, not one per datagram (§17.2.5.2: the client takes only the first)', async () => {
    const { provider, serverOptions, clientOptions } = await setup('ep-one-retry');
    const client = await QuicConnection.connect(clientOptions(), T0);
    const sim = new QuicSim(client, serverOptions, { seed: 'ep-one-retry', retry: await RetryTokens.create(provider) });
    await sim.run(() => client.isHandshakeConfirmed && sim.server?.isHandshakeConfirmed === true);
    // The X25519MLKEM768 ClientHello did take two token-less Initial datagrams...
    const tokenless = sim.sent.toServer.filter((d) => {
      const p = parsePacket(d.data, 0, { shortDcidLength: 8 }).packet;
      return p.type === 'initial' && p.token.length === 0;
    });
    expect(tokenless.length).toBeGreaterThanOrEqual(2);
    // ...and drew one Retry.
    expect(sim.sent.toClient.filter((d) => parsePacket(d.data, 0, { shortDcidLength: 8 }).packet.type === 'retry')).toHaveLength(1);
    expect(sim.serverEvents.map((e) => e.type)).toEqual(['retry', 'connection']);
  });

  it('only the Initial with CRYPTO offset 0 gets a Retry; the rest of the flight is dropped, statelessly', async () => {
    const { provider, serverOptions } = await setup('ep-retry-offset');
    const server = await QuicEndpoint.create({ provider, server: { ...serverOptions, retry: true } });
    const ids = { dcid: new Uint8Array(8).fill(0xd1), scid: new Uint8Array(8).fill(0x5c) };
    await server.handleDatagram(await handmadeInitial(provider, { ...ids, offset: 1100 }), 'c', T0);
    expect(await transmits(server)).toEqual([]);
    await server.handleDatagram(await handmadeInitial(provider, { ...ids, offset: 0 }), 'c', T0);
    const [retry] = await transmits(server);
    expect(retry && parsePacket(retry.data, 0, { shortDcidLength: 8 }).packet.type).toBe('retry');
    expect(events(server).map((e) => e.type)).toEqual(['retry']);
    expect(server.connectionCount).toBe(0);
  });

  it('a Retry token that fails (another address: a NAT rebinding between Retry and Initial) gets CONNECTION_CLOSE(INVALID_TOKEN) in an Initial, and no state', async () => {
    const { provider, serverOptions, clientOptions } = await setup('ep-invalid-token');
    const server = await QuicEndpoint.create({ provider, server: { ...serverOptions, retry: true } });
    const client = await QuicConnection.connect(clientOptions(), T0);
    const first = await client.pollTransmit(T0);
    const firstDcid = parsePacket((first as Transmit).data, 0, { shortDcidLength: 8 }).packet.dcid;
    await server.handleDatagram((first as Transmit).data, 'nat:1000', T0);
    const [retry] = await transmits(server);
    await client.handleDatagram((retry as Transmit).data, T0 + 1);
    const withToken = (await client.pollTransmit(T0 + 2)) as Transmit;
    const retryScid = parsePacket(withToken.data, 0, { shortDcidLength: 8 }).packet.dcid;
    expect(toHex(retryScid)).not.toBe(toHex(firstDcid));
    await server.handleDatagram(withToken.data, 'nat:2000', T0 + 2);
    const out = await transmits(server);
    expect(out).toHaveLength(1);
    const close = out[0] as Transmit;
    expect(close.remote).toBe('nat:2000');
    expect(close.data.length).toBeLessThan(withToken.data.length);
    expect(await serverInitialFrames(provider, close.data, retryScid)).toEqual([
      { type: 'connection_close', application: false, errorCode: TransportErrorCode.INVALID_TOKEN, frameType: 0, reason: new Uint8Array(0) },
    ]);
    expect(events(server).map((e) => e.type)).toEqual(['retry']);
    expect(server.connectionCount).toBe(0);
    // The client reads it: the attempt ends now, not at its idle timeout.
    await client.handleDatagram(close.data, T0 + 3);
    expect(drain(client).find((e) => e.type === 'closed')).toMatchObject({ type: 'closed', local: false, code: TransportErrorCode.INVALID_TOKEN });
  });

  it('an expired Retry token gets INVALID_TOKEN too, and the client of the simulator ends at once', async () => {
    const { provider, serverOptions, clientOptions } = await setup('ep-expired-token');
    const client = await QuicConnection.connect(clientOptions(), T0);
    // Tokens live 10 ms; the round trip takes 40.
    const sim = new QuicSim(client, serverOptions, { seed: 'ep-expired-token', retry: await RetryTokens.create(provider, { lifetimeMs: 10 }) });
    const start = sim.now;
    const seen: QuicEvent[] = [];
    await sim.run(() => (seen.push(...drain(client)), seen.some((e) => e.type === 'closed')), 5_000);
    // Two round trips (Initial, Retry, Initial with the token, close), not the handshake timeout.
    expect(sim.now - start).toBeLessThan(200);
    expect(seen.find((e) => e.type === 'closed')).toMatchObject({ local: false, code: TransportErrorCode.INVALID_TOKEN });
    expect(sim.retries).toBe(1);
    expect(sim.serverEvents.map((e) => e.type)).toEqual(['retry']);
  });

  it('a token the server cannot open (another server\'s, or a NEW_TOKEN token of an old key) counts as no token: a Retry (§8.1.3)', async () => {
    const { provider, serverOptions, clientOptions } = await setup('ep-foreign-token');
    const other = await QuicEndpoint.create({ provider, server: { ...serverOptions, retry: true } });
    const server = await QuicEndpoint.create({ provider, server: { ...serverOptions, retry: true } });
    const client = await QuicConnection.connect(clientOptions(), T0);
    await other.handleDatagram(((await client.pollTransmit(T0)) as Transmit).data, 'c', T0);
    await client.handleDatagram(((await transmits(other))[0] as Transmit).data, T0 + 1);
    const withToken = (await client.pollTransmit(T0 + 2)) as Transmit;
    await server.handleDatagram(withToken.data, 'c', T0 + 2);
    const out = await transmits(server);
    expect(out.map((t) => parsePacket(t.data, 0, { shortDcidLength: 8 }).packet.type)).toEqual(['retry']);
    expect(events(server).map((e) => e.type)).toEqual(['retry']);
  });
});
