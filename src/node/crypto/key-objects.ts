/**
 * node:crypto KeyObjects from raw key bytes: X25519 and Ed25519 through JWK
 * (RFC 8037) or PEM, EC public keys through a DER SubjectPublicKeyInfo (RFC 5480).
 *
 * Why JWK for the OKP curves: Node 20's OpenSSL 3.0 DER decoders take ~380 µs
 * per PKCS #8 import and ~80 µs per SPKI, against ~40 and ~7 µs for JWK, and
 * an X25519 exchange imports several keys. (For EC keys the two cost the same.)
 * Node 24 turned that around for public keys: it asks whether an object
 * argument is a KeyObject by catching a thrown TypeError (two per call), about
 * 40 µs, while OpenSSL 3.5 decodes a PEM SubjectPublicKeyInfo in ~15 µs; a
 * string argument skips those checks. See {@link okpPublicKey}.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { concat } from '../../bytes.js';
import { base64url, plain } from './buffers.js';

export type OkpCurve = 'X25519' | 'Ed25519';

/** RFC 8410 §7 OneAsymmetricKey prefixes: the 32-byte private key follows. */
const PKCS8_PREFIX: Readonly<Record<OkpCurve, Uint8Array>> = {
  X25519: Uint8Array.of(0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20),
  Ed25519: Uint8Array.of(0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20),
};

/**
 * A JWK private key must carry `x`, the public key we are importing the
 * private key to learn. Node builds the key from `d` alone (OpenSSL's raw
 * private-key constructor derives the public half), so any well-formed `x`
 * will do. Whether that holds is checked once, on RFC 7748 §6.1's key pair;
 * if a runtime ever reads `x`, imports fall back to the slow PKCS #8 path.
 */
const PLACEHOLDER_X = base64url(new Uint8Array(32));
const jwkIgnoresX = ((): boolean => {
  try {
    const alice = Uint8Array.from(Buffer.from('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a', 'hex'));
    const key = createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d: base64url(alice), x: PLACEHOLDER_X }, format: 'jwk' });
    return Buffer.from(okpRawPublicKey(key)).toString('hex') === '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a';
  } catch {
    return false;
  }
})();

export function okpPrivateKey(curve: OkpCurve, secret: Uint8Array): KeyObject {
  if (jwkIgnoresX) return createPrivateKey({ key: { kty: 'OKP', crv: curve, d: base64url(secret), x: PLACEHOLDER_X }, format: 'jwk' });
  return okpPrivateKeyPkcs8(curve, secret);
}

/** The slow, unambiguous import through PKCS #8 (the fallback of {@link okpPrivateKey}). */
export function okpPrivateKeyPkcs8(curve: OkpCurve, secret: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.from(concat(PKCS8_PREFIX[curve], secret)), format: 'der', type: 'pkcs8' });
}

/** RFC 8410 §4 SubjectPublicKeyInfo prefixes: the 32-byte public key follows. */
const SPKI_PREFIX: Readonly<Record<OkpCurve, Uint8Array>> = {
  X25519: Uint8Array.of(0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00),
  Ed25519: Uint8Array.of(0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00),
};

/** RFC 7468 textual encoding of a DER structure: 64 base64 characters a line. */
export function pem(label: 'PUBLIC KEY' | 'PRIVATE KEY', der: Uint8Array): string {
  const b64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
  let body = '';
  for (let i = 0; i < b64.length; i += 64) body += `${b64.slice(i, i + 64)}\n`;
  return `-----BEGIN ${label}-----\n${body}-----END ${label}-----\n`;
}

export function okpPublicKeyJwk(curve: OkpCurve, raw: Uint8Array): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv: curve, x: base64url(raw) }, format: 'jwk' });
}

export function okpPublicKeyPem(curve: OkpCurve, raw: Uint8Array): KeyObject {
  return createPublicKey(pem('PUBLIC KEY', concat(SPKI_PREFIX[curve], raw)));
}

/**
 * Which of the two public-key imports to use on this runtime, found once by
 * timing both on RFC 7748 §6.1's key (best of a few rounds, so a busy machine
 * does not decide it): on Node 20 PEM costs ~10× JWK; on Node 24 less than
 * JWK, whose thrown-and-caught checks capture a stack trace, which costs more
 * the deeper the caller (in a handshake ~2× what this probe sees). So PEM,
 * unless it measures over twice JWK's cost. Both give the same key: the
 * choice only moves CPU time.
 */
let publicImport: ((curve: OkpCurve, raw: Uint8Array) => KeyObject) | undefined;

function fasterPublicImport(): (curve: OkpCurve, raw: Uint8Array) => KeyObject {
  const alice = Uint8Array.from(Buffer.from('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a', 'hex'));
  const cost = (f: (curve: OkpCurve, raw: Uint8Array) => KeyObject): number => {
    try {
      f('X25519', alice);
    } catch {
      return Infinity;
    }
    let best = Infinity;
    for (let round = 0; round < 3; round++) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < 4; i++) f('X25519', alice);
      best = Math.min(best, Number(process.hrtime.bigint() - t0));
    }
    return best;
  };
  return cost(okpPublicKeyPem) < 2 * cost(okpPublicKeyJwk) ? okpPublicKeyPem : okpPublicKeyJwk;
}

