/**
 * Connection IDs and migration (RFC 9000 §5.1, §8.2, §9) on the in-memory
 * network of test/helpers/quic-sim.ts: NAT rebinding mid-transfer, probing
 * packets, spoofed source addresses, connection ID issuance and retirement,
 * active client migration and the server's preferred address.
 */
import { describe, expect, it, vi } from 'vitest';
import { QuicConnection, type QuicClientOptions, type QuicServerOptions } from '../../src/quic/connection/connection.js';
import type { EndpointEvent } from '../../src/quic/connection/path.js';
import type { Paths } from '../../src/quic/connection/paths.js';
import { Recovery, type SentPacket } from '../../src/quic/connection/recovery.js';
import { newReno } from '../../src/quic/connection/congestion/new-reno.js';
import { TransportErrorCode } from '../../src/quic/errors.js';
import type { Frame } from '../../src/quic/frames/types.js';
import { statelessResetToken } from '../../src/quic/stateless-reset.js';
import { LocalConnectionIds } from '../../src/quic/connection/local-cids.js';
import { ConfigError } from '../../src/errors.js';
import { StreamUsageError } from '../../src/quic/connection/stream-errors.js';
import { QuicSim, takeEndpointEvents, type SimOptions } from '../helpers/quic-sim.js';
import { established } from '../helpers/quic-attacker.js';
import { clock, pinnedKeyVerifier, seededProvider, testKey } from '../helpers/tls-pair.js';

const LIMITS = { maxIdleTimeout: 30_000, initialMaxData: 1 << 20, initialMaxStreamDataBidiLocal: 1 << 18, initialMaxStreamDataBidiRemote: 1 << 18, initialMaxStreamsBidi: 10 };
const RESET_KEY = new Uint8Array(32).fill(7);

async function setup(
  seed: string, sim: SimOptions = {},
  o: { client?: Partial<QuicClientOptions>; server?: Partial<QuicServerOptions>; clientParams?: object; serverParams?: object } = {},
) {
  const provider = seededProvider(seed);
  const key = await testKey(provider, 'ed25519');
  const serverOptions: QuicServerOptions = {
    tls: { provider, now: clock, certificate: { chain: [key.publicKey], ...key }, alpnProtocols: ['m'] },
    transportParameters: { ...LIMITS, ...o.serverParams }, statelessResetKey: RESET_KEY, ...o.server,
  };
  const client = await QuicConnection.connect({
    tls: { provider, now: clock, serverName: 'quic.test', verifier: pinnedKeyVerifier(key), alpnProtocols: ['m'] },
    transportParameters: { ...LIMITS, ...o.clientParams }, ...o.client,
  }, 1_000_000);
  const s = new QuicSim(client, serverOptions, { seed, ...sim });
  s.clientAddress = '10.0.0.1:5000';
  return { sim: s, client };
}

/** What arrived on stream `id` of `c` since the last look, as text (its events are consumed). */
function drainStreams(c: QuicConnection, id: number): string {
  for (let e = c.poll(); e; e = c.poll()) { /* stream events only say "readable" */ }
  let text = '';
  try {
    for (let r = c.readStream(id); r && r.data.length; r = c.readStream(id)) text += new TextDecoder().decode(r.data);
  } catch (e) {
    if (!(e instanceof StreamUsageError)) throw e; // not opened by the peer yet: nothing arrived
  }
  return text;
}

const pathsOf = (c: QuicConnection): Paths => (c as unknown as { paths: Paths }).paths;
const recoveryOf = (c: QuicConnection): Recovery => (c as unknown as { recovery: Recovery }).recovery;

/** What `c` told its endpoint since the last look (the simulator's endpoint routes them as they come). */
const endpointEvents = (c: QuicConnection): EndpointEvent[] => takeEndpointEvents(c);

/**
 * A download: the client asks on one stream, the server answers with `size`
 * bytes. `midway` runs once the client holds a third of them.
 */
