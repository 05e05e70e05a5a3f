import type {
  AeadAlgorithm, HashAlgorithm, HeaderProtectionAlgorithm, KeyAlgorithm, MlDsaAlgorithm, NamedGroup,
  RsaPssRestriction, SignatureScheme, SigningScheme, SlhDsaAlgorithm,
} from './ids.js';

/**
 * The crypto provider: the one door through which protocol code performs every
 * cryptographic operation. In the manner of rustls's `CryptoProvider`, a
 * connection is configured with one, and nothing in `tls13` or `quic` imports a
 * crypto library directly.
 *
 * Operations that may be offloaded (to WebCrypto, a hardware card, a batching
 * queue) return Promises. Incremental hashing is synchronous on purpose: a
 * transcript hash is updated per message and forked at every Finished, which no
 * offload engine makes cheaper, and an async transcript would serialise the
 * whole handshake on microtasks for nothing.
 */
export interface CryptoProvider {
  /** A short name for diagnostics (`noble`, `quac100`, `node`). */
  readonly name: string;

  /** `length` bytes from a cryptographically secure source (or the injected test source). */
  random(length: number): Promise<Uint8Array>;

  /** Hash function; throws {@link UnsupportedAlgorithmError} for one the backend lacks. */
  hash(alg: HashAlgorithm): HashFunction;
  readonly hmac: MaybeSync<[alg: HashAlgorithm, key: Uint8Array, data: Uint8Array], Uint8Array>;
  /** HKDF-Extract (RFC 5869 §2.2). An empty salt means HashLen zero bytes. */
  readonly hkdfExtract: MaybeSync<[alg: HashAlgorithm, salt: Uint8Array, ikm: Uint8Array], Uint8Array>;
  /** HKDF-Expand (RFC 5869 §2.3); `length` ≤ 255·HashLen. */
  readonly hkdfExpand: MaybeSync<[alg: HashAlgorithm, prk: Uint8Array, info: Uint8Array, length: number], Uint8Array>;

  /** Keys an AEAD once, for many records or packets. */
  readonly aead: MaybeSync<[alg: AeadAlgorithm, key: Uint8Array], AeadKey>;
  /** Keys a QUIC header-protection mask function once (RFC 9001 §5.4). */
  headerProtection(alg: HeaderProtectionAlgorithm, key: Uint8Array): Promise<HeaderProtectionKey>;

  /** Groups this backend implements, in its preference order. */
  readonly groups: readonly NamedGroup[];
  /** Key exchange for a TLS NamedGroup; throws {@link UnsupportedAlgorithmError} if absent. */
  keyExchange(group: NamedGroup): KeyExchange;

  /**
   * TLS signature schemes this backend can sign and verify with. Certificate-only
   * schemes (SLH-DSA) are never listed here, so TLS never offers them.
   */
  readonly signatureSchemes: readonly SignatureScheme[];
  /**
   * Signs `message` (the whole message; the scheme's hash, if any, is applied
   * here). The key's algorithm must match the scheme. A certificate-only scheme
   * (an SLH-DSA parameter-set name) signs pure SLH-DSA with an empty context
   * (FIPS 205 Algorithm 22, RFC 9909); a backend without it throws
   * {@link UnsupportedAlgorithmError}.
   */
  sign(scheme: SigningScheme, key: PrivateKeyRef, message: Uint8Array): Promise<Uint8Array>;
  /**
   * Verifies a signature. Returns false for any signature that does not verify,
   * malformed encodings included; throws {@link IllegalParameterError} only for a
   * public key that is not a valid key of the scheme's type.
   *
   * Public-key encodings: ML-DSA raw (FIPS 204 pk), SLH-DSA raw PK.seed ‖ PK.root,
   * Ed25519 raw 32 bytes, ECDSA SEC1 point, RSA (rsaEncryption and id-RSASSA-PSS
   * alike) DER `RSAPublicKey` (PKCS #1). ECDSA signatures are DER
   * `Ecdsa-Sig-Value` as in TLS and X.509.
   */
  verify(scheme: SigningScheme, publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array, options?: VerifyOptions): Promise<boolean>;

  /** Generates a signing key pair inside the backend. */
  generateKeyPair(alg: KeyAlgorithm): Promise<KeyPair>;
  /** Imports private key material; validates it (e.g. ML-DSA seed and expanded key agree). */
  importPrivateKey(material: PrivateKeyMaterial): Promise<KeyPair>;
  /**
   * Exports a key's material, for writing PKCS #8. A backend whose keys never
   * leave a device throws {@link KeyUnavailableError}.
   */
  exportPrivateKey(key: PrivateKeyRef): Promise<PrivateKeyMaterial>;
}

