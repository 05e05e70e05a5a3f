/**
 * 0-RTT over QUIC (RFC 9001 §4.6, RFC 9000 §7.4.1, RFC 8446 §4.2.10) on the
 * in-memory network of test/helpers/quic-sim.ts: a second connection resumes
 * with a ticket from the first and sends its request in 0-RTT packets.
 */
import { describe, expect, it } from 'vitest';
import { QuicConnection, QUIC_DEFAULT_LIMITS, type QuicClientOptions, type QuicEvent, type QuicServerOptions } from '../../src/quic/connection/connection.js';
import { earlyDataContext } from '../../src/quic/connection/zero-rtt.js';
import { TransportErrorCode } from '../../src/quic/errors.js';
import { encodeFrames } from '../../src/quic/frames/encode.js';
import { parsePacket } from '../../src/quic/header.js';
import { AES_128_GCM_SHA256, deriveDirectionalKeys } from '../../src/quic/keys.js';
import { sealPacket } from '../../src/quic/protection.js';
import { DEFAULT_TRANSPORT_PARAMETERS, type TransportParameters } from '../../src/quic/transport-parameters.js';
import { QUIC_V1, QUIC_V2 } from '../../src/quic/versions.js';
import { MemoryAntiReplay } from '../../src/tls13/anti-replay.js';
import { MemorySessionStore, type Session } from '../../src/tls13/session.js';
import { TicketKeyRing, decodeTicketState, encodeTicketState, type TicketState } from '../../src/tls13/tickets.js';
import { fromHex } from '../../src/bytes.js';
import { RetryTokens } from '../../src/quic/connection/address-validation.js';
import {
  MAX_PENDING_0RTT_BYTES, MAX_PENDING_0RTT_CONNECTIONS, MAX_PENDING_0RTT_DATAGRAMS, PENDING_0RTT_LIFETIME_MS, PendingZeroRtt, checkTicketEarlyData, quicSessionKey,
} from '../../src/quic/connection/zero-rtt.js';
import { decodeSession, encodeSession } from '../../src/tls13/session.js';
import { encodeMaxEarlyData, encodeNewSessionTicket } from '../../src/tls13/messages/psk.js';
import { ExtensionType } from '../../src/tls13/constants.js';
import { QuicSim } from '../helpers/quic-sim.js';
import { parseDatagram } from '../helpers/quic-wire.js';
import { clock, pinnedKeyVerifier, seededProvider, testKey } from '../helpers/tls-pair.js';

const T0 = 1_000_000;
/** Where the client keeps sessions for quic.test from v1 connections (RFC 9369 §5: tickets are per version). */
const KEY = quicSessionKey('quic.test', QUIC_V1);
const REQUEST = new TextEncoder().encode('GET /index.html\r\n');

/** A QUIC server's ticket holds the issuing version (RFC 9369 §5), then the TLS ticket state. */
async function openTicket(ring: TicketKeyRing, ticket: Uint8Array): Promise<TicketState> {
  const plain = (await ring.open(ticket)) as Uint8Array;
  expect([...plain.subarray(0, 4)]).toEqual([0, 0, 0, 1]);
  return decodeTicketState(plain.subarray(4));
}
function sealTicket(ring: TicketKeyRing, state: TicketState): Promise<Uint8Array> {
  return ring.seal(new Uint8Array([0, 0, 0, 1, ...encodeTicketState(state)]));
}

function drain(c: QuicConnection | undefined): QuicEvent[] {
  const out: QuicEvent[] = [];
  for (let e = c?.poll(); e; e = c?.poll()) out.push(e);
  return out;
}

function readAll(c: QuicConnection, id: number): { data: number[]; fin: boolean } {
  const data: number[] = [];
  let fin = false;
  for (let r = c.readStream(id); r && (r.data.length || r.fin); r = c.readStream(id)) {
    data.push(...r.data);
    if (r.fin) fin = true;
  }
  return { data, fin };
}

interface World {
  readonly provider: ReturnType<typeof seededProvider>;
  readonly store: MemorySessionStore;
  readonly ring: TicketKeyRing;
  readonly antiReplay: MemoryAntiReplay;
  readonly server: (over?: { earlyData?: boolean; transportParameters?: Partial<TransportParameters> }) => QuicServerOptions;
  readonly connect: (earlyData: boolean, keyLog?: (line: string) => void) => Promise<QuicConnection>;
  readonly clientTls: QuicClientOptions['tls'];
}

