/*
 * libquac100-double.c — a test double of the QUAC 100's libquac100.so: the
 * whole ABI of src/hw/quac100/quac100.h, computed in software by OpenSSL 3.5's
 * libcrypto (ML-KEM, ML-DSA, its DRBG standing in for the QRNG). It lets the
 * koffi path of NativeQuac100 run end to end without a card: same symbols,
 * same structures, same result codes, same byte formats (FIPS 203 / 204).
 *
 * What it models of the card, because NativeQuac100 and the provider rely on
 * it: one device; a key table with labels, where a persistent key outlives
 * quac_close (and quac_shutdown) for as long as the library stays loaded,
 * standing in for the card's storage, and a non-persistent one goes with the
 * close of its device; private keys that never leave (quac_key_export is
 * refused); batches with a result per item; health values; a self-test that
 * really runs one ML-KEM and one ML-DSA round trip. FIPS mode follows the
 * approved-mode policy of this project's emulated card (src/hw/quac100/
 * emulated.ts): self-tests at quac_init, hedged ML-DSA only, and no use of a
 * stored key generated outside FIPS mode (QUAC_ERROR_FIPS_NOT_APPROVED).
 *
 * Calls come from koffi's worker threads, so the shared state sits behind one
 * mutex, held only for table lookups, never across a crypto operation.
 *
 * Built by test/hw/native-device.test.ts:
 *   gcc -shared -fPIC -I<trixie>/usr/include … -lcrypto -Wl,-rpath,<trixie lib>
 */
#include "../../src/hw/quac100/quac100.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEVICE_COUNT 1u
#define MAX_KEYS 256
#define MAX_LABEL 128
#define SS_LEN 32

/* ---- algorithms ----------------------------------------------------------- */
typedef struct {
  quac_algorithm_t id;
  const char *name; /* OpenSSL's */
  int kem;
  size_t pk_len, sk_len, ct_or_sig_len;
} alg_info;

static const alg_info ALGS[] = {
    {QUAC_ALGORITHM_KYBER512, "ML-KEM-512", 1, 800, 1632, 768},
    {QUAC_ALGORITHM_KYBER768, "ML-KEM-768", 1, 1184, 2400, 1088},
    {QUAC_ALGORITHM_KYBER1024, "ML-KEM-1024", 1, 1568, 3168, 1568},
    {QUAC_ALGORITHM_DILITHIUM2, "ML-DSA-44", 0, 1312, 2560, 2420},
    {QUAC_ALGORITHM_DILITHIUM3, "ML-DSA-65", 0, 1952, 4032, 3309},
    {QUAC_ALGORITHM_DILITHIUM5, "ML-DSA-87", 0, 2592, 4896, 4627},
};

static const alg_info *find_alg(quac_algorithm_t id, int kem) {
  for (size_t i = 0; i < sizeof ALGS / sizeof ALGS[0]; i++)
    if (ALGS[i].id == id && ALGS[i].kem == kem) return &ALGS[i];
  return NULL;
}

/* ---- state ---------------------------------------------------------------- */
struct quac_device_s {
  uint32_t index;
  int open;
};

typedef struct {
  int used;
  quac_key_handle_t handle;
  const alg_info *alg;
  char label[MAX_LABEL];
  uint8_t persistent;
  uint8_t fips_generated;
  uint32_t device_index;
  EVP_PKEY *pkey;
} key_entry;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int initialized;
static int fips_mode;
static struct quac_device_s devices[DEVICE_COUNT];
static key_entry keys[MAX_KEYS];
/* Handles are 64-bit and above 2^53 on purpose: a binding that squeezes them through a JS number loses them. */
static quac_key_handle_t next_handle = 0x5155414300000001ull;
static uint64_t operations_total;

static void count_op(void) {
  pthread_mutex_lock(&lock);
  operations_total++;
  pthread_mutex_unlock(&lock);
}

/* A device pointer is valid when it is one of ours and open, under an initialised library. */
static quac_result_t check_device(quac_device_t dev) {
  quac_result_t r = QUAC_SUCCESS;
  pthread_mutex_lock(&lock);
  if (!initialized) r = QUAC_ERROR_NOT_INITIALIZED;
  else if (dev == NULL || dev < &devices[0] || dev >= &devices[DEVICE_COUNT]) r = QUAC_ERROR_INVALID_PARAMETER;
  else if (!dev->open) r = QUAC_ERROR_DEVICE_NOT_FOUND;
  pthread_mutex_unlock(&lock);
  return r;
}

