/**
 * X25519, ML-KEM and ML-DSA on the process's own OpenSSL through koffi (the
 * EVP_PKEY API), instead of node:crypto, where that OpenSSL has them (3.5,
 * Node ≥ 24.7).
 *
 * Why: on Node 24 node:crypto's argument handling around these operations
 * (KeyObject checks that throw and catch, option parsing, a KeyObject per
 * imported key) costs more than some of the operations themselves: these
 * calls take 0.4–0.5 ms off each side's CPU per X25519MLKEM768 + ML-DSA-65
 * handshake (bench tls-native, Node 24).
 *
 * Keys are opaque {@link NativeKey}s: an `EVP_PKEY *` that never leaves this
 * module, freed (and with it the private key cleansed by OpenSSL) by
 * {@link OpensslPkey.free} or, failing that, when the object is collected.
 *
 * Safety as in ./openssl-ffi.ts: bound once per process, used only after the
 * known-answer self-test of ./openssl-pkey-selftest.ts has passed; a missing
 * symbol or a wrong answer leaves the provider on node:crypto.
 */
import { AlertDescription, PqtlsError } from '../../errors.js';
import type { MlDsaAlgorithm } from '../../pq/ids.js';
import type { MlKemName } from '../../pq/mlkem.js';
import { loadKoffi, selfTested } from './openssl-ffi.js';
import { pkeySelfTest } from './openssl-pkey-selftest.js';

type Pointer = bigint;
type Fn = (...args: readonly unknown[]) => unknown;

const PROTOTYPES = {
  ctxFromName: 'void *EVP_PKEY_CTX_new_from_name(void *libctx, const char *name, const char *propq)',
  ctxFromPkey: 'void *EVP_PKEY_CTX_new_from_pkey(void *libctx, void *pkey, const char *propq)',
  ctxFree: 'void EVP_PKEY_CTX_free(void *ctx)',
  keygenInit: 'int EVP_PKEY_keygen_init(void *ctx)',
  generate: 'int EVP_PKEY_generate(void *ctx, uint64_t *ppkey)',
  fromdataInit: 'int EVP_PKEY_fromdata_init(void *ctx)',
  fromdata: 'int EVP_PKEY_fromdata(void *ctx, uint64_t *ppkey, int selection, void *params)',
  pkeyFree: 'void EVP_PKEY_free(void *pkey)',
  rawPublic: 'int EVP_PKEY_get_raw_public_key(const void *pkey, uint8_t *pub, uint64_t *len)',
  newRawPublic: 'void *EVP_PKEY_new_raw_public_key_ex(void *libctx, const char *type, const char *propq, const uint8_t *pub, size_t len)',
  newRawPrivate: 'void *EVP_PKEY_new_raw_private_key_ex(void *libctx, const char *type, const char *propq, const uint8_t *priv, size_t len)',
  deriveInit: 'int EVP_PKEY_derive_init(void *ctx)',
  deriveSetPeer: 'int EVP_PKEY_derive_set_peer_ex(void *ctx, void *peer, int validate_peer)',
  derive: 'int EVP_PKEY_derive(void *ctx, uint8_t *key, uint64_t *keylen)',
  encapsulateInit: 'int EVP_PKEY_encapsulate_init(void *ctx, void *params)',
  encapsulate: 'int EVP_PKEY_encapsulate(void *ctx, uint8_t *wrappedkey, uint64_t *wrappedkeylen, uint8_t *genkey, uint64_t *genkeylen)',
  decapsulateInit: 'int EVP_PKEY_decapsulate_init(void *ctx, void *params)',
  decapsulate: 'int EVP_PKEY_decapsulate(void *ctx, uint8_t *unwrapped, uint64_t *unwrappedlen, const uint8_t *wrapped, size_t wrappedlen)',
  signatureFetch: 'void *EVP_SIGNATURE_fetch(void *libctx, const char *algorithm, const char *properties)',
  signMessageInit: 'int EVP_PKEY_sign_message_init(void *ctx, void *algo, void *params)',
  sign: 'int EVP_PKEY_sign(void *ctx, uint8_t *sig, uint64_t *siglen, const uint8_t *tbs, size_t tbslen)',
  verifyMessageInit: 'int EVP_PKEY_verify_message_init(void *ctx, void *algo, void *params)',
  verify: 'int EVP_PKEY_verify(void *ctx, const uint8_t *sig, size_t siglen, const uint8_t *tbs, size_t tbslen)',
  clearErrors: 'void ERR_clear_error()',
} as const;
type Evp = { readonly [K in keyof typeof PROTOTYPES]: Fn };

