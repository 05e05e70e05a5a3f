/**
 * The QUAC 100 provider is a CryptoProvider like any other, whatever card
 * implementation it drives: every ML-KEM group and hybrid completes a full TLS
 * 1.3 handshake (RFC 8446 §2) against the noble provider in both roles, with
 * the ML-KEM half on the card and the classical half in software,
 * byte-compatible (draft-ietf-tls-ecdhe-mlkem §3.1, draft-ietf-tls-mlkem);
 * every ML-DSA parameter set signs a CertificateVerify with a card-held key
 * (draft-ietf-tls-mldsa) that export refuses; imported software keys stay
 * software keys. Registered by provider.test.ts (the emulated card) and
 * native-device.test.ts (the native binding over the OpenSSL 3.5 C test double).
 */
import { describe, expect, it } from 'vitest';
import { equalBytes, toHex } from '../../src/bytes.js';
import { ConfigError, KeyUnavailableError, UnsupportedAlgorithmError } from '../../src/errors.js';
import type { QuacDevice } from '../../src/hw/quac100/device.js';
import type { QuacKeyRef } from '../../src/hw/quac100/provider.js';
import {
  createNobleProvider, groupName, NamedGroup, SignatureScheme, type CryptoProvider, type MlDsaAlgorithm,
} from '../../src/pq/index.js';
import { seededRandom } from '../../src/testing/index.js';
import { QuicConnection, type QuicServerOptions } from '../../src/quic/connection/connection.js';
import { QuicSim } from '../helpers/quic-sim.js';
import { clock, connectPair, pinnedKeyVerifier, testKey, type TestKey } from '../helpers/tls-pair.js';
import { cardsFixture, type MakeCards } from './quac-fixture.js';

const ML_KEM_GROUPS = [
  NamedGroup.X25519MLKEM768, NamedGroup.SecP256r1MLKEM768, NamedGroup.SecP384r1MLKEM1024,
  NamedGroup.MLKEM512, NamedGroup.MLKEM768, NamedGroup.MLKEM1024,
] as const;
const PURE_ML_KEM: readonly number[] = [NamedGroup.MLKEM512, NamedGroup.MLKEM768, NamedGroup.MLKEM1024];
const ML_DSA = [
  ['ml-dsa-44', SignatureScheme.mldsa44],
  ['ml-dsa-65', SignatureScheme.mldsa65],
  ['ml-dsa-87', SignatureScheme.mldsa87],
] as const satisfies readonly (readonly [MlDsaAlgorithm, SignatureScheme])[];

export async function handshake(clientProvider: CryptoProvider, serverProvider: CryptoProvider, serverKey: TestKey, group: NamedGroup) {
  const { client, server } = await connectPair(
    { provider: clientProvider, verifier: pinnedKeyVerifier(serverKey), groups: [group] },
    { provider: serverProvider, certificate: { chain: [serverKey.publicKey], ...serverKey }, groups: [group] },
  );
  expect(client.error).toBeUndefined();
  expect(server.error).toBeUndefined();
  expect(client.handshakeInfo?.group).toBe(group);
  expect(server.handshakeInfo?.group).toBe(group);
  // Both sides hold the same secrets (RFC 8446 §7.5 exporter from the same master secret).
  const a = await client.exportKeyingMaterial('EXPORTER-quac-test', new Uint8Array(0), 32);
  const b = await server.exportKeyingMaterial('EXPORTER-quac-test', new Uint8Array(0), 32);
  expect(toHex(a)).toBe(toHex(b));
  return { client, server };
}

