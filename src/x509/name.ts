import { toHex } from '../bytes.js';
import { bitString, booleanValue, contents, DerReader, integerBytes, nullValue, oid, oidValue, sequence, set, stringValue, Tag, timeValue, tlv, type Tlv } from '../codec/der.js';
import { malformed } from './errors.js';
import { Oid } from './oids.js';

/** One AttributeTypeAndValue of a distinguished name. */
export interface NameAttribute {
  readonly oid: string;
  /** Short name (`CN`, `O`) where RFC 4514 §3 or common usage defines one. */
  readonly type: string;
  /** The decoded value; `#hex` of the DER for a value that is not a string. */
  readonly value: string;
}

/** An X.501 Name: its exact DER (what issuer/subject chaining compares) and its decoded RDNs. */
export interface DistinguishedName {
  readonly der: Uint8Array;
  /** Relative distinguished names in encoding order (most general first). */
  readonly rdns: readonly (readonly NameAttribute[])[];
  /** RFC 4514 string (most specific first), e.g. `CN=leaf,O=Example`. */
  readonly text: string;
}

const shortNames: Record<string, string> = {
  [Oid.commonName]: 'CN',
  [Oid.countryName]: 'C',
  [Oid.localityName]: 'L',
  [Oid.stateOrProvinceName]: 'ST',
  [Oid.streetAddress]: 'STREET',
  [Oid.organizationName]: 'O',
  [Oid.organizationalUnitName]: 'OU',
  [Oid.domainComponent]: 'DC',
  [Oid.userId]: 'UID',
  [Oid.serialNumber]: 'serialNumber',
  [Oid.emailAddress]: 'emailAddress',
  [Oid.surname]: 'SN',
  [Oid.givenName]: 'GN',
  [Oid.title]: 'title',
};
/** The string types {@link stringValue} decodes: DirectoryString's five (RFC 5280 §4.1.2.4) and IA5String. */
const STRING_TAGS: ReadonlySet<number> = new Set([Tag.UTF8String, Tag.PrintableString, Tag.TeletexString, Tag.IA5String, Tag.UniversalString, Tag.BMPString]);
const oidByShortName = new Map(Object.entries(shortNames).map(([k, v]) => [v.toLowerCase(), k]));

export function parseName(t: Tlv, what: string): DistinguishedName {
  const r = contents(t, what);
  const rdns: NameAttribute[][] = [];
  while (!r.done) {
    const rdn = contents(r.read(), `${what} RDN`, Tag.SET);
    const attrs: NameAttribute[] = [];
    while (!rdn.done) {
      const atv = contents(rdn.read(), `${what} attribute`);
      const id = oidValue(atv.expect(Tag.OID, 'type'), `${what} attribute type`);
      const v = atv.read();
      atv.end();
      const type = shortNames[id] ?? id;
      const label = `${what} ${type}`;
      let value: string;
      if (STRING_TAGS.has(v.tag)) {
        // A string type holds that type's characters (X.680), or the name is refused (PKI.js refuses it too).
        value = stringValue(v, label);
      } else {
        // Not a string: kept as `#hex`, but it must still be DER.
        wellFormed(v, `${label} value`, 0);
        value = `#${toHex(v.raw)}`;
      }
      attrs.push({ oid: id, type, value });
    }
    if (attrs.length === 0) throw malformed(`${what}: empty RelativeDistinguishedName`);
    rdns.push(attrs);
  }
  return { der: t.raw, rdns, text: formatRdns(rdns) };
}

/**
 * The universal primitive types whose DER contents have one valid form, checked wherever they appear in a
 * value: BOOLEAN (§11.1), INTEGER (§8.3.2), BIT STRING (§8.6.2, §11.2), NULL (§8.8), OBJECT IDENTIFIER
 * (§8.19), and UTCTime and GeneralizedTime in RFC 5280's form (§4.1.2.5). PKI.js (asn1js) refuses a certificate
 * for some of these inside a name (a BIT STRING with more than 7 unused bits, a time that is not one), OpenSSL for
 * the BIT STRING; for the others (a longer NULL, a non-minimal INTEGER) this is the stricter DER reading, as
 * everywhere else in this parser.
 */
const primitiveChecks: Readonly<Record<number, (t: Tlv, what: string) => unknown>> = {
  [Tag.BOOLEAN]: booleanValue,
  [Tag.INTEGER]: integerBytes,
  [Tag.BIT_STRING]: bitString,
  [Tag.NULL]: nullValue,
  [Tag.OID]: oidValue,
  [Tag.UTCTime]: timeValue,
  [Tag.GeneralizedTime]: timeValue,
};

