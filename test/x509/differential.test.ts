/**
 * Differential test of our X.509 parser against an independent one, PKI.js
 * (pkijs on asn1js): every certificate we mint — ML-DSA-44/65/87, Ed25519,
 * ECDSA P-256/P-384, and RSA (verification-only: a fixed OpenSSL-made key
 * signs) — and a corpus of mutations of them (byte flips, truncations, length
 * edits, BER re-encodings, trailing bytes; drawn by fast-check from a fixed
 * seed) must either parse the same way in both (version, serial number,
 * signature algorithm, issuer and subject, validity, SPKI algorithm and bytes,
 * extensions, signature bytes, the signed TBS bytes), or be rejected by both,
 * or be rejected by ours for a reason in {@link STRICTER}: the places where
 * RFC 5280 / X.690 DER ask for more than PKI.js checks. Anything else — ours
 * accepting what PKI.js refuses, both accepting with different readings, ours
 * refusing for an unlisted reason — fails the test.
 *
 * asn1js and pkijs are devDependencies for this test alone: the shipped code
 * parses with its own strict DER layer (src/codec/der.ts).
 */
import * as asn1js from 'asn1js';
import fc from 'fast-check';
import { seeded } from '../helpers/fc.js';
import * as pkijs from 'pkijs';
import { beforeAll, describe, expect, it } from 'vitest';
import { toHex } from '../../src/bytes.js';
import type { KeyPair } from '../../src/pq/provider.js';
import {
  CertificateError, createCertificationRequest, generateRoot, issueLeaf, parseCertificate, parseCertificationRequest, type Certificate,
} from '../../src/x509/index.js';
import { RSA_2048_PKCS1_HEX } from '../fixtures/rsa-2048.js';
import { NOT_AFTER, NOT_BEFORE, creds, makeChain, testProvider } from './pki.js';

const provider = testProvider('differential');

/**
 * Why ours may refuse what PKI.js accepts. Each entry matches `reason: detail`
 * of our CertificateError (and, where the message alone could hide another
 * cause, a check of the input itself); `rule` names what PKI.js does not enforce.
 */