/** The provider suite over the cards `cards` makes (at least one device). */
export function providerConformance(name: string, cards: MakeCards): void {
  describe(`QUAC provider over ${name}: full TLS 1.3 handshakes against noble (RFC 8446 §2, draft-ietf-tls-ecdhe-mlkem, draft-ietf-tls-mlkem)`, () => {
    it.each(ML_KEM_GROUPS.map((g) => [groupName(g), g] as const))('%s: QUAC server (device ML-DSA key) ↔ noble client, then QUAC client ↔ noble server', async (_name, group) => {
      const { quac, soft } = await cardsFixture(cards, { seed: `hs-${group}` });
      const noble = createNobleProvider({ random: seededRandom(`noble-${group}`) });

      const deviceKey = await testKey(quac, 'ml-dsa-65');
      await handshake(noble, quac, deviceKey, group);
      const nobleKey = await testKey(noble, 'ml-dsa-44');
      await handshake(quac, noble, nobleKey, group);

      // ML-KEM ran on the card: one keygen+decaps (client role) and one encaps (server role).
      const m = quac.metrics();
      const alg = group === NamedGroup.SecP384r1MLKEM1024 || group === NamedGroup.MLKEM1024 ? 'ML-KEM-1024'
        : group === NamedGroup.MLKEM512 ? 'ML-KEM-512' : 'ML-KEM-768';
      const count = (operation: string) => m.kemOperations.find((c) => c.labels['operation'] === operation && c.labels['algorithm'] === alg)?.value;
      expect([count('keygen'), count('encaps'), count('decaps')]).toEqual([1, 1, 1]);
      expect(m.signOperations.find((c) => c.labels['operation'] === 'sign')?.value).toBe(1);
      expect(m.signOperations.find((c) => c.labels['operation'] === 'verify')?.value).toBe(1);
      // Never weaker: the software provider made no random bytes and no ML-KEM; only a hybrid's classical half ran there.
      expect(soft.random).toEqual([]);
      const classical = { [NamedGroup.X25519MLKEM768]: 'x25519', [NamedGroup.SecP256r1MLKEM768]: 'secp256r1', [NamedGroup.SecP384r1MLKEM1024]: 'secp384r1' }[group as number];
      expect(soft.kex).toEqual(PURE_ML_KEM.includes(group) ? [] : [`${classical}:encapsulate`, `${classical}:generate`]);
      expect(m.softwareFallbacks).toEqual([]);
    });

    it.each(ML_DSA)('%s: a card-held key signs the server CertificateVerify (draft-ietf-tls-mldsa) over X25519MLKEM768; the card verifies a noble server\'s', async (alg, scheme) => {
      const { quac } = await cardsFixture(cards, { seed: `scheme-${alg}` });
      const noble = createNobleProvider({ random: seededRandom(`noble-${alg}`) });
      const { client, server } = await handshake(noble, quac, await testKey(quac, alg), NamedGroup.X25519MLKEM768);
      expect([server.handshakeInfo?.signatureScheme, client.handshakeInfo?.peerSignatureScheme]).toEqual([scheme, scheme]);
      const { client: ours } = await handshake(quac, noble, await testKey(noble, alg), NamedGroup.X25519MLKEM768);
      expect(ours.handshakeInfo?.peerSignatureScheme).toBe(scheme);
      expect(quac.metrics().signOperations).toEqual([
        { labels: { operation: 'sign', algorithm: alg }, value: 1 },
        { labels: { operation: 'verify', algorithm: alg }, value: 1 },
      ]);
    });

    it('QUIC (RFC 9001): a QUAC server with a device-held ML-DSA key completes a handshake with a noble client; AEAD and header protection run in software', async () => {
      const { quac, soft } = await cardsFixture(cards, { seed: 'quic' });
      const noble = createNobleProvider({ random: seededRandom('quic-client') });
      const key = await testKey(quac, 'ml-dsa-65');
      const serverOptions: QuicServerOptions = { tls: { provider: quac, now: clock, certificate: { chain: [key.publicKey], ...key }, alpnProtocols: ['q'] } };
      const conn = await QuicConnection.connect({ tls: { provider: noble, now: clock, serverName: 'quac.test', verifier: pinnedKeyVerifier(key), alpnProtocols: ['q'], groups: ['X25519MLKEM768'] } }, 1_000_000);
      const sim = new QuicSim(conn, serverOptions);
      await sim.run(() => conn.isHandshakeComplete && sim.server?.isHandshakeComplete === true);
      expect(conn.error).toBeUndefined();
      expect(sim.server?.error).toBeUndefined();
      expect(conn.isHandshakeComplete && sim.server?.isHandshakeComplete).toBe(true);
      const m = quac.metrics();
      expect(m.kemOperations).toEqual([{ labels: { operation: 'encaps', algorithm: 'ML-KEM-768' }, value: 1 }]);
      expect(m.signOperations).toEqual([{ labels: { operation: 'sign', algorithm: 'ml-dsa-65' }, value: 1 }]);
      expect(soft.random).toEqual([]);
      expect(soft.kex).toEqual(['x25519:encapsulate']);
    });

    it('classical groups pass through to the software provider unchanged', async () => {
      const { quac } = await cardsFixture(cards, { seed: 'classical' });
      const noble = createNobleProvider({ random: seededRandom('classical') });
      const key = await testKey(quac, 'ml-dsa-44');
      for (const g of [NamedGroup.x25519, NamedGroup.secp256r1, NamedGroup.secp384r1]) await handshake(noble, quac, key, g);
      expect(quac.groups).toEqual(createNobleProvider().groups);
    });
  });

  describe(`QUAC provider over ${name}: ML-DSA with device-held keys (FIPS 204)`, () => {
    it.each(ML_DSA)('%s: generateKeyPair makes a stored, non-extractable key; it signs on the card, verifies anywhere, and export is refused', async (alg, scheme) => {
      const { quac, devices } = await cardsFixture(cards, { seed: `keys-${alg}` });
      const kp = await quac.generateKeyPair(alg);
      const ref = kp.privateKey as QuacKeyRef;
      expect(ref).toMatchObject({ algorithm: alg, provider: 'quac100' });
      expect(typeof ref.handle).toBe('bigint');
      expect(devices.map((d) => d.index)).toContain(ref.device);
      // The ref carries no key bytes.
      expect(Object.values(ref).some((v) => v instanceof Uint8Array)).toBe(false);

      const msg = new TextEncoder().encode('TLS 1.3, server CertificateVerify');
      const sig = await quac.sign(scheme, ref, msg);
      const noble = createNobleProvider();
      expect(await noble.verify(scheme, kp.publicKey, msg, sig)).toBe(true);
      expect(await quac.verify(scheme, kp.publicKey, msg, sig)).toBe(true);
      const bad = sig.slice();
      bad[10] = (bad[10] as number) ^ 1;
      expect(await quac.verify(scheme, kp.publicKey, msg, bad)).toBe(false);

      await expect(quac.exportPrivateKey(ref)).rejects.toThrow(KeyUnavailableError);
      await expect(quac.exportPrivateKey(ref)).rejects.toThrow(/lives on QUAC device \d.*not extractable/);
      // The card agrees: its attributes say so and its own export refuses.
      const dev = devices.find((d) => d.index === ref.device) as QuacDevice;
      expect(await dev.keyAttributes(ref.handle)).toEqual({ extractable: false, persistent: false });
      await expect(dev.keyExport(ref.handle)).rejects.toMatchObject({ resultName: 'KEY_NOT_EXTRACTABLE' });

      // A scheme of another parameter set cannot use the key; a look-alike ref is not a device key.
      const other = scheme === SignatureScheme.mldsa44 ? SignatureScheme.mldsa65 : SignatureScheme.mldsa44;
      await expect(quac.sign(other, ref, msg)).rejects.toThrow(ConfigError);
      await expect(quac.sign(scheme, { ...ref }, msg)).rejects.toThrow();
    });

    it('createStoredKey / storedKey find a key by label on its device', async () => {
      const { quac } = await cardsFixture(cards, { seed: 'stored' });
      const label = `server-mldsa87-${name}`;
      const made = await quac.createStoredKey('ml-dsa-87', label, { persistent: true });
      const found = await quac.storedKey(label);
      expect(equalBytes(found.publicKey, made.publicKey)).toBe(true);
      expect((found.privateKey as QuacKeyRef).handle).toBe((made.privateKey as QuacKeyRef).handle);
      const msg = new Uint8Array([1, 2, 3]);
      const sig = await quac.sign(SignatureScheme.mldsa87, found.privateKey, msg);
      expect(await createNobleProvider().verify(SignatureScheme.mldsa87, made.publicKey, msg, sig)).toBe(true);
      await expect(quac.storedKey('no-such-label')).rejects.toThrow(KeyUnavailableError);
    });

    it('importPrivateKey goes to the software provider: the key is NOT device-held and exports as software material', async () => {
      const { quac, soft } = await cardsFixture(cards, { seed: 'import' });
      const seed = new Uint8Array(32).fill(7);
      const kp = await quac.importPrivateKey({ algorithm: 'ml-dsa-44', seed });
      expect(kp.privateKey.provider).toBe(soft.provider.name);
      const msg = new Uint8Array([9]);
      const sig = await quac.sign(SignatureScheme.mldsa44, kp.privateKey, msg);
      expect(await quac.verify(SignatureScheme.mldsa44, kp.publicKey, msg, sig)).toBe(true);
      expect(await quac.exportPrivateKey(kp.privateKey)).toMatchObject({ algorithm: 'ml-dsa-44', seed });
      expect(quac.metrics().signOperations.find((c) => c.labels['operation'] === 'sign')).toBeUndefined();
    });
  });

  describe(`QUAC provider over ${name}: random bytes and FIPS mode`, () => {
    it('random() reads the card\'s QRNG, never the software provider', async () => {
      const { quac, soft } = await cardsFixture(cards, { seed: 'random' });
      const r = await quac.random(48);
      expect(r.length).toBe(48);
      expect(await quac.random(48)).not.toEqual(r);
      expect(soft.random).toEqual([]);
      expect(quac.metrics().deviceCalls).toBe(2);
    });

    it('FIPS mode: the card self-tests, non-approved algorithms are refused, and a SecP256r1MLKEM768 handshake with a device key completes', async () => {
      const { quac } = await cardsFixture(cards, { seed: 'fips', provider: { fips: true } });
      expect(quac.groups).not.toContain(NamedGroup.x25519);
      expect(quac.groups).toEqual(expect.arrayContaining([NamedGroup.X25519MLKEM768, NamedGroup.SecP256r1MLKEM768, NamedGroup.secp256r1, NamedGroup.MLKEM768]));
      expect(() => quac.keyExchange(NamedGroup.x25519)).toThrow(UnsupportedAlgorithmError);
      await expect(quac.aead('CHACHA20-POLY1305', new Uint8Array(32))).rejects.toThrow(UnsupportedAlgorithmError);
      await expect(quac.headerProtection('CHACHA20', new Uint8Array(32))).rejects.toThrow(UnsupportedAlgorithmError);
      await expect(quac.aead('AES-128-GCM', new Uint8Array(16))).resolves.toBeDefined();
      const noble = createNobleProvider({ random: seededRandom('fips-client') });
      await handshake(noble, quac, await testKey(quac, 'ml-dsa-65'), NamedGroup.SecP256r1MLKEM768);
      expect(quac.metrics().signOperations.find((c) => c.labels['operation'] === 'sign')?.value).toBe(1);
    });
  });
}
