import { normalizeDnsName } from './hostname.js';
import type { NameConstraints, NameSubtree, SubjectAltNames } from './extensions.js';
import { formatIp } from './ip.js';

/**
 * nameConstraints (RFC 5280 §4.2.1.10) for the two name forms a TLS peer is
 * identified by: dNSName and iPAddress subjectAltNames. A constraint of any
 * other form is refused outright rather than silently ignored, since ignoring
 * an exclusion would widen what the CA meant to allow.
 */

/**
 * A subtree base compared the way SAN names are (lowercase, one root dot
 * dropped), so an exclusion written `secret.example.com.` still excludes.
 */
function normalizeBase(base: string): string {
  const b = base.toLowerCase();
  return b.length > 1 && b.endsWith('.') ? b.slice(0, -1) : b;
}

/** RFC 5280 §4.2.1.10: "example.com" covers itself and subdomains; ".example.com" only subdomains. */
function dnsWithin(name: string, base: string): boolean {
  const b = normalizeBase(base);
  if (b === '' || b === '.') return true;
  if (b.startsWith('.')) return name.endsWith(b);
  return name === b || name.endsWith(`.${b}`);
}

/** Every name `*.rest` can stand for lies within `base`. */
function wildcardWithin(rest: string, base: string): boolean {
  return dnsWithin(rest, base) || rest === normalizeBase(base).replace(/^\./, '');
}

/** Some name `*.rest` can stand for lies within `base` (a wildcard matches exactly one label). */
function wildcardMeets(rest: string, base: string): boolean {
  if (wildcardWithin(rest, base)) return true;
  const b = normalizeBase(base);
  if (b.startsWith('.')) return false;
  const dot = b.indexOf('.');
  return dot > 0 && b.slice(dot + 1) === rest;
}

function ipWithin(ip: Uint8Array, s: { address: Uint8Array; mask: Uint8Array }): boolean {
  if (ip.length !== s.address.length) return false;
  for (let i = 0; i < ip.length; i++) {
    const m = s.mask[i] as number;
    if (((ip[i] as number) & m) !== ((s.address[i] as number) & m)) return false;
  }
  return true;
}

/**
 * The address and, for IPv4 or IPv4-mapped IPv6 (RFC 4291 §2.5.5.2,
 * `::ffff:a.b.c.d`), its other spelling: both reach the same host, so an
 * exclusion written in either family must catch both.
 */
function ipForms(ip: Uint8Array): Uint8Array[] {
  if (ip.length === 4) return [ip, Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...ip)];
  const mapped = ip.length === 16 && ip.subarray(0, 10).every((b) => b === 0) && ip[10] === 0xff && ip[11] === 0xff;
  return mapped ? [ip, ip.subarray(12)] : [ip];
}

/**
 * Checks a certificate's SAN names against one CA's constraints. Returns a
 * description of the first violation, or undefined if the names comply.
 */
export function nameConstraintViolation(nc: NameConstraints, san: SubjectAltNames | undefined): string | undefined {
  const unsupported = [...nc.permitted, ...nc.excluded].find((s): s is Extract<NameSubtree, { kind: 'unsupported' }> => s.kind === 'unsupported');
  if (unsupported) return `constraints on ${unsupported.form} names are not supported`;
  const permittedDns = nc.permitted.filter((s) => s.kind === 'dns');
  const permittedIp = nc.permitted.filter((s) => s.kind === 'ip');
  for (const raw of san?.dns ?? []) {
    const name = normalizeDnsName(raw);
    if (name === undefined) return `DNS name "${raw}" is not a valid host name`;
    const wildcard = name.startsWith('*.') ? name.slice(2) : undefined;
    const inside = (base: string): boolean => (wildcard !== undefined ? wildcardWithin(wildcard, base) : dnsWithin(name, base));
    const meets = (base: string): boolean => (wildcard !== undefined ? wildcardMeets(wildcard, base) : dnsWithin(name, base));
    if (permittedDns.length && !permittedDns.some((s) => inside(s.name))) return `DNS name "${raw}" is outside the permitted subtrees`;
    const hit = nc.excluded.find((s) => s.kind === 'dns' && meets(s.name));
    if (hit && hit.kind === 'dns') return `DNS name "${raw}" falls in excluded subtree "${hit.name}"`;
  }
  for (const ip of san?.ip ?? []) {
    if (permittedIp.length && !permittedIp.some((s) => ipWithin(ip, s))) return `IP address ${formatIp(ip)} is outside the permitted subtrees`;
    const forms = ipForms(ip);
    const hit = nc.excluded.find((s) => s.kind === 'ip' && forms.some((f) => ipWithin(f, s)));
    if (hit) return `IP address ${formatIp(ip)} falls in an excluded subtree`;
  }
  return undefined;
}