/** A server with tickets and 0-RTT, and a client that has completed one connection to it and kept its tickets. */
async function world(seed: string): Promise<World> {
  const provider = seededProvider(seed);
  const key = await testKey(provider, 'ml-dsa-65');
  const store = new MemorySessionStore();
  const ring = await TicketKeyRing.create(provider);
  const antiReplay = new MemoryAntiReplay();
  const server = (over: { earlyData?: boolean; transportParameters?: Partial<TransportParameters> } = {}): QuicServerOptions => ({
    tls: {
      provider, now: clock, certificate: { chain: [key.publicKey], ...key }, alpnProtocols: ['hq-interop'], tickets: { sealer: ring },
      ...(over.earlyData === false ? {} : { earlyData: { maxSize: 1 << 14, antiReplay } }),
    },
    ...(over.transportParameters ? { transportParameters: over.transportParameters } : {}),
  });
  const clientTls: QuicClientOptions['tls'] = { provider, now: clock, serverName: 'quic.test', verifier: pinnedKeyVerifier(key), alpnProtocols: ['hq-interop'], sessionStore: store };
  const connect = (earlyData: boolean, keyLog?: (line: string) => void) => QuicConnection.connect({
    tls: { ...clientTls, ...(keyLog ? { keyLog } : {}) },
    earlyData,
  }, T0);
  const w: World = { provider, store, ring, antiReplay, server, connect, clientTls };
  const first = new QuicSim(await connect(true), server(), { seed: `${seed}-1` });
  // Past the handshake, so that the NewSessionTickets (1-RTT CRYPTO frames) arrive.
  await first.run(() => first.client.isHandshakeConfirmed && first.now > T0 + 500);
  expect(first.client.earlyData).toBe('none');
  return w;
}

/** Runs `sim` until the client has the whole echo-less request delivered on the server; notes when the data came. */
async function deliverRequest(sim: QuicSim, client: QuicConnection, id: number) {
  let beforeServerHandshake: boolean | undefined;
  const got: number[] = [];
  let fin = false;
  const clientEvents: QuicEvent[] = [];
  await sim.run(() => {
    clientEvents.push(...drain(client));
    const s = sim.server;
    if (s) {
      for (const e of drain(s)) {
        if (e.type === 'stream' && (e.event.type === 'readable' || e.event.type === 'finished') && e.event.id === id) {
          beforeServerHandshake ??= !s.isHandshakeComplete;
          const r = readAll(s, id);
          got.push(...r.data);
          fin ||= r.fin;
        }
      }
    }
    return fin && client.isHandshakeComplete;
  });
  return { got: new Uint8Array(got), beforeServerHandshake, clientEvents };
}

describe('QUIC resumption (RFC 9001 §4.5)', () => {
  it('the second connection resumes without a Certificate, and its session remembers the server transport parameters', async () => {
    const w = await world('zrtt-resume');
    const session = w.store.take(KEY, clock()) as Session;
    // RFC 9000 §7.4.1: the client remembers the server's limits with the ticket.
    expect(session.quicTransportParameters).toBeDefined();
    // RFC 9001 §4.6.1: a QUIC ticket allowing 0-RTT says max_early_data_size 0xffffffff.
    expect(session.maxEarlyData).toBe(0xffffffff);
    w.store.put(KEY, session);
    const client = await w.connect(false);
    const sim = new QuicSim(client, w.server(), { seed: 'zrtt-resume-2' });
    const events: QuicEvent[] = [];
    await sim.run(() => {
      events.push(...drain(client));
      return client.isHandshakeComplete;
    });
    const c = events.find((e) => e.type === 'connected');
    if (c?.type !== 'connected') throw new Error('no connected event');
    expect(c.info.resumed).toBe(true);
    // PSK authentication: the server sent no Certificate, so its whole flight fits a few datagrams
    // where the ML-DSA-65 certificate and signature alone are over 5 KB.
    expect(sim.delivered.toClient).toBeLessThanOrEqual(4);
    expect(client.earlyData).toBe('none');
  });
});

