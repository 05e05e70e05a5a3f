/**
 * QUIC connections end to end over the in-memory network of test/helpers/quic-sim.ts:
 * the TLS 1.3 handshake in CRYPTO frames (RFC 9001 §4) with X25519MLKEM768 and
 * ML-DSA, streams, loss and reordering (RFC 9002), close and idle timeout (RFC 9000 §10).
 */
import { describe, expect, it } from 'vitest';
import { NamedGroup, SignatureScheme } from '../../src/pq/index.js';
import { QuicConnection, type QuicEvent, type QuicServerOptions } from '../../src/quic/connection/connection.js';
import { QuicSim, type SimOptions } from '../helpers/quic-sim.js';
import { clock, pinnedKeyVerifier, seededProvider, testKey } from '../helpers/tls-pair.js';

async function setup(seed: string, sim: SimOptions = {}) {
  const provider = seededProvider(seed);
  const key = await testKey(provider, 'ml-dsa-65');
  const serverOptions: QuicServerOptions = {
    tls: { provider, now: clock, certificate: { chain: [key.publicKey], ...key }, alpnProtocols: ['pq-echo'] },
    transportParameters: { maxIdleTimeout: 30_000, initialMaxData: 1 << 20, initialMaxStreamDataBidiRemote: 1 << 18, initialMaxStreamDataBidiLocal: 1 << 18, initialMaxStreamsBidi: 10 },
  };
  const client = await QuicConnection.connect({
    tls: { provider, now: clock, serverName: 'quic.test', verifier: pinnedKeyVerifier(key), alpnProtocols: ['pq-echo'] },
    transportParameters: { maxIdleTimeout: 30_000, initialMaxData: 1 << 20, initialMaxStreamDataBidiLocal: 1 << 18, initialMaxStreamDataBidiRemote: 1 << 18, initialMaxStreamsBidi: 10 },
  }, 1_000_000);
  return { sim: new QuicSim(client, serverOptions, { seed, ...sim }), client };
}

function drain(c: QuicConnection | undefined): QuicEvent[] {
  const out: QuicEvent[] = [];
  for (let e = c?.poll(); e; e = c?.poll()) out.push(e);
  return out;
}

/** Echo server behaviour: whatever arrives on a stream goes back on it, FIN included. */
function echo(server: QuicConnection | undefined, log: QuicEvent[]): void {
  if (!server) return;
  for (const e of drain(server)) {
    log.push(e);
    if (e.type !== 'stream' || (e.event.type !== 'readable' && e.event.type !== 'finished')) continue;
    for (let r = server.readStream(e.event.id); r; r = server.readStream(e.event.id)) {
      server.writeStream(e.event.id, r.data, r.fin);
      if (r.fin || r.data.length === 0) break;
    }
  }
}

async function echoRoundTrip(sim: QuicSim, client: QuicConnection, size: number): Promise<Uint8Array> {
  const serverEvents: QuicEvent[] = [];
  const clientEvents: QuicEvent[] = [];
  await sim.run(() => client.isHandshakeComplete && sim.server?.isHandshakeComplete === true);
  const id = client.openStream(true);
  const data = new Uint8Array(size).map((_, i) => (i * 31) & 0xff);
  client.writeStream(id, data, true);
  const received: Uint8Array[] = [];
  let fin = false;
  await sim.run(() => {
    echo(sim.server, serverEvents);
    for (const e of drain(client)) clientEvents.push(e);
    for (let r = client.readStream(id); r && (r.data.length || r.fin); r = client.readStream(id)) {
      received.push(r.data);
      if (r.fin) fin = true;
    }
    return fin;
  });
  const n = received.reduce((a, b) => a + b.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const r of received) {
    out.set(r, o);
    o += r.length;
  }
  expect(out).toEqual(data);
  return out;
}