/** What a signature's verification needs to know beyond the public key's bits. */
export interface VerifyOptions {
  /**
   * For `rsa_pss_pss_*` with a certificate key restricted by RSASSA-PSS-params:
   * the MGF1 hash the key was restricted to (see {@link RsaPssRestriction}).
   */
  readonly rsaPss?: RsaPssRestriction;
}

/** A hash algorithm with incremental contexts. */
export interface HashFunction {
  readonly algorithm: HashAlgorithm;
  readonly outputLength: number;
  readonly blockLength: number;
  create(): HashContext;
  digest(data: Uint8Array): Uint8Array;
}

/** An incremental hash. `clone` forks it, e.g. to read a transcript hash mid-handshake. */
export interface HashContext {
  update(data: Uint8Array): this;
  /** The digest of everything so far; the context remains usable. */
  digest(): Uint8Array;
  clone(): HashContext;
}

/**
 * An operation that may be offloaded, and so returns a Promise, which a
 * backend that computes on the calling thread may also offer synchronously.
 */
export type MaybeSync<A extends unknown[], R> = ((...args: A) => Promise<R>) & {
  /**
   * Optional: the same operation on the calling thread, with the same results
   * and errors (thrown). Its presence declares the operation synchronous, so a
   * caller may skip the promise (a microtask and an allocation, about a dozen
   * per record protector keyed). It is a property of the function itself, so
   * it travels with it (a provider copied with `{ ...provider }`) and is gone
   * from a wrapper that replaces the function: a decorated operation is never
   * bypassed. It is called without a meaningful `this`.
   */
  readonly sync?: (...args: A) => R;
};