/* ---- OpenSSL helpers ------------------------------------------------------ */
static EVP_PKEY *pkey_generate(const alg_info *a) {
  EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, a->name, NULL);
  EVP_PKEY *k = NULL;
  if (c == NULL || EVP_PKEY_keygen_init(c) <= 0 || EVP_PKEY_keygen(c, &k) <= 0) k = NULL;
  EVP_PKEY_CTX_free(c);
  return k;
}

/* A key from raw FIPS 203/204 bytes: "pub" (encapsulation / verification key) or "priv" (dk / sk). */
static EVP_PKEY *pkey_from_raw(const alg_info *a, const char *param, const uint8_t *b, size_t n) {
  EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, a->name, NULL);
  EVP_PKEY *k = NULL;
  OSSL_PARAM p[2] = {OSSL_PARAM_construct_octet_string(param, (void *)b, n), OSSL_PARAM_construct_end()};
  int selection = strcmp(param, OSSL_PKEY_PARAM_PRIV_KEY) == 0 ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY;
  if (c == NULL || EVP_PKEY_fromdata_init(c) <= 0 || EVP_PKEY_fromdata(c, &k, selection, p) <= 0) k = NULL;
  EVP_PKEY_CTX_free(c);
  return k;
}

static int pkey_raw(EVP_PKEY *k, const char *param, uint8_t *out, size_t cap, size_t *len) {
  return EVP_PKEY_get_octet_string_param(k, param, out, cap, len) > 0;
}

static quac_result_t encaps_with(EVP_PKEY *k, uint8_t *ct, size_t *ct_len, uint8_t *ss, size_t *ss_len) {
  EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);
  quac_result_t r = QUAC_ERROR_INTERNAL;
  if (c != NULL && EVP_PKEY_encapsulate_init(c, NULL) > 0 && EVP_PKEY_encapsulate(c, ct, ct_len, ss, ss_len) > 0)
    r = QUAC_SUCCESS;
  EVP_PKEY_CTX_free(c);
  return r;
}

static quac_result_t decaps_with(EVP_PKEY *k, const uint8_t *ct, size_t ct_len, uint8_t *ss, size_t *ss_len) {
  EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);
  quac_result_t r = QUAC_ERROR_INTERNAL;
  if (c != NULL && EVP_PKEY_decapsulate_init(c, NULL) > 0 && EVP_PKEY_decapsulate(c, ss, ss_len, ct, ct_len) > 0)
    r = QUAC_SUCCESS;
  EVP_PKEY_CTX_free(c);
  return r;
}

/* Pure ML-DSA (FIPS 204 Alg. 2): EVP_DigestSign with no digest, the context string and determinism as parameters. */
static quac_result_t sign_with(EVP_PKEY *k, const uint8_t *msg, size_t msg_len, const quac_sign_options_t *opts,
                               uint8_t *sig, size_t *sig_len) {
  int deterministic = opts != NULL && opts->deterministic;
  OSSL_PARAM p[3];
  size_t np = 0;
  if (opts != NULL && opts->context_len > 0)
    p[np++] = OSSL_PARAM_construct_octet_string(OSSL_SIGNATURE_PARAM_CONTEXT_STRING, (void *)opts->context,
                                                opts->context_len);
  p[np++] = OSSL_PARAM_construct_int(OSSL_SIGNATURE_PARAM_DETERMINISTIC, &deterministic);
  p[np] = OSSL_PARAM_construct_end();
  EVP_MD_CTX *m = EVP_MD_CTX_new();
  quac_result_t r = QUAC_ERROR_INTERNAL;
  if (m != NULL && EVP_DigestSignInit_ex(m, NULL, NULL, NULL, NULL, k, p) > 0 &&
      EVP_DigestSign(m, sig, sig_len, msg, msg_len) > 0)
    r = QUAC_SUCCESS;
  EVP_MD_CTX_free(m);
  return r;
}

