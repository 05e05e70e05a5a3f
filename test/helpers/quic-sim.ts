/**
 * An in-memory network for QUIC (quinn-proto's `Pair`): a client endpoint and
 * a server endpoint, the very {@link QuicEndpoint} the UDP adapter drives,
 * exchange datagrams with a fixed one-way delay; datagrams may be dropped,
 * reordered or altered by a seeded random choice, and simulated time jumps
 * straight to the next delivery or timer, so a lossy handshake runs in
 * milliseconds of real time. Each side has an address; the client's can be
 * changed mid-run (a NAT rebinding) with {@link QuicSim.rebindClient}.
 */
import { seededRandom } from '../../src/testing/index.js';
import { QuicConnection, type QuicServerOptions } from '../../src/quic/connection/connection.js';
import type { RetryTokens } from '../../src/quic/connection/address-validation.js';
import type { EndpointEvent, RemoteAddress, Transmit } from '../../src/quic/connection/path.js';
import { QuicEndpoint, type QuicEndpointEvent } from '../../src/quic/endpoint.js';

export interface SimOptions {
  /** One-way delay in ms (default 20). */
  readonly delay?: number;
  /** Probability that a datagram is lost, 0..1. */
  readonly loss?: number;
  /** Probability that a datagram is held back an extra delay (reordering). */
  readonly reorder?: number;
  readonly seed?: string;
  /** Drop the first N datagrams from the client (e.g. its first Initial). */
  readonly dropFirstFromClient?: number;
  /** The server validates addresses with Retry first (RFC 9000 §8.1.2). */
  readonly retry?: RetryTokens;
  /**
   * Rewrites (or drops, by returning undefined) the `index`-th datagram (from 0) sent
   * each way, before loss is drawn: corruption on the wire.
   */
  readonly alter?: (d: Uint8Array, toServer: boolean, index: number) => Uint8Array | undefined;
  /** Server handshakes cut off after this long (default: none, the simulation's own limit bounds them). */
  readonly handshakeTimeoutMs?: number;
  /** Server connections in handshake at once (default the endpoint's). */
  readonly maxConcurrentHandshakes?: number;
  /**
   * Drops a datagram when this returns true: `index` counts the datagrams each
   * side sent (from 0), `now` is the simulated time it was sent.
   */
  readonly drop?: (d: SimDatagram) => boolean;
  /**
   * Extra ms this datagram spends on the wire (reordering on purpose): called as it is sent,
   * after `drop`; later datagrams may overtake it.
   */
  readonly extraDelay?: (d: SimDatagram) => number;
  /** Called after each delivered datagram was handled, before the next one (for exact per-datagram assertions). */
  readonly onDelivered?: (d: SimDatagram) => void;
  /** The path's MTU for UDP payloads: larger datagrams are dropped, as a router would (RFC 8899 §1). */
  readonly pathMtu?: number;
  /**
   * More addresses the server receives on (a preferred address, RFC 9000 §9.6):
   * the client names them as they are; the server sees a datagram that reached
   * one of them as coming from `client@addr`, and sends from it to such a key.
   */
  readonly serverAddresses?: readonly string[];
  /**
   * An attacker that copies client datagrams (those `pick` chooses, by index)
   * and sends them from `from`, arriving `lead` ms before the genuine ones
   * (RFC 9000 §9.3.2, §9.3.3). Datagrams sent to `from` reach no one.
   */
  readonly copyFromClient?: { readonly from: string; readonly pick: (index: number) => boolean; readonly lead?: number };
}

/** A datagram as the simulated network sees it. */
export interface SimDatagram {
  readonly toServer: boolean;
  readonly index: number;
  readonly now: number;
  readonly data: Uint8Array;
}

interface InFlight {
  readonly at: number;
  readonly toServer: boolean;
  readonly data: Uint8Array;
  /** The sender's address as the receiver sees it. */
  readonly from: RemoteAddress;
  /** Server to client: the client address it goes to (lost if the client no longer holds it). */
  readonly to?: string;
  readonly sent: SimDatagram;
}

/** Endpoint events of simulated connections, kept as the endpoint drains them (see {@link takeEndpointEvents}). */
const journals = new WeakMap<QuicConnection, EndpointEvent[]>();

