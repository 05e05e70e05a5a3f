import type { HashAlgorithm, KeyAlgorithm, MlDsaAlgorithm, RsaPssRestriction, SigningScheme, SlhDsaAlgorithm } from '../pq/ids.js';
import { SignatureScheme, isSlhDsa, slhDsaSizes } from '../pq/ids.js';
import {
  bits, bitString, contents, contextTag, decodeDer, derNull, explicit, integer, integerBytes, nullValue, octetAlignedBits, oid, oidValue,
  sequence, smallInteger, Tag, type Tlv,
} from '../codec/der.js';
import { CertificateError, malformed } from './errors.js';
import { Oid } from './oids.js';
import { slhDsaByOid, slhDsaDisplayName, slhDsaOid } from './slh-dsa.js';

/** ML-DSA public-key sizes (FIPS 204 Table 2; RFC 9881 §4). */
export const ML_DSA_PUBLIC_KEY_LENGTH: Record<MlDsaAlgorithm, number> = {
  'ml-dsa-44': 1312,
  'ml-dsa-65': 1952,
  'ml-dsa-87': 2592,
};
/** ML-DSA expanded private-key sizes (RFC 9881 §6). */
export const ML_DSA_EXPANDED_KEY_LENGTH: Record<MlDsaAlgorithm, number> = {
  'ml-dsa-44': 2560,
  'ml-dsa-65': 4032,
  'ml-dsa-87': 4896,
};

const mlDsaByOid = new Map<string, MlDsaAlgorithm>([
  [Oid.mlDsa44, 'ml-dsa-44'],
  [Oid.mlDsa65, 'ml-dsa-65'],
  [Oid.mlDsa87, 'ml-dsa-87'],
]);
const mlDsaOid: Record<MlDsaAlgorithm, string> = { 'ml-dsa-44': Oid.mlDsa44, 'ml-dsa-65': Oid.mlDsa65, 'ml-dsa-87': Oid.mlDsa87 };

const mlDsaScheme: Record<MlDsaAlgorithm, SignatureScheme> = {
  'ml-dsa-44': SignatureScheme.mldsa44,
  'ml-dsa-65': SignatureScheme.mldsa65,
  'ml-dsa-87': SignatureScheme.mldsa87,
};

export function isMlDsa(a: string): a is MlDsaAlgorithm {
  return a === 'ml-dsa-44' || a === 'ml-dsa-65' || a === 'ml-dsa-87';
}

/** A parsed AlgorithmIdentifier: the OID and the raw parameters element, if any. */
export interface AlgorithmIdentifier {
  readonly oid: string;
  readonly parameters?: Tlv;
  /** The whole encoding. */
  readonly raw: Uint8Array;
}

export function parseAlgorithmIdentifier(t: Tlv, what: string): AlgorithmIdentifier {
  const r = contents(t, what);
  const id = oidValue(r.read(), `${what} algorithm`);
  const parameters = r.done ? undefined : r.read();
  r.end();
  return parameters ? { oid: id, parameters, raw: t.raw } : { oid: id, raw: t.raw };
}

/** A SubjectPublicKeyInfo (RFC 5280 §4.1.2.7) reduced to what the provider needs. */
export interface PublicKeyInfo {
  /** The key's algorithm, or `unsupported` for one this library does not implement. */
  readonly algorithm: KeyAlgorithm | 'unsupported';
  /** The algorithm OID as found (with the curve OID for EC keys: `1.2.840.10045.2.1/1.3.132.0.34`). */
  readonly algorithmOid: string;
  /**
   * The key in the encoding {@link CryptoProvider.verify} takes: raw ML-DSA and
   * Ed25519 keys, a SEC1 point, a DER RSAPublicKey. Empty for `unsupported`.
   */
  readonly publicKey: Uint8Array;
  /** RSA modulus length in bits (RSA only). */
  readonly rsaBits?: number;
  /** An id-RSASSA-PSS key's RSASSA-PSS-params restriction (RFC 4055 §3.1); absent when unrestricted. */
  readonly rsaPss?: RsaPssRestriction;
  /** The whole SubjectPublicKeyInfo encoding. */
  readonly der: Uint8Array;
}

const RSA_MIN_BITS = 2048;
const RSA_MAX_BITS = 16384;