static quac_result_t verify_with(EVP_PKEY *k, const uint8_t *msg, size_t msg_len, const uint8_t *sig, size_t sig_len) {
  EVP_MD_CTX *m = EVP_MD_CTX_new();
  quac_result_t r = QUAC_ERROR_INTERNAL;
  if (m != NULL && EVP_DigestVerifyInit_ex(m, NULL, NULL, NULL, NULL, k, NULL) > 0)
    r = EVP_DigestVerify(m, sig, sig_len, msg, msg_len) == 1 ? QUAC_SUCCESS : QUAC_ERROR_VERIFICATION_FAILED;
  EVP_MD_CTX_free(m);
  return r;
}

/* One ML-KEM-768 round trip and one ML-DSA-65 sign/verify, plus a corrupted signature that must fail. */
static int self_test_passes(void) {
  const alg_info *kem = find_alg(QUAC_ALGORITHM_KYBER768, 1), *dsa = find_alg(QUAC_ALGORITHM_DILITHIUM3, 0);
  EVP_PKEY *k = pkey_generate(kem), *s = pkey_generate(dsa);
  uint8_t ct[1088], ss1[SS_LEN], ss2[SS_LEN], sig[3309], bad[3309];
  size_t ct_len = sizeof ct, l1 = SS_LEN, l2 = SS_LEN, sig_len = sizeof sig;
  int ok = k != NULL && s != NULL && encaps_with(k, ct, &ct_len, ss1, &l1) == QUAC_SUCCESS &&
           decaps_with(k, ct, ct_len, ss2, &l2) == QUAC_SUCCESS && l1 == SS_LEN && memcmp(ss1, ss2, SS_LEN) == 0 &&
           sign_with(s, ct, ct_len, NULL, sig, &sig_len) == QUAC_SUCCESS &&
           verify_with(s, ct, ct_len, sig, sig_len) == QUAC_SUCCESS;
  if (ok) {
    memcpy(bad, sig, sig_len);
    bad[0] ^= 1;
    ok = verify_with(s, ct, ct_len, bad, sig_len) == QUAC_ERROR_VERIFICATION_FAILED;
  }
  EVP_PKEY_free(k);
  EVP_PKEY_free(s);
  return ok;
}

/* ---- library and devices -------------------------------------------------- */
quac_result_t quac_init(uint32_t options) {
  if (options & ~QUAC_INIT_FIPS_MODE) return QUAC_ERROR_INVALID_PARAMETER;
  int fips = (options & QUAC_INIT_FIPS_MODE) != 0;
  pthread_mutex_lock(&lock);
  if (initialized) {
    /* Initialising again is a no-op in the same mode; switching modes needs a shutdown first. */
    quac_result_t r = fips_mode == fips ? QUAC_SUCCESS : QUAC_ERROR_INVALID_PARAMETER;
    pthread_mutex_unlock(&lock);
    return r;
  }
  initialized = 1;
  fips_mode = fips;
  for (uint32_t i = 0; i < DEVICE_COUNT; i++) devices[i].index = i;
  pthread_mutex_unlock(&lock);
  /* FIPS mode: the self-tests run before any device is handed out. */
  if (fips && !self_test_passes()) {
    pthread_mutex_lock(&lock);
    initialized = 0;
    pthread_mutex_unlock(&lock);
    return QUAC_ERROR_SELF_TEST_FAILED;
  }
  return QUAC_SUCCESS;
}

/* Drops the keys of one device, or of all devices when index is DEVICE_COUNT; persistent ones stay. Lock held. */
static void drop_session_keys(uint32_t index) {
  for (int i = 0; i < MAX_KEYS; i++)
    if (keys[i].used && !keys[i].persistent && (index == DEVICE_COUNT || keys[i].device_index == index)) {
      EVP_PKEY_free(keys[i].pkey);
      memset(&keys[i], 0, sizeof keys[i]);
    }
}

quac_result_t quac_shutdown(void) {
  pthread_mutex_lock(&lock);
  if (!initialized) {
    pthread_mutex_unlock(&lock);
    return QUAC_ERROR_NOT_INITIALIZED;
  }
  for (uint32_t i = 0; i < DEVICE_COUNT; i++) devices[i].open = 0;
  drop_session_keys(DEVICE_COUNT);
  initialized = 0;
  pthread_mutex_unlock(&lock);
  return QUAC_SUCCESS;
}

