import { equalBytes } from '../bytes.js';
import { ConfigError } from '../errors.js';
import { slhDsaSizes, type MlDsaAlgorithm } from '../pq/ids.js';
import type { CryptoProvider, KeyPair, PrivateKeyMaterial, PrivateKeyRef } from '../pq/provider.js';
import { encodeKeyAlgorithmIdentifier, ML_DSA_EXPANDED_KEY_LENGTH, parseAlgorithmIdentifier, parsePssKeyParameters } from './algorithms.js';
import {
  bits, contents, contextTag, decodeDer, explicit, integer, nullValue, octetAlignedBits, octets, octetString, oid, oidValue,
  sequence, smallInteger, Tag, tlv, type Tlv,
} from '../codec/der.js';
import { CertificateError, malformed } from './errors.js';
import { Oid } from './oids.js';
import { decodePem, encodePem } from './pem.js';
import { slhDsaByOid, slhDsaDisplayName } from './slh-dsa.js';

/** PKCS #8 contents: the key material and, when the file carries it, the public key. */
export type Pkcs8Key = PrivateKeyMaterial & {
  /** OneAsymmetricKey.publicKey (v2), or the ECPrivateKey publicKey, if present. */
  readonly publicKey?: Uint8Array;
};

/** How an ML-DSA private key is written (RFC 9881 §6). The seed is RECOMMENDED. */
export type MlDsaKeyFormat = 'seed' | 'expanded' | 'both';

const mlDsaAlg = new Map<string, MlDsaAlgorithm>([[Oid.mlDsa44, 'ml-dsa-44'], [Oid.mlDsa65, 'ml-dsa-65'], [Oid.mlDsa87, 'ml-dsa-87']]);
const SEED_TAG = contextTag(0, false);

/**
 * Parses a DER PKCS #8 OneAsymmetricKey (RFC 5958): ML-DSA in any of the three
 * RFC 9881 §6 forms (told apart by tag, never by length), Ed25519 (RFC 8410),
 * ECDSA P-256/P-384 (RFC 5915), RSA (RFC 8017) and RSASSA-PSS keys (RFC 4055). Other algorithms are
 * `unsupported_algorithm`; structural faults are `malformed`.
 */
