import { concat } from '../bytes.js';
import { ConfigError } from '../errors.js';
import type { HashAlgorithm } from '../pq/ids.js';
import type { CryptoProvider, HashContext, HashFunction } from '../pq/provider.js';

/** HandshakeType message_hash (RFC 8446 §4.4.1), the synthetic message that stands in for ClientHello1 after a HelloRetryRequest. */
const MESSAGE_HASH = 254;

/**
 * The handshake transcript hash (RFC 8446 §4.4.1): the running hash of every
 * handshake message, header included, in the order sent and received.
 *
 * A client does not know the hash until the ServerHello picks a suite, so a
 * transcript can start *buffered*: `Transcript.buffered()` keeps the raw
 * messages, and {@link Transcript.start} later fixes the hash and feeds them
 * in. Everything else (`update`, `clone`) works in both states; `hash()` and
 * {@link Transcript.replaceWithMessageHash} need the hash.
 *
 * ```ts
 * const t = Transcript.buffered();
 * t.update(clientHello);
 * // ServerHello selected TLS_AES_256_GCM_SHA384:
 * t.start(provider, 'SHA-384').update(serverHello);
 * const h = t.hash();
 * ```
 */
export class Transcript {
  private ctx: HashContext | null = null;
  private fn: HashFunction | null = null;
  private pending: Uint8Array[] = [];
  private count = 0;

  /** A hashing transcript; with no arguments, a buffered one (see {@link Transcript.buffered}). */
  constructor(provider?: CryptoProvider, hash?: HashAlgorithm) {
    if ((provider === undefined) !== (hash === undefined)) {
      throw new ConfigError('Transcript needs both a provider and a hash, or neither for a buffered transcript');
    }
    if (provider && hash) this.start(provider, hash);
  }

  /** A transcript that keeps messages until {@link Transcript.start} names the hash. */
  static buffered(): Transcript {
    return new Transcript();
  }

  /**
   * A transcript that begins with `message_hash(Hash(ClientHello1))`, for a
   * server that sent a stateless HelloRetryRequest and recovers the hash of
   * ClientHello1 from its cookie (§4.2.2, §4.4.1).
   */
  static fromMessageHash(provider: CryptoProvider, hash: HashAlgorithm, clientHello1Hash: Uint8Array): Transcript {
    const t = new Transcript(provider, hash);
    t.update(messageHashMessage(clientHello1Hash, t.hashLength));
    return t;
  }

  /** Whether the hash is fixed (false while buffered). */
  get started(): boolean {
    return this.ctx !== null;
  }

  /** The hash algorithm, once started. */
  get algorithm(): HashAlgorithm | undefined {
    return this.fn?.algorithm;
  }

  /** Number of messages added so far (a message_hash counts as one). */
  get messageCount(): number {
    return this.count;
  }

  /** Fixes the hash of a buffered transcript and hashes what was buffered. Returns `this`. */
  start(provider: CryptoProvider, hash: HashAlgorithm): this {
    if (this.ctx) throw new ConfigError('transcript hash already chosen');
    this.fn = provider.hash(hash);
    this.ctx = this.fn.create();
    for (const m of this.pending) this.ctx.update(m);
    this.pending = [];
    return this;
  }

  /** Adds one complete handshake message (4-byte header and body). Returns `this`. */
  update(message: Uint8Array): this {
    if (this.ctx) this.ctx.update(message);
    else this.pending.push(message.slice());
    this.count++;
    return this;
  }

  /** Transcript-Hash of everything so far; the transcript stays usable. */
  hash(): Uint8Array {
    return this.requireCtx('hash').digest();
  }

  /**
   * Transcript-Hash of everything so far followed by `extra`, without adding
   * `extra`: the hash over a partial ClientHello for a PSK binder (§4.2.11.2).
   * A client whose transcript is still buffered forks it under the PSK's hash:
   * `t.clone().start(provider, pskHash).hashWith(partialHello)`.
   */
  hashWith(extra: Uint8Array): Uint8Array {
    return this.requireCtx('hashWith').clone().update(extra).digest();
  }

  /** An independent copy, buffered or not. */
  clone(): Transcript {
    const t = new Transcript();
    t.fn = this.fn;
    t.ctx = this.ctx ? this.ctx.clone() : null;
    t.pending = [...this.pending];
    t.count = this.count;
    return t;
  }

  /**
   * RFC 8446 §4.4.1: on a HelloRetryRequest the transcript's sole message,
   * ClientHello1, is replaced by `message_hash` (type 254, length HashLen)
   * carrying Hash(ClientHello1). Call it before adding the HelloRetryRequest.
   */
  replaceWithMessageHash(): this {
    const ctx = this.requireCtx('replaceWithMessageHash');
    const fn = this.fn as HashFunction;
    if (this.count !== 1) {
      throw new ConfigError(`message_hash replaces ClientHello1 only, but the transcript holds ${this.count} messages`);
    }
    const ch1 = ctx.digest();
    this.ctx = fn.create().update(messageHashMessage(ch1, fn.outputLength));
    return this;
  }

  private get hashLength(): number {
    return (this.fn as HashFunction).outputLength;
  }

  private requireCtx(op: string): HashContext {
    if (!this.ctx) throw new ConfigError(`Transcript.${op}: hash not chosen yet (call start() first)`);
    return this.ctx;
  }
}

/** The synthetic `message_hash` handshake message: type 254, 3-byte length, Hash(ClientHello1). */
export function messageHashMessage(clientHello1Hash: Uint8Array, hashLength: number): Uint8Array {
  if (clientHello1Hash.length !== hashLength) {
    throw new ConfigError(`message_hash needs a ${hashLength}-byte hash, got ${clientHello1Hash.length}`);
  }
  return concat(new Uint8Array([MESSAGE_HASH, 0, 0, hashLength]), clientHello1Hash);
}