/**
 * X.690 §8.1.1: the contents of a constructed encoding are themselves encodings, all the way down; and the
 * primitive ones among them of a type in {@link primitiveChecks} hold a valid encoding of it.
 */
function wellFormed(t: Tlv, what: string, depth: number): void {
  // X.680 §8.6: universal tag 0 is BER's end-of-contents and 15 is reserved; no value is encoded with either.
  const universal = (t.tag & 0xc0) === 0;
  if (universal && ((t.tag & 0x1f) === 0 || (t.tag & 0x1f) === 15)) throw t.fail(`${what}: reserved universal tag 0x${t.tag.toString(16)}`);
  // X.690 §8.9.1, §8.11.1: SEQUENCE (16) and SET (17) are always constructed.
  if (t.tag === 0x10 || t.tag === 0x11) throw t.fail(`${what}: primitive ${t.tag === 0x10 ? 'SEQUENCE' : 'SET'}`);
  if ((t.tag & 0x20) === 0) {
    primitiveChecks[t.tag]?.(t, what);
    return;
  }
  if (depth > 8) throw malformed(`${what}: nested more than 8 levels deep`);
  const r = new DerReader(t.value, what, t.fail);
  while (!r.done) wellFormed(r.read(), what, depth + 1);
}

function escapeValue(v: string): string {
  if (v.startsWith('#') && /^#[0-9a-f]+$/.test(v)) return v;
  let s = v.replace(/[\\,+"<>;=]/g, (c) => `\\${c}`);
  s = s.replace(/[\u0000-\u001f]/g, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  if (s.startsWith(' ') || s.startsWith('#')) s = `\\${s}`;
  if (s.endsWith(' ')) s = `${s.slice(0, -1)}\\ `;
  return s;
}

function formatRdns(rdns: readonly (readonly NameAttribute[])[]): string {
  return [...rdns].reverse().map((rdn) => rdn.map((a) => `${a.type}=${escapeValue(a.value)}`).join('+')).join(',');
}

/** The first value of an attribute (`CN` by default), if the name has one. */
export function nameAttribute(name: DistinguishedName, type: string = Oid.commonName): string | undefined {
  for (const rdn of name.rdns) for (const a of rdn) if (a.oid === type || a.type === type) return a.value;
  return undefined;
}

/**
 * Parses a distinguished name written as RFC 4514 (`CN=leaf,O=Example`, most
 * specific first) or in OpenSSL's slash form (`/O=Example/CN=leaf`, most
 * general first). Known short names only, or dotted OIDs; `\` escapes one
 * character. Throws `TypeError` for text it cannot read.
 */
export function parseNameText(text: string): { type: string; value: string }[] {
  const slash = text.startsWith('/');
  const sep = slash ? '/' : ',';
  const body = slash ? text.slice(1) : text;
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i] as string;
    if (c === '\\' && i + 1 < body.length) {
      cur += c + (body[++i] as string);
    } else if (c === sep) {
      parts.push(cur);
      cur = '';
    } else {
      cur += c;
    }
  }
  if (cur.length || parts.length) parts.push(cur);
  const attrs = parts.map((p) => {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new TypeError(`distinguished name component "${p}" is not TYPE=value`);
    const type = p.slice(0, eq).trim();
    const id = /^\d+(\.\d+)+$/.test(type) ? type : oidByShortName.get(type.toLowerCase());
    if (!id) throw new TypeError(`unknown attribute type "${type}" in distinguished name`);
    const value = p.slice(eq + 1).trim().replace(/\\(.)/g, '$1');
    if (value.length === 0) throw new TypeError(`empty value for ${type} in distinguished name`);
    return { type: id, value };
  });
  return slash ? attrs : attrs.reverse();
}

/**
 * Encodes a Name from attributes in encoding order (most general first), one
 * attribute per RDN. Country and serialNumber are PrintableString (X.520),
 * everything else UTF8String (RFC 5280 §4.1.2.6).
 */
export function encodeName(attrs: readonly { type: string; value: string }[]): Uint8Array {
  const enc = new TextEncoder();
  return sequence(
    ...attrs.map((a) => {
      const printable = a.type === Oid.countryName || a.type === Oid.serialNumber;
      const domain = a.type === Oid.domainComponent || a.type === Oid.emailAddress;
      const tag = printable ? Tag.PrintableString : domain ? Tag.IA5String : Tag.UTF8String;
      return set(sequence(oid(a.type), tlv(tag, enc.encode(a.value))));
    }),
  );
}