export function parsePkcs8(der: Uint8Array): Pkcs8Key {
  const r = contents(decodeDer(der, 'PKCS #8', malformed), 'PKCS #8');
  const version = smallInteger(r.expect(Tag.INTEGER, 'version'), 'PKCS #8 version');
  if (version > 1) throw malformed(`PKCS #8 version ${version} is not v1 or v2`);
  const alg = parseAlgorithmIdentifier(r.expect(Tag.SEQUENCE, 'privateKeyAlgorithm'), 'privateKeyAlgorithm');
  const privateKey = octetString(r.expect(Tag.OCTET_STRING, 'privateKey'), 'privateKey');
  r.optional(contextTag(0, true));
  const pubT = r.optional(contextTag(1, false));
  r.end();
  if (pubT && version !== 1) throw malformed('PKCS #8 publicKey requires version v2');
  const publicKey = pubT ? octetAlignedBits({ ...pubT, tag: Tag.BIT_STRING }, 'PKCS #8 publicKey') : undefined;
  const withPub = <T extends object>(m: T): T & { publicKey?: Uint8Array } => (publicKey ? { ...m, publicKey } : m);

  const noParams = (name: string): void => {
    if (alg.parameters !== undefined) throw new CertificateError('bad_algorithm_parameters', `${name} private key parameters must be absent`);
  };
  const ml = mlDsaAlg.get(alg.oid);
  if (ml) {
    noParams(ml.toUpperCase());
    return withPub(parseMlDsaPrivateKey(ml, privateKey));
  }
  const slh = slhDsaByOid.get(alg.oid);
  if (slh) {
    // RFC 9909 (and OpenSSL 3.5): privateKey holds SK.seed ‖ SK.prf ‖ PK.seed ‖ PK.root directly, with no inner OCTET STRING.
    noParams(slhDsaDisplayName(slh));
    const want = slhDsaSizes(slh).secretKey;
    if (privateKey.length !== want) throw malformed(`${slhDsaDisplayName(slh)} private key must be ${want} bytes, found ${privateKey.length}`);
    return withPub({ algorithm: slh, secretKey: privateKey });
  }
  switch (alg.oid) {
    case Oid.ed25519: {
      noParams('Ed25519');
      const secret = octetString(decodeDer(privateKey, 'CurvePrivateKey', malformed), 'CurvePrivateKey');
      if (secret.length !== 32) throw malformed(`Ed25519 private key must be 32 bytes, found ${secret.length}`);
      return withPub({ algorithm: 'ed25519', secret });
    }
    case Oid.ecPublicKey: {
      if (alg.parameters?.tag !== Tag.OID) throw new CertificateError('bad_algorithm_parameters', 'EC private key needs a namedCurve');
      const curve = oidValue(alg.parameters, 'namedCurve');
      const size = curve === Oid.secp256r1 ? 32 : curve === Oid.secp384r1 ? 48 : 0;
      if (!size) throw new CertificateError('unsupported_algorithm', `EC curve ${curve} is not supported (P-256 and P-384 are)`);
      const ec = contents(decodeDer(privateKey, 'ECPrivateKey', malformed), 'ECPrivateKey');
      if (smallInteger(ec.expect(Tag.INTEGER, 'version'), 'ECPrivateKey version') !== 1) throw malformed('ECPrivateKey version must be 1');
      const scalar = octetString(ec.expect(Tag.OCTET_STRING, 'privateKey'), 'ECPrivateKey privateKey');
      const params = ec.optional(contextTag(0, true));
      const pub = ec.optional(contextTag(1, true));
      ec.end();
      if (params) {
        const pr = contents(params, 'ECPrivateKey parameters', params.tag);
        if (oidValue(pr.expect(Tag.OID, 'namedCurve'), 'namedCurve') !== curve) throw malformed('ECPrivateKey curve differs from the algorithm curve');
        pr.end();
      }
      if (scalar.length > size || scalar.length === 0) throw malformed(`EC private key of ${scalar.length} bytes for a ${size}-byte curve`);
      const secret = new Uint8Array(size);
      secret.set(scalar, size - scalar.length);
      const ecPub = pub ? bitsIn(pub) : publicKey;
      const algorithm = size === 32 ? 'ecdsa-p256' : 'ecdsa-p384';
      return ecPub ? { algorithm, secret, publicKey: ecPub } : { algorithm, secret };
    }
    case Oid.rsaEncryption: {
      if (alg.parameters === undefined) throw new CertificateError('bad_algorithm_parameters', 'rsaEncryption parameters must be NULL');
      nullValue(alg.parameters, 'rsaEncryption parameters');
      decodeDer(privateKey, 'RSAPrivateKey', malformed);
      return withPub({ algorithm: 'rsa', pkcs1: privateKey });
    }
    case Oid.rsassaPss: {
      // id-RSASSA-PSS (RFC 4055 §1.2), as `openssl genpkey -algorithm RSA-PSS` writes: the same RSAPrivateKey,
      // with RSASSA-PSS-params in the AlgorithmIdentifier when the key is restricted to one hash and a minimum salt.
      const pss = parsePssKeyParameters(alg);
      if (typeof pss === 'string') throw new CertificateError('unsupported_algorithm', pss);
      decodeDer(privateKey, 'RSAPrivateKey', malformed);
      return withPub(pss ? { algorithm: 'rsa-pss', pkcs1: privateKey, pss } : { algorithm: 'rsa-pss', pkcs1: privateKey });
    }
    default:
      throw new CertificateError('unsupported_algorithm', `private-key algorithm ${alg.oid} is not supported`);
  }
}

function bitsIn(t: Tlv): Uint8Array {
  const r = contents(t, 'ECPrivateKey publicKey', t.tag);
  const b = octetAlignedBits(r.expect(Tag.BIT_STRING, 'publicKey'), 'ECPrivateKey publicKey');
  r.end();
  return b;
}

/** RFC 9881 §6: the CHOICE is decided by the tag: [0] seed, OCTET STRING expandedKey, SEQUENCE both. */
function parseMlDsaPrivateKey(algorithm: MlDsaAlgorithm, inner: Uint8Array): PrivateKeyMaterial {
  const t = decodeDer(inner, `${algorithm} private key`, malformed);
  const expandedLength = ML_DSA_EXPANDED_KEY_LENGTH[algorithm];
  const checkSeed = (s: Uint8Array): Uint8Array => {
    if (s.length !== 32) throw malformed(`${algorithm} seed must be 32 bytes, found ${s.length}`);
    return s;
  };
  const checkExpanded = (e: Uint8Array): Uint8Array => {
    if (e.length !== expandedLength) throw malformed(`${algorithm} expandedKey must be ${expandedLength} bytes, found ${e.length}`);
    return e;
  };
  switch (t.tag) {
    case SEED_TAG:
      return { algorithm, seed: checkSeed(t.value) };
    case Tag.OCTET_STRING:
      return { algorithm, expanded: checkExpanded(t.value) };
    case Tag.SEQUENCE: {
      const r = contents(t, `${algorithm} both`);
      const seed = checkSeed(octetString(r.expect(Tag.OCTET_STRING, 'seed'), 'seed'));
      const expanded = checkExpanded(octetString(r.expect(Tag.OCTET_STRING, 'expandedKey'), 'expandedKey'));
      r.end();
      return { algorithm, seed, expanded };
    }
    default:
      throw malformed(`${algorithm} private key: tag 0x${t.tag.toString(16)} is none of seed [0], expandedKey, both`);
  }
}

