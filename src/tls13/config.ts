import { ConfigError } from '../errors.js';
import {
  NamedGroup, SignatureScheme, groupName, isNamedGroup, isSignatureScheme, isSlhDsa, parseGroupName, parseSignatureSchemeName,
  signatureSchemeName, type KeyAlgorithm, type RsaPssRestriction,
} from '../pq/ids.js';
import type { CryptoProvider, PrivateKeyRef } from '../pq/provider.js';
import { DEFAULT_CIPHER_SUITES, cipherSuiteInfo, type CipherSuite } from './cipher-suites.js';
import type { AntiReplay } from './anti-replay.js';
import type { SessionStore } from './session.js';
import type { TicketSealer } from './tickets.js';
import { traceHooksOf, type TraceHooks } from './trace-hooks.js';

/** A certificate chain (leaf first, DER) with the private key of its leaf. */
export interface CertifiedKey {
  readonly chain: readonly Uint8Array[];
  readonly privateKey: PrivateKeyRef;
  /**
   * For an id-RSASSA-PSS key bound by RSASSA-PSS-params to one hash and a
   * minimum salt (RFC 4055 §3.1): only `rsa_pss_pss_*` schemes within it are
   * chosen. {@link import('./credentials.js').loadCertifiedKey} fills it from the leaf.
   */
  readonly rsaPss?: RsaPssRestriction;
}

/** What a verifier learns about the peer from a valid chain. */
export interface PeerIdentity {
  /** The leaf's public key, in the encoding {@link CryptoProvider.verify} takes. */
  readonly publicKey: Uint8Array;
  readonly keyAlgorithm: KeyAlgorithm;
  /** An id-RSASSA-PSS leaf key's restriction: a CertificateVerify outside it is refused (RFC 4055 §3.1). */
  readonly rsaPss?: RsaPssRestriction;
}

/**
 * Validates a peer's certificate chain. The default, built on `src/x509`, is
 * {@link import('./verifier.js').webPkiVerifier}. Failures throw a
 * {@link PqtlsError} whose alert is sent to the peer.
 */
export interface CertificateVerifier {
  verify(
    chain: readonly Uint8Array[],
    options: { readonly serverName?: string; readonly purpose: 'serverAuth' | 'clientAuth'; readonly now: number },
  ): Promise<PeerIdentity>;
}

/** Options shared by both roles. */
export interface CommonOptions {
  readonly provider: CryptoProvider;
  /** Key-exchange groups in preference order, by code or name. Default: every provider group, X25519MLKEM768 first. */
  readonly groups?: readonly (NamedGroup | string)[];
  readonly cipherSuites?: readonly CipherSuite[];
  /** Signature schemes accepted from the peer (and offered for our own key), in preference order. */
  readonly signatureSchemes?: readonly (SignatureScheme | string)[];
  readonly alpnProtocols?: readonly string[];
  /** Milliseconds since the epoch; certificate validity is checked against it. The core never reads a clock. */
  readonly now: () => number;
  /** Receives NSS key-log lines (`SSLKEYLOGFILE` format). */
  readonly keyLog?: (line: string) => void;
  /** Largest handshake message accepted (default 256 KiB: an ML-DSA-87 chain of four is about 30 KB). */
  readonly maxHandshakeMessageSize?: number;
  /**
   * The record_size_limit we announce (RFC 8449): the largest TLSInnerPlaintext
   * we accept, 64..16385. Default 16385 (2^14 + 1, the TLS 1.3 maximum).
   */
  readonly recordSizeLimit?: number;
}

