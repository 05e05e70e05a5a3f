import { ConfigError } from '../../errors.js';
import type { RemoteAddress } from './path.js';

/** Where the search stops by default: 1500-byte Ethernet less IPv6 and UDP headers (quinn's default upper bound). */
export const DEFAULT_MTU_CEILING = 1452;
/** Probes of one size lost before the size is taken as too big (RFC 8899 §5.1.2 MAX_PROBES). */
export const MAX_PROBES = 3;
/** The search ends once the bounds are this close (quinn's `minimum_change`). */
const MINIMUM_CHANGE = 20;
/** A finished search is tried again after this long (RFC 8899 §5.1.1 PMTU_RAISE_TIMER, 600 s). */
const RAISE_INTERVAL_MS = 600_000;
/** After a black hole, the search waits this long before probing again (quinn's black_hole_cooldown). */
const BLACK_HOLE_COOLDOWN_MS = 60_000;
/** Loss events of datagrams above the base size, none of them acknowledged in between, that mean a black hole (RFC 8899 §4.3). */
const BLACK_HOLE_THRESHOLD = 3;

/**
 * The largest UDP payload to probe for: one number for every path, or one per
 * path, asked of the path's remote address each time a search starts on it
 * (after the handshake, and again after a migration, RFC 9000 §9.4).
 */
export type MtuCeiling = number | ((remote: RemoteAddress) => number);

export interface MtuDiscoveryOptions {
  /**
   * The largest UDP payload to probe for (default 1452); the peer's
   * max_udp_payload_size caps it further. RFC 8899 §5.1.2 bounds MAX_PLPMTU
   * by the local interface's MTU, which only the transport knows: a function
   * lets it give each path its own (the Node adapter gives a loopback path
   * the largest UDP payload). A result below the base size (or NaN) means no
   * search on that path; a fraction is rounded down.
   */
  readonly ceiling?: MtuCeiling;
}

/**
 * Datagram Packetization Layer PMTU Discovery (RFC 9000 §14.3, RFC 8899) for
 * one path, after quinn-proto's `MtuDiscovery`: from the base size (1200 by
 * default, which every QUIC path carries) PING + PADDING probes try the ceiling
 * first, then halve the interval; an acknowledged probe raises the datagram
 * size, a size is given up after {@link MAX_PROBES} lost probes, and repeated
 * losses of datagrams above the base size with none acknowledged (a black
 * hole, §4.3) fall back to the base. Probe losses are not congestion (RFC 9000
 * §14.4): loss detection leaves them out. Sans-IO: times in ms are passed in.
 */
export class MtuDiscovery {
  /** The datagram size in use. */
  current: number;
  /** The largest size the search may try: min(ceiling, peer's max_udp_payload_size). */
  private limit: number;
  private lower: number;
  private upper: number;
  /** The next probe tries `upper` itself rather than the middle. */
  private tryUpper = true;
  private inFlight: number | undefined;
  private lostAtSize = 0;
  /** No probe before this time; undefined until the search can start. */
  private nextSearchAt: number | undefined;
  private blackHoleLosses = 0;
  /** `nextSearchAt` is a wait (the raise timer, a black-hole cooldown) that only a timer ends on an idle connection. */
  private waiting = false;

  /**
   * @param ceiling the largest size to probe for, or a function of the path's
   * remote address that says it when a search starts; undefined: no
   * discovery, every datagram stays at `base`.
   */
  constructor(readonly base: number, private readonly ceiling: MtuCeiling | undefined) {
    if (typeof ceiling === 'number' && (!Number.isInteger(ceiling) || ceiling < base)) throw new ConfigError(`the MTU ceiling must be an integer of at least ${base}`);
    this.current = base;
    this.limit = base;
    this.lower = base;
    this.upper = base;
  }

