import { utf8 } from '../../bytes.js';
import { Reader } from '../../codec/reader.js';
import { Writer } from '../../codec/writer.js';
import type { AeadKey, CryptoProvider } from '../../pq/provider.js';
import { parsePacket } from '../header.js';
import { DEFAULT_VERSION_TABLE, versionTable, type QuicVersion, type QuicVersionTable } from '../versions.js';
import { encodeRetry } from '../retry.js';

/** What a valid Retry token proves about a client's Initial (RFC 9000 §8.1.2). */
export interface ValidatedAddress {
  /** The Destination Connection ID of the client's very first Initial. */
  readonly originalDcid: Uint8Array;
  /** The Source Connection ID our Retry carried, which the client now sends to. */
  readonly retrySourceCid: Uint8Array;
}

/**
 * What the token of a client Initial tells a server (RFC 9000 §8.1.3): a
 * valid Retry token; one of its own Retry tokens that fails (expired, another
 * address, another connection ID), which a client will not replace, so the
 * answer is INVALID_TOKEN and not another Retry (§8.1.2); or nothing it can
 * use (no token, or one it cannot open: a NEW_TOKEN token of another server or
 * of an old key), which counts as no token.
 */
export type TokenCheck =
  | { readonly kind: 'valid'; readonly address: ValidatedAddress }
  | { readonly kind: 'invalid-retry' }
  | { readonly kind: 'none' };

const NONCE = 12;
/** Associated data of every token: tokens of this scheme only. */
const TOKEN_AAD = utf8('pqtls quic token');
/**
 * The first byte of a token's sealed contents: the kind of token (RFC 9000
 * §8.1.1 lets a server tell its Retry tokens from NEW_TOKEN ones). This
 * library issues Retry tokens only; another kind, once issued, would be
 * validated by its own rules and failing it would not be INVALID_TOKEN (§8.1.3).
 */
const RETRY_TOKEN = 0x01;

/**
 * Stateless address validation with Retry (RFC 9000 §8.1.2, §17.2.5): the
 * server answers a token-less Initial with a Retry whose token seals the
 * client's address, the original Destination Connection ID and the time under
 * a server key; an Initial that brings the token back is from a reachable
 * address, so the server may accept it without the 3× amplification limit.
 */
export class RetryTokens {
  private constructor(
    private readonly provider: CryptoProvider,
    private readonly aead: AeadKey,
    private readonly lifetimeMs: number,
    private readonly versions: QuicVersionTable,
  ) {}

  /**
   * A token issuer under a fresh random key (or `key`, 32 bytes, to share
   * between servers), for Initials of `versions` (the server's, default v1 and v2).
   */
  static async create(
    provider: CryptoProvider, options: { key?: Uint8Array; lifetimeMs?: number; versions?: readonly QuicVersion[] } = {},
  ): Promise<RetryTokens> {
    const key = options.key ?? (await provider.random(32));
    const versions = options.versions ? versionTable(options.versions) : DEFAULT_VERSION_TABLE;
    return new RetryTokens(provider, await provider.aead('AES-256-GCM', key), options.lifetimeMs ?? 10_000, versions);
  }

  /**
   * The Retry packet for a client Initial without a token, or undefined if
   * `datagram` does not start with an Initial of one of our versions.
   */
  async retryFor(datagram: Uint8Array, clientAddress: string, now: number): Promise<Uint8Array | undefined> {
    const first = parseFirst(datagram, this.versions);
    if (!first) return undefined;
    const scid = await this.provider.random(8);
    // The address is sealed inside, not bound as associated data: a token of ours for another address must still
    // open, so that it is known for a failed Retry token (INVALID_TOKEN), not taken for a stranger's (§8.1.3).
    const plain = new Writer(96).u8(RETRY_TOKEN).u32(Math.floor(now / 2 ** 32)).u32(now >>> 0).vecBytes(2, utf8(clientAddress))
      .vecBytes(1, first.dcid).vecBytes(1, scid).finish();
    const nonce = await this.provider.random(NONCE);
    const token = new Uint8Array([...nonce, ...(await this.aead.seal(nonce, TOKEN_AAD, plain))]);
    return encodeRetry(this.provider, { version: first.version, dcid: first.scid, scid, token }, first.dcid);
  }

  /** Checks the token of a client Initial; undefined if absent, forged, expired, for another address or another CID. */
  async validate(datagram: Uint8Array, clientAddress: string, now: number): Promise<ValidatedAddress | undefined> {
    const c = await this.check(datagram, clientAddress, now);
    return c.kind === 'valid' ? c.address : undefined;
  }

  /** What the token of a client Initial is (see {@link TokenCheck}). */
  async check(datagram: Uint8Array, clientAddress: string, now: number): Promise<TokenCheck> {
    const first = parseFirst(datagram, this.versions);
    if (!first || first.token.length <= NONCE + 16) return { kind: 'none' };
    const plain = await this.aead.open(first.token.subarray(0, NONCE), TOKEN_AAD, first.token.subarray(NONCE));
    if (!plain || plain[0] !== RETRY_TOKEN) return { kind: 'none' };
    const r = new Reader(plain, 'retry token');
    r.u8();
    const issued = r.u32() * 2 ** 32 + r.u32();
    const address = r.vec(2);
    const originalDcid = r.vec(1).slice();
    const retrySourceCid = r.vec(1).slice();
    if (now - issued > this.lifetimeMs || now < issued) return { kind: 'invalid-retry' };
    // RFC 9000 §8.1.4: a Retry token holds for the address and port it was sent to.
    if (!equal(address, utf8(clientAddress))) return { kind: 'invalid-retry' };
    // The client must send to the connection ID our Retry gave it (RFC 9000 §17.2.5.2).
    if (!equal(retrySourceCid, first.dcid)) return { kind: 'invalid-retry' };
    return { kind: 'valid', address: { originalDcid, retrySourceCid } };
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function parseFirst(datagram: Uint8Array, versions: QuicVersionTable) {
  try {
    const p = parsePacket(datagram, 0, { shortDcidLength: 8, versions }).packet;
    return 'pnOffset' in p && p.type === 'initial' && p.version ? { ...p, version: p.version } : undefined;
  } catch {
    return undefined;
  }
}
