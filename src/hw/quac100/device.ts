/**
 * The QUAC 100 C API (quac100.h beside this file) as a TypeScript interface,
 * one method per C function, every call asynchronous: a device answers when
 * its queue reaches the request. Two implementations follow it exactly:
 * `EmulatedQuac100` (a software model for tests, demos and benchmarks) and
 * `NativeQuac100` (koffi over `libquac100.so`). Byte formats are FIPS 203
 * (ML-KEM) and FIPS 204 (ML-DSA) as in the C API; lengths are implied by the
 * algorithm, so the TypeScript methods return arrays instead of filling
 * caller buffers.
 */
import { AlertDescription, PqtlsError } from '../../errors.js';

/** `quac_result_t` codes (quac100.h; values other than success are this project's assumption). */
export const QuacResult = {
  SUCCESS: 0,
  INVALID_PARAMETER: -1,
  NOT_INITIALIZED: -2,
  DEVICE_NOT_FOUND: -3,
  DEVICE_REMOVED: -4,
  TIMEOUT: -5,
  BUFFER_TOO_SMALL: -6,
  UNSUPPORTED_ALGORITHM: -7,
  KEY_NOT_FOUND: -8,
  KEY_NOT_EXTRACTABLE: -9,
  VERIFICATION_FAILED: -10,
  OVER_TEMPERATURE: -11,
  ENTROPY_LOW: -12,
  SELF_TEST_FAILED: -13,
  FIPS_NOT_APPROVED: -14,
  BUSY: -15,
  OUT_OF_MEMORY: -16,
  INTERNAL: -17,
} as const;
export type QuacResultName = keyof typeof QuacResult;
export type QuacResultCode = (typeof QuacResult)[QuacResultName];

const NAMES = new Map<number, QuacResultName>(Object.entries(QuacResult).map(([k, v]) => [v, k as QuacResultName]));

/** `QUAC_SUCCEEDED(r)`. */
export function quacSucceeded(r: number): boolean {
  return r >= 0;
}

/**
 * A failed device call: `code` is the `quac_result_t`, `name` its symbol. In a
 * handshake it ends the connection with `internal_error`: the peer did
 * nothing wrong, our crypto backend failed.
 */
export class QuacError extends PqtlsError {
  readonly code: number;
  readonly resultName: QuacResultName | 'UNKNOWN';

  constructor(code: number, operation: string, detail?: string) {
    const resultName = NAMES.get(code) ?? 'UNKNOWN';
    super(`${operation}: QUAC_ERROR_${resultName} (${code})${detail ? `: ${detail}` : ''}`, AlertDescription.internal_error);
    this.name = 'QuacError';
    this.code = code;
    this.resultName = resultName;
  }

  /** Whether the device itself is unusable (lost, hot, out of entropy, failed its self-test), not just this call. */
  get deviceFault(): boolean {
    return ['DEVICE_REMOVED', 'DEVICE_NOT_FOUND', 'TIMEOUT', 'OVER_TEMPERATURE', 'ENTROPY_LOW', 'SELF_TEST_FAILED'].includes(this.resultName);
  }
}

/** `quac_algorithm_t` (0x1101 is from the SDK guide; the others are assumptions, see quac100.h). */
export const QuacAlgorithm = {
  KYBER512: 0x1100,
  KYBER768: 0x1101,
  KYBER1024: 0x1102,
  DILITHIUM2: 0x2100,
  DILITHIUM3: 0x2101,
  DILITHIUM5: 0x2102,
} as const;
export type QuacAlgorithmName = keyof typeof QuacAlgorithm;
export type QuacAlgorithmId = (typeof QuacAlgorithm)[QuacAlgorithmName];

export const QUAC_INIT_FIPS_MODE = 0x1;

/** `quac_key_handle_t`: a 64-bit device handle, as a bigint. */
export type QuacKeyHandle = bigint;

export interface QuacKeyAttributes {
  readonly extractable: boolean;
  readonly persistent: boolean;
}

export interface QuacStoredKey {
  readonly handle: QuacKeyHandle;
  readonly publicKey: Uint8Array;
}

export interface QuacSignOptions {
  /** FIPS 204 context string (0..255 bytes); TLS and X.509 use the empty one. */
  readonly context?: Uint8Array;
  /** Deterministic ML-DSA instead of hedged with the QRNG. */
  readonly deterministic?: boolean;
}

