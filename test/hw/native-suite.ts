/**
 * NativeQuac100 through koffi, one test per function of quac100.h, against a
 * library that really computes: the OpenSSL 3.5 test double
 * (libquac100-double.c). Registered by native-device.test.ts in the process
 * that can load the double (see native-double.ts). The cross-checks hold the
 * double — and so the bytes crossing the FFI — to noble, an implementation of
 * FIPS 203 and FIPS 204 that shares no code with OpenSSL.
 */
import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js';
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { QuacAlgorithm, QuacError, QuacHealthStatus, QuacResult, type QuacDevice } from '../../src/hw/quac100/device.js';
import { nativeQuacLibrary } from '../../src/hw/quac100/native.js';

const KEM = QuacAlgorithm.KYBER768;
const DSA = QuacAlgorithm.DILITHIUM3;
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Rejects with a QuacError of this result, named after this C function. */
async function rejectsWith(p: Promise<unknown>, result: keyof typeof QuacResult, fn: string): Promise<void> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e, `${fn} should have failed with ${result}`).toBeInstanceOf(QuacError);
  expect((e as QuacError).resultName).toBe(result);
  expect((e as QuacError).code).toBe(QuacResult[result]);
  expect((e as QuacError).message.startsWith(`${fn}:`)).toBe(true);
}

