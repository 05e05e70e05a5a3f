/**
 * RFC 9001 §5.7: "a server MUST NOT process incoming 1-RTT protected packets
 * before the TLS handshake is complete", but it MAY buffer them; §4.1.4 lets
 * an endpoint buffer packets of a level whose keys it does not have yet. The
 * interop matrix's handshakeloss case (quiche client) showed the server
 * dropping the client's request when it overtook the client's Finished, so
 * the client waited a PTO to send it again. Held packets are bounded.
 */
import { describe, expect, it } from 'vitest';
import { QuicConnection, type QuicServerOptions } from '../../src/quic/connection/connection.js';
import { MAX_PENDING_BYTES, MAX_PENDING_PACKETS, PendingPackets } from '../../src/quic/connection/pending-packets.js';
import { QlogJsonSeqWriter, RECORD_SEPARATOR, type QlogSink } from '../../src/quic/qlog.js';
import { QuicSim, type SimDatagram, type SimOptions } from '../helpers/quic-sim.js';
import { clock, pinnedKeyVerifier, seededProvider, testKey } from '../helpers/tls-pair.js';

interface Event {
  readonly name: string;
  readonly data: { header?: { packet_type: string }; trigger?: string };
}

function recorder(): { sink: QlogSink; events: () => Event[] } {
  const records: string[] = [];
  return {
    sink: new QlogJsonSeqWriter((r) => records.push(r)),
    events: () => records.join('').split(RECORD_SEPARATOR).slice(2).map((r) => JSON.parse(r) as Event),
  };
}

const DELAY = 20;
const PARAMS = { maxIdleTimeout: 30_000, initialMaxData: 1 << 20, initialMaxStreamDataBidiRemote: 1 << 20, initialMaxStreamDataBidiLocal: 1 << 20, initialMaxStreamsBidi: 100 };

async function setup(seed: string, sim: SimOptions) {
  const provider = seededProvider(seed);
  const key = await testKey(provider, 'ml-dsa-65');
  const serverQlog = recorder();
  const serverOptions: QuicServerOptions = {
    qlog: serverQlog.sink,
    tls: { provider, now: clock, certificate: { chain: [key.publicKey], ...key }, alpnProtocols: ['q'] },
    transportParameters: PARAMS,
  };
  const client = await QuicConnection.connect({
    tls: { provider, now: clock, serverName: 'q', verifier: pinnedKeyVerifier(key), alpnProtocols: ['q'] },
    transportParameters: PARAMS,
  }, 1_000_000);
  return { sim: new QuicSim(client, serverOptions, { seed, delay: DELAY, ...sim }), client, serverQlog };
}

const of = (events: Event[], name: string, type: string): Event[] => events.filter((e) => e.name === name && e.data.header?.packet_type === type);

describe('RFC 9001 §5.7: 1-RTT packets that reach the server before the client\'s Finished', () => {
  it('are held and read at handshake completion: the response comes one round trip later, not after a PTO', async () => {
    const FINISHED_LAG = 30;
    let finishedAt: number | undefined;
    let responseAt: number | undefined;
    let served = false;
    const request = new TextEncoder().encode('GET /');
    // The client's first datagram once its handshake is complete carries its Finished; it is held back on the wire,
    // and the request, written as it leaves, goes in the next datagram and overtakes it.
    const extraDelay = (d: SimDatagram): number => {
      if (!d.toServer || finishedAt !== undefined || !client.isHandshakeComplete) return 0;
      finishedAt = d.now;
      const id = client.openStream();
      client.writeStream(id, request, true);
      return FINISHED_LAG;
    };
    const onDelivered = (d: SimDatagram): void => {
      const server = sim.server;
      if (d.toServer && server && !served) {
        let readable = false;
        for (let e = server.poll(); e; e = server.poll()) if (e.type === 'stream' && e.event.type === 'readable' && e.event.id === 0) readable = true;
        const r = readable ? server.readStream(0) : undefined;
        if (r?.fin) {
          served = true;
          server.writeStream(0, new TextEncoder().encode('200 OK'), true);
        }
      }
      if (!d.toServer && served && responseAt === undefined && client.readStream(0)?.fin) responseAt = d.now + DELAY;
    };
    const { sim, client, serverQlog } = await setup('pending-1rtt', { extraDelay, onDelivered });
    await sim.run(() => responseAt !== undefined, 10_000);

    // Finished lands FINISHED_LAG + DELAY after it left; the response takes one more DELAY back.
    expect(responseAt! - finishedAt!).toBeLessThanOrEqual(FINISHED_LAG + 2 * DELAY + 5);
    const events = serverQlog.events();
    expect(of(events, 'transport:packet_buffered', '1RTT').length).toBeGreaterThan(0);
    expect(of(events, 'transport:packet_dropped', '1RTT')).toEqual([]);
  });

  it('at most MAX_PENDING_PACKETS are held: a flood before completion keeps the first ones and drops the rest', async () => {
    const FLOOD = 3 * MAX_PENDING_PACKETS;
    const flood = finishedOvertaken(FLOOD, () => client);
    const { sim, client, serverQlog } = await setup('pending-flood', { extraDelay: flood.extraDelay });
    await sim.run(() => flood.written() >= FLOOD && sim.server?.isHandshakeComplete === true, 10_000);
    await sim.advance(1);

    const events = serverQlog.events();
    const buffered = of(events, 'transport:packet_buffered', '1RTT');
    expect(buffered.length).toBe(MAX_PENDING_PACKETS);
    // Those held were read at completion, a moment ago: the rest of the flood comes again only a round trip after
    // the server acknowledged what it held (RFC 9000 §13.2.5: with the wait in its ACK Delay, the client's RTT stays
    // the path's and it resends at once), so only the first ones are open yet.
    const opened = new Set<number>();
    for (let e = sim.server?.poll(); e; e = sim.server?.poll()) if (e.type === 'stream' && e.event.type === 'readable') opened.add(e.event.id);
    // First come, first kept: the client's first MAX_PENDING_PACKETS bidirectional streams (IDs 0, 4, 8, …).
    expect([...opened].sort((a, b) => a - b)).toEqual(Array.from({ length: MAX_PENDING_PACKETS }, (_, i) => 4 * i));
    // The rest of the flood was dropped for want of keys, as before buffering.
    expect(of(events, 'transport:packet_dropped', '1RTT').filter((e) => e.data.trigger === 'key_unavailable').length).toBeGreaterThanOrEqual(FLOOD - MAX_PENDING_PACKETS);
  });
});