function noParameters(alg: AlgorithmIdentifier, name: string, what: string): void {
  if (alg.parameters !== undefined) {
    throw new CertificateError('bad_algorithm_parameters', `${what}: ${name} AlgorithmIdentifier parameters must be absent`);
  }
}

/**
 * Parses a SubjectPublicKeyInfo. With `allowUnsupported`, an algorithm this
 * library does not implement yields `algorithm: 'unsupported'` (so a trust
 * store may hold such roots); otherwise it is an `unsupported_algorithm` error.
 */
export function parsePublicKeyInfoTlv(t: Tlv, allowUnsupported: boolean): PublicKeyInfo {
  const what = 'subjectPublicKeyInfo';
  const r = contents(t, what);
  const alg = parseAlgorithmIdentifier(r.expect(Tag.SEQUENCE, 'algorithm'), `${what} algorithm`);
  const keyBits = r.expect(Tag.BIT_STRING, 'subjectPublicKey');
  r.end();
  const der = t.raw;

  const ml = mlDsaByOid.get(alg.oid);
  if (ml) {
    noParameters(alg, ml.toUpperCase(), what);
    const key = octetAlignedBits(keyBits, `${what} key`);
    const want = ML_DSA_PUBLIC_KEY_LENGTH[ml];
    if (key.length !== want) {
      throw new CertificateError('bad_public_key', `${ml.toUpperCase()} public key must be ${want} bytes, found ${key.length}`);
    }
    return { algorithm: ml, algorithmOid: alg.oid, publicKey: key, der };
  }
  const slh = slhDsaByOid.get(alg.oid);
  if (slh) {
    // RFC 9909: parameters absent; the key is PK.seed ‖ PK.root, 2n bytes.
    noParameters(alg, slhDsaDisplayName(slh), what);
    const key = octetAlignedBits(keyBits, `${what} key`);
    const want = slhDsaSizes(slh).publicKey;
    if (key.length !== want) throw new CertificateError('bad_public_key', `${slhDsaDisplayName(slh)} public key must be ${want} bytes, found ${key.length}`);
    return { algorithm: slh, algorithmOid: alg.oid, publicKey: key, der };
  }
  switch (alg.oid) {
    case Oid.ed25519: {
      noParameters(alg, 'Ed25519', what);
      const key = octetAlignedBits(keyBits, `${what} key`);
      if (key.length !== 32) throw new CertificateError('bad_public_key', `Ed25519 public key must be 32 bytes, found ${key.length}`);
      return { algorithm: 'ed25519', algorithmOid: alg.oid, publicKey: key, der };
    }
    case Oid.ecPublicKey: {
      if (alg.parameters?.tag !== Tag.OID) {
        throw new CertificateError('bad_algorithm_parameters', 'EC public key parameters must be a namedCurve OID');
      }
      const curve = oidValue(alg.parameters, `${what} namedCurve`);
      const algorithmOid = `${alg.oid}/${curve}`;
      const size = curve === Oid.secp256r1 ? 32 : curve === Oid.secp384r1 ? 48 : 0;
      if (size === 0) {
        if (allowUnsupported) return { algorithm: 'unsupported', algorithmOid, publicKey: new Uint8Array(0), der };
        throw new CertificateError('unsupported_algorithm', `EC curve ${curve} is not supported (P-256 and P-384 are)`);
      }
      const key = octetAlignedBits(keyBits, `${what} key`);
      const form = key[0];
      const ok = (form === 4 && key.length === 1 + 2 * size) || ((form === 2 || form === 3) && key.length === 1 + size);
      if (!ok) throw new CertificateError('bad_public_key', `not a SEC1 P-${size * 8} point (${key.length} bytes, form ${form ?? 'none'})`);
      return { algorithm: size === 32 ? 'ecdsa-p256' : 'ecdsa-p384', algorithmOid, publicKey: key, der };
    }
    case Oid.rsaEncryption: {
      // RFC 3279 §2.3.1: the parameters MUST be NULL.
      if (alg.parameters === undefined) throw new CertificateError('bad_algorithm_parameters', 'rsaEncryption parameters must be NULL');
      try {
        nullValue(alg.parameters, 'rsaEncryption parameters');
      } catch {
        throw new CertificateError('bad_algorithm_parameters', 'rsaEncryption parameters must be NULL');
      }
      const key = octetAlignedBits(keyBits, `${what} key`);
      const rsaBits = checkRsaPublicKey(key);
      return { algorithm: 'rsa', algorithmOid: alg.oid, publicKey: key, rsaBits, der };
    }
    case Oid.rsassaPss: {
      // RFC 4055 §1.2: absent parameters leave the key unrestricted; present ones bind it to one hash and a minimum salt.
      const restriction = parsePssKeyParameters(alg);
      if (typeof restriction === 'string') {
        if (allowUnsupported) return { algorithm: 'unsupported', algorithmOid: alg.oid, publicKey: new Uint8Array(0), der };
        throw new CertificateError('unsupported_algorithm', restriction);
      }
      const key = octetAlignedBits(keyBits, `${what} key`);
      const rsaBits = checkRsaPublicKey(key);
      return { algorithm: 'rsa-pss', algorithmOid: alg.oid, publicKey: key, rsaBits, der, ...(restriction ? { rsaPss: restriction } : {}) };
    }
    default:
      if (allowUnsupported) {
        bitString(keyBits, `${what} key`);
        return { algorithm: 'unsupported', algorithmOid: alg.oid, publicKey: new Uint8Array(0), der };
      }
      throw new CertificateError('unsupported_algorithm', `public-key algorithm ${alg.oid} is not supported`);
  }
}

