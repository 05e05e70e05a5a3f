import type { Frame } from '../frames/types.js';
import type { RemoteAddress } from './path.js';

/** PATH_CHALLENGE frames sent per validation before it is abandoned (RFC 9000 §8.2.1 allows several against loss). */
export const MAX_CHALLENGES_PER_PATH = 3;
/** Addresses owed a PATH_RESPONSE at once; the oldest is dropped beyond (§8.2.2 lets the peer challenge again). */
export const MAX_PENDING_RESPONSES = 4;
/** kInitialRtt-based PTO (RFC 9002 §6.2.2: 333 ms initial RTT, 3× for the PTO's variance and ack delay). */
const INITIAL_PTO = 999;

/** A network path to the peer (RFC 9000 §8.2, §9): its address, and what validating it has established. */
export class Path {
  /** Bytes received from and sent to this address while it was not validated: the §8.1 3× limit. */
  received = 0;
  sent = 0;
  /** The PATH_CHALLENGE data outstanding; undefined once validated or abandoned. */
  challenge: Uint8Array | undefined;
  challengesSent = 0;
  /** When the next PATH_CHALLENGE is due, and when validation is abandoned (§8.2.4). */
  challengeDue: number | undefined;
  deadline: number | undefined;

  constructor(
    readonly remote: RemoteAddress,
    /** The peer proved it receives at this address (or, for a client, the server's handshake address). */
    public validated: boolean,
    /** The peer's connection ID to send on this path when it is not the connection's current one (§9.5). */
    public dcid?: Uint8Array,
  ) {}

  /** Bytes this path may still carry (§8.1, §9.3.1: 3× what arrived from it until it is validated). */
  get budget(): number {
    return this.validated ? Infinity : Math.max(0, 3 * this.received - this.sent);
  }

  /** Starts validating with `data` (8 unpredictable bytes from the provider, §8.2.1). */
  startValidation(data: Uint8Array, now: number, timeoutMs: number): void {
    this.challenge = data;
    this.challengesSent = 0;
    this.challengeDue = now;
    this.deadline = now + timeoutMs;
  }
}

/** One datagram of path probing frames: PATH_CHALLENGE and/or PATH_RESPONSE to `remote`, padded as §8.2.1/§8.2.2 ask. */
export interface ProbePlan {
  readonly path: Path | undefined;
  readonly remote: RemoteAddress;
  readonly frames: Frame[];
  /** Bytes the datagram may take on this path: at most this, padded up to 1200 where it allows. */
  readonly budget: number;
  readonly dcid: Uint8Array | undefined;
}

/** §9.1: the frames a probing packet may carry; any other frame makes a packet non-probing. */
export function isProbingFrame(f: Frame): boolean {
  return f.type === 'path_challenge' || f.type === 'path_response' || f.type === 'new_connection_id' || f.type === 'padding';
}

/**
 * Validation timeout (§8.2.4): three times the larger of the current PTO and
 * the PTO a new path would start with (kInitialRtt).
 */
export function validationTimeout(pto: number): number {
  return 3 * Math.max(pto, INITIAL_PTO);
}

/**
 * The paths of one connection (RFC 9000 §8.2, §9): the current one, the last
 * validated one while a migration away from it is being validated (to return
 * to if that fails, §9.3.2, and probed itself, §9.3.3), and one path a client
 * probes before moving to it (the server's preferred address, §9.6). So at most
 * three paths and three outstanding challenges, plus {@link MAX_PENDING_RESPONSES}
 * PATH_RESPONSEs, whatever the peer sends.
 */
export class Paths {
  current: Path;
  previous: Path | undefined;
  probe: Path | undefined;
  /**
   * A server's way to tell a path through its preferred address (§9.6) from
   * one through its original address, from the transport's path keys; unset
   * when it advertised none or the transport does not say.
   */
  viaPreferred: ((remote: RemoteAddress) => boolean) | undefined;
  /** A server that moved to its preferred address (§9.6.2): it stays there. */
  onPreferred = false;
  /** PATH_RESPONSE data owed, by the address the PATH_CHALLENGE came from (§8.2.2), with its own 3× budget. */
  private readonly responses = new Map<RemoteAddress, { data: Uint8Array; budget: number }>();

  constructor(remote: RemoteAddress, validated: boolean) {
    this.current = new Path(remote, validated);
  }

  /** Server: whether `remote` is the client reached through our preferred address while we are still on the original one. */
  towardsPreferred(remote: RemoteAddress): boolean {
    const via = this.viaPreferred;
    return via !== undefined && !this.onPreferred && via(remote) && !via(this.current.remote);
  }

  /**
   * Server: whether a packet from `remote` reached our original address after
   * the connection moved to the preferred one (§9.6.2: newer ones are dropped).
   */
  leftForPreferred(remote: RemoteAddress): boolean {
    return this.onPreferred && this.viaPreferred !== undefined && !this.viaPreferred(remote);
  }

  /** The known path to `remote`, if any. */
  find(remote: RemoteAddress): Path | undefined {
    for (const p of [this.current, this.previous, this.probe]) if (p && p.remote === remote) return p;
    return undefined;
  }

  /** Credits an authenticated datagram to the path it arrived on, for the 3× limit. */
  onReceived(remote: RemoteAddress, bytes: number): void {
    const p = this.find(remote);
    if (p && !p.validated) p.received += bytes;
  }

