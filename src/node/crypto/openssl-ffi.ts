/**
 * The TLS 1.3 AEADs and QUIC header protection on the process's own OpenSSL,
 * called through koffi instead of node:crypto.
 *
 * Why: node:crypto cannot re-nonce a GCM or ChaCha20-Poly1305 context, so
 * every record or packet costs a `createCipheriv` (a new OpenSSL context,
 * and on OpenSSL 3.5 a cipher fetch per context): 9.6 µs per 1200-byte
 * AES-128-GCM seal on Node 20, 43 µs on Node 24. Here each key keeps one
 * encrypting and one decrypting `EVP_CIPHER_CTX` for its lifetime and
 * re-nonces it with `EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, iv)`: five
 * FFI calls per record, about 4 µs per packet.
 *
 * Node's binary exports the symbols of the OpenSSL it bundles (its addons link
 * against them), so `koffi.load(null)` (dlopen of the main program) finds
 * them; it is the same library node:crypto uses, with the same CPU dispatch.
 *
 * Safety: the binding is made once per process and used only after a
 * known-answer self-test of every function it offers (NIST GCM test cases,
 * RFC 8439 §2.8.2, RFC 9001 Appendix A, FIPS-197 Appendix C, FIPS 180-4) has passed. A
 * missing koffi, a missing symbol or a wrong answer makes {@link opensslFfi}
 * return undefined and the provider keeps node:crypto: a broken binding can
 * never produce wrong bytes on the wire.
 */
import { createRequire } from 'node:module';
import { concat } from '../../bytes.js';
import { AlertDescription, ConfigError, PqtlsError } from '../../errors.js';
import { aeadKeyLength, hashLength, type AeadAlgorithm, type HashAlgorithm, type HeaderProtectionAlgorithm } from '../../pq/ids.js';
import type { AeadKey, HashContext, HashFunction, HeaderProtectionKey } from '../../pq/provider.js';

type Koffi = typeof import('koffi');
/** koffi 3 hands C pointers to JavaScript as bigints (addresses), and takes them back as such. */
type Pointer = bigint;
type Fn = (...args: readonly unknown[]) => unknown;

/** The libcrypto entry points used, with their C prototypes. */
const PROTOTYPES = {
  ctxNew: 'void *EVP_CIPHER_CTX_new()',
  ctxFree: 'void EVP_CIPHER_CTX_free(void *ctx)',
  ctxCtrl: 'int EVP_CIPHER_CTX_ctrl(void *ctx, int type, int arg, uint8_t *ptr)',
  ctxSetPadding: 'int EVP_CIPHER_CTX_set_padding(void *ctx, int pad)',
  encInit: 'int EVP_EncryptInit_ex(void *ctx, const void *cipher, void *impl, const uint8_t *key, const uint8_t *iv)',
  encUpdate: 'int EVP_EncryptUpdate(void *ctx, uint8_t *out, int *outl, const uint8_t *in, int inl)',
  encFinal: 'int EVP_EncryptFinal_ex(void *ctx, uint8_t *out, int *outl)',
  decInit: 'int EVP_DecryptInit_ex(void *ctx, const void *cipher, void *impl, const uint8_t *key, const uint8_t *iv)',
  decUpdate: 'int EVP_DecryptUpdate(void *ctx, uint8_t *out, int *outl, const uint8_t *in, int inl)',
  decFinal: 'int EVP_DecryptFinal_ex(void *ctx, uint8_t *out, int *outl)',
  mdFetch: 'const void *EVP_MD_fetch(void *libctx, const char *algorithm, const char *properties)',
  cipherFetch: 'const void *EVP_CIPHER_fetch(void *libctx, const char *algorithm, const char *properties)',
  digest: 'int EVP_Digest(const uint8_t *data, size_t count, uint8_t *md, void *size, const void *type, void *impl)',
  mdCtxNew: 'void *EVP_MD_CTX_new()',
  mdCtxFree: 'void EVP_MD_CTX_free(void *ctx)',
  mdCtxCopy: 'int EVP_MD_CTX_copy_ex(void *out, const void *in)',
  digestInit: 'int EVP_DigestInit_ex(void *ctx, const void *type, void *impl)',
  digestUpdate: 'int EVP_DigestUpdate(void *ctx, const uint8_t *data, size_t count)',
  digestFinal: 'int EVP_DigestFinal_ex(void *ctx, uint8_t *md, void *size)',
} as const;
type Evp = { readonly [K in keyof typeof PROTOTYPES]: Fn };

