/**
 * Wycheproof ML-KEM and ML-DSA vectors through the QUAC provider's device
 * path, on whatever card implementation `cards` makes. Registered by
 * wycheproof.test.ts (the emulated card) and native-device.test.ts (the
 * native binding over the OpenSSL 3.5 C test double).
 *
 * - ML-DSA verify (mldsa_{44,65,87}_verify_test.json): through `provider.verify`,
 *   which sends a batched `verify` item to the card. TLS verifies with the
 *   empty context (draft-ietf-tls-mldsa §3) and the card's verify takes none,
 *   so cases with a non-empty `ctx` are not expressible and are counted apart.
 * - ML-KEM decapsulation (mlkem_{512,768,1024}_test.json,
 *   mlkem_768_semi_expanded_decaps_test.json): through `deviceDecapsulate`,
 *   the function a QUAC key share's `complete` calls, with the vector's
 *   decapsulation key (the card generates its own keys, so a seed cannot be
 *   injected through the public interface). For the seed files the key is
 *   expanded from the seed here and its ek checked against the vector's.
 */
import { ml_kem1024, ml_kem512, ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import { describe, expect, it, onTestFinished } from 'vitest';
import { fromHex, toHex } from '../../src/bytes.js';
import { AlertDescription, IllegalParameterError, PqtlsError } from '../../src/errors.js';
import { Batcher } from '../../src/hw/quac100/batcher.js';
import { deviceDecapsulate, type KemContext } from '../../src/hw/quac100/kex.js';
import { QuacMetricsRecorder } from '../../src/hw/quac100/metrics.js';
import { ML_KEM_SETS, type MlKemName } from '../../src/hw/quac100/mlkem.js';
import { DevicePool } from '../../src/hw/quac100/pool.js';
import { schedulerFromClock } from '../../src/hw/quac100/scheduler.js';
import { createNobleProvider, signingKeyAlgorithm, SignatureScheme as S, type SignatureScheme } from '../../src/pq/index.js';
import { loadWycheproof, str, type WycheproofTest } from '../helpers/wycheproof.js';
import { cardsFixture, type MakeCards } from './quac-fixture.js';

/** The key-exchange context over one card of `cards`; the card is closed and the library shut down when the test ends. */
async function kemContext(cards: MakeCards, seed: string): Promise<KemContext> {
  const { library: lib, clock } = cards(seed);
  await lib.init({});
  const dev = await lib.open(0);
  onTestFinished(async () => {
    await dev.close();
    await lib.shutdown();
  });
  const scheduler = schedulerFromClock(clock);
  const metrics = new QuacMetricsRecorder();
  const pool = new DevicePool([dev], scheduler, metrics);
  await pool.start();
  return { batcher: new Batcher(pool, scheduler, { maxSize: 64, maxWaitMs: 1 }), keyPool: undefined, metrics, scheduler, software: createNobleProvider(), fallback: false };
}

type Outcome = string;
async function outcome(f: () => Promise<Uint8Array>): Promise<Outcome> {
  try {
    return toHex(await f());
  } catch (e) {
    if (e instanceof IllegalParameterError) return 'illegal_parameter';
    if (e instanceof PqtlsError && e.alert === AlertDescription.internal_error) return 'internal_error';
    throw e;
  }
}

export function wycheproofConformance(name: string, cards: MakeCards): void {
  describe(`Wycheproof ML-KEM decapsulation on ${name} (FIPS 203 Alg. 18, draft-ietf-tls-mlkem §4.2)`, () => {
    const KEMS = { 'ML-KEM-512': ml_kem512, 'ML-KEM-768': ml_kem768, 'ML-KEM-1024': ml_kem1024 } as const;

    it.each([['mlkem_512_test.json', 'ML-KEM-512'], ['mlkem_768_test.json', 'ML-KEM-768'], ['mlkem_1024_test.json', 'ML-KEM-1024']] as const)(
      '%s', async (file, kem: MlKemName) => {
        const ctx = await kemContext(cards, file);
        const f = loadWycheproof(file);
        const mismatches: string[] = [];
        let ran = 0;
        let badSeed = 0;
        const cases: { t: WycheproofTest; dk: Uint8Array; c: Uint8Array }[] = [];
        for (const g of f.testGroups) {
          for (const t of g.tests) {
            const seed = fromHex(str(t, 'seed'));
            // A seed that is not 64 bytes is a key-generation input error, not a decapsulation: no card call expresses it.
            if (seed.length !== 64) {
              expect(t.result).toBe('invalid');
              badSeed++;
              continue;
            }
            const { publicKey, secretKey } = KEMS[kem].keygen(seed);
            expect(toHex(publicKey)).toBe(str(t, 'ek'));
            cases.push({ t, dk: secretKey, c: fromHex(str(t, 'c')) });
          }
        }
        // All at once: they are batched like concurrent handshakes' decapsulations.
        const got = await Promise.all(cases.map(({ dk, c }) => outcome(() => deviceDecapsulate(ctx, ML_KEM_SETS[kem], dk, c))));
        cases.forEach(({ t }, i) => {
          ran++;
          const want = t.result === 'valid' ? str(t, 'K') : 'illegal_parameter';
          if (got[i] !== want) mismatches.push(`tcId ${t.tcId} (${t.comment}): want ${want}, got ${got[i]}`);
        });
        expect(mismatches).toEqual([]);
        expect(ran + badSeed).toBe(f.numberOfTests);
        expect(ctx.metrics.batchSizes.snapshot().count).toBeLessThan(ran);
      });

    it('mlkem_768_semi_expanded_decaps_test.json: a bad ciphertext length is the peer\'s illegal_parameter, a bad key our internal_error', async () => {
      const ctx = await kemContext(cards, 'semi-expanded');
      const f = loadWycheproof('mlkem_768_semi_expanded_decaps_test.json');
      let ran = 0;
      for (const g of f.testGroups) {
        for (const t of g.tests) {
          ran++;
          const want = t.result === 'valid' ? str(t, 'K') : t.flags.includes('IncorrectCiphertextLength') ? 'illegal_parameter' : 'internal_error';
          expect(`${t.tcId}: ${await outcome(() => deviceDecapsulate(ctx, ML_KEM_SETS['ML-KEM-768'], fromHex(str(t, 'dk')), fromHex(str(t, 'c'))))}`).toBe(`${t.tcId}: ${want}`);
        }
      }
      expect(ran).toBe(f.numberOfTests);
    });
  });

  describe(`Wycheproof ML-DSA verification through provider.verify on ${name} (FIPS 204 Alg. 3)`, () => {
    it.each([['mldsa_44_verify_test.json', S.mldsa44], ['mldsa_65_verify_test.json', S.mldsa65], ['mldsa_87_verify_test.json', S.mldsa87]] as const)(
      '%s', async (file, scheme: SignatureScheme) => {
        const { quac } = await cardsFixture(cards, { seed: file, provider: { batch: { maxSize: 64, maxWaitMs: 1 } } });
        const f = loadWycheproof(file);
        const mismatches: string[] = [];
        let ran = 0;
        let withContext = 0;
        let badKey = 0;
        const jobs: Promise<void>[] = [];
        for (const g of f.testGroups) {
          const pk = fromHex(str(g, 'publicKey'));
          for (const t of g.tests) {
            if (typeof t['ctx'] === 'string' && t['ctx'].length > 0) {
              withContext++;
              continue;
            }
            ran++;
            const want = t.result === 'valid' ? 'accept' : t.flags.includes('IncorrectPublicKeyLength') ? 'bad public key' : 'reject';
            if (want === 'bad public key') badKey++;
            jobs.push(quac.verify(scheme, pk, fromHex(str(t, 'msg')), fromHex(str(t, 'sig'))).then(
              (ok) => (ok ? 'accept' : 'reject'),
              (e: unknown) => (e instanceof IllegalParameterError ? 'bad public key' : `threw ${String(e)}`),
            ).then((got) => {
              if (got !== want) mismatches.push(`tcId ${t.tcId} (${t.comment}, [${t.flags.join(',')}]): want ${want}, got ${got}`);
            }));
          }
        }
        await Promise.all(jobs);
        expect(mismatches).toEqual([]);
        expect(ran + withContext).toBe(f.numberOfTests);
        expect(ran).toBeGreaterThan(150);
        // Every case with a well-formed key was verified by the card's path (the count is kept there, not in software).
        expect(quac.metrics().signOperations).toEqual([{ labels: { operation: 'verify', algorithm: signingKeyAlgorithm(scheme) }, value: ran - badKey }]);
      });
  });
}
