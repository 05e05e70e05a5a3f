/**
 * What a QuicEndpoint with many connections pays per call: its timers
 * (pollTimeout, handleTimeout), its connections' events (pollConnectionEvent)
 * and short-header packets to unknown connection IDs (RFC 9000 §10.3.1) cost
 * O(1) or O(log n) connections each, not a scan of all of them, so that idle
 * connections are free; and every idle connection's timer still fires at its
 * deadline. Also: an idle connection probes the path MTU again when the raise
 * timer ends (RFC 8899 §5.1.1, RFC 9000 §14.3). Work is counted in calls into
 * the connections, never timed.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { QuicConnection, type QuicClientOptions, type QuicEvent, type QuicServerOptions } from '../../src/quic/connection/connection.js';
import type { Transmit } from '../../src/quic/connection/path.js';
import { QuicEndpoint, type QuicEndpointEvent } from '../../src/quic/endpoint.js';
import { TimerHeap } from '../../src/quic/endpoint/timers.js';
import { seeded } from '../helpers/fc.js';
import { clock, pinnedKeyVerifier, seededProvider, testKey } from '../helpers/tls-pair.js';

const T0 = 1_000_000;

async function setup(seed: string, server: Partial<QuicServerOptions> = {}, client: Partial<QuicClientOptions> = {}) {
  const provider = seededProvider(seed);
  const key = await testKey(provider, 'ed25519');
  const serverOptions: QuicServerOptions = { tls: { provider, now: clock, certificate: { chain: [key.publicKey], ...key }, alpnProtocols: ['e'] }, ...server };
  const clientOptions: QuicClientOptions = { tls: { provider, now: clock, serverName: 'e', verifier: pinnedKeyVerifier(key), alpnProtocols: ['e'] }, ...client };
  return { provider, serverOptions, clientOptions };
}

async function transmits(ep: QuicEndpoint, now: number): Promise<Transmit[]> {
  const out: Transmit[] = [];
  for (let t = await ep.pollTransmit(now); t; t = await ep.pollTransmit(now)) out.push(t);
  return out;
}

function events(ep: QuicEndpoint): QuicEndpointEvent[] {
  const out: QuicEndpointEvent[] = [];
  for (let e = ep.poll(); e; e = ep.poll()) out.push(e);
  return out;
}

/** Moves datagrams between a client endpoint at 'cli' and a server endpoint at 'srv', with no delay, until both are quiet. */
async function pump(client: QuicEndpoint, server: QuicEndpoint, now = T0): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const [fromClient, fromServer] = [await transmits(client, now), await transmits(server, now)];
    if (!fromClient.length && !fromServer.length) return;
    for (const t of fromClient) await server.handleDatagram(t.data, 'cli', now);
    for (const t of fromServer) await client.handleDatagram(t.data, 'srv', now);
  }
  throw new Error('endpoints keep talking');
}

/** Calls into the fake connections below, by method. */
const calls = { pollTimeout: 0, handleTimeout: 0, poll: 0 };
function resetCalls(): void {
  calls.pollTimeout = calls.handleTimeout = calls.poll = 0;
}

/**
 * A connection reduced to its timer: it closes, with a 'closed' event, when
 * its deadline comes (as an idle timeout closes a real one), and counts the
 * endpoint's calls into it. `wake` is what an application write would do:
 * move its deadline and give the activity cue.
 */
