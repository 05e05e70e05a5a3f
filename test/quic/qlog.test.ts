/**
 * The qlog events of a QuicConnection (draft-ietf-quic-qlog-quic-events, qlog
 * 0.3 names), on the in-memory network: loss detection's recovery:packet_lost
 * names packets that transport:packet_sent listed (RFC 9002 §6.1), metrics
 * follow the congestion controller, a key update (RFC 9001 §6) shows as
 * security:key_updated on both sides, and what is not processed shows as
 * transport:packet_dropped with its reason.
 */
import { describe, expect, it } from 'vitest';
import { QuicConnection, type QuicServerOptions } from '../../src/quic/connection/connection.js';
import { RetryTokens } from '../../src/quic/connection/address-validation.js';
import { QlogJsonSeqWriter, RECORD_SEPARATOR, type QlogSink } from '../../src/quic/qlog.js';
import { QuicSim, type SimOptions } from '../helpers/quic-sim.js';
import { clock, pinnedKeyVerifier, seededProvider, testKey } from '../helpers/tls-pair.js';

interface Event {
  readonly time: number;
  readonly name: string;
  readonly data: Record<string, unknown> & { header?: { packet_type: string; packet_number?: number } };
}

/** A sink that keeps the JSON-SEQ text, and the events parsed back from it. */
function recorder(): { sink: QlogSink; events: () => Event[] } {
  const records: string[] = [];
  return {
    sink: new QlogJsonSeqWriter((r) => records.push(r)),
    events: () => records.join('').split(RECORD_SEPARATOR).slice(2).map((r) => JSON.parse(r) as Event),
  };
}

async function setup(seed: string, sim: SimOptions = {}) {
  const provider = seededProvider(seed);
  const key = await testKey(provider, 'ml-dsa-65');
  const serverQlog = recorder();
  const clientQlog = recorder();
  const serverOptions: QuicServerOptions = {
    qlog: serverQlog.sink,
    tls: { provider, now: clock, certificate: { chain: [key.publicKey], ...key }, alpnProtocols: ['q'] },
  };
  const client = await QuicConnection.connect({
    qlog: clientQlog.sink,
    tls: { provider, now: clock, serverName: 'q', verifier: pinnedKeyVerifier(key), alpnProtocols: ['q'] },
  }, 1_000_000);
  return { sim: new QuicSim(client, serverOptions, { seed, ...sim }), client, clientQlog, serverQlog };
}

const named = (events: Event[], name: string): Event[] => events.filter((e) => e.name === name);
const pkt = (e: Event): string => `${e.data.header?.packet_type}/${e.data.header?.packet_number}`;

