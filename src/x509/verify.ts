import { equalBytes } from '../bytes.js';
import { ConfigError, IllegalParameterError } from '../errors.js';
import type { CryptoProvider } from '../pq/provider.js';
import { certificateSignatureScheme, isMlDsa, signatureVerificationCost } from './algorithms.js';
import { isSelfIssued, parseCertificate, type Certificate } from './certificate.js';
import type { CertificateCache } from './certificate-cache.js';
import { CertificateError, type CertificateRef } from './errors.js';
import type { KeyUsageBit } from './extensions.js';
import { normalizeReferenceName, sanCoversDnsName, sanCoversIp } from './hostname.js';
import { formatIp, parseIp } from './ip.js';
import { nameConstraintViolation } from './name-constraints.js';
import { Oid } from './oids.js';

/** A certificate given either parsed or as DER. */
export type CertificateInput = Certificate | Uint8Array;

/** Resource limits on what a peer can make the validator do. */
export interface ChainLimits {
  /**
   * Most certificates in a validated path, leaf and trust anchor included; also
   * the most certificates a peer may present. Default 8.
   */
  readonly maxChainLength?: number;
  /** Most DER bytes in the presented certificates (leaf + intermediates). Default 128 KiB. */
  readonly maxTotalBytes?: number;
  /** Most signature verifications one path search may spend. Default 64; an SLH-DSA verification counts as 8. */
  readonly maxSignatureChecks?: number;
  /**
   * Most signature-verification work one path search may spend, in units of one
   * RSA-2048 verification (ML-DSA-65 costs 10, ECDSA P-384 29, RSA-8192 16 or
   * more; see `signatureVerificationCost`). Default 512: over twice the
   * costliest legitimate path the other limits allow (seven P-384 checks, 203),
   * while 64 checks of large keys would cost seconds.
   */
  readonly maxSignatureCost?: number;
  /**
   * Most name-constraint comparisons (SAN names × subtrees, summed over every
   * check) one path search may spend. Default 250 000, as Go's crypto/x509:
   * without it ~110 KB of peer certificates buy seconds of CPU.
   */
  readonly maxNameConstraintChecks?: number;
}

/**
 * Defaults chosen to clear an all-ML-DSA-87 chain of four (each certificate is
 * about 7.5 KB: a 2592-byte key plus a 4627-byte signature, ~30 KB in all) by
 * a wide margin, and the nine-certificate chains QUIC interop tests use to
 * exercise the anti-amplification limit, while bounding the work a hostile
 * peer can cause (the byte, signature and cost limits bind first).
 */
export const DEFAULT_CHAIN_LIMITS: Required<ChainLimits> = {
  maxChainLength: 10,
  maxTotalBytes: 128 * 1024,
  maxSignatureChecks: 64,
  maxSignatureCost: 512,
  maxNameConstraintChecks: 250_000,
};

export type KeyPurpose = 'serverAuth' | 'clientAuth';

export interface VerifyChainOptions {
  /** Every signature is checked through this provider. */
  readonly provider: CryptoProvider;
  /** The end-entity certificate (first in a TLS Certificate message). */
  readonly leaf: CertificateInput;
  /** Other certificates the peer sent, in any order; unneeded ones are ignored. */
  readonly intermediates?: readonly CertificateInput[];
  /** The trusted roots. A trust anchor's own signature is not checked; its validity period and constraints are. */
  readonly trustAnchors: readonly CertificateInput[];
  /** The time to validate at (the core reads no clock). */
  readonly now: Date;
  /**
   * The server's name to match against the leaf's subjectAltName (RFC 9525).
   * An IP literal here is matched against iPAddress entries.
   */
  readonly hostname?: string;
  /** An IP address (text, 4 or 16 bytes) the leaf's iPAddress entries must hold. */
  readonly ip?: string | Uint8Array;
  /** The extendedKeyUsage the leaf (and any constrained CA above it) must allow. */
  readonly purpose: KeyPurpose;
  readonly limits?: ChainLimits;
  /**
   * Where DER inputs are parsed: a verifier that meets the same chain on every
   * handshake keeps one so it parses each certificate once. The certificates
   * it returns are shared; the result's certificates then are too.
   * @internal
   */
  readonly parseCache?: CertificateCache;
}