function fakeConnection(n: number, deadline: number | undefined) {
  const state = { deadline, fired: [] as number[], events: [] as QuicEvent[], closed: false };
  const cid = new Uint8Array(8);
  new DataView(cid.buffer).setUint32(4, n);
  const connection = {
    localCid: cid, role: 'server', isHandshakeComplete: true,
    get isClosed() {
      return state.closed;
    },
    onActivity: undefined as (() => void) | undefined,
    handleDatagram: () => Promise.resolve(),
    pollTransmit: () => Promise.resolve(undefined),
    pollTimeout: () => (calls.pollTimeout++, state.closed ? undefined : state.deadline),
    handleTimeout: (now: number) => {
      connection.onActivity?.();
      calls.handleTimeout++;
      if (state.deadline !== undefined && now >= state.deadline) {
        state.fired.push(now);
        state.closed = true;
        state.events.push({ type: 'closed', local: true, code: 0, application: false, reason: 'idle timeout' });
      }
      return Promise.resolve();
    },
    poll: () => (calls.poll++, state.events.shift()),
    pollEndpointEvent: () => undefined,
    peerResetTokens: () => [],
  };
  const wake = (next: number | undefined, event?: QuicEvent) => {
    connection.onActivity?.();
    state.deadline = next;
    if (event) state.events.push(event);
  };
  return { connection: connection as unknown as QuicConnection, state, wake };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('QuicEndpoint timers and events with many idle connections', () => {
  it('1000 idle connections and 1 active one: pollTimeout, handleTimeout and pollConnectionEvent touch O(1) connections per call', async () => {
    const ep = await QuicEndpoint.create({ provider: seededProvider('ep-timers-scale') });
    // Deadlines in an order unlike the order of adoption, so a heap has something to sort.
    const idle = Array.from({ length: 1000 }, (_, i) => fakeConnection(i, T0 + 10_000 + ((i * 617) % 1000) * 7));
    const active = fakeConnection(1000, T0 + 100);
    for (const f of [...idle, active]) ep.adopt(f.connection, 'peer');
    expect(ep.pollTimeout()).toBe(T0 + 100);
    expect(ep.pollConnectionEvent()).toBeUndefined();

    // Nothing happened since: no connection is asked again.
    resetCalls();
    for (let i = 0; i < 10; i++) expect(ep.pollTimeout()).toBe(T0 + 100);
    expect(ep.pollConnectionEvent()).toBeUndefined();
    expect(calls).toEqual({ pollTimeout: 0, handleTimeout: 0, poll: 0 });

    // The active one moves its deadline (an application write): only it is asked for the new one.
    active.wake(T0 + 50, { type: 'connected' } as QuicEvent);
    expect(ep.pollTimeout()).toBe(T0 + 50);
    expect(calls.pollTimeout).toBe(1);
    // Its event is found without asking the 1000 others.
    resetCalls();
    expect(ep.pollConnectionEvent()).toEqual({ connection: active.connection, event: { type: 'connected' } });
    expect(calls.poll).toBeLessThanOrEqual(2);

    // Its timer fires: handleTimeout calls into it alone.
    resetCalls();
    await ep.handleTimeout(T0 + 50);
    expect(calls.handleTimeout).toBe(1);
    expect(calls.pollTimeout).toBeLessThanOrEqual(2);
    expect(active.state.fired).toEqual([T0 + 50]);
    expect(ep.connectionCount).toBe(1000);
  });

  it('every idle connection among 1000 closes at its own idle deadline, each handleTimeout calling only the due one', async () => {
    const ep = await QuicEndpoint.create({ provider: seededProvider('ep-timers-idle') });
    const fakes = Array.from({ length: 1000 }, (_, i) => fakeConnection(i, T0 + ((i * 389) % 1000) * 3 + 1));
    for (const f of fakes) ep.adopt(f.connection, 'peer');
    const done: QuicConnection[] = [];
    let rounds = 0;
    for (let t = ep.pollTimeout(); t !== undefined; t = ep.pollTimeout()) {
      resetCalls();
      await ep.handleTimeout(t);
      // Distinct deadlines: one connection is due per round, and only it is called.
      expect(calls.handleTimeout).toBe(1);
      expect(calls.pollTimeout).toBeLessThanOrEqual(2);
      for (const e of events(ep)) if (e.type === 'done') done.push(e.connection);
      rounds++;
    }
    expect(rounds).toBe(1000);
    for (const f of fakes) expect(f.state.fired).toEqual([f.state.deadline]);
    // Closed in deadline order.
    const byDeadline = [...fakes].sort((a, b) => (a.state.deadline as number) - (b.state.deadline as number)).map((f) => f.connection);
    expect(done).toEqual(byDeadline);
    expect(ep.connectionCount).toBe(0);
  });

  it('a real connection among 300 idle ones: pollTimeout is always the earliest deadline, and the connection closes at its idle timeout (RFC 9000 §10.1)', async () => {
    const { provider, serverOptions, clientOptions } = await setup('ep-timers-real');
    const server = await QuicEndpoint.create({ provider, server: serverOptions });
    const client = await QuicEndpoint.create({ provider });
    const far = Array.from({ length: 300 }, (_, i) => fakeConnection(i + 1, T0 + 10_000_000 + i));
    for (const f of far) server.adopt(f.connection, 'elsewhere');
    const c = await client.connect(clientOptions, 'srv', T0);
    await pump(client, server);
    expect(c.isHandshakeConfirmed).toBe(true);
    const accepted = events(server).find((e) => e.type === 'connection');
    const conn = accepted?.type === 'connection' ? accepted.connection : undefined;
    expect(conn).toBeDefined();
    const real = conn as QuicConnection;

    // The client goes silent; the server runs its timers only. (The first poll keys every deadline once.)
    expect(server.pollTimeout()).toBe(real.pollTimeout());
    resetCalls();
    let closedAt: number | undefined;
    let expected: number | undefined;
    for (let i = 0; i < 100 && closedAt === undefined; i++) {
      const t = server.pollTimeout();
      expect(t).toBe(real.pollTimeout());
      expected = t;
      await server.handleTimeout(t as number);
      await transmits(server, t as number);
      for (let e = real.poll(); e; e = real.poll()) if (e.type === 'closed' && e.reason === 'idle timeout') closedAt = t;
    }
    expect(real.isClosed).toBe(true);
    // Everything was exchanged at T0: the 30 s max_idle_timeout both advertise runs from there.
    expect(closedAt).toBe(T0 + 30_000);
    expect(expected).toBe(T0 + 30_000);
    // The idle ones were neither asked for their deadlines again nor run.
    expect(calls).toEqual({ pollTimeout: 0, handleTimeout: 0, poll: 0 });
    expect(server.connectionCount).toBe(300);
    expect(server.pollTimeout()).toBe(T0 + 10_000_000);
  });
});

describe('QuicEndpoint: Stateless Reset to one of many connections (RFC 9000 §10.3.1)', () => {
  it('a reset reaches only the connection whose token it carries; a stray short header reaches none', async () => {
    const { provider, serverOptions, clientOptions } = await setup('ep-timers-reset');
    const server = await QuicEndpoint.create({ provider, server: serverOptions, statelessResetKey: new Uint8Array(32).fill(7) });
    const client = await QuicEndpoint.create({ provider });
    const conns: QuicConnection[] = [];
    for (let i = 0; i < 4; i++) conns.push(await client.connect(clientOptions, 'srv', T0));
    await pump(client, server);
    expect(conns.every((c) => c.isHandshakeConfirmed)).toBe(true);
    for (const c of conns) for (let e = c.poll(); e; e = c.poll());
    // The server restarts: it knows none of them, and answers with resets.
    for (const e of events(server)) if (e.type === 'connection') server.abandon(e.connection);
    const target = conns[2] as QuicConnection;
    const id = target.openStream(true);
    target.writeStream(id, new Uint8Array(100), true);
    const resets: Transmit[] = [];
    for (const t of await transmits(client, T0 + 10)) {
      await server.handleDatagram(t.data, 'cli', T0 + 10);
      resets.push(...(await transmits(server, T0 + 10)));
    }
    expect(resets.length).toBeGreaterThan(0);

    const handled = vi.spyOn(QuicConnection.prototype, 'handleDatagram');
    // A short header to no connection ID the client routes, ending in no token: no connection is tried.
    const stray = new Uint8Array(60).fill(0x5a);
    stray[0] = 0x41;
    await client.handleDatagram(stray, 'srv', T0 + 20);
    expect(handled).not.toHaveBeenCalled();

    await client.handleDatagram((resets[0] as Transmit).data, 'srv', T0 + 20);
    expect(handled).toHaveBeenCalledTimes(1);
    expect(handled.mock.contexts[0]).toBe(target);
    const closed: QuicEvent[] = [];
    for (let e = target.poll(); e; e = target.poll()) closed.push(e);
    expect(closed.find((e) => e.type === 'closed')).toMatchObject({ local: false, reason: 'stateless reset' });
    // The others are untouched.
    for (const c of conns.filter((c) => c !== target)) {
      expect(c.isClosed).toBe(false);
      expect(c.poll()).toBeUndefined();
    }
  });
});

describe('TimerHeap: the earliest live deadline, under any sequence of moves', () => {
  it('agrees with a scan of all items (lazy invalidation, rebuilds past the stale bound)', () => {
    const op = fc.tuple(fc.nat(19), fc.option(fc.nat(50), { nil: undefined }), fc.boolean());
    fc.assert(fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
      const heap = new TimerHeap<{ n: number }>();
      const items = Array.from({ length: 20 }, (_, n) => ({ n }));
      const model = new Map<{ n: number }, number>();
      for (const [i, deadline, pop] of ops) {
        const item = items[i] as { n: number };
        if (pop && deadline !== undefined) {
          const due = heap.popDue(deadline);
          const earliest = Math.min(...model.values());
          if (earliest <= deadline) {
            expect(due).toBeDefined();
            expect(model.get(due as { n: number })).toBe(earliest);
            model.delete(due as { n: number });
          } else expect(due).toBeUndefined();
        } else {
          heap.set(item, deadline);
          if (deadline === undefined) model.delete(item);
          else model.set(item, deadline);
        }
        expect(heap.peek()).toBe(model.size ? Math.min(...model.values()) : undefined);
        expect(heap.size).toBe(model.size);
        expect(heap.nodes).toBeLessThanOrEqual(2 * model.size + 65);
      }
    }), seeded(12_101));
  });
});

