import {
  bitString, booleanValue, contents, contextTag, decodeDer, octetString, oidValue, smallInteger, stringValue, Tag, type Tlv,
} from '../codec/der.js';
import { malformed } from './errors.js';
import { Oid } from './oids.js';

/** One extension as found in the certificate. */
export interface Extension {
  readonly oid: string;
  readonly critical: boolean;
  /** Contents of extnValue (the DER of the extension's own structure). */
  readonly value: Uint8Array;
}

/** basicConstraints (RFC 5280 §4.2.1.9). */
export interface BasicConstraints {
  readonly ca: boolean;
  readonly pathLen?: number;
}

/** keyUsage bits (RFC 5280 §4.2.1.3), in bit order. */
export const KEY_USAGE_BITS = [
  'digitalSignature', 'nonRepudiation', 'keyEncipherment', 'dataEncipherment', 'keyAgreement', 'keyCertSign', 'cRLSign',
  'encipherOnly', 'decipherOnly',
] as const;
export type KeyUsageBit = (typeof KEY_USAGE_BITS)[number];

/** The subjectAltName entries a TLS peer is identified by, plus a note of the other kinds present. */
export interface SubjectAltNames {
  /** dNSName entries as written (lowercased for comparison at match time). */
  readonly dns: readonly string[];
  /** iPAddress entries: 4 or 16 bytes. */
  readonly ip: readonly Uint8Array[];
  readonly email: readonly string[];
  readonly uri: readonly string[];
  /** Count of otherName / x400 / directoryName / ediParty / registeredID entries. */
  readonly other: number;
}

/** One nameConstraints subtree base of a form this library enforces. */
export type NameSubtree =
  | { readonly kind: 'dns'; readonly name: string }
  | { readonly kind: 'ip'; readonly address: Uint8Array; readonly mask: Uint8Array }
  /** A form not enforced here (rfc822Name, URI, directoryName, ...); its presence fails validation. */
  | { readonly kind: 'unsupported'; readonly form: string };

/** nameConstraints (RFC 5280 §4.2.1.10). */
export interface NameConstraints {
  readonly permitted: readonly NameSubtree[];
  readonly excluded: readonly NameSubtree[];
}

/** The extensions this library interprets, decoded; `all` has every one as found. */
export interface CertificateExtensions {
  readonly all: readonly Extension[];
  readonly basicConstraints?: BasicConstraints;
  readonly keyUsage?: ReadonlySet<KeyUsageBit>;
  /** extendedKeyUsage purpose OIDs. */
  readonly extKeyUsage?: readonly string[];
  readonly subjectAltName?: SubjectAltNames;
  readonly nameConstraints?: NameConstraints;
  readonly subjectKeyId?: Uint8Array;
  readonly authorityKeyId?: Uint8Array;
  /** OIDs of critical extensions this library does not process (each fails validation). */
  readonly unhandledCritical: readonly string[];
}

/** Extensions whose semantics the validator implements; any other critical extension is refused. */
const HANDLED = new Set<string>([
  Oid.basicConstraints, Oid.keyUsage, Oid.extKeyUsage, Oid.subjectAltName, Oid.nameConstraints, Oid.subjectKeyIdentifier,
  Oid.authorityKeyIdentifier,
]);

const GN = {
  otherName: contextTag(0, true),
  rfc822Name: contextTag(1, false),
  dNSName: contextTag(2, false),
  x400Address: contextTag(3, true),
  directoryName: contextTag(4, true),
  ediPartyName: contextTag(5, true),
  uniformResourceIdentifier: contextTag(6, false),
  iPAddress: contextTag(7, false),
  registeredID: contextTag(8, false),
} as const;
const gnName = new Map<number, string>(Object.entries(GN).map(([k, v]) => [v, k]));

function ia5(t: Tlv, what: string): string {
  const s = stringValue({ ...t, tag: Tag.IA5String }, what);
  if (s.length === 0) throw malformed(`${what}: empty name`);
  return s;
}