const STRICTER: readonly { readonly rule: string; readonly pattern: RegExp; readonly when?: (der: Uint8Array) => boolean }[] = [
  {
    // A length of more than four octets is non-minimal in anything under 4 GiB: ours refuses it before reading it.
    rule: 'X.690 §10.1: DER lengths are definite and minimal (PKI.js reads BER)',
    pattern: /non-minimal length encoding|indefinite length is not DER|length of \d+ octets is out of range/,
  },
  { rule: 'DER: nothing may follow the certificate (PKI.js ignores trailing data)', pattern: /unexpected trailing bytes/ },
  {
    rule: 'X.690 §8.1.1: a constructed value\'s contents are exactly its elements (asn1js lets an element run past its container\'s end and ' +
      'reads the next element from there, so after a length edit it finds elements where ours finds an overrun or a wrong tag)',
    pattern: /overruns its container|expected tag 0x[0-9a-f]+, found 0x[0-9a-f]+$|expected BOOLEAN$/,
    when: overrunsContainer,
  },
  { rule: 'X.690 §8.2.1: a BOOLEAN is one octet (asn1js reads longer ones)', pattern: /expected BOOLEAN$/, when: hasLongBoolean },
  { rule: 'X.690 §8.3.2: INTEGERs are minimal', pattern: /non-minimal INTEGER|empty INTEGER/ },
  { rule: 'X.690 §8.8.2: a NULL has no contents (asn1js reads a longer one)', pattern: /expected NULL$/ },
  {
    rule: 'X.690 §8.6.2: a BIT STRING\'s contents start with the unused-bits octet (asn1js reads an empty one as no bits)',
    pattern: /expected BIT STRING$/,
    when: hasEmptyBitString,
  },
  { rule: 'X.690 §11.1, §11.5: BOOLEAN TRUE is 0xFF; critical FALSE (the DEFAULT) is omitted', pattern: /BOOLEAN must be 0x00 or 0xFF|critical FALSE must be omitted|cA FALSE must be omitted/ },
  { rule: 'X.690 §11.2: BIT STRING unused bits are 0..7 and zero; keys and signatures are octet-aligned', pattern: /bad unused-bit count|padding bits must be zero|not octet-aligned/ },
  { rule: 'X.690 §8.19: OID arcs are minimal and complete', pattern: /non-minimal OID arc|truncated OID arc|empty OBJECT IDENTIFIER|OID arc too large/ },
  { rule: 'RFC 5280 §4.1.2.5: UTCTime YYMMDDHHMMSSZ / GeneralizedTime YYYYMMDDHHMMSSZ, real dates', pattern: /UTCTime must be|GeneralizedTime must be|invalid date|expected UTCTime or GeneralizedTime/ },
  { rule: 'RFC 5280 §4.1.1.2: signatureAlgorithm equals tbsCertificate.signature', pattern: /signatureAlgorithm differs from tbsCertificate\.signature/ },
  { rule: 'RFC 5280 §4.1.2.1: version is v2 or v3 when present (v1 by omission); extensions only in v3; unique IDs not in v1', pattern: /version \d+ is not v2 or v3|not v3|in a v1 certificate|version: INTEGER out of range|version: negative INTEGER/ },
  { rule: 'RFC 5280 §4.1.2.2: serialNumber at most 20 octets', pattern: /serialNumber longer than 20 octets/ },
  { rule: 'RFC 5280 §4.2: each extension at most once, Extensions non-empty', pattern: /appears twice|empty SEQUENCE \(must be omitted/ },
  {
    rule: 'RFC 5280 §4.2.1: the extensions the validator acts on are decoded strictly (PKI.js keeps a malformed value as a parsing error)',
    pattern: /^malformed: (basicConstraints|keyUsage|extKeyUsage|subjectAltName|nameConstraints|subjectKeyIdentifier|authorityKeyIdentifier|permittedSubtrees|excludedSubtrees|pathLenConstraint)/,
  },
  {
    rule: 'RFC 9881 §2, RFC 8410 §3, RFC 5480 §2.1.1, RFC 3279 §2.3.1: key algorithm parameters, key sizes and the RSAPublicKey inside the ' +
      'BIT STRING are checked (PKI.js does not look inside keys)',
    pattern: /^(bad_public_key|bad_algorithm_parameters): |^malformed: RSAPublicKey/,
  },
  {
    rule: 'X.680 string types: PrintableString and IA5String hold ASCII, UTF8String valid UTF-8, BMPString and UniversalString whole characters',
    pattern: /non-ASCII byte|invalid UTF-8|odd-length BMPString|bad UniversalString length|invalid code point in UniversalString/,
  },
  { rule: 'X.501: a RelativeDistinguishedName is a non-empty SET', pattern: /empty RelativeDistinguishedName/ },
];

/** Every TLV header of `der`, walked leniently (as BER), and whether some element runs past its container's end. */
function scan(der: Uint8Array): { readonly tlvs: readonly { tag: number; len: number }[]; readonly overrun: boolean } {
  const tlvs: { tag: number; len: number }[] = [];
  const walk = (from: number, to: number, depth: number): boolean => {
    let p = from;
    while (p < to) {
      if (p + 2 > to) return true;
      const tag = der[p] as number;
      let len = der[p + 1] as number;
      let h = 2;
      if (len === 0x80) return false; // indefinite: BER, another rule
      if (len & 0x80) {
        const n = len & 0x7f;
        if (n > 4 || p + 2 + n > to) return true;
        len = 0;
        for (let i = 0; i < n; i++) len = len * 256 + (der[p + 2 + i] as number);
        h += n;
      }
      if (p + h + len > to) return true;
      tlvs.push({ tag, len });
      if (tag & 0x20 && depth < 32 && walk(p + h, p + h + len, depth + 1)) return true;
      p += h + len;
    }
    return false;
  };
  const overrun = walk(0, der.length, 0);
  return { tlvs, overrun };
}

/** The condition under which asn1js and ours see different element boundaries. */
function overrunsContainer(der: Uint8Array): boolean {
  return scan(der).overrun;
}

/** A BIT STRING with no contents at all, which asn1js reads as an empty one. */
function hasEmptyBitString(der: Uint8Array): boolean {
  return scan(der).tlvs.some((t) => t.tag === 0x03 && t.len === 0);
}

/** A BOOLEAN of other than one octet, which asn1js reads (with a warning). */
function hasLongBoolean(der: Uint8Array): boolean {
  return scan(der).tlvs.some((t) => t.tag === 0x01 && t.len !== 1);
}

/** What each parser read from a certificate, in comparable form. */
interface Reading {
  readonly version: number;
  readonly serial: string;
  readonly signatureAlgorithm: string;
  readonly tbsSignatureAlgorithm: string;
  readonly issuer: string;
  readonly subject: string;
  readonly subjectTypes: readonly string[];
  readonly notBefore: number;
  readonly notAfter: number;
  readonly spkiAlgorithm: string;
  readonly spki: string;
  readonly extensions: readonly (readonly [string, boolean, string])[];
  readonly signature: string;
  readonly tbs: string;
}

function ours(der: Uint8Array): Reading {
  const c: Certificate = parseCertificate(der);
  return {
    version: c.version,
    serial: toHex(c.serialNumber),
    signatureAlgorithm: c.signatureAlgorithm.oid,
    // Our parser refuses a tbsCertificate.signature that differs from signatureAlgorithm by a single byte.
    tbsSignatureAlgorithm: c.signatureAlgorithm.oid,
    issuer: toHex(c.issuer.der),
    subject: toHex(c.subject.der),
    subjectTypes: c.subject.rdns.flatMap((rdn) => rdn.map((a) => a.oid)),
    notBefore: c.notBefore.getTime(),
    notAfter: c.notAfter.getTime(),
    spkiAlgorithm: c.publicKey.algorithmOid.split('/')[0] as string,
    spki: toHex(c.publicKey.der),
    extensions: c.extensions.all.map((e) => [e.oid, e.critical, toHex(e.value)] as const),
    signature: toHex(c.signature),
    tbs: toHex(c.tbs),
  };
}

const bytesOf = (b: ArrayBuffer | ArrayBufferView): Uint8Array =>
  b instanceof ArrayBuffer ? new Uint8Array(b) : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

function theirs(der: Uint8Array): Reading {
  const c = pkijs.Certificate.fromBER(new Uint8Array(der));
  // pkijs keeps the unused-bits octet out of valueHexView; a non-zero count is not a key or signature we could compare.
  if (c.signatureValue.valueBlock.unusedBits !== 0) throw new Error('pkijs: signature BIT STRING not octet-aligned');
  return {
    version: c.version + 1,
    serial: toHex(bytesOf(c.serialNumber.valueBlock.valueHexView)),
    signatureAlgorithm: c.signatureAlgorithm.algorithmId,
    tbsSignatureAlgorithm: c.signature.algorithmId,
    issuer: toHex(bytesOf(c.issuer.valueBeforeDecode)),
    subject: toHex(bytesOf(c.subject.valueBeforeDecode)),
    subjectTypes: c.subject.typesAndValues.map((t) => t.type),
    notBefore: c.notBefore.value.getTime(),
    notAfter: c.notAfter.value.getTime(),
    spkiAlgorithm: c.subjectPublicKeyInfo.algorithm.algorithmId,
    spki: toHex(bytesOf(c.subjectPublicKeyInfo.toSchema().toBER())),
    extensions: (c.extensions ?? []).map((e) => [e.extnID, e.critical, toHex(bytesOf(e.extnValue.valueBlock.valueHexView))] as const),
    signature: toHex(bytesOf(c.signatureValue.valueBlock.valueHexView)),
    tbs: toHex(c.tbsView),
  };
}

type Outcome =
  | { readonly kind: 'agreed' }
  | { readonly kind: 'both-rejected' }
  | { readonly kind: 'documented'; readonly rule: string }
  | { readonly kind: 'unexpected'; readonly detail: string };

function compare(der: Uint8Array): Outcome {
  let a: Reading | undefined;
  let ourError: CertificateError | undefined;
  try {
    a = ours(der);
  } catch (e) {
    if (!(e instanceof CertificateError)) return { kind: 'unexpected', detail: `ours threw ${String(e)}` };
    ourError = e;
  }
  let b: Reading | undefined;
  let theirError: unknown;
  try {
    b = theirs(der);
  } catch (e) {
    theirError = e;
  }
  if (a && b) {
    return JSON.stringify(a) === JSON.stringify(b)
      ? { kind: 'agreed' }
      : { kind: 'unexpected', detail: `readings differ:\nours   ${JSON.stringify(a)}\npkijs  ${JSON.stringify(b)}` };
  }
  if (!a && !b) return { kind: 'both-rejected' };
  if (a) return { kind: 'unexpected', detail: `ours accepted what pkijs refused (${String(theirError)})` };
  // Rules match `reason: detail` of our CertificateError.
  const detail = ourError ? `${ourError.reason}: ${ourError.detail}` : '';
  const rule = STRICTER.find((s) => s.pattern.test(detail) && (s.when?.(der) ?? true));
  return rule ? { kind: 'documented', rule: rule.rule } : { kind: 'unexpected', detail: `ours refused for an undocumented reason: ${detail}` };
}

// ---- the mutation corpus ----

/** One TLV of a (valid DER) certificate, found by walking it. */
interface Node {
  readonly tag: number;
  readonly children?: Node[];
  readonly value?: Uint8Array;
}

function tree(der: Uint8Array): Node[] {
  const out: Node[] = [];
  let p = 0;
  while (p < der.length) {
    const tag = der[p] as number;
    let len = der[p + 1] as number;
    let h = 2;
    if (len & 0x80) {
      const n = len & 0x7f;
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + (der[p + 2 + i] as number);
      h += n;
    }
    const body = der.subarray(p + h, p + h + len);
    out.push(tag & 0x20 ? { tag, children: tree(body) } : { tag, value: body });
    p += h + len;
  }
  return out;
}

function nodes(roots: readonly Node[]): Node[] {
  return roots.flatMap((n) => [n, ...(n.children ? nodes(n.children) : [])]);
}

type Encoding = 'minimal' | 'long' | 'indefinite';

function lengthOctets(n: number, enc: Encoding): number[] {
  const mag: number[] = [];
  for (let x = n; x > 0; x = Math.floor(x / 256)) mag.unshift(x & 0xff);
  if (enc === 'long') return [0x80 | (mag.length + 1), 0, ...mag];
  return n < 0x80 ? [n] : [0x80 | mag.length, ...mag];
}

/** Re-encodes the tree, with `target` written in a BER-only form (every enclosing length still correct). */
function encode(n: Node, target: Node, enc: Encoding): number[] {
  const body = n.children ? n.children.flatMap((c) => encode(c, target, enc)) : [...(n.value as Uint8Array)];
  const mine = n === target ? enc : 'minimal';
  if (mine === 'indefinite' && n.children) return [n.tag, 0x80, ...body, 0, 0];
  return [n.tag, ...lengthOctets(body.length, mine === 'indefinite' ? 'long' : mine), ...body];
}

const edit = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), head: fc.boolean(), mask: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('length' as const), node: fc.nat(), delta: fc.integer({ min: -3, max: 3 }).filter((d) => d !== 0) }),
  fc.record({ op: fc.constant('ber' as const), node: fc.nat(), enc: fc.constantFrom<Encoding>('long', 'indefinite') }),
  fc.record({ op: fc.constant('trailing' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 4 }) }),
);
type Edit = typeof edit extends fc.Arbitrary<infer T> ? T : never;