/** A validated certification path. */
export interface VerifiedChain {
  /** Leaf first, trust anchor last (one element when the leaf is itself a trust anchor). */
  readonly path: readonly Certificate[];
  readonly leaf: Certificate;
  readonly trustAnchor: Certificate;
}

interface Node {
  readonly cert: Certificate;
  readonly ref: CertificateRef;
}

const purposeOid: Record<KeyPurpose, string> = { serverAuth: Oid.serverAuth, clientAuth: Oid.clientAuth };
/** RFC 9881 §5: an ML-DSA key never encrypts or agrees keys. */
const ML_DSA_FORBIDDEN: readonly KeyUsageBit[] = ['keyEncipherment', 'dataEncipherment', 'keyAgreement', 'encipherOnly', 'decipherOnly'];

/**
 * The limits to apply. A key present but undefined keeps its default (a plain
 * spread would copy the undefined and silently lift the bound), and anything
 * but a non-negative integer is refused for the same reason.
 */
function resolveLimits(given: ChainLimits | undefined): Required<ChainLimits> {
  const pick = (key: keyof ChainLimits): number => {
    const v = given?.[key];
    if (v === undefined) return DEFAULT_CHAIN_LIMITS[key];
    if (!Number.isInteger(v) || v < 0) throw new ConfigError(`verifyChain: limits.${key} must be a non-negative integer, not ${v}`);
    return v;
  };
  return {
    maxChainLength: pick('maxChainLength'), maxTotalBytes: pick('maxTotalBytes'), maxSignatureChecks: pick('maxSignatureChecks'),
    maxSignatureCost: pick('maxSignatureCost'), maxNameConstraintChecks: pick('maxNameConstraintChecks'),
  };
}

function parseInput(c: CertificateInput, ref: CertificateRef, cache: CertificateCache | undefined): Certificate {
  if (!(c instanceof Uint8Array)) return c;
  try {
    return cache ? cache.parse(c) : parseCertificate(c);
  } catch (e) {
    if (e instanceof CertificateError) throw e.withCertificate(ref);
    throw e;
  }
}

/**
 * Validates a certificate chain (RFC 5280 §6, as profiled for TLS): builds a
 * path from `leaf` through `intermediates` (any order) to one of
 * `trustAnchors`, backtracking over alternatives; verifies every signature
 * through the provider; checks validity at `now`, basicConstraints and
 * pathLenConstraint, keyUsage, extendedKeyUsage for `purpose`, DNS and IP name
 * constraints, unknown critical extensions, and finally the leaf's identity
 * against `hostname` / `ip`.
 *
 * Resolves to the path, or rejects with a {@link CertificateError} naming the
 * certificate at fault, the reason, and the alert to send; a caller error
 * (an invalid `now`, a limit that is not a non-negative integer) is a
 * `ConfigError`.
 */
export async function verifyChain(options: VerifyChainOptions): Promise<VerifiedChain> {
  // An Invalid Date compares false both ways, which would put `now` inside every validity period.
  if (Number.isNaN(options.now.getTime())) throw new ConfigError('verifyChain: `now` is an invalid Date');
  const limits = resolveLimits(options.limits);
  const presented = [options.leaf, ...(options.intermediates ?? [])];
  if (presented.length > limits.maxChainLength) {
    throw new CertificateError('chain_too_long', `${presented.length} certificates presented, the limit is ${limits.maxChainLength}`, { index: 0 });
  }
  let total = 0;
  for (const c of presented) total += c instanceof Uint8Array ? c.length : c.der.length;
  if (total > limits.maxTotalBytes) {
    throw new CertificateError('chain_too_large', `${total} bytes of certificates presented, the limit is ${limits.maxTotalBytes}`, { index: 0 });
  }

  const leafCert = parseInput(options.leaf, { index: 0 }, options.parseCache);
  const leafNode: Node = { cert: leafCert, ref: { index: 0, subject: leafCert.subject.text } };
  const intermediates: Node[] = [];
  (options.intermediates ?? []).forEach((c, i) => {
    const cert = parseInput(c, { index: i + 1 }, options.parseCache);
    if (equalBytes(cert.der, leafNode.cert.der) || intermediates.some((n) => equalBytes(n.cert.der, cert.der))) return;
    intermediates.push({ cert, ref: { index: i + 1, subject: cert.subject.text } });
  });
  const anchors: Node[] = options.trustAnchors.map((c) => {
    const cert = parseInput(c, { trustAnchor: true }, options.parseCache);
    return { cert, ref: { trustAnchor: true, subject: cert.subject.text } };
  });

  const search = new PathSearch(options, limits, intermediates, anchors);
  const path = await search.run(leafNode);
  checkIdentity(leafNode, options);
  const certs = path.map((n) => n.cert);
  return { path: certs, leaf: leafNode.cert, trustAnchor: certs[certs.length - 1] as Certificate };
}

