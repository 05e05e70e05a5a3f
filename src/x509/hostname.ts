import { equalBytes } from '../bytes.js';
import type { SubjectAltNames } from './extensions.js';

/**
 * Service identity checks of RFC 9525 §6: only subjectAltName counts (the
 * subject CN is never consulted, §6.3), DNS names compare case-insensitively
 * in A-label form, and a wildcard is accepted only as the complete left-most
 * label, matching exactly one label (§6.3, rules 1-2).
 */

/** Lowercases ASCII and drops one trailing root dot. Undefined if not a usable A-label host name. */
export function normalizeDnsName(name: string): string | undefined {
  let n = name.endsWith('.') ? name.slice(0, -1) : name;
  if (n.length === 0 || n.length > 253) return undefined;
  // Reference identities must already be A-labels (RFC 9525 §6.3: "internationalized domain names ... as A-labels").
  if (!/^[\x21-\x7e]+$/.test(n)) return undefined;
  n = n.toLowerCase();
  const labels = n.split('.');
  for (const l of labels) if (l.length === 0 || l.length > 63) return undefined;
  return n;
}

/**
 * A reference identity (the name the client asked for) normalized, or
 * undefined if it is not a concrete host name: labels of letters, digits,
 * hyphens and underscores only (no `*`, brackets, `:` or `%`), and a last label
 * that is not a number. A resolver reads `127.1`, `0x7f.0.0.1` or `0177.0.0.1`
 * as IPv4 (inet_aton; WHATWG URL "ends in a number"), so a dNSName spelling
 * one of those must never vouch for it; strict IP literals go to
 * {@link sanCoversIp} instead.
 */
export function normalizeReferenceName(name: string): string | undefined {
  const n = normalizeDnsName(name);
  if (n === undefined) return undefined;
  const labels = n.split('.');
  if (!labels.every((l) => /^[a-z0-9_-]+$/.test(l))) return undefined;
  if (/^(\d+|0x[0-9a-f]*)$/.test(labels[labels.length - 1] as string)) return undefined;
  return n;
}

/** Does the presented identifier `pattern` (a SAN dNSName) match the reference host name `host`? */
export function dnsNameMatches(pattern: string, host: string): boolean {
  const p = normalizeDnsName(pattern);
  const h = normalizeReferenceName(host);
  if (!p || !h) return false;
  if (!p.includes('*')) return p === h;
  const [first, ...rest] = p.split('.');
  // Only "*" as the whole left-most label, and never with fewer than two labels under it (no "*.com").
  if (first !== '*' || rest.length < 2 || rest.some((l) => l.includes('*'))) return false;
  const [hFirst, ...hRest] = h.split('.');
  // The wildcard matches one non-empty label; an IDN host's A-label is matched like any other label.
  return hFirst !== undefined && hFirst.length > 0 && hRest.join('.') === rest.join('.');
}

/** Does the certificate's SAN cover `host` (a DNS name) ? */
export function sanCoversDnsName(san: SubjectAltNames | undefined, host: string): boolean {
  return (san?.dns ?? []).some((d) => dnsNameMatches(d, host));
}

/** Does the certificate's SAN carry the iPAddress `ip` (4 or 16 bytes; exact match, RFC 9525 §6.5)? */
export function sanCoversIp(san: SubjectAltNames | undefined, ip: Uint8Array): boolean {
  return (san?.ip ?? []).some((a) => equalBytes(a, ip));
}