  /**
   * A PATH_CHALLENGE arrived from `remote` in a datagram of `datagramBytes`:
   * the response goes back there (§8.2.2), the latest challenge per address only.
   */
  respond(remote: RemoteAddress, data: Uint8Array, datagramBytes: number): void {
    const path = this.find(remote);
    const budget = path && path.validated ? Infinity : 3 * datagramBytes;
    this.responses.delete(remote);
    this.responses.set(remote, { data: data.slice(), budget });
    if (this.responses.size > MAX_PENDING_RESPONSES) this.responses.delete(this.responses.keys().next().value as RemoteAddress);
  }

  /** Whether any probing datagram is owed now. */
  hasProbe(now: number, minBytes: number): boolean {
    return this.responses.size > 0 || this.challengePath(now, minBytes) !== undefined;
  }

  private challengePath(now: number, minBytes: number): Path | undefined {
    for (const p of [this.current, this.previous, this.probe]) {
      if (p?.challenge && p.challengeDue !== undefined && p.challengeDue <= now && p.budget >= minBytes) return p;
    }
    return undefined;
  }

  /**
   * The next probing datagram, and marks its frames sent: responses first (they
   * must not be delayed, §8.2.2), each with a challenge due on the same path.
   * Challenges are re-sent each PTO (doubling, §9.4), at most {@link MAX_CHALLENGES_PER_PATH} times.
   */
  pollProbe(now: number, pto: number, minBytes: number): ProbePlan | undefined {
    for (const [remote, r] of this.responses) {
      const path = this.find(remote);
      const budget = Math.min(r.budget, path ? path.budget : Infinity);
      this.responses.delete(remote);
      if (budget < minBytes) continue; // dropped: the peer challenges again (§8.2.2)
      const frames: Frame[] = [{ type: 'path_response', data: r.data }];
      if (path?.challenge && path.challengeDue !== undefined && path.challengeDue <= now) {
        frames.push({ type: 'path_challenge', data: path.challenge });
        this.challengeSent(path, now, pto);
      }
      return { path, remote, frames, budget, dcid: path?.dcid };
    }
    const p = this.challengePath(now, minBytes);
    if (!p?.challenge) return undefined;
    this.challengeSent(p, now, pto);
    return { path: p, remote: p.remote, frames: [{ type: 'path_challenge', data: p.challenge }], budget: p.budget, dcid: p.dcid };
  }

  private challengeSent(p: Path, now: number, pto: number): void {
    p.challengesSent++;
    p.challengeDue = p.challengesSent >= MAX_CHALLENGES_PER_PATH ? undefined : now + pto * 2 ** p.challengesSent;
  }

  /** Bytes of a datagram sent on the path to `remote`, for its 3× limit. */
  onSent(remote: RemoteAddress, bytes: number): void {
    const p = this.find(remote);
    if (p && !p.validated) p.sent += bytes;
  }

  /**
   * A PATH_RESPONSE: validates the path whose challenge it echoes, whichever
   * path it came on (§8.2.3). Returns that path, or undefined for a stale or
   * unsolicited response (ignored).
   */
  onResponse(data: Uint8Array): Path | undefined {
    for (const p of [this.current, this.previous, this.probe]) {
      if (p?.challenge && p.challenge.length === data.length && p.challenge.every((b, i) => b === data[i])) {
        p.validated = true;
        p.challenge = undefined;
        p.challengeDue = undefined;
        p.deadline = undefined;
        return p;
      }
    }
    return undefined;
  }

  /**
   * The earliest path timer: a challenge due or a validation deadline. A
   * challenge the 3× limit holds back waits for a datagram, not for a timer.
   */
  timeout(minBytes: number): number | undefined {
    let t: number | undefined;
    for (const p of [this.current, this.previous, this.probe]) {
      if (!p) continue;
      for (const x of [p.budget >= minBytes ? p.challengeDue : undefined, p.deadline]) if (x !== undefined && (t === undefined || x < t)) t = x;
    }
    return t;
  }

  /**
   * Abandons validations past their deadline (§8.2.4). Returns 'reverted' when
   * the current path failed and the last validated one takes over (§9.3.2),
   * 'failed' when the current path failed with none to return to.
   */
  onTimeout(now: number): 'reverted' | 'failed' | undefined {
    if (this.probe?.deadline !== undefined && this.probe.deadline <= now) this.probe = undefined;
    if (this.previous?.deadline !== undefined && this.previous.deadline <= now) {
      // The old path no longer answers (a real rebinding): nothing to return to, nothing more to probe.
      if (this.previous.validated) this.previous.challenge = this.previous.deadline = this.previous.challengeDue = undefined;
      else this.previous = undefined;
    }
    const c = this.current;
    if (c.deadline === undefined || c.deadline > now) return undefined;
    c.challenge = c.deadline = c.challengeDue = undefined;
    if (c.validated) return undefined;
    if (this.previous?.validated) {
      this.current = this.previous;
      this.previous = undefined;
      return 'reverted';
    }
    return 'failed';
  }
}

/**
 * Whether two addresses differ only in the port (§9.4: congestion state may be
 * kept then). Keys are opaque to the core; this reads the `host:port` and
 * `[v6]:port` form the Node adapter uses, and any other form counts as a new host.
 */
export function onlyPortChanged(a: RemoteAddress, b: RemoteAddress): boolean {
  const host = (k: RemoteAddress): string | undefined => /^(.*):\d+$/.exec(k)?.[1];
  const ha = host(a);
  return ha !== undefined && ha === host(b);
}