describe('DPLPMTUD on an idle connection (RFC 8899 §5.1.1, RFC 9000 §14.3)', () => {
  it('the raise timer is a connection timer: a connection with nothing to send probes again after PMTU_RAISE_TIMER', async () => {
    const noIdle = { transportParameters: { maxIdleTimeout: 0 } };
    const { provider, serverOptions, clientOptions } = await setup('ep-timers-mtu', noIdle, noIdle);
    const server = await QuicEndpoint.create({ provider, server: serverOptions });
    const client = await QuicEndpoint.create({ provider });
    const c = await client.connect(clientOptions, 'srv', T0);
    // A path that carries 1300 bytes: the search settles below its 1452 ceiling and the raise timer starts.
    const PATH_MTU = 1300;
    const probesAfter: { at: number; size: number }[] = [];
    let now = T0;
    for (let i = 0; i < 2000 && now < T0 + 700_000; i++) {
      const fromClient = await transmits(client, now);
      const fromServer = await transmits(server, now);
      for (const t of fromClient) {
        if (t.data.length > c.maxDatagramSize) probesAfter.push({ at: now, size: t.data.length });
        if (t.data.length <= PATH_MTU) await server.handleDatagram(t.data, 'cli', now);
      }
      for (const t of fromServer) if (t.data.length <= PATH_MTU) await client.handleDatagram(t.data, 'srv', now);
      if (fromClient.length || fromServer.length) continue;
      const next = [client.pollTimeout(), server.pollTimeout()].filter((t): t is number => t !== undefined);
      if (!next.length) break;
      now = Math.max(now, Math.min(...next));
      await client.handleTimeout(now);
      await server.handleTimeout(now);
    }
    expect(c.isHandshakeConfirmed).toBe(true);
    expect(c.isClosed).toBe(false);
    expect(c.maxDatagramSize).toBeGreaterThan(1200);
    expect(c.maxDatagramSize).toBeLessThanOrEqual(PATH_MTU);
    // The search was over well before 600 s; the next probe comes from the raise timer alone.
    const search = probesAfter.filter((p) => p.at < T0 + 600_000);
    const raised = probesAfter.filter((p) => p.at >= T0 + 600_000);
    expect(search.length).toBeGreaterThan(0);
    expect(Math.max(...search.map((p) => p.at))).toBeLessThan(T0 + 100_000);
    expect(raised.length).toBeGreaterThan(0);
    expect(raised[0]?.size).toBe(1452);
  });
});