async function download(sim: QuicSim, client: QuicConnection, size: number, midway?: () => unknown, limitMs = 60_000): Promise<void> {
  await sim.run(() => client.isHandshakeConfirmed && sim.server?.isHandshakeConfirmed === true);
  const id = client.openStream();
  client.writeStream(id, new TextEncoder().encode('GET'), true);
  let got = 0;
  let fin = false;
  let answered = false;
  const step = (): boolean => {
    const server = sim.server as QuicConnection;
    for (let e = server.poll(); e; e = server.poll()) {
      if (e.type !== 'stream') continue;
      for (let r = server.readStream(id); r && (r.data.length || r.fin); r = server.readStream(id)) {
        if (r.fin && !answered) {
          answered = true;
          server.writeStream(id, new Uint8Array(size).fill(0xab), true);
        }
        if (r.fin) break;
      }
    }
    for (let e = client.poll(); e; e = client.poll()) {
      if (e.type === 'closed') throw new Error(`client closed: ${e.reason}`);
    }
    for (let r = client.readStream(id); r && (r.data.length || r.fin); r = client.readStream(id)) {
      got += r.data.length;
      if (r.fin) fin = true;
    }
    return fin;
  };
  if (midway) {
    await sim.run(() => step() || got >= size / 3, limitMs);
    await midway();
  }
  await sim.run(step, limitMs);
  expect(got).toBe(size);
}

describe('NAT rebinding mid-transfer (RFC 9000 §9.3, issue 12 item 8)', () => {
  it('a new port: the server validates the new path, sends there, and the download completes', async () => {
    const { sim, client } = await setup('rebind-port');
    await download(sim, client, 600_000, () => sim.rebindClient('10.0.0.1:6001'));
    const server = sim.server as QuicConnection;
    expect(pathsOf(server).current.remote).toBe('10.0.0.1:6001');
    expect(pathsOf(server).current.validated).toBe(true);
    expect(sim.bytesTo.get('10.0.0.1:6001') ?? 0).toBeGreaterThan(300_000);
  });

  it('a new address: the same, and the server sends on a fresh connection ID (§9.5)', async () => {
    const { sim, client } = await setup('rebind-addr');
    const before: { dcid: Uint8Array } = { dcid: new Uint8Array(0) };
    const dcidOf = (c: QuicConnection): Uint8Array => (c as unknown as { remoteCid: Uint8Array }).remoteCid;
    await download(sim, client, 600_000, () => {
      before.dcid = dcidOf(sim.server as QuicConnection);
      sim.rebindClient('10.9.9.9:7000');
    });
    const server = sim.server as QuicConnection;
    // §9.5: the new path gets a connection ID of the client's not used on the old one (it issued a spare).
    expect(dcidOf(server)).not.toEqual(before.dcid);
    expect(pathsOf(server).current.remote).toBe('10.9.9.9:7000');
    expect(pathsOf(server).current.validated).toBe(true);
    expect(sim.bytesTo.get('10.9.9.9:7000') ?? 0).toBeGreaterThan(300_000);
    expect(server.isClosed).toBe(false);
  });

  it('congestion state is reset on validating a new host, kept for a new port only (§9.4)', async () => {
    for (const [to, expected] of [['10.9.9.9:7000', 1], ['10.0.0.1:7000', 0]] as const) {
      const { sim, client } = await setup(`rebind-reset-${to}`);
      let resets = 0;
      await download(sim, client, 200_000, () => {
        vi.spyOn(recoveryOf(sim.server as QuicConnection), 'resetPath').mockImplementation(() => {
          resets++;
        });
        sim.rebindClient(to);
      });
      expect(resets).toBe(expected);
    }
  });

  it('the server sends at most 3× what arrived from the new address until it is validated (§8.1, §9.3.1)', async () => {
    const { sim, client } = await setup('rebind-amplification', { delay: 200 });
    let ratio = 0;
    await download(sim, client, 400_000, () => {
      sim.rebindClient('10.0.0.1:6002');
    });
    // The counters stop at validation: what was sent there unvalidated against what arrived.
    const p = pathsOf(sim.server as QuicConnection).current;
    ratio = p.sent / Math.max(1, p.received);
    expect(p.validated).toBe(true);
    expect(ratio).toBeLessThanOrEqual(3);
  });
});