quac_result_t quac_device_count(uint32_t *count) {
  if (count == NULL) return QUAC_ERROR_INVALID_PARAMETER;
  pthread_mutex_lock(&lock);
  quac_result_t r = initialized ? QUAC_SUCCESS : QUAC_ERROR_NOT_INITIALIZED;
  if (initialized) *count = DEVICE_COUNT;
  pthread_mutex_unlock(&lock);
  return r;
}

quac_result_t quac_open(uint32_t index, quac_device_t *device) {
  if (device == NULL) return QUAC_ERROR_INVALID_PARAMETER;
  pthread_mutex_lock(&lock);
  quac_result_t r = QUAC_SUCCESS;
  if (!initialized) r = QUAC_ERROR_NOT_INITIALIZED;
  else if (index >= DEVICE_COUNT) r = QUAC_ERROR_DEVICE_NOT_FOUND;
  else if (devices[index].open) r = QUAC_ERROR_BUSY;
  else {
    devices[index].open = 1;
    *device = &devices[index];
  }
  pthread_mutex_unlock(&lock);
  return r;
}

quac_result_t quac_close(quac_device_t dev) {
  quac_result_t r = check_device(dev);
  if (QUAC_FAILED(r)) return r;
  pthread_mutex_lock(&lock);
  dev->open = 0;
  drop_session_keys(dev->index);
  pthread_mutex_unlock(&lock);
  return QUAC_SUCCESS;
}

/* ---- KEM ------------------------------------------------------------------ */
quac_result_t quac_kem_keygen(quac_device_t dev, quac_algorithm_t alg, uint8_t *pk, size_t pk_len, uint8_t *sk,
                              size_t sk_len) {
  quac_result_t r = check_device(dev);
  if (QUAC_FAILED(r)) return r;
  const alg_info *a = find_alg(alg, 1);
  if (a == NULL) return QUAC_ERROR_UNSUPPORTED_ALGORITHM;
  if (pk == NULL || sk == NULL) return QUAC_ERROR_INVALID_PARAMETER;
  if (pk_len < a->pk_len || sk_len < a->sk_len) return QUAC_ERROR_BUFFER_TOO_SMALL;
  EVP_PKEY *k = pkey_generate(a);
  size_t l1 = 0, l2 = 0;
  r = k != NULL && pkey_raw(k, OSSL_PKEY_PARAM_PUB_KEY, pk, pk_len, &l1) &&
              pkey_raw(k, OSSL_PKEY_PARAM_PRIV_KEY, sk, sk_len, &l2)
          ? QUAC_SUCCESS
          : QUAC_ERROR_INTERNAL;
  EVP_PKEY_free(k);
  if (QUAC_SUCCEEDED(r)) count_op();
  return r;
}

quac_result_t quac_kem_encaps(quac_device_t dev, quac_algorithm_t alg, const uint8_t *pk, size_t pk_len, uint8_t *ct,
                              size_t ct_len, uint8_t *ss, size_t ss_len) {
  quac_result_t r = check_device(dev);
  if (QUAC_FAILED(r)) return r;
  const alg_info *a = find_alg(alg, 1);
  if (a == NULL) return QUAC_ERROR_UNSUPPORTED_ALGORITHM;
  if (pk == NULL || ct == NULL || ss == NULL || pk_len != a->pk_len) return QUAC_ERROR_INVALID_PARAMETER;
  if (ct_len < a->ct_or_sig_len || ss_len < SS_LEN) return QUAC_ERROR_BUFFER_TOO_SMALL;
  /* FIPS 203 §7.2's modulus check is part of OpenSSL's import: a bad key is refused here. */
  EVP_PKEY *k = pkey_from_raw(a, OSSL_PKEY_PARAM_PUB_KEY, pk, pk_len);
  if (k == NULL) return QUAC_ERROR_INVALID_PARAMETER;
  r = encaps_with(k, ct, &ct_len, ss, &ss_len);
  EVP_PKEY_free(k);
  if (QUAC_SUCCEEDED(r)) count_op();
  return r;
}