describe('0-RTT over QUIC (RFC 9001 §4.6)', () => {
  it('accepted: a request written before the handshake reaches the server in 0-RTT packets before its handshake completes', async () => {
    const w = await world('zrtt-accept');
    const client = await w.connect(true);
    expect(client.earlyData).toBe('attempted');
    const id = client.openStream(true);
    client.writeStream(id, REQUEST, true);
    const sim = new QuicSim(client, w.server(), { seed: 'zrtt-accept-2' });
    const r = await deliverRequest(sim, client, id);
    expect(r.got).toEqual(REQUEST);
    expect(r.beforeServerHandshake).toBe(true);
    expect(client.earlyData).toBe('accepted');
    expect(sim.server?.earlyData).toBe('accepted');
    const c = r.clientEvents.find((e) => e.type === 'connected');
    expect(c?.type === 'connected' && c.info.earlyData).toBe('accepted');
  });

  it('accepted by a server that acknowledges the ClientHello before answering it: the 0-RTT packets wait for that step and are read', async () => {
    const w = await world('zrtt-ack-first');
    const client = await w.connect(true);
    const id = client.openStream(true);
    client.writeStream(id, REQUEST, true);
    const sim = new QuicSim(client, { ...w.server(), ackClientHelloFirst: true }, { seed: 'zrtt-ack-first-2' });
    const r = await deliverRequest(sim, client, id);
    expect(r.got).toEqual(REQUEST);
    expect(r.beforeServerHandshake).toBe(true);
    expect([client.earlyData, sim.server?.earlyData]).toEqual(['accepted', 'accepted']);
  });

  it('a server that read 0-RTT and waits for a lost Finished sets no timer for the ACK it can send only in 1-RTT (RFC 9000 §12.5)', async () => {
    const w = await world('zrtt-ack-wait');
    const client = await w.connect(true);
    const id = client.openStream(true);
    client.writeStream(id, REQUEST, true);
    // The client's Handshake packets, its Finished among them, are lost for the first second.
    const sim = new QuicSim(client, w.server(), {
      seed: 'zrtt-ack-wait-2',
      drop: (d) => d.toServer && d.now < T0 + 1000 && parseDatagram(d.data).some((p) => p.form === 'long' && p.type === 'handshake'),
    });
    // The server's ACK of the 0-RTT packets was due 25 ms after them, and it has no 1-RTT keys to send it until the
    // Finished comes: its pollTimeout named that past time while handleTimeout could do nothing about it, so the
    // simulation went round at one instant for ever (a driver, in a busy loop of zero-length timers).
    let sameInstant = 0;
    let last = sim.now;
    await sim.run(() => {
      sameInstant = sim.now === last ? sameInstant + 1 : 0;
      last = sim.now;
      if (sameInstant > 1000) throw new Error(`no progress at ${sim.now - T0} ms: server timer ${(sim.server?.pollTimeout() ?? NaN) - T0} ms`);
      return sim.server?.isHandshakeComplete === true;
    }, 5_000);
    expect(sim.now).toBeGreaterThan(T0 + 1000);
    expect([client.earlyData, sim.server?.earlyData]).toEqual(['accepted', 'accepted']);
  });

  it('0-RTT packets that outrun a lost first Initial are held and read once the ClientHello is whole', async () => {
    const w = await world('zrtt-held');
    const client = await w.connect(true);
    const id = client.openStream(true);
    client.writeStream(id, REQUEST, true);
    // The client's first datagram (the first part of the post-quantum ClientHello) is lost; the one
    // behind it, with the rest of the ClientHello and the 0-RTT packet, is not.
    const sim = new QuicSim(client, w.server(), { seed: 'zrtt-held-2', dropFirstFromClient: 1 });
    // The simulator admits a connection only from an Initial: what it gets first is the second datagram.
    const r = await deliverRequest(sim, client, id);
    expect(r.got).toEqual(REQUEST);
    // 0-RTT packets are not retransmitted as such: data before the server's handshake completed came from the held packet.
    expect(r.beforeServerHandshake).toBe(true);
    expect(client.earlyData).toBe('accepted');
  });

  it('rejected by a server without early data: the request goes again in 1-RTT and the client reports rejected', async () => {
    const w = await world('zrtt-reject');
    const client = await w.connect(true);
    const id = client.openStream(true);
    client.writeStream(id, REQUEST, true);
    const sim = new QuicSim(client, w.server({ earlyData: false }), { seed: 'zrtt-reject-2' });
    const r = await deliverRequest(sim, client, id);
    expect(r.got).toEqual(REQUEST);
    expect(r.beforeServerHandshake).toBe(false);
    expect(client.earlyData).toBe('rejected');
    expect(sim.server?.earlyData).toBe('rejected');
    const c = r.clientEvents.find((e) => e.type === 'connected');
    expect(c?.type === 'connected' && c.info.resumed).toBe(true);
  });

  it('rejected as a replay by the AntiReplay shared with TLS (RFC 8446 §8): an earlier copy of the flight was seen', async () => {
    const w = await world('zrtt-replay');
    const client = await w.connect(true);
    const id = client.openStream(true);
    client.writeStream(id, REQUEST, true);
    // An attacker captures the client's first flight and plays it to the server first.
    const flight: Uint8Array[] = [];
    for (let t = await client.pollTransmit(T0); t; t = await client.pollTransmit(T0)) flight.push(t.data);
    const copy = await QuicConnection.accept(w.server(), flight[0] as Uint8Array, T0);
    for (const d of flight.slice(1)) await copy.handleDatagram(d, T0);
    expect(copy.earlyData).toBe('accepted');
    // The genuine flight never arrives; the client's retransmitted ClientHello (the same bytes) does.
    const sim = new QuicSim(client, w.server(), { seed: 'zrtt-replay-2' });
    const r = await deliverRequest(sim, client, id);
    expect(sim.server?.earlyData).toBe('rejected');
    expect(client.earlyData).toBe('rejected');
    expect(r.got).toEqual(REQUEST);
    expect(r.beforeServerHandshake).toBe(false);
  });

  it('a server that accepts 0-RTT but lowers a remembered limit is refused with PROTOCOL_VIOLATION (RFC 9000 §7.4.1)', async () => {
    const w = await world('zrtt-lower');
    const lowered: Partial<TransportParameters> = { ...QUIC_DEFAULT_LIMITS, initialMaxStreamsBidi: 3 };
    // A faulty server: it seals into the client's ticket the promise of a server with lower limits, so it accepts 0-RTT
    // from a client that remembers the higher ones.
    const session = w.store.take(KEY, clock()) as Session;
    const state = await openTicket(w.ring, session.ticket);
    const context = earlyDataContext({ ...DEFAULT_TRANSPORT_PARAMETERS, ...lowered });
    w.store.put(KEY, { ...session, ticket: await sealTicket(w.ring, { ...state, quicContext: context }) });
    const client = await w.connect(true);
    const id = client.openStream(true);
    client.writeStream(id, REQUEST, true);
    const sim = new QuicSim(client, w.server({ transportParameters: lowered }), { seed: 'zrtt-lower-2' });
    await sim.run(() => client.isClosed || client.error !== undefined);
    expect(sim.server?.earlyData).toBe('accepted');
    expect(client.error?.code).toBe(TransportErrorCode.PROTOCOL_VIOLATION);
    expect(client.error?.message).toMatch(/initialMaxStreamsBidi/);
  });

  it('a server without a ticket matching its current limits rejects 0-RTT (RFC 9001 §4.6.3)', async () => {
    const w = await world('zrtt-context');
    const client = await w.connect(true);
    const id = client.openStream(true);
    client.writeStream(id, REQUEST, true);
    // The server's limits changed since the ticket: higher here, which the client's data fits anyway.
    const sim = new QuicSim(client, w.server({ transportParameters: { ...QUIC_DEFAULT_LIMITS, initialMaxData: 1 << 21 } }), { seed: 'zrtt-context-2' });
    const r = await deliverRequest(sim, client, id);
    expect(client.earlyData).toBe('rejected');
    expect(r.got).toEqual(REQUEST);
  });

  for (const [name, frame] of [
    ['RETIRE_CONNECTION_ID', { type: 'retire_connection_id', sequenceNumber: 0 }],
    ['ACK', { type: 'ack', ranges: [{ smallest: 0, largest: 0 }], ackDelay: 0 }],
  ] as const) {
    it(`a 0-RTT packet carrying ${name} closes the connection with PROTOCOL_VIOLATION (RFC 9000 §12.5)`, async () => {
      const lines: string[] = [];
      const w = await world(`zrtt-frame-${name}`);
      const client = await w.connect(true, (l) => lines.push(l));
      const flight: Uint8Array[] = [];
      for (let t = await client.pollTransmit(T0); t; t = await client.pollTransmit(T0)) flight.push(t.data);
      const server = await QuicConnection.accept(w.server(), flight[0] as Uint8Array, T0);
      for (const d of flight.slice(1)) await server.handleDatagram(d, T0);
      expect(server.earlyData).toBe('accepted');
      // The client's early secret from its key log, as a peer would hold it.
      const line = lines.find((l) => l.startsWith('CLIENT_EARLY_TRAFFIC_SECRET ')) as string;
      const secret = fromHex(line.split(' ')[2] as string);
      const keys = await deriveDirectionalKeys(w.provider, QUIC_V1, AES_128_GCM_SHA256, secret);
      const first = parsePacket(flight[0] as Uint8Array, 0, { shortDcidLength: 8 }).packet as { dcid: Uint8Array; scid: Uint8Array };
      const payload = encodeFrames([frame, { type: 'padding', length: 20 }]);
      const bytes = await sealPacket(keys, { type: '0rtt', version: QUIC_V1, dcid: first.dcid, scid: first.scid }, payload, { packetNumber: 40 });
      await server.handleDatagram(bytes, T0 + 1);
      expect(server.error?.code).toBe(TransportErrorCode.PROTOCOL_VIOLATION);
    });
  }

  it('after a Retry the 0-RTT data goes again to the new connection ID and is accepted (RFC 9000 §17.2.5.3)', async () => {
    const w = await world('zrtt-retry');
    const client = await w.connect(true);
    const id = client.openStream(true);
    client.writeStream(id, REQUEST, true);
    const retry = await RetryTokens.create(w.provider);
    const sim = new QuicSim(client, w.server(), { seed: 'zrtt-retry-2', retry });
    const r = await deliverRequest(sim, client, id);
    expect(sim.retries).toBeGreaterThan(0);
    expect(r.got).toEqual(REQUEST);
    expect(r.beforeServerHandshake).toBe(true);
    expect(client.earlyData).toBe('accepted');
  });

  it('rejected by a server whose limits went down: the data still fits them and goes again in 1-RTT (RFC 9000 §7.4.1)', async () => {
    const w = await world('zrtt-reject-lower');
    const client = await w.connect(true);
    const id = client.openStream(true);
    client.writeStream(id, REQUEST, true);
    const lowered = { ...QUIC_DEFAULT_LIMITS, initialMaxStreamsBidi: 1, initialMaxData: 4096, initialMaxStreamDataBidiRemote: 1024 };
    const sim = new QuicSim(client, w.server({ transportParameters: lowered }), { seed: 'zrtt-reject-lower-2' });
    const r = await deliverRequest(sim, client, id);
    expect(client.earlyData).toBe('rejected');
    expect(r.got).toEqual(REQUEST);
    expect(client.error).toBeUndefined();
  });

  it('rejected by a server whose limits went below the data already written: the client closes rather than exceed them', async () => {
    const w = await world('zrtt-reject-below');
    const client = await w.connect(true);
    const id = client.openStream(true);
    client.writeStream(id, new Uint8Array(3000), true);
    const lowered = { ...QUIC_DEFAULT_LIMITS, initialMaxStreamDataBidiRemote: 1000 };
    const sim = new QuicSim(client, w.server({ transportParameters: lowered }), { seed: 'zrtt-reject-below-2' });
    await sim.run(() => client.error !== undefined || client.isHandshakeComplete);
    expect(client.earlyData).toBe('rejected');
    expect(client.error?.message).toMatch(/0-RTT was rejected/);
  });
});

