import { fromHex } from '../bytes.js';

/** Long-header packet types, named as in RFC 9000 §17.2; their wire codes differ per version. */
export type LongPacketType = 'initial' | '0rtt' | 'handshake' | 'retry';

/**
 * Everything version-specific in packet protection and the wire image. Adding
 * a version is adding one of these to {@link registerQuicVersion}; nothing
 * else in `quic/` switches on version numbers.
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

const registry = new Map<number, QuicVersion>([
  [QUIC_V1.number, QUIC_V1],
  [QUIC_V2.number, QUIC_V2],
]);
const typeByCode = new Map<number, readonly LongPacketType[]>();
function index(v: QuicVersion): void {
  const byCode: LongPacketType[] = [];
  for (const [t, c] of Object.entries(v.longTypeCodes) as [LongPacketType, number][]) byCode[c] = t;
  typeByCode.set(v.number, byCode);
}
for (const v of registry.values()) index(v);

/** Adds a version to the table the packet codec consults (for drafts or private versions). */
export function registerQuicVersion(v: QuicVersion): void {
  registry.set(v.number >>> 0, v);
  index(v);
}

/** The version with this number, or undefined if this library does not speak it. */
export function quicVersion(n: number): QuicVersion | undefined {
  return registry.get(n >>> 0);
}

/** Every version this library speaks, in preference order (v1 first: RFC 9369 §4 keeps it the default). */
export function supportedQuicVersions(): readonly number[] {
  return [...registry.keys()];
}

/** The long-header packet type a two-bit wire code means in version `v`. */
export function longPacketType(v: QuicVersion, code: number): LongPacketType {
  return (typeByCode.get(v.number) as readonly LongPacketType[])[code & 3] as LongPacketType;
}

/** Versions of the form 0x?a?a?a?a are reserved to exercise version negotiation (RFC 9000 §15). */
export function isReservedVersion(n: number): boolean {
  return ((n >>> 0) & 0x0f0f0f0f) === 0x0a0a0a0a;
}