quac_result_t quac_kem_decaps(quac_device_t dev, quac_algorithm_t alg, const uint8_t *ct, size_t ct_len,
                              const uint8_t *sk, size_t sk_len, uint8_t *ss, size_t ss_len) {
  quac_result_t r = check_device(dev);
  if (QUAC_FAILED(r)) return r;
  const alg_info *a = find_alg(alg, 1);
  if (a == NULL) return QUAC_ERROR_UNSUPPORTED_ALGORITHM;
  if (ct == NULL || sk == NULL || ss == NULL || ct_len != a->ct_or_sig_len || sk_len != a->sk_len)
    return QUAC_ERROR_INVALID_PARAMETER;
  if (ss_len < SS_LEN) return QUAC_ERROR_BUFFER_TOO_SMALL;
  EVP_PKEY *k = pkey_from_raw(a, OSSL_PKEY_PARAM_PRIV_KEY, sk, sk_len);
  if (k == NULL) return QUAC_ERROR_INVALID_PARAMETER;
  r = decaps_with(k, ct, ct_len, ss, &ss_len);
  EVP_PKEY_free(k);
  if (QUAC_SUCCEEDED(r)) count_op();
  return r;
}

/* ---- stored keys ---------------------------------------------------------- */
static quac_result_t keygen_stored(quac_device_t dev, quac_algorithm_t alg, int kem, const char *label,
                                   uint8_t persistent, quac_key_handle_t *handle, uint8_t *pk, size_t pk_len) {
  quac_result_t r = check_device(dev);
  if (QUAC_FAILED(r)) return r;
  const alg_info *a = find_alg(alg, kem);
  if (a == NULL) return QUAC_ERROR_UNSUPPORTED_ALGORITHM;
  if (label == NULL || strlen(label) >= MAX_LABEL || handle == NULL || pk == NULL || persistent > 1)
    return QUAC_ERROR_INVALID_PARAMETER;
  if (pk_len < a->pk_len) return QUAC_ERROR_BUFFER_TOO_SMALL;
  EVP_PKEY *k = pkey_generate(a);
  size_t l = 0;
  if (k == NULL || !pkey_raw(k, OSSL_PKEY_PARAM_PUB_KEY, pk, pk_len, &l)) {
    EVP_PKEY_free(k);
    return QUAC_ERROR_INTERNAL;
  }
  pthread_mutex_lock(&lock);
  r = QUAC_ERROR_OUT_OF_MEMORY; /* the card's key storage is full */
  for (int i = 0; i < MAX_KEYS; i++)
    if (!keys[i].used) {
      keys[i] = (key_entry){.used = 1, .handle = next_handle++, .alg = a, .persistent = persistent,
                            .fips_generated = (uint8_t)fips_mode, .device_index = dev->index, .pkey = k};
      strcpy(keys[i].label, label);
      *handle = keys[i].handle;
      operations_total++;
      r = QUAC_SUCCESS;
      break;
    }
  pthread_mutex_unlock(&lock);
  if (QUAC_FAILED(r)) EVP_PKEY_free(k);
  return r;
}

quac_result_t quac_kem_keygen_stored(quac_device_t dev, quac_algorithm_t alg, const char *label, uint8_t persistent,
                                     quac_key_handle_t *handle, uint8_t *pk, size_t pk_len) {
  return keygen_stored(dev, alg, 1, label, persistent, handle, pk, pk_len);
}

quac_result_t quac_sign_keygen_stored(quac_device_t dev, quac_algorithm_t alg, const char *label, uint8_t persistent,
                                      quac_key_handle_t *handle, uint8_t *pk, size_t pk_len) {
  return keygen_stored(dev, alg, 0, label, persistent, handle, pk, pk_len);
}

/* The stored key with this handle, with a reference the caller frees; NULL when there is none. */
static EVP_PKEY *take_key(quac_key_handle_t handle, const alg_info **alg, key_entry *copy) {
  EVP_PKEY *k = NULL;
  pthread_mutex_lock(&lock);
  for (int i = 0; i < MAX_KEYS; i++)
    if (keys[i].used && keys[i].handle == handle) {
      if (EVP_PKEY_up_ref(keys[i].pkey) > 0) k = keys[i].pkey;
      if (alg != NULL) *alg = keys[i].alg;
      if (copy != NULL) *copy = keys[i];
      break;
    }
  pthread_mutex_unlock(&lock);
  return k;
}

/* FIPS mode does not use a key generated outside it. */
static int key_approved(const key_entry *e) {
  pthread_mutex_lock(&lock);
  int ok = !fips_mode || e->fips_generated;
  pthread_mutex_unlock(&lock);
  return ok;
}