describe('0-RTT and HelloRetryRequest (RFC 8446 §4.1.2)', () => {
  it('after a HelloRetryRequest the client sends no more 0-RTT packets; its data goes in 1-RTT', async () => {
    const w = await world('zrtt-hrr');
    const client = await w.connect(true);
    const id = client.openStream(true);
    client.writeStream(id, REQUEST.subarray(0, 8));
    // Count 0-RTT packets the client sends once it has heard from the server (the HelloRetryRequest first);
    // the rest of the request is written then, while the handshake is still under way.
    let heard = false;
    let lateZeroRtt = 0;
    const handle = client.handleDatagram.bind(client);
    client.handleDatagram = async (d, now, remote) => {
      await handle(d, now, remote);
      if (!heard) client.writeStream(id, REQUEST.subarray(8), true);
      heard = true;
    };
    const poll = client.pollTransmit.bind(client);
    client.pollTransmit = async (now) => {
      const t = await poll(now);
      for (let off = 0; t && heard && off < t.data.length;) {
        const p = parsePacket(t.data, off, { shortDcidLength: 8 });
        if (p.packet.type === '0rtt') lateZeroRtt++;
        off = p.next;
      }
      return t;
    };
    const server = w.server();
    // A server that wants a classical key share: the client's X25519MLKEM768 and x25519 shares get a HelloRetryRequest.
    const sim = new QuicSim(client, { ...server, tls: { ...server.tls, groups: ['secp256r1'] } }, { seed: 'zrtt-hrr-2' });
    const r = await deliverRequest(sim, client, id);
    const c = r.clientEvents.find((e) => e.type === 'connected');
    expect(c?.type === 'connected' && c.info.helloRetryRequest).toBe(true);
    expect(r.got).toEqual(REQUEST);
    expect(client.earlyData).toBe('rejected');
    expect(lateZeroRtt).toBe(0);
  });
});

