import type { AeadAlgorithm, HashAlgorithm } from '../pq/ids.js';

/** TLS 1.3 cipher suites (RFC 8446 §B.4). */
export const CipherSuite = {
  TLS_AES_128_GCM_SHA256: 0x1301,
  TLS_AES_256_GCM_SHA384: 0x1302,
  TLS_CHACHA20_POLY1305_SHA256: 0x1303,
} as const;
export type CipherSuite = (typeof CipherSuite)[keyof typeof CipherSuite];
export type CipherSuiteName = keyof typeof CipherSuite;

/** What a cipher suite fixes: the transcript/HKDF hash and the record AEAD with its key and IV sizes (§7.3). */
export interface CipherSuiteInfo {
  readonly id: CipherSuite;
  readonly name: CipherSuiteName;
  readonly hash: HashAlgorithm;
  readonly hashLength: 32 | 48;
  readonly aead: AeadAlgorithm;
  readonly keyLength: 16 | 32;
  readonly ivLength: 12;
}

const SUITES: readonly CipherSuiteInfo[] = [
  { id: 0x1301, name: 'TLS_AES_128_GCM_SHA256', hash: 'SHA-256', hashLength: 32, aead: 'AES-128-GCM', keyLength: 16, ivLength: 12 },
  { id: 0x1302, name: 'TLS_AES_256_GCM_SHA384', hash: 'SHA-384', hashLength: 48, aead: 'AES-256-GCM', keyLength: 32, ivLength: 12 },
  { id: 0x1303, name: 'TLS_CHACHA20_POLY1305_SHA256', hash: 'SHA-256', hashLength: 32, aead: 'CHACHA20-POLY1305', keyLength: 32, ivLength: 12 },
].map((s) => Object.freeze(s as CipherSuiteInfo));

const byId = new Map<number, CipherSuiteInfo>(SUITES.map((s) => [s.id, s]));

/** Parameters of a TLS 1.3 suite, or undefined for any other code point (including TLS 1.2 suites and GREASE). */
export function cipherSuiteInfo(id: number): CipherSuiteInfo | undefined {
  return byId.get(id);
}

/** Whether a code point is a TLS 1.3 suite this library implements. */
export function isCipherSuite(id: number): id is CipherSuite {
  return byId.has(id);
}

/** Registry name of a suite, or `0x....` for one we do not know. */
export function cipherSuiteName(id: number): string {
  return byId.get(id)?.name ?? `0x${id.toString(16).padStart(4, '0')}`;
}

/**
 * Default offer and preference order. AES-128-GCM first as in RFC 8446 §9.1
 * (the one suite every implementation must support); ChaCha20-Poly1305 last.
 */
export const DEFAULT_CIPHER_SUITES: readonly CipherSuite[] = Object.freeze([
  CipherSuite.TLS_AES_128_GCM_SHA256,
  CipherSuite.TLS_AES_256_GCM_SHA384,
  CipherSuite.TLS_CHACHA20_POLY1305_SHA256,
]);
