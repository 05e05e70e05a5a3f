import { ConfigError } from '../errors.js';
import { aeadKeyLength, hashLength, type AeadAlgorithm, type HashAlgorithm, type HeaderProtectionAlgorithm } from '../pq/ids.js';
import type { AeadKey, CryptoProvider, HeaderProtectionKey } from '../pq/provider.js';
import { hkdfExpandLabel } from '../tls13/hkdf-label.js';
import type { QuicVersion } from './versions.js';

/** The algorithms a TLS 1.3 cipher suite gives QUIC packet protection (RFC 9001 §5.3, §5.4). */
export interface QuicCipherSuite {
  readonly aead: AeadAlgorithm;
  readonly hash: HashAlgorithm;
  readonly headerProtection: HeaderProtectionAlgorithm;
}

/** TLS_AES_128_GCM_SHA256: also the suite of Initial packets (RFC 9001 §5.2). */
export const AES_128_GCM_SHA256: QuicCipherSuite = Object.freeze({ aead: 'AES-128-GCM', hash: 'SHA-256', headerProtection: 'AES-128-ECB' });
export const AES_256_GCM_SHA384: QuicCipherSuite = Object.freeze({ aead: 'AES-256-GCM', hash: 'SHA-384', headerProtection: 'AES-256-ECB' });
export const CHACHA20_POLY1305_SHA256: QuicCipherSuite = Object.freeze({ aead: 'CHACHA20-POLY1305', hash: 'SHA-256', headerProtection: 'CHACHA20' });

/** The QUIC suite for a TLS 1.3 CipherSuite code point (0x1301–0x1303); undefined for others (0x1304 CCM is not offered). */
export function quicCipherSuite(tlsCipherSuite: number): QuicCipherSuite | undefined {
  switch (tlsCipherSuite) {
    case 0x1301: return AES_128_GCM_SHA256;
    case 0x1302: return AES_256_GCM_SHA384;
    case 0x1303: return CHACHA20_POLY1305_SHA256;
    default: return undefined;
  }
}

/** An AEAD keyed once with its static IV: enough to seal or open payloads of one key generation. */
export interface PacketKey {
  readonly aead: AeadKey;
  /** The 12-byte IV the packet number is XORed into (RFC 9001 §5.3). */
  readonly iv: Uint8Array;
}

/** The keys of one direction at one encryption level. */
export interface DirectionalKeys {
  readonly suite: QuicCipherSuite;
  readonly packet: PacketKey;
  /** Unchanged by key updates (RFC 9001 §6). */
  readonly header: HeaderProtectionKey;
}

/** "quic key" and "quic iv" (or the version's labels) from a traffic secret (RFC 9001 §5.1). */
export async function derivePacketKey(
  provider: CryptoProvider, version: QuicVersion, suite: QuicCipherSuite, secret: Uint8Array,
): Promise<PacketKey> {
  const [key, iv] = await Promise.all([
    hkdfExpandLabel(provider, suite.hash, secret, version.labels.key, EMPTY, aeadKeyLength(suite.aead)),
    hkdfExpandLabel(provider, suite.hash, secret, version.labels.iv, EMPTY, 12),
  ]);
  return { aead: await provider.aead(suite.aead, key), iv };
}

/** Packet and header-protection keys ("quic hp") from a traffic secret (RFC 9001 §5.1, §5.4). */
export async function deriveDirectionalKeys(
  provider: CryptoProvider, version: QuicVersion, suite: QuicCipherSuite, secret: Uint8Array,
): Promise<DirectionalKeys> {
  checkSecret(suite, secret);
  const hpLength = suite.headerProtection === 'AES-128-ECB' ? 16 : 32;
  const [packet, hp] = await Promise.all([
    derivePacketKey(provider, version, suite, secret),
    hkdfExpandLabel(provider, suite.hash, secret, version.labels.hp, EMPTY, hpLength),
  ]);
  return { suite, packet, header: await provider.headerProtection(suite.headerProtection, hp) };
}

/** The next generation's secret for a key update: HKDF-Expand-Label(secret, "quic ku", "", Hash.length) (RFC 9001 §6.1). */
export function nextTrafficSecret(
  provider: CryptoProvider, version: QuicVersion, suite: QuicCipherSuite, secret: Uint8Array,
): Promise<Uint8Array> {
  checkSecret(suite, secret);
  return hkdfExpandLabel(provider, suite.hash, secret, version.labels.ku, EMPTY, hashLength(suite.hash));
}

/** The Initial secrets (RFC 9001 §5.2), from the Destination Connection ID of the client's first Initial. */
export async function initialSecrets(
  provider: CryptoProvider, version: QuicVersion, clientDcid: Uint8Array,
): Promise<{ client: Uint8Array; server: Uint8Array }> {
  const initial = await provider.hkdfExtract('SHA-256', version.initialSalt, clientDcid);
  const [client, server] = await Promise.all([
    hkdfExpandLabel(provider, 'SHA-256', initial, 'client in', EMPTY, 32),
    hkdfExpandLabel(provider, 'SHA-256', initial, 'server in', EMPTY, 32),
  ]);
  return { client, server };
}

/** Initial packet keys for both directions (RFC 9001 §5.2): AES-128-GCM whatever suite TLS picks later. */
export async function initialKeys(
  provider: CryptoProvider, version: QuicVersion, clientDcid: Uint8Array,
): Promise<{ client: DirectionalKeys; server: DirectionalKeys }> {
  const s = await initialSecrets(provider, version, clientDcid);
  const [client, server] = await Promise.all([
    deriveDirectionalKeys(provider, version, AES_128_GCM_SHA256, s.client),
    deriveDirectionalKeys(provider, version, AES_128_GCM_SHA256, s.server),
  ]);
  return { client, server };
}

function checkSecret(suite: QuicCipherSuite, secret: Uint8Array): void {
  if (secret.length !== hashLength(suite.hash)) {
    throw new ConfigError(`traffic secret must be ${hashLength(suite.hash)} bytes for ${suite.hash}, got ${secret.length}`);
  }
}

const EMPTY = new Uint8Array(0);