describe('0-RTT and compatible version negotiation (RFC 9368 §2.3)', () => {
  it('a server preferring v2 switches a resuming client and still reads its 0-RTT packets, sent in the original v1', async () => {
    const w = await world('zrtt-cvn');
    const client = await w.connect(true);
    const id = client.openStream(true);
    client.writeStream(id, REQUEST, true);
    const sim = new QuicSim(client, { ...w.server(), versions: [QUIC_V2, QUIC_V1] }, { seed: 'zrtt-cvn-2' });
    const r = await deliverRequest(sim, client, id);
    expect(client.version).toBe(QUIC_V2);
    expect(r.got).toEqual(REQUEST);
    expect(r.beforeServerHandshake).toBe(true);
    expect(client.earlyData).toBe('accepted');
  });
});

describe('tickets are per QUIC version (RFC 9369 §5)', () => {
  async function connectIn(w: World, version: typeof QUIC_V1, serverVersions = [QUIC_V1, QUIC_V2], seed = 'v') {
    const server = w.server();
    const client = await QuicConnection.connect({
      tls: { ...(w.clientTls), sessionStore: w.store }, versions: [QUIC_V1, QUIC_V2], version, earlyData: true,
    }, T0);
    const sim = new QuicSim(client, { ...server, versions: serverVersions }, { seed });
    const events: QuicEvent[] = [];
    await sim.run(() => {
      events.push(...drain(client));
      return client.isHandshakeConfirmed && sim.now > T0 + 500;
    });
    const c = events.find((e) => e.type === 'connected');
    if (c?.type !== 'connected') throw new Error('no connected event');
    return { client, info: c.info };
  }

  it('a client does not start a v2 connection with a ticket from a v1 connection', async () => {
    const w = await world('zrtt-v-client');
    const { info } = await connectIn(w, QUIC_V2);
    expect(info.resumed).toBe(false);
    // The v1 ticket is still there for a v1 connection.
    expect(w.store.take(KEY, clock())).toBeDefined();
  });

  it('a server does not resume a v2 connection with a ticket issued in v1: a full handshake follows', async () => {
    const w = await world('zrtt-v-server');
    // A client that ignores the rule: its v1 ticket offered in a v2 Initial.
    w.store.put(quicSessionKey('quic.test', QUIC_V2), w.store.take(KEY, clock()) as Session);
    const { info, client } = await connectIn(w, QUIC_V2, [QUIC_V1, QUIC_V2], 'zrtt-v-server-2');
    expect(info.resumed).toBe(false);
    expect(client.earlyData).toBe('rejected');
  });

  it('after compatible version negotiation the tickets belong to the negotiated version', async () => {
    const w = await world('zrtt-v-cvn');
    while (w.store.take(KEY, clock()));
    const { client } = await connectIn(w, QUIC_V1, [QUIC_V2, QUIC_V1], 'zrtt-v-cvn-2');
    expect(client.version).toBe(QUIC_V2);
    expect(w.store.take(KEY, clock())).toBeUndefined();
    expect(w.store.take(quicSessionKey('quic.test', QUIC_V2), clock())).toBeDefined();
  });
});