describe('probing packets do not migrate (RFC 9000 §9.1, §9.3)', () => {
  it('PATH_CHALLENGE from another address is answered there, padded within 3×, and the connection stays', async () => {
    const c = await established('probe');
    const before = pathsOf(c.server).current.remote;
    const d = await c.seal([{ type: 'path_challenge', data: new Uint8Array(8).fill(0x42) }, { type: 'padding', length: 1150 }]);
    await c.deliver(d, 'elsewhere');
    const out = await c.collect();
    expect(pathsOf(c.server).current.remote).toBe(before);
    const resp = out.datagrams.filter((x) => x.frames.some((f) => f.type === 'path_response'));
    expect(resp).toHaveLength(1);
    expect(resp[0]?.remote).toBe('elsewhere');
    // §8.2.2: expanded to 1200 bytes, which 3× the challenge's datagram allows.
    expect(resp[0]?.size).toBeGreaterThanOrEqual(1200);
    expect(resp[0]?.frames.every((f) => f.type === 'path_response' || f.type === 'padding')).toBe(true);
    // Everything else still goes to the old address.
    expect(out.datagrams.filter((x) => x.remote !== 'elsewhere').every((x) => x.remote === before)).toBe(true);
  });

  it('a small PATH_CHALLENGE from another address gets a response no larger than 3× its datagram (§8.2.2)', async () => {
    const c = await established('probe-small');
    const d = await c.seal([{ type: 'path_challenge', data: new Uint8Array(8).fill(0x43) }]);
    await c.deliver(d, 'elsewhere');
    const out = await c.collect();
    const resp = out.datagrams.filter((x) => x.remote === 'elsewhere');
    expect(resp).toHaveLength(1);
    expect(resp[0]?.size).toBeLessThanOrEqual(3 * d.length);
  });

  it('NEW_CONNECTION_ID and PADDING alone do not migrate; a PING does, with PATH_CHALLENGE on both paths (§9.3.3)', async () => {
    const c = await established('probe-ncid');
    const before = pathsOf(c.server).current.remote;
    await c.deliver(await c.seal([{ type: 'new_connection_id', sequenceNumber: 2, retirePriorTo: 1, connectionId: new Uint8Array(8).fill(0x77), statelessResetToken: new Uint8Array(16).fill(1) }, { type: 'padding', length: 20 }]), 'elsewhere');
    expect(pathsOf(c.server).current.remote).toBe(before);
    await c.collect();
    await c.deliver(await c.seal([{ type: 'ping' }]), 'elsewhere');
    expect(pathsOf(c.server).current.remote).toBe('elsewhere');
    const out = await c.collect();
    const challenged = new Set(out.datagrams.filter((x) => x.frames.some((f) => f.type === 'path_challenge')).map((x) => x.remote));
    expect(challenged).toEqual(new Set(['elsewhere', before]));
    // §8.1: a 45-byte packet from the new address lets the server send at most 3× as much there.
    const toNew = out.datagrams.filter((x) => x.remote === 'elsewhere').reduce((n, x) => n + x.size, 0);
    expect(toNew).toBeLessThanOrEqual(3 * pathsOf(c.server).current.received);
  });

  it('a reordered older packet from the old address does not move the connection back (§9.3)', async () => {
    const c = await established('probe-reorder');
    const before = pathsOf(c.server).current.remote;
    const older = await c.seal([{ type: 'ping' }]);
    const newer = await c.seal([{ type: 'ping' }]);
    await c.deliver(newer, 'elsewhere');
    await c.deliver(older, before);
    expect(pathsOf(c.server).current.remote).toBe('elsewhere');
  });

  it('the server abandons an unanswered path after 3 PTOs and returns to the last validated one (§8.2.4, §9.3.2)', async () => {
    const c = await established('probe-timeout');
    const before = pathsOf(c.server).current.remote;
    await c.deliver(await c.seal([{ type: 'ping' }]), 'elsewhere');
    expect(pathsOf(c.server).current.remote).toBe('elsewhere');
    const deadline = pathsOf(c.server).current.deadline as number;
    expect(deadline).toBeGreaterThan(c.now);
    await c.server.handleTimeout(deadline);
    expect(pathsOf(c.server).current.remote).toBe(before);
    expect(c.server.isClosed).toBe(false);
  });
});