/** `quac_batch_item_t`, by operation. */
export type QuacBatchItem =
  | { readonly op: 'kem-keygen'; readonly alg: QuacAlgorithmId }
  | { readonly op: 'kem-encaps'; readonly alg: QuacAlgorithmId; readonly publicKey: Uint8Array }
  | { readonly op: 'kem-decaps'; readonly alg: QuacAlgorithmId; readonly ciphertext: Uint8Array; readonly secretKey: Uint8Array }
  | { readonly op: 'sign-stored'; readonly handle: QuacKeyHandle; readonly message: Uint8Array }
  | { readonly op: 'verify'; readonly alg: QuacAlgorithmId; readonly publicKey: Uint8Array; readonly message: Uint8Array; readonly signature: Uint8Array };

/** One item's outcome: `result` is its own `quac_result_t`; the outputs of its operation are set when it succeeded. */
export interface QuacBatchItemResult {
  readonly result: number;
  readonly publicKey?: Uint8Array;
  readonly secretKey?: Uint8Array;
  readonly ciphertext?: Uint8Array;
  readonly sharedSecret?: Uint8Array;
  readonly signature?: Uint8Array;
  /** verify: whether the signature verified (a failed verification is result SUCCESS, valid false). */
  readonly valid?: boolean;
}

export interface QuacBatchOptions {
  readonly maxParallel?: number;
  readonly timeoutMs?: number;
}

/** `quac_batch_result_t` plus the per-item results, in item order. */
export interface QuacBatchResult {
  readonly completed: number;
  readonly failed: number;
  readonly totalTimeUs: number;
  readonly items: readonly QuacBatchItemResult[];
}

export const QuacHealthStatus = { OK: 0, DEGRADED: 1, OVER_TEMPERATURE: 2, ENTROPY_LOW: 3, SELF_TEST_FAILED: 4 } as const;

/** `quac_health_t`. */
export interface QuacHealth {
  readonly temperatureCelsius: number;
  readonly entropyAvailableBits: number;
  readonly status: (typeof QuacHealthStatus)[keyof typeof QuacHealthStatus];
  readonly operationsTotal: number;
}

/**
 * One opened device (`quac_device_t`). Every method rejects with a
 * {@link QuacError} carrying the C result code when the C call fails; a
 * verification that does not verify resolves false (VERIFICATION_FAILED is
 * not an error of the device).
 */
export interface QuacDevice {
  /** Index it was opened at, for diagnostics and metrics labels. */
  readonly index: number;
  kemKeygen(alg: QuacAlgorithmId): Promise<{ publicKey: Uint8Array; secretKey: Uint8Array }>;
  kemEncaps(alg: QuacAlgorithmId, publicKey: Uint8Array): Promise<{ ciphertext: Uint8Array; sharedSecret: Uint8Array }>;
  kemDecaps(alg: QuacAlgorithmId, ciphertext: Uint8Array, secretKey: Uint8Array): Promise<Uint8Array>;
  kemKeygenStored(alg: QuacAlgorithmId, label: string, persistent: boolean): Promise<QuacStoredKey>;
  kemDecapsStored(handle: QuacKeyHandle, ciphertext: Uint8Array): Promise<Uint8Array>;
  signKeygenStored(alg: QuacAlgorithmId, label: string, persistent: boolean): Promise<QuacStoredKey>;
  signStored(handle: QuacKeyHandle, message: Uint8Array, options?: QuacSignOptions): Promise<Uint8Array>;
  verify(alg: QuacAlgorithmId, publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean>;
  /** The newest stored key with this label, or undefined (KEY_NOT_FOUND). */
  keyFind(label: string): Promise<(QuacStoredKey & { readonly alg: QuacAlgorithmId }) | undefined>;
  keyAttributes(handle: QuacKeyHandle): Promise<QuacKeyAttributes>;
  /** Rejects with KEY_NOT_EXTRACTABLE for every key this project creates. */
  keyExport(handle: QuacKeyHandle): Promise<Uint8Array>;
  keyDestroy(handle: QuacKeyHandle): Promise<void>;
  randomBytes(length: number): Promise<Uint8Array>;
  batchExecute(items: readonly QuacBatchItem[], options?: QuacBatchOptions): Promise<QuacBatchResult>;
  health(): Promise<QuacHealth>;
  selfTest(): Promise<void>;
  close(): Promise<void>;
}

/** The library (`quac_init` … `quac_shutdown`): where devices come from. */
export interface QuacLibrary {
  init(options: { readonly fips?: boolean }): Promise<void>;
  deviceCount(): Promise<number>;
  open(index: number): Promise<QuacDevice>;
  shutdown(): Promise<void>;
}
