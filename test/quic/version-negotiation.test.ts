/**
 * Version negotiation (RFC 9368, RFC 9369, RFC 9000 §6) on the in-memory
 * network of test/helpers/quic-sim.ts: compatible negotiation, where a server
 * preferring QUIC v2 switches a client that offered v2 in the
 * version_information of its v1 Initial; the client's new attempt after a
 * Version Negotiation packet; and the downgrade checks of RFC 9368 §4.
 */
import { describe, expect, it } from 'vitest';
import { QuicConnection, type QuicServerOptions } from '../../src/quic/connection/connection.js';
import { checkServerVersionInformation, serverChooseVersion } from '../../src/quic/connection/version-negotiation.js';
import { QuicTransportError, TransportErrorCode } from '../../src/quic/errors.js';
import { encodeVersionNegotiation, parsePacket } from '../../src/quic/header.js';
import type { TransportParameters } from '../../src/quic/transport-parameters.js';
import { QUIC_V1, QUIC_V2, versionTable, type QuicVersion } from '../../src/quic/versions.js';
import { QuicSim } from '../helpers/quic-sim.js';
import { clock, pinnedKeyVerifier, seededProvider, testKey } from '../helpers/tls-pair.js';

const T0 = 1_000_000;

interface Sides {
  readonly client: { versions?: readonly QuicVersion[]; version?: QuicVersion; transportParameters?: Partial<TransportParameters> };
  readonly server: { versions?: readonly QuicVersion[]; ackClientHelloFirst?: boolean };
}

async function pair(seed: string, o: Sides) {
  const provider = seededProvider(seed);
  const key = await testKey(provider, 'ml-dsa-65');
  const serverOptions: QuicServerOptions = {
    tls: { provider, now: clock, certificate: { chain: [key.publicKey], ...key }, alpnProtocols: ['hq-interop'] },
    ...(o.server.versions ? { versions: o.server.versions } : {}),
    ...(o.server.ackClientHelloFirst ? { ackClientHelloFirst: true } : {}),
  };
  const client = await QuicConnection.connect({
    tls: { provider, now: clock, serverName: 'quic.test', verifier: pinnedKeyVerifier(key), alpnProtocols: ['hq-interop'] },
    ...o.client,
  }, T0);
  // The versions of the long-header packets the server sends, in order.
  const fromServer: number[] = [];
  const handle = client.handleDatagram.bind(client);
  client.handleDatagram = (d, now, remote) => {
    for (let off = 0; off < d.length;) {
      try {
        const p = parsePacket(d, off, { shortDcidLength: 8, versions: versionTable([QUIC_V1, QUIC_V2]) });
        const pkt = p.packet;
        if ('pnOffset' in pkt && pkt.version) fromServer.push(pkt.version.number);
        off = p.next;
      } catch {
        break;
      }
    }
    return handle(d, now, remote);
  };
  return { client, serverOptions, fromServer };
}

async function handshake(sim: QuicSim, client: QuicConnection): Promise<void> {
  await sim.run(() => (client.isHandshakeConfirmed && sim.server?.isHandshakeComplete === true) || client.error !== undefined || sim.server?.error !== undefined);
}