describe('spoofed source addresses (RFC 9000 §9.3.2, §9.3.3)', () => {
  it('copies of client datagrams from another address, arriving first, do not keep the connection, and the 3× limit holds', async () => {
    const { sim, client } = await setup('spoof', { copyFromClient: { from: '192.0.2.66:666', pick: (i) => i >= 8 && i < 11, lead: 2 } });
    await download(sim, client, 500_000);
    const server = sim.server as QuicConnection;
    expect(pathsOf(server).current.remote).toBe('10.0.0.1:5000');
    const toAttacker = sim.bytesTo.get('192.0.2.66:666') ?? 0;
    const fromAttacker = sim.bytesFrom.get('192.0.2.66:666') ?? 0;
    // The attack happened (the server moved and challenged the spoofed address) and stayed within 3×.
    expect(fromAttacker).toBeGreaterThan(0);
    expect(toAttacker).toBeGreaterThan(0);
    expect(toAttacker).toBeLessThanOrEqual(3 * fromAttacker);
  });
});

describe('connection IDs we issue (RFC 9000 §5.1.1, §5.1.2, §19.15, §19.16)', () => {
  it('each side issues up to the peer\'s active_connection_id_limit, with stateless reset tokens, and tells its endpoint', async () => {
    const { sim, client } = await setup('issue', {}, { clientParams: { activeConnectionIdLimit: 5 } });
    await sim.run(() => client.isHandshakeConfirmed && sim.server?.isHandshakeConfirmed === true);
    await sim.run(() => false, 500).catch(() => undefined);
    const server = sim.server as QuicConnection;
    const issued = endpointEvents(server);
    // Sequence 0 is the handshake's, routed already: four more make five.
    expect(issued).toHaveLength(4);
    expect(issued.every((e) => e.type === 'cid-issued')).toBe(true);
    const peerIds = (client as unknown as { peerCids: { activeCount: number; resetTokens(): Uint8Array[] } }).peerCids;
    expect(peerIds.activeCount).toBe(5);
    // §10.3.2: the server's tokens come from its static key, so it can reset connections it lost.
    const tokens = peerIds.resetTokens();
    for (const e of issued) {
      const t = await statelessResetToken(seededProvider('x'), RESET_KEY, e.cid);
      expect(tokens.some((x) => x.every((b, i) => b === t[i]))).toBe(true);
    }
    // The client, told the server's default limit of 2, issues one.
    expect(endpointEvents(client)).toHaveLength(1);
  });

  it('never more than 8 however high the peer\'s limit', async () => {
    const { sim, client } = await setup('issue-cap', {}, { clientParams: { activeConnectionIdLimit: 1000 } });
    await sim.run(() => client.isHandshakeConfirmed && sim.server?.isHandshakeConfirmed === true);
    expect(endpointEvents(sim.server as QuicConnection)).toHaveLength(7);
  });

  it('RETIRE_CONNECTION_ID: the endpoint stops routing that ID and a replacement is issued', async () => {
    const c = await established('retire');
    const issued = endpointEvents(c.server);
    expect(issued).toHaveLength(1);
    await c.send([{ type: 'retire_connection_id', sequenceNumber: 1 }]);
    expect(c.server.error).toBeUndefined();
    const after = endpointEvents(c.server);
    expect(after[0]).toEqual({ type: 'cid-retired', cid: issued[0]?.cid });
    expect(after[1]?.type).toBe('cid-issued');
    const out = await c.collect();
    const ncid = out.frames.find((f): f is Extract<Frame, { type: 'new_connection_id' }> => f.type === 'new_connection_id');
    expect(ncid?.sequenceNumber).toBe(2);
    expect(ncid?.connectionId).toEqual(after[1]?.cid);
    // A repeat retirement changes nothing.
    await c.send([{ type: 'retire_connection_id', sequenceNumber: 1 }]);
    expect(endpointEvents(c.server)).toHaveLength(0);
  });

  it('retiring the ID the packet was sent to is a PROTOCOL_VIOLATION, also for an issued one (§19.16)', async () => {
    const c = await established('retire-self');
    const cid = (endpointEvents(c.server)[0] as EndpointEvent).cid;
    await c.deliver(await c.seal([{ type: 'retire_connection_id', sequenceNumber: 1 }], cid));
    expect(c.server.error?.code).toBe(TransportErrorCode.PROTOCOL_VIOLATION);
  });

  it('a lost NEW_CONNECTION_ID is sent again, unless its ID was retired meanwhile (§13.3)', () => {
    const ids = new LocalConnectionIds(new Uint8Array(8), []);
    let n = 0;
    return ids.replenish(3, async () => ({ cid: new Uint8Array(8).fill(++n), resetToken: new Uint8Array(16).fill(n) })).then(() => {
      const a = ids.pollFrame() as Extract<Frame, { type: 'new_connection_id' }>;
      const b = ids.pollFrame() as Extract<Frame, { type: 'new_connection_id' }>;
      expect(ids.pollFrame()).toBeUndefined();
      ids.onLost(a);
      expect(ids.pollFrame()).toEqual(a);
      ids.onRetire({ type: 'retire_connection_id', sequenceNumber: b.sequenceNumber }, new Uint8Array(8));
      ids.onLost(b);
      expect(ids.pollFrame()).toBeUndefined();
    });
  });
});

