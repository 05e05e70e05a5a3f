import { describe, expect, it } from 'vitest';
import { fromUtf8, utf8 } from '../../src/bytes.js';
import { AlertDescription } from '../../src/errors.js';
import { NamedGroup, type CryptoProvider } from '../../src/pq/index.js';
import { MemoryAntiReplay } from '../../src/tls13/anti-replay.js';
import type { ClientOptions, ServerOptions } from '../../src/tls13/config.js';
import { TlsConnection } from '../../src/tls13/connection.js';
import { MemorySessionStore, type Session, type SessionStore } from '../../src/tls13/session.js';
import { TicketKeyRing } from '../../src/tls13/tickets.js';
import { NOW, drain, pinnedKeyVerifier, pump, seededProvider, testKey, type TestKey } from '../helpers/tls-pair.js';

interface World {
  provider: CryptoProvider;
  key: TestKey;
  ring: TicketKeyRing;
  store: MemorySessionStore;
  clock: { now: number };
}

async function world(seed: string): Promise<World> {
  const provider = seededProvider(seed);
  return { provider, key: await testKey(provider, 'ml-dsa-65'), ring: await TicketKeyRing.create(provider), store: new MemorySessionStore(), clock: { now: NOW } };
}

function serverOpts(w: World, extra: Partial<ServerOptions> = {}): ServerOptions {
  return { provider: w.provider, now: () => w.clock.now, certificate: { chain: [w.key.publicKey], ...w.key }, tickets: { sealer: w.ring }, ...extra };
}
function clientOpts(w: World, extra: Partial<ClientOptions> = {}): ClientOptions {
  return { provider: w.provider, now: () => w.clock.now, serverName: 'example.test', verifier: pinnedKeyVerifier(w.key), sessionStore: w.store, ...extra };
}

/** One connection, run to completion with the server's tickets delivered. */
async function connect(c: ClientOptions, s: ServerOptions): Promise<{ client: TlsConnection; server: TlsConnection }> {
  const server = TlsConnection.server(s);
  const client = await TlsConnection.client(c);
  await pump(client, server);
  return { client, server };
}