export function nativeDeviceSuite(library: string): void {
  const lib = nativeQuacLibrary({ library });
  let dev: QuacDevice;

  describe('NativeQuac100 over koffi, one quac100.h function at a time', () => {
    beforeAll(async () => {
      await lib.init({});
      dev = await lib.open(0);
    });
    afterAll(async () => {
      await dev.close();
      await lib.shutdown();
    });

    it('quac_device_count and quac_open: one device; an index past it is DEVICE_NOT_FOUND, an open one BUSY', async () => {
      expect(await lib.deviceCount()).toBe(1);
      await rejectsWith(lib.open(1), 'DEVICE_NOT_FOUND', 'quac_open');
      await rejectsWith(lib.open(0), 'BUSY', 'quac_open');
    });

    it('quac_kem_keygen: FIPS 203 key sizes for the three parameter sets; a signature algorithm is UNSUPPORTED_ALGORITHM', async () => {
      for (const [alg, pk, sk] of [[QuacAlgorithm.KYBER512, 800, 1632], [KEM, 1184, 2400], [QuacAlgorithm.KYBER1024, 1568, 3168]] as const) {
        const k = await dev.kemKeygen(alg);
        expect([k.publicKey.length, k.secretKey.length]).toEqual([pk, sk]);
      }
      const a = await dev.kemKeygen(KEM);
      const b = await dev.kemKeygen(KEM);
      expect(a.publicKey).not.toEqual(b.publicKey);
      await rejectsWith(dev.kemKeygen(DSA), 'UNSUPPORTED_ALGORITHM', 'quac_kem_keygen');
    });

    it('quac_kem_encaps / quac_kem_decaps: both sides agree; a public key of the wrong length is INVALID_PARAMETER', async () => {
      const k = await dev.kemKeygen(KEM);
      const { ciphertext, sharedSecret } = await dev.kemEncaps(KEM, k.publicKey);
      expect(ciphertext.length).toBe(1088);
      expect(sharedSecret.length).toBe(32);
      expect(await dev.kemDecaps(KEM, ciphertext, k.secretKey)).toEqual(sharedSecret);
      await rejectsWith(dev.kemEncaps(KEM, k.publicKey.subarray(1)), 'INVALID_PARAMETER', 'quac_kem_encaps');
      await rejectsWith(dev.kemDecaps(KEM, ciphertext.subarray(1), k.secretKey), 'INVALID_PARAMETER', 'quac_kem_decaps');
    });

    it('FIPS 203 cross-check: the double decapsulates noble\'s ciphertexts, noble decapsulates the double\'s', async () => {
      const mine = await dev.kemKeygen(KEM);
      const n = ml_kem768.encapsulate(mine.publicKey);
      expect(await dev.kemDecaps(KEM, n.cipherText, mine.secretKey)).toEqual(n.sharedSecret);

      const theirs = ml_kem768.keygen();
      const d = await dev.kemEncaps(KEM, theirs.publicKey);
      expect(ml_kem768.decapsulate(d.ciphertext, theirs.secretKey)).toEqual(d.sharedSecret);

      // FIPS 203 §6.3 implicit rejection: a tampered ciphertext yields the same pseudo-random secret in both.
      const bad = n.cipherText.slice();
      bad[5] = (bad[5] ?? 0) ^ 0x40;
      const rejected = await dev.kemDecaps(KEM, bad, mine.secretKey);
      expect(rejected).toEqual(ml_kem768.decapsulate(bad, mine.secretKey));
      expect(rejected).not.toEqual(n.sharedSecret);
    });

    it('quac_kem_keygen_stored / quac_kem_decaps_stored: the private key stays on the device and still decapsulates', async () => {
      const k = await dev.kemKeygenStored(KEM, 'kem-a', false);
      expect(k.publicKey.length).toBe(1184);
      const n = ml_kem768.encapsulate(k.publicKey);
      expect(await dev.kemDecapsStored(k.handle, n.cipherText)).toEqual(n.sharedSecret);
      await rejectsWith(dev.kemDecapsStored(k.handle + 1000n, n.cipherText), 'KEY_NOT_FOUND', 'quac_kem_decaps_stored');
      await dev.keyDestroy(k.handle);
    });

    it('quac_sign_keygen_stored / quac_sign_stored / quac_verify: pure ML-DSA-65 that noble verifies, context included', async () => {
      const k = await dev.signKeygenStored(DSA, 'sig-a', false);
      expect(k.publicKey.length).toBe(1952);
      const msg = enc('TLS 1.3, server CertificateVerify');
      const sig = await dev.signStored(k.handle, msg);
      expect(sig.length).toBe(3309);
      expect(ml_dsa65.verify(sig, msg, k.publicKey)).toBe(true);
      expect(await dev.verify(DSA, k.publicKey, msg, sig)).toBe(true);

      const context = enc('pqtls');
      const withCtx = await dev.signStored(k.handle, msg, { context });
      expect(ml_dsa65.verify(withCtx, msg, k.publicKey, { context })).toBe(true);
      expect(ml_dsa65.verify(withCtx, msg, k.publicKey)).toBe(false); // the context is bound in (FIPS 204 Alg. 2)

      // noble's signature verifies on the device; a flipped bit or another message does not, and that is `false`, not an error.
      const keys = ml_dsa65.keygen();
      const nobleSig = ml_dsa65.sign(msg, keys.secretKey);
      expect(await dev.verify(DSA, keys.publicKey, msg, nobleSig)).toBe(true);
      expect(await dev.verify(DSA, keys.publicKey, enc('another'), nobleSig)).toBe(false);
      const flipped = nobleSig.slice();
      flipped[100] = (flipped[100] ?? 0) ^ 1;
      expect(await dev.verify(DSA, keys.publicKey, msg, flipped)).toBe(false);
      await rejectsWith(dev.verify(QuacAlgorithm.KYBER768, keys.publicKey, msg, nobleSig), 'UNSUPPORTED_ALGORITHM', 'quac_verify');
      await dev.keyDestroy(k.handle);
    });

    it('quac_sign_stored: deterministic signing repeats itself, hedged signing does not, both verify with noble', async () => {
      const k = await dev.signKeygenStored(DSA, 'sig-det', false);
      const msg = enc('same message');
      const a = await dev.signStored(k.handle, msg, { deterministic: true });
      const b = await dev.signStored(k.handle, msg, { deterministic: true });
      expect(a).toEqual(b);
      const h1 = await dev.signStored(k.handle, msg);
      const h2 = await dev.signStored(k.handle, msg);
      expect(h1).not.toEqual(h2);
      expect(ml_dsa65.verify(h1, msg, k.publicKey) && ml_dsa65.verify(h2, msg, k.publicKey)).toBe(true);
      await rejectsWith(dev.signStored(k.handle, msg, { context: new Uint8Array(256) }), 'INVALID_PARAMETER', 'quac_sign_stored');
      const kemKey = await dev.kemKeygenStored(KEM, 'not-a-signing-key', false);
      await rejectsWith(dev.signStored(kemKey.handle, msg), 'INVALID_PARAMETER', 'quac_sign_stored');
      await dev.keyDestroy(kemKey.handle);
      await dev.keyDestroy(k.handle);
    });

    it('handles are uint64 and cross the FFI exactly (the double issues them above 2^53)', async () => {
      const k = await dev.signKeygenStored(DSA, 'big-handle', false);
      expect(typeof k.handle).toBe('bigint');
      expect(k.handle > BigInt(Number.MAX_SAFE_INTEGER)).toBe(true);
      const found = await dev.keyFind('big-handle');
      expect(found?.handle).toBe(k.handle);
      await dev.keyDestroy(k.handle);
    });

    it('quac_key_find: the newest key with the label, its algorithm and public key; none is undefined', async () => {
      const old = await dev.signKeygenStored(DSA, 'server-key', false);
      const newer = await dev.signKeygenStored(DSA, 'server-key', false);
      const found = await dev.keyFind('server-key');
      expect(found).toEqual({ handle: newer.handle, alg: DSA, publicKey: newer.publicKey });
      expect(await dev.keyFind('no such label')).toBeUndefined();
      await rejectsWith(dev.keyFind('nul\0inside'), 'INVALID_PARAMETER', 'quac_key_find');
      await dev.keyDestroy(old.handle);
      await dev.keyDestroy(newer.handle);
    });

    it('quac_key_get_attributes / quac_key_export / quac_key_destroy: non-extractable, export refused, gone after destroy', async () => {
      const k = await dev.kemKeygenStored(KEM, 'attrs', true);
      expect(await dev.keyAttributes(k.handle)).toEqual({ extractable: false, persistent: true });
      await rejectsWith(dev.keyExport(k.handle), 'KEY_NOT_EXTRACTABLE', 'quac_key_export');
      await dev.keyDestroy(k.handle);
      await rejectsWith(dev.keyAttributes(k.handle), 'KEY_NOT_FOUND', 'quac_key_get_attributes');
      await rejectsWith(dev.keyExport(k.handle), 'KEY_NOT_FOUND', 'quac_key_export');
      await rejectsWith(dev.keyDestroy(k.handle), 'KEY_NOT_FOUND', 'quac_key_destroy');
    });

    it('quac_random_bytes: the requested length, fresh every call; a negative length never reaches C', async () => {
      const a = await dev.randomBytes(64);
      const b = await dev.randomBytes(64);
      expect(a.length).toBe(64);
      expect(a).not.toEqual(b);
      expect((await dev.randomBytes(0)).length).toBe(0);
      await rejectsWith(dev.randomBytes(-1), 'INVALID_PARAMETER', 'quac_random_bytes');
    });

    it('quac_batch_execute: every kind of item, a result per item, one failure does not fail the others', async () => {
      const signer = await dev.signKeygenStored(DSA, 'batch-signer', false);
      const peer = ml_kem768.keygen();
      const n = ml_kem768.encapsulate((await dev.kemKeygen(KEM)).publicKey);
      const mine = await dev.kemKeygen(KEM);
      const toMine = ml_kem768.encapsulate(mine.publicKey);
      const msg = enc('batched');
      const goodSig = ml_dsa65.sign(msg, ml_dsa65.keygen().secretKey); // signed by another key: must not verify
      const r = await dev.batchExecute([
        { op: 'kem-keygen', alg: KEM },
        { op: 'kem-encaps', alg: KEM, publicKey: peer.publicKey },
        { op: 'kem-decaps', alg: KEM, ciphertext: toMine.cipherText, secretKey: mine.secretKey },
        { op: 'sign-stored', handle: signer.handle, message: msg },
        { op: 'verify', alg: DSA, publicKey: signer.publicKey, message: msg, signature: goodSig },
        { op: 'sign-stored', handle: signer.handle + 999n, message: msg },
        { op: 'kem-decaps', alg: KEM, ciphertext: n.cipherText.subarray(2), secretKey: mine.secretKey },
      ]);
      expect([r.completed, r.failed]).toEqual([5, 2]);
      expect(r.items.map((i) => i.result)).toEqual([0, 0, 0, 0, 0, QuacResult.KEY_NOT_FOUND, QuacResult.INVALID_PARAMETER]);
      const [keygen, encaps, decaps, sign, verify] = r.items;
      expect([keygen?.publicKey?.length, keygen?.secretKey?.length]).toEqual([1184, 2400]);
      expect(ml_kem768.decapsulate(encaps?.ciphertext ?? new Uint8Array(), peer.secretKey)).toEqual(encaps?.sharedSecret);
      expect(decaps?.sharedSecret).toEqual(toMine.sharedSecret);
      expect(ml_dsa65.verify(sign?.signature ?? new Uint8Array(), msg, signer.publicKey)).toBe(true);
      expect(verify).toEqual({ result: 0, valid: false });
      expect(r.items[5]).toEqual({ result: QuacResult.KEY_NOT_FOUND });
      expect(r.totalTimeUs).toBeGreaterThan(0);
      expect(await dev.batchExecute([])).toEqual({ completed: 0, failed: 0, totalTimeUs: expect.any(Number), items: [] });
      await dev.keyDestroy(signer.handle);
    });

    it('quac_batch_execute: an item with an algorithm the binding does not know reaches the device and fails alone', async () => {
      const bogus = 0x7777 as typeof KEM;
      const r = await dev.batchExecute([
        { op: 'kem-keygen', alg: bogus },
        { op: 'kem-encaps', alg: bogus, publicKey: new Uint8Array(1184) },
        { op: 'kem-keygen', alg: KEM },
      ]);
      expect(r.items.map((i) => i.result)).toEqual([QuacResult.UNSUPPORTED_ALGORITHM, QuacResult.UNSUPPORTED_ALGORITHM, QuacResult.SUCCESS]);
      expect([r.completed, r.failed]).toEqual([1, 2]);
    });

    it('quac_diag_get_health / quac_diag_self_test: the double\'s values cross the struct intact; the self-test passes', async () => {
      const before = await dev.health();
      expect(before).toMatchObject({ temperatureCelsius: 41.5, entropyAvailableBits: 4096, status: QuacHealthStatus.OK });
      await dev.randomBytes(1);
      expect((await dev.health()).operationsTotal).toBe(before.operationsTotal + 1);
      await dev.selfTest();
    });

    it('calls run on koffi\'s worker threads: the event loop turns while the card works', async () => {
      const k = await dev.signKeygenStored(DSA, 'busy', false);
      const order: string[] = [];
      const work = dev.batchExecute(Array.from({ length: 20 }, () => ({ op: 'sign-stored' as const, handle: k.handle, message: enc('x') })));
      const done = work.then(() => order.push('batch done'));
      setImmediate(() => order.push('event loop turned'));
      await done;
      expect(order).toEqual(['event loop turned', 'batch done']);
      await dev.keyDestroy(k.handle);
    });

    it('concurrent calls from many promises all come back right (the library is called from several threads)', async () => {
      const k = await dev.kemKeygenStored(KEM, 'concurrent', false);
      const encs = Array.from({ length: 24 }, () => ml_kem768.encapsulate(k.publicKey));
      const secrets = await Promise.all(encs.map((e) => dev.kemDecapsStored(k.handle, e.cipherText)));
      expect(secrets).toEqual(encs.map((e) => e.sharedSecret));
      await dev.keyDestroy(k.handle);
    });
  });

  describe('NativeQuac100 over koffi: device and library life cycle', () => {
    it('a persistent key outlives quac_close and quac_shutdown; a session key goes with its device', async () => {
      await lib.init({});
      let d = await lib.open(0);
      const kept = await d.signKeygenStored(DSA, 'life-persistent', true);
      const lost = await d.signKeygenStored(DSA, 'life-session', false);
      await d.close();
      await rejectsWith(d.randomBytes(1), 'DEVICE_NOT_FOUND', 'quac_random_bytes');
      await lib.shutdown();
      await rejectsWith(lib.deviceCount(), 'NOT_INITIALIZED', 'quac_device_count');

      await lib.init({});
      d = await lib.open(0);
      const found = await d.keyFind('life-persistent');
      expect(found?.handle).toBe(kept.handle);
      const sig = await d.signStored(kept.handle, enc('after a power cycle'));
      expect(ml_dsa65.verify(sig, enc('after a power cycle'), kept.publicKey)).toBe(true);
      expect(await d.keyFind('life-session')).toBeUndefined();
      await rejectsWith(d.signStored(lost.handle, enc('x')), 'KEY_NOT_FOUND', 'quac_sign_stored');
      await d.keyDestroy(kept.handle);
      await d.close();
      await lib.shutdown();
    });

    it('a shared library without the quac100.h symbols is a ConfigError, not a crash', async () => {
      const notQuac = nativeQuacLibrary({ library: 'libc.so.6' });
      await expect(notQuac.init({})).rejects.toBeInstanceOf(ConfigError);
    });
  });
}
