/*
 * quac100.h — the C API of the QUAC 100 post-quantum accelerator, as pqtls
 * builds against it: the functions, result codes and structures named in the
 * vendor's SDK integration guide. The guide gives names and the Kyber-768
 * algorithm id (0x1101); every other numeric value below (result codes, the
 * other algorithm ids, option flags, batch op codes, structure layouts) is an
 * ASSUMPTION of this project, marked as such, to be checked against the
 * vendor's header when a card is at hand. `NativeQuac100` (koffi) and the
 * test double in test/hw/ both follow this file exactly.
 */
/*
 * Behaviour this project assumes of every implementation (the emulator, the
 * C test double and, until checked, the card), pinned by
 * test/hw/device-conformance.ts:
 * - quac_device_count/quac_open before quac_init: QUAC_ERROR_NOT_INITIALIZED;
 *   an index with no device: QUAC_ERROR_DEVICE_NOT_FOUND.
 * - An algorithm id the card lacks, or one of the wrong family for the call
 *   (a KEM id to quac_sign_keygen_stored): QUAC_ERROR_UNSUPPORTED_ALGORITHM.
 *   A buffer of the wrong length for the algorithm, an encapsulation key
 *   failing FIPS 203 §7.2's modulus check, a decapsulation key failing §7.3's
 *   hash check, a context over 255 bytes: QUAC_ERROR_INVALID_PARAMETER.
 * - Stored keys: never extractable; persistent keys outlive quac_close and
 *   quac_shutdown; non-persistent keys belong to the quac_device_t that made
 *   them (invisible to other opens, destroyed by its quac_close); handles are
 *   never reused; quac_key_find returns the newest key with the label.
 * - FIPS mode: the known-answer self-tests run at quac_init and quac_open and a
 *   failure is QUAC_ERROR_SELF_TEST_FAILED for good. The approved services
 *   exclude deterministic ML-DSA signing and the use of a stored key generated
 *   outside FIPS mode (both QUAC_ERROR_FIPS_NOT_APPROVED).
 */
#ifndef QUAC100_H
#define QUAC100_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- results -------------------------------------------------------------- */
typedef int32_t quac_result_t;
#define QUAC_SUCCEEDED(r) ((r) >= 0)
#define QUAC_FAILED(r) ((r) < 0)

/* ASSUMPTION: values. */
#define QUAC_SUCCESS 0
#define QUAC_ERROR_INVALID_PARAMETER (-1)
#define QUAC_ERROR_NOT_INITIALIZED (-2)
#define QUAC_ERROR_DEVICE_NOT_FOUND (-3)
#define QUAC_ERROR_DEVICE_REMOVED (-4)
#define QUAC_ERROR_TIMEOUT (-5)
#define QUAC_ERROR_BUFFER_TOO_SMALL (-6)
#define QUAC_ERROR_UNSUPPORTED_ALGORITHM (-7)
#define QUAC_ERROR_KEY_NOT_FOUND (-8)
#define QUAC_ERROR_KEY_NOT_EXTRACTABLE (-9)
#define QUAC_ERROR_VERIFICATION_FAILED (-10)
#define QUAC_ERROR_OVER_TEMPERATURE (-11)
#define QUAC_ERROR_ENTROPY_LOW (-12)
#define QUAC_ERROR_SELF_TEST_FAILED (-13)
#define QUAC_ERROR_FIPS_NOT_APPROVED (-14)
#define QUAC_ERROR_BUSY (-15)
#define QUAC_ERROR_OUT_OF_MEMORY (-16)
#define QUAC_ERROR_INTERNAL (-17)

/* ---- library and devices -------------------------------------------------- */
#define QUAC_INIT_DEFAULT 0x0u
#define QUAC_INIT_FIPS_MODE 0x1u /* ASSUMPTION: value. */

typedef struct quac_device_s *quac_device_t;
typedef uint64_t quac_key_handle_t;

