/**
 * The device pool under faults (src/hw/quac100/pool.ts), each documented
 * behaviour asserted on emulated cards with injected faults: a lost device's
 * in-flight batch is retried elsewhere once; an over-temperature card leaves
 * the rotation and is probed back after its back-off; a card that fails its
 * self-test is never used; low entropy fails random() closed. Never weaker:
 * without `fallback: 'software'` nothing is invented in software, and with it
 * every rerouted operation is counted.
 */
import { describe, expect, it } from 'vitest';
import { toHex } from '../../src/bytes.js';
import { QuacError, QuacResult } from '../../src/hw/quac100/device.js';
import type { QuacKeyRef } from '../../src/hw/quac100/provider.js';
import { createNobleProvider, NamedGroup, SignatureScheme } from '../../src/pq/index.js';
import { seededRandom } from '../../src/testing/index.js';
import { connectPair, pinnedKeyVerifier, testKey } from '../helpers/tls-pair.js';
import { override, quacFixture } from './quac-fixture.js';

const noble = () => createNobleProvider({ random: seededRandom('faults-client') });

async function encapsulateMany(quac: { keyExchange(g: NamedGroup): { encapsulate(s: Uint8Array): Promise<{ share: Uint8Array; secret: Uint8Array }> } }, n: number) {
  const shares = await Promise.all(Array.from({ length: n }, () => noble().keyExchange(NamedGroup.MLKEM768).generate()));
  const settled = await Promise.allSettled(shares.map((s) => quac.keyExchange(NamedGroup.MLKEM768).encapsulate(s.share)));
  return { shares, settled };
}

describe('device lost mid-batch', () => {
  it('the in-flight batch is retried once on another device, and every caller still gets the right secret', async () => {
    let armed = true;
    const { quac } = await quacFixture({
      devices: 2,
      provider: { batch: { maxSize: 4, maxWaitMs: 1 } },
      // Card 0 is pulled out right after it accepted the batch.
      wrap: (d, lib) => d.index !== 0 ? d : override(d, {
        batchExecute: (items, o) => {
          const p = d.batchExecute(items, o);
          if (armed) {
            armed = false;
            lib.inject(0, { disappear: true });
          }
          return p;
        },
      }),
    });
    const { shares, settled } = await encapsulateMany(quac, 4);
    for (let i = 0; i < 4; i++) {
      const r = settled[i] as PromiseFulfilledResult<{ share: Uint8Array; secret: Uint8Array }>;
      expect(r.status).toBe('fulfilled');
      expect(toHex(await (shares[i] as (typeof shares)[number]).complete(r.value.share))).toBe(toHex(r.value.secret));
    }
    const m = quac.metrics();
    expect(m.devices.map((d) => [d.state, d.calls])).toEqual([['backoff', 1], ['active', 1]]);
    expect(m.devices[0]?.reason).toMatch(/DEVICE_REMOVED/);
    expect(m.batchSizes.count).toBe(2);
  });

  it('…once only: when the second device is lost too, the callers fail with the device error', async () => {
    const { quac } = await quacFixture({
      devices: 2,
      provider: { batch: { maxSize: 4, maxWaitMs: 1 } },
      wrap: (d, lib) => override(d, {
        batchExecute: (items, o) => {
          const p = d.batchExecute(items, o);
          lib.inject(d.index, { disappear: true });
          return p;
        },
      }),
    });
    const { settled } = await encapsulateMany(quac, 4);
    for (const r of settled) {
      expect(r.status).toBe('rejected');
      expect((r as PromiseRejectedResult).reason).toBeInstanceOf(QuacError);
      expect(((r as PromiseRejectedResult).reason as QuacError).resultName).toBe('DEVICE_REMOVED');
    }
    expect(quac.metrics().devices.map((d) => d.calls)).toEqual([1, 1]);
  });

  it('a stored key fails with its device: no silent retry elsewhere', async () => {
    const { quac, lib } = await quacFixture({ devices: 2 });
    const kp = await quac.createStoredKey('ml-dsa-65', 'bound-key');
    const ref = kp.privateKey as QuacKeyRef;
    const other = 1 - ref.device;
    const callsOnOther = quac.metrics().devices[other]?.calls;
    lib.inject(ref.device, { disappear: true });
    await expect(quac.sign(SignatureScheme.mldsa65, ref, new Uint8Array(1))).rejects.toMatchObject({ resultName: 'DEVICE_REMOVED' });
    // Now known to be out: refused up front, naming the device.
    await expect(quac.sign(SignatureScheme.mldsa65, ref, new Uint8Array(1))).rejects.toThrow(new RegExp(`lives on device ${ref.device}, which is out of the rotation`));
    expect(quac.metrics().devices[other]?.calls).toBe(callsOnOther);
  });
});

