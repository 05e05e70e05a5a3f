/**
 * `NativeQuac100`: the QUAC 100 C API (quac100.h) through koffi, the FFI that
 * loads the vendor's `libquac100.so` into this process. One TypeScript method
 * per C function, mirroring `QuacLibrary` / `QuacDevice` from device.ts.
 *
 * koffi is an optional dependency and this is the only module that touches it
 * (and `node:*`): it is imported lazily, on the first call, so `src/hw` loads
 * in a browser or without koffi, and a missing koffi or library becomes a
 * `ConfigError` naming what to install or set, not an import failure.
 *
 * Every call that reaches the card goes through koffi's async form, which runs
 * it on a worker thread: a device that takes its time (a queue, a batch, a
 * self-test) must not stall the event loop and with it every other connection.
 * The library must therefore be thread-safe, as the vendor's guide says it is.
 */
import { ConfigError } from '../../errors.js';
import {
  QuacError, QuacResult, type QuacAlgorithmId, type QuacBatchItem, type QuacBatchItemResult, type QuacBatchOptions,
  type QuacBatchResult, type QuacDevice, type QuacHealth, type QuacKeyAttributes, type QuacKeyHandle, type QuacLibrary,
  type QuacSignOptions, type QuacStoredKey,
} from './device.js';

type Koffi = typeof import('koffi');
type KoffiFunction = ReturnType<ReturnType<Koffi['load']>['func']>;

export interface NativeQuacOptions {
  /** Path of `libquac100.so`; default `$QUAC100_LIBRARY`, else the dynamic linker's search for `libquac100.so`. */
  readonly library?: string;
  /**
   * Load the library with `RTLD_DEEPBIND` (default true): its own dependencies
   * come before the process's symbols. Node's binary exports the symbols of
   * its bundled OpenSSL, so a vendor library linked against the system's
   * libcrypto would otherwise be handed Node's (an older OpenSSL, without
   * ML-KEM) for every name the two share.
   */
  readonly deepBind?: boolean;
}

// ---- sizes implied by the algorithm (FIPS 203 / FIPS 204) --------------------------------------

const KEM_SIZES: ReadonlyMap<number, { pk: number; sk: number; ct: number }> = new Map([
  [0x1100, { pk: 800, sk: 1632, ct: 768 }],
  [0x1101, { pk: 1184, sk: 2400, ct: 1088 }],
  [0x1102, { pk: 1568, sk: 3168, ct: 1568 }],
]);
const DSA_SIZES: ReadonlyMap<number, { pk: number; sk: number; sig: number }> = new Map([
  [0x2100, { pk: 1312, sk: 2560, sig: 2420 }],
  [0x2101, { pk: 1952, sk: 4032, sig: 3309 }],
  [0x2102, { pk: 2592, sk: 4896, sig: 4627 }],
]);
const SHARED_SECRET = 32;
/** Capacities when only a handle is known: the largest of any algorithm. */
const MAX_PK = 2592;
const MAX_SK = 4896;
const MAX_SIG = 4627;
/** One QRNG request; larger ones are the caller's loop to make. */
const MAX_RANDOM = 1 << 20;

function kemSizes(alg: number, op: string): { pk: number; sk: number; ct: number } {
  const s = KEM_SIZES.get(alg);
  if (!s) throw new QuacError(QuacResult.UNSUPPORTED_ALGORITHM, op, `0x${alg.toString(16)} is not an ML-KEM algorithm`);
  return s;
}

function dsaSizes(alg: number, op: string): { pk: number; sk: number; sig: number } {
  const s = DSA_SIZES.get(alg);
  if (!s) throw new QuacError(QuacResult.UNSUPPORTED_ALGORITHM, op, `0x${alg.toString(16)} is not an ML-DSA algorithm`);
  return s;
}

// ---- the C declarations ------------------------------------------------------------------------

