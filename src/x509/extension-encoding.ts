import { ConfigError } from '../errors.js';
import { contextTag, derBoolean, integer, octets, oid, sequence, tlv } from '../codec/der.js';
import { KEY_USAGE_BITS, type KeyUsageBit } from './extensions.js';
import { parseIp } from './ip.js';
import { Oid } from './oids.js';

/** An extension to write: its OID, criticality and the DER of its value. */
export interface ExtensionSpec {
  readonly oid: string;
  readonly critical: boolean;
  readonly value: Uint8Array;
}

/** Extension ::= SEQUENCE { extnID, critical DEFAULT FALSE, extnValue OCTET STRING } (RFC 5280 §4.1). */
export function encodeExtension(e: ExtensionSpec): Uint8Array {
  return e.critical ? sequence(oid(e.oid), derBoolean(true), octets(e.value)) : sequence(oid(e.oid), octets(e.value));
}

/** basicConstraints, always critical as RFC 5280 §4.2.1.9 asks of CAs. */
export function basicConstraintsExtension(ca: boolean, pathLen?: number): ExtensionSpec {
  const parts = ca ? [derBoolean(true), ...(pathLen !== undefined ? [integer(pathLen)] : [])] : [];
  return { oid: Oid.basicConstraints, critical: true, value: sequence(...parts) };
}

/** keyUsage as a DER named-bit list (trailing zero bits dropped, X.690 §11.2.2). */
export function keyUsageExtension(usages: readonly KeyUsageBit[]): ExtensionSpec {
  if (usages.length === 0) throw new ConfigError('keyUsage needs at least one bit');
  let highest = -1;
  const set = new Set(usages.map((u) => KEY_USAGE_BITS.indexOf(u)));
  for (const i of set) highest = Math.max(highest, i);
  const nBytes = Math.floor(highest / 8) + 1;
  const body = new Uint8Array(nBytes);
  for (const i of set) body[i >> 3] = (body[i >> 3] as number) | (0x80 >> (i & 7));
  const unused = 7 - (highest % 8);
  return { oid: Oid.keyUsage, critical: true, value: tlv(0x03, new Uint8Array([unused]), body) };
}

export function extKeyUsageExtension(purposes: readonly string[]): ExtensionSpec {
  return { oid: Oid.extKeyUsage, critical: false, value: sequence(...purposes.map(oid)) };
}

function ipBytes(text: string): Uint8Array {
  const b = parseIp(text);
  if (!b) throw new ConfigError(`"${text}" is not an IPv4 or IPv6 address`);
  return b;
}

/** subjectAltName with dNSName and iPAddress entries; critical when the subject is empty (RFC 5280 §4.2.1.6). */
export function subjectAltNameExtension(names: { dns?: readonly string[]; ip?: readonly string[] }, critical = false): ExtensionSpec {
  const enc = new TextEncoder();
  const entries = [
    ...(names.dns ?? []).map((d) => {
      if (!/^[\x21-\x7e]+$/.test(d)) throw new ConfigError(`DNS name "${d}" must be ASCII (an A-label)`);
      return tlv(contextTag(2, false), enc.encode(d));
    }),
    ...(names.ip ?? []).map((i) => tlv(contextTag(7, false), ipBytes(i))),
  ];
  if (entries.length === 0) throw new ConfigError('subjectAltName needs at least one DNS name or IP address');
  return { oid: Oid.subjectAltName, critical, value: sequence(...entries) };
}

export function subjectKeyIdExtension(keyId: Uint8Array): ExtensionSpec {
  return { oid: Oid.subjectKeyIdentifier, critical: false, value: octets(keyId) };
}

export function authorityKeyIdExtension(keyId: Uint8Array): ExtensionSpec {
  return { oid: Oid.authorityKeyIdentifier, critical: false, value: sequence(tlv(contextTag(0, false), keyId)) };
}

/** Name constraints on DNS names (`example.com`, `.example.com`) and IP ranges in CIDR form (`10.0.0.0/8`). */
export interface NameConstraintsSpec {
  readonly permitted?: { readonly dns?: readonly string[]; readonly ip?: readonly string[] };
  readonly excluded?: { readonly dns?: readonly string[]; readonly ip?: readonly string[] };
}

function cidr(text: string): Uint8Array {
  const [addr, lenText] = text.split('/');
  const a = ipBytes(addr ?? '');
  const len = lenText === undefined ? a.length * 8 : Number(lenText);
  if (!Number.isInteger(len) || len < 0 || len > a.length * 8) throw new ConfigError(`bad prefix length in "${text}"`);
  const mask = new Uint8Array(a.length);
  for (let i = 0; i < len; i++) mask[i >> 3] = (mask[i >> 3] as number) | (0x80 >> (i & 7));
  const out = new Uint8Array(a.length * 2);
  out.set(a.map((b, i) => b & (mask[i] as number)));
  out.set(mask, a.length);
  return out;
}

/** nameConstraints, critical as RFC 5280 §4.2.1.10 requires. */
export function nameConstraintsExtension(spec: NameConstraintsSpec): ExtensionSpec {
  const enc = new TextEncoder();
  const subtrees = (s: { dns?: readonly string[]; ip?: readonly string[] } | undefined): Uint8Array[] => [
    ...(s?.dns ?? []).map((d) => sequence(tlv(contextTag(2, false), enc.encode(d)))),
    ...(s?.ip ?? []).map((i) => sequence(tlv(contextTag(7, false), cidr(i)))),
  ];
  const p = subtrees(spec.permitted);
  const x = subtrees(spec.excluded);
  if (p.length + x.length === 0) throw new ConfigError('nameConstraints needs at least one subtree');
  const parts = [...(p.length ? [tlv(contextTag(0, true), ...p)] : []), ...(x.length ? [tlv(contextTag(1, true), ...x)] : [])];
  return { oid: Oid.nameConstraints, critical: true, value: sequence(...parts) };
}