describe('active client migration (RFC 9000 §9.2, §9.5)', () => {
  it('the client moves to a new socket mid-transfer: new connection ID, path validated both ways, transfer completes', async () => {
    const { sim, client } = await setup('migrate');
    let oldDcid: Uint8Array | undefined;
    await download(sim, client, 600_000, async () => {
      oldDcid = (client as unknown as { remoteCid: Uint8Array }).remoteCid;
      sim.rebindClient('10.0.0.77:9000');
      await client.migrate(sim.now);
    });
    const newDcid = (client as unknown as { remoteCid: Uint8Array }).remoteCid;
    expect(newDcid).not.toEqual(oldDcid);
    const server = sim.server as QuicConnection;
    expect(pathsOf(server).current.remote).toBe('10.0.0.77:9000');
    expect(pathsOf(server).current.validated).toBe(true);
    expect(pathsOf(client).current.validated).toBe(true);
    expect(pathsOf(client).current.challenge).toBeUndefined();
  });

  it('is refused before the handshake is confirmed (§9), and when the server disabled it (§18.2)', async () => {
    const a = await setup('migrate-early');
    await expect(a.client.migrate(a.sim.now)).rejects.toThrow(ConfigError);
    const b = await setup('migrate-disabled', {}, { serverParams: { disableActiveMigration: true } });
    await b.sim.run(() => b.client.isHandshakeConfirmed);
    await expect(b.client.migrate(b.sim.now)).rejects.toThrow(/disable_active_migration/);
  });
});

