/**
 * The device pool's dispatch (src/hw/quac100/pool.ts): work goes to the
 * active device with the fewest operations in flight, ties in turn; health is
 * polled on a timer when asked to be; several providers can share one pool.
 */
import { describe, expect, it } from 'vitest';
import { createQuacPool } from '../../src/hw/quac100/cards.js';
import { VirtualClock } from '../../src/hw/quac100/clock.js';
import { EmulatedQuacLibrary } from '../../src/hw/quac100/emulated.js';
import { createQuacProvider } from '../../src/hw/quac100/provider.js';
import { createNobleProvider, NamedGroup } from '../../src/pq/index.js';
import { seededRandom } from '../../src/testing/index.js';
import { override, quacFixture } from './quac-fixture.js';

describe('device pool', () => {
  it('least-loaded dispatch: a batch goes to the idle card even when the turn is the busy one\'s', async () => {
    let clockRef: { sleep(ms: number): Promise<void> } | undefined;
    const { quac, clock } = await quacFixture({
      devices: 2,
      provider: { batch: { maxSize: 2, maxWaitMs: 1 } },
      // Card 0 answers slowly: 50 ms before it even starts.
      wrap: (d) => d.index !== 0 ? d : override(d, {
        batchExecute: async (items, o) => {
          await clockRef?.sleep(50);
          return d.batchExecute(items, o);
        },
      }),
    });
    clockRef = clock;
    const noble = createNobleProvider({ random: seededRandom('pool') });
    const shares = await Promise.all(Array.from({ length: 6 }, () => noble.keyExchange(NamedGroup.MLKEM768).generate()));
    const kx = quac.keyExchange(NamedGroup.MLKEM768);
    const enc = (i: number) => kx.encapsulate((shares[i] as (typeof shares)[number]).share);

    const slow = Promise.all([enc(0), enc(1)]); // batch 1: card 0's turn
    await Promise.all([enc(2), enc(3)]); // batch 2: card 1's turn, done while card 0 still holds batch 1
    expect(quac.metrics().devices.map((d) => [d.calls, d.inFlight])).toEqual([[1, 2], [1, 0]]);
    await Promise.all([enc(4), enc(5)]); // batch 3: card 0's turn again, but it has 2 in flight and card 1 none
    expect(quac.metrics().devices.map((d) => d.calls)).toEqual([1, 2]);
    await slow;
    expect(quac.metrics().devices.map((d) => d.inFlight)).toEqual([0, 0]);
  });

  it('ties go in turn', async () => {
    const { quac } = await quacFixture({ devices: 3 });
    for (let i = 0; i < 6; i++) await quac.random(8);
    expect(quac.metrics().devices.map((d) => d.calls)).toEqual([2, 2, 2]);
  });

  it('healthPollMs: a card that overheats leaves the rotation at the next poll, without any work failing on it', async () => {
    const { quac, lib, clock } = await quacFixture({ devices: 2, provider: { healthPollMs: 100, backoff: { initialMs: 10_000 } } });
    lib.inject(1, { overheat: true });
    const t0 = clock.now();
    while (quac.metrics().devices[1]?.state === 'active') await clock.sleep(10);
    expect(clock.now() - t0).toBeLessThanOrEqual(110);
    expect(quac.metrics().devices[1]).toMatchObject({ state: 'backoff', calls: 0 });
    await quac.close();
  });

  it('random() beyond one quac_random_bytes call (64 KiB) is drawn in chunks, all from the card', async () => {
    const { quac, soft } = await quacFixture();
    const r = await quac.random(100_000);
    expect(r.length).toBe(100_000);
    expect(quac.metrics().deviceCalls).toBe(2);
    expect(soft.random).toEqual([]);
  });
});

describe('a pool shared by providers', () => {
  it('two providers on one createQuacPool share the cards and their batches; closing a provider leaves the pool open', async () => {
    const clock = new VirtualClock();
    const lib = new EmulatedQuacLibrary({ devices: 1, clock, random: seededRandom('shared') });
    const pool = await createQuacPool({ library: lib, clock, batch: { maxSize: 8, maxWaitMs: 1 } });
    const a = await createQuacProvider({ pool, keyPool: false, software: createNobleProvider({ random: seededRandom('a') }) });
    const b = await createQuacProvider({ pool, keyPool: false, software: createNobleProvider({ random: seededRandom('b') }) });
    const noble = createNobleProvider({ random: seededRandom('shared-client') });
    const s1 = await noble.keyExchange(NamedGroup.MLKEM768).generate();
    const s2 = await noble.keyExchange(NamedGroup.MLKEM768).generate();
    await Promise.all([a.keyExchange(NamedGroup.MLKEM768).encapsulate(s1.share), b.keyExchange(NamedGroup.MLKEM768).encapsulate(s2.share)]);
    // One batch of two: the providers' work coalesced on the shared card.
    expect([pool.metrics().batchSizes.count, pool.metrics().batchSizes.sum]).toEqual([1, 2]);
    expect(a.metrics()).toEqual(pool.metrics());

    await a.close();
    expect((await b.random(8)).length).toBe(8);
    await pool.close();
    await expect(b.random(8)).rejects.toMatchObject({ resultName: 'NOT_INITIALIZED' });
    await expect(createQuacProvider({ pool, library: lib })).rejects.toThrow(/pool, or library\/devices/);
  });

  it('a provider\'s fips setting must match its pool\'s', async () => {
    const pool = await createQuacPool({ library: new EmulatedQuacLibrary({ devices: 1 }) });
    await expect(createQuacProvider({ pool, fips: true })).rejects.toThrow(/fips is true but the pool's is false/);
    await pool.close();
  });
});