describe('QUIC connection (RFC 9000, RFC 9001, RFC 9002) over an in-memory network', () => {
  it('hybrid PQ handshake in CRYPTO frames, then a stream echoed both ways', async () => {
    const { sim, client } = await setup('quic-basic');
    const events: QuicEvent[] = [];
    const serverEvents: QuicEvent[] = [];
    await sim.run(() => {
      events.push(...drain(client));
      serverEvents.push(...drain(sim.server));
      return events.some((e) => e.type === 'connected') && serverEvents.some((e) => e.type === 'connected');
    });
    const connected = events.find((e) => e.type === 'connected');
    if (connected?.type !== 'connected') throw new Error('no connected event');
    expect(connected.info.group).toBe(NamedGroup.X25519MLKEM768);
    expect(connected.info.peerSignatureScheme).toBe(SignatureScheme.mldsa65);
    expect(connected.info.alpn).toBe('pq-echo');
    expect(connected.peerParameters.initialMaxStreamsBidi).toBe(10);
    await echoRoundTrip(sim, client, 100_000);
  });

  it('survives 10% loss and reordering both ways', async () => {
    const { sim, client } = await setup('quic-lossy', { loss: 0.1, reorder: 0.2 });
    await echoRoundTrip(sim, client, 50_000);
  });

  it('recovers when the client’s first Initial is lost (PTO, RFC 9002 §6.2)', async () => {
    const { sim, client } = await setup('quic-first-lost', { dropFirstFromClient: 1 });
    await echoRoundTrip(sim, client, 1000);
  });

  it('an application close reaches the peer with its code (RFC 9000 §10.2)', async () => {
    const { sim, client } = await setup('quic-close');
    await echoRoundTrip(sim, client, 10);
    client.close(sim.now, 42, 'done');
    const serverEvents: QuicEvent[] = [];
    await sim.run(() => {
      serverEvents.push(...drain(sim.server));
      return serverEvents.some((e) => e.type === 'closed');
    });
    expect(serverEvents.find((e) => e.type === 'closed')).toMatchObject({ type: 'closed', local: false, code: 42, application: true, reason: 'done' });
  });

  it('an idle connection times out (RFC 9000 §10.1)', async () => {
    const { sim, client } = await setup('quic-idle');
    await echoRoundTrip(sim, client, 10);
    await sim.run(() => client.isClosed, 120_000);
    expect(client.isClosed).toBe(true);
  });
});

describe('QUIC under random loss and reordering', () => {
  for (const seed of ['a', 'b', 'c', 'd', 'e', 'f']) {
    it(`seed ${seed}: 25% loss, 30% reordering, 20 KB echoed intact`, async () => {
      const { sim, client } = await setup(`chaos-${seed}`, { loss: 0.25, reorder: 0.3 });
      await echoRoundTrip(sim, client, 20_000);
    });
  }
});

describe('1-RTT key update (RFC 9001 §6)', () => {
  it('the client updates its keys, the server follows, data keeps flowing, and a second update waits for an ACK', async () => {
    const { sim, client } = await setup('quic-key-update');
    await echoRoundTrip(sim, client, 1000);
    await client.updateKeys(sim.now);
    expect(client.keyPhase).toEqual({ phase: 1, updates: 1 });
    // §6.1: no further update before a packet with the new keys is acknowledged.
    await expect(client.updateKeys(sim.now)).rejects.toThrow(/not acknowledged/);
    await echoRoundTrip(sim, client, 20_000);
    expect(sim.server?.keyPhase).toEqual({ phase: 1, updates: 1 });
    await client.updateKeys(sim.now);
    await echoRoundTrip(sim, client, 5000);
    expect(client.keyPhase.phase).toBe(0);
    expect(sim.server?.keyPhase).toEqual({ phase: 0, updates: 2 });
  });

  it('is refused before the handshake is confirmed', async () => {
    const { client } = await setup('quic-key-update-early');
    await expect(client.updateKeys(0)).rejects.toThrow(/confirmed/);
  });
});

