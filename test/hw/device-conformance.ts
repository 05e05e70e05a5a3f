/**
 * What every QUAC 100 implementation must do, stated through the
 * `QuacLibrary` / `QuacDevice` interface only (src/hw/quac100/device.ts,
 * mirroring quac100.h), so the same suite runs against the emulated card and
 * against the native binding over the C test double. Results are checked
 * against noble's FIPS 203 / FIPS 204 arithmetic: what the device computes
 * must be what the standard computes.
 */
import { describe, expect, it } from 'vitest';
import { ml_kem512, ml_kem768, ml_kem1024 } from '@noble/post-quantum/ml-kem.js';
import { ml_dsa44, ml_dsa65, ml_dsa87 } from '@noble/post-quantum/ml-dsa.js';
import { QuacAlgorithm, QuacError, QuacHealthStatus, QuacResult, type QuacDevice, type QuacLibrary, type QuacResultName } from '../../src/hw/quac100/device.js';
import { quacKem, quacSign } from '../../src/hw/quac100/algorithms.js';
import { seededRandom } from '../../src/testing/random.js';

const KEMS = [
  ['ML-KEM-512', QuacAlgorithm.KYBER512, ml_kem512],
  ['ML-KEM-768', QuacAlgorithm.KYBER768, ml_kem768],
  ['ML-KEM-1024', QuacAlgorithm.KYBER1024, ml_kem1024],
] as const;
const DSAS = [
  ['ML-DSA-44', QuacAlgorithm.DILITHIUM2, ml_dsa44],
  ['ML-DSA-65', QuacAlgorithm.DILITHIUM3, ml_dsa65],
  ['ML-DSA-87', QuacAlgorithm.DILITHIUM5, ml_dsa87],
] as const;