export interface ClientOptions extends CommonOptions {
  /** Sent as SNI (unless an IP address) and matched against the server's certificate. */
  readonly serverName?: string;
  readonly verifier: CertificateVerifier;
  /** Groups to send key shares for in the first ClientHello. Default: X25519MLKEM768 and x25519. */
  readonly keyShareGroups?: readonly (NamedGroup | string)[];
  /** Client certificate for mutual TLS. */
  readonly certificate?: CertifiedKey & { readonly keyAlgorithm: KeyAlgorithm };
  /** RFC 8446 Appendix D.4 middlebox compatibility mode (default on; off for QUIC). */
  readonly middleboxCompat?: boolean;
  /**
   * Where tickets are kept and looked up (by `serverName`) for resumption.
   * Without a store the client neither offers nor keeps sessions.
   */
  readonly sessionStore?: SessionStore;
  /**
   * Key-exchange modes offered with a PSK (RFC 8446 §4.2.9). Default
   * `['psk_dhe_ke']`, which keeps the hybrid PQ key exchange on resumption;
   * `psk_ke` (no fresh key exchange, no forward secrecy) is opt-in.
   */
  readonly pskModes?: readonly PskModeName[];
  /**
   * Data to send as 0-RTT early data when the resumed session allows it
   * (RFC 8446 §4.2.10). It is replayable by an attacker: send only idempotent requests.
   */
  readonly earlyData?: Uint8Array;
  /** When the server rejects early data, send it again as ordinary data after the handshake. */
  readonly replayRejectedEarlyData?: boolean;
}

export type PskModeName = 'psk_dhe_ke' | 'psk_ke';

/** Session tickets a server issues (RFC 8446 §4.6.1). */
export interface TicketOptions {
  /** Seals tickets; share a {@link TicketKeyRing}'s keys between servers to resume across them. */
  readonly sealer: TicketSealer;
  /** Tickets sent after each handshake (default 2). */
  readonly count?: number;
  /** ticket_lifetime in seconds (default 7200; at most 604800). */
  readonly lifetime?: number;
}

/** 0-RTT acceptance on a server (RFC 8446 §4.2.10, §8). Off unless given. */
export interface EarlyDataOptions {
  /** max_early_data_size promised in tickets and enforced. */
  readonly maxSize: number;
  /** ClientHello recording; share one across a fleet. */
  readonly antiReplay: AntiReplay;
}

export interface ServerOptions extends CommonOptions {
  readonly certificate: CertifiedKey & { readonly keyAlgorithm: KeyAlgorithm };
  /** Request a client certificate; `required` ends handshakes without one with certificate_required. */
  readonly clientAuth?: { readonly verifier: CertificateVerifier; readonly required: boolean };
  /** Send a cookie in HelloRetryRequest and require it back (RFC 8446 §4.2.2). */
  readonly hrrCookie?: boolean;
  /** Issue session tickets and accept them for resumption. */
  readonly tickets?: TicketOptions;
  /** PSK modes accepted (default `['psk_dhe_ke']`). */
  readonly pskModes?: readonly PskModeName[];
  readonly earlyData?: EarlyDataOptions;
}

export const DEFAULT_KEY_SHARES: readonly NamedGroup[] = [NamedGroup.X25519MLKEM768, NamedGroup.x25519];
export const DEFAULT_MAX_HANDSHAKE_MESSAGE = 256 * 1024;
/** 2^14 + 1: a full TLS 1.3 record's content plus its content-type byte (RFC 8449 §4). */
export const MAX_RECORD_SIZE_LIMIT = 16385;

/** Resolved configuration every handshake state can rely on. */
export interface Resolved {
  readonly provider: CryptoProvider;
  readonly groups: readonly NamedGroup[];
  readonly cipherSuites: readonly CipherSuite[];
  readonly signatureSchemes: readonly SignatureScheme[];
  readonly alpnProtocols: readonly string[];
  readonly now: () => number;
  readonly keyLog: ((line: string) => void) | undefined;
  readonly maxHandshakeMessageSize: number;
  readonly recordSizeLimit: number;
  /** @internal Set only through `withTraceHooks` (`pqtls/testing`). */
  readonly traceHooks: TraceHooks | undefined;
}

function resolveGroups(list: readonly (NamedGroup | string)[], provider: CryptoProvider, what: string): NamedGroup[] {
  return list.map((g) => {
    const code = typeof g === 'string' ? parseGroupName(g) : isNamedGroup(g) ? g : undefined;
    if (code === undefined) throw new ConfigError(`${what}: unknown group ${String(g)}`);
    if (!provider.groups.includes(code)) throw new ConfigError(`${what}: provider ${provider.name} has no group ${groupName(code)}`);
    return code;
  });
}

