import { fromHex } from '../bytes.js';
import { ConfigError } from '../errors.js';

/** Long-header packet types, named as in RFC 9000 §17.2; their wire codes differ per version. */
export type LongPacketType = 'initial' | '0rtt' | 'handshake' | 'retry';

/**
 * Everything version-specific in packet protection and the wire image. Adding
 * a version is passing one of these in an endpoint's `versions` option (see
 * {@link versionTable}); nothing else in `quic/` switches on version numbers.
 */
export interface QuicVersion {
  readonly name: string;
  readonly number: number;
  /** Salt for HKDF-Extract of the Initial secret (RFC 9001 §5.2, RFC 9369 §3.3.1). */
  readonly initialSalt: Uint8Array;
  /** HKDF-Expand-Label labels (RFC 9001 §5.1, §6.1; RFC 9369 §3.3.2). */
  readonly labels: { readonly key: string; readonly iv: string; readonly hp: string; readonly ku: string };
  /** Two-bit wire code of each long-header type (RFC 9000 §17.2, RFC 9369 §3.2). */
  readonly longTypeCodes: { readonly [T in LongPacketType]: number };
  /** AES-128-GCM key and nonce of the Retry Integrity Tag (RFC 9001 §5.8, RFC 9369 §3.3.3). */
  readonly retryKey: Uint8Array;
  readonly retryNonce: Uint8Array;
}

/** QUIC version 1 (RFC 9000, RFC 9001). */
export const QUIC_V1: QuicVersion = Object.freeze({
  name: 'QUICv1',
  number: 0x00000001,
  initialSalt: fromHex('38762cf7f55934b34d179ae6a4c80cadccbb7f0a'),
  labels: Object.freeze({ key: 'quic key', iv: 'quic iv', hp: 'quic hp', ku: 'quic ku' }),
  longTypeCodes: Object.freeze({ initial: 0, '0rtt': 1, handshake: 2, retry: 3 }),
  retryKey: fromHex('be0c690b9f66575a1d766b54e368c84e'),
  retryNonce: fromHex('461599d35d632bf2239825bb'),
});

/** QUIC version 2 (RFC 9369). */
export const QUIC_V2: QuicVersion = Object.freeze({
  name: 'QUICv2',
  number: 0x6b3343cf,
  initialSalt: fromHex('0dede3def700a6db819381be6e269dcbf9bd2ed9'),
  labels: Object.freeze({ key: 'quicv2 key', iv: 'quicv2 iv', hp: 'quicv2 hp', ku: 'quicv2 ku' }),
  longTypeCodes: Object.freeze({ initial: 1, '0rtt': 2, handshake: 3, retry: 0 }),
  retryKey: fromHex('8fb4b01b56ac48e260fbcbcead7ccc92'),
  retryNonce: fromHex('d86969bc2d7c6d9990efb04a'),
});

/** What an endpoint speaks unless told otherwise, in preference order (v1 first: RFC 9369 §4 keeps it the default). */
export const DEFAULT_QUIC_VERSIONS: readonly QuicVersion[] = Object.freeze([QUIC_V1, QUIC_V2]);

/**
 * The versions one endpoint speaks, looked up by number when a packet is
 * parsed. Each endpoint builds its own from its options: there is no
 * process-wide registry, so two endpoints in one process may speak different
 * versions and nothing an application does elsewhere changes what a packet means.
 */
export interface QuicVersionTable {
  /** In preference order. */
  readonly versions: readonly QuicVersion[];
  /** Their numbers, in the same order: the list a Version Negotiation packet carries (RFC 9000 §17.2.1). */
  readonly numbers: readonly number[];
  /** The version with this number, or undefined if the table does not have it. */
  get(n: number): QuicVersion | undefined;
}

/**
 * An immutable table of `versions` (preference order). Throws a
 * {@link ConfigError} for an empty list, a repeated or reserved number, a
 * version whose long-header type codes are not a permutation of 0–3, or a
 * Retry key or nonce of the wrong length.
 */
export function versionTable(versions: readonly QuicVersion[]): QuicVersionTable {
  if (versions.length === 0) throw new ConfigError('QUIC versions: empty');
  const byNumber = new Map<number, QuicVersion>();
  for (const v of versions) {
    const n = v.number;
    if (!Number.isInteger(n) || n <= 0 || n > 0xffffffff) throw new ConfigError(`QUIC version ${v.name}: number must be a nonzero 32-bit value`);
    if (isReservedVersion(n) && !PROBES.has(v)) throw new ConfigError(`QUIC version ${v.name}: 0x${n.toString(16)} is reserved for version negotiation (RFC 9000 §15)`);
    if (byNumber.has(n)) throw new ConfigError(`QUIC version 0x${n.toString(16)} listed twice`);
    const codes = Object.values(v.longTypeCodes).sort();
    if (codes.length !== 4 || codes.some((c, i) => c !== i)) throw new ConfigError(`QUIC version ${v.name}: long-header type codes must be 0, 1, 2 and 3`);
    // AES-128-GCM (RFC 9001 §5.8): a wrong length would only surface when a Retry arrives.
    if (v.retryKey.length !== 16 || v.retryNonce.length !== 12) throw new ConfigError(`QUIC version ${v.name}: Retry key and nonce must be 16 and 12 bytes`);
    byNumber.set(n, v);
  }
  const list = Object.freeze([...versions]);
  return Object.freeze({
    versions: list,
    numbers: Object.freeze(list.map((v) => v.number)),
    get: (n: number) => byNumber.get(n >>> 0),
  });
}

/** @internal The table of {@link DEFAULT_QUIC_VERSIONS}, shared by everything that is given no versions. */
export const DEFAULT_VERSION_TABLE: QuicVersionTable = versionTable(DEFAULT_QUIC_VERSIONS);

/** The long-header packet type a two-bit wire code means in version `v`. */
export function longPacketType(v: QuicVersion, code: number): LongPacketType {
  const c = code & 3;
  const codes = v.longTypeCodes;
  // versionTable checked that the four codes are a permutation, so one matches.
  return codes.initial === c ? 'initial' : codes['0rtt'] === c ? '0rtt' : codes.handshake === c ? 'handshake' : 'retry';
}

/** Versions of the form 0x?a?a?a?a are reserved to exercise version negotiation (RFC 9000 §15). */
/** The reserved versions made by {@link versionNegotiationProbe}: the only ones a version table takes. */
const PROBES = new WeakSet<QuicVersion>();

/**
 * A reserved version (RFC 9000 §15, `0x?a?a?a?a`) for a client to start in
 * when it wants to see Version Negotiation (§6.3: no server speaks it): v1's
 * packet format under that number. Put it first in the client's `versions`
 * and start in it; the Version Negotiation packet then moves the client to
 * the next of its versions the server lists (RFC 9368 §2.1). Never a version
 * to serve: a server table with it answers nothing in it.
 */
export function versionNegotiationProbe(n: number): QuicVersion {
  if (!isReservedVersion(n)) throw new ConfigError(`0x${(n >>> 0).toString(16)} is not a reserved version (0x?a?a?a?a, RFC 9000 §15)`);
  const v: QuicVersion = Object.freeze({ ...QUIC_V1, name: `0x${(n >>> 0).toString(16).padStart(8, '0')}`, number: n >>> 0 });
  PROBES.add(v);
  return v;
}

export function isReservedVersion(n: number): boolean {
  return ((n >>> 0) & 0x0f0f0f0f) === 0x0a0a0a0a;
}