describe('over-temperature', () => {
  it('a card reporting over-temperature leaves the rotation, and is probed back (health + selfTest) after its back-off', async () => {
    const { quac, lib, clock } = await quacFixture({ devices: 2, provider: { backoff: { initialMs: 100 } } });
    lib.inject(0, { overheat: true });
    await quac.pollHealth();
    let m = quac.metrics();
    expect(m.devices[0]).toMatchObject({ state: 'backoff', reason: expect.stringMatching(/over temperature/) });
    expect(m.devices[0]?.temperatureCelsius).toBeGreaterThanOrEqual(90);
    const callsOn0 = m.devices[0]?.calls;
    await encapsulateMany(quac, 6);
    expect(quac.metrics().devices[0]?.calls).toBe(callsOn0);

    // Still hot when the back-off ends: the probe fails and the wait doubles.
    await clock.advance(100);
    await encapsulateMany(quac, 1);
    m = quac.metrics();
    expect(m.devices[0]?.state).toBe('backoff');
    expect(m.devices[0]?.calls).toBe(callsOn0);

    lib.clear(0, 'overheat');
    await clock.advance(200);
    await quac.pollHealth();
    m = quac.metrics();
    expect(m.devices[0]?.state).toBe('active');
    expect(m.devices[0]?.temperatureCelsius).toBeLessThan(90);
  });
});

describe('a card that cannot run its self-test at start-up', () => {
  it('waits in back-off (not failed) and joins only after a probe whose self-test passes', async () => {
    const { quac, lib, clock } = await quacFixture({ devices: 2, before: (l) => l.inject(0, { overheat: true }), provider: { backoff: { initialMs: 100 } } });
    expect(quac.metrics().devices[0]).toMatchObject({ state: 'backoff', reason: expect.stringMatching(/self-test not run.*OVER_TEMPERATURE/) });
    lib.clear(0, 'overheat');
    await clock.advance(100);
    await quac.pollHealth();
    expect(quac.metrics().devices[0]?.state).toBe('active');
  });
});

describe('self-test failure', () => {
  it('a card that fails its known-answer self-test at start-up is never used, not even after probing', async () => {
    const { quac, clock } = await quacFixture({ devices: 2, before: (lib) => lib.inject(0, { selfTestFailure: true }), provider: { backoff: { initialMs: 10 } } });
    expect(quac.metrics().devices[0]).toMatchObject({ state: 'failed', reason: expect.stringMatching(/self-test/) });
    await encapsulateMany(quac, 4);
    await clock.advance(1000);
    await quac.pollHealth();
    await quac.random(16);
    expect(quac.metrics().devices.map((d) => [d.state, d.calls])).toEqual([['failed', 0], ['active', 2]]);
  });

  it('when every card fails its self-test the provider refuses to start (fails closed)', async () => {
    await expect(quacFixture({ devices: 2, before: (lib) => { lib.inject(0, { selfTestFailure: true }); lib.inject(1, { selfTestFailure: true }); } }))
      .rejects.toMatchObject({ resultName: 'SELF_TEST_FAILED' });
  });
});