describe('qlog events of a QuicConnection', () => {
  it('under loss, every recovery:packet_lost names a packet that was logged as sent and never as received by the peer', async () => {
    const { sim, client, clientQlog, serverQlog } = await setup('qlog-loss', { loss: 0.25 });
    await sim.run(() => client.isHandshakeConfirmed);
    const id = client.openStream(true);
    client.writeStream(id, new Uint8Array(40_000).fill(7), true);
    let fin = false;
    await sim.run(() => {
      for (let e = sim.server?.poll(); e; e = sim.server?.poll()) {
        if (e.type !== 'stream' || e.event.type !== 'readable') continue;
        for (let r = sim.server?.readStream(e.event.id); r && (r.data.length || r.fin); r = sim.server?.readStream(e.event.id)) if (r.fin) fin = true;
      }
      return fin;
    });
    const c = clientQlog.events();
    const s = serverQlog.events();
    const lost = named(c, 'recovery:packet_lost').map(pkt);
    expect(lost.length).toBeGreaterThan(0);
    const sent = new Set(named(c, 'transport:packet_sent').map(pkt));
    const receivedByServer = new Set(named(s, 'transport:packet_received').map(pkt));
    for (const p of lost) {
      expect(sent, p).toContain(p);
      // Declared lost by a threshold (RFC 9002 §6.1) or after a PTO: the simulated network did drop it.
      expect(receivedByServer, p).not.toContain(p);
    }
    // Times never go back, and the metrics say what recovery saw: an RTT sample near the simulated 40 ms.
    c.reduce((last, e) => {
      expect(e.time).toBeGreaterThanOrEqual(last);
      return e.time;
    }, 0);
    const metrics = named(c, 'recovery:metrics_updated').map((e) => e.data);
    expect(metrics.some((m) => m.latest_rtt === 40)).toBe(true);
    expect(metrics.some((m) => typeof m.congestion_window === 'number')).toBe(true);
  });

  it('a key update shows as key_updated, local_update at the initiator and remote_update at the peer (RFC 9001 §6)', async () => {
    const { sim, client, clientQlog, serverQlog } = await setup('qlog-key-update');
    await sim.run(() => client.isHandshakeConfirmed && sim.server?.isHandshakeConfirmed === true);
    await client.updateKeys(sim.now);
    const id = client.openStream(true);
    client.writeStream(id, new Uint8Array(100), true);
    await sim.run(() => sim.server?.keyPhase.updates === 1);
    // Three PTOs later the old keys go (§6.5).
    await sim.run(() => named(serverQlog.events(), 'security:key_discarded').some((e) => e.data.key_type === 'client_1rtt_secret'));
    const updates = (events: Event[]) => named(events, 'security:key_updated').filter((e) => e.data.trigger !== 'tls').map((e) => [e.data.key_type, e.data.trigger, e.data.generation]);
    expect(updates(clientQlog.events())).toEqual([['client_1rtt_secret', 'local_update', 1], ['server_1rtt_secret', 'local_update', 1]]);
    expect(updates(serverQlog.events())).toEqual([['client_1rtt_secret', 'remote_update', 1], ['server_1rtt_secret', 'remote_update', 1]]);
    const discarded = named(serverQlog.events(), 'security:key_discarded').map((e) => [e.data.key_type, e.data.generation]);
    expect(discarded).toContainEqual(['client_1rtt_secret', 0]);
    // Handshake keys went at confirmation (RFC 9001 §4.9.2), Initial keys before them (§4.9.1).
    expect(named(clientQlog.events(), 'security:key_discarded').map((e) => e.data.key_type)).toEqual(expect.arrayContaining([
      'client_initial_secret', 'server_initial_secret', 'client_handshake_secret', 'server_handshake_secret',
    ]));
  });

  it('a datagram that does not authenticate, and a replayed one, are logged as packet_dropped with the reason', async () => {
    const { sim, client, serverQlog } = await setup('qlog-dropped');
    await sim.run(() => client.isHandshakeConfirmed && sim.server?.isHandshakeConfirmed === true);
    const server = sim.server as QuicConnection;
    client.writeStream(client.openStream(true), new Uint8Array(10), true);
    const d = (await client.pollTransmit(sim.now))?.data;
    if (!d) throw new Error('nothing to send');
    // Copies: the receiver removes header protection in place.
    const corrupted = d.slice();
    corrupted[corrupted.length - 1] = (corrupted[corrupted.length - 1] as number) ^ 1;
    await server.handleDatagram(corrupted, sim.now);
    await server.handleDatagram(d.slice(), sim.now);
    await server.handleDatagram(d.slice(), sim.now);
    const drops = named(serverQlog.events(), 'transport:packet_dropped').map((e) => [e.data.header?.packet_type, e.data.trigger]);
    expect(drops).toEqual([['1RTT', 'decryption_failure'], ['1RTT', 'duplicate']]);
  });

  it('a Retry the client follows is a packet_received of type retry, and the Initial keys are set again for its connection ID', async () => {
    const retry = await RetryTokens.create(seededProvider('qlog-retry-tokens'));
    const { sim, client, clientQlog } = await setup('qlog-retry', { retry });
    await sim.run(() => client.isHandshakeConfirmed);
    const c = clientQlog.events();
    const received = named(c, 'transport:packet_received');
    expect(received[0]?.data.header?.packet_type).toBe('retry');
    expect(received.filter((e) => e.data.header?.packet_type === 'retry')).toHaveLength(1);
    // RFC 9001 §5.2: Initial secrets derived anew from the Retry's Source Connection ID.
    expect(named(c, 'security:key_updated').filter((e) => e.data.key_type === 'client_initial_secret')).toHaveLength(2);
  });

  it('an idle timeout ends the trace with connection_closed (trigger idle_timeout) and the state closed', async () => {
    const { sim, client, clientQlog } = await setup('qlog-idle');
    await sim.run(() => client.isHandshakeConfirmed);
    await sim.run(() => client.isClosed, 120_000);
    (await client.pollTransmit(sim.now))?.data;
    const c = clientQlog.events();
    expect(named(c, 'connectivity:connection_closed').map((e) => e.data)).toEqual([
      { owner: 'local', connection_code: 0, reason: 'idle timeout', trigger: 'idle_timeout' },
    ]);
    expect(named(c, 'connectivity:connection_state_updated').map((e) => e.data.new)).toEqual([
      'attempted', 'handshake_started', 'handshake_complete', 'handshake_confirmed', 'closed',
    ]);
  });
});