export function okpPublicKey(curve: OkpCurve, raw: Uint8Array): KeyObject {
  const key = importRawPublic(curve === 'X25519' ? 'x25519' : 'ed25519', raw);
  if (key) return key;
  publicImport ??= fasterPublicImport();
  return publicImport(curve, raw);
}

/**
 * Runs a synchronous node:crypto call with V8's stack capture off. Node 24
 * tells what kind of key argument it was given by throwing and catching
 * TypeErrors, and each one captures a stack trace, whose cost grows with the
 * caller's depth, and a handshake's is deep: at 30 frames, importing a raw
 * ML-KEM-768 key costs ~70 µs with the captures and ~30 µs without, a raw
 * X25519 key ~46 µs and ~12 µs. An error thrown through here has no stack;
 * every caller turns it into a typed error of its own anyway.
 */
export function withoutStackTraces<T>(f: () => T): T {
  const limit = Error.stackTraceLimit;
  try {
    Error.stackTraceLimit = 0;
  } catch {
    // A frozen Error (a hardened realm): the call simply costs what it costs.
    return f();
  }
  try {
    return f();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** `KeyObject#export` as newer Node 24 has it, beyond its type definitions. */
const exportRaw = (key: KeyObject): Buffer => (key as unknown as { export(o: { format: 'raw-public' }): Buffer }).export({ format: 'raw-public' });

/** Whether `KeyObject#export` writes `format: 'raw-public'` (newer Node 24): ~1 µs, against ~3 µs through a JWK and ~40 µs through an ML-KEM SubjectPublicKeyInfo. */
const RAW_PUBLIC_EXPORT = ((): boolean => {
  try {
    return exportRaw(generateKeyPairSync('x25519').publicKey).length === 32;
  } catch {
    return false;
  }
})();

/** A public KeyObject's raw key, where node exports it directly; undefined where it cannot. */
export function exportRawPublic(publicKey: KeyObject): Uint8Array | undefined {
  return RAW_PUBLIC_EXPORT ? plain(exportRaw(publicKey)) : undefined;
}

type RawKeyType = 'x25519' | 'ed25519' | 'ml-kem-512' | 'ml-kem-768' | 'ml-kem-1024' | 'ml-dsa-44' | 'ml-dsa-65' | 'ml-dsa-87';
const importRaw = (type: RawKeyType, raw: Uint8Array): KeyObject =>
  createPublicKey({ key: raw, format: 'raw-public', asymmetricKeyType: type } as unknown as Parameters<typeof createPublicKey>[0]);

/** Whether `createPublicKey` reads `format: 'raw-public'` (newer Node 24), checked on a key it must give back unchanged. */
const RAW_PUBLIC_IMPORT = ((): boolean => {
  try {
    const { publicKey } = generateKeyPairSync('x25519');
    return importRaw('x25519', exportRaw(publicKey)).equals(publicKey);
  } catch {
    return false;
  }
})();

/**
 * A public key from its raw encoding, imported as such (no SubjectPublicKeyInfo
 * or PEM around it, no stack captures: see {@link withoutStackTraces}) where
 * node can; undefined where it cannot. OpenSSL decodes the key as it would
 * from a SubjectPublicKeyInfo, checks included (an ML-KEM encapsulation key's
 * modulus check, FIPS 203 §7.2): a throw means a bad key.
 */
export function importRawPublic(type: RawKeyType, raw: Uint8Array): KeyObject | undefined {
  return RAW_PUBLIC_IMPORT ? withoutStackTraces(() => importRaw(type, raw)) : undefined;
}

/** The raw 32-byte public key of an X25519 or Ed25519 key (private or public). */
export function okpRawPublicKey(key: KeyObject): Uint8Array {
  const pub = key.type === 'public' ? key : createPublicKey(key);
  const raw = exportRawPublic(pub);
  if (raw) return raw;
  const { x } = pub.export({ format: 'jwk' });
  if (typeof x !== 'string') throw new Error('node:crypto exported an OKP JWK without x');
  return Uint8Array.from(Buffer.from(x, 'base64url'));
}

/** AlgorithmIdentifier { id-ecPublicKey, namedCurve } (RFC 5480 §2.1.1). */
const EC_ALGORITHM = {
  'P-256': Uint8Array.of(0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07),
  'P-384': Uint8Array.of(0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22),
} as const;

export type NistCurve = keyof typeof EC_ALGORITHM;

/**
 * An EC public key from a SEC 1 point, compressed or not. OpenSSL decodes the
 * point on import and refuses one that is not on the curve, so a throw here
 * means an invalid key.
 */
export function ecPublicKey(curve: NistCurve, point: Uint8Array): KeyObject {
  const alg = EC_ALGORITHM[curve];
  const bitString = concat(Uint8Array.of(0x03, point.length + 1, 0x00), point);
  const spki = concat(Uint8Array.of(0x30, alg.length + bitString.length), alg, bitString);
  return createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
}