/** EVP_CTRL_AEAD_GET_TAG / EVP_CTRL_AEAD_SET_TAG (openssl/evp.h; the GCM and ChaCha20-Poly1305 names share the values). */
const GET_TAG = 0x10;
const SET_TAG = 0x11;
const TAG = 16;

/** The backend {@link opensslFfi} returns: keys whose every operation is synchronous. */
export interface OpensslFfi {
  aead(alg: AeadAlgorithm, key: Uint8Array): AeadKey;
  headerProtection(alg: HeaderProtectionAlgorithm, key: Uint8Array): HeaderProtectionKey;
  /**
   * Writes the hash of `data` at the start of `out` (at least the hash's
   * length): one FFI call, no allocation, for the key schedule's many short
   * HMAC inputs (./hmac.ts), where node:crypto's one-shot `hash` costs more.
   * With `length`, only `data`'s first `length` bytes: a scratch buffer is
   * hashed without a view of its used part.
   */
  digestInto(alg: HashAlgorithm, data: Uint8Array, out: Uint8Array, length?: number): void;
  /**
   * Incremental hashing (a TLS transcript) on one EVP_MD_CTX per context:
   * node:crypto's `Hash` is a stream object, and reading a transcript hash
   * mid-handshake costs it a `copy()`, a whole new Hash (JavaScript object,
   * native wrapper and context) per read, six or so per handshake and side.
   * Here a read copies the state into one scratch context and finalises that.
   */
  hash(alg: HashAlgorithm): HashFunction;
}

interface Binding {
  readonly evp: Evp;
  readonly ciphers: Readonly<Record<AeadAlgorithm | HeaderProtectionAlgorithm, Pointer>>;
  /** Digests fetched once: EVP_Digest with a legacy `EVP_sha256()` would fetch the implementation on every call (OpenSSL 3). */
  readonly digests: Readonly<Record<HashAlgorithm, Pointer>>;
  /** `int *outl` for every call: one array, since the calls are synchronous and the value is never read back. */
  readonly outl: Int32Array;
  /** Frees a key's contexts once nothing can reach them (EVP_CIPHER_CTX_free cleanses the key schedule). */
  readonly contexts: FinalizationRegistry<Pointer>;
  /** Frees a hash context's EVP_MD_CTX once nothing can reach it. */
  readonly mdContexts: FinalizationRegistry<Pointer>;
  /** Where a digest is finalised: a copy of the context read, so that context goes on (synchronous, so one is enough). */
  readonly scratchMd: Pointer;
}

/** koffi, an optional dependency (throws where it is not installed); also used by ./openssl-pkey.ts. */
export function loadKoffi(): Koffi {
  const mod = createRequire(import.meta.url)('koffi') as Koffi & { default?: Koffi };
  return mod.default ?? mod;
}

function bind(): Binding {
  const koffi = loadKoffi();
  const lib = koffi.load(null);
  const evp = {} as Record<keyof typeof PROTOTYPES, Fn>;
  for (const [name, proto] of Object.entries(PROTOTYPES) as [keyof typeof PROTOTYPES, string][]) evp[name] = lib.func(proto) as Fn;
  const nonNull = (f: Fn, what: string): Pointer => {
    const c = f();
    if (typeof c !== 'bigint' || c === 0n) throw new Error(`${what} returned NULL`);
    return c;
  };
  // Fetched once: an EVP_EncryptInit_ex given a legacy `EVP_aes_128_gcm()` fetches the provider's implementation
  // on every call (OpenSSL 3), a method-store lookup per context, and a connection keys eight of them.
  const cipher = (name: string): Pointer => nonNull(() => evp.cipherFetch(null, name, null), `EVP_CIPHER_fetch(${name})`);
  const ciphers = {
    'AES-128-GCM': cipher('AES-128-GCM'),
    'AES-256-GCM': cipher('AES-256-GCM'),
    'CHACHA20-POLY1305': cipher('ChaCha20-Poly1305'),
    'AES-128-ECB': cipher('AES-128-ECB'),
    'AES-256-ECB': cipher('AES-256-ECB'),
    CHACHA20: cipher('ChaCha20'),
  };
  const md = (name: string): Pointer => nonNull(() => evp.mdFetch(null, name, null), `EVP_MD_fetch(${name})`);
  const digests = { 'SHA-256': md('SHA2-256'), 'SHA-384': md('SHA2-384'), 'SHA-512': md('SHA2-512') };
  const ctxFree = evp.ctxFree;
  const contexts = new FinalizationRegistry<Pointer>((ctx) => {
    ctxFree(ctx);
    live--;
  });
  const mdCtxFree = evp.mdCtxFree;
  const mdContexts = new FinalizationRegistry<Pointer>((ctx) => mdCtxFree(ctx));
  const scratchMd = nonNull(evp.mdCtxNew, 'EVP_MD_CTX_new');
  return { evp, ciphers, digests, outl: new Int32Array(1), contexts, mdContexts, scratchMd };
}