  /**
   * The handshake is confirmed and the peer's max_udp_payload_size known (RFC
   * 9000 §14.3, §18.2): the search may start, on the path to `remote` (which
   * a per-path ceiling is asked about). After a {@link reset} it starts
   * again, with that path's ceiling.
   */
  start(peerMaxUdpPayload: number, now: number, remote: RemoteAddress = ''): void {
    if (this.ceiling === undefined || this.nextSearchAt !== undefined) return;
    const ceiling = typeof this.ceiling === 'number' ? this.ceiling : Math.floor(this.ceiling(remote));
    // NaN and -Infinity fail the comparison, +Infinity is left to the peer's limit.
    this.limit = ceiling >= this.base ? Math.max(this.base, Math.min(ceiling, peerMaxUdpPayload)) : this.base;
    this.restart(now);
  }

  /**
   * When the connection should wake for the next search (RFC 8899 §5.1.1
   * PMTU_RAISE_TIMER, or the end of a black-hole cooldown), or undefined:
   * without it a connection with nothing to send would probe again only
   * after its next datagram or write.
   */
  get timeout(): number | undefined {
    return this.waiting ? this.nextSearchAt : undefined;
  }

  /** The connection's timer fired: a due search probes at the next transmit, and needs no further wake-up. */
  onTimeout(now: number): void {
    if (this.nextSearchAt !== undefined && now >= this.nextSearchAt) this.waiting = false;
  }

  /** The size of the probe to send now, if one is due; the probe is then in flight. */
  probeSize(now: number): number | undefined {
    if (this.inFlight !== undefined || this.nextSearchAt === undefined || now < this.nextSearchAt) return undefined;
    this.waiting = false;
    if (this.upper - this.lower < MINIMUM_CHANGE) {
      // The search is over; try again later, in case the path got better.
      this.restart(now + RAISE_INTERVAL_MS);
      this.waiting = true;
      return undefined;
    }
    const size = this.tryUpper ? this.upper : Math.ceil((this.lower + this.upper) / 2);
    this.inFlight = size;
    return size;
  }

  /** The probe asked for could not be sent: it is asked for again later. */
  cancelProbe(): void {
    this.inFlight = undefined;
  }

  /** A probe of `size` bytes was acknowledged: the path carries it. Returns the new datagram size if it grew. */
  onProbeAcked(size: number): number | undefined {
    this.inFlight = undefined;
    this.lostAtSize = 0;
    this.blackHoleLosses = 0;
    this.tryUpper = false;
    if (size <= this.current) return undefined;
    this.current = size;
    this.lower = Math.max(this.lower, size);
    return size;
  }

  /** A probe of `size` bytes was lost. */
  onProbeLost(size: number): void {
    this.inFlight = undefined;
    if (++this.lostAtSize < MAX_PROBES) return;
    this.lostAtSize = 0;
    this.tryUpper = false;
    this.upper = Math.min(this.upper, size - 1);
  }

  /** An ordinary packet of `size` bytes was acknowledged. */
  onAcked(size: number): void {
    if (size > this.base) this.blackHoleLosses = 0;
  }

  /**
   * One loss event took ordinary packets of these sizes. Returns the base size
   * when the path now drops what it carried before (RFC 8899 §4.3).
   */
  onLost(sizes: readonly number[], now: number): number | undefined {
    if (this.current === this.base || !sizes.some((s) => s > this.base)) return undefined;
    if (++this.blackHoleLosses < BLACK_HOLE_THRESHOLD) return undefined;
    this.blackHoleLosses = 0;
    this.current = this.base;
    this.inFlight = undefined;
    this.restart(now + BLACK_HOLE_COOLDOWN_MS);
    this.waiting = true;
    return this.base;
  }

  /**
   * The path changed (migration, RFC 9000 §9.4 and §14.3): nothing learnt about
   * the old one holds, so back to the base size; the search starts again on
   * the next {@link start}.
   */
  reset(): void {
    this.current = this.base;
    this.inFlight = undefined;
    this.blackHoleLosses = 0;
    this.nextSearchAt = undefined;
    this.waiting = false;
  }

  private restart(at: number): void {
    this.lower = this.current;
    this.upper = this.limit;
    this.tryUpper = true;
    this.lostAtSize = 0;
    this.nextSearchAt = at;
  }
}