describe('compatible version negotiation (RFC 9368 §2.3, RFC 9369)', () => {
  it('a server preferring v2 switches a client whose v1 Initial offers v2: the server\'s first flight and all after it are v2', async () => {
    const { client, serverOptions, fromServer } = await pair('cvn-switch', { client: {}, server: { versions: [QUIC_V2, QUIC_V1] } });
    expect(client.version).toBe(QUIC_V1);
    const sim = new QuicSim(client, serverOptions, { seed: 'cvn-switch' });
    await handshake(sim, client);
    expect(client.error).toBeUndefined();
    expect(sim.server?.error).toBeUndefined();
    expect(client.version).toBe(QUIC_V2);
    expect(sim.server?.version).toBe(QUIC_V2);
    // The server may acknowledge the first half of the post-quantum ClientHello in v1; from its ServerHello on, v2 only.
    const firstV2 = fromServer.indexOf(QUIC_V2.number);
    expect(firstV2).toBeGreaterThanOrEqual(0);
    expect(fromServer.slice(firstV2).every((v) => v === QUIC_V2.number)).toBe(true);
  });

  it('a server that acknowledges the ClientHello before answering it does so in v1, the version it has not yet switched from (RFC 9369 §4.1)', async () => {
    const { client, serverOptions, fromServer } = await pair('cvn-ack-first', { client: {}, server: { versions: [QUIC_V2, QUIC_V1], ackClientHelloFirst: true } });
    const sim = new QuicSim(client, serverOptions, { seed: 'cvn-ack-first' });
    await handshake(sim, client);
    expect(client.error).toBeUndefined();
    expect(sim.server?.error).toBeUndefined();
    expect([client.version, sim.server?.version]).toEqual([QUIC_V2, QUIC_V2]);
    // "Before the server is able to process transport parameters from the client, it might need to respond to
    // Initial packets from the client. For these packets, the server uses the original version."
    const firstV2 = fromServer.indexOf(QUIC_V2.number);
    expect(firstV2).toBeGreaterThan(0);
    expect(fromServer.slice(0, firstV2).every((v) => v === QUIC_V1.number)).toBe(true);
    expect(fromServer.slice(firstV2).every((v) => v === QUIC_V2.number)).toBe(true);
  });

  it('a server preferring v1 stays in v1, and so does a server whose client offers only v1', async () => {
    for (const [seed, sides] of [
      ['cvn-stay-1', { client: {}, server: {} }],
      ['cvn-stay-2', { client: { versions: [QUIC_V1] }, server: { versions: [QUIC_V2, QUIC_V1] } }],
    ] as const) {
      const { client, serverOptions } = await pair(seed, sides);
      const sim = new QuicSim(client, serverOptions, { seed });
      await handshake(sim, client);
      expect(client.error).toBeUndefined();
      expect(client.version).toBe(QUIC_V1);
      expect(sim.server?.version).toBe(QUIC_V1);
    }
  });

  it('a client whose version_information names another version than its Initial\'s is refused: VERSION_NEGOTIATION_ERROR (RFC 9368 §4)', async () => {
    const { client, serverOptions } = await pair('cvn-mismatch', {
      client: { transportParameters: { versionInformation: { chosenVersion: QUIC_V2.number, availableVersions: [QUIC_V2.number, QUIC_V1.number] } } },
      server: { versions: [QUIC_V2, QUIC_V1] },
    });
    const sim = new QuicSim(client, serverOptions, { seed: 'cvn-mismatch' });
    await handshake(sim, client);
    expect(sim.server?.error?.code).toBe(TransportErrorCode.VERSION_NEGOTIATION_ERROR);
  });

  it('the client refuses a server version_information whose chosen version is not the one in use (RFC 9368 §4)', () => {
    const table = versionTable([QUIC_V1, QUIC_V2]);
    const check = () => checkServerVersionInformation(QUIC_V1, table, { chosenVersion: QUIC_V2.number, availableVersions: [QUIC_V2.number] }, false);
    expect(check).toThrow(QuicTransportError);
    expect(check).toThrow(/VERSION_NEGOTIATION_ERROR/);
    expect(() => checkServerVersionInformation(QUIC_V1, table, undefined, false)).not.toThrow();
    expect(serverChooseVersion(QUIC_V1, versionTable([QUIC_V2, QUIC_V1]), { chosenVersion: 1, availableVersions: [1, QUIC_V2.number] })).toBe(QUIC_V2);
  });
});

/** The client's first flight, answered with a Version Negotiation packet listing `versions` as a server endpoint would. */
async function answerWithVersionNegotiation(client: QuicConnection, versions: readonly number[]): Promise<void> {
  const first = await client.pollTransmit(T0);
  if (!first) throw new Error('no first flight');
  while (await client.pollTransmit(T0));
  const p = parsePacket(first.data, 0, { shortDcidLength: 8, versions: versionTable([QUIC_V1, QUIC_V2]) }).packet as { dcid: Uint8Array; scid: Uint8Array };
  await client.handleDatagram(encodeVersionNegotiation(p.dcid, p.scid, versions), T0 + 20);
}

describe('incompatible version negotiation (RFC 9000 §6.2, RFC 9368 §2.1)', () => {
  it('a client in v2 told by Version Negotiation that the server speaks v1 starts over in v1 and completes', async () => {
    const { client, serverOptions } = await pair('vn-retry', { client: { versions: [QUIC_V2, QUIC_V1] }, server: { versions: [QUIC_V1] } });
    expect(client.version).toBe(QUIC_V2);
    await answerWithVersionNegotiation(client, [QUIC_V1.number]);
    expect(client.isClosed).toBe(false);
    expect(client.version).toBe(QUIC_V1);
    const sim = new QuicSim(client, serverOptions, { seed: 'vn-retry' });
    sim.now = T0 + 20;
    await handshake(sim, client);
    expect(client.error).toBeUndefined();
    expect(client.isHandshakeConfirmed).toBe(true);
    expect(sim.server?.version).toBe(QUIC_V1);
  });

  it('a forged Version Negotiation packet that pushes the client down is caught by version_information: VERSION_NEGOTIATION_ERROR (RFC 9368 §4)', async () => {
    // The server speaks v2 too; an attacker's Version Negotiation packet claims only v1.
    const { client, serverOptions } = await pair('vn-downgrade', { client: { versions: [QUIC_V2, QUIC_V1] }, server: { versions: [QUIC_V1, QUIC_V2] } });
    await answerWithVersionNegotiation(client, [QUIC_V1.number]);
    const sim = new QuicSim(client, serverOptions, { seed: 'vn-downgrade' });
    sim.now = T0 + 20;
    await handshake(sim, client);
    expect(client.error?.code).toBe(TransportErrorCode.VERSION_NEGOTIATION_ERROR);
  });

  it('a Version Negotiation packet with no version the client speaks still ends the attempt (RFC 9000 §6.2)', async () => {
    const { client } = await pair('vn-none', { client: {}, server: {} });
    await answerWithVersionNegotiation(client, [0x1a2a3a4a]);
    expect(client.isClosed).toBe(true);
  });
});