function journal(c: QuicConnection): void {
  if (journals.has(c)) return;
  const j: EndpointEvent[] = [];
  journals.set(c, j);
  const poll = c.pollEndpointEvent.bind(c);
  c.pollEndpointEvent = () => {
    const e = poll();
    if (e) j.push(e);
    return e;
  };
}

/**
 * The connection-ID events `c` raised since the last call (RFC 9000 §5.1):
 * on the simulator its endpoint routes them as they come, so a test reads them
 * here rather than from `pollEndpointEvent`, which the endpoint has drained.
 */
export function takeEndpointEvents(c: QuicConnection): EndpointEvent[] {
  const direct: EndpointEvent[] = [];
  for (let e = c.pollEndpointEvent(); e; e = c.pollEndpointEvent()) direct.push(e);
  const j = journals.get(c);
  return j ? j.splice(0) : direct;
}

/** The address the simulated client starts with. */
export const SIM_CLIENT_ADDRESS = 'client:50000';

export class QuicSim {
  now = 1_000_000;
  private queue: InFlight[] = [];
  private readonly rnd: () => number;
  /** Bytes delivered each way (UDP payloads). */
  readonly deliveredBytes = { toServer: 0, toClient: 0 };
  /** Every datagram each side sent, dropped or not, in order. */
  readonly sent: { toServer: SimDatagram[]; toClient: SimDatagram[] } = { toServer: [], toClient: [] };
  /** The datagram most recently delivered each way. */
  readonly lastDelivered: { toServer?: SimDatagram; toClient?: SimDatagram } = {};
  /** Datagrams dropped for exceeding `pathMtu`. */
  tooBig = 0;
  /** The path MTU now (from the `pathMtu` option; a test may change it to model a route change). */
  pathMtu: number | undefined;
  /** Datagrams delivered each way, for assertions. */
  readonly delivered = { toServer: 0, toClient: 0 };
  /** Retries sent by the server's endpoint. */
  retries = 0;
  /** The client's address as the server sees it; {@link rebindClient} changes it. */
  clientAddress: RemoteAddress = SIM_CLIENT_ADDRESS;
  /** The server's address: the `remote` the client connection was given ('' when none). */
  serverAddress: RemoteAddress = '';
  /** Every endpoint event of the server, in order. */
  readonly serverEvents: QuicEndpointEvent[] = [];
  private endpoints: Promise<{ client: QuicEndpoint; server: QuicEndpoint }> | undefined;
  /** Server time spent in the call now running ({@link spendServerTime}), and until when the server is busy. */
  private serverSpent = 0;
  private serverFreeAt = -Infinity;
  private adoptedServer: QuicConnection | undefined;
  private firstServer: QuicConnection | undefined;

  constructor(readonly client: QuicConnection, private readonly serverOptions: QuicServerOptions, private readonly o: SimOptions = {}) {
    this.pathMtu = o.pathMtu;
    const bytes = seededRandom(o.seed ?? 'sim');
    this.rnd = () => (bytes(4).reduce((a, b) => a * 256 + b, 0) >>> 0) / 2 ** 32;
  }

  /**
   * Simulated time the server spends on the work it is doing now (a slow signature, a loaded machine): a
   * test's provider calls this from inside the server call. That call then ends `ms` later: the server sends
   * what it produced, and takes its next datagram or timer, only then, while the network and the client go on.
   */
  spendServerTime(ms: number): void {
    this.serverSpent += ms;
  }

  /** The server is still busy with work of {@link spendServerTime}. */
  private get serverBusy(): boolean {
    return this.now < this.serverFreeAt;
  }

  /** Ends a server call: the time it spent makes the server busy from `now`. */
  private settleServer(): void {
    if (this.serverSpent <= 0) return;
    this.serverFreeAt = this.now + this.serverSpent;
    this.serverSpent = 0;
  }

  /** The first connection the server endpoint accepted (or the one a test set). */
  get server(): QuicConnection | undefined {
    return this.firstServer;
  }

  /** Puts a server connection a test made with `QuicConnection.accept` on the server endpoint. */
  set server(connection: QuicConnection | undefined) {
    this.firstServer = connection;
    this.adoptedServer = connection;
  }

