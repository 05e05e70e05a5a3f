/**
 * IANA code points for the algorithms the library negotiates, with their
 * registry names. Kept apart from any backend so that protocol code and
 * configuration can name algorithms without touching an implementation.
 */

/** TLS NamedGroup values (RFC 8446 §4.2.7, draft-ietf-tls-ecdhe-mlkem, draft-ietf-tls-mlkem). */
export const NamedGroup = {
  secp256r1: 0x0017,
  secp384r1: 0x0018,
  x25519: 0x001d,
  MLKEM512: 0x0200,
  MLKEM768: 0x0201,
  MLKEM1024: 0x0202,
  SecP256r1MLKEM768: 0x11eb,
  X25519MLKEM768: 0x11ec,
  SecP384r1MLKEM1024: 0x11ed,
} as const;
export type NamedGroup = (typeof NamedGroup)[keyof typeof NamedGroup];
export type NamedGroupName = keyof typeof NamedGroup;

/** TLS SignatureScheme values (RFC 8446 §4.2.3, draft-ietf-tls-mldsa). */
export const SignatureScheme = {
  rsa_pkcs1_sha256: 0x0401,
  rsa_pkcs1_sha384: 0x0501,
  rsa_pkcs1_sha512: 0x0601,
  ecdsa_secp256r1_sha256: 0x0403,
  ecdsa_secp384r1_sha384: 0x0503,
  rsa_pss_rsae_sha256: 0x0804,
  rsa_pss_rsae_sha384: 0x0805,
  rsa_pss_rsae_sha512: 0x0806,
  ed25519: 0x0807,
  rsa_pss_pss_sha256: 0x0809,
  rsa_pss_pss_sha384: 0x080a,
  rsa_pss_pss_sha512: 0x080b,
  mldsa44: 0x0904,
  mldsa65: 0x0905,
  mldsa87: 0x0906,
} as const;
export type SignatureScheme = (typeof SignatureScheme)[keyof typeof SignatureScheme];
export type SignatureSchemeName = keyof typeof SignatureScheme;

/**
 * Key types a {@link PrivateKeyRef} can hold. `rsa` is an rsaEncryption key
 * (`rsa_pss_rsae_*`, `rsa_pkcs1_*`); `rsa-pss` an id-RSASSA-PSS key (RFC 4055
 * §1.2), which may sign only RSASSA-PSS, hence only `rsa_pss_pss_*` in TLS
 * (RFC 8446 §4.2.3). The SLH-DSA sets sign certificates only.
 */
export type KeyAlgorithm = 'ml-dsa-44' | 'ml-dsa-65' | 'ml-dsa-87' | 'ed25519' | 'ecdsa-p256' | 'ecdsa-p384' | 'rsa' | 'rsa-pss' | SlhDsaAlgorithm;
export type MlDsaAlgorithm = 'ml-dsa-44' | 'ml-dsa-65' | 'ml-dsa-87';

/** The twelve SLH-DSA parameter sets of FIPS 205 Table 2, named as in RFC 9909. */
export const SLH_DSA_ALGORITHMS = [
  'slh-dsa-sha2-128s', 'slh-dsa-sha2-128f', 'slh-dsa-sha2-192s', 'slh-dsa-sha2-192f', 'slh-dsa-sha2-256s', 'slh-dsa-sha2-256f',
  'slh-dsa-shake-128s', 'slh-dsa-shake-128f', 'slh-dsa-shake-192s', 'slh-dsa-shake-192f', 'slh-dsa-shake-256s', 'slh-dsa-shake-256f',
] as const;
export type SlhDsaAlgorithm = (typeof SLH_DSA_ALGORITHMS)[number];

export function isSlhDsa(a: unknown): a is SlhDsaAlgorithm {
  return typeof a === 'string' && (SLH_DSA_ALGORITHMS as readonly string[]).includes(a);
}

/**
 * FIPS 205 Table 2 sizes: n is the security parameter; the public key is
 * PK.seed ‖ PK.root (2n), the private key SK.seed ‖ SK.prf ‖ PK.seed ‖ PK.root (4n).
 */
export function slhDsaSizes(a: SlhDsaAlgorithm): { readonly n: 16 | 24 | 32; readonly publicKey: number; readonly secretKey: number; readonly signature: number } {
  const level = a.slice(-4);
  const n = level.startsWith('128') ? 16 : level.startsWith('192') ? 24 : 32;
  const signature = { '128s': 7856, '128f': 17088, '192s': 16224, '192f': 35664, '256s': 29792, '256f': 49856 }[level] as number;
  return { n, publicKey: 2 * n, secretKey: 4 * n, signature };
}

/**
 * Signature algorithms that live only in certificates. SLH-DSA has no TLS
 * SignatureScheme code point, so the provider is handed the parameter-set
 * name instead of a number: a string cannot be written into, read from, or
 * matched against a 16-bit signature_algorithms list, and TLS code, which is
 * typed on {@link SignatureScheme}, cannot name one by accident.
 */
export type CertificateOnlyScheme = SlhDsaAlgorithm;
/** What {@link CryptoProvider.sign} and `verify` accept: a TLS scheme or a certificate-only one. */
export type SigningScheme = SignatureScheme | CertificateOnlyScheme;

export type HashAlgorithm = 'SHA-256' | 'SHA-384' | 'SHA-512';
export type AeadAlgorithm = 'AES-128-GCM' | 'AES-256-GCM' | 'CHACHA20-POLY1305';
/** QUIC header protection (RFC 9001 §5.4.3, §5.4.4). */
export type HeaderProtectionAlgorithm = 'AES-128-ECB' | 'AES-256-ECB' | 'CHACHA20';