describe('QUIC tickets (RFC 9001 §4.6.1)', () => {
  const nst = (ext: Uint8Array | undefined) => encodeNewSessionTicket({
    lifetime: 60, ageAdd: 1, nonce: new Uint8Array([0]), ticket: new Uint8Array(40),
    extensions: ext ? [{ type: ExtensionType.early_data, data: ext }] : [],
  }).subarray(4);

  it('a NewSessionTicket allowing 0-RTT with max_early_data_size other than 0xffffffff is a PROTOCOL_VIOLATION', () => {
    expect(() => checkTicketEarlyData(nst(encodeMaxEarlyData(16384)))).toThrow(/PROTOCOL_VIOLATION/);
    expect(() => checkTicketEarlyData(nst(encodeMaxEarlyData(0xffffffff)))).not.toThrow();
    expect(() => checkTicketEarlyData(nst(undefined))).not.toThrow();
  });

  it('a session keeps the remembered transport parameters through its encoding; a ticket state keeps its QUIC context', async () => {
    const w = await world('zrtt-encoding');
    const session = w.store.take(KEY, clock()) as Session;
    const back = decodeSession(encodeSession(session));
    expect(back.quicTransportParameters).toEqual(session.quicTransportParameters);
    expect(back.maxEarlyData).toBe(0xffffffff);
    const state = await openTicket(w.ring, session.ticket);
    expect(state.quicContext).toEqual(earlyDataContext({ ...DEFAULT_TRANSPORT_PARAMETERS, ...QUIC_DEFAULT_LIMITS }));
    expect(decodeTicketState(encodeTicketState(state)).quicContext).toEqual(state.quicContext);
  });
});