quac_result_t quac_init(uint32_t options);
quac_result_t quac_shutdown(void);
quac_result_t quac_device_count(uint32_t *count);
quac_result_t quac_open(uint32_t index, quac_device_t *device);
quac_result_t quac_close(quac_device_t device);

/* ---- algorithms ----------------------------------------------------------- */
typedef uint32_t quac_algorithm_t;
#define QUAC_ALGORITHM_KYBER768 0x1101u   /* from the guide */
#define QUAC_ALGORITHM_KYBER512 0x1100u   /* ASSUMPTION */
#define QUAC_ALGORITHM_KYBER1024 0x1102u  /* ASSUMPTION */
#define QUAC_ALGORITHM_DILITHIUM2 0x2100u /* ASSUMPTION: ML-DSA-44 */
#define QUAC_ALGORITHM_DILITHIUM3 0x2101u /* ASSUMPTION: ML-DSA-65 */
#define QUAC_ALGORITHM_DILITHIUM5 0x2102u /* ASSUMPTION: ML-DSA-87 */

/* ---- KEM (FIPS 203 ML-KEM byte formats) ----------------------------------- */
quac_result_t quac_kem_keygen(quac_device_t dev, quac_algorithm_t alg,
                              uint8_t *pk, size_t pk_len, uint8_t *sk, size_t sk_len);
quac_result_t quac_kem_encaps(quac_device_t dev, quac_algorithm_t alg, const uint8_t *pk, size_t pk_len,
                              uint8_t *ct, size_t ct_len, uint8_t *ss, size_t ss_len);
quac_result_t quac_kem_decaps(quac_device_t dev, quac_algorithm_t alg, const uint8_t *ct, size_t ct_len,
                              const uint8_t *sk, size_t sk_len, uint8_t *ss, size_t ss_len);

/* ---- keys stored on the device (never leave it when not extractable) ------ */
typedef struct {
  uint8_t extractable; /* 0: the private key cannot be exported */
  uint8_t persistent;  /* 1: survives quac_close / power cycle */
} quac_key_attributes_t;

quac_result_t quac_kem_keygen_stored(quac_device_t dev, quac_algorithm_t alg, const char *label, uint8_t persistent,
                                     quac_key_handle_t *handle, uint8_t *pk, size_t pk_len);
/* ASSUMPTION: not named in the guide; decapsulation with a stored key. */
quac_result_t quac_kem_decaps_stored(quac_device_t dev, quac_key_handle_t handle, const uint8_t *ct, size_t ct_len,
                                     uint8_t *ss, size_t ss_len);
quac_result_t quac_sign_keygen_stored(quac_device_t dev, quac_algorithm_t alg, const char *label, uint8_t persistent,
                                      quac_key_handle_t *handle, uint8_t *pk, size_t pk_len);
/* Pure ML-DSA (FIPS 204 Alg. 2) with the context in opts; opts may be NULL (empty context, hedged). */
typedef struct {
  const uint8_t *context;
  size_t context_len;
  uint8_t deterministic; /* 0: hedged with the device's QRNG */
} quac_sign_options_t;
quac_result_t quac_sign_stored(quac_device_t dev, quac_key_handle_t handle, const uint8_t *msg, size_t msg_len,
                               const quac_sign_options_t *opts, uint8_t *sig, size_t sig_cap, size_t *sig_len);
/* ASSUMPTION: not named in the guide (its items list VERIFY for batches); one verification. */
quac_result_t quac_verify(quac_device_t dev, quac_algorithm_t alg, const uint8_t *pk, size_t pk_len,
                          const uint8_t *msg, size_t msg_len, const uint8_t *sig, size_t sig_len);
/* ASSUMPTION: not named in the guide. Looks a stored key up by label (the newest if several): its
 * handle, algorithm and public key, so a persistent key can be used by a later process. */