/** An AEAD keyed once. Nonces are 12 bytes and tags 16 for all three TLS 1.3 suites. */
export interface AeadKey {
  readonly algorithm: AeadAlgorithm;
  readonly tagLength: 16;
  readonly nonceLength: 12;
  /** Returns ciphertext ‖ tag. */
  seal(nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Promise<Uint8Array>;
  /**
   * Optional, for backends that compute on the calling thread: writes
   * ciphertext ‖ tag into `output` (exactly `plaintext.length + 16` bytes),
   * which may start at the very byte `plaintext` starts at (sealing in place);
   * `aad` may lie in the same buffer before them. The record layers use it to
   * build each record in one allocation and without a promise per record; a
   * backend whose AEAD is asynchronous (a device, SubtleCrypto) leaves it out.
   */
  sealInto?(nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array, output: Uint8Array): void;
  /**
   * Optional, for a synchronous backend whose output comes in pieces anyway
   * (node:crypto's `update`, `final` and `getAuthTag` each return a new
   * Buffer): seals the concatenation of `plaintext` and returns ciphertext ‖
   * tag as fresh arrays whose concatenation is what {@link seal} returns. The
   * inputs are only read during the call. A record layer that finds it prefers
   * it to {@link sealInto}: the pieces go to the transport as they are, instead
   * of being copied into a record that was itself copied together.
   */
  sealParts?(nonce: Uint8Array, aad: Uint8Array, plaintext: readonly Uint8Array[]): Uint8Array[];
  /**
   * Optional, like {@link sealInto}: seals the concatenation of `parts` into
   * `output` (exactly their total length + 16 bytes, ciphertext ‖ tag). Each
   * part is either the very bytes of `output` its ciphertext goes to (sealed
   * in place) or lies outside `output`. A QUIC packet's frame headers are
   * written in the packet and its STREAM data left where the application's
   * write put it: encrypting is then the only time that data is copied.
   */
  sealGather?(nonce: Uint8Array, aad: Uint8Array, parts: readonly Uint8Array[], output: Uint8Array): void;
  /** Returns the plaintext, or null if authentication fails (never throws for bad input). */
  open(nonce: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array): Promise<Uint8Array | null>;
  /**
   * Optional, like {@link sealInto}: {@link open} on the calling thread, same
   * results. Its presence declares the key's symmetric operations synchronous,
   * so the record layers open each record without a promise. The plaintext is
   * a fresh array the caller may keep (it never aliases `ciphertext`, which
   * the caller may reuse as soon as this returns).
   */
  openSync?(nonce: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array): Uint8Array | null;
  /**
   * Optional, with {@link openSync}: decrypts into `output` (exactly
   * `ciphertext.length - 16` bytes, either not overlapping `ciphertext` or
   * exactly its first bytes, `ciphertext.subarray(0, length - 16)`: an
   * in-place open, which the backend must support; no other overlap) and
   * returns whether the tag verified. When it returns false `output` holds
   * nothing usable (the backend zeroes it) and must not be read. The record
   * layer uses it to open records into slices of a slab it never reuses, so
   * each record costs no array of its own (a fresh 16 KiB array costs more
   * than decrypting it), or in place in a receive buffer the transport gave up.
   */
  openInto?(nonce: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array, output: Uint8Array): boolean;
  /**
   * Optional, with {@link openInto}: the concatenation of `parts` is
   * ciphertext ‖ tag; decrypts it in place, each plaintext byte over its
   * ciphertext byte (the tag's bytes are left as they are), and returns
   * whether the tag verified; when it did not, the plaintext bytes are zeroed.
   * A TLS record cut across two reads of a transport that gave them up is
   * opened where its parts lie, with no copy and no array of its own.
   */
  openGather?(nonce: Uint8Array, aad: Uint8Array, parts: readonly Uint8Array[]): boolean;
  /**
   * Optional: releases what the key holds outside the JavaScript heap (a
   * native cipher context) now, rather than whenever the garbage collector
   * gets to it; the record layer calls it once a key is replaced or its
   * connection is done. Every operation afterwards throws. Idempotent.
   */
  dispose?(): void;
}

/** QUIC header protection keyed once: maps a 16-byte sample to a 5-byte mask. */
export interface HeaderProtectionKey {
  readonly algorithm: HeaderProtectionAlgorithm;
  mask(sample: Uint8Array): Promise<Uint8Array>;
  /**
   * Optional, like {@link AeadKey.openSync}: {@link mask} on the calling
   * thread, same result. With it and the packet AEAD's `sealInto`/`openSync`,
   * QUIC protects and opens each packet without a promise.
   */
  maskSync?(sample: Uint8Array): Uint8Array;
}

/**
 * Key exchange for one NamedGroup, in KEM shape: the client generates, the
 * server encapsulates to the client's share, the client completes with the
 * server's share. For (EC)DH groups "encapsulate" is an ephemeral key plus DH.
 * Malformed or invalid shares raise {@link IllegalParameterError}.
 */
export interface KeyExchange {
  readonly group: NamedGroup;
  /** Byte length of the client's share. */
  readonly clientShareLength: number;
  /** Byte length of the server's share. */
  readonly serverShareLength: number;
  generate(): Promise<KeyShare>;
  encapsulate(clientShare: Uint8Array): Promise<{ share: Uint8Array; secret: Uint8Array }>;
}

/** A client key share awaiting the server's reply. */
export interface KeyShare {
  readonly group: NamedGroup;
  /** The key_share bytes to send (KeyShareEntry.key_exchange). */
  readonly share: Uint8Array;
  /** The share's private half, opaque. */
  readonly privateKey: PrivateKeyRef;
  /** Derives the shared secret from the server's share. */
  complete(serverShare: Uint8Array): Promise<Uint8Array>;
}

/**
 * An opaque reference to a private key held by a provider. Only the provider
 * that made it can use it; a hardware backend's reference names a key slot and
 * the key itself never leaves the device.
 */
export interface PrivateKeyRef {
  readonly algorithm: KeyAlgorithm | 'kex';
  /** Name of the provider that owns the key. */
  readonly provider: string;
}

export interface KeyPair {
  readonly privateKey: PrivateKeyRef;
  /** Public key in the encoding {@link CryptoProvider.verify} takes. */
  readonly publicKey: Uint8Array;
}

/**
 * Private key material as stored in PKCS #8. ML-DSA keys come as a 32-byte
 * seed, the FIPS 204 expanded key, or both (RFC 9881 §6); Ed25519 as its 32-byte
 * seed; ECDSA as the big-endian scalar; RSA as DER `RSAPrivateKey`, and an
 * id-RSASSA-PSS key likewise, with the RSASSA-PSS-params restriction if its
 * AlgorithmIdentifier carried one; SLH-DSA as the FIPS 205 private key
 * SK.seed ‖ SK.prf ‖ PK.seed ‖ PK.root.
 */
export type PrivateKeyMaterial =
  | { readonly algorithm: MlDsaAlgorithm; readonly seed?: Uint8Array; readonly expanded?: Uint8Array }
  | { readonly algorithm: 'ed25519' | 'ecdsa-p256' | 'ecdsa-p384'; readonly secret: Uint8Array }
  | { readonly algorithm: 'rsa'; readonly pkcs1: Uint8Array }
  | { readonly algorithm: 'rsa-pss'; readonly pkcs1: Uint8Array; readonly pss?: RsaPssRestriction }
  | { readonly algorithm: SlhDsaAlgorithm; readonly secretKey: Uint8Array };