/** Where each TLV header sits, for length edits. */
function headers(der: Uint8Array): { at: number; len: number; size: number }[] {
  const out: { at: number; len: number; size: number }[] = [];
  const walk = (from: number, to: number): void => {
    let p = from;
    while (p < to) {
      const tag = der[p] as number;
      let len = der[p + 1] as number;
      let h = 2;
      if (len & 0x80) {
        const n = len & 0x7f;
        len = 0;
        for (let i = 0; i < n; i++) len = len * 256 + (der[p + 2 + i] as number);
        h += n;
      }
      out.push({ at: p, len, size: h });
      if (tag & 0x20) walk(p + h, p + h + len);
      p += h + len;
    }
  };
  walk(0, der.length);
  return out;
}

/**
 * `der` with edit `e`. A second edit may meet what the first left (nothing, after a truncation to zero, or
 * bytes with no TLV in them): an edit with nothing to act on leaves the bytes as they are.
 */
function mutate(der: Uint8Array, e: Edit): Uint8Array {
  if (der.length === 0 && e.op !== 'trailing') return der;
  switch (e.op) {
    case 'flip': {
      // Half the flips land in the first 400 bytes, where the lengths, names and identifiers are.
      const out = der.slice();
      const at = e.head ? e.at % Math.min(400, der.length) : e.at % der.length;
      out[at] = (out[at] as number) ^ e.mask;
      return out;
    }
    case 'truncate':
      return der.slice(0, e.at % der.length);
    case 'length': {
      const hs = headers(der);
      const h = hs[e.node % hs.length];
      if (h === undefined) return der;
      const len = Math.max(0, h.len + e.delta);
      return new Uint8Array([...der.subarray(0, h.at + 1), ...lengthOctets(len, 'minimal'), ...der.subarray(h.at + h.size)]);
    }
    case 'ber': {
      const [root] = tree(der);
      if (root === undefined) return der;
      const all = nodes([root]);
      return new Uint8Array(encode(root, all[e.node % all.length] as Node, e.enc));
    }
    case 'trailing':
      return new Uint8Array([...der, ...e.bytes]);
  }
}