type KeyType = 'X25519' | MlKemName | 'ML-DSA-44' | 'ML-DSA-65' | 'ML-DSA-87';
const dsaType = (alg: MlDsaAlgorithm): KeyType => alg.toUpperCase() as KeyType;

/** FIPS 203 Table 3 and FIPS 204 Table 2 (bytes). */
const KEM_SIZES: Readonly<Record<MlKemName, { readonly ek: number; readonly ct: number }>> = {
  'ML-KEM-512': { ek: 800, ct: 768 },
  'ML-KEM-768': { ek: 1184, ct: 1088 },
  'ML-KEM-1024': { ek: 1568, ct: 1568 },
};
const DSA_SIZES: Readonly<Record<MlDsaAlgorithm, { readonly pk: number; readonly sig: number }>> = {
  'ml-dsa-44': { pk: 1312, sig: 2420 },
  'ml-dsa-65': { pk: 1952, sig: 3309 },
  'ml-dsa-87': { pk: 2592, sig: 4627 },
};
const PUBLIC_LENGTH: Readonly<Record<KeyType, number>> = {
  X25519: 32, 'ML-KEM-512': 800, 'ML-KEM-768': 1184, 'ML-KEM-1024': 1568, 'ML-DSA-44': 1312, 'ML-DSA-65': 1952, 'ML-DSA-87': 2592,
};

/** EVP_PKEY_KEYPAIR (openssl/evp.h): public and private key plus all parameters. */
const KEYPAIR = 0x87;
/** OSSL_PARAM data types (openssl/core.h). */
const PARAM_INTEGER = 1;
const PARAM_OCTET_STRING = 5;

/** An OpenSSL key held by this module: opaque outside it. */
export interface NativeKey {
  readonly type: string;
}

class Key implements NativeKey {
  constructor(
    readonly type: KeyType,
    /** 0n once freed. */
    public ptr: Pointer,
  ) {}
}