describe('an endpoint\'s 0-RTT datagrams ahead of their Initial are bounded', () => {
  it('a few datagrams per connection ID, a few IDs, for a short time', () => {
    const p = new PendingZeroRtt();
    for (let i = 0; i < MAX_PENDING_0RTT_DATAGRAMS + 3; i++) p.add('aa', new Uint8Array([i]), 0);
    expect(p.take('aa', 10).map((d) => d[0])).toEqual([...Array(MAX_PENDING_0RTT_DATAGRAMS).keys()]);
    expect(p.take('aa', 10)).toEqual([]);
    for (let i = 0; i < MAX_PENDING_0RTT_CONNECTIONS + 10; i++) p.add(`c${i}`, new Uint8Array(1), 0);
    expect(p.size).toBe(MAX_PENDING_0RTT_CONNECTIONS);
    expect(p.take('c0', 0)).toEqual([]); // the oldest went first
    p.add('late', new Uint8Array(1), 0);
    expect(p.take('late', PENDING_0RTT_LIFETIME_MS + 1)).toEqual([]);
  });

  it('holds a bounded number of bytes, whatever the datagrams\' size: the oldest connection IDs go first', () => {
    // 64 IDs × 4 datagrams of 64 KB would be 16 MB of an attacker's choosing; real 0-RTT datagrams are Initial-sized.
    const p = new PendingZeroRtt();
    const big = new Uint8Array(65_000);
    for (let i = 0; i < MAX_PENDING_0RTT_CONNECTIONS; i++) for (let k = 0; k < MAX_PENDING_0RTT_DATAGRAMS; k++) p.add(`c${i}`, big, 0);
    expect(p.bytes).toBeLessThanOrEqual(MAX_PENDING_0RTT_BYTES);
    expect(p.take('c0', 0)).toEqual([]); // let go to make room
    const last = p.take(`c${MAX_PENDING_0RTT_CONNECTIONS - 1}`, 0);
    expect(last.length).toBeGreaterThan(0);
    expect(last.every((d) => d.length === big.length)).toBe(true);
    // Initial-sized datagrams of a real client still all fit.
    const q = new PendingZeroRtt();
    for (let i = 0; i < MAX_PENDING_0RTT_CONNECTIONS; i++) for (let k = 0; k < MAX_PENDING_0RTT_DATAGRAMS; k++) q.add(`c${i}`, new Uint8Array(1452), 0);
    expect(q.size).toBe(MAX_PENDING_0RTT_CONNECTIONS);
    expect(q.bytes).toBe(MAX_PENDING_0RTT_CONNECTIONS * MAX_PENDING_0RTT_DATAGRAMS * 1452);
    expect(q.take('c0', 0)).toHaveLength(MAX_PENDING_0RTT_DATAGRAMS);
    expect(q.bytes).toBe((MAX_PENDING_0RTT_CONNECTIONS - 1) * MAX_PENDING_0RTT_DATAGRAMS * 1452);
  });
});