function internal(what: string): PqtlsError {
  return new PqtlsError(`OpenSSL ${what} failed`, AlertDescription.internal_error);
}

/** Contexts allocated and not yet freed, for {@link opensslFfiLiveContexts}. */
let live = 0;

function newContext(b: Binding, init: Fn, cipher: Pointer, key: Uint8Array): Pointer {
  const ctx = b.evp.ctxNew();
  if (typeof ctx !== 'bigint' || ctx === 0n) throw internal('EVP_CIPHER_CTX_new');
  if (init(ctx, cipher, null, key, null) !== 1) {
    b.evp.ctxFree(ctx);
    throw internal('cipher initialisation');
  }
  live++;
  return ctx;
}

/**
 * A key's contexts, each made on first use: a TLS record key only ever seals or only ever opens, so a
 * context for the other direction would be keyed, registered and freed for nothing (four per handshake
 * and side). The closures reach them only through this object, so it is what the registry watches;
 * `dispose` frees them sooner, zeroes the key kept for the context not made yet and marks the object
 * disposed, which every operation checks first.
 */
interface Contexts {
  enc: Pointer;
  dec: Pointer;
  /** Until both contexts exist: what the missing one is keyed with. */
  key: Uint8Array | undefined;
  disposed: boolean;
}

function disposed(alg: string): PqtlsError {
  return new PqtlsError(`${alg} key used after dispose()`, AlertDescription.internal_error);
}