describe('server address validation with Retry (RFC 9000 §8.1.2, §17.2.5)', () => {
  it('the first Initial gets a Retry; the client comes back with the token and the handshake completes', async () => {
    const { RetryTokens } = await import('../../src/quic/connection/address-validation.js');
    const tokens = await RetryTokens.create(seededProvider('retry-tokens'));
    const { sim, client } = await setup('quic-retry', { retry: tokens });
    await echoRoundTrip(sim, client, 2000);
    // The hybrid ClientHello spans two Initial datagrams; only the one that starts it draws a Retry (RFC 9000 §17.2.5.2).
    expect(sim.retries).toBe(1);
  });

  it('tokens are bound to the address, the connection ID and a lifetime', async () => {
    const { RetryTokens } = await import('../../src/quic/connection/address-validation.js');
    const provider = seededProvider('retry-bind');
    const tokens = await RetryTokens.create(provider, { lifetimeMs: 1000 });
    const { client } = await setup('quic-retry-bind');
    const first = (await client.pollTransmit(0))?.data;
    const retry = await tokens.retryFor(first as Uint8Array, '10.0.0.1:4433', 0);
    await client.handleDatagram(retry as Uint8Array, 1);
    const second = (await client.pollTransmit(2))?.data;
    expect(await tokens.validate(second as Uint8Array, '10.0.0.1:4433', 2)).toBeDefined();
    expect(await tokens.validate(second as Uint8Array, '10.0.0.2:4433', 2)).toBeUndefined();
    expect(await tokens.validate(second as Uint8Array, '10.0.0.1:4433', 5000)).toBeUndefined();
    expect(await tokens.validate(first as Uint8Array, '10.0.0.1:4433', 2)).toBeUndefined();
  });
});

describe('QUIC session resumption (RFC 9001 §4.5)', () => {
  it('a ticket from the first connection resumes the second, keeping X25519MLKEM768', async () => {
    const { MemorySessionStore } = await import('../../src/tls13/session.js');
    const { TicketKeyRing } = await import('../../src/tls13/tickets.js');
    const provider = seededProvider('quic-resume');
    const key = await testKey(provider, 'ml-dsa-65');
    const store = new MemorySessionStore();
    const tickets = { sealer: await TicketKeyRing.create(provider) };
    const serverOptions: QuicServerOptions = { tls: { provider, now: clock, certificate: { chain: [key.publicKey], ...key }, alpnProtocols: ['r'], tickets } };
    const connect = () => QuicConnection.connect({ tls: { provider, now: clock, serverName: 'quic.test', verifier: pinnedKeyVerifier(key), alpnProtocols: ['r'], sessionStore: store } }, 1_000_000);

    const first = new QuicSim(await connect(), serverOptions, { seed: 'r1' });
    const e1: QuicEvent[] = [];
    // Run past the handshake so the server's NewSessionTickets (1-RTT CRYPTO frames) arrive.
    await first.run(() => {
      e1.push(...drain(first.client));
      return first.client.isHandshakeConfirmed && first.now > 1_000_500;
    });
    const c1 = e1.find((e) => e.type === 'connected');
    expect(c1?.type === 'connected' && c1.info.resumed).toBe(false);

    const second = new QuicSim(await connect(), serverOptions, { seed: 'r2' });
    const e2: QuicEvent[] = [];
    await second.run(() => {
      e2.push(...drain(second.client));
      return e2.some((e) => e.type === 'connected');
    });
    const c2 = e2.find((e) => e.type === 'connected');
    if (c2?.type !== 'connected') throw new Error('second connection did not complete');
    expect(c2.info.resumed).toBe(true);
    expect(c2.info.group).toBe(NamedGroup.X25519MLKEM768);
  });
});

describe('DATAGRAM frames (RFC 9221)', () => {
  async function datagramPair(clientMax: number | undefined, serverMax: number | undefined) {
    const provider = seededProvider('quic-datagram');
    const key = await testKey(provider, 'ed25519');
    const so: QuicServerOptions = {
      tls: { provider, now: clock, certificate: { chain: [key.publicKey], ...key }, alpnProtocols: ['d'] },
      transportParameters: serverMax === undefined ? {} : { maxDatagramFrameSize: serverMax },
    };
    const client = await QuicConnection.connect({
      tls: { provider, now: clock, serverName: 'd', verifier: pinnedKeyVerifier(key), alpnProtocols: ['d'] },
      transportParameters: clientMax === undefined ? {} : { maxDatagramFrameSize: clientMax },
    }, 1_000_000);
    const sim = new QuicSim(client, so, { seed: 'dg' });
    await sim.run(() => client.isHandshakeComplete && sim.server?.isHandshakeComplete === true);
    return { sim, client };
  }

  it('datagrams go both ways when both sides advertise max_datagram_frame_size', async () => {
    const { sim, client } = await datagramPair(1200, 1200);
    client.sendDatagram(new TextEncoder().encode('ping'));
    const got: string[] = [];
    await sim.run(() => {
      for (const e of drain(sim.server)) if (e.type === 'datagram') got.push(new TextDecoder().decode(e.data));
      return got.length > 0;
    });
    expect(got).toEqual(['ping']);
    sim.server?.sendDatagram(new TextEncoder().encode('pong'));
    const back: string[] = [];
    await sim.run(() => {
      for (const e of drain(client)) if (e.type === 'datagram') back.push(new TextDecoder().decode(e.data));
      return back.length > 0;
    });
    expect(back).toEqual(['pong']);
  });

  it('are refused locally when the peer did not advertise them, or too large for its limit', async () => {
    const { sim, client } = await datagramPair(undefined, 100);
    expect(() => client.sendDatagram(new Uint8Array(200))).toThrow(/does not fit/);
    expect(() => sim.server?.sendDatagram(new Uint8Array(10))).toThrow(/does not accept DATAGRAM/);
  });
});