export interface OpensslPkey {
  /** A key pair drawn by OpenSSL's own generator. */
  generate(type: 'X25519' | MlKemName): NativeKey;
  /** An X25519 private key from its 32 bytes (RFC 7748 §5: OpenSSL clamps, as noble does). */
  x25519PrivateKey(secret: Uint8Array): NativeKey;
  /** An ML-KEM key from its 64-byte seed d ‖ z, or an ML-DSA key from its 32-byte seed ξ: byte-identical to noble's keygen. */
  fromSeed(type: MlKemName | MlDsaAlgorithm, seed: Uint8Array): NativeKey;
  publicKey(key: NativeKey): Uint8Array;
  /** The X25519 shared secret, or undefined where OpenSSL refuses it: all zero, a low-order point (RFC 8446 §7.4.2). */
  x25519(key: NativeKey, peer: Uint8Array): Uint8Array | undefined;
  /**
   * ML-KEM.Encaps on OpenSSL's generator (or on the 32-byte message `m`, for
   * the known-answer test); undefined when the encapsulation key fails the
   * FIPS 203 §7.2 checks (its length or the modulus check).
   */
  encapsulate(name: MlKemName, ek: Uint8Array, m?: Uint8Array): { share: Uint8Array; secret: Uint8Array } | undefined;
  /** ML-KEM.Decaps: implicit rejection gives a pseudorandom secret, never an error; the caller checks the length. */
  decapsulate(key: NativeKey, ciphertext: Uint8Array): Uint8Array;
  /** Pure ML-DSA, empty context; hedged by OpenSSL's generator unless `deterministic` (the known-answer test). */
  sign(alg: MlDsaAlgorithm, key: NativeKey, message: Uint8Array, deterministic?: boolean): Uint8Array;
  /** Pure ML-DSA verification, empty context; false also for a public key OpenSSL does not accept. */
  verify(alg: MlDsaAlgorithm, publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean;
  /** Frees the key now (OpenSSL cleanses a private key as it frees it); later use throws. */
  free(key: NativeKey): void;
}

function internal(what: string): PqtlsError {
  return new PqtlsError(`OpenSSL ${what} failed`, AlertDescription.internal_error);
}

/** Keys allocated and not yet freed, and monotonic counts of keys made and of keys freed by `free()`, for {@link opensslPkeyKeys}. */
let live = 0;
let created = 0;
let freedExplicitly = 0;

function bind(): OpensslPkey {
  const koffi = loadKoffi();
  const lib = koffi.load(null);
  const evp = {} as Record<keyof typeof PROTOTYPES, Fn>;
  for (const [name, proto] of Object.entries(PROTOTYPES) as [keyof typeof PROTOTYPES, string][]) evp[name] = lib.func(proto) as Fn;
  const { pkeyFree, ctxFree, clearErrors } = evp as Evp;

  const keys = new FinalizationRegistry<Pointer>((ptr) => {
    pkeyFree(ptr);
    live--;
  });
  const wrap = (type: KeyType, ptr: unknown): Key => {
    if (typeof ptr !== 'bigint' || ptr === 0n) {
      clearErrors();
      throw internal(`${type} key`);
    }
    live++;
    created++;
    const key = new Key(type, ptr);
    keys.register(key, ptr, key);
    return key;
  };
  const ptrOf = (key: NativeKey, type?: KeyType): Pointer => {
    if (!(key instanceof Key) || key.ptr === 0n) throw internal('use of a freed or foreign key');
    if (type !== undefined && key.type !== type) throw internal(`${type} operation on a ${key.type} key`);
    return key.ptr;
  };
  const free = (key: NativeKey): void => {
    if (!(key instanceof Key) || key.ptr === 0n) return;
    keys.unregister(key);
    pkeyFree(key.ptr);
    live--;
    freedExplicitly++;
    key.ptr = 0n;
  };
  /** A context on `key` for one operation, freed after `f` whatever it returns or throws. */
  const withCtx = <T>(pkey: Pointer, f: (ctx: Pointer) => T): T => {
    const ctx = evp.ctxFromPkey(null, pkey, null);
    if (typeof ctx !== 'bigint' || ctx === 0n) throw internal('EVP_PKEY_CTX_new_from_pkey');
    try {
      return f(ctx);
    } finally {
      ctxFree(ctx);
    }
  };

  // One keygen and one fromdata context per type, made on first use and kept: both may be used again.
  const contexts = new Map<string, Pointer>();
  const typeCtx = (type: KeyType, purpose: 'keygen' | 'fromdata'): Pointer => {
    const id = `${purpose} ${type}`;
    let ctx = contexts.get(id);
    if (ctx === undefined) {
      const c = evp.ctxFromName(null, type, null);
      if (typeof c !== 'bigint' || c === 0n) throw internal(`EVP_PKEY_CTX_new_from_name(${type})`);
      if ((purpose === 'keygen' ? evp.keygenInit(c) : evp.fromdataInit(c)) !== 1) {
        ctxFree(c);
        throw internal(`${purpose} initialisation (${type})`);
      }
      contexts.set(id, (ctx = c));
    }
    return ctx;
  };
  const algorithms = new Map<string, Pointer>();
  const signatureAlg = (type: KeyType): Pointer => {
    let alg = algorithms.get(type);
    if (alg === undefined) {
      const a = evp.signatureFetch(null, type, null);
      if (typeof a !== 'bigint' || a === 0n) throw internal(`EVP_SIGNATURE_fetch(${type})`);
      algorithms.set(type, (alg = a));
    }
    return alg;
  };

  // OSSL_PARAM arrays (openssl/core.h: key, data_type, data, data_size, return_size) live in C memory of our own,
  // allocated once: the parameter names at fixed offsets, one parameter's bytes at DATA, cleared after each use.
  const OSSL_PARAM = koffi.struct({ key: 'void *', data_type: 'uint32_t', data: 'void *', data_size: 'size_t', return_size: 'size_t' });
  const PARAMS = koffi.array(OSSL_PARAM, 2);
  const mem = koffi.alloc('uint8_t', 384) as Pointer;
  const NAMES = { seed: 128, ikme: 144, deterministic: 160 } as const;
  const DATA = 256;
  const DATA_MAX = 128;
  for (const [name, at] of Object.entries(NAMES)) koffi.encode(mem, at, 'char', name, name.length + 1);
  const zeros = new Uint8Array(DATA_MAX);
  /** `f` with a one-parameter OSSL_PARAM array holding `value`; the value's bytes are wiped afterwards. */
  const withParam = <T>(name: keyof typeof NAMES, type: number, value: Uint8Array, f: (params: Pointer) => T): T => {
    if (value.length > DATA_MAX) throw internal('parameter size');
    koffi.encode(mem, DATA, 'uint8_t', value, value.length);
    koffi.encode(mem, 0, PARAMS, [
      { key: mem + BigInt(NAMES[name]), data_type: type, data: mem + BigInt(DATA), data_size: value.length, return_size: 0xffffffffffffffffn },
      { key: 0n, data_type: 0, data: 0n, data_size: 0, return_size: 0 },
    ]);
    try {
      return f(mem);
    } finally {
      koffi.encode(mem, DATA, 'uint8_t', zeros, DATA_MAX);
    }
  };

  const out = new BigUint64Array(1);
  const len = new BigUint64Array(1);
  const len2 = new BigUint64Array(1);

  return {
    generate(type) {
      out[0] = 0n;
      if (evp.generate(typeCtx(type, 'keygen'), out) !== 1) {
        clearErrors();
        throw internal(`${type} key generation`);
      }
      return wrap(type, out[0]);
    },
    x25519PrivateKey(secret) {
      if (secret.length !== 32) throw internal('X25519 private key length');
      return wrap('X25519', evp.newRawPrivate(null, 'X25519', null, secret, 32));
    },
    fromSeed(type, seed) {
      const t: KeyType = type.startsWith('ml-dsa') ? dsaType(type as MlDsaAlgorithm) : (type as MlKemName);
      if (seed.length !== (t.startsWith('ML-KEM') ? 64 : 32)) throw internal(`${t} seed length`);
      out[0] = 0n;
      const ok = withParam('seed', PARAM_OCTET_STRING, seed, (params) => evp.fromdata(typeCtx(t, 'fromdata'), out, KEYPAIR, params));
      if (ok !== 1) {
        clearErrors();
        throw internal(`${t} key from seed`);
      }
      return wrap(t, out[0]);
    },
    publicKey(key) {
      const ptr = ptrOf(key);
      const type = (key as Key).type;
      const n = PUBLIC_LENGTH[type];
      const pub = new Uint8Array(n);
      len[0] = BigInt(n);
      if (evp.rawPublic(ptr, pub, len) !== 1 || len[0] !== BigInt(n)) {
        clearErrors();
        throw internal(`${type} public key export`);
      }
      return pub;
    },
    x25519(key, peerShare) {
      const priv = ptrOf(key, 'X25519');
      if (peerShare.length !== 32) return undefined;
      const peer = evp.newRawPublic(null, 'X25519', null, peerShare, 32);
      if (typeof peer !== 'bigint' || peer === 0n) {
        clearErrors();
        return undefined;
      }
      try {
        const secret = new Uint8Array(32);
        len[0] = 32n;
        const ok = withCtx(priv, (ctx) => evp.deriveInit(ctx) === 1 && evp.deriveSetPeer(ctx, peer, 0) === 1 && evp.derive(ctx, secret, len) === 1);
        // OpenSSL refuses an all-zero X25519 output itself; the check here does not rely on it.
        if (!ok || len[0] !== 32n || secret.every((b) => b === 0)) {
          clearErrors();
          return undefined;
        }
        return secret;
      } finally {
        pkeyFree(peer);
      }
    },
    encapsulate(name, ek, m) {
      const size = KEM_SIZES[name];
      if (ek.length !== size.ek) return undefined;
      // The import decodes the key with FIPS 203 §7.2's modulus check: NULL for a key that fails it.
      const peer = evp.newRawPublic(null, name, null, ek, ek.length);
      if (typeof peer !== 'bigint' || peer === 0n) {
        clearErrors();
        return undefined;
      }
      try {
        const share = new Uint8Array(size.ct);
        const secret = new Uint8Array(32);
        len[0] = BigInt(size.ct);
        len2[0] = 32n;
        const ok = withCtx(peer, (ctx) => {
          const init = m ? withParam('ikme', PARAM_OCTET_STRING, m, (params) => evp.encapsulateInit(ctx, params)) : evp.encapsulateInit(ctx, null);
          return init === 1 && evp.encapsulate(ctx, share, len, secret, len2) === 1;
        });
        if (!ok || len[0] !== BigInt(size.ct) || len2[0] !== 32n) {
          clearErrors();
          throw internal(`${name} encapsulation`);
        }
        return { share, secret };
      } finally {
        pkeyFree(peer);
      }
    },
    decapsulate(key, ciphertext) {
      const ptr = ptrOf(key);
      const type = (key as Key).type;
      if (!type.startsWith('ML-KEM') || ciphertext.length !== KEM_SIZES[type as MlKemName].ct) throw internal(`${type} decapsulation of ${ciphertext.length} bytes`);
      const secret = new Uint8Array(32);
      len[0] = 32n;
      const ok = withCtx(ptr, (ctx) => evp.decapsulateInit(ctx, null) === 1 && evp.decapsulate(ctx, secret, len, ciphertext, ciphertext.length) === 1);
      if (!ok || len[0] !== 32n) {
        secret.fill(0);
        clearErrors();
        throw internal(`${type} decapsulation`);
      }
      return secret;
    },
    sign(alg, key, message, deterministic = false) {
      const type = dsaType(alg);
      const n = DSA_SIZES[alg].sig;
      const signature = new Uint8Array(n);
      len[0] = BigInt(n);
      const sigAlg = signatureAlg(type);
      const ok = withCtx(ptrOf(key, type), (ctx) => {
        const init = deterministic
          ? withParam('deterministic', PARAM_INTEGER, Uint8Array.of(1, 0, 0, 0), (params) => evp.signMessageInit(ctx, sigAlg, params))
          : evp.signMessageInit(ctx, sigAlg, null);
        return init === 1 && evp.sign(ctx, signature, len, message, message.length) === 1;
      });
      if (!ok || len[0] !== BigInt(n)) {
        clearErrors();
        throw internal(`${alg} signing`);
      }
      return signature;
    },
    verify(alg, publicKey, message, signature) {
      const type = dsaType(alg);
      const sizes = DSA_SIZES[alg];
      if (publicKey.length !== sizes.pk || signature.length !== sizes.sig) return false;
      const sigAlg = signatureAlg(type);
      const pub = evp.newRawPublic(null, type, null, publicKey, publicKey.length);
      if (typeof pub !== 'bigint' || pub === 0n) {
        clearErrors();
        return false;
      }
      try {
        const ok = withCtx(pub, (ctx) => evp.verifyMessageInit(ctx, sigAlg, null) === 1 && evp.verify(ctx, signature, signature.length, message, message.length) === 1);
        if (!ok) clearErrors();
        return ok;
      } finally {
        pkeyFree(pub);
      }
    },
    free,
  };
}

// ---- once per process ---------------------------------------------------------------------------

export interface OpensslPkeyStatus {
  readonly available: boolean;
  readonly reason?: string;
}

let state: { backend?: OpensslPkey; status: OpensslPkeyStatus } | undefined;

function probe(): { backend?: OpensslPkey; status: OpensslPkeyStatus } {
  let backend: OpensslPkey;
  try {
    backend = bind();
  } catch (e) {
    return { status: { available: false, reason: `cannot bind OpenSSL's EVP_PKEY API through koffi: ${e instanceof Error ? e.message : String(e)}` } };
  }
  return selfTested(backend, pkeySelfTest, "OpenSSL's EVP_PKEY API through koffi");
}

/**
 * X25519, ML-KEM and ML-DSA on OpenSSL through koffi, bound and self-tested on
 * the first call (a few milliseconds: it signs with ML-DSA-65), or undefined
 * where they cannot be used: no koffi, an OpenSSL before 3.5 (no ML-KEM or
 * ML-DSA: Node 20), or a failed known-answer test ({@link opensslPkeyStatus}).
 */
export function opensslPkey(): OpensslPkey | undefined {
  state ??= probe();
  return state.backend;
}

export function opensslPkeyStatus(): OpensslPkeyStatus {
  state ??= probe();
  return state.status;
}

/**
 * Keys this process's binding holds now (`live`: made, less those freed or
 * collected), and, unaffected by when the garbage collector runs, how many it
 * has made and how many `free()` has freed. For tests and leak hunting.
 */
export function opensslPkeyKeys(): { readonly live: number; readonly created: number; readonly freed: number } {
  return { live, created, freed: freedExplicitly };
}