interface Bindings {
  readonly koffi: Koffi;
  readonly fn: Readonly<Record<string, KoffiFunction>>;
}

/** koffi's type names are process-wide, so the types are declared once, whatever the number of libraries. */
let typesDeclared = false;

function declareTypes(koffi: Koffi): void {
  if (typesDeclared) return;
  koffi.alias('quac_result_t', 'int32_t');
  koffi.alias('quac_algorithm_t', 'uint32_t');
  koffi.alias('quac_batch_op_t', 'uint32_t');
  koffi.alias('quac_key_handle_t', 'uint64_t');
  koffi.pointer('quac_device_t', koffi.opaque('quac_device_s'));
  koffi.struct('quac_key_attributes_t', { extractable: 'uint8_t', persistent: 'uint8_t' });
  koffi.struct('quac_sign_options_t', { context: 'const uint8_t *', context_len: 'size_t', deterministic: 'uint8_t' });
  koffi.struct('quac_batch_item_t', {
    op: 'quac_batch_op_t',
    alg: 'quac_algorithm_t',
    handle: 'quac_key_handle_t',
    in1: 'const uint8_t *',
    in1_len: 'size_t',
    in2: 'const uint8_t *',
    in2_len: 'size_t',
    in2_split: 'size_t',
    out1: 'uint8_t *',
    out1_cap: 'size_t',
    out1_len: 'size_t',
    out2: 'uint8_t *',
    out2_cap: 'size_t',
    out2_len: 'size_t',
    result: 'quac_result_t',
  });
  koffi.struct('quac_batch_options_t', { max_parallel: 'uint32_t', timeout_ms: 'uint32_t' });
  koffi.struct('quac_batch_result_t', { completed: 'uint32_t', failed: 'uint32_t', total_time_us: 'uint64_t' });
  koffi.struct('quac_health_t', {
    temperature_celsius: 'float',
    entropy_available_bits: 'uint32_t',
    status: 'uint32_t',
    operations_total: 'uint64_t',
  });
  typesDeclared = true;
}

/** Every function of quac100.h, as koffi prototypes. Byte buffers are passed as Uint8Arrays, which koffi hands over in place. */
const PROTOTYPES: readonly string[] = [
  'quac_result_t quac_init(uint32_t options)',
  'quac_result_t quac_shutdown()',
  'quac_result_t quac_device_count(_Out_ uint32_t *count)',
  'quac_result_t quac_open(uint32_t index, _Out_ quac_device_t *device)',
  'quac_result_t quac_close(quac_device_t device)',
  'quac_result_t quac_kem_keygen(quac_device_t dev, quac_algorithm_t alg, uint8_t *pk, size_t pk_len, uint8_t *sk, size_t sk_len)',
  'quac_result_t quac_kem_encaps(quac_device_t dev, quac_algorithm_t alg, const uint8_t *pk, size_t pk_len, uint8_t *ct, size_t ct_len, uint8_t *ss, size_t ss_len)',
  'quac_result_t quac_kem_decaps(quac_device_t dev, quac_algorithm_t alg, const uint8_t *ct, size_t ct_len, const uint8_t *sk, size_t sk_len, uint8_t *ss, size_t ss_len)',
  'quac_result_t quac_kem_keygen_stored(quac_device_t dev, quac_algorithm_t alg, const char *label, uint8_t persistent, _Out_ quac_key_handle_t *handle, uint8_t *pk, size_t pk_len)',
  'quac_result_t quac_kem_decaps_stored(quac_device_t dev, quac_key_handle_t handle, const uint8_t *ct, size_t ct_len, uint8_t *ss, size_t ss_len)',
  'quac_result_t quac_sign_keygen_stored(quac_device_t dev, quac_algorithm_t alg, const char *label, uint8_t persistent, _Out_ quac_key_handle_t *handle, uint8_t *pk, size_t pk_len)',
  'quac_result_t quac_sign_stored(quac_device_t dev, quac_key_handle_t handle, const uint8_t *msg, size_t msg_len, const quac_sign_options_t *opts, uint8_t *sig, size_t sig_cap, _Out_ size_t *sig_len)',
  'quac_result_t quac_verify(quac_device_t dev, quac_algorithm_t alg, const uint8_t *pk, size_t pk_len, const uint8_t *msg, size_t msg_len, const uint8_t *sig, size_t sig_len)',
  'quac_result_t quac_key_find(quac_device_t dev, const char *label, _Out_ quac_key_handle_t *handle, _Out_ quac_algorithm_t *alg, uint8_t *pk, size_t pk_cap, _Out_ size_t *pk_len)',
  'quac_result_t quac_key_get_attributes(quac_device_t dev, quac_key_handle_t handle, _Out_ quac_key_attributes_t *attrs)',
  'quac_result_t quac_key_export(quac_device_t dev, quac_key_handle_t handle, uint8_t *sk, size_t sk_cap, _Out_ size_t *sk_len)',
  'quac_result_t quac_key_destroy(quac_device_t dev, quac_key_handle_t handle)',
  'quac_result_t quac_random_bytes(quac_device_t dev, uint8_t *buf, size_t len)',
  'quac_result_t quac_batch_execute(quac_device_t dev, _Inout_ quac_batch_item_t *items, uint32_t count, const quac_batch_options_t *opts, _Out_ quac_batch_result_t *result)',
  'quac_result_t quac_diag_get_health(quac_device_t dev, _Out_ quac_health_t *health)',
  'quac_result_t quac_diag_self_test(quac_device_t dev)',
];