function makeAead(b: Binding, alg: AeadAlgorithm, key: Uint8Array): AeadKey {
  if (key.length !== aeadKeyLength(alg)) throw new ConfigError(`${alg} key must be ${aeadKeyLength(alg)} bytes, got ${key.length}`);
  const { encInit, encUpdate, encFinal, decInit, decUpdate, decFinal, ctxCtrl } = b.evp;
  const outl = b.outl;
  const st: Contexts = { enc: 0n, dec: 0n, key: key.slice(), disposed: false };

  /** A direction's context, made and registered on first use; once both exist the key copy is forgotten. */
  const context = (dir: 'enc' | 'dec'): Pointer => {
    const have = st[dir];
    if (have !== 0n) return have;
    if (st.disposed) throw disposed(alg);
    const ctx = newContext(b, dir === 'enc' ? encInit : decInit, b.ciphers[alg], st.key as Uint8Array);
    st[dir] = ctx;
    b.contexts.register(st, ctx, st);
    if (st[dir === 'enc' ? 'dec' : 'enc'] !== 0n) forgetKey();
    return ctx;
  };
  const encContext = (): Pointer => context('enc');
  const decContext = (): Pointer => context('dec');
  const forgetKey = (): void => {
    st.key?.fill(0);
    st.key = undefined;
  };

  /** The tag after the last update; `ok` carries the earlier calls' results, and a failure leaves no output. */
  const finishSeal = (ctx: unknown, ok: number, output: Uint8Array, n: number): void => {
    const tag = output.subarray(n);
    ok &= encFinal(ctx, tag, outl) as number;
    ok &= ctxCtrl(ctx, GET_TAG, TAG, tag) as number;
    if (ok !== 1) {
      output.fill(0);
      throw internal(`${alg} seal`);
    }
  };

  const sealInto = (nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array, output: Uint8Array): void => {
    // TLS 1.3 and QUIC always use 96-bit nonces (RFC 8446 §5.3); anything else is a caller bug.
    if (nonce.length !== 12) throw new ConfigError(`${alg} nonce must be 12 bytes, got ${nonce.length}`);
    const n = plaintext.length;
    if (output.length !== n + TAG) throw new ConfigError(`${alg} output must be ${n + TAG} bytes, got ${output.length}`);
    const ctx = encContext();
    // OpenSSL may write `out` ahead of reading `in`: in place is fine, another overlap (outside the contract, but noble
    // copes) would corrupt the plaintext mid-read, so it gets a copy. The offsets are compared first: in place is the hot path.
    let input = plaintext;
    if (plaintext.byteOffset !== output.byteOffset && n > 0 && plaintext.buffer === output.buffer &&
      plaintext.byteOffset < output.byteOffset + output.length && output.byteOffset < plaintext.byteOffset + n) input = plaintext.slice();
    let ok = encInit(ctx, null, null, null, nonce) as number;
    if (aad.length > 0) ok &= encUpdate(ctx, null, outl, aad, aad.length) as number;
    if (n > 0) ok &= encUpdate(ctx, output, outl, input, n) as number;
    // GCM and ChaCha20-Poly1305 are stream modes: Final writes no byte, it computes the tag.
    finishSeal(ctx, ok, output, n);
  };

  const sealGather = (nonce: Uint8Array, aad: Uint8Array, parts: readonly Uint8Array[], output: Uint8Array): void => {
    if (nonce.length !== 12) throw new ConfigError(`${alg} nonce must be 12 bytes, got ${nonce.length}`);
    let n = 0;
    for (let i = 0; i < parts.length; i++) n += (parts[i] as Uint8Array).length;
    if (output.length !== n + TAG) throw new ConfigError(`${alg} output must be ${n + TAG} bytes, got ${output.length}`);
    const ctx = encContext();
    let ok = encInit(ctx, null, null, null, nonce) as number;
    if (aad.length > 0) ok &= encUpdate(ctx, null, outl, aad, aad.length) as number;
    // GCM and ChaCha20-Poly1305 are stream modes: updates of any lengths, one after another, are one message.
    let at = 0;
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i] as Uint8Array;
      const len = part.length;
      if (len === 0) continue;
      const out = output.subarray(at, at + len);
      // In place, or apart: any other overlap (outside the contract) gets a copy, as in sealInto.
      let input = part;
      if (part.buffer === output.buffer && part.byteOffset !== out.byteOffset &&
        part.byteOffset < output.byteOffset + output.length && output.byteOffset < part.byteOffset + len) input = part.slice();
      ok &= encUpdate(ctx, out, outl, input, len) as number;
      at += len;
    }
    finishSeal(ctx, ok, output, n);
  };

  /** Decrypts into `output` (exactly ciphertext.length − 16 bytes); false, with `output` zeroed, unless the tag verifies. */
  const openInto = (nonce: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array, output: Uint8Array): boolean => {
    if (nonce.length !== 12 || ciphertext.length < TAG) return false;
    const n = ciphertext.length - TAG;
    if (output.length !== n) return false;
    const ctx = decContext();
    let ok = decInit(ctx, null, null, null, nonce) as number;
    // The context copies the expected tag now; `ciphertext` may be the caller's receive buffer, and `output`
    // may be its first n bytes (EVP decrypts in place when out == in exactly; the tag lies after them).
    ok &= ctxCtrl(ctx, SET_TAG, TAG, ciphertext.subarray(n)) as number;
    if (aad.length > 0) ok &= decUpdate(ctx, null, outl, aad, aad.length) as number;
    // The length bounds what is read: the ciphertext is passed whole, without a view of its first n bytes.
    if (n > 0) ok &= decUpdate(ctx, output, outl, ciphertext, n) as number;
    // Final verifies the tag (constant time, inside OpenSSL) and returns 0 when it does not.
    ok &= decFinal(ctx, output, outl) as number;
    if (ok !== 1) {
      // Nothing unauthenticated may be seen, not even by a caller that ignores the result.
      output.fill(0);
      return false;
    }
    return true;
  };

  /** {@link AeadKey.openGather}: the parts are decrypted in place one after another (GCM and ChaCha20-Poly1305 are stream modes). */
  const openGather = (nonce: Uint8Array, aad: Uint8Array, parts: readonly Uint8Array[]): boolean => {
    let total = 0;
    for (let i = 0; i < parts.length; i++) total += (parts[i] as Uint8Array).length;
    if (nonce.length !== 12 || total < TAG || parts.length === 0) return false;
    const last = parts[parts.length - 1] as Uint8Array;
    // A tag cut across parts (rare: a read ending inside it) is gathered from a copy of the whole.
    const tag = last.length >= TAG ? last.subarray(last.length - TAG) : concat(...parts).subarray(total - TAG);
    const ctx = decContext();
    let ok = decInit(ctx, null, null, null, nonce) as number;
    // The context copies the expected tag now, before any part is written over.
    ok &= ctxCtrl(ctx, SET_TAG, TAG, tag) as number;
    if (aad.length > 0) ok &= decUpdate(ctx, null, outl, aad, aad.length) as number;
    let left = total - TAG;
    for (let i = 0; i < parts.length && left > 0; i++) {
      const part = parts[i] as Uint8Array;
      const k = Math.min(part.length, left);
      // In place: out == in exactly, which EVP supports.
      if (k > 0) ok &= decUpdate(ctx, part, outl, part, k) as number;
      left -= k;
    }
    ok &= decFinal(ctx, parts[0] as Uint8Array, outl) as number;
    if (ok !== 1) {
      // Nothing unauthenticated may be seen, not even by a caller that ignores the result.
      left = total - TAG;
      for (let i = 0; i < parts.length && left > 0; i++) {
        const part = parts[i] as Uint8Array;
        const k = Math.min(part.length, left);
        part.fill(0, 0, k);
        left -= k;
      }
      return false;
    }
    return true;
  };

  const openSync = (nonce: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array): Uint8Array | null => {
    if (nonce.length !== 12 || ciphertext.length < TAG) return null;
    const out = new Uint8Array(ciphertext.length - TAG);
    return openInto(nonce, aad, ciphertext, out) ? out : null;
  };

  const aead: AeadKey = Object.freeze({
    algorithm: alg,
    tagLength: 16 as const,
    nonceLength: 12 as const,
    seal: async (nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array) => {
      const out = new Uint8Array(plaintext.length + TAG);
      sealInto(nonce, aad, plaintext, out);
      return out;
    },
    sealInto,
    sealGather,
    open: async (nonce: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array) => openSync(nonce, aad, ciphertext),
    openSync,
    openInto,
    openGather,
    dispose: () => {
      if (st.disposed) return;
      st.disposed = true;
      forgetKey();
      // `st` is also the unregister token: this takes back the registrations of both contexts, made or not.
      b.contexts.unregister(st);
      for (const ctx of [st.enc, st.dec]) {
        if (ctx === 0n) continue;
        b.evp.ctxFree(ctx);
        live--;
      }
      st.enc = 0n;
      st.dec = 0n;
    },
  });
  return aead;
}

