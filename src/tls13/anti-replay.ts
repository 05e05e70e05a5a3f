import { toHex } from '../bytes.js';

/**
 * Decides whether a ClientHello's 0-RTT data may be accepted (RFC 8446 §8).
 * `unique` identifies the ClientHello (its PSK binder); the store answers true
 * only the first time it sees it within its window. A fleet shares one
 * implementation (a shared cache) so a replay to another server is caught too.
 */
export interface AntiReplay {
  /** The window within which this store remembers ClientHellos; older ones must be rejected by freshness (§8.3). */
  readonly windowMs: number;
  firstSeen(unique: Uint8Array, now: number): boolean | Promise<boolean>;
}

/**
 * ClientHello recording (§8.2) in memory for a single server: remembers
 * binders for `windowMs`, and refuses (answers false) once `maxEntries` are
 * held rather than forgetting one early.
 */
export class MemoryAntiReplay implements AntiReplay {
  private readonly seen = new Map<string, number>();
  constructor(readonly windowMs = 10_000, private readonly maxEntries = 100_000) {}

  firstSeen(unique: Uint8Array, now: number): boolean {
    for (const [k, t] of this.seen) {
      if (now - t <= this.windowMs) break; // insertion order is time order
      this.seen.delete(k);
    }
    const key = toHex(unique);
    if (this.seen.has(key) || this.seen.size >= this.maxEntries) return false;
    this.seen.set(key, now);
    return true;
  }
}