/** Parses a DER SubjectPublicKeyInfo; unsupported algorithms are an error. */
export function parseSubjectPublicKeyInfo(der: Uint8Array): PublicKeyInfo {
  return parsePublicKeyInfoTlv(decodeDer(der, 'subjectPublicKeyInfo', malformed), false);
}

function checkRsaPublicKey(key: Uint8Array): number {
  const r = contents(decodeDer(key, 'RSAPublicKey', malformed), 'RSAPublicKey');
  const n = integerBytes(r.expect(Tag.INTEGER, 'modulus'), 'RSA modulus');
  const e = integerBytes(r.expect(Tag.INTEGER, 'publicExponent'), 'RSA exponent');
  r.end();
  if ((n[0] as number) >= 0x80 || (e[0] as number) >= 0x80) throw new CertificateError('bad_public_key', 'negative RSA modulus or exponent');
  const mag = n[0] === 0 ? n.subarray(1) : n;
  const bits = mag.length === 0 ? 0 : (mag.length - 1) * 8 + (32 - Math.clz32(mag[0] as number));
  if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS) {
    throw new CertificateError('bad_public_key', `RSA modulus of ${bits} bits is outside ${RSA_MIN_BITS}..${RSA_MAX_BITS}`);
  }
  if (((e[e.length - 1] as number) & 1) === 0 || (e.length === 1 && (e[0] as number) < 3)) {
    throw new CertificateError('bad_public_key', 'RSA public exponent must be odd and at least 3');
  }
  return bits;
}

/**
 * Largest RSA modulus whose signatures are checked. Parsing accepts up to
 * 16384 bits (a trust store may list such a root), but one RSA-16384
 * verification costs as much as 15 RSA-2048 ones with e = 65537 and 50 with
 * e = 2^32-1 (measured), and a peer picks its keys: seven same-name
 * intermediates sharing one such key made a single path search cost 0.3-1.2 s.
 */
export const RSA_MAX_VERIFY_BITS = 8192;

/**
 * Relative cost of one verification, in units of one RSA-2048 (e = 65537)
 * verification, measured on the noble provider (`bench`-style loop, Node 20):
 * RSA-2048 0.29 ms, ML-DSA-44 2.1 ms, ML-DSA-65 2.8 ms, ML-DSA-87 4.0 ms,
 * Ed25519 2.3 ms, ECDSA P-256 3.5 ms, P-384 8.3 ms. Rounded up.
 */
const VERIFY_COST: Record<Exclude<KeyAlgorithm, 'rsa' | 'rsa-pss' | SlhDsaAlgorithm>, number> = {
  'ml-dsa-44': 8,
  'ml-dsa-65': 10,
  'ml-dsa-87': 14,
  'ed25519': 8,
  'ecdsa-p256': 13,
  'ecdsa-p384': 29,
};

/**
 * What one signature check with `key` costs against a chain's signature
 * budget ({@link VERIFY_COST} units). RSA is charged (bits/2048)² — the
 * schoolbook bound on a modular multiplication — times the multiplications its
 * public exponent needs relative to 65537's 17, so a 2^32-1 exponent costs
 * 3.6 times as much. Refuses an RSA modulus over {@link RSA_MAX_VERIFY_BITS}
 * with `bad_public_key`.
 */