/**
 * RFC 9001 §5.4.3 (AES: one ECB block, padding off, so `update` of a block
 * returns its encryption at once and the context serves every sample) and
 * §5.4.4 (ChaCha20: OpenSSL's 16-byte IV is counter ‖ nonce, which is the
 * sample's layout, so the sample is the IV and the mask is the first five
 * keystream bytes).
 */
function makeHeaderProtection(b: Binding, alg: HeaderProtectionAlgorithm, key: Uint8Array): HeaderProtectionKey {
  const len = alg === 'AES-128-ECB' ? 16 : 32;
  if (key.length !== len) throw new ConfigError(`${alg} key must be ${len} bytes, got ${key.length}`);
  const { encInit, encUpdate, ctxSetPadding } = b.evp;
  const outl = b.outl;
  const st = { ctx: newContext(b, encInit, b.ciphers[alg], key) };
  b.contexts.register(st, st.ctx);
  let maskSync: (sample: Uint8Array) => Uint8Array;
  if (alg === 'CHACHA20') {
    const zeros = new Uint8Array(5);
    maskSync = (sample) => {
      if (sample.length !== 16) throw new ConfigError('header-protection sample must be 16 bytes');
      const mask = new Uint8Array(5);
      const ok = (encInit(st.ctx, null, null, null, sample) as number) & (encUpdate(st.ctx, mask, outl, zeros, 5) as number);
      if (ok !== 1) throw internal('ChaCha20 header protection');
      return mask;
    };
  } else {
    if (ctxSetPadding(st.ctx, 0) !== 1) throw internal('EVP_CIPHER_CTX_set_padding');
    const block = new Uint8Array(16);
    maskSync = (sample) => {
      if (sample.length !== 16) throw new ConfigError('header-protection sample must be 16 bytes');
      if (encUpdate(st.ctx, block, outl, sample, 16) !== 1) throw internal('AES header protection');
      return block.slice(0, 5);
    };
  }
  return Object.freeze({ algorithm: alg, mask: async (sample: Uint8Array) => maskSync(sample), maskSync });
}

