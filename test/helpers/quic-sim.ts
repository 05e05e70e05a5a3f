/**
 * An in-memory network for QUIC connections (quinn-proto's test approach):
 * datagrams travel with a fixed one-way delay, may be dropped or reordered by
 * a seeded random choice, and simulated time jumps straight to the next
 * delivery or timer, so a lossy handshake runs in milliseconds of real time.
 */
import { seededRandom } from '../../src/testing/index.js';
import { QuicConnection, type QuicServerOptions } from '../../src/quic/connection/connection.js';
import type { RetryTokens } from '../../src/quic/connection/address-validation.js';

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
   * Drops a datagram when this returns true: `index` counts the datagrams each
   * side sent (from 0), `now` is the simulated time it was sent.
   */
  readonly drop?: (d: SimDatagram) => boolean;
  /** Called after each delivered datagram was handled, before the next one (for exact per-datagram assertions). */
  readonly onDelivered?: (d: SimDatagram) => void;
  /** The path's MTU for UDP payloads: larger datagrams are dropped, as a router would (RFC 8899 §1). */
  readonly pathMtu?: number;
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
  readonly sent?: SimDatagram;
}

export class QuicSim {
  now = 1_000_000;
  server: QuicConnection | undefined;
  private queue: InFlight[] = [];
  private readonly rnd: () => number;
  private clientSent = 0;
  /** Datagrams delivered each way, for assertions. */
  readonly delivered = { toServer: 0, toClient: 0 };
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

  constructor(readonly client: QuicConnection, private readonly serverOptions: QuicServerOptions, private readonly o: SimOptions = {}) {
    const bytes = seededRandom(o.seed ?? 'sim');
    this.pathMtu = o.pathMtu;
    this.rnd = () => (bytes(4).reduce((a, b) => a * 256 + b, 0) >>> 0) / 2 ** 32;
  }

  private async flush(conn: QuicConnection, toServer: boolean): Promise<void> {
    for (let i = 0; i < 1000; i++) {
      const d = await conn.pollTransmit(this.now);
      if (!d) return;
      const log = toServer ? this.sent.toServer : this.sent.toClient;
      const sd: SimDatagram = { toServer, index: log.length, now: this.now, data: d };
      log.push(sd);
      if (toServer && this.clientSent++ < (this.o.dropFirstFromClient ?? 0)) continue;
      if (this.o.drop?.(sd)) continue;
      if (this.pathMtu !== undefined && d.length > this.pathMtu) {
        this.tooBig++;
        continue;
      }
      if (this.rnd() < (this.o.loss ?? 0)) continue;
      const extra = this.rnd() < (this.o.reorder ?? 0) ? (this.o.delay ?? 20) : 0;
      this.queue.push({ at: this.now + (this.o.delay ?? 20) + extra, toServer, data: d, sent: sd });
    }
    throw new Error('endpoint keeps sending');
  }

  /** Retries sent by the server's endpoint. */
  retries = 0;

  /** The endpoint's side of a first Initial: accept it, or answer with a Retry when validating addresses. */
  private async admit(d: Uint8Array): Promise<void> {
    const tokens = this.o.retry;
    if (!tokens) {
      this.server = await QuicConnection.accept(this.serverOptions, d, this.now);
      return;
    }
    const validated = await tokens.validate(d, 'client', this.now);
    if (validated) {
      this.server = await QuicConnection.accept(this.serverOptions, d, this.now, validated);
      return;
    }
    const retry = await tokens.retryFor(d, 'client', this.now);
    if (retry) {
      this.retries++;
      this.queue.push({ at: this.now + (this.o.delay ?? 20), toServer: false, data: retry });
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
    const end = this.now + limitMs;
    while (!done()) {
      await this.flush(this.client, true);
      if (this.server) await this.flush(this.server, false);
      if (done()) return;
      const timers = [this.client.pollTimeout(), this.server?.pollTimeout(), this.wakeAt, ...this.queue.map((q) => q.at)].filter((t): t is number => t !== undefined);
      if (!timers.length) return;
      this.now = Math.max(this.now, Math.min(...timers));
      if (this.now > end) throw new Error('simulation time limit reached');
      const due = this.queue.filter((q) => q.at <= this.now);
      this.queue = this.queue.filter((q) => q.at > this.now);
      for (const q of due) {
        if (q.toServer) {
          this.delivered.toServer++;
          this.deliveredBytes.toServer += q.data.length;
          this.lastDelivered.toServer = q.sent;
          if (!this.server) await this.admit(q.data);
          else await this.server.handleDatagram(q.data, this.now);
          if (q.sent) this.o.onDelivered?.(q.sent);
        } else {
          this.delivered.toClient++;
          this.deliveredBytes.toClient += q.data.length;
          this.lastDelivered.toClient = q.sent;
          await this.client.handleDatagram(q.data, this.now);
          if (q.sent) this.o.onDelivered?.(q.sent);
        }
      }
      for (const c of [this.client, this.server]) {
        const t = c?.pollTimeout();
        if (c && t !== undefined && t <= this.now) await c.handleTimeout(this.now);
      }
    }
  }
}