function invert<T extends Record<string, number>>(o: T): Map<number, keyof T & string> {
  return new Map(Object.entries(o).map(([k, v]) => [v, k as keyof T & string]));
}
const groupNames = invert(NamedGroup);
const schemeNames = invert(SignatureScheme);

/** Registry name of a group (`X25519MLKEM768`), or `0x....` for one we do not know. */
export function groupName(g: number): string {
  return groupNames.get(g) ?? `0x${g.toString(16).padStart(4, '0')}`;
}
/** Registry name of a signature scheme (`mldsa65`), or `0x....` for one we do not know. */
export function signatureSchemeName(s: number): string {
  return schemeNames.get(s) ?? `0x${s.toString(16).padStart(4, '0')}`;
}
export function isNamedGroup(g: number): g is NamedGroup {
  return groupNames.has(g);
}
export function isSignatureScheme(s: number): s is SignatureScheme {
  return schemeNames.has(s);
}
/** Parses a group name case-insensitively (`x25519mlkem768`, `X25519MLKEM768`); undefined if unknown. */
export function parseGroupName(name: string): NamedGroup | undefined {
  return GROUPS_BY_NAME.get(name.toLowerCase());
}
// Looked up per connection (options name groups as strings): a map, not a scan of the table.
const GROUPS_BY_NAME: ReadonlyMap<string, NamedGroup> = new Map(Object.entries(NamedGroup).map(([k, v]) => [k.toLowerCase(), v]));
/** Parses a signature scheme name case-insensitively; undefined if unknown. */
export function parseSignatureSchemeName(name: string): SignatureScheme | undefined {
  const want = name.toLowerCase();
  for (const [k, v] of Object.entries(SignatureScheme)) if (k.toLowerCase() === want) return v;
  return undefined;
}

/** Display name of a TLS or certificate-only scheme (`mldsa65`, `slh-dsa-sha2-128s`). */
export function signingSchemeName(s: SigningScheme): string {
  return typeof s === 'string' ? s : signatureSchemeName(s);
}

/** The key algorithm a TLS or certificate-only scheme signs with. */
export function signingKeyAlgorithm(s: SigningScheme): KeyAlgorithm {
  return typeof s === 'string' ? s : schemeKeyAlgorithm(s);
}

/** Key algorithms that can sign a TLS CertificateVerify: all but the certificate-only SLH-DSA. */
export type TlsKeyAlgorithm = Exclude<KeyAlgorithm, SlhDsaAlgorithm>;

/** The key algorithm a signature scheme signs with. */
export function schemeKeyAlgorithm(s: SignatureScheme): TlsKeyAlgorithm {
  switch (s) {
    case SignatureScheme.mldsa44: return 'ml-dsa-44';
    case SignatureScheme.mldsa65: return 'ml-dsa-65';
    case SignatureScheme.mldsa87: return 'ml-dsa-87';
    case SignatureScheme.ed25519: return 'ed25519';
    case SignatureScheme.ecdsa_secp256r1_sha256: return 'ecdsa-p256';
    case SignatureScheme.ecdsa_secp384r1_sha384: return 'ecdsa-p384';
    case SignatureScheme.rsa_pss_pss_sha256:
    case SignatureScheme.rsa_pss_pss_sha384:
    case SignatureScheme.rsa_pss_pss_sha512: return 'rsa-pss';
    default: return 'rsa';
  }
}

/**
 * The restriction RSASSA-PSS-params put on an id-RSASSA-PSS key (RFC 4055
 * §3.1): it may sign only with `hash`, MGF1 on `mgfHash`, and a salt of at
 * least `saltLength` bytes. An id-RSASSA-PSS key without parameters is
 * unrestricted.
 *
 * `mgfHash` need not be `hash`: `openssl genpkey -algorithm RSA-PSS -pkeyopt
 * rsa_pss_keygen_md:sha256` writes no maskGenAlgorithm, whose DER default is
 * MGF1-SHA1, and OpenSSL then signs and verifies `rsa_pss_pss_sha256` with
 * MGF1-SHA1 for such a key, following the key over RFC 8446 §4.2.3's
 * "MGF1 with the same hash". We do the same, so that those keys interoperate.
 */
export interface RsaPssRestriction {
  readonly hash: HashAlgorithm;
  readonly mgfHash: HashAlgorithm | 'SHA-1';
  readonly saltLength: number;
}

/**
 * Whether an id-RSASSA-PSS key under `restriction` may sign with `scheme`:
 * `rsa_pss_pss_*` with the key's hash, whose salt (hash length, RFC 8446
 * §4.2.3) is at least the key's minimum.
 */
export function pssSchemeAllowed(scheme: SignatureScheme, restriction: RsaPssRestriction | undefined): boolean {
  const hash: HashAlgorithm | undefined =
    scheme === SignatureScheme.rsa_pss_pss_sha256 ? 'SHA-256'
    : scheme === SignatureScheme.rsa_pss_pss_sha384 ? 'SHA-384'
    : scheme === SignatureScheme.rsa_pss_pss_sha512 ? 'SHA-512'
    : undefined;
  if (hash === undefined) return false;
  return restriction === undefined || (restriction.hash === hash && hashLength(hash) >= restriction.saltLength);
}

/** AEAD key length in bytes. */
export function aeadKeyLength(a: AeadAlgorithm): 16 | 32 {
  return a === 'AES-128-GCM' ? 16 : 32;
}
/** Output length in bytes. */
export function hashLength(h: HashAlgorithm): 32 | 48 | 64 {
  return h === 'SHA-256' ? 32 : h === 'SHA-384' ? 48 : 64;
}