async function importKoffi(): Promise<Koffi> {
  try {
    const mod = (await import('koffi')) as Koffi & { default?: Koffi };
    return mod.default ?? mod;
  } catch (e) {
    throw new ConfigError(
      `NativeQuac100 needs the optional dependency koffi to load libquac100.so, and it could not be imported ` +
        `(${e instanceof Error ? e.message : String(e)}); install it with the package manager, or use another QUAC backend`,
    );
  }
}

async function bind(options: NativeQuacOptions): Promise<Bindings> {
  const koffi = await importKoffi();
  const path = options.library ?? process.env['QUAC100_LIBRARY'] ?? 'libquac100.so';
  let lib: ReturnType<Koffi['load']>;
  try {
    lib = koffi.load(path, { deep: options.deepBind ?? true });
  } catch (e) {
    throw new ConfigError(
      `cannot load the QUAC 100 library '${path}' (set it with the 'library' option or QUAC100_LIBRARY): ` +
        (e instanceof Error ? e.message : String(e)),
    );
  }
  declareTypes(koffi);
  const fn: Record<string, KoffiFunction> = {};
  for (const proto of PROTOTYPES) {
    const name = /\b(quac_\w+)\(/.exec(proto)?.[1];
    if (name === undefined) throw new Error(`bad prototype ${proto}`);
    try {
      fn[name] = lib.func(proto);
    } catch (e) {
      throw new ConfigError(`'${path}' is not a QUAC 100 library as quac100.h describes it: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return { koffi, fn };
}

// ---- calls ---------------------------------------------------------------------------------------

/**
 * Runs one C function on koffi's worker threads; resolves with its result
 * code when it succeeded, rejects with a `QuacError(code, 'quac_<function>')` when
 * it failed, except for the codes in `accept`, which resolve too.
 */
function call(b: Bindings, name: string, args: readonly unknown[], accept: readonly number[] = []): Promise<number> {
  const f = b.fn[name];
  if (f === undefined) return Promise.reject(new Error(`quac100.h has no ${name}`));
  return new Promise<number>((resolve, reject) => {
    try {
      f.async(...args, (err: unknown, res: unknown) => {
        if (err) return reject(new QuacError(QuacResult.INTERNAL, name, `koffi: ${err instanceof Error ? err.message : String(err)}`));
        const code = Number(res);
        if (code >= 0 || accept.includes(code)) resolve(code);
        else reject(new QuacError(code, name));
      });
    } catch (e) {
      // koffi refuses a call synchronously when its queue of async calls is full, or an argument does not convert.
      const message = e instanceof Error ? e.message : String(e);
      reject(new QuacError(/too many|async/i.test(message) ? QuacResult.BUSY : QuacResult.INVALID_PARAMETER, name, `koffi: ${message}`));
    }
  });
}

/** A copy the caller cannot change while the call runs on another thread. */
function own(bytes: Uint8Array): Uint8Array {
  return bytes.slice();
}

function label(value: string, op: string): string {
  if (value.includes('\0')) throw new QuacError(QuacResult.INVALID_PARAMETER, op, 'the label contains a NUL character');
  return value;
}

function handleArg(h: QuacKeyHandle, op: string): bigint {
  if (typeof h !== 'bigint' || h < 0n || h >= 1n << 64n) throw new QuacError(QuacResult.INVALID_PARAMETER, op, 'a key handle is a uint64 bigint');
  return h;
}

const uint64 = (v: unknown): bigint => BigInt(v as number | bigint);

/** Keeps buffers whose addresses C holds (in structures) reachable until the call is over. */
function keepAlive(..._buffers: readonly unknown[]): void {}

interface BatchSlot {
  readonly item: Record<string, unknown>;
  readonly out1?: Uint8Array;
  readonly out2?: Uint8Array;
  readonly inputs: readonly Uint8Array[];
  readonly op: QuacBatchItem['op'];
}

/** Output sizes for a batch item; an algorithm we do not know gets none, and the device answers for that item alone. */
const NO_KEM = { pk: 0, sk: 0, ct: 0 };

function batchSlot(b: Bindings, it: QuacBatchItem): BatchSlot {
  const op = 'quac_batch_execute';
  const addr = (a: Uint8Array | undefined): bigint | null => (a && a.length > 0 ? b.koffi.address(a) : null);
  const base = { handle: 0n, in1: null, in1_len: 0, in2: null, in2_len: 0, in2_split: 0, out1: null, out1_cap: 0, out1_len: 0, out2: null, out2_cap: 0, out2_len: 0, result: QuacResult.INTERNAL };
  switch (it.op) {
    case 'kem-keygen': {
      const s = KEM_SIZES.get(it.alg) ?? NO_KEM;
      const out1 = new Uint8Array(s.pk);
      const out2 = new Uint8Array(s.sk);
      return { op: it.op, out1, out2, inputs: [], item: { ...base, op: 1, alg: it.alg, out1: addr(out1), out1_cap: s.pk, out2: addr(out2), out2_cap: s.sk } };
    }
    case 'kem-encaps': {
      const s = KEM_SIZES.get(it.alg) ?? NO_KEM;
      const in1 = own(it.publicKey);
      const out1 = new Uint8Array(s.ct);
      const out2 = new Uint8Array(SHARED_SECRET);
      return { op: it.op, out1, out2, inputs: [in1], item: { ...base, op: 2, alg: it.alg, in1: addr(in1), in1_len: in1.length, out1: addr(out1), out1_cap: s.ct, out2: addr(out2), out2_cap: SHARED_SECRET } };
    }
    case 'kem-decaps': {
      const in1 = own(it.ciphertext);
      const in2 = own(it.secretKey);
      const out1 = new Uint8Array(SHARED_SECRET);
      return { op: it.op, out1, inputs: [in1, in2], item: { ...base, op: 3, alg: it.alg, in1: addr(in1), in1_len: in1.length, in2: addr(in2), in2_len: in2.length, out1: addr(out1), out1_cap: SHARED_SECRET } };
    }
    case 'sign-stored': {
      const in1 = own(it.message);
      const out1 = new Uint8Array(MAX_SIG);
      return { op: it.op, out1, inputs: [in1], item: { ...base, op: 4, alg: 0, handle: handleArg(it.handle, op), in1: addr(in1), in1_len: in1.length, out1: addr(out1), out1_cap: MAX_SIG } };
    }
    case 'verify': {
      const in1 = own(it.publicKey);
      const in2 = new Uint8Array(it.message.length + it.signature.length);
      in2.set(it.message, 0);
      in2.set(it.signature, it.message.length);
      return { op: it.op, inputs: [in1, in2], item: { ...base, op: 5, alg: it.alg, in1: addr(in1), in1_len: in1.length, in2: addr(in2), in2_len: in2.length, in2_split: it.message.length } };
    }
  }
}

function batchItemResult(slot: BatchSlot, item: Record<string, unknown>): QuacBatchItemResult {
  const result = Number(item['result']);
  if (slot.op === 'verify') {
    // A signature that does not verify is an answer, not a failure of the item (device.ts).
    if (result === QuacResult.VERIFICATION_FAILED) return { result: QuacResult.SUCCESS, valid: false };
    return result >= 0 ? { result, valid: true } : { result };
  }
  if (result < 0) return { result };
  const out1 = slot.out1?.slice(0, Number(item['out1_len']));
  const out2 = slot.out2?.slice(0, Number(item['out2_len']));
  switch (slot.op) {
    case 'kem-keygen':
      return { result, publicKey: out1, secretKey: out2 };
    case 'kem-encaps':
      return { result, ciphertext: out1, sharedSecret: out2 };
    case 'kem-decaps':
      return { result, sharedSecret: out1 };
    case 'sign-stored':
      return { result, signature: out1 };
  }
}

// ---- the device and the library -------------------------------------------------------------------

/** One device opened through `libquac100.so` (`quac_device_t`); made by `nativeQuacLibrary(...).open(index)`. */
export class NativeQuac100 implements QuacDevice {
  constructor(
    private readonly b: Bindings,
    private readonly dev: unknown,
    readonly index: number,
  ) {}

  async kemKeygen(alg: QuacAlgorithmId): Promise<{ publicKey: Uint8Array; secretKey: Uint8Array }> {
    const s = kemSizes(alg, 'quac_kem_keygen');
    const publicKey = new Uint8Array(s.pk);
    const secretKey = new Uint8Array(s.sk);
    await call(this.b, 'quac_kem_keygen', [this.dev, alg, publicKey, s.pk, secretKey, s.sk]);
    return { publicKey, secretKey };
  }

  async kemEncaps(alg: QuacAlgorithmId, publicKey: Uint8Array): Promise<{ ciphertext: Uint8Array; sharedSecret: Uint8Array }> {
    const s = kemSizes(alg, 'quac_kem_encaps');
    const pk = own(publicKey);
    const ciphertext = new Uint8Array(s.ct);
    const sharedSecret = new Uint8Array(SHARED_SECRET);
    await call(this.b, 'quac_kem_encaps', [this.dev, alg, pk, pk.length, ciphertext, s.ct, sharedSecret, SHARED_SECRET]);
    return { ciphertext, sharedSecret };
  }

  async kemDecaps(alg: QuacAlgorithmId, ciphertext: Uint8Array, secretKey: Uint8Array): Promise<Uint8Array> {
    kemSizes(alg, 'quac_kem_decaps');
    const ct = own(ciphertext);
    const sk = own(secretKey);
    const ss = new Uint8Array(SHARED_SECRET);
    await call(this.b, 'quac_kem_decaps', [this.dev, alg, ct, ct.length, sk, sk.length, ss, SHARED_SECRET]);
    return ss;
  }

  async kemKeygenStored(alg: QuacAlgorithmId, keyLabel: string, persistent: boolean): Promise<QuacStoredKey> {
    return this.keygenStored('quac_kem_keygen_stored', kemSizes(alg, 'quac_kem_keygen_stored').pk, alg, keyLabel, persistent);
  }

  async signKeygenStored(alg: QuacAlgorithmId, keyLabel: string, persistent: boolean): Promise<QuacStoredKey> {
    return this.keygenStored('quac_sign_keygen_stored', dsaSizes(alg, 'quac_sign_keygen_stored').pk, alg, keyLabel, persistent);
  }

  private async keygenStored(name: string, pkLen: number, alg: number, keyLabel: string, persistent: boolean): Promise<QuacStoredKey> {
    const handle: unknown[] = [null];
    const publicKey = new Uint8Array(pkLen);
    await call(this.b, name, [this.dev, alg, label(keyLabel, name), persistent ? 1 : 0, handle, publicKey, pkLen]);
    return { handle: uint64(handle[0]), publicKey };
  }

  async kemDecapsStored(handle: QuacKeyHandle, ciphertext: Uint8Array): Promise<Uint8Array> {
    const ct = own(ciphertext);
    const ss = new Uint8Array(SHARED_SECRET);
    await call(this.b, 'quac_kem_decaps_stored', [this.dev, handleArg(handle, 'quac_kem_decaps_stored'), ct, ct.length, ss, SHARED_SECRET]);
    return ss;
  }

  async signStored(handle: QuacKeyHandle, message: Uint8Array, options?: QuacSignOptions): Promise<Uint8Array> {
    const name = 'quac_sign_stored';
    const msg = own(message);
    const context = options?.context ? own(options.context) : undefined;
    const opts = options === undefined
      ? null
      : {
          context: context && context.length > 0 ? this.b.koffi.address(context) : null,
          context_len: context?.length ?? 0,
          deterministic: options.deterministic ? 1 : 0,
        };
    const sig = new Uint8Array(MAX_SIG);
    const sigLen: unknown[] = [null];
    await call(this.b, name, [this.dev, handleArg(handle, name), msg, msg.length, opts, sig, MAX_SIG, sigLen]);
    keepAlive(context);
    return sig.slice(0, Number(sigLen[0]));
  }

  async verify(alg: QuacAlgorithmId, publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
    dsaSizes(alg, 'quac_verify');
    const pk = own(publicKey);
    const msg = own(message);
    const sig = own(signature);
    const code = await call(this.b, 'quac_verify', [this.dev, alg, pk, pk.length, msg, msg.length, sig, sig.length], [QuacResult.VERIFICATION_FAILED]);
    return code >= 0;
  }

  async keyFind(keyLabel: string): Promise<(QuacStoredKey & { readonly alg: QuacAlgorithmId }) | undefined> {
    const name = 'quac_key_find';
    const handle: unknown[] = [null];
    const alg: unknown[] = [null];
    const pkLen: unknown[] = [null];
    const pk = new Uint8Array(MAX_PK);
    const code = await call(this.b, name, [this.dev, label(keyLabel, name), handle, alg, pk, MAX_PK, pkLen], [QuacResult.KEY_NOT_FOUND]);
    if (code === QuacResult.KEY_NOT_FOUND) return undefined;
    return { handle: uint64(handle[0]), alg: Number(alg[0]) as QuacAlgorithmId, publicKey: pk.slice(0, Number(pkLen[0])) };
  }

  async keyAttributes(handle: QuacKeyHandle): Promise<QuacKeyAttributes> {
    const attrs: { extractable?: number; persistent?: number } = {};
    await call(this.b, 'quac_key_get_attributes', [this.dev, handleArg(handle, 'quac_key_get_attributes'), attrs]);
    return { extractable: attrs.extractable !== 0, persistent: attrs.persistent !== 0 };
  }

  async keyExport(handle: QuacKeyHandle): Promise<Uint8Array> {
    const sk = new Uint8Array(MAX_SK);
    const skLen: unknown[] = [null];
    await call(this.b, 'quac_key_export', [this.dev, handleArg(handle, 'quac_key_export'), sk, MAX_SK, skLen]);
    return sk.slice(0, Number(skLen[0]));
  }

  async keyDestroy(handle: QuacKeyHandle): Promise<void> {
    await call(this.b, 'quac_key_destroy', [this.dev, handleArg(handle, 'quac_key_destroy')]);
  }

  async randomBytes(length: number): Promise<Uint8Array> {
    if (!Number.isSafeInteger(length) || length < 0 || length > MAX_RANDOM) {
      throw new QuacError(QuacResult.INVALID_PARAMETER, 'quac_random_bytes', `length ${length} is not in 0..${MAX_RANDOM}`);
    }
    const buf = new Uint8Array(length);
    await call(this.b, 'quac_random_bytes', [this.dev, buf, length]);
    return buf;
  }

  async batchExecute(items: readonly QuacBatchItem[], options?: QuacBatchOptions): Promise<QuacBatchResult> {
    const slots = items.map((it) => batchSlot(this.b, it));
    const cItems = slots.map((s) => s.item);
    const opts = options === undefined ? null : { max_parallel: options.maxParallel ?? 0, timeout_ms: options.timeoutMs ?? 0 };
    const result: { completed?: number; failed?: number; total_time_us?: number | bigint } = {};
    await call(this.b, 'quac_batch_execute', [this.dev, cItems.length > 0 ? cItems : null, cItems.length, opts, result]);
    keepAlive(slots);
    return {
      completed: Number(result.completed),
      failed: Number(result.failed),
      totalTimeUs: Number(result.total_time_us),
      items: slots.map((s, i) => batchItemResult(s, cItems[i] ?? {})),
    };
  }

  async health(): Promise<QuacHealth> {
    const h: { temperature_celsius?: number; entropy_available_bits?: number; status?: number; operations_total?: number | bigint } = {};
    await call(this.b, 'quac_diag_get_health', [this.dev, h]);
    return {
      temperatureCelsius: Number(h.temperature_celsius),
      entropyAvailableBits: Number(h.entropy_available_bits),
      status: Number(h.status) as QuacHealth['status'],
      operationsTotal: Number(h.operations_total),
    };
  }

  async selfTest(): Promise<void> {
    await call(this.b, 'quac_diag_self_test', [this.dev]);
  }

  async close(): Promise<void> {
    await call(this.b, 'quac_close', [this.dev]);
  }
}

/**
 * The QUAC 100 library behind `libquac100.so`. Nothing is loaded until the
 * first call; the library then stays loaded for the life of the process
 * (unloading it under a running async call would pull code from under a
 * worker thread, and persistent keys of a test double live in it).
 */
export function nativeQuacLibrary(options: NativeQuacOptions = {}): QuacLibrary {
  let bound: Promise<Bindings> | undefined;
  const b = (): Promise<Bindings> => {
    if (bound === undefined) {
      const p = bind(options);
      // A failed load is not cached: the next call tries again (the library may have been installed since).
      p.catch(() => {
        if (bound === p) bound = undefined;
      });
      bound = p;
    }
    return bound;
  };
  return {
    async init({ fips }: { readonly fips?: boolean }): Promise<void> {
      await call(await b(), 'quac_init', [fips ? 0x1 : 0x0]);
    },
    async deviceCount(): Promise<number> {
      const count: unknown[] = [null];
      await call(await b(), 'quac_device_count', [count]);
      return Number(count[0]);
    },
    async open(index: number): Promise<QuacDevice> {
      if (!Number.isInteger(index) || index < 0 || index > 0xffffffff) {
        throw new QuacError(QuacResult.INVALID_PARAMETER, 'quac_open', `device index ${index}`);
      }
      const bindings = await b();
      const dev: unknown[] = [null];
      await call(bindings, 'quac_open', [index, dev]);
      return new NativeQuac100(bindings, dev[0], index);
    },
    async shutdown(): Promise<void> {
      await call(await b(), 'quac_shutdown', []);
    },
  };
}
