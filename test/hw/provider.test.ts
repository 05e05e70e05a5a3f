/**
 * The QUAC 100 provider on the emulated card: the provider suite every card
 * implementation passes (provider-conformance.ts — every ML-KEM group and
 * hybrid, every ML-DSA parameter set, device-held keys, QRNG, FIPS; also run
 * through koffi against the C test double by native-device.test.ts), then
 * what only the emulator can stage: a library opened twice to look at a key
 * the provider made, a card that fails its known-answer test, no cards at all.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, KeyUnavailableError, UnsupportedAlgorithmError } from '../../src/errors.js';
import { QuacError, type QuacDevice } from '../../src/hw/quac100/device.js';
import { EmulatedQuacLibrary } from '../../src/hw/quac100/emulated.js';
import { createQuacProvider, type QuacKeyRef } from '../../src/hw/quac100/provider.js';
import { createNobleProvider, NamedGroup, SignatureScheme } from '../../src/pq/index.js';
import { seededRandom } from '../../src/testing/index.js';
import { testKey } from '../helpers/tls-pair.js';
import { handshake, providerConformance } from './provider-conformance.js';
import { emulatedCards, quacFixture } from './quac-fixture.js';

providerConformance('the emulated card', emulatedCards);

describe('FIPS mode', () => {
  it('initialises the library in FIPS mode, self-tests every card, and refuses the non-approved algorithms (fips.ts)', async () => {
    const lib = new EmulatedQuacLibrary({ devices: 1, random: seededRandom('fips') });
    const quac = await createQuacProvider({ library: lib, fips: true, keyPool: false });
    expect(quac.groups).not.toContain(NamedGroup.x25519);
    expect(quac.groups).toEqual(expect.arrayContaining([NamedGroup.X25519MLKEM768, NamedGroup.SecP256r1MLKEM768, NamedGroup.secp256r1, NamedGroup.MLKEM768]));
    expect(() => quac.keyExchange(NamedGroup.x25519)).toThrow(UnsupportedAlgorithmError);
    await expect(quac.aead('CHACHA20-POLY1305', new Uint8Array(32))).rejects.toThrow(UnsupportedAlgorithmError);
    await expect(quac.headerProtection('CHACHA20', new Uint8Array(32))).rejects.toThrow(UnsupportedAlgorithmError);
    await expect(quac.aead('AES-128-GCM', new Uint8Array(16))).resolves.toBeDefined();
    // The library really is in FIPS mode: the card refuses deterministic ML-DSA there.
    const kp = await quac.createStoredKey('ml-dsa-44', 'fips-key', { persistent: true });
    const dev = await lib.open(0);
    await expect(dev.signStored((kp.privateKey as QuacKeyRef).handle, new Uint8Array(1), { deterministic: true }))
      .rejects.toMatchObject({ resultName: 'FIPS_NOT_APPROVED' });
    // A FIPS handshake over the approved hybrid.
    const noble = createNobleProvider({ random: seededRandom('fips-client') });
    await handshake(noble, quac, await testKey(quac, 'ml-dsa-65'), NamedGroup.SecP256r1MLKEM768);
    await quac.close();
  });

  it('FIPS mode cannot fall back to software', async () => {
    const lib = new EmulatedQuacLibrary({ devices: 1 });
    await expect(createQuacProvider({ library: lib, fips: true, fallback: 'software' })).rejects.toThrow(ConfigError);
  });

  it('a card that fails its known-answer self-test is never used: FIPS start-up fails closed', async () => {
    const lib = new EmulatedQuacLibrary({ devices: 1 });
    lib.inject(0, { selfTestFailure: true });
    await expect(createQuacProvider({ library: lib, fips: true })).rejects.toThrow(QuacError);
  });

  it('no devices at all: the provider fails closed at creation', async () => {
    const lib = new EmulatedQuacLibrary({ devices: 0 });
    await expect(createQuacProvider({ library: lib })).rejects.toMatchObject({ resultName: 'DEVICE_NOT_FOUND' });
  });
});

describe('two emulated cards', () => {
  it('a device-held key lives on one card: storedKey finds it there, the other card does not hold it, and it signs there', async () => {
    const { quac, devices } = await quacFixture({ devices: 2 });
    const made = await quac.createStoredKey('ml-dsa-87', 'server-mldsa87', { persistent: true });
    const ref = made.privateKey as QuacKeyRef;
    expect([0, 1]).toContain(ref.device);
    const found = await quac.storedKey('server-mldsa87');
    expect(found.privateKey).toMatchObject({ device: ref.device, handle: ref.handle });
    expect(await (devices[1 - ref.device] as QuacDevice).keyFind('server-mldsa87')).toBeUndefined();
    const msg = new Uint8Array([1, 2, 3]);
    const sig = await quac.sign(SignatureScheme.mldsa87, found.privateKey, msg);
    expect(await createNobleProvider().verify(SignatureScheme.mldsa87, made.publicKey, msg, sig)).toBe(true);
    await expect(quac.exportPrivateKey(ref)).rejects.toThrow(KeyUnavailableError);
  });
});