function checkIdentity(leaf: Node, options: VerifyChainOptions): void {
  const san = leaf.cert.extensions.subjectAltName;
  if (options.hostname !== undefined) {
    const asIp = parseIp(options.hostname);
    if (asIp) {
      if (!sanCoversIp(san, asIp)) throw new CertificateError('hostname_mismatch', `no iPAddress subjectAltName for ${formatIp(asIp)}`, leaf.ref);
    } else {
      if (normalizeReferenceName(options.hostname) === undefined) {
        throw new CertificateError('hostname_mismatch', `"${options.hostname}" is not a valid A-label host name`, leaf.ref);
      }
      if (!sanCoversDnsName(san, options.hostname)) {
        const names = san?.dns.length ? `its DNS names are ${san.dns.join(', ')}` : 'it has no DNS subjectAltName';
        throw new CertificateError('hostname_mismatch', `not valid for "${options.hostname}": ${names}`, leaf.ref);
      }
    }
  }
  if (options.ip !== undefined) {
    const ip = typeof options.ip === 'string' ? parseIp(options.ip) : options.ip;
    if (!ip || (ip.length !== 4 && ip.length !== 16)) {
      throw new CertificateError('hostname_mismatch', `"${String(options.ip)}" is not an IP address`, leaf.ref);
    }
    if (!sanCoversIp(san, ip)) throw new CertificateError('hostname_mismatch', `no iPAddress subjectAltName for ${formatIp(ip)}`, leaf.ref);
  }
}

/** Depth-first path building with backtracking, loop avoidance, a depth limit and a signature budget. */
class PathSearch {
  private signatureChecks = 0;
  private signatureCost = 0;
  private nameConstraintChecks = 0;
  /** First error that is more specific than "no issuer found", kept to report if no path exists. */
  private firstSpecific: CertificateError | undefined;
  private deepestUnknown: { depth: number; error: CertificateError } | undefined;

  constructor(
    private readonly options: VerifyChainOptions,
    private readonly limits: Required<ChainLimits>,
    private readonly intermediates: readonly Node[],
    private readonly anchors: readonly Node[],
  ) {}

  async run(leaf: Node): Promise<Node[]> {
    this.checkValidity(leaf);
    this.checkCommon(leaf);
    this.checkLeaf(leaf);
    // A leaf that is itself trusted (a self-signed test server) is its own path.
    if (this.anchors.some((a) => equalBytes(a.cert.der, leaf.cert.der))) return [leaf];
    const found = await this.extend([leaf]);
    if (found) return found;
    throw this.firstSpecific ?? this.deepestUnknown?.error ??
      new CertificateError('unknown_ca', 'no path to a trust anchor', leaf.ref);
  }

  private record(e: unknown): void {
    if (!(e instanceof CertificateError)) throw e;
    if (e.reason === 'path_search_exhausted' || e.reason === 'signature_budget_exceeded') throw e;
    this.firstSpecific ??= e;
  }