static int fips_active(void) {
  pthread_mutex_lock(&lock);
  int f = fips_mode;
  pthread_mutex_unlock(&lock);
  return f;
}

quac_result_t quac_kem_decaps_stored(quac_device_t dev, quac_key_handle_t handle, const uint8_t *ct, size_t ct_len,
                                     uint8_t *ss, size_t ss_len) {
  quac_result_t r = check_device(dev);
  if (QUAC_FAILED(r)) return r;
  const alg_info *a = NULL;
  key_entry e;
  EVP_PKEY *k = take_key(handle, &a, &e);
  if (k == NULL) return QUAC_ERROR_KEY_NOT_FOUND;
  if (!key_approved(&e)) r = QUAC_ERROR_FIPS_NOT_APPROVED;
  else if (!a->kem || ct == NULL || ss == NULL || ct_len != a->ct_or_sig_len) r = QUAC_ERROR_INVALID_PARAMETER;
  else if (ss_len < SS_LEN) r = QUAC_ERROR_BUFFER_TOO_SMALL;
  else r = decaps_with(k, ct, ct_len, ss, &ss_len);
  EVP_PKEY_free(k);
  if (QUAC_SUCCEEDED(r)) count_op();
  return r;
}

quac_result_t quac_sign_stored(quac_device_t dev, quac_key_handle_t handle, const uint8_t *msg, size_t msg_len,
                               const quac_sign_options_t *opts, uint8_t *sig, size_t sig_cap, size_t *sig_len) {
  quac_result_t r = check_device(dev);
  if (QUAC_FAILED(r)) return r;
  const alg_info *a = NULL;
  key_entry e;
  EVP_PKEY *k = take_key(handle, &a, &e);
  if (k == NULL) return QUAC_ERROR_KEY_NOT_FOUND;
  if (!key_approved(&e)) r = QUAC_ERROR_FIPS_NOT_APPROVED;
  else if (a->kem || (msg == NULL && msg_len > 0) || sig == NULL || sig_len == NULL ||
      (opts != NULL && (opts->context_len > 255 || (opts->context == NULL && opts->context_len > 0))))
    r = QUAC_ERROR_INVALID_PARAMETER;
  /* Approved-mode policy: ML-DSA is hedged only (FIPS 204 §3.4 recommends it). */
  else if (opts != NULL && opts->deterministic && fips_active()) r = QUAC_ERROR_FIPS_NOT_APPROVED;
  else if (sig_cap < a->ct_or_sig_len) r = QUAC_ERROR_BUFFER_TOO_SMALL;
  else {
    size_t l = sig_cap;
    static const uint8_t empty[1];
    r = sign_with(k, msg != NULL ? msg : empty, msg_len, opts, sig, &l);
    if (QUAC_SUCCEEDED(r)) *sig_len = l;
  }
  EVP_PKEY_free(k);
  if (QUAC_SUCCEEDED(r)) count_op();
  return r;
}

quac_result_t quac_verify(quac_device_t dev, quac_algorithm_t alg, const uint8_t *pk, size_t pk_len,
                          const uint8_t *msg, size_t msg_len, const uint8_t *sig, size_t sig_len) {
  quac_result_t r = check_device(dev);
  if (QUAC_FAILED(r)) return r;
  const alg_info *a = find_alg(alg, 0);
  if (a == NULL) return QUAC_ERROR_UNSUPPORTED_ALGORITHM;
  if (pk == NULL || pk_len != a->pk_len || (msg == NULL && msg_len > 0) || sig == NULL)
    return QUAC_ERROR_INVALID_PARAMETER;
  /* A signature of the wrong length is a signature that does not verify, not a caller error. */
  if (sig_len != a->ct_or_sig_len) return QUAC_ERROR_VERIFICATION_FAILED;
  EVP_PKEY *k = pkey_from_raw(a, OSSL_PKEY_PARAM_PUB_KEY, pk, pk_len);
  if (k == NULL) return QUAC_ERROR_INVALID_PARAMETER;
  static const uint8_t empty[1];
  r = verify_with(k, msg != NULL ? msg : empty, msg_len, sig, sig_len);
  EVP_PKEY_free(k);
  count_op();
  return r;
}