function resolveCommon(o: CommonOptions): Resolved {
  if (!o.provider) throw new ConfigError('provider is required');
  if (typeof o.now !== 'function') throw new ConfigError('now (a clock function) is required');
  const groups = o.groups ? resolveGroups(o.groups, o.provider, 'groups') : [...o.provider.groups];
  if (groups.length === 0) throw new ConfigError('groups: empty');
  const cipherSuites = [...(o.cipherSuites ?? DEFAULT_CIPHER_SUITES)];
  for (const s of cipherSuites) if (!cipherSuiteInfo(s)) throw new ConfigError(`cipherSuites: unknown suite 0x${Number(s).toString(16)}`);
  if (cipherSuites.length === 0) throw new ConfigError('cipherSuites: empty');
  const signatureSchemes = (o.signatureSchemes ?? o.provider.signatureSchemes).map((s) => {
    const code = typeof s === 'string' ? parseSignatureSchemeName(s) : isSignatureScheme(s) ? s : undefined;
    if (code === undefined) throw new ConfigError(`signatureSchemes: unknown scheme ${String(s)}`);
    if (!o.provider.signatureSchemes.includes(code)) {
      throw new ConfigError(`signatureSchemes: provider ${o.provider.name} has no ${signatureSchemeName(code)}`);
    }
    return code;
  });
  if (signatureSchemes.length === 0) throw new ConfigError('signatureSchemes: empty');
  const alpnProtocols = [...(o.alpnProtocols ?? [])];
  for (const p of alpnProtocols) {
    const n = new TextEncoder().encode(p).length;
    if (n < 1 || n > 255) throw new ConfigError(`alpnProtocols: "${p}" must be 1..255 bytes`);
  }
  const maxHandshakeMessageSize = o.maxHandshakeMessageSize ?? DEFAULT_MAX_HANDSHAKE_MESSAGE;
  if (!(maxHandshakeMessageSize >= 1024 && maxHandshakeMessageSize <= 0xffffff)) {
    throw new ConfigError('maxHandshakeMessageSize must be between 1 KiB and 2^24-1');
  }
  const recordSizeLimit = o.recordSizeLimit ?? MAX_RECORD_SIZE_LIMIT;
  if (!Number.isInteger(recordSizeLimit) || recordSizeLimit < 64 || recordSizeLimit > MAX_RECORD_SIZE_LIMIT) {
    throw new ConfigError('recordSizeLimit must be between 64 and 16385 (RFC 8449)');
  }
  return {
    provider: o.provider, groups, cipherSuites, signatureSchemes, alpnProtocols, now: o.now, keyLog: o.keyLog,
    maxHandshakeMessageSize, recordSizeLimit, traceHooks: traceHooksOf(o),
  };
}

export interface ResolvedClient extends Resolved {
  readonly serverName: string | undefined;
  readonly verifier: CertificateVerifier;
  readonly keyShareGroups: readonly NamedGroup[];
  readonly certificate: ClientOptions['certificate'];
  readonly middleboxCompat: boolean;
  readonly sessionStore: SessionStore | undefined;
  readonly pskModes: readonly PskModeName[];
  readonly earlyData: Uint8Array | undefined;
  readonly replayRejectedEarlyData: boolean;
}

export interface ResolvedServer extends Resolved {
  readonly certificate: ServerOptions['certificate'];
  readonly clientAuth: ServerOptions['clientAuth'];
  readonly hrrCookie: boolean;
  readonly tickets: Required<TicketOptions> | undefined;
  readonly pskModes: readonly PskModeName[];
  readonly earlyData: EarlyDataOptions | undefined;
}