describe('session resumption (RFC 8446 §2.2, §4.6.1)', () => {
  it('a full handshake leaves tickets; the next connection resumes with psk_dhe_ke and keeps the hybrid key exchange', async () => {
    const w = await world('resume-dhe');
    const first = await connect(clientOpts(w), serverOpts(w));
    expect(first.client.handshakeInfo?.resumed).toBe(false);
    expect(drain(first.client).filter((e) => e.type === 'ticket').length).toBe(2);

    w.clock.now += 60_000;
    const second = await connect(clientOpts(w), serverOpts(w));
    const ci = second.client.handshakeInfo;
    expect(ci?.resumed).toBe(true);
    expect(second.server.handshakeInfo?.resumed).toBe(true);
    expect(ci?.group).toBe(NamedGroup.X25519MLKEM768);
    // The server's identity is carried over from the original handshake.
    expect(ci?.peerCertificates).toEqual([w.key.publicKey]);
    await second.client.write(utf8('after resumption'));
    await pump(second.client, second.server);
    expect(drain(second.server).some((e) => e.type === 'data' && fromUtf8(e.data) === 'after resumption')).toBe(true);
  });

  it('psk_ke, when both sides opt in, resumes without a key exchange', async () => {
    const w = await world('resume-ke');
    await connect(clientOpts(w), serverOpts(w));
    const second = await connect(clientOpts(w, { pskModes: ['psk_ke'] }), serverOpts(w, { pskModes: ['psk_ke', 'psk_dhe_ke'] }));
    expect(second.client.handshakeInfo?.resumed).toBe(true);
    expect(second.client.handshakeInfo?.group).toBeUndefined();
  });

  it('a server that does not allow psk_ke answers a psk_ke-only offer with a full handshake', async () => {
    const w = await world('resume-ke-refused');
    await connect(clientOpts(w), serverOpts(w));
    const second = await connect(clientOpts(w, { pskModes: ['psk_ke'] }), serverOpts(w));
    expect(second.client.handshakeInfo?.resumed).toBe(false);
  });

  it('resumes after a HelloRetryRequest, with the binder over the new transcript (§4.1.4, §4.2.11.2)', async () => {
    const w = await world('resume-hrr');
    await connect(clientOpts(w), serverOpts(w));
    const second = await connect(clientOpts(w, { keyShareGroups: [NamedGroup.x25519] }), serverOpts(w, { groups: [NamedGroup.X25519MLKEM768] }));
    expect(second.client.handshakeInfo?.helloRetryRequest).toBe(true);
    expect(second.client.handshakeInfo?.resumed).toBe(true);
    expect(second.client.handshakeInfo?.group).toBe(NamedGroup.X25519MLKEM768);
  });

  it('servers sharing a ticket key ring accept each other’s tickets, until the key is retired', async () => {
    const w = await world('resume-ring');
    const ringB = await TicketKeyRing.create(w.provider, { keys: w.ring.export() });
    await connect(clientOpts(w), serverOpts(w));
    const onB = await connect(clientOpts(w), serverOpts(w, { tickets: { sealer: ringB } }));
    expect(onB.client.handshakeInfo?.resumed).toBe(true);

    // B rotates and retires A's key: A's remaining ticket no longer resumes on B.
    const w2 = await world('resume-ring-2');
    const ringC = await TicketKeyRing.create(w2.provider, { keys: w2.ring.export() });
    await connect(clientOpts(w2), serverOpts(w2));
    const [old] = ringC.export();
    await ringC.rotate();
    ringC.retire((old as { id: Uint8Array }).id);
    const onC = await connect(clientOpts(w2), serverOpts(w2, { tickets: { sealer: ringC } }));
    expect(onC.client.handshakeInfo?.resumed).toBe(false);
    expect(onC.client.error).toBeUndefined();
  });

  it('a tampered ticket falls back to a full handshake, never an error', async () => {
    const w = await world('resume-tamper');
    await connect(clientOpts(w), serverOpts(w));
    const tampering: SessionStore = {
      put: (k, s) => w.store.put(k, s),
      take: (k, now) => {
        const s = w.store.take(k, now) as Session;
        const ticket = s.ticket.slice();
        ticket[ticket.length - 1] = (ticket[ticket.length - 1] as number) ^ 1;
        return { ...s, ticket };
      },
    };
    const second = await connect(clientOpts(w, { sessionStore: tampering }), serverOpts(w));
    expect(second.client.handshakeInfo?.resumed).toBe(false);
    expect(second.server.error).toBeUndefined();
  });

  it('an expired ticket falls back to a full handshake', async () => {
    const w = await world('resume-expired');
    await connect(clientOpts(w), serverOpts(w, { tickets: { sealer: w.ring, lifetime: 60 } }));
    // The client still thinks it is fresh; the server's clock says otherwise.
    const second = await connect(clientOpts(w), { ...serverOpts(w), now: () => w.clock.now + 61_000 });
    expect(second.client.handshakeInfo?.resumed).toBe(false);
  });

  it('a binder that does not verify ends the handshake with decrypt_error (§4.2.11)', async () => {
    const w = await world('resume-binder');
    await connect(clientOpts(w), serverOpts(w));
    const wrongPsk: SessionStore = {
      put: () => undefined,
      take: (k, now) => {
        const s = w.store.take(k, now) as Session;
        return { ...s, psk: s.psk.map((b) => b ^ 0xff) };
      },
    };
    const second = await connect(clientOpts(w, { sessionStore: wrongPsk }), serverOpts(w));
    expect(second.server.error?.alert).toBe(AlertDescription.decrypt_error);
  });
});

