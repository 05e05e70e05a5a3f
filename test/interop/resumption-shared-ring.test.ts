/**
 * Resumption across servers over real TCP, through the Node adapter: tickets
 * are sealed under a {@link TicketKeyRing} (RFC 8446 §4.6.1 leaves the ticket's
 * form to the server), so servers whose rings hold the same key material
 * accept each other's tickets, and 0-RTT (§4.2.10) can be accepted by a server
 * other than the one that issued the ticket when the fleet shares ClientHello
 * recording (§8.2). Rotation keeps old tickets valid until their key is
 * retired. No interop peer is needed: our client against our servers.
 */
import { describe, expect, it } from 'vitest';
import { connect, type PqTlsServerOptions, type PqTlsSocket } from '../../src/node/index.js';
import { MemoryAntiReplay, type AntiReplay } from '../../src/tls13/anti-replay.js';
import { MemorySessionStore } from '../../src/tls13/session.js';
import { TicketKeyRing } from '../../src/tls13/tickets.js';
import { clock, pinnedKeyVerifier, seededProvider, testKey, type TestKey } from '../helpers/tls-pair.js';
import { closed, collectText, lineEcho, listenOurServer, type OurServer } from '../helpers/tls-interop.js';

const provider = seededProvider('resumption shared ring');

/** Our server; the 0-RTT data each connection reported through 'earlyData' lands in `early`. */
async function fleetServer(key: TestKey, ring: TicketKeyRing, antiReplay?: AntiReplay, early: string[] = []): Promise<OurServer> {
  const options: PqTlsServerOptions = {
    provider, now: clock, certificate: { chain: [key.publicKey], ...key }, tickets: { sealer: ring },
    ...(antiReplay && { earlyData: { maxSize: 1024, antiReplay } }),
  };
  const echo = lineEcho();
  return listenOurServer(options, (s) => {
    s.on('earlyData', (d: Uint8Array) => early.push(new TextDecoder().decode(d)));
    echo(s);
  });
}

/** One connection from our client: echoes `line`, waits for a ticket, closes. */
async function visit(key: TestKey, server: OurServer, store: MemorySessionStore, line: string, earlyData?: string): Promise<PqTlsSocket> {
  const sock = await connect({
    host: '127.0.0.1', port: server.port, provider, now: clock, serverName: 'fleet.test',
    verifier: pinnedKeyVerifier(key), sessionStore: store,
    ...(earlyData !== undefined && { earlyData: new TextEncoder().encode(earlyData) }),
  });
  const ticket = new Promise<void>((resolve) => sock.once('session', () => resolve()));
  const rx = collectText(sock);
  sock.write(`${line}\nbye\n`);
  await rx.until(`echo: ${line}\n`);
  await ticket;
  await closed(sock);
  return sock;
}

describe('resumption across servers sharing ticket key material, over TCP (RFC 8446 §4.6.1, §8.2)', () => {
  it('a ticket of server A resumes at server B built from A\'s exported keys, with 0-RTT accepted at B', async () => {
    const key = await testKey(provider, 'ml-dsa-65');
    const ringA = await TicketKeyRing.create(provider);
    const antiReplay = new MemoryAntiReplay();
    const a = await fleetServer(key, ringA, antiReplay);
    const earlyAtB: string[] = [];
    const b = await fleetServer(key, await TicketKeyRing.create(provider, { keys: ringA.export() }), antiReplay, earlyAtB);
    const store = new MemorySessionStore();

    expect((await visit(key, a, store, 'at A')).handshakeInfo?.resumed).toBe(false);
    const early = 'early at B\n';
    const client = await visit(key, b, store, 'at B', early);
    expect(client.handshakeInfo?.resumed).toBe(true);
    expect(client.handshakeInfo?.earlyData).toBe('accepted');
    expect(client.getEphemeralKeyInfo()).toEqual({ type: 'TLSGroup', name: 'X25519MLKEM768' });

    const atB = await b.accepted();
    expect(atB.handshakeInfo?.resumed).toBe(true);
    expect(atB.handshakeInfo?.earlyData).toBe('accepted');
    expect(atB.earlyDataReceived).toBe(early.length);
    expect(earlyAtB).toEqual([early]);
    expect([...a.errors, ...b.errors]).toEqual([]);
  });

  it('a server with a ring of its own ignores the ticket and completes a full handshake (§4.2.11)', async () => {
    const key = await testKey(provider, 'ml-dsa-65');
    const a = await fleetServer(key, await TicketKeyRing.create(provider));
    const stranger = await fleetServer(key, await TicketKeyRing.create(provider));
    const store = new MemorySessionStore();
    await visit(key, a, store, 'at A');
    const sock = await visit(key, stranger, store, 'elsewhere');
    expect(sock.handshakeInfo?.resumed).toBe(false);
    expect(sock.handshakeInfo?.peerSignatureScheme).toBeDefined();
    expect(stranger.errors).toEqual([]);
  });

  it('after B rotates to a new key A\'s tickets still resume at B; once A\'s key is retired they do not', async () => {
    const key = await testKey(provider, 'ml-dsa-65');
    const ringA = await TicketKeyRing.create(provider);
    const [materialA] = ringA.export();
    const ringB = await TicketKeyRing.create(provider, { keys: ringA.export() });
    await ringB.rotate();
    const a = await fleetServer(key, ringA);
    const b = await fleetServer(key, ringB);

    // Each store holds only A's tickets when B is visited.
    const rotated = new MemorySessionStore();
    await visit(key, a, rotated, 'at A');
    expect((await visit(key, b, rotated, 'rotated')).handshakeInfo?.resumed).toBe(true);

    const retired = new MemorySessionStore();
    await visit(key, a, retired, 'at A again');
    ringB.retire(materialA?.id ?? new Uint8Array(4));
    expect((await visit(key, b, retired, 'retired')).handshakeInfo?.resumed).toBe(false);
  });
});