/** Validates client options up front, so a mistake is a clear error before any byte is sent. */
export function resolveClientOptions(o: ClientOptions): ResolvedClient {
  const base = resolveCommon(o);
  if (!o.verifier) throw new ConfigError('verifier is required (use webPkiVerifier with your trust anchors)');
  const keyShareGroups = o.keyShareGroups
    ? resolveGroups(o.keyShareGroups, o.provider, 'keyShareGroups')
    : DEFAULT_KEY_SHARES.filter((g) => base.groups.includes(g));
  if (keyShareGroups.length === 0) keyShareGroups.push(base.groups[0] as NamedGroup);
  for (const g of keyShareGroups) {
    if (!base.groups.includes(g)) throw new ConfigError(`keyShareGroups: ${groupName(g)} is not in groups`);
  }
  if (o.certificate) checkCertifiedKey(o.certificate, 'certificate');
  return {
    ...base,
    serverName: o.serverName,
    verifier: o.verifier,
    keyShareGroups,
    certificate: o.certificate,
    middleboxCompat: o.middleboxCompat ?? true,
    sessionStore: o.sessionStore,
    pskModes: resolvePskModes(o.pskModes),
    earlyData: o.earlyData,
    replayRejectedEarlyData: o.replayRejectedEarlyData ?? false,
  };
}

export function resolveServerOptions(o: ServerOptions): ResolvedServer {
  const base = resolveCommon(o);
  if (!o.certificate) throw new ConfigError('certificate is required for a server');
  checkCertifiedKey(o.certificate, 'certificate');
  if (o.clientAuth && !o.clientAuth.verifier) throw new ConfigError('clientAuth.verifier is required');
  let tickets: Required<TicketOptions> | undefined;
  if (o.tickets) {
    tickets = { sealer: o.tickets.sealer, count: o.tickets.count ?? 2, lifetime: o.tickets.lifetime ?? 7200 };
    if (!tickets.sealer) throw new ConfigError('tickets.sealer is required');
    if (!Number.isInteger(tickets.count) || tickets.count < 0 || tickets.count > 16) throw new ConfigError('tickets.count must be 0..16');
    if (!Number.isInteger(tickets.lifetime) || tickets.lifetime < 1 || tickets.lifetime > 604800) {
      throw new ConfigError('tickets.lifetime must be 1..604800 seconds (RFC 8446 §4.6.1)');
    }
  }
  if (o.earlyData) {
    if (!tickets) throw new ConfigError('earlyData needs tickets: 0-RTT only happens on resumption');
    if (!o.earlyData.antiReplay) throw new ConfigError('earlyData.antiReplay is required (RFC 8446 §8)');
    if (!Number.isInteger(o.earlyData.maxSize) || o.earlyData.maxSize < 1 || o.earlyData.maxSize > 0xffffffff) {
      throw new ConfigError('earlyData.maxSize must be a positive 32-bit integer');
    }
  }
  return {
    ...base, certificate: o.certificate, clientAuth: o.clientAuth, hrrCookie: o.hrrCookie ?? false,
    tickets, pskModes: resolvePskModes(o.pskModes), earlyData: o.earlyData,
  };
}

function resolvePskModes(m: readonly PskModeName[] | undefined): readonly PskModeName[] {
  const modes = m ?? ['psk_dhe_ke'];
  for (const x of modes) if (x !== 'psk_dhe_ke' && x !== 'psk_ke') throw new ConfigError(`pskModes: unknown mode ${String(x)}`);
  if (modes.length === 0) throw new ConfigError('pskModes: empty');
  return modes;
}

function checkCertifiedKey(c: CertifiedKey & { keyAlgorithm: KeyAlgorithm }, what: string): void {
  if (!c.chain || c.chain.length === 0) throw new ConfigError(`${what}: empty certificate chain`);
  if (!c.privateKey) throw new ConfigError(`${what}: privateKey is required`);
  if (c.privateKey.algorithm !== c.keyAlgorithm) {
    throw new ConfigError(`${what}: private key is ${c.privateKey.algorithm} but keyAlgorithm says ${c.keyAlgorithm}`);
  }
  // SLH-DSA may sign the certificates above the leaf, never a CertificateVerify: TLS has no SignatureScheme for it.
  if (isSlhDsa(c.keyAlgorithm)) throw new ConfigError(`${what}: a ${c.keyAlgorithm} key cannot sign a TLS CertificateVerify (SLH-DSA is for CA certificates only)`);
}