describe('0-RTT early data (RFC 8446 §2.3, §4.2.10, §8)', () => {
  const early = (w: World, antiReplay = new MemoryAntiReplay()): Partial<ServerOptions> => ({ earlyData: { maxSize: 1024, antiReplay } });

  it('is accepted on resumption and delivered before the handshake completes', async () => {
    const w = await world('0rtt');
    const antiReplay = new MemoryAntiReplay();
    await connect(clientOpts(w), serverOpts(w, early(w, antiReplay)));
    const server = TlsConnection.server(serverOpts(w, early(w, antiReplay)));
    const client = await TlsConnection.client(clientOpts(w, { earlyData: utf8('GET / HTTP/1.1\r\n\r\n') }));
    await server.receive(client.takeOutput());
    // The server has the early data after the client's first flight, before any round trip.
    expect(drain(server).filter((e) => e.type === 'earlyData').map((e) => e.type === 'earlyData' && fromUtf8(e.data))).toEqual(['GET / HTTP/1.1\r\n\r\n']);
    await pump(client, server);
    expect(client.handshakeInfo?.earlyData).toBe('accepted');
    expect(server.handshakeInfo?.earlyData).toBe('accepted');
    expect(client.handshakeInfo?.resumed).toBe(true);
  });

  it('a replayed ClientHello with early data is refused the second time (ClientHello recording, §8.2)', async () => {
    const w = await world('0rtt-replay');
    const antiReplay = new MemoryAntiReplay();
    await connect(clientOpts(w), serverOpts(w, early(w, antiReplay)));
    const client = await TlsConnection.client(clientOpts(w, { earlyData: utf8('transfer 100') }));
    const flight = client.takeOutput();
    const s1 = TlsConnection.server(serverOpts(w, early(w, antiReplay)));
    await s1.receive(flight);
    expect(drain(s1).some((e) => e.type === 'earlyData')).toBe(true);
    // An attacker replays the same bytes to another server of the fleet (shared anti-replay store).
    const s2 = TlsConnection.server(serverOpts(w, early(w, antiReplay)));
    await s2.receive(flight);
    expect(drain(s2).some((e) => e.type === 'earlyData')).toBe(false);
    expect(s2.error).toBeUndefined();
  });

  it('early data beyond max_early_data_size ends the connection with unexpected_message', async () => {
    const w = await world('0rtt-limit');
    await connect(clientOpts(w), serverOpts(w, early(w)));
    const lying: SessionStore = { put: () => undefined, take: (k, now) => ({ ...(w.store.take(k, now) as Session), maxEarlyData: 1 << 20 }) };
    const { server } = await connect(clientOpts(w, { sessionStore: lying, earlyData: new Uint8Array(4000) }), serverOpts(w, early(w)));
    expect(server.error?.alert).toBe(AlertDescription.unexpected_message);
  });

  it('rejected early data is skipped by the server and, if asked, replayed as ordinary data', async () => {
    const w = await world('0rtt-rejected');
    await connect(clientOpts(w), serverOpts(w, early(w)));
    // This server shares the ticket keys but does not take 0-RTT.
    const { client, server } = await connect(clientOpts(w, { earlyData: utf8('hello early'), replayRejectedEarlyData: true }), serverOpts(w));
    expect(client.handshakeInfo?.resumed).toBe(true);
    expect(client.handshakeInfo?.earlyData).toBe('rejected');
    const events = drain(server);
    expect(events.some((e) => e.type === 'earlyData')).toBe(false);
    expect(events.filter((e) => e.type === 'data').map((e) => e.type === 'data' && fromUtf8(e.data))).toEqual(['hello early']);
  });

  it('is never sent after a HelloRetryRequest (§4.1.2)', async () => {
    const w = await world('0rtt-hrr');
    await connect(clientOpts(w), serverOpts(w, early(w)));
    const { client, server } = await connect(
      clientOpts(w, { earlyData: utf8('x'), keyShareGroups: [NamedGroup.x25519] }),
      serverOpts(w, { ...early(w), groups: [NamedGroup.X25519MLKEM768] }),
    );
    expect(client.handshakeInfo?.helloRetryRequest).toBe(true);
    expect(client.handshakeInfo?.earlyData).toBe('rejected');
    expect(server.error).toBeUndefined();
  });
});