  /** Both endpoints, made on first use (their creation is asynchronous). */
  private setup(): Promise<{ client: QuicEndpoint; server: QuicEndpoint }> {
    this.endpoints ??= (async () => {
      const provider = this.serverOptions.tls.provider;
      const client = await QuicEndpoint.create({ provider, ...(this.serverOptions.versions ? { versions: this.serverOptions.versions } : {}) });
      // The server's address is what the client connection was given (its transmits name it; '' when none was):
      // datagrams from the server arrive from there, or the client would see a new path.
      const first = await this.client.pollTransmit(this.now);
      this.serverAddress = first?.remote ?? '';
      journal(this.client);
      client.adopt(this.client, this.serverAddress);
      if (first) this.send(first, true);
      const server = await QuicEndpoint.create({
        provider,
        server: {
          ...this.serverOptions,
          handshakeTimeoutMs: this.o.handshakeTimeoutMs ?? Infinity,
          ...(this.o.retry ? { retry: this.o.retry } : {}),
          ...(this.o.maxConcurrentHandshakes ? { maxConcurrentHandshakes: this.o.maxConcurrentHandshakes } : {}),
        },
      });
      return { client, server };
    })();
    return this.endpoints;
  }

  /** The two endpoints, for tests of the endpoint itself. */
  endpointPair(): Promise<{ client: QuicEndpoint; server: QuicEndpoint }> {
    return this.setup();
  }

  /**
   * From now on the server sees the client's datagrams come from `address`
   * (a NAT rebinding, RFC 9000 §9.3); datagrams to the old address are lost.
   */
  rebindClient(address: RemoteAddress, oldDead = true): void {
    if (oldDead) this.deadAddresses.add(this.clientAddress);
    this.deadAddresses.delete(address);
    this.clientAddress = address;
  }

  /** Addresses the client held and lost (an expired NAT mapping): datagrams to them are dropped. */
  private readonly deadAddresses = new Set<string>();
  /** Bytes the server sent to each client address, and bytes it received from each. */
  readonly bytesTo = new Map<string, number>();
  readonly bytesFrom = new Map<string, number>();
  private copied = 0;

  private count(m: Map<string, number>, k: string, n: number): void {
    m.set(k, (m.get(k) ?? 0) + n);
  }

  private async flush(ep: QuicEndpoint, toServer: boolean): Promise<void> {
    for (let i = 0; i < 1000; i++) {
      const t: Transmit | undefined = await ep.pollTransmit(this.now);
      if (!t) return;
      this.send(t, toServer);
    }
    throw new Error('endpoint keeps sending');
  }

  /** Puts one datagram on the wire, where it may be dropped, altered or delayed. */
  private send(t: Transmit, toServer: boolean): void {
    // Where it goes: the client sends to the server's address or one of `serverAddresses` (anything else
    // reaches no one); the server to a client address, `client@addr` meaning from its address `addr`.
    let from: string;
    let to: string | undefined;
    if (toServer) {
      const extraAddress = t.remote !== this.serverAddress && this.o.serverAddresses?.includes(t.remote);
      if (t.remote !== this.serverAddress && !extraAddress) return;
      from = extraAddress ? `${this.clientAddress}@${t.remote}` : this.clientAddress;
    } else {
      const at = t.remote.lastIndexOf('@');
      // '' is a connection a test accepted without an address: it means the current one.
      to = at < 0 ? (t.remote === '' ? this.clientAddress : t.remote) : t.remote.slice(0, at);
      from = at < 0 ? this.serverAddress : t.remote.slice(at + 1);
      this.count(this.bytesTo, to, t.data.length);
    }
    const log = toServer ? this.sent.toServer : this.sent.toClient;
    const sent: SimDatagram = { toServer, index: log.length, now: this.now, data: t.data };
    log.push(sent);
    const index = sent.index;
    if (toServer && index < (this.o.dropFirstFromClient ?? 0)) return;
    if (this.o.drop?.(sent)) return;
    if (this.pathMtu !== undefined && t.data.length > this.pathMtu) {
      this.tooBig++;
      return;
    }
    const data = this.o.alter ? this.o.alter(t.data, toServer, index) : t.data;
    if (!data) return;
    if (this.rnd() < (this.o.loss ?? 0)) return;
    const extra = (this.rnd() < (this.o.reorder ?? 0) ? (this.o.delay ?? 20) : 0) + (this.o.extraDelay?.(sent) ?? 0);
    const delay = this.o.delay ?? 20;
    this.queue.push({ at: this.now + delay + extra, toServer, data, from, ...(to !== undefined ? { to } : {}), sent });
    const copy = this.o.copyFromClient;
    if (toServer && copy && copy.pick(this.copied++)) {
      const via = from.lastIndexOf('@') < 0 ? '' : from.slice(from.lastIndexOf('@'));
      this.queue.push({ at: this.now + Math.max(0, delay + extra - (copy.lead ?? 1)), toServer, data: data.slice(), from: copy.from + via, sent });
    }
  }