export function signatureVerificationCost(key: PublicKeyInfo): number {
  if (key.algorithm === 'unsupported') throw new CertificateError('unsupported_algorithm', `public-key algorithm ${key.algorithmOid} is not supported`);
  if (isSlhDsa(key.algorithm)) return slhDsaVerificationCost(key.algorithm);
  if (key.algorithm !== 'rsa' && key.algorithm !== 'rsa-pss') return VERIFY_COST[key.algorithm];
  const r = contents(decodeDer(key.publicKey, 'RSAPublicKey', malformed), 'RSAPublicKey');
  const n = integerBytes(r.expect(Tag.INTEGER, 'modulus'), 'RSA modulus');
  const e = integerBytes(r.expect(Tag.INTEGER, 'publicExponent'), 'RSA exponent');
  const bits = key.rsaBits ?? byteStringBits(n);
  if (bits > RSA_MAX_VERIFY_BITS) {
    throw new CertificateError('bad_public_key', `RSA modulus of ${bits} bits is over the ${RSA_MAX_VERIFY_BITS}-bit limit for signature verification`);
  }
  let ones = 0;
  for (const b of e) for (let x = b; x; x &= x - 1) ones++;
  const multiplications = Math.max(1, byteStringBits(e) + ones - 2);
  return Math.ceil((bits / 2048) ** 2 * (multiplications / 17));
}

/**
 * SLH-DSA verification in the same units, by parameter set (FIPS 205 Table 2).
 * A peer writes the signature, so it can make every WOTS+ chain run its full
 * w-1 = 15 steps: the charge is the worst case in hash calls,
 * k(a+1) + d(15·len + 1 + h'), times the cost of one call on noble, measured
 * from average-case verifications of random signatures (Node 20): about
 * 2.7 µs for the SHA2 sets and 7.2 µs for SHAKE, against 2.3 ms for one
 * ML-DSA-65 verification (10 units). SHA2-128s comes to 46 units, SHAKE-128f
 * to 372; SHAKE-192f and SHAKE-256f (over 512) need `maxSignatureCost` raised.
 */
function slhDsaVerificationCost(a: SlhDsaAlgorithm): number {
  const set = SLH_DSA_VERIFY_SHAPE[a.slice(-4) as keyof typeof SLH_DSA_VERIFY_SHAPE];
  const hashCalls = set.k * (set.a + 1) + set.d * (15 * set.len + 1 + set.hPrime);
  const microsPerCall = a.includes('shake') ? 7.2 : 2.7;
  return Math.ceil((hashCalls * microsPerCall) / 230);
}

/** FIPS 205 Table 2: FORS trees k of height a, d hypertree layers of height h', len WOTS+ chains. */
const SLH_DSA_VERIFY_SHAPE = {
  '128s': { k: 14, a: 12, d: 7, hPrime: 9, len: 35 },
  '128f': { k: 33, a: 6, d: 22, hPrime: 3, len: 35 },
  '192s': { k: 17, a: 14, d: 7, hPrime: 9, len: 51 },
  '192f': { k: 33, a: 8, d: 22, hPrime: 3, len: 51 },
  '256s': { k: 22, a: 14, d: 8, hPrime: 8, len: 67 },
  '256f': { k: 35, a: 9, d: 17, hPrime: 4, len: 67 },
} as const;

function byteStringBits(v: Uint8Array): number {
  let i = 0;
  while (i < v.length && v[i] === 0) i++;
  return i === v.length ? 0 : (v.length - i - 1) * 8 + (32 - Math.clz32(v[i] as number));
}

/** Encodes a SubjectPublicKeyInfo for a key in provider encoding (`pss`: an id-RSASSA-PSS key's restriction). */
export function encodeSubjectPublicKeyInfo(algorithm: KeyAlgorithm, publicKey: Uint8Array, pss?: RsaPssRestriction): Uint8Array {
  return sequence(encodeKeyAlgorithmIdentifier(algorithm, pss), bits(publicKey));
}