describe('RFC 9000 §10.2.1: packets held for keys when the connection closes', () => {
  it('are let go and logged as dropped: a server that closes before the client\'s Finished will never read them', async () => {
    const HELD = 3;
    const { sim, client, serverQlog } = await setup('pending-close', { extraDelay: finishedOvertaken(HELD, () => client).extraDelay });
    const buffered = (): number => of(serverQlog.events(), 'transport:packet_buffered', '1RTT').length;
    await sim.run(() => buffered() >= HELD, 10_000);
    const server = sim.server as QuicConnection;
    expect(server.isHandshakeComplete).toBe(false);
    expect(of(serverQlog.events(), 'transport:packet_dropped', '1RTT')).toEqual([]);
    const held = buffered();

    server.close(sim.now, 0, '');
    // "In the closing state, an endpoint retains only enough information to generate a packet containing a
    // CONNECTION_CLOSE frame": what waited for the 1-RTT keys goes at once.
    const dropped = of(serverQlog.events(), 'transport:packet_dropped', '1RTT');
    expect(dropped.map((e) => e.data.trigger)).toEqual(Array.from({ length: held }, () => 'key_unavailable'));
    // The Finished still arrives, and reads nothing: the closing server processes no frame but CONNECTION_CLOSE.
    await sim.run(() => server.isClosed, 10_000);
    expect(of(serverQlog.events(), 'transport:packet_received', '1RTT')).toEqual([]);
    expect(server.isHandshakeComplete).toBe(false);
  });
});

describe('RFC 9001 §4.1.4: Handshake packets that reach the client before the server\'s Initial', () => {
  it('are held until the ServerHello installs the Handshake keys: the handshake is late only by the Initial\'s own delay', async () => {
    const LAG = 15;
    const completion = async (extraDelay?: (d: SimDatagram) => number): Promise<number> => {
      const { sim, client } = await setup('pending-handshake', extraDelay ? { extraDelay } : {});
      const start = sim.now;
      await sim.run(() => client.isHandshakeComplete, 10_000);
      return sim.now - start;
    };
    const baseline = await completion();
    // The server's first datagram (its Initial with the ServerHello) is overtaken by the rest of its flight.
    const reordered = await completion((d) => (!d.toServer && d.index === 0 ? LAG : 0));
    expect(reordered).toBeLessThanOrEqual(baseline + LAG);
  });
});

describe('the pending-packet buffer', () => {
  it('is bounded in packets and bytes, first come first kept, and gives back only what became readable, in order', () => {
    const b = new PendingPackets<number>();
    for (let i = 0; i < MAX_PENDING_PACKETS + 5; i++) b.push(i % 2 ? 'handshake' : '1rtt', new Uint8Array([i]), i);
    expect(b.size).toBe(MAX_PENDING_PACKETS);
    const hs = b.take((t) => t === 'handshake');
    expect(hs.map((p) => p.context)).toEqual([1, 3, 5, 7, 9]);
    expect(b.take(() => true).map((p) => p.context)).toEqual([0, 2, 4, 6, 8]);
    expect(b.size).toBe(0);

    expect(b.push('1rtt', new Uint8Array(MAX_PENDING_BYTES - 100), 0)).toBe(true);
    expect(b.push('1rtt', new Uint8Array(101), 1)).toBe(false);
    expect(b.push('1rtt', new Uint8Array(100), 2)).toBe(true);
  });
});

/**
 * The client's Finished held back 200 ms on the wire, and each client datagram after it writing one more small
 * stream (each alone in the next datagram), `count` of them: 1-RTT packets that reach the server before its keys.
 */
function finishedOvertaken(count: number, client: () => QuicConnection): { extraDelay: (d: SimDatagram) => number; written: () => number } {
  let finishedSeen = false;
  let written = 0;
  const extraDelay = (d: SimDatagram): number => {
    const c = client();
    if (!d.toServer || !c.isHandshakeComplete || written >= count) return 0;
    const first = !finishedSeen;
    finishedSeen = true;
    c.writeStream(c.openStream(), new Uint8Array([written++]), true);
    return first ? 200 : 0;
  };
  return { extraDelay, written: () => written };
}