/** Parses the `[3] EXPLICIT Extensions` contents (a SEQUENCE OF Extension). */
export function parseExtensions(t: Tlv): CertificateExtensions {
  const r = contents(t, 'extensions');
  const all: Extension[] = [];
  const seen = new Set<string>();
  while (!r.done) {
    const e = contents(r.read(), 'extension');
    const id = oidValue(e.expect(Tag.OID, 'extnID'), 'extnID');
    const critT = e.optional(Tag.BOOLEAN);
    const critical = critT ? booleanValue(critT, `extension ${id} critical`) : false;
    // X.690 §11.5: a DEFAULT value is never encoded in DER.
    if (critT && !critical) throw malformed(`extension ${id}: critical FALSE must be omitted in DER`);
    const value = octetString(e.expect(Tag.OCTET_STRING, 'extnValue'), 'extnValue');
    e.end();
    // RFC 5280 §4.2: a certificate MUST NOT include more than one instance of an extension.
    if (seen.has(id)) throw malformed(`extension ${id} appears twice`);
    seen.add(id);
    all.push({ oid: id, critical, value });
  }
  if (all.length === 0) throw malformed('extensions: empty SEQUENCE (must be omitted instead)');

  let basicConstraints: BasicConstraints | undefined;
  let keyUsage: Set<KeyUsageBit> | undefined;
  let extKeyUsage: string[] | undefined;
  let subjectAltName: SubjectAltNames | undefined;
  let nameConstraints: NameConstraints | undefined;
  let subjectKeyId: Uint8Array | undefined;
  let authorityKeyId: Uint8Array | undefined;
  const unhandledCritical: string[] = [];
  for (const ext of all) {
    const v = (what: string): Tlv => decodeDer(ext.value, what, malformed);
    switch (ext.oid) {
      case Oid.basicConstraints:
        basicConstraints = parseBasicConstraints(v('basicConstraints'));
        break;
      case Oid.keyUsage:
        keyUsage = parseKeyUsage(v('keyUsage'));
        break;
      case Oid.extKeyUsage: {
        const er = contents(v('extKeyUsage'), 'extKeyUsage');
        extKeyUsage = [];
        while (!er.done) extKeyUsage.push(oidValue(er.read(), 'extKeyUsage purpose'));
        if (extKeyUsage.length === 0) throw malformed('extKeyUsage: empty');
        break;
      }
      case Oid.subjectAltName:
        subjectAltName = parseSubjectAltName(v('subjectAltName'));
        break;
      case Oid.nameConstraints:
        nameConstraints = parseNameConstraints(v('nameConstraints'));
        break;
      case Oid.subjectKeyIdentifier:
        subjectKeyId = octetString(v('subjectKeyIdentifier'), 'subjectKeyIdentifier');
        break;
      case Oid.authorityKeyIdentifier: {
        const ar = contents(v('authorityKeyIdentifier'), 'authorityKeyIdentifier');
        const kid = ar.optional(contextTag(0, false));
        ar.optional(contextTag(1, true));
        ar.optional(contextTag(2, false));
        ar.end();
        authorityKeyId = kid?.value;
        break;
      }
      default:
        if (ext.critical && !HANDLED.has(ext.oid)) unhandledCritical.push(ext.oid);
    }
  }
  return {
    all, unhandledCritical,
    ...(basicConstraints && { basicConstraints }),
    ...(keyUsage && { keyUsage }),
    ...(extKeyUsage && { extKeyUsage }),
    ...(subjectAltName && { subjectAltName }),
    ...(nameConstraints && { nameConstraints }),
    ...(subjectKeyId && { subjectKeyId }),
    ...(authorityKeyId && { authorityKeyId }),
  };
}

function parseBasicConstraints(t: Tlv): BasicConstraints {
  const r = contents(t, 'basicConstraints');
  const caT = r.optional(Tag.BOOLEAN);
  const ca = caT ? booleanValue(caT, 'basicConstraints cA') : false;
  if (caT && !ca) throw malformed('basicConstraints: cA FALSE must be omitted in DER');
  const plT = r.optional(Tag.INTEGER);
  r.end();
  if (plT === undefined) return { ca };
  // RFC 5280 §4.2.1.9: pathLenConstraint only makes sense, and only may appear, with cA TRUE.
  if (!ca) throw malformed('basicConstraints: pathLenConstraint without cA');
  return { ca, pathLen: smallInteger(plT, 'pathLenConstraint', 255) };
}