  private async extend(path: Node[]): Promise<Node[] | undefined> {
    const child = path[path.length - 1] as Node;
    const issuerName = child.cert.issuer.der;
    const matches = (n: Node): boolean => equalBytes(n.cert.subject.der, issuerName);
    const rank = (n: Node): number => {
      const aki = child.cert.extensions.authorityKeyId;
      const ski = n.cert.extensions.subjectKeyId;
      return aki && ski && equalBytes(aki, ski) ? 0 : 1;
    };
    const anchorCandidates = this.anchors.filter(matches).sort((a, b) => rank(a) - rank(b));
    const intermediateCandidates = this.intermediates
      .filter((n) => matches(n) && !path.includes(n) && !equalBytes(n.cert.der, child.cert.der))
      .sort((a, b) => rank(a) - rank(b));

    if (path.length + 1 > this.limits.maxChainLength && anchorCandidates.length + intermediateCandidates.length > 0) {
      this.record(new CertificateError('chain_too_long', `the path is already ${path.length} certificates long, the limit is ${this.limits.maxChainLength}`, child.ref));
      return undefined;
    }
    for (const anchor of anchorCandidates) {
      try {
        await this.checkIssuer(anchor, path);
        return [...path, anchor];
      } catch (e) {
        this.record(e);
      }
    }
    for (const next of intermediateCandidates) {
      if (path.length + 2 > this.limits.maxChainLength) {
        this.record(new CertificateError('chain_too_long', `a path through "${next.cert.subject.text}" would exceed ${this.limits.maxChainLength} certificates`, child.ref));
        break;
      }
      try {
        await this.checkIssuer(next, path);
      } catch (e) {
        this.record(e);
        continue;
      }
      const found = await this.extend([...path, next]);
      if (found) return found;
    }
    if (anchorCandidates.length + intermediateCandidates.length === 0) {
      const looped = this.intermediates.some((n) => matches(n) && path.includes(n));
      const detail = looped
        ? `the issuer "${child.cert.issuer.text}" is already in the path (the issuer graph has a loop) and no trust anchor issued it`
        : `no trust anchor or intermediate has the subject "${child.cert.issuer.text}"`;
      if (!this.deepestUnknown || path.length > this.deepestUnknown.depth) {
        this.deepestUnknown = { depth: path.length, error: new CertificateError('unknown_ca', detail, child.ref) };
      }
    }
    return undefined;
  }

  /** RFC 5280 §4.1.2.5 and §6.1.3 (a)(2): the certificate is valid at `now`. */
  private checkValidity(n: Node): void {
    const now = this.options.now.getTime();
    if (now < n.cert.notBefore.getTime()) {
      throw new CertificateError('not_yet_valid', `not valid before ${n.cert.notBefore.toISOString()} (now ${this.options.now.toISOString()})`, n.ref);
    }
    if (now > n.cert.notAfter.getTime()) {
      throw new CertificateError('expired', `expired at ${n.cert.notAfter.toISOString()} (now ${this.options.now.toISOString()})`, n.ref);
    }
  }

  /** Checks every certificate gets: critical extensions and the RFC 9881 §5 keyUsage rule. */
  private checkCommon(n: Node): void {
    const ext = n.cert.extensions;
    const unknown = ext.unhandledCritical[0];
    if (unknown !== undefined) throw new CertificateError('unknown_critical_extension', `critical extension ${unknown} is not supported`, n.ref);
    if (isMlDsa(n.cert.publicKey.algorithm) && ext.keyUsage) {
      const bad = ML_DSA_FORBIDDEN.filter((b) => ext.keyUsage?.has(b));
      if (bad.length) throw new CertificateError('key_usage', `an ML-DSA key cannot have keyUsage ${bad.join(', ')} (RFC 9881 §5)`, n.ref);
    }
  }

  private checkLeaf(n: Node): void {
    const ext = n.cert.extensions;
    const purpose = this.options.purpose;
    if (ext.extKeyUsage && !ext.extKeyUsage.includes(purposeOid[purpose]) && !ext.extKeyUsage.includes(Oid.anyExtendedKeyUsage)) {
      throw new CertificateError('bad_eku', `extendedKeyUsage does not include ${purpose}`, n.ref);
    }
    // TLS 1.3 authenticates with a signature (CertificateVerify), so the leaf key must be allowed to sign.
    if (ext.keyUsage && !ext.keyUsage.has('digitalSignature')) {
      throw new CertificateError('key_usage', 'keyUsage lacks digitalSignature', n.ref);
    }
    if (n.cert.publicKey.algorithm === 'unsupported') {
      throw new CertificateError('unsupported_algorithm', `public-key algorithm ${n.cert.publicKey.algorithmOid} is not supported`, n.ref);
    }
    // The leaf's key verifies the handshake signature: the RSA size cap applies to it too.
    try {
      signatureVerificationCost(n.cert.publicKey);
    } catch (e) {
      throw e instanceof CertificateError ? e.withCertificate(n.ref) : e;
    }
  }