quac_result_t quac_key_find(quac_device_t dev, const char *label, quac_key_handle_t *handle, quac_algorithm_t *alg,
                            uint8_t *pk, size_t pk_cap, size_t *pk_len);
/* ASSUMPTION: not named in the guide (it names the attributes { extractable, persistent }). */
quac_result_t quac_key_get_attributes(quac_device_t dev, quac_key_handle_t handle, quac_key_attributes_t *attrs);
/* ASSUMPTION: not named in the guide. Refused with QUAC_ERROR_KEY_NOT_EXTRACTABLE for keys made non-extractable (all keys made here are). */
quac_result_t quac_key_export(quac_device_t dev, quac_key_handle_t handle, uint8_t *sk, size_t sk_cap, size_t *sk_len);
quac_result_t quac_key_destroy(quac_device_t dev, quac_key_handle_t handle);

/* ---- QRNG ----------------------------------------------------------------- */
quac_result_t quac_random_bytes(quac_device_t dev, uint8_t *buf, size_t len);

/* ---- batches -------------------------------------------------------------- */
typedef uint32_t quac_batch_op_t;
#define QUAC_BATCH_OP_KEM_KEYGEN 1u /* ASSUMPTION: values of the op codes */
#define QUAC_BATCH_OP_KEM_ENCAPS 2u
#define QUAC_BATCH_OP_KEM_DECAPS 3u
#define QUAC_BATCH_OP_SIGN_STORED 4u
#define QUAC_BATCH_OP_VERIFY 5u

/*
 * One item of a batch. Inputs: in1 (KEYGEN: unused; ENCAPS: pk; DECAPS: ct;
 * SIGN_STORED: msg; VERIFY: pk), in2 (DECAPS: sk; VERIFY: msg ‖ sig with
 * in2_split the message length), handle (SIGN_STORED). Outputs: out1 (KEYGEN:
 * pk; ENCAPS: ct; DECAPS: ss; SIGN_STORED: sig), out2 (KEYGEN: sk; ENCAPS:
 * ss), out1_len/out2_len written back, result per item.
 */
typedef struct {
  quac_batch_op_t op;
  quac_algorithm_t alg;
  quac_key_handle_t handle;
  const uint8_t *in1;
  size_t in1_len;
  const uint8_t *in2;
  size_t in2_len;
  size_t in2_split;
  uint8_t *out1;
  size_t out1_cap;
  size_t out1_len;
  uint8_t *out2;
  size_t out2_cap;
  size_t out2_len;
  quac_result_t result;
} quac_batch_item_t;

typedef struct {
  uint32_t max_parallel; /* 0: the device decides */
  uint32_t timeout_ms;   /* 0: no timeout */
} quac_batch_options_t;

typedef struct {
  uint32_t completed;
  uint32_t failed;
  uint64_t total_time_us;
} quac_batch_result_t;

quac_result_t quac_batch_execute(quac_device_t dev, quac_batch_item_t *items, uint32_t count,
                                 const quac_batch_options_t *opts, quac_batch_result_t *result);

/* ---- diagnostics ---------------------------------------------------------- */
#define QUAC_HEALTH_OK 0u           /* ASSUMPTION: status values */
#define QUAC_HEALTH_DEGRADED 1u
#define QUAC_HEALTH_OVER_TEMPERATURE 2u
#define QUAC_HEALTH_ENTROPY_LOW 3u
#define QUAC_HEALTH_SELF_TEST_FAILED 4u

typedef struct {
  float temperature_celsius;
  uint32_t entropy_available_bits;
  uint32_t status;
  uint64_t operations_total;
} quac_health_t;

quac_result_t quac_diag_get_health(quac_device_t dev, quac_health_t *health);
/* ASSUMPTION: not named in the guide. Runs the device's FIPS 203/204 known-answer self-tests now (also run by quac_init in FIPS mode). */
quac_result_t quac_diag_self_test(quac_device_t dev);

#ifdef __cplusplus
}
#endif
#endif /* QUAC100_H */