/** The AlgorithmIdentifier naming a key type in SPKI and PKCS #8 (`pss`: an id-RSASSA-PSS key's restriction). */
export function encodeKeyAlgorithmIdentifier(algorithm: KeyAlgorithm, pss?: RsaPssRestriction): Uint8Array {
  if (isSlhDsa(algorithm)) return sequence(oid(slhDsaOid[algorithm]));
  switch (algorithm) {
    case 'ml-dsa-44':
    case 'ml-dsa-65':
    case 'ml-dsa-87':
      return sequence(oid(mlDsaOid[algorithm]));
    case 'ed25519':
      return sequence(oid(Oid.ed25519));
    case 'ecdsa-p256':
      return sequence(oid(Oid.ecPublicKey), oid(Oid.secp256r1));
    case 'ecdsa-p384':
      return sequence(oid(Oid.ecPublicKey), oid(Oid.secp384r1));
    case 'rsa':
      return sequence(oid(Oid.rsaEncryption), derNull());
    case 'rsa-pss':
      return pss ? sequence(oid(Oid.rsassaPss), encodePssParameters(pss.hash, pss.mgfHash, pss.saltLength)) : sequence(oid(Oid.rsassaPss));
  }
}

const hashOid: Record<HashAlgorithm, string> = { 'SHA-256': Oid.sha256, 'SHA-384': Oid.sha384, 'SHA-512': Oid.sha512 };
/** id-sha1 (RFC 3279 §2.1), the RSASSA-PSS-params default; met here only inside MGF1. */
const SHA1 = '1.3.14.3.2.26';

/**
 * RSASSA-PSS-params (RFC 4055 §3.1) for `hash`, MGF1 on `mgfHash`, and
 * `saltLength`; MGF1-SHA1 and trailerField are DER defaults and left out.
 */
function encodePssParameters(hash: HashAlgorithm, mgfHash: HashAlgorithm | 'SHA-1', saltLength: number): Uint8Array {
  const hashId = sequence(oid(hashOid[hash]), derNull());
  const parts = [explicit(0, hashId)];
  if (mgfHash !== 'SHA-1') parts.push(explicit(1, sequence(oid(Oid.mgf1), sequence(oid(hashOid[mgfHash]), derNull()))));
  parts.push(explicit(2, integer(saltLength)));
  return sequence(...parts);
}

/** A certificate's signatureAlgorithm, decoded as far as this library understands it. */
export type SignatureAlgorithm =
  | { readonly kind: 'ml-dsa'; readonly algorithm: MlDsaAlgorithm; readonly oid: string }
  | { readonly kind: 'slh-dsa'; readonly algorithm: SlhDsaAlgorithm; readonly oid: string }
  | { readonly kind: 'ed25519'; readonly oid: string }
  | { readonly kind: 'ecdsa'; readonly hash: HashAlgorithm; readonly oid: string }
  | { readonly kind: 'rsa-pkcs1'; readonly hash: HashAlgorithm; readonly oid: string }
  | { readonly kind: 'rsa-pss'; readonly hash: HashAlgorithm; readonly saltLength: number; readonly oid: string }
  | { readonly kind: 'unsupported'; readonly oid: string; readonly detail: string };

const hashByOid = new Map<string, HashAlgorithm>([[Oid.sha256, 'SHA-256'], [Oid.sha384, 'SHA-384'], [Oid.sha512, 'SHA-512']]);
const hashLen: Record<HashAlgorithm, number> = { 'SHA-256': 32, 'SHA-384': 48, 'SHA-512': 64 };

/**
 * Decodes a signature AlgorithmIdentifier. Wrong parameters for an algorithm
 * we know are an error now; an algorithm we do not know is recorded as
 * `unsupported` and refused only if a path needs it.
 */