describe('a client only accepts packets from server addresses it chose (RFC 9000 §9)', () => {
  it('a packet from an unknown server address is discarded; the same packet from the server\'s address is not', async () => {
    const { sim, client } = await setup('client-discards');
    await sim.run(() => client.isHandshakeConfirmed && sim.server?.isHandshakeConfirmed === true);
    const server = sim.server as QuicConnection;
    const id = server.openStream();
    server.writeStream(id, new Uint8Array([1, 2, 3]), true);
    const t = await server.pollTransmit(sim.now);
    expect(t).toBeDefined();
    const streamEvents = (): number => {
      let n = 0;
      for (let e = client.poll(); e; e = client.poll()) if (e.type === 'stream') n++;
      return n;
    };
    streamEvents();
    await client.handleDatagram((t as { data: Uint8Array }).data, sim.now + 1, '198.51.100.7:443');
    expect(streamEvents()).toBe(0);
    await client.handleDatagram((t as { data: Uint8Array }).data, sim.now + 2);
    expect(streamEvents()).toBeGreaterThan(0);
    expect(client.readStream(id)?.data).toEqual(new Uint8Array([1, 2, 3]));
  });
});

describe('the server\'s preferred address (RFC 9000 §9.6, §18.2)', () => {
  const preferredAddress = { ipv4: { address: new Uint8Array([192, 0, 2, 1]), port: 4433 } };

  it('the client validates the preferred address after the handshake and moves there, with its connection ID', async () => {
    const seen: unknown[] = [];
    const { sim, client } = await setup('preferred', { serverAddresses: ['pref'] }, {
      server: { preferredAddress },
      client: { preferredAddressRemote: (a) => (seen.push(a), 'pref') },
    });
    await download(sim, client, 300_000);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ ipv4Port: 4433 });
    expect(pathsOf(client).current.remote).toBe('pref');
    const server = sim.server as QuicConnection;
    expect(pathsOf(server).current.remote).toBe('10.0.0.1:5000@pref');
    expect(sim.bytesTo.get('10.0.0.1:5000') ?? 0).toBeGreaterThan(0);
    // The preferred_address connection ID is routed like any issued one (sequence 1, §5.1.1).
    const events = endpointEvents(server);
    expect(events.filter((e) => e.type === 'cid-issued').length).toBeGreaterThanOrEqual(1);
  });

  it('§9.6.2: the server moves to its preferred address only once that path is validated, then drops newer packets that reach its original address', async () => {
    let simRef: QuicSim | undefined;
    const moves: { remote: string; validated: boolean }[] = [];
    const { sim, client } = await setup('preferred-stay', {
      serverAddresses: ['pref'],
      onDelivered: () => {
        const server = simRef?.server;
        if (!server) return;
        const c = pathsOf(server).current;
        if (moves.at(-1)?.remote !== c.remote) moves.push({ remote: c.remote, validated: c.validated });
      },
    }, {
      server: { preferredAddress, viaPreferredAddress: (r) => r.endsWith('@pref') },
      client: { preferredAddressRemote: () => 'pref' },
    });
    simRef = sim;
    await download(sim, client, 300_000);
    // Non-probing packets went through the preferred address only on a validated path (§9.6.2 MUST).
    expect(moves).toEqual([{ remote: '10.0.0.1:5000', validated: true }, { remote: '10.0.0.1:5000@pref', validated: true }]);
    const server = sim.server as QuicConnection;
    // A newer client packet reaches the server's original address first (a copy, or a stale route).
    const id = client.openStream();
    client.writeStream(id, new TextEncoder().encode('late'), true);
    await sim.advance(1);
    const newest = sim.sent.toServer.at(-1) as { data: Uint8Array };
    // Where the server endpoint sends from now on ('10.0.0.1:5000' is the client through the original address).
    const endpoint = (await sim.endpointPair()).server;
    const sentTo: string[] = [];
    const poll = endpoint.pollTransmit.bind(endpoint);
    endpoint.pollTransmit = async (now: number) => {
      const t = await poll(now);
      if (t) sentTo.push(t.remote);
      return t;
    };
    await endpoint.handleDatagram(newest.data.slice(), '10.0.0.1:5000', sim.now);
    expect(pathsOf(server).current.remote).toBe('10.0.0.1:5000@pref');
    expect(drainStreams(server, id)).toBe('');
    // The genuine one, through the preferred address, is read as usual; nothing goes back to the original address.
    await sim.advance(100);
    expect(drainStreams(server, id)).toBe('late');
    expect(pathsOf(server).current.remote).toBe('10.0.0.1:5000@pref');
    expect(sentTo.length).toBeGreaterThan(0);
    expect(sentTo.filter((r) => r !== '10.0.0.1:5000@pref')).toEqual([]);
  });

  it('an unreachable preferred address: validation fails and the client stays where it is (§9.6.1)', async () => {
    const { sim, client } = await setup('preferred-dead', {}, {
      server: { preferredAddress },
      client: { preferredAddressRemote: () => 'pref' },
    });
    await download(sim, client, 300_000);
    await sim.run(() => false, 5_000).catch(() => undefined);
    expect(pathsOf(client).current.remote).toBe('');
    expect(pathsOf(client).probe).toBeUndefined();
    expect(client.isClosed).toBe(false);
  });
});