function parseKeyUsage(t: Tlv): Set<KeyUsageBit> {
  const { bytes } = bitString(t, 'keyUsage');
  const out = new Set<KeyUsageBit>();
  for (let i = 0; i < bytes.length * 8; i++) {
    if (((bytes[i >> 3] as number) >> (7 - (i & 7))) & 1) {
      const name = KEY_USAGE_BITS[i];
      if (name === undefined) throw malformed(`keyUsage: undefined bit ${i}`);
      out.add(name);
    }
  }
  // RFC 5280 §4.2.1.3: at least one bit MUST be set.
  if (out.size === 0) throw malformed('keyUsage: no bit set');
  return out;
}

function parseSubjectAltName(t: Tlv): SubjectAltNames {
  const r = contents(t, 'subjectAltName');
  const dns: string[] = [];
  const ip: Uint8Array[] = [];
  const email: string[] = [];
  const uri: string[] = [];
  let other = 0;
  while (!r.done) {
    const g = r.read();
    switch (g.tag) {
      case GN.dNSName: dns.push(ia5(g, 'subjectAltName dNSName')); break;
      case GN.rfc822Name: email.push(ia5(g, 'subjectAltName rfc822Name')); break;
      case GN.uniformResourceIdentifier: uri.push(ia5(g, 'subjectAltName URI')); break;
      case GN.iPAddress:
        if (g.value.length !== 4 && g.value.length !== 16) throw malformed(`subjectAltName iPAddress of ${g.value.length} bytes`);
        ip.push(g.value);
        break;
      default:
        if (!gnName.has(g.tag)) throw malformed(`subjectAltName: unknown GeneralName tag 0x${g.tag.toString(16)}`);
        other++;
    }
  }
  // RFC 5280 §4.2.1.6: at least one entry.
  if (dns.length + ip.length + email.length + uri.length + other === 0) throw malformed('subjectAltName: empty');
  return { dns, ip, email, uri, other };
}

function parseSubtrees(t: Tlv, what: string): NameSubtree[] {
  const r = contents(t, what, t.tag);
  const out: NameSubtree[] = [];
  while (!r.done) {
    const st = contents(r.read(), `${what} GeneralSubtree`);
    const base = st.read();
    // RFC 5280 §4.2.1.10: minimum MUST be zero (hence absent in DER), maximum MUST be absent.
    if (!st.done) throw malformed(`${what}: minimum/maximum must be absent`);
    switch (base.tag) {
      case GN.dNSName: {
        const name = stringValue({ ...base, tag: Tag.IA5String }, `${what} dNSName`);
        out.push({ kind: 'dns', name });
        break;
      }
      case GN.iPAddress: {
        const n = base.value.length;
        if (n !== 8 && n !== 32) throw malformed(`${what}: iPAddress constraint of ${n} bytes`);
        const address = base.value.subarray(0, n / 2);
        const mask = base.value.subarray(n / 2);
        let ended = false;
        for (const b of mask) {
          for (let i = 7; i >= 0; i--) {
            const bit = (b >> i) & 1;
            if (bit && ended) throw malformed(`${what}: iPAddress mask is not contiguous`);
            if (!bit) ended = true;
          }
        }
        out.push({ kind: 'ip', address, mask });
        break;
      }
      default: {
        const form = gnName.get(base.tag);
        if (!form) throw malformed(`${what}: unknown GeneralName tag 0x${base.tag.toString(16)}`);
        out.push({ kind: 'unsupported', form });
      }
    }
  }
  if (out.length === 0) throw malformed(`${what}: empty`);
  return out;
}

function parseNameConstraints(t: Tlv): NameConstraints {
  const r = contents(t, 'nameConstraints');
  const p = r.optional(contextTag(0, true));
  const x = r.optional(contextTag(1, true));
  r.end();
  if (!p && !x) throw malformed('nameConstraints: empty');
  return {
    permitted: p ? parseSubtrees(p, 'permittedSubtrees') : [],
    excluded: x ? parseSubtrees(x, 'excludedSubtrees') : [],
  };
}