export function parseSignatureAlgorithm(alg: AlgorithmIdentifier): SignatureAlgorithm {
  const id = alg.oid;
  const ml = mlDsaByOid.get(id);
  if (ml) {
    noParameters(alg, ml.toUpperCase(), 'signatureAlgorithm');
    return { kind: 'ml-dsa', algorithm: ml, oid: id };
  }
  const slh = slhDsaByOid.get(id);
  if (slh) {
    // RFC 9909: the parameters MUST be absent.
    noParameters(alg, slhDsaDisplayName(slh), 'signatureAlgorithm');
    return { kind: 'slh-dsa', algorithm: slh, oid: id };
  }
  switch (id) {
    case Oid.ed25519:
      noParameters(alg, 'Ed25519', 'signatureAlgorithm');
      return { kind: 'ed25519', oid: id };
    case Oid.ecdsaWithSha256:
    case Oid.ecdsaWithSha384:
      // RFC 5758 §3.2: the parameters MUST be absent.
      noParameters(alg, 'ECDSA', 'signatureAlgorithm');
      return { kind: 'ecdsa', hash: id === Oid.ecdsaWithSha256 ? 'SHA-256' : 'SHA-384', oid: id };
    case Oid.sha256WithRsa:
    case Oid.sha384WithRsa:
    case Oid.sha512WithRsa: {
      // RFC 4055 §5: NULL; absent is tolerated because some encoders omit it.
      if (alg.parameters !== undefined && (alg.parameters.tag !== Tag.NULL || alg.parameters.value.length !== 0)) {
        throw new CertificateError('bad_algorithm_parameters', 'RSA PKCS #1 v1.5 signature parameters must be NULL');
      }
      const hash: HashAlgorithm = id === Oid.sha256WithRsa ? 'SHA-256' : id === Oid.sha384WithRsa ? 'SHA-384' : 'SHA-512';
      return { kind: 'rsa-pkcs1', hash, oid: id };
    }
    case Oid.rsassaPss:
      return parsePssParameters(alg);
    default:
      return { kind: 'unsupported', oid: id, detail: `signature algorithm ${id} is not supported` };
  }
}

/**
 * Reads RSASSA-PSS-params (RFC 4055 §3.1): the hash, MGF1 on the same hash,
 * and the salt length. A shape this library does not implement (SHA-1, another
 * MGF, unlike hashes) is returned as a string saying why; a malformed encoding
 * throws.
 *
 * `keyRestriction`: the parameters restrict a key rather than describe a
 * signature. Then the MGF1 hash may differ from the message hash, SHA-1
 * included: `openssl genpkey -algorithm RSA-PSS -pkeyopt rsa_pss_keygen_md:sha256`
 * writes no maskGenAlgorithm (the DER default, MGF1-SHA1), and OpenSSL signs
 * and verifies `rsa_pss_pss_sha256` for such a key with MGF1-SHA1 (see
 * {@link RsaPssRestriction}). SHA-1 then serves only as the mask generator.
 */
function readPssParameters(parameters: Tlv, keyRestriction = false): RsaPssRestriction | string {
  const r = contents(parameters, 'RSASSA-PSS-params');
  const hashT = r.optional(contextTag(0, true));
  const mgfT = r.optional(contextTag(1, true));
  const saltT = r.optional(contextTag(2, true));
  const trailerT = r.optional(contextTag(3, true));
  r.end();
  const hashAlgOf = (t: Tlv, what: string): string => {
    const inner = contents(t, what, t.tag);
    const a = parseAlgorithmIdentifier(inner.expect(Tag.SEQUENCE, what), what);
    inner.end();
    if (a.parameters !== undefined) nullValue(a.parameters, `${what} parameters`);
    return a.oid;
  };
  const hashOidFound = hashT ? hashAlgOf(hashT, 'PSS hashAlgorithm') : SHA1;
  const hash = hashByOid.get(hashOidFound);
  if (!hash) return `RSASSA-PSS with hash ${hashOidFound} is not supported`;
  let mgfHash: HashAlgorithm | 'SHA-1' = 'SHA-1';
  if (!mgfT) {
    if (!keyRestriction) return 'RSASSA-PSS with MGF1-SHA1 is not supported';
  } else {
    const mgfR = contents(mgfT, 'PSS maskGenAlgorithm', mgfT.tag);
    const mgf = parseAlgorithmIdentifier(mgfR.expect(Tag.SEQUENCE, 'maskGenAlgorithm'), 'maskGenAlgorithm');
    mgfR.end();
    if (mgf.oid !== Oid.mgf1 || mgf.parameters === undefined) return `RSASSA-PSS mask generation ${mgf.oid} is not supported`;
    const mgfHashId = parseAlgorithmIdentifier(mgf.parameters, 'MGF1 hash');
    if (mgfHashId.parameters !== undefined) nullValue(mgfHashId.parameters, 'MGF1 hash parameters');
    if (mgfHashId.oid !== hashOidFound && !keyRestriction) return 'RSASSA-PSS with an MGF1 hash unlike the message hash is not supported';
    const found = mgfHashId.oid === SHA1 ? 'SHA-1' : hashByOid.get(mgfHashId.oid);
    if (!found) return `RSASSA-PSS with MGF1 on ${mgfHashId.oid} is not supported`;
    mgfHash = found;
  }
  let saltLength = 20;
  if (saltT) {
    const sr = contents(saltT, 'PSS saltLength', saltT.tag);
    saltLength = smallInteger(sr.expect(Tag.INTEGER, 'saltLength'), 'saltLength', 0xffff);
    sr.end();
  }
  if (trailerT) {
    const tr = contents(trailerT, 'PSS trailerField', trailerT.tag);
    if (smallInteger(tr.expect(Tag.INTEGER, 'trailerField'), 'trailerField') !== 1) throw malformed('RSASSA-PSS trailerField must be 1');
    tr.end();
  }
  return { hash, mgfHash, saltLength };
}