describe('packets sent on the old path do not feed the new path\'s congestion state (RFC 9000 §9.4)', () => {
  const PEER = { ackDelayExponent: 3, maxAckDelay: 25 };
  const sent = (pn: number, timeSent: number): SentPacket =>
    ({ pn, space: 'application', timeSent, size: 1200, ackEliciting: true, inFlight: true, frames: [{ type: 'ping' }] });
  const fresh = () => new Recovery({ maxDatagramSize: 1200, isClient: false, congestionController: newReno });

  it('their acknowledgment neither grows the new window nor makes an RTT sample, and their bytes do not block the new path', () => {
    const r = fresh();
    for (let pn = 0; pn < 10; pn++) r.onPacketSent(sent(pn, 0));
    r.resetPath(50, 1200);
    const initial = { window: r.congestionWindow, rtt: r.rtt };
    // The old path's ten packets are still outstanding: the new path may send its whole initial window all the same.
    expect(r.bytesInFlight).toBe(0);
    expect(r.canSend(initial.window)).toBe(true);
    // Their acknowledgment, 400 ms after they left, arrives over the new path.
    r.onAck('application', { type: 'ack', ackDelay: 0, ranges: [{ largest: 9, smallest: 0 }] }, 400, PEER, true);
    expect(r.congestionWindow).toBe(initial.window);
    expect(r.rtt).toEqual(initial.rtt);
    expect(r.bytesInFlight).toBe(0);
    // A packet of the new path is a sample and grows the window as usual.
    r.onPacketSent(sent(10, 410));
    r.onAck('application', { type: 'ack', ackDelay: 0, ranges: [{ largest: 10, smallest: 10 }] }, 440, PEER, true);
    expect(r.rtt.latest).toBe(30);
    expect(r.congestionWindow).toBe(initial.window + 1200);
  });

  it('their loss is no congestion event for the new path, but their frames are still reported lost (to be sent again)', () => {
    const r = fresh();
    for (let pn = 0; pn < 10; pn++) r.onPacketSent(sent(pn, 0));
    r.resetPath(50, 1200);
    const window = r.congestionWindow;
    r.onPacketSent(sent(10, 60));
    // 10 is acknowledged: 0..9, 90 ms old against a 30 ms RTT, are lost (RFC 9002 §6.1).
    const { lost } = r.onAck('application', { type: 'ack', ackDelay: 0, ranges: [{ largest: 10, smallest: 10 }] }, 90, PEER, true);
    expect(lost.map((p) => p.pn)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(r.congestionWindow).toBe(window + 1200);
    expect(r.ssthresh).toBe(Infinity);
    expect(r.bytesInFlight).toBe(0);
  });
});
