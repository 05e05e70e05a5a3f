/**
 * Cross-connection batching (src/hw/quac100/batcher.ts): concurrent ML-KEM and
 * ML-DSA work from many handshakes reaches the card as few batchExecute
 * calls, each caller gets its own item's result, and one failing item fails
 * only its own caller.
 */
import { describe, expect, it } from 'vitest';
import { toHex } from '../../src/bytes.js';
import { AlertDescription, IllegalParameterError } from '../../src/errors.js';
import { QuacError } from '../../src/hw/quac100/device.js';
import { createNobleProvider, NamedGroup, type CryptoProvider, type KeyExchange } from '../../src/pq/index.js';
import { seededRandom } from '../../src/testing/index.js';
import { connectPair, pinnedKeyVerifier, testKey } from '../helpers/tls-pair.js';
import { quacFixture } from './quac-fixture.js';

/** A noble client whose ML-KEM-768 encapsulation key fails the FIPS 203 §7.2 modulus check (every coefficient 0xfff > q). */
function badShareClient(seed: string): CryptoProvider {
  const noble = createNobleProvider({ random: seededRandom(seed) });
  return {
    ...noble,
    keyExchange: (g) => {
      const k = noble.keyExchange(g);
      const bad: KeyExchange = {
        ...k,
        generate: async () => {
          const ks = await k.generate();
          const share = ks.share.slice();
          share.fill(0xff, 0, 1152); // ML-KEM-768 comes first in X25519MLKEM768; its t-hat is the first 1152 bytes
          return { ...ks, share };
        },
      };
      return bad;
    },
  };
}

describe('cross-connection batching', () => {
  it('8 concurrent handshakes: fewer device calls than operations, and every connection gets its own secrets', async () => {
    const { quac } = await quacFixture({ provider: { batch: { maxSize: 64, maxWaitMs: 2 } } });
    const key = await testKey(quac, 'ml-dsa-65');
    const before = quac.metrics();
    const pairs = await Promise.all(Array.from({ length: 8 }, (_, i) => connectPair(
      { provider: createNobleProvider({ random: seededRandom(`client-${i}`) }), verifier: pinnedKeyVerifier(key), groups: ['X25519MLKEM768'] },
      { provider: quac, certificate: { chain: [key.publicKey], ...key }, groups: ['X25519MLKEM768'] },
    )));
    const exported = await Promise.all(pairs.map(async ({ client, server }) => {
      expect(client.error).toBeUndefined();
      expect(server.error).toBeUndefined();
      const a = toHex(await client.exportKeyingMaterial('EXPORTER-batch', new Uint8Array(0), 32));
      const b = toHex(await server.exportKeyingMaterial('EXPORTER-batch', new Uint8Array(0), 32));
      expect(a).toBe(b);
      return a;
    }));
    expect(new Set(exported).size).toBe(8);

    const m = quac.metrics();
    const batches = m.batchSizes.count - before.batchSizes.count;
    const batchedOps = m.batchSizes.sum - before.batchSizes.sum;
    // 8 encapsulations and 8 CertificateVerify signatures went through batches...
    expect(batchedOps).toBe(16);
    // ...in two calls: the 8 encapsulations coalesce, and so do the 8 signatures.
    expect(batches).toBe(2);
    // With the 8 ServerHello randoms (one QRNG call each): 10 device calls for 24 operations.
    expect([m.deviceCalls - before.deviceCalls, m.deviceOperations - before.deviceOperations]).toEqual([10, 24]);
  });

  it('one handshake whose ML-KEM share fails the modulus check fails alone, with illegal_parameter; its batch-mates complete', async () => {
    const { quac } = await quacFixture({ provider: { batch: { maxSize: 64, maxWaitMs: 2 } } });
    const key = await testKey(quac, 'ml-dsa-44');
    const before = quac.metrics().batchSizes;
    const pairs = await Promise.all(Array.from({ length: 6 }, (_, i) => connectPair(
      { provider: i === 3 ? badShareClient('bad') : createNobleProvider({ random: seededRandom(`ok-${i}`) }), verifier: pinnedKeyVerifier(key), groups: ['X25519MLKEM768'] },
      { provider: quac, certificate: { chain: [key.publicKey], ...key }, groups: ['X25519MLKEM768'] },
    )));
    pairs.forEach(({ client, server }, i) => {
      if (i === 3) {
        expect(server.error).toBeInstanceOf(IllegalParameterError);
        expect(server.error?.alert).toBe(AlertDescription.illegal_parameter);
        expect(client.handshakeInfo).toBeUndefined();
      } else {
        expect(server.error).toBeUndefined();
        expect(client.handshakeInfo?.group).toBe(NamedGroup.X25519MLKEM768);
      }
    });
    // The six encapsulations shared one device call: the bad item failed inside a batch with the good ones.
    const after = quac.metrics();
    expect(after.batchSizes.count - before.count).toBe(2); // the encapsulations, then the five signatures
    expect(after.deviceErrors).toEqual([{ labels: { result: 'INVALID_PARAMETER' }, value: 1 }]);
  });

  it('maxSize splits a burst into full batches, and each caller gets the secret of its own share', async () => {
    const { quac } = await quacFixture({ provider: { batch: { maxSize: 4, maxWaitMs: 50 } } });
    const noble = createNobleProvider({ random: seededRandom('burst') });
    const kx = quac.keyExchange(NamedGroup.MLKEM768);
    const shares = await Promise.all(Array.from({ length: 16 }, () => noble.keyExchange(NamedGroup.MLKEM768).generate()));
    const out = await Promise.all(shares.map((s) => kx.encapsulate(s.share)));
    for (let i = 0; i < 16; i++) {
      expect(toHex(await (shares[i] as (typeof shares)[number]).complete((out[i] as (typeof out)[number]).share))).toBe(toHex((out[i] as (typeof out)[number]).secret));
    }
    const b = quac.metrics().batchSizes;
    expect([b.count, b.sum]).toEqual([4, 16]);
    // Full batches went at once: no item waited for the 50 ms timer.
    expect(b.counts[b.bounds.indexOf(4)]).toBe(4);
  });

  it('a lone operation waits at most maxWaitMs for companions', async () => {
    const { quac, clock } = await quacFixture({ provider: { batch: { maxSize: 64, maxWaitMs: 5 } } });
    const share = await createNobleProvider().keyExchange(NamedGroup.MLKEM512).generate();
    const t0 = clock.now();
    await quac.keyExchange(NamedGroup.MLKEM512).encapsulate(share.share);
    const waited = clock.now() - t0;
    expect(waited).toBeGreaterThanOrEqual(5);
    expect(waited).toBeLessThan(6); // the timer plus the card's sub-millisecond service time
  });

  it('the queue is bounded: beyond maxQueue, work is refused with QUAC_ERROR_BUSY', async () => {
    const { quac } = await quacFixture({ provider: { batch: { maxSize: 64, maxWaitMs: 5, maxQueue: 2 } } });
    const share = await createNobleProvider().keyExchange(NamedGroup.MLKEM512).generate();
    const kx = quac.keyExchange(NamedGroup.MLKEM512);
    const r = await Promise.allSettled([kx.encapsulate(share.share), kx.encapsulate(share.share), kx.encapsulate(share.share)]);
    expect(r.map((x) => x.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
    expect((r[2] as PromiseRejectedResult).reason).toBeInstanceOf(QuacError);
    expect((r[2] as PromiseRejectedResult).reason.resultName).toBe('BUSY');
  });
});