quac_result_t quac_key_find(quac_device_t dev, const char *label, quac_key_handle_t *handle, quac_algorithm_t *alg,
                            uint8_t *pk, size_t pk_cap, size_t *pk_len) {
  quac_result_t r = check_device(dev);
  if (QUAC_FAILED(r)) return r;
  if (label == NULL || handle == NULL || alg == NULL || pk == NULL || pk_len == NULL) return QUAC_ERROR_INVALID_PARAMETER;
  key_entry found = {0};
  pthread_mutex_lock(&lock);
  for (int i = 0; i < MAX_KEYS; i++)
    if (keys[i].used && strcmp(keys[i].label, label) == 0 && (!found.used || keys[i].handle > found.handle))
      found = keys[i];
  if (found.used) EVP_PKEY_up_ref(found.pkey);
  pthread_mutex_unlock(&lock);
  if (!found.used) return QUAC_ERROR_KEY_NOT_FOUND;
  size_t l = 0;
  if (pk_cap < found.alg->pk_len) r = QUAC_ERROR_BUFFER_TOO_SMALL;
  else if (!pkey_raw(found.pkey, OSSL_PKEY_PARAM_PUB_KEY, pk, pk_cap, &l)) r = QUAC_ERROR_INTERNAL;
  else {
    *handle = found.handle;
    *alg = found.alg->id;
    *pk_len = l;
  }
  EVP_PKEY_free(found.pkey);
  return r;
}

quac_result_t quac_key_get_attributes(quac_device_t dev, quac_key_handle_t handle, quac_key_attributes_t *attrs) {
  quac_result_t r = check_device(dev);
  if (QUAC_FAILED(r)) return r;
  if (attrs == NULL) return QUAC_ERROR_INVALID_PARAMETER;
  key_entry e;
  EVP_PKEY *k = take_key(handle, NULL, &e);
  if (k == NULL) return QUAC_ERROR_KEY_NOT_FOUND;
  EVP_PKEY_free(k);
  attrs->extractable = 0;
  attrs->persistent = e.persistent;
  return QUAC_SUCCESS;
}

quac_result_t quac_key_export(quac_device_t dev, quac_key_handle_t handle, uint8_t *sk, size_t sk_cap, size_t *sk_len) {
  quac_result_t r = check_device(dev);
  if (QUAC_FAILED(r)) return r;
  (void)sk;
  (void)sk_cap;
  (void)sk_len;
  EVP_PKEY *k = take_key(handle, NULL, NULL);
  if (k == NULL) return QUAC_ERROR_KEY_NOT_FOUND;
  EVP_PKEY_free(k);
  /* Every key here is made with extractable = 0: the private key never crosses the ABI. */
  return QUAC_ERROR_KEY_NOT_EXTRACTABLE;
}

quac_result_t quac_key_destroy(quac_device_t dev, quac_key_handle_t handle) {
  quac_result_t r = check_device(dev);
  if (QUAC_FAILED(r)) return r;
  r = QUAC_ERROR_KEY_NOT_FOUND;
  pthread_mutex_lock(&lock);
  for (int i = 0; i < MAX_KEYS; i++)
    if (keys[i].used && keys[i].handle == handle) {
      EVP_PKEY_free(keys[i].pkey);
      memset(&keys[i], 0, sizeof keys[i]);
      r = QUAC_SUCCESS;
      break;
    }
  pthread_mutex_unlock(&lock);
  return r;
}

/* ---- QRNG ----------------------------------------------------------------- */
quac_result_t quac_random_bytes(quac_device_t dev, uint8_t *buf, size_t len) {
  quac_result_t r = check_device(dev);
  if (QUAC_FAILED(r)) return r;
  if (buf == NULL && len > 0) return QUAC_ERROR_INVALID_PARAMETER;
  if (len > 0x7fffffff) return QUAC_ERROR_INVALID_PARAMETER;
  if (len > 0 && RAND_bytes(buf, (int)len) != 1) return QUAC_ERROR_ENTROPY_LOW;
  count_op();
  return QUAC_SUCCESS;
}

/* ---- batches -------------------------------------------------------------- */
static uint64_t now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000u + (uint64_t)t.tv_nsec / 1000u;
}

