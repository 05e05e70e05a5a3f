/**
 * An in-memory network for QUIC connections (quinn-proto's test approach):
 * datagrams travel with a fixed one-way delay, may be dropped or reordered by
 * a seeded random choice, and simulated time jumps straight to the next
 * delivery or timer, so a lossy handshake runs in milliseconds of real time.
 *
 * Addresses: the client sends from {@link QuicSim.clientAddress} (`client` at
 * first; {@link QuicSim.rebindClient} changes it as a NAT rebinding or a
 * client migration does) to the server's address `server`, or to one of
 * `serverAddresses` (a preferred address, RFC 9000 §9.6). The server sees a
 * datagram that reached `server` as coming from the client's address, and one
 * that reached another of its addresses as `client@addr`; it sends to what its
 * Transmit names. A datagram sent to an address the client no longer holds is
 * lost, and counted.
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
  /** More addresses the server receives on (a preferred address); the client names them as they are. */
  readonly serverAddresses?: readonly string[];
  /**
   * An attacker that copies client datagrams (those `pick` chooses, by index)
   * and sends them from `from`, arriving `lead` ms before the genuine ones
   * (RFC 9000 §9.3.2, §9.3.3). Datagrams sent to `from` reach no one.
   */
  readonly copyFromClient?: { readonly from: string; readonly pick: (index: number) => boolean; readonly lead?: number };
}

interface InFlight {
  readonly at: number;
  readonly toServer: boolean;
  readonly data: Uint8Array;
  /** Source and destination addresses. */
  readonly from: string;
  readonly to: string;
}

const SERVER = 'server';

export class QuicSim {
  now = 1_000_000;
  server: QuicConnection | undefined;
  private queue: InFlight[] = [];
  private readonly rnd: () => number;
  private clientSent = 0;
  /** Datagrams delivered each way, for assertions. */
  readonly delivered = { toServer: 0, toClient: 0 };
  /** The client's source address now. */
  clientAddress = 'client';
  /** Addresses the client held and lost (an expired NAT mapping): datagrams to them are dropped. */
  private readonly deadAddresses = new Set<string>();
  /** Bytes the server sent to each address, and bytes it received from each. */
  readonly bytesTo = new Map<string, number>();
  readonly bytesFrom = new Map<string, number>();
  /** How the client names the server's first address (the `remote` of its first Transmit). */
  private serverKey: string | undefined;
  private clientDatagrams = 0;

  constructor(readonly client: QuicConnection, private readonly serverOptions: QuicServerOptions, private readonly o: SimOptions = {}) {
    const bytes = seededRandom(o.seed ?? 'sim');
    this.rnd = () => (bytes(4).reduce((a, b) => a * 256 + b, 0) >>> 0) / 2 ** 32;
  }

  /**
   * The client's source address becomes `address` (RFC 9000 §9: a NAT rebinding,
   * or the new socket of a migrating client); with `oldDead`, the old mapping
   * stops forwarding and datagrams sent to the old address are lost.
   */
  rebindClient(address: string, oldDead = true): void {
    if (oldDead) this.deadAddresses.add(this.clientAddress);
    this.deadAddresses.delete(address);
    this.clientAddress = address;
  }

  private count(m: Map<string, number>, k: string, n: number): void {
    m.set(k, (m.get(k) ?? 0) + n);
  }

  private async flush(conn: QuicConnection, toServer: boolean): Promise<void> {
    const delay = this.o.delay ?? 20;
    for (let i = 0; i < 1000; i++) {
      const t = await conn.pollTransmit(this.now);
      if (!t) return;
      const d = t.data;
      let from: string;
      let to: string;
      if (toServer) {
        this.serverKey ??= t.remote;
        from = this.clientAddress;
        if (t.remote === this.serverKey) to = SERVER;
        else if (this.o.serverAddresses?.includes(t.remote)) to = t.remote;
        else continue; // an address no server holds
      } else {
        const at = t.remote.lastIndexOf('@');
        [to, from] = at < 0 ? [t.remote, SERVER] : [t.remote.slice(0, at), t.remote.slice(at + 1)];
        this.count(this.bytesTo, to, d.length);
      }
      if (toServer && this.clientSent++ < (this.o.dropFirstFromClient ?? 0)) continue;
      if (this.rnd() < (this.o.loss ?? 0)) continue;
      const extra = this.rnd() < (this.o.reorder ?? 0) ? delay : 0;
      this.queue.push({ at: this.now + delay + extra, toServer, data: d, from, to });
      const copy = this.o.copyFromClient;
      if (toServer && copy && copy.pick(this.clientDatagrams++)) {
        this.queue.push({ at: this.now + Math.max(0, delay + extra - (copy.lead ?? 1)), toServer, data: d.slice(), from: copy.from, to });
      }
    }
    throw new Error('endpoint keeps sending');
  }

  /** Retries sent by the server's endpoint. */
  retries = 0;

  /** The endpoint's side of a first Initial: accept it, or answer with a Retry when validating addresses. */
  private async admit(d: Uint8Array, from: string): Promise<void> {
    const tokens = this.o.retry;
    if (!tokens) {
      this.server = await QuicConnection.accept(this.serverOptions, d, this.now, undefined, from);
      return;
    }
    const validated = await tokens.validate(d, from, this.now);
    if (validated) {
      this.server = await QuicConnection.accept(this.serverOptions, d, this.now, validated, from);
      return;
    }
    const retry = await tokens.retryFor(d, from, this.now);
    if (retry) {
      this.retries++;
      this.queue.push({ at: this.now + (this.o.delay ?? 20), toServer: false, data: retry, from: SERVER, to: from });
    }
  }

  /** Runs until `done` holds or the simulated time limit passes. */
  async run(done: () => boolean, limitMs = 60_000): Promise<void> {
    const end = this.now + limitMs;
    while (!done()) {
      await this.flush(this.client, true);
      if (this.server) await this.flush(this.server, false);
      if (done()) return;
      const timers = [this.client.pollTimeout(), this.server?.pollTimeout(), ...this.queue.map((q) => q.at)].filter((t): t is number => t !== undefined);
      if (!timers.length) return;
      this.now = Math.max(this.now, Math.min(...timers));
      if (this.now > end) throw new Error('simulation time limit reached');
      const due = this.queue.filter((q) => q.at <= this.now);
      this.queue = this.queue.filter((q) => q.at > this.now);
      for (const q of due) {
        if (q.toServer) {
          this.delivered.toServer++;
          this.count(this.bytesFrom, q.from, q.data.length);
          const remote = q.to === SERVER ? q.from : `${q.from}@${q.to}`;
          if (!this.server) await this.admit(q.data, remote);
          else await this.server.handleDatagram(q.data, this.now, remote);
        } else if (!this.deadAddresses.has(q.to) && q.to !== this.o.copyFromClient?.from) {
          // An old address not given up (rebindClient without oldDead) still reaches the client.
          this.delivered.toClient++;
          await this.client.handleDatagram(q.data, this.now, q.from === SERVER ? this.serverKey : q.from);
        }
      }
      for (const c of [this.client, this.server]) {
        const t = c?.pollTimeout();
        if (c && t !== undefined && t <= this.now) await c.handleTimeout(this.now);
      }
    }
  }
}
