/**
 * The ML-KEM key pre-generation pool (src/hw/quac100/key-pool.ts): client key
 * shares come from stock made on the card in batches; the stock refills in the
 * background between its low and high water marks, never exceeds `high`, and
 * never hands out a key twice (a KEM key pair is single-use in TLS 1.3 key
 * shares: draft-ietf-tls-mlkem §3 and RFC 8446 §4.2.8 ephemeral shares).
 */
import { describe, expect, it } from 'vitest';
import { toHex } from '../../src/bytes.js';
import { createNobleProvider, NamedGroup } from '../../src/pq/index.js';
import { seededRandom } from '../../src/testing/index.js';
import { quacFixture } from './quac-fixture.js';

describe('ML-KEM key pool', () => {
  it('warm-up fills to high in batches; shares come from stock; refills between the water marks; no key is reused', async () => {
    const { quac, clock } = await quacFixture({ provider: { keyPool: { algorithms: ['ML-KEM-768'], low: 2, high: 6, batchSize: 3 } } });
    await quac.warmUp();
    let m = quac.metrics();
    expect(m.keyPoolAvailable).toEqual([{ labels: { algorithm: 'ML-KEM-768' }, value: 6 }]);
    expect(m.keyPoolGenerated).toBe(6);
    // Two batchExecute calls of three keygen items each.
    expect([m.batchSizes.count, m.batchSizes.sum, m.deviceCalls]).toEqual([2, 6, 2]);
    expect(m.deviceOperations).toBe(6);

    const kx = quac.keyExchange(NamedGroup.MLKEM768);
    const seen = new Set<string>();
    const noble = createNobleProvider({ random: seededRandom('pool') });
    for (let i = 0; i < 20; i++) {
      const ks = await kx.generate();
      const pk = toHex(ks.share);
      expect(seen.has(pk)).toBe(false);
      seen.add(pk);
      // Each pooled key works once: a noble server encapsulates to it and the secrets agree.
      const { share, secret } = await noble.keyExchange(NamedGroup.MLKEM768).encapsulate(ks.share);
      expect(toHex(await ks.complete(share))).toBe(toHex(secret));
      const available = quac.metrics().keyPoolAvailable[0]?.value as number;
      expect(available).toBeLessThanOrEqual(6);
      await clock.advance(1); // lets the background refill run
    }
    m = quac.metrics();
    // Every one of the 20 shares came from stock (taken counts only keys that were there)...
    expect(m.keyPoolTaken).toBe(20);
    // ...so the card saw only refill batches and the 20 decapsulations, no on-demand keygen.
    expect(m.batchSizes.sum).toBe(m.keyPoolGenerated + 20);
    expect(m.keyPoolGenerated).toBeGreaterThanOrEqual(20);
    expect(m.keyPoolGenerated - m.keyPoolTaken).toBe(m.keyPoolAvailable[0]?.value);
  });

  it('an empty pool falls back to on-demand generation on the card; close() empties the stock and nothing is handed out after', async () => {
    const { quac } = await quacFixture({ provider: { keyPool: { algorithms: ['ML-KEM-1024'], low: 0, high: 1 } } });
    await quac.warmUp();
    const kx = quac.keyExchange(NamedGroup.MLKEM1024);
    const a = await kx.generate();
    const b = await kx.generate(); // stock is 0 (low 0: no refill was triggered): made on demand through the batcher
    expect(toHex(a.share)).not.toBe(toHex(b.share));
    const m = quac.metrics();
    expect(m.keyPoolTaken).toBe(1);
    expect(m.kemOperations).toEqual([{ labels: { operation: 'keygen', algorithm: 'ML-KEM-1024' }, value: 2 }]);
    await quac.warmUp();
    expect(quac.metrics().keyPoolAvailable).toEqual([{ labels: { algorithm: 'ML-KEM-1024' }, value: 1 }]);
    await quac.close();
    // The stock is gone (zeroed and unregistered), and no share is handed out any more.
    expect(quac.metrics().keyPoolAvailable).toEqual([]);
    await expect(kx.generate()).rejects.toMatchObject({ resultName: 'NOT_INITIALIZED' });
  });
});