  /** Checks that `issuer` may have issued the top of `path` and did (RFC 5280 §6.1.3-6.1.4). */
  private async checkIssuer(issuer: Node, path: readonly Node[]): Promise<void> {
    const child = path[path.length - 1] as Node;
    const isAnchor = issuer.ref.trustAnchor === true;
    this.checkValidity(issuer);
    this.checkCommon(issuer);
    const ext = issuer.cert.extensions;
    // A v1 root has no extensions at all; RFC 5280 §6.1 lets a trust anchor be one. Anything else must say cA.
    const v1Anchor = isAnchor && issuer.cert.version === 1;
    if (!v1Anchor && ext.basicConstraints?.ca !== true) {
      throw new CertificateError('not_a_ca', `issued "${child.cert.subject.text}" but basicConstraints does not say cA`, issuer.ref);
    }
    if (ext.keyUsage && !ext.keyUsage.has('keyCertSign')) {
      throw new CertificateError('key_usage', `issued "${child.cert.subject.text}" but keyUsage lacks keyCertSign`, issuer.ref);
    }
    // pathLenConstraint counts the non-self-issued intermediates below this CA (RFC 5280 §4.2.1.9).
    const pathLen = ext.basicConstraints?.pathLen;
    if (pathLen !== undefined) {
      const below = path.slice(1).filter((n) => !isSelfIssued(n.cert)).length;
      if (below > pathLen) {
        throw new CertificateError('path_len_exceeded', `pathLenConstraint ${pathLen} but ${below} intermediate CA(s) below it`, issuer.ref);
      }
    }
    const purpose = this.options.purpose;
    if (ext.extKeyUsage && !ext.extKeyUsage.includes(purposeOid[purpose]) && !ext.extKeyUsage.includes(Oid.anyExtendedKeyUsage)) {
      throw new CertificateError('bad_eku', `CA extendedKeyUsage does not include ${purpose}`, issuer.ref);
    }
    const nc = ext.nameConstraints;
    if (nc) {
      // §6.1.3 (b): constraints apply to every certificate below, except self-issued intermediates.
      for (let i = 0; i < path.length; i++) {
        const n = path[i] as Node;
        if (i > 0 && isSelfIssued(n.cert)) continue;
        const san = n.cert.extensions.subjectAltName;
        this.nameConstraintChecks += ((san?.dns.length ?? 0) + (san?.ip.length ?? 0)) * (nc.permitted.length + nc.excluded.length);
        if (this.nameConstraintChecks > this.limits.maxNameConstraintChecks) {
          throw new CertificateError('path_search_exhausted', `gave up after ${this.limits.maxNameConstraintChecks} name-constraint comparisons`, n.ref);
        }
        const v = nameConstraintViolation(nc, san);
        if (v) throw new CertificateError('name_constraints', `${v} of "${issuer.cert.subject.text}"`, n.ref);
      }
    }
    if (issuer.cert.publicKey.algorithm === 'unsupported') {
      throw new CertificateError('unsupported_algorithm', `issuer key algorithm ${issuer.cert.publicKey.algorithmOid} is not supported`, issuer.ref);
    }
    let scheme;
    try {
      scheme = certificateSignatureScheme(child.cert.signatureAlgorithm, issuer.cert.publicKey);
    } catch (e) {
      throw e instanceof CertificateError ? e.withCertificate(child.ref) : e;
    }
    let cost: number;
    try {
      cost = signatureVerificationCost(issuer.cert.publicKey);
    } catch (e) {
      throw e instanceof CertificateError ? e.withCertificate(issuer.ref) : e;
    }
    if (++this.signatureChecks > this.limits.maxSignatureChecks) {
      throw new CertificateError('path_search_exhausted', `gave up after ${this.limits.maxSignatureChecks} signature checks`, child.ref);
    }
    this.signatureCost += cost;
    if (this.signatureCost > this.limits.maxSignatureCost) {
      throw new CertificateError('signature_budget_exceeded',
        `checking the signature by "${issuer.cert.subject.text}" would bring the path search to ${this.signatureCost} units of signature work, the limit is ${this.limits.maxSignatureCost}`, child.ref);
    }
    let ok: boolean;
    try {
      ok = await this.options.provider.verify(scheme, issuer.cert.publicKey.publicKey, child.cert.tbs, child.cert.signature);
    } catch (e) {
      if (e instanceof IllegalParameterError) {
        throw new CertificateError('bad_public_key', `public key rejected by the provider: ${e.message}`, issuer.ref, { cause: e });
      }
      throw new CertificateError('bad_public_key', `the provider could not use the public key: ${e instanceof Error ? e.message : String(e)}`, issuer.ref, { cause: e });
    }
    if (!ok) throw new CertificateError('bad_signature', `signature by "${issuer.cert.subject.text}" does not verify`, child.ref);
  }
}
