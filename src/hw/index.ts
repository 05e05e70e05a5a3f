/**
 * `pqtls/hw`: hardware crypto backends beside the software provider. The
 * QUAC 100 device layer (its C API as an async interface, the algorithm table)
 * and the emulated card run in every runtime; the native binding loads Node's
 * FFI lazily and is exported from `pqtls/node` (`nativeQuacLibrary`).
 */
export {
  QuacResult, QuacError, QuacAlgorithm, QuacHealthStatus, QUAC_INIT_FIPS_MODE, quacSucceeded,
  type QuacResultName, type QuacResultCode, type QuacAlgorithmName, type QuacAlgorithmId, type QuacKeyHandle, type QuacKeyAttributes,
  type QuacStoredKey, type QuacSignOptions, type QuacBatchItem, type QuacBatchItemResult, type QuacBatchOptions, type QuacBatchResult,
  type QuacHealth, type QuacDevice, type QuacLibrary,
} from './quac100/device.js';
export {
  QUAC_ALGORITHMS, quacAlgorithm, quacKem, quacSign, quacAlgorithmForGroup, quacAlgorithmForSignature,
  type QuacKemParameters, type QuacSignParameters, type QuacAlgorithmParameters,
} from './quac100/algorithms.js';
export { realClock, VirtualClock, type QuacClock } from './quac100/clock.js';
export {
  EmulatedQuac100, EmulatedQuacLibrary, emulatedQuacLibrary, EMULATED_RELATIVE_COST,
  type EmulatedQuacOptions, type EmulatedFault, type ClearableFault,
} from './quac100/emulated.js';
export type { EmulatedQuacStorage } from './quac100/card-state.js';
export {
  createQuacProvider, type QuacProvider, type QuacProviderOptions, type StoredKeyOptions, type QuacKeyRef,
} from './quac100/provider.js';
export { rotateStoredKey, MAX_ROTATION_GRACE_MS, type KeyRotationOptions, type StoredKeyRotation } from './quac100/rotation.js';
export { createQuacPool, type QuacPool, type QuacPoolOptions } from './quac100/cards.js';
export type { BatchOptions } from './quac100/batcher.js';
export type { KeyPoolOptions } from './quac100/key-pool.js';
export type { BackoffOptions } from './quac100/pool.js';
export {
  prometheusText, type MetricsOptions, type QuacMetricsSnapshot, type HistogramSnapshot, type DeviceSnapshot, type DeviceState, type LabelledCount,
} from './quac100/metrics.js';