/** Rejects with a QuacError of this result code. */
export async function expectQuacError(p: Promise<unknown>, name: QuacResultName): Promise<QuacError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected QUAC_ERROR_${name}`).toBeInstanceOf(QuacError);
  const q = err as QuacError;
  expect(q.resultName).toBe(name);
  expect(q.code).toBe(QuacResult[name]);
  return q;
}

/**
 * The shared suite. `makeLibrary` returns a fresh, not yet initialised library
 * with at least one device; each test initialises and shuts it down itself.
 */
export function deviceConformance(name: string, makeLibrary: () => QuacLibrary | Promise<QuacLibrary>): void {
  const rnd = seededRandom(`conformance ${name}`);

  async function withDevice<T>(fn: (dev: QuacDevice, lib: QuacLibrary) => Promise<T>, fips = false): Promise<T> {
    const lib = await makeLibrary();
    await lib.init({ fips });
    const dev = await lib.open(0);
    try {
      return await fn(dev, lib);
    } finally {
      await lib.shutdown();
    }
  }

  describe(`QUAC 100 device conformance: ${name}`, () => {
    it('quac_device_count and quac_open need quac_init; there is at least one device', async () => {
      const lib = await makeLibrary();
      await expectQuacError(lib.deviceCount(), 'NOT_INITIALIZED');
      await expectQuacError(lib.open(0), 'NOT_INITIALIZED');
      await lib.init({});
      expect(await lib.deviceCount()).toBeGreaterThanOrEqual(1);
      await expectQuacError(lib.open(1000), 'DEVICE_NOT_FOUND');
      const dev = await lib.open(0);
      expect(dev.index).toBe(0);
      await lib.shutdown();
    });

    for (const [set, alg, kem] of KEMS) {
      it(`${set} (FIPS 203): device keygen, encaps and decaps agree with noble both ways`, async () => {
        await withDevice(async (dev) => {
          const sizes = quacKem(alg)!;
          // Device key pair; noble encapsulates to it; the device decapsulates noble's ciphertext.
          const kp = await dev.kemKeygen(alg);
          expect([kp.publicKey.length, kp.secretKey.length]).toEqual([sizes.publicKey, sizes.secretKey]);
          const byNoble = kem.encapsulate(kp.publicKey, rnd(32));
          expect(await dev.kemDecaps(alg, byNoble.cipherText, kp.secretKey)).toEqual(byNoble.sharedSecret);
          expect(kem.decapsulate(byNoble.cipherText, kp.secretKey)).toEqual(byNoble.sharedSecret);

          // Noble key pair; the device encapsulates; noble recovers the device's secret.
          const nk = kem.keygen(rnd(64));
          const enc = await dev.kemEncaps(alg, nk.publicKey);
          expect([enc.ciphertext.length, enc.sharedSecret.length]).toEqual([sizes.ciphertext, 32]);
          expect(kem.decapsulate(enc.ciphertext, nk.secretKey)).toEqual(enc.sharedSecret);

          // A noble-made ciphertext under a noble key: the device gives noble's secret, and the implicit-rejection value for a tampered one.
          const nc = kem.encapsulate(nk.publicKey, rnd(32));
          expect(await dev.kemDecaps(alg, nc.cipherText, nk.secretKey)).toEqual(nc.sharedSecret);
          const bad = nc.cipherText.slice();
          bad[5] = (bad[5] as number) ^ 0x10;
          expect(await dev.kemDecaps(alg, bad, nk.secretKey)).toEqual(kem.decapsulate(bad, nk.secretKey));
        });
      });

      it(`${set}: a stored decapsulation key decapsulates noble's ciphertext`, async () => {
        await withDevice(async (dev) => {
          const stored = await dev.kemKeygenStored(alg, `kem ${set}`, false);
          expect(stored.publicKey.length).toBe(quacKem(alg)!.publicKey);
          const c = kem.encapsulate(stored.publicKey, rnd(32));
          expect(await dev.kemDecapsStored(stored.handle, c.cipherText)).toEqual(c.sharedSecret);
          const c2 = kem.encapsulate(stored.publicKey, rnd(32));
          expect(await dev.kemDecapsStored(stored.handle, c2.cipherText)).toEqual(c2.sharedSecret);
          await expectQuacError(dev.kemDecapsStored(stored.handle, c2.cipherText.subarray(1)), 'INVALID_PARAMETER');
          await expectQuacError(dev.keyExport(stored.handle), 'KEY_NOT_EXTRACTABLE');
        });
      });
    }

    for (const [set, alg, dsa] of DSAS) {
      it(`${set} (FIPS 204): stored-key signatures verify with noble, hedged and deterministic, with a context`, async () => {
        await withDevice(async (dev) => {
          const key = await dev.signKeygenStored(alg, `sign ${set}`, false);
          expect(key.publicKey.length).toBe(quacSign(alg)!.publicKey);
          const msg = rnd(100);
          const hedged = await dev.signStored(key.handle, msg);
          expect(hedged.length).toBe(quacSign(alg)!.signature);
          expect(dsa.verify(hedged, msg, key.publicKey)).toBe(true);
          // FIPS 204 §3.4: hedged signing draws fresh rnd, deterministic signing does not.
          expect(await dev.signStored(key.handle, msg)).not.toEqual(hedged);
          const det = await dev.signStored(key.handle, msg, { deterministic: true });
          expect(await dev.signStored(key.handle, msg, { deterministic: true })).toEqual(det);
          expect(dsa.verify(det, msg, key.publicKey)).toBe(true);
          const context = new Uint8Array([1, 2, 3]);
          const withCtx = await dev.signStored(key.handle, msg, { context });
          expect(dsa.verify(withCtx, msg, key.publicKey, { context })).toBe(true);
          expect(dsa.verify(withCtx, msg, key.publicKey)).toBe(false);
          await expectQuacError(dev.signStored(key.handle, msg, { context: new Uint8Array(256) }), 'INVALID_PARAMETER');
        });
      });

      it(`${set}: device verification agrees with noble; a bad signature is false, not an error`, async () => {
        await withDevice(async (dev) => {
          const nk = dsa.keygen(rnd(32));
          const msg = rnd(64);
          const sig = dsa.sign(msg, nk.secretKey, { extraEntropy: rnd(32) });
          expect(await dev.verify(alg, nk.publicKey, msg, sig)).toBe(true);
          const bad = sig.slice();
          bad[10] = (bad[10] as number) ^ 1;
          expect(await dev.verify(alg, nk.publicKey, msg, bad)).toBe(false);
          expect(await dev.verify(alg, nk.publicKey, rnd(64), sig)).toBe(false);
          expect(await dev.verify(alg, nk.publicKey, msg, sig.subarray(1))).toBe(false);
        });
      });
    }

    it('unknown and mismatched algorithms are UNSUPPORTED_ALGORITHM; wrong lengths are INVALID_PARAMETER', async () => {
      await withDevice(async (dev) => {
        const bogus = 0x7777 as typeof QuacAlgorithm.KYBER768;
        await expectQuacError(dev.kemKeygen(bogus), 'UNSUPPORTED_ALGORITHM');
        await expectQuacError(dev.kemKeygen(QuacAlgorithm.DILITHIUM3), 'UNSUPPORTED_ALGORITHM');
        await expectQuacError(dev.signKeygenStored(QuacAlgorithm.KYBER768, 'x', false), 'UNSUPPORTED_ALGORITHM');
        await expectQuacError(dev.kemEncaps(QuacAlgorithm.KYBER768, new Uint8Array(1183)), 'INVALID_PARAMETER');
        const kp = await dev.kemKeygen(QuacAlgorithm.KYBER768);
        await expectQuacError(dev.kemDecaps(QuacAlgorithm.KYBER768, new Uint8Array(1087), kp.secretKey), 'INVALID_PARAMETER');
        await expectQuacError(dev.kemDecaps(QuacAlgorithm.KYBER768, new Uint8Array(1088), kp.secretKey.subarray(1)), 'INVALID_PARAMETER');
        await expectQuacError(dev.verify(QuacAlgorithm.DILITHIUM3, new Uint8Array(10), new Uint8Array(1), new Uint8Array(3309)), 'INVALID_PARAMETER');
      });
    });

    it('FIPS 203 §7.2/§7.3 input checks: an encapsulation key failing the modulus check and a decapsulation key whose H(ek) does not match are INVALID_PARAMETER', async () => {
      await withDevice(async (dev) => {
        const alg = QuacAlgorithm.KYBER768;
        const nk = ml_kem768.keygen(rnd(64));
        const pk = nk.publicKey.slice();
        pk[0] = 0xff; // the first 12-bit coefficient becomes 0xfff >= q = 3329
        pk[1] = 0xff;
        await expectQuacError(dev.kemEncaps(alg, pk), 'INVALID_PARAMETER');
        const c = ml_kem768.encapsulate(nk.publicKey, rnd(32));
        const sk = nk.secretKey.slice();
        sk[2400 - 64] = (sk[2400 - 64] as number) ^ 1; // inside H(ek), FIPS 203 §7.3 check 3
        await expectQuacError(dev.kemDecaps(alg, c.cipherText, sk), 'INVALID_PARAMETER');
      });
    });

    it('stored keys are never extractable; attributes report { extractable: false, persistent }', async () => {
      await withDevice(async (dev) => {
        const session = await dev.signKeygenStored(QuacAlgorithm.DILITHIUM3, 'attr session', false);
        const persistent = await dev.kemKeygenStored(QuacAlgorithm.KYBER768, 'attr persistent', true);
        expect(await dev.keyAttributes(session.handle)).toEqual({ extractable: false, persistent: false });
        expect(await dev.keyAttributes(persistent.handle)).toEqual({ extractable: false, persistent: true });
        await expectQuacError(dev.keyExport(session.handle), 'KEY_NOT_EXTRACTABLE');
        await expectQuacError(dev.keyExport(persistent.handle), 'KEY_NOT_EXTRACTABLE');
        await dev.keyDestroy(persistent.handle);
      });
    });

    it('persistent keys survive close, re-open and shutdown/init; session keys vanish with their device', async () => {
      const lib = await makeLibrary();
      await lib.init({});
      const dev = await lib.open(0);
      const label = `persist ${name}`;
      const kept = await dev.signKeygenStored(QuacAlgorithm.DILITHIUM2, label, true);
      const gone = await dev.signKeygenStored(QuacAlgorithm.DILITHIUM2, `${label} session`, false);
      await dev.close();
      await expect(dev.signStored(kept.handle, new Uint8Array(1))).rejects.toBeInstanceOf(QuacError);

      const again = await lib.open(0);
      const found = await again.keyFind(label);
      expect(found).toEqual({ handle: kept.handle, alg: QuacAlgorithm.DILITHIUM2, publicKey: kept.publicKey });
      const msg = rnd(20);
      expect(ml_dsa44.verify(await again.signStored(kept.handle, msg), msg, kept.publicKey)).toBe(true);
      expect(await again.keyFind(`${label} session`)).toBeUndefined();
      await expectQuacError(again.signStored(gone.handle, msg), 'KEY_NOT_FOUND');
      await lib.shutdown();

      await lib.init({});
      const later = await lib.open(0);
      expect((await later.keyFind(label))?.handle).toBe(kept.handle);
      await later.keyDestroy(kept.handle);
      await lib.shutdown();
    });

    it('keyFind returns the newest key with a label, undefined for none; keyDestroy makes a handle KEY_NOT_FOUND', async () => {
      await withDevice(async (dev) => {
        const label = `label ${name}`;
        expect(await dev.keyFind(label)).toBeUndefined();
        const older = await dev.kemKeygenStored(QuacAlgorithm.KYBER512, label, false);
        const newer = await dev.signKeygenStored(QuacAlgorithm.DILITHIUM2, label, false);
        await dev.kemKeygenStored(QuacAlgorithm.KYBER512, `${label} other`, false);
        expect(await dev.keyFind(label)).toEqual({ handle: newer.handle, alg: QuacAlgorithm.DILITHIUM2, publicKey: newer.publicKey });

        await dev.keyDestroy(newer.handle);
        await expectQuacError(dev.signStored(newer.handle, new Uint8Array(1)), 'KEY_NOT_FOUND');
        await expectQuacError(dev.keyAttributes(newer.handle), 'KEY_NOT_FOUND');
        await expectQuacError(dev.keyDestroy(newer.handle), 'KEY_NOT_FOUND');
        expect((await dev.keyFind(label))?.handle).toBe(older.handle);
        await expectQuacError(dev.keyExport(0xdeadn), 'KEY_NOT_FOUND');
      });
    });

    it('a batch runs every item on its own: one bad item fails only itself', async () => {
      await withDevice(async (dev) => {
        const alg = QuacAlgorithm.KYBER768;
        const nk = ml_kem768.keygen(rnd(64));
        const nc = ml_kem768.encapsulate(nk.publicKey, rnd(32));
        const signer = await dev.signKeygenStored(QuacAlgorithm.DILITHIUM3, 'batch signer', false);
        const msg = rnd(48);
        const dsaKey = ml_dsa65.keygen(rnd(32));
        const sig = ml_dsa65.sign(msg, dsaKey.secretKey, { extraEntropy: rnd(32) });
        const r = await dev.batchExecute([
          { op: 'kem-decaps', alg, ciphertext: nc.cipherText, secretKey: nk.secretKey },
          { op: 'kem-encaps', alg, publicKey: nk.publicKey.subarray(0, 100) },
          { op: 'kem-encaps', alg, publicKey: nk.publicKey },
          { op: 'kem-keygen', alg: QuacAlgorithm.KYBER1024 },
          { op: 'sign-stored', handle: signer.handle, message: msg },
          { op: 'sign-stored', handle: 0xbadn, message: msg },
          { op: 'verify', alg: QuacAlgorithm.DILITHIUM3, publicKey: dsaKey.publicKey, message: msg, signature: sig },
          { op: 'verify', alg: QuacAlgorithm.DILITHIUM3, publicKey: dsaKey.publicKey, message: rnd(48), signature: sig },
        ]);
        expect(r.items.map((i) => i.result)).toEqual([
          QuacResult.SUCCESS, QuacResult.INVALID_PARAMETER, QuacResult.SUCCESS, QuacResult.SUCCESS,
          QuacResult.SUCCESS, QuacResult.KEY_NOT_FOUND, QuacResult.SUCCESS, QuacResult.SUCCESS,
        ]);
        expect([r.completed, r.failed]).toEqual([6, 2]);
        expect(r.totalTimeUs).toBeGreaterThanOrEqual(0);
        const [decaps, badEncaps, encaps, keygen, signed, , valid, invalid] = r.items;
        expect(decaps?.sharedSecret).toEqual(nc.sharedSecret);
        expect(badEncaps?.ciphertext).toBeUndefined();
        expect(ml_kem768.decapsulate(encaps!.ciphertext!, nk.secretKey)).toEqual(encaps?.sharedSecret);
        const c1024 = ml_kem1024.encapsulate(keygen!.publicKey!, rnd(32));
        expect(ml_kem1024.decapsulate(c1024.cipherText, keygen!.secretKey!)).toEqual(c1024.sharedSecret);
        expect(ml_dsa65.verify(signed!.signature!, msg, signer.publicKey)).toBe(true);
        expect([valid?.valid, invalid?.valid]).toEqual([true, false]);
      });
    });

    it('QRNG: randomBytes gives the asked length, fresh bytes each time; a bad length is INVALID_PARAMETER', async () => {
      await withDevice(async (dev) => {
        for (const n of [0, 1, 32, 1000]) expect((await dev.randomBytes(n)).length).toBe(n);
        const a = await dev.randomBytes(32);
        const b = await dev.randomBytes(32);
        expect(a).not.toEqual(b);
        expect(a.some((x) => x !== 0)).toBe(true);
        await expectQuacError(dev.randomBytes(-1), 'INVALID_PARAMETER');
      });
    });

    it('health: temperature, entropy, status and an operation count that grows with work', async () => {
      await withDevice(async (dev) => {
        const before = await dev.health();
        expect(Number.isFinite(before.temperatureCelsius)).toBe(true);
        expect(before.temperatureCelsius).toBeGreaterThan(-40);
        expect(before.temperatureCelsius).toBeLessThan(150);
        expect(Number.isInteger(before.entropyAvailableBits) && before.entropyAvailableBits >= 0).toBe(true);
        expect(Object.values(QuacHealthStatus)).toContain(before.status);
        expect(before.status).toBe(QuacHealthStatus.OK);
        await dev.kemKeygen(QuacAlgorithm.KYBER768);
        await dev.randomBytes(16);
        const after = await dev.health();
        expect(after.operationsTotal).toBeGreaterThanOrEqual(before.operationsTotal + 2);
      });
    });

    it('self-test: the known-answer tests pass, in FIPS mode too, where deterministic signing is not an approved service', async () => {
      await withDevice(async (dev) => {
        await dev.selfTest();
      });
      await withDevice(async (dev) => {
        await dev.selfTest();
        const key = await dev.signKeygenStored(QuacAlgorithm.DILITHIUM3, 'fips', false);
        const msg = rnd(10);
        expect(ml_dsa65.verify(await dev.signStored(key.handle, msg), msg, key.publicKey)).toBe(true);
        await expectQuacError(dev.signStored(key.handle, msg, { deterministic: true }), 'FIPS_NOT_APPROVED');
        const kp = await dev.kemKeygen(QuacAlgorithm.KYBER768);
        const c = ml_kem768.encapsulate(kp.publicKey, rnd(32));
        expect(await dev.kemDecaps(QuacAlgorithm.KYBER768, c.cipherText, kp.secretKey)).toEqual(c.sharedSecret);
      }, true);
    });

    it('FIPS mode does not use a stored key generated outside it', async () => {
      const lib = await makeLibrary();
      await lib.init({});
      const dev = await lib.open(0);
      const key = await dev.signKeygenStored(QuacAlgorithm.DILITHIUM2, 'non-fips', true);
      await lib.shutdown();
      await lib.init({ fips: true });
      const fipsDev = await lib.open(0);
      await expectQuacError(fipsDev.signStored(key.handle, new Uint8Array(1)), 'FIPS_NOT_APPROVED');
      await fipsDev.keyDestroy(key.handle);
      await lib.shutdown();
    });

    it('a closed device refuses every call', async () => {
      const lib = await makeLibrary();
      await lib.init({});
      const dev = await lib.open(0);
      await dev.close();
      await expect(dev.kemKeygen(QuacAlgorithm.KYBER768)).rejects.toBeInstanceOf(QuacError);
      await expect(dev.randomBytes(8)).rejects.toBeInstanceOf(QuacError);
      await expect(dev.health()).rejects.toBeInstanceOf(QuacError);
      await lib.shutdown();
    });
  });
}