function makeDigestInto(b: Binding): OpensslFfi['digestInto'] {
  const digest = b.evp.digest;
  const md = b.digests;
  return (alg, data, out, length = data.length) => {
    if (out.length < hashLength(alg)) throw new ConfigError(`${alg} output must have room for ${hashLength(alg)} bytes, got ${out.length}`);
    // The count goes to C as is: it must stay within the array.
    if (!Number.isInteger(length) || length < 0 || length > data.length) throw new ConfigError(`${alg} input length ${length} outside 0..${data.length}`);
    if (digest(data, length, out, null, md[alg], null) !== 1) throw internal(`${alg} digest`);
  };
}

/** The context {@link makeHash}'s contexts keep their EVP_MD_CTX in: what the registry watches. */
interface MdState {
  readonly ctx: Pointer;
}

function makeHash(b: Binding, alg: HashAlgorithm): HashFunction {
  const { mdCtxNew, mdCtxCopy, digestInit, digestUpdate, digestFinal } = b.evp;
  const md = b.digests[alg];
  const outputLength = hashLength(alg);
  const scratch = b.scratchMd;
  const digestInto = makeDigestInto(b);
  /** A new EVP_MD_CTX, initialised for `md` or a copy of `from`'s state, freed when `st` is garbage. */
  const context = (from?: Pointer): HashContext => {
    const ctx = mdCtxNew();
    if (typeof ctx !== 'bigint' || ctx === 0n) throw internal('EVP_MD_CTX_new');
    if ((from === undefined ? digestInit(ctx, md, null) : mdCtxCopy(ctx, from)) !== 1) {
      b.evp.mdCtxFree(ctx);
      throw internal(`${alg} context`);
    }
    const st: MdState = { ctx };
    b.mdContexts.register(st, ctx);
    const h: HashContext = {
      update(data: Uint8Array) {
        if (data.length > 0 && digestUpdate(st.ctx, data, data.length) !== 1) throw internal(`${alg} update`);
        return h;
      },
      digest() {
        const out = new Uint8Array(outputLength);
        // Finalised on a copy: this context goes on taking messages.
        const ok = (mdCtxCopy(scratch, st.ctx) as number) === 1 && (digestFinal(scratch, out, null) as number) === 1;
        if (!ok) throw internal(`${alg} digest`);
        return out;
      },
      clone: () => context(st.ctx),
    };
    return h;
  };
  return Object.freeze({
    algorithm: alg,
    outputLength,
    blockLength: alg === 'SHA-256' ? 64 : 128,
    create: () => context(),
    digest: (data: Uint8Array) => {
      const out = new Uint8Array(outputLength);
      digestInto(alg, data, out);
      return out;
    },
  });
}

// ---- the self-test ------------------------------------------------------------------------------