  private collect(server: QuicEndpoint): void {
    for (let e = server.poll(); e; e = server.poll()) {
      this.serverEvents.push(e);
      if (e.type === 'retry') this.retries++;
      if (e.type === 'connection') {
        journal(e.connection);
        this.firstServer ??= e.connection;
      }
    }
  }

  /** An extra wake-up, so {@link advance} can stop at a time no endpoint timer names. */
  private wakeAt: number | undefined;

  /** Runs the network for `ms` of simulated time (timers fire and datagrams travel meanwhile). */
  async advance(ms: number): Promise<void> {
    const until = this.now + ms;
    this.wakeAt = until;
    try {
      await this.run(() => this.now >= until, ms + 1);
    } finally {
      this.wakeAt = undefined;
    }
  }

  /** Runs until `done` holds or the simulated time limit passes. */
  async run(done: () => boolean, limitMs = 60_000): Promise<void> {
    const { client, server } = await this.setup();
    if (this.adoptedServer) {
      journal(this.adoptedServer);
      server.adopt(this.adoptedServer, this.clientAddress);
      this.adoptedServer = undefined;
    }
    const end = this.now + limitMs;
    while (!done()) {
      await this.flush(client, true);
      if (!this.serverBusy) await this.flush(server, false);
      if (done()) return;
      // A busy server takes nothing before it is free (its timers and datagrams wait for then).
      const serverSide = (t: number | undefined): number | undefined => t === undefined ? undefined : Math.max(t, this.serverFreeAt);
      const timers = [
        client.pollTimeout(), serverSide(server.pollTimeout()), this.client.pollTimeout(), serverSide(this.firstServer?.pollTimeout()),
        this.serverBusy ? this.serverFreeAt : undefined, this.wakeAt, ...this.queue.map((q) => q.toServer ? serverSide(q.at) : q.at),
      ].filter((t): t is number => t !== undefined);
      if (!timers.length) return;
      this.now = Math.max(this.now, Math.min(...timers));
      if (this.now > end) throw new Error('simulation time limit reached');
      const due = this.queue.filter((q) => q.at <= this.now);
      this.queue = this.queue.filter((q) => q.at > this.now);
      const waiting: InFlight[] = [];
      for (const q of due) {
        if (q.toServer && this.serverBusy) {
          waiting.push(q);
          continue;
        }
        if (q.toServer) {
          this.count(this.bytesFrom, q.from.split('@')[0] as string, q.data.length);
          this.delivered.toServer++;
          this.deliveredBytes.toServer += q.data.length;
          this.lastDelivered.toServer = q.sent;
          await server.handleDatagram(q.data, q.from, this.now);
          this.settleServer();
          this.collect(server);
        } else {
          // A client address given up (or the attacker's) reaches no one.
          if (q.to !== undefined && (this.deadAddresses.has(q.to) || q.to === this.o.copyFromClient?.from)) continue;
          this.delivered.toClient++;
          this.deliveredBytes.toClient += q.data.length;
          this.lastDelivered.toClient = q.sent;
          await client.handleDatagram(q.data, q.from, this.now);
        }
        this.o.onDelivered?.(q.sent);
      }
      // Datagrams that reached a busy server stay in its socket, in order, ahead of later ones.
      this.queue = [...waiting, ...this.queue];
      await client.handleTimeout(this.now);
      if (!this.serverBusy) {
        await server.handleTimeout(this.now);
        this.settleServer();
      }
      // A connection the endpoint no longer routes (it ended) still runs its timers, as it did before endpoints.
      for (const c of [this.client, this.firstServer]) {
        if (c !== this.client && this.serverBusy) continue;
        const t = c?.pollTimeout();
        if (c && t !== undefined && t <= this.now) await c.handleTimeout(this.now);
        if (c !== this.client) this.settleServer();
      }
      this.collect(server);
    }
  }
}