describe('differential: our parser against PKI.js (pkijs/asn1js)', () => {
  const corpus: { name: string; der: Uint8Array }[] = [];

  beforeAll(async () => {
    const chains = [
      await makeChain(provider, ['ml-dsa-44', 'ml-dsa-65', 'ml-dsa-87']),
      await makeChain(provider, ['ed25519', 'ecdsa-p256', 'ecdsa-p384']),
      await makeChain(provider, ['ecdsa-p384', 'ml-dsa-65', 'ed25519']),
    ];
    for (const c of chains) {
      for (const i of [c.root, ...c.intermediates, c.leaf]) {
        corpus.push({ name: `${i.certificate.publicKey.algorithmOid} signed ${i.certificate.signatureAlgorithm.oid}`, der: i.certificate.der });
      }
    }
    // RSA: verification-only in TLS, but roots and intermediates are often RSA. The fixed fixture key signs.
    const rsa: KeyPair = await provider.importPrivateKey({ algorithm: 'rsa', pkcs1: hex(RSA_2048_PKCS1_HEX) });
    const rsaRoot = await generateRoot({ provider, keyPair: rsa, subject: 'CN=RSA root,O=pqtls', notBefore: NOT_BEFORE, notAfter: NOT_AFTER });
    const underRsa = await issueLeaf({
      provider, issuer: creds(rsaRoot), algorithm: 'ml-dsa-44', dns: ['rsa.example'], notBefore: NOT_BEFORE, notAfter: new Date('2055-01-01T00:00:00Z'),
    });
    corpus.push({ name: 'RSA root', der: rsaRoot.certificate.der }, { name: 'ML-DSA-44 leaf under RSA (GeneralizedTime notAfter)', der: underRsa.certificate.der });
  });

  it('every certificate we mint reads the same in both', () => {
    const seen = new Set<string>();
    for (const { name, der } of corpus) {
      expect(compare(der), name).toEqual({ kind: 'agreed' });
      seen.add(parseCertificate(der).publicKey.algorithmOid);
    }
    // ML-DSA-44/65/87, Ed25519, P-256, P-384, RSA.
    expect(seen.size).toBe(7);
  });

  it('mutated certificates: both agree, both refuse, or ours refuses for a documented reason', () => {
    const cases = fc.sample(fc.tuple(fc.nat(), fc.array(edit, { minLength: 1, maxLength: 2 })), seeded(0x5eed_d1ff, { numRuns: 2000 }));
    const counts = { compared: 0, agreed: 0, bothRejected: 0, documented: 0 };
    const byRule = new Map<string, number>();
    const unexpected: string[] = [];
    for (const [pick, edits] of cases) {
      const base = corpus[pick % corpus.length] as { name: string; der: Uint8Array };
      const der = edits.reduce(mutate, base.der);
      const outcome = compare(der);
      counts.compared++;
      switch (outcome.kind) {
        case 'agreed': counts.agreed++; break;
        case 'both-rejected': counts.bothRejected++; break;
        case 'documented':
          counts.documented++;
          byRule.set(outcome.rule, (byRule.get(outcome.rule) ?? 0) + 1);
          break;
        case 'unexpected':
          unexpected.push(`${base.name} ${JSON.stringify(edits)}: ${outcome.detail}`);
      }
    }
    console.info(`differential X.509: ${counts.compared} mutated certificates compared (+${corpus.length} as minted): ${counts.agreed} agreed, ` +
      `${counts.bothRejected} refused by both, ${counts.documented} refused by ours only for a documented reason:\n` +
      [...byRule].sort((x, y) => y[1] - x[1]).map(([rule, n]) => `  ${String(n).padStart(5)}  ${rule}`).join('\n'));
    expect(unexpected.slice(0, 5)).toEqual([]);
    // The corpus exercises all three outcomes, BER re-encodings among the documented ones.
    expect(counts.agreed).toBeGreaterThan(50);
    expect(counts.bothRejected).toBeGreaterThan(50);
    expect(byRule.get(STRICTER[0]?.rule as string)).toBeGreaterThan(25);
    expect(byRule.get(STRICTER[2]?.rule as string)).toBeGreaterThan(10);
  });

  it('a BER certificate (non-minimal length) is read by PKI.js and refused by ours as not DER', () => {
    const der = corpus[0]?.der as Uint8Array;
    const [root] = tree(der);
    const ber = new Uint8Array(encode(root as Node, root as Node, 'long'));
    expect(() => pkijs.Certificate.fromBER(ber)).not.toThrow();
    expect(compare(ber)).toEqual({ kind: 'documented', rule: STRICTER[0]?.rule });
  });

  it('found by this test: a name attribute value that claims to be constructed must contain encodings (X.690 §8.1.1)', () => {
    // The issuer's O=pqtls UTF8String tag (0x0c) flipped to 0xf3, a constructed private tag whose contents
    // "pqtls" are no TLVs. Ours used to keep the value as `#f305...` and accept the certificate.
    const der = corpus.find((c) => c.name.startsWith('1.3.101.112 signed 2.16.840.1.101.3.4.3.18'))?.der as Uint8Array;
    const at = der.findIndex((_, i) => der[i] === 0x0c && der[i + 1] === 5 && der[i + 2] === 0x70 && der[i + 6] === 0x73);
    const m = der.slice();
    m[at] = 0xf3;
    expect(() => pkijs.Certificate.fromBER(m)).toThrow();
    expect(compare(m)).toEqual({ kind: 'both-rejected' });
  });

  it('PKCS #10 requests we write read the same in PKI.js: subject, key, extensionRequest, signature', async () => {
    for (const alg of ['ml-dsa-65', 'ed25519', 'ecdsa-p384'] as const) {
      const keyPair = await provider.generateKeyPair(alg);
      const der = await createCertificationRequest({ provider, keyPair, subject: 'CN=req,O=pqtls', dns: ['req.example'], ip: ['10.0.0.1'] });
      const csr = parseCertificationRequest(der);
      const theirsCsr = pkijs.CertificationRequest.fromBER(new Uint8Array(der));
      expect(theirsCsr.version).toBe(0);
      expect(toHex(bytesOf(theirsCsr.subject.valueBeforeDecode))).toBe(toHex(csr.subject.der));
      expect(toHex(bytesOf(theirsCsr.subjectPublicKeyInfo.toSchema().toBER()))).toBe(toHex(csr.publicKey.der));
      expect(toHex(bytesOf(theirsCsr.signatureValue.valueBlock.valueHexView))).toBe(toHex(csr.signature));
      expect(toHex(theirsCsr.tbsView)).toBe(toHex(csr.info));
      const [attr] = theirsCsr.attributes ?? [];
      expect(attr?.type).toBe('1.2.840.113549.1.9.14');
      const exts = pkijs.Extensions.fromBER((attr?.values[0] as asn1js.Sequence).toBER());
      expect(exts.extensions.map((e) => [e.extnID, toHex(bytesOf(e.extnValue.valueBlock.valueHexView))]))
        .toEqual(csr.requestedExtensions.all.map((e) => [e.oid, toHex(e.value)]));
    }
  });
});

function hex(s: string): Uint8Array {
  return new Uint8Array(s.match(/../g)?.map((b) => parseInt(b, 16)) ?? []);
}
