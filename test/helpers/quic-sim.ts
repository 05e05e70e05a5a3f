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
import type { RemoteAddress, Transmit } from '../../src/quic/connection/path.js';
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
}

interface InFlight {
  readonly at: number;
  readonly toServer: boolean;
  readonly data: Uint8Array;
  /** The sender's address as the receiver sees it. */
  readonly from: RemoteAddress;
}

/** The address the simulated client starts with. */
export const SIM_CLIENT_ADDRESS = 'client:50000';

export class QuicSim {
  now = 1_000_000;
  private queue: InFlight[] = [];
  private readonly rnd: () => number;
  private readonly sent = { toServer: 0, toClient: 0 };
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
  private adoptedServer: QuicConnection | undefined;
  private firstServer: QuicConnection | undefined;

  constructor(readonly client: QuicConnection, private readonly serverOptions: QuicServerOptions, private readonly o: SimOptions = {}) {
    const bytes = seededRandom(o.seed ?? 'sim');
    this.rnd = () => (bytes(4).reduce((a, b) => a * 256 + b, 0) >>> 0) / 2 ** 32;
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
  rebindClient(address: RemoteAddress): void {
    this.clientAddress = address;
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
    // The server sends to an address: one the client no longer has is a black hole ('' is a
    // connection a test accepted without one: it means the current address).
    if (!toServer && t.remote !== this.clientAddress && t.remote !== '') return;
    const index = toServer ? this.sent.toServer++ : this.sent.toClient++;
    if (toServer && index < (this.o.dropFirstFromClient ?? 0)) return;
    const data = this.o.alter ? this.o.alter(t.data, toServer, index) : t.data;
    if (!data) return;
    if (this.rnd() < (this.o.loss ?? 0)) return;
    const extra = this.rnd() < (this.o.reorder ?? 0) ? (this.o.delay ?? 20) : 0;
    this.queue.push({ at: this.now + (this.o.delay ?? 20) + extra, toServer, data, from: toServer ? this.clientAddress : this.serverAddress });
  }

  private collect(server: QuicEndpoint): void {
    for (let e = server.poll(); e; e = server.poll()) {
      this.serverEvents.push(e);
      if (e.type === 'retry') this.retries++;
      if (e.type === 'connection') this.firstServer ??= e.connection;
    }
  }

  /** Runs until `done` holds or the simulated time limit passes. */
  async run(done: () => boolean, limitMs = 60_000): Promise<void> {
    const { client, server } = await this.setup();
    if (this.adoptedServer) {
      server.adopt(this.adoptedServer, this.clientAddress);
      this.adoptedServer = undefined;
    }
    const end = this.now + limitMs;
    while (!done()) {
      await this.flush(client, true);
      await this.flush(server, false);
      if (done()) return;
      const timers = [client.pollTimeout(), server.pollTimeout(), this.client.pollTimeout(), this.firstServer?.pollTimeout(), ...this.queue.map((q) => q.at)]
        .filter((t): t is number => t !== undefined);
      if (!timers.length) return;
      this.now = Math.max(this.now, Math.min(...timers));
      if (this.now > end) throw new Error('simulation time limit reached');
      const due = this.queue.filter((q) => q.at <= this.now);
      this.queue = this.queue.filter((q) => q.at > this.now);
      for (const q of due) {
        if (q.toServer) {
          this.delivered.toServer++;
          await server.handleDatagram(q.data, q.from, this.now);
          this.collect(server);
        } else {
          this.delivered.toClient++;
          await client.handleDatagram(q.data, q.from, this.now);
        }
      }
      await client.handleTimeout(this.now);
      await server.handleTimeout(this.now);
      // A connection the endpoint no longer routes (it ended) still runs its timers, as it did before endpoints.
      for (const c of [this.client, this.firstServer]) {
        const t = c?.pollTimeout();
        if (c && t !== undefined && t <= this.now) await c.handleTimeout(this.now);
      }
      this.collect(server);
    }
  }
}