const hex = (s: string): Uint8Array => {
  const t = s.replace(/\s+/g, '');
  const out = new Uint8Array(t.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(t.slice(2 * i, 2 * i + 2), 16);
  return out;
};
const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const same = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/** The GCM specification's (McGrew and Viega) test cases 4 and 16: the same message under AES-128 and AES-256. */
const GCM_PT = 'd9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39';
const AEAD_VECTORS: readonly { alg: AeadAlgorithm; key: string; nonce: string; aad: string; pt: Uint8Array; ct: string }[] = [
  {
    alg: 'AES-128-GCM',
    key: 'feffe9928665731c6d6a8f9467308308',
    nonce: 'cafebabefacedbaddecaf888',
    aad: 'feedfacedeadbeeffeedfacedeadbeefabaddad2',
    pt: hex(GCM_PT),
    ct: '42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091' + '5bc94fbc3221a5db94fae95ae7121a47',
  },
  {
    alg: 'AES-256-GCM',
    key: 'feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308',
    nonce: 'cafebabefacedbaddecaf888',
    aad: 'feedfacedeadbeeffeedfacedeadbeefabaddad2',
    pt: hex(GCM_PT),
    ct: '522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662' + '76fc6ece0f4e1768cddf8853bb2d551b',
  },
  {
    // RFC 8439 §2.8.2.
    alg: 'CHACHA20-POLY1305',
    key: '808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f',
    nonce: '070000004041424344454647',
    aad: '50515253c0c1c2c3c4c5c6c7',
    pt: ascii("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it."),
    ct:
      'd31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116' +
      '1ae10b594f09e26a7e902ecbd0600691',
  },
  {
    // RFC 9001 Appendix A.5: a second key proves a context re-keyed elsewhere is not shared.
    alg: 'CHACHA20-POLY1305',
    key: 'c6d98ff3441c3fe1b2182094f69caa2ed4b716b65488960a7a984979fb23e1c8',
    nonce: 'e0459b3474bdd0e46d417eb0',
    aad: '4200bff4',
    pt: hex('01'),
    ct: '655e5cd55c41f69080575d7999c25a5bfb',
  },
];
const HP_VECTORS: readonly { alg: HeaderProtectionAlgorithm; key: string; sample: string; mask: string }[] = [
  // RFC 9001 A.3 (server Initial) and A.5; FIPS-197 Appendix C.1 and C.3 (the mask is the block's first five bytes).
  { alg: 'AES-128-ECB', key: 'c206b8d9b9f0f37644430b490eeaa314', sample: '2cd0991cd25b0aac406a5816b6394100', mask: '2ec0d8356a' },
  { alg: 'AES-128-ECB', key: '000102030405060708090a0b0c0d0e0f', sample: '00112233445566778899aabbccddeeff', mask: '69c4e0d86a' },
  { alg: 'AES-256-ECB', key: '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', sample: '00112233445566778899aabbccddeeff', mask: '8ea2b7ca51' },
  { alg: 'CHACHA20', key: '25a282b9e82f06f21f488917a4fc8f1b73573685608597d0efcb076b0ab7a7a4', sample: '5e5cd55c41f69080575d7999c25a5bfb', mask: 'aefefe7d03' },
];

const DIGEST_VECTORS: readonly [HashAlgorithm, string][] = [
  ['SHA-256', 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'],
  ['SHA-384', 'cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7'],
  ['SHA-512', 'ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f'],
];

/**
 * Runs every vector through the binding, twice each (the second time on a
 * context already used, which is the path every record after the first
 * takes), sealing in place at an offset into a larger buffer, opening, and
 * rejecting a flipped tag bit. Returns the first failure, or undefined.
 */
export function selfTest(backend: OpensslFfi): string | undefined {
  for (const v of AEAD_VECTORS) {
    const k = backend.aead(v.alg, hex(v.key));
    const nonce = hex(v.nonce);
    const aad = hex(v.aad);
    const want = hex(v.ct);
    for (let round = 0; round < 2; round++) {
      const buf = new Uint8Array(want.length + 3);
      const view = buf.subarray(1, 1 + want.length);
      view.set(v.pt);
      k.sealInto?.(nonce, aad, view.subarray(0, v.pt.length), view);
      if (!same(view, want) || buf[0] !== 0 || buf[buf.length - 1] !== 0) return `${v.alg} seal`;
      // The same message gathered: a part in place, one from elsewhere (not a multiple of the block), one in place.
      const gathered = new Uint8Array(want.length + 2).subarray(1, 1 + want.length);
      const cut1 = Math.min(5, v.pt.length);
      const cut2 = Math.min(cut1 + 19, v.pt.length);
      gathered.set(v.pt.subarray(0, cut1));
      gathered.set(v.pt.subarray(cut2), cut2);
      k.sealGather?.(nonce, aad, [gathered.subarray(0, cut1), v.pt.slice(cut1, cut2), gathered.subarray(cut2, v.pt.length)], gathered);
      if (!same(gathered, want)) return `${v.alg} gathered seal`;
      const opened = k.openSync?.(nonce, aad, view);
      if (!opened || !same(opened, v.pt)) return `${v.alg} open`;
      view[view.length - 1] = (view[view.length - 1] as number) ^ 1;
      if (k.openSync?.(nonce, aad, view) !== null) return `${v.alg} accepted a forged tag`;
      // In place in three parts, the tag cut across the last two; then the same with a forged tag.
      for (const forged of [false, true]) {
        const copy = want.slice();
        if (forged) copy[copy.length - 1] = (copy[copy.length - 1] as number) ^ 1;
        const a = Math.min(7, v.pt.length);
        const parts = [copy.subarray(0, a), copy.subarray(a, copy.length - 9), copy.subarray(copy.length - 9)];
        const ok = k.openGather?.(nonce, aad, parts);
        const plain = copy.subarray(0, v.pt.length);
        if (forged ? ok !== false || plain.some((x) => x !== 0) : ok !== true || !same(plain, v.pt)) return `${v.alg} gathered open`;
      }
    }
  }
  for (const v of HP_VECTORS) {
    const k = backend.headerProtection(v.alg, hex(v.key));
    for (let round = 0; round < 2; round++) {
      if (!same(k.maskSync?.(hex(v.sample)) ?? new Uint8Array(0), hex(v.mask))) return `${v.alg} header protection`;
    }
  }
  // FIPS 180-4's "abc" examples, written at an offset into a larger buffer.
  for (const [alg, want] of DIGEST_VECTORS) {
    const buf = new Uint8Array(80);
    backend.digestInto(alg, ascii('abc'), buf.subarray(3));
    if (!same(buf.subarray(3, 3 + want.length / 2), hex(want)) || buf[2] !== 0 || buf.subarray(3 + want.length / 2).some((x) => x !== 0)) return `${alg} digest`;
    // Incrementally, read twice mid-way, and forked: "ab" then "c" is H("abc"), and reading it changes nothing.
    const h = backend.hash(alg).create().update(ascii('ab'));
    const fork = h.clone();
    h.update(ascii('c'));
    if (!same(h.digest(), hex(want)) || !same(h.digest(), hex(want))) return `${alg} incremental digest`;
    if (!same(fork.update(ascii('c')).digest(), hex(want))) return `${alg} cloned digest`;
    if (!same(backend.hash(alg).digest(ascii('abc')), hex(want))) return `${alg} one-shot digest`;
  }
  return undefined;
}

// ---- once per process ---------------------------------------------------------------------------

/** Whether the FFI backend is in use, and if not, why. */
export interface OpensslFfiStatus {
  readonly available: boolean;
  readonly reason?: string;
}

let state: { backend?: OpensslFfi; status: OpensslFfiStatus } | undefined;

function probe(): { backend?: OpensslFfi; status: OpensslFfiStatus } {
  let b: Binding;
  try {
    b = bind();
  } catch (e) {
    return { status: { available: false, reason: `cannot bind OpenSSL through koffi: ${e instanceof Error ? e.message : String(e)}` } };
  }
  const backend: OpensslFfi = {
    aead: (alg, key) => makeAead(b, alg, key),
    headerProtection: (alg, key) => makeHeaderProtection(b, alg, key),
    digestInto: makeDigestInto(b),
    hash: (() => {
      const hashes = { 'SHA-256': makeHash(b, 'SHA-256'), 'SHA-384': makeHash(b, 'SHA-384'), 'SHA-512': makeHash(b, 'SHA-512') };
      return (alg: HashAlgorithm) => hashes[alg];
    })(),
  };
  return selfTested(backend, selfTest, 'OpenSSL through koffi');
}

/**
 * A bound backend once its known-answer `test` ran: frozen and available if
 * the test found nothing wrong, else unavailable with what it found (or what
 * it threw), under `what`'s name.
 */
export function selfTested<B extends object>(backend: B, test: (b: B) => string | undefined, what: string): { backend?: Readonly<B>; status: OpensslFfiStatus } {
  let failure: string | undefined;
  try {
    failure = test(backend);
  } catch (e) {
    failure = e instanceof Error ? e.message : String(e);
  }
  if (failure !== undefined) return { status: { available: false, reason: `${what} failed its self-test: ${failure}` } };
  return { backend: Object.freeze(backend), status: { available: true } };
}

/**
 * The OpenSSL-through-koffi backend, bound and self-tested on the first call
 * (about a millisecond), or undefined where it cannot be used: koffi is not
 * installed, the runtime does not export libcrypto's symbols, or a
 * known-answer test failed ({@link opensslFfiStatus} says which).
 */
export function opensslFfi(): OpensslFfi | undefined {
  state ??= probe();
  return state.backend;
}

/** Why {@link opensslFfi} is or is not available (probing it if it has not been). */
export function opensslFfiStatus(): OpensslFfiStatus {
  state ??= probe();
  return state.status;
}

/**
 * How many OpenSSL contexts this process's FFI keys hold now: each AEAD key
 * two, each header-protection key one, until the key is garbage-collected.
 * For tests and leak hunting.
 */
export function opensslFfiLiveContexts(): number {
  return live;
}