/**
 * Encodes key material as DER PKCS #8 (v1, no attributes). ML-DSA is written
 * in `mlDsaFormat` (seed by default, RFC 9881 §6); the material must hold the
 * parts that form needs.
 */
export function encodePkcs8(material: PrivateKeyMaterial, options: { mlDsaFormat?: MlDsaKeyFormat; publicKey?: Uint8Array } = {}): Uint8Array {
  const algId = encodeKeyAlgorithmIdentifier(material.algorithm, material.algorithm === 'rsa-pss' ? material.pss : undefined);
  let inner: Uint8Array;
  if ('pkcs1' in material) {
    inner = material.pkcs1;
  } else if ('secretKey' in material) {
    inner = material.secretKey;
  } else if ('secret' in material) {
    if (material.algorithm === 'ed25519') {
      inner = octets(material.secret);
    } else {
      const curve = material.algorithm === 'ecdsa-p256' ? Oid.secp256r1 : Oid.secp384r1;
      const parts = [integer(1), octets(material.secret), explicit(0, oid(curve))];
      if (options.publicKey) parts.push(explicit(1, bits(options.publicKey)));
      inner = sequence(...parts);
    }
  } else {
    const format = options.mlDsaFormat ?? 'seed';
    const { seed, expanded } = material;
    if ((format !== 'expanded' && !seed) || (format !== 'seed' && !expanded)) {
      throw new ConfigError(`cannot write ${material.algorithm} key in ${format} form: the provider exported ${seed ? 'only the seed' : 'only the expanded key'}`);
    }
    inner = format === 'seed' ? tlv(SEED_TAG, seed as Uint8Array)
      : format === 'expanded' ? octets(expanded as Uint8Array)
      : sequence(octets(seed as Uint8Array), octets(expanded as Uint8Array));
  }
  return sequence(integer(0), algId, octets(inner));
}

/** Parses a `PRIVATE KEY` PEM block (PKCS #8). */
export function parsePkcs8Pem(pem: string): Pkcs8Key {
  const blocks = decodePem(pem).filter((b) => b.label === 'PRIVATE KEY');
  if (blocks.length !== 1) {
    const other = decodePem(pem).map((b) => b.label);
    throw malformed(`expected one "PRIVATE KEY" (PKCS #8) PEM block, found ${other.length ? other.join(', ') : 'none'}`);
  }
  return parsePkcs8((blocks[0] as { bytes: Uint8Array }).bytes);
}

/**
 * Imports a PKCS #8 private key (DER or PEM) into `provider`. The provider
 * checks that an ML-DSA seed and expanded key agree (RFC 9881 §8.2); a public
 * key stored in the file must match the imported key (`bad_public_key`).
 */
export async function importPrivateKey(provider: CryptoProvider, input: Uint8Array | string): Promise<KeyPair> {
  const parsed = typeof input === 'string' ? parsePkcs8Pem(input) : parsePkcs8(input);
  const { publicKey, ...material } = parsed as Pkcs8Key & { publicKey?: Uint8Array };
  const pair = await provider.importPrivateKey(material as PrivateKeyMaterial);
  if (publicKey && !equalBytes(publicKey, pair.publicKey)) {
    throw new CertificateError('bad_public_key', `the public key stored with the ${material.algorithm} private key does not match it`);
  }
  return pair;
}

/** {@link importPrivateKey} for a PEM string. */
export function importPrivateKeyPem(provider: CryptoProvider, pem: string): Promise<KeyPair> {
  return importPrivateKey(provider, pem);
}

/**
 * Exports `key` through the provider and writes it as a `PRIVATE KEY` PEM block.
 * An EC key always carries its public key (RFC 5915 `[1] publicKey`, as OpenSSL
 * writes it): GnuTLS and tlslite refuse an ECPrivateKey without one. When the
 * caller does not pass it, the provider derives it from the exported scalar.
 */
export async function exportPrivateKeyPem(
  provider: CryptoProvider, key: PrivateKeyRef, options: { mlDsaFormat?: MlDsaKeyFormat; publicKey?: Uint8Array } = {},
): Promise<string> {
  const material = await provider.exportPrivateKey(key);
  const ec = material.algorithm === 'ecdsa-p256' || material.algorithm === 'ecdsa-p384';
  const publicKey = options.publicKey ?? (ec ? (await provider.importPrivateKey(material)).publicKey : undefined);
  return encodePem('PRIVATE KEY', encodePkcs8(material, { ...options, ...(publicKey && { publicKey }) }));
}