static quac_result_t run_item(quac_device_t dev, quac_batch_item_t *it) {
  const alg_info *a;
  it->out1_len = 0;
  it->out2_len = 0;
  switch (it->op) {
    case QUAC_BATCH_OP_KEM_KEYGEN:
      if ((a = find_alg(it->alg, 1)) == NULL) return QUAC_ERROR_UNSUPPORTED_ALGORITHM;
    {
      quac_result_t r = quac_kem_keygen(dev, it->alg, it->out1, it->out1_cap, it->out2, it->out2_cap);
      if (QUAC_SUCCEEDED(r)) {
        it->out1_len = a->pk_len;
        it->out2_len = a->sk_len;
      }
      return r;
    }
    case QUAC_BATCH_OP_KEM_ENCAPS: {
      if ((a = find_alg(it->alg, 1)) == NULL) return QUAC_ERROR_UNSUPPORTED_ALGORITHM;
      quac_result_t r = quac_kem_encaps(dev, it->alg, it->in1, it->in1_len, it->out1, it->out1_cap, it->out2, it->out2_cap);
      if (QUAC_SUCCEEDED(r)) {
        it->out1_len = a->ct_or_sig_len;
        it->out2_len = SS_LEN;
      }
      return r;
    }
    case QUAC_BATCH_OP_KEM_DECAPS: {
      quac_result_t r = quac_kem_decaps(dev, it->alg, it->in1, it->in1_len, it->in2, it->in2_len, it->out1, it->out1_cap);
      if (QUAC_SUCCEEDED(r)) it->out1_len = SS_LEN;
      return r;
    }
    case QUAC_BATCH_OP_SIGN_STORED:
      return quac_sign_stored(dev, it->handle, it->in1, it->in1_len, NULL, it->out1, it->out1_cap, &it->out1_len);
    case QUAC_BATCH_OP_VERIFY:
      if (it->in2_split > it->in2_len) return QUAC_ERROR_INVALID_PARAMETER;
      return quac_verify(dev, it->alg, it->in1, it->in1_len, it->in2, it->in2_split, it->in2 + it->in2_split,
                         it->in2_len - it->in2_split);
    default:
      return QUAC_ERROR_INVALID_PARAMETER;
  }
}

quac_result_t quac_batch_execute(quac_device_t dev, quac_batch_item_t *items, uint32_t count,
                                 const quac_batch_options_t *opts, quac_batch_result_t *result) {
  quac_result_t r = check_device(dev);
  if (QUAC_FAILED(r)) return r;
  if ((items == NULL && count > 0) || result == NULL) return QUAC_ERROR_INVALID_PARAMETER;
  uint64_t start = now_us();
  uint64_t deadline = opts != NULL && opts->timeout_ms > 0 ? start + (uint64_t)opts->timeout_ms * 1000u : 0;
  result->completed = 0;
  result->failed = 0;
  for (uint32_t i = 0; i < count; i++) {
    /* Items the deadline overtakes are not started; each says so itself. */
    items[i].result = deadline != 0 && now_us() > deadline ? QUAC_ERROR_TIMEOUT : run_item(dev, &items[i]);
    /* A signature that does not verify is a completed verification. */
    if (QUAC_SUCCEEDED(items[i].result) || items[i].result == QUAC_ERROR_VERIFICATION_FAILED) result->completed++;
    else result->failed++;
  }
  result->total_time_us = now_us() - start;
  return QUAC_SUCCESS;
}

/* ---- diagnostics ---------------------------------------------------------- */
quac_result_t quac_diag_get_health(quac_device_t dev, quac_health_t *health) {
  quac_result_t r = check_device(dev);
  if (QUAC_FAILED(r)) return r;
  if (health == NULL) return QUAC_ERROR_INVALID_PARAMETER;
  pthread_mutex_lock(&lock);
  health->temperature_celsius = 41.5f;
  health->entropy_available_bits = 4096;
  health->status = QUAC_HEALTH_OK;
  health->operations_total = operations_total;
  pthread_mutex_unlock(&lock);
  return QUAC_SUCCESS;
}

quac_result_t quac_diag_self_test(quac_device_t dev) {
  quac_result_t r = check_device(dev);
  if (QUAC_FAILED(r)) return r;
  return self_test_passes() ? QUAC_SUCCESS : QUAC_ERROR_SELF_TEST_FAILED;
}