/** RSASSA-PSS-params (RFC 4055 §3.1), accepted only in the rsa_pss_rsae_* shape TLS uses. */
function parsePssParameters(alg: AlgorithmIdentifier): SignatureAlgorithm {
  const id = alg.oid;
  if (alg.parameters === undefined) throw new CertificateError('bad_algorithm_parameters', 'RSASSA-PSS requires parameters');
  const p = readPssParameters(alg.parameters);
  if (typeof p === 'string') return { kind: 'unsupported', oid: id, detail: p };
  const { hash, saltLength } = p;
  if (saltLength !== hashLen[hash]) {
    return { kind: 'unsupported', oid: id, detail: `RSASSA-PSS salt length ${saltLength} is not the hash length ${hashLen[hash]}` };
  }
  return { kind: 'rsa-pss', hash, saltLength, oid: id };
}

/**
 * The parameters of an id-RSASSA-PSS key's AlgorithmIdentifier (SPKI or
 * PKCS #8): undefined when absent (the key is unrestricted, RFC 4055 §1.2),
 * the restriction when present (saltLength is then a minimum, §3.1), or a
 * string saying why a shape is not supported.
 */
export function parsePssKeyParameters(alg: AlgorithmIdentifier): RsaPssRestriction | undefined | string {
  if (alg.parameters === undefined) return undefined;
  return readPssParameters(alg.parameters, true);
}

/** Display name of a signature algorithm (`ML-DSA-65`, `ecdsa-with-SHA256`). */
export function signatureAlgorithmName(s: SignatureAlgorithm): string {
  switch (s.kind) {
    case 'ml-dsa': return s.algorithm.toUpperCase();
    case 'slh-dsa': return slhDsaDisplayName(s.algorithm);
    case 'ed25519': return 'Ed25519';
    case 'ecdsa': return `ecdsa-with-${s.hash.replace('-', '')}`;
    case 'rsa-pkcs1': return `${s.hash.replace('-', '').toLowerCase()}WithRSAEncryption`;
    case 'rsa-pss': return `RSASSA-PSS (${s.hash})`;
    case 'unsupported': return `unsupported (${s.oid})`;
  }
}

/** Display name of a key algorithm (`ML-DSA-65`, `ECDSA P-256`, `RSA 2048`). */
export function publicKeyAlgorithmName(k: PublicKeyInfo): string {
  if (isSlhDsa(k.algorithm)) return slhDsaDisplayName(k.algorithm);
  switch (k.algorithm) {
    case 'ml-dsa-44':
    case 'ml-dsa-65':
    case 'ml-dsa-87':
      return k.algorithm.toUpperCase();
    case 'ed25519': return 'Ed25519';
    case 'ecdsa-p256': return 'ECDSA P-256';
    case 'ecdsa-p384': return 'ECDSA P-384';
    case 'rsa': return `RSA ${k.rsaBits ?? ''}`.trim();
    case 'rsa-pss': return `RSASSA-PSS ${k.rsaBits ?? ''}${k.rsaPss ? ` (${k.rsaPss.hash}, salt ≥ ${k.rsaPss.saltLength})` : ''}`.trim();
    case 'unsupported': return `unsupported (${k.algorithmOid})`;
  }
}

/**
 * The TLS SignatureScheme that verifies a certificate signature made with
 * `sig` by the holder of `issuerKey`. Combinations TLS has no scheme for
 * (ECDSA-SHA384 on P-256, PSS with a PSS-only key, ...) are unsupported.
 * SLH-DSA, which TLS has no scheme for at all, yields its certificate-only
 * scheme (the parameter-set name); the key must be of that same parameter set.
 */