describe('entropy low and fallback', () => {
  it('a starved QRNG takes its card out; random() is served by another card', async () => {
    const { quac, lib, soft } = await quacFixture({ devices: 2 });
    lib.inject(0, { entropyLow: true });
    expect((await quac.random(16)).length).toBe(16);
    const m = quac.metrics();
    expect(m.devices.map((d) => [d.state, d.calls])).toEqual([['backoff', 1], ['active', 1]]);
    expect(m.deviceErrors).toEqual([{ labels: { result: 'ENTROPY_LOW' }, value: 1 }]);
    expect(soft.random).toEqual([]);
  });

  it('random() fails closed when the QRNG is starved; no software bytes are invented', async () => {
    const { quac, lib, soft } = await quacFixture();
    lib.inject(0, { entropyLow: true });
    const e = await quac.random(32).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(QuacError);
    expect((e as QuacError).message).toMatch(/ENTROPY_LOW/);
    expect(soft.random).toEqual([]);
    expect(quac.metrics().softwareFallbacks).toEqual([]);
  });

  it('with fallback: "software", random() comes from the software provider and is counted', async () => {
    const { quac, lib, soft } = await quacFixture({ provider: { fallback: 'software' } });
    lib.inject(0, { entropyLow: true });
    expect((await quac.random(32)).length).toBe(32);
    expect(soft.random).toEqual([32]);
    expect(quac.metrics().softwareFallbacks).toEqual([{ labels: { operation: 'random' }, value: 1 }]);
  });

  it('no usable card, no fallback: the handshake fails and no ML-KEM secret is made in software', async () => {
    // The card's QRNG would still answer; its ML-KEM engine is lost.
    const { quac, soft } = await quacFixture({
      wrap: (d) => override(d, { batchExecute: async () => { throw new QuacError(QuacResult.DEVICE_REMOVED, 'quac_batch_execute'); } }),
    });
    const key = await testKey(quac, 'ecdsa-p256'); // a software key: ECDSA is the software provider's
    const { client, server } = await connectPair(
      { provider: noble(), verifier: pinnedKeyVerifier(key), groups: ['MLKEM768'] },
      { provider: quac, certificate: { chain: [key.publicKey], ...key }, groups: ['MLKEM768'] },
    );
    expect(server.error).toBeInstanceOf(QuacError);
    expect(server.error?.message).toMatch(/no usable QUAC device.*DEVICE_REMOVED/);
    expect(client.handshakeInfo).toBeUndefined();
    expect(soft.kex).toEqual([]);
    expect(soft.random).toEqual([]);
    // One call: the encapsulation batch that found the engine gone (the handshake stopped there, before its random).
    expect(quac.metrics().devices[0]?.calls).toBe(1);
    expect(quac.metrics().deviceErrors).toEqual([{ labels: { result: 'DEVICE_REMOVED' }, value: 1 }]);
  });

  it('no usable card, fallback: "software": the handshake completes in software and every rerouted operation is counted', async () => {
    const { quac, lib, soft } = await quacFixture({ provider: { fallback: 'software' } });
    const key = await testKey(quac, 'ecdsa-p256'); // a software key: ECDSA is the software provider's
    lib.inject(0, { disappear: true });
    const { client, server } = await connectPair(
      { provider: noble(), verifier: pinnedKeyVerifier(key), groups: ['MLKEM768'] },
      { provider: quac, certificate: { chain: [key.publicKey], ...key }, groups: ['MLKEM768'] },
    );
    expect(server.error).toBeUndefined();
    expect(client.handshakeInfo?.group).toBe(NamedGroup.MLKEM768);
    expect(soft.kex).toEqual(['MLKEM768:encapsulate']);
    const fb = Object.fromEntries(quac.metrics().softwareFallbacks.map((c) => [c.labels['operation'], c.value]));
    expect(fb).toEqual({ 'random': 1, 'kem-encaps': 1 });
  });

  it('a failing item that is not a device fault is never rerouted to software, even with fallback', async () => {
    const { quac, lib, soft } = await quacFixture({ provider: { fallback: 'software' } });
    lib.inject(0, { fail: 1, code: QuacResult.INTERNAL });
    const share = await noble().keyExchange(NamedGroup.MLKEM768).generate();
    await expect(quac.keyExchange(NamedGroup.MLKEM768).encapsulate(share.share)).rejects.toMatchObject({ resultName: 'INTERNAL' });
    expect(soft.kex).toEqual([]);
  });
});



describe('close', () => {
  it('a closed provider refuses work with QUAC_ERROR_NOT_INITIALIZED and never falls back', async () => {
    const { quac, soft } = await quacFixture({ provider: { fallback: 'software' } });
    await quac.close();
    await expect(quac.random(8)).rejects.toMatchObject({ resultName: 'NOT_INITIALIZED' });
    const share = await noble().keyExchange(NamedGroup.MLKEM512).generate();
    await expect(quac.keyExchange(NamedGroup.MLKEM512).encapsulate(share.share)).rejects.toMatchObject({ resultName: 'NOT_INITIALIZED' });
    expect(soft.random).toEqual([]);
    expect(soft.kex).toEqual([]);
  });
});