describe('stateless reset (RFC 9000 §10.3)', () => {
  it('a client that receives the server’s token at the end of an undecryptable packet drains silently', async () => {
    const { statelessResetToken, encodeStatelessReset } = await import('../../src/quic/stateless-reset.js');
    const provider = seededProvider('quic-reset');
    const key = await testKey(provider, 'ed25519');
    const resetKey = new Uint8Array(32).fill(7);
    const so: QuicServerOptions = { tls: { provider, now: clock, certificate: { chain: [key.publicKey], ...key }, alpnProtocols: ['r'] }, statelessResetKey: resetKey };
    const client = await QuicConnection.connect({ tls: { provider, now: clock, serverName: 'r', verifier: pinnedKeyVerifier(key), alpnProtocols: ['r'] } }, 1_000_000);
    const sim = new QuicSim(client, so, { seed: 'reset' });
    await sim.run(() => client.isHandshakeConfirmed);
    const server = sim.server as QuicConnection;
    const token = await statelessResetToken(provider, resetKey, server.localCid);
    // Something else that merely looks like a short-header packet changes nothing.
    await client.handleDatagram(encodeStatelessReset(new Uint8Array(16).fill(1), new Uint8Array(30).fill(0x41)), sim.now);
    expect(drain(client).some((e) => e.type === 'closed')).toBe(false);
    await client.handleDatagram(encodeStatelessReset(token, new Uint8Array(30).fill(0x41)), sim.now);
    expect(drain(client).find((e) => e.type === 'closed')).toMatchObject({ local: false, reason: 'stateless reset' });
    expect((await client.pollTransmit(sim.now))?.data).toBeUndefined();
  });
});

describe('stream writes: copied, or kept as written with copy: false', () => {
  /** The server reads stream `id` to its end; `change` runs after the client's write, before anything is sent. */
  async function sendAndChange(seed: string, options: { copy?: boolean } | undefined): Promise<Uint8Array> {
    const { sim, client } = await setup(seed);
    await sim.run(() => client.isHandshakeComplete && sim.server?.isHandshakeComplete === true);
    const id = client.openStream(true);
    const data = new Uint8Array(5000).fill(1);
    client.writeStream(id, data, true, options);
    data.fill(2);
    const got: Uint8Array[] = [];
    let fin = false;
    await sim.run(() => {
      for (const e of drain(sim.server)) {
        if (e.type !== 'stream' || (e.event.type !== 'readable' && e.event.type !== 'finished') || e.event.id !== id) continue;
        for (let r = sim.server?.readStream(id); r && (r.data.length || r.fin); r = sim.server?.readStream(id)) {
          got.push(r.data.slice());
          if (r.fin) fin = true;
        }
      }
      return fin;
    });
    const out = new Uint8Array(got.reduce((n, c) => n + c.length, 0));
    got.reduce((at, c) => (out.set(c, at), at + c.length), 0);
    return out;
  }

  it('by default the bytes are copied: what the writer does to its array afterwards is not sent', async () => {
    expect(await sendAndChange('write-copy', undefined)).toEqual(new Uint8Array(5000).fill(1));
  });

  it('with copy: false the connection keeps the writer\'s array: it is what goes out, as it is when sent', async () => {
    expect(await sendAndChange('write-no-copy', { copy: false })).toEqual(new Uint8Array(5000).fill(2));
  });
});