export function certificateSignatureScheme(sig: SignatureAlgorithm, issuerKey: PublicKeyInfo): SigningScheme {
  const mismatch = (): CertificateError =>
    new CertificateError('unsupported_algorithm', `signature algorithm ${signatureAlgorithmName(sig)} with an issuer key of type ${publicKeyAlgorithmName(issuerKey)} is not supported`);
  switch (sig.kind) {
    case 'unsupported':
      throw new CertificateError('unsupported_algorithm', sig.detail);
    case 'ml-dsa':
      if (issuerKey.algorithm !== sig.algorithm) throw mismatch();
      return mlDsaScheme[sig.algorithm];
    case 'slh-dsa':
      if (issuerKey.algorithm !== sig.algorithm) throw mismatch();
      return sig.algorithm;
    case 'ed25519':
      if (issuerKey.algorithm !== 'ed25519') throw mismatch();
      return SignatureScheme.ed25519;
    case 'ecdsa':
      if (sig.hash === 'SHA-256' && issuerKey.algorithm === 'ecdsa-p256') return SignatureScheme.ecdsa_secp256r1_sha256;
      if (sig.hash === 'SHA-384' && issuerKey.algorithm === 'ecdsa-p384') return SignatureScheme.ecdsa_secp384r1_sha384;
      throw mismatch();
    case 'rsa-pkcs1':
      if (issuerKey.algorithm !== 'rsa') throw mismatch();
      return sig.hash === 'SHA-256' ? SignatureScheme.rsa_pkcs1_sha256 : sig.hash === 'SHA-384' ? SignatureScheme.rsa_pkcs1_sha384 : SignatureScheme.rsa_pkcs1_sha512;
    case 'rsa-pss':
      if (issuerKey.algorithm === 'rsa') {
        return sig.hash === 'SHA-256' ? SignatureScheme.rsa_pss_rsae_sha256 : sig.hash === 'SHA-384' ? SignatureScheme.rsa_pss_rsae_sha384 : SignatureScheme.rsa_pss_rsae_sha512;
      }
      if (issuerKey.algorithm === 'rsa-pss') {
        // RFC 4055 §3.1: a restricted key signs only with its hash and at least its minimum salt.
        const r = issuerKey.rsaPss;
        if (r && (r.hash !== sig.hash || r.mgfHash !== sig.hash || sig.saltLength < r.saltLength)) throw mismatch();
        return sig.hash === 'SHA-256' ? SignatureScheme.rsa_pss_pss_sha256 : sig.hash === 'SHA-384' ? SignatureScheme.rsa_pss_pss_sha384 : SignatureScheme.rsa_pss_pss_sha512;
      }
      throw mismatch();
  }
}


/** The signature AlgorithmIdentifier and TLS (or certificate-only) scheme a CA with key `algorithm` signs with. */
export function issuingSignatureAlgorithm(algorithm: KeyAlgorithm): { identifier: Uint8Array; scheme: SigningScheme } {
  if (isSlhDsa(algorithm)) return { identifier: sequence(oid(slhDsaOid[algorithm])), scheme: algorithm };
  switch (algorithm) {
    case 'ml-dsa-44':
    case 'ml-dsa-65':
    case 'ml-dsa-87':
      return { identifier: sequence(oid(mlDsaOid[algorithm])), scheme: mlDsaScheme[algorithm] };
    case 'ed25519':
      return { identifier: sequence(oid(Oid.ed25519)), scheme: SignatureScheme.ed25519 };
    case 'ecdsa-p256':
      return { identifier: sequence(oid(Oid.ecdsaWithSha256)), scheme: SignatureScheme.ecdsa_secp256r1_sha256 };
    case 'ecdsa-p384':
      return { identifier: sequence(oid(Oid.ecdsaWithSha384)), scheme: SignatureScheme.ecdsa_secp384r1_sha384 };
    case 'rsa':
      return { identifier: sequence(oid(Oid.sha256WithRsa), derNull()), scheme: SignatureScheme.rsa_pkcs1_sha256 };
    case 'rsa-pss':
      return { identifier: sequence(oid(Oid.rsassaPss), encodePssParameters('SHA-256', 'SHA-256', 32)), scheme: SignatureScheme.rsa_pss_pss_sha256 };
  }
}
