/**
 * Rotating a server's card-held ML-DSA key while it serves: a new key under
 * the same label on the same card (quac_key_find returns the newest, see
 * quac100.h), a new leaf certificate for it from the CA, `setCertificate` on
 * the running server — connections accepted afterwards present the new
 * certificate, connections in flight finish with the old key, and the old key
 * is destroyed on the card when the grace period ends.
 */
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { equalBytes } from '../../src/bytes.js';
import { ConfigError } from '../../src/errors.js';
import { VirtualClock } from '../../src/hw/quac100/clock.js';
import { QuacError } from '../../src/hw/quac100/device.js';
import type { QuacProvider } from '../../src/hw/quac100/provider.js';
import { MAX_ROTATION_GRACE_MS, rotateStoredKey } from '../../src/hw/quac100/rotation.js';
import type { QuacKeyRef } from '../../src/hw/quac100/signing.js';
import { connect, createServer, type PqTlsServer } from '../../src/node/index.js';
import { createQuicServer, quicConnect } from '../../src/node/quic.js';
import { createNobleProvider, type KeyPair } from '../../src/pq/index.js';
import { seededRandom } from '../../src/testing/index.js';
import { webPkiVerifier } from '../../src/tls13/verifier.js';
import { generateRoot, issueLeaf, type IssuedCertificate } from '../../src/x509/ca.js';
import { NOW, clock, pinnedKeyVerifier, testKey } from '../helpers/tls-pair.js';
import { quacFixture } from './quac-fixture.js';

const notBefore = new Date(NOW - 86_400_000);
const notAfter = new Date(NOW + 86_400_000);
const LABEL = 'server-mldsa65';
const GRACE_MS = 30_000;

/** The CA (in software) and a leaf for a card-held key. */
async function pki(seed: string): Promise<{ root: IssuedCertificate; leafFor(key: KeyPair): Promise<Uint8Array> }> {
  const ca = createNobleProvider({ random: seededRandom(seed) });
  const root = await generateRoot({ provider: ca, subject: 'CN=rotation test root', algorithm: 'ml-dsa-65', notBefore, notAfter });
  const issuer = { certificate: root.certificate, privateKey: root.keyPair.privateKey };
  return {
    root,
    leafFor: async (keyPair) => (await issueLeaf({ provider: ca, issuer, keyPair, dns: ['localhost'], notBefore, notAfter })).certificate.der,
  };
}

/** `quac` with every signature waiting while `gate.closed` holds a promise: handshakes held in flight at will. */
function gatedSigner(quac: QuacProvider): { provider: QuacProvider; hold(): void; release(): void; waiting(): number } {
  let gate: Promise<void> | undefined;
  let open = (): void => undefined;
  let waiting = 0;
  const provider: QuacProvider = {
    ...quac,
    sign: async (scheme, key, message) => {
      if (gate) {
        waiting++;
        await gate;
        waiting--;
      }
      return quac.sign(scheme, key, message);
    },
  };
  return {
    provider,
    hold: () => {
      gate = new Promise<void>((r) => (open = r));
    },
    release: () => {
      gate = undefined;
      open();
    },
    waiting: () => waiting,
  };
}

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 2));
}

describe('stored key rotation under load (TLS over loopback, emulated card)', () => {
  it('no connection fails; after the switch every new connection gets the new certificate; the old key is destroyed after the grace period', async () => {
    const { quac, devices } = await quacFixture({ seed: 'rotation' });
    const { root, leafFor } = await pki('rotation/ca');
    const first = await quac.createStoredKey('ml-dsa-65', LABEL, { persistent: true });
    const oldLeaf = await leafFor(first);
    const gated = gatedSigner(quac);
    const server: PqTlsServer = createServer(
      { provider: gated.provider, now: clock, certificate: { chain: [oldLeaf], privateKey: first.privateKey, keyAlgorithm: 'ml-dsa-65' } },
      (s) => s.end(),
    );
    const serverErrors: unknown[] = [];
    server.on('tlsClientError', (e) => serverErrors.push(e));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const client = createNobleProvider({ random: seededRandom('rotation/client') });
    const verifier = webPkiVerifier({ provider: client, trustAnchors: [root.certificate.der] });
    const results: { started: number; leaf: Uint8Array }[] = [];
    let switchedAt = Infinity;
    let seq = 0;
    const handshake = async (): Promise<void> => {
      const started = seq++;
      const s = await connect({ host: '127.0.0.1', port, serverName: 'localhost', verifier, provider: client, now: clock });
      results.push({ started, leaf: s.getPeerCertificateChain()[0] as Uint8Array });
      s.destroy();
    };
    const graceClock = new VirtualClock({ auto: false });
    try {
      // Four clients, each a stream of handshakes, until the rotation is done and each has had a few more.
      let rotated = false;
      const clients = [0, 1, 2, 3].map(async () => {
        let after = 0;
        while (after < 3) {
          await handshake();
          if (rotated) after++;
        }
      });
      await until(() => results.length >= 6);
      // Two handshakes held just before their CertificateVerify: in flight across the switch.
      gated.hold();
      await until(() => gated.waiting() >= 2);
      const rotation = await rotateStoredKey(quac, LABEL, { graceMs: GRACE_MS, clock: graceClock });
      const newLeaf = await leafFor(rotation.key);
      server.setCertificate({ chain: [newLeaf], privateKey: rotation.key.privateKey, keyAlgorithm: 'ml-dsa-65' });
      switchedAt = seq;
      rotated = true;
      gated.release();
      await Promise.all(clients);

      expect(serverErrors).toEqual([]);
      const isOld = (r: { leaf: Uint8Array }): boolean => equalBytes(r.leaf, oldLeaf);
      const isNew = (r: { leaf: Uint8Array }): boolean => equalBytes(r.leaf, newLeaf);
      expect(results.every((r) => isOld(r) || isNew(r))).toBe(true);
      // Connections begun after setCertificate see the new certificate only; those in flight finished with the old key.
      const later = results.filter((r) => r.started >= switchedAt);
      expect(later.length).toBeGreaterThanOrEqual(8);
      expect(later.every(isNew)).toBe(true);
      expect(results.filter((r) => r.started < switchedAt && isOld(r)).length).toBeGreaterThanOrEqual(8);

      // The label names the new key; the old one lives on, on the same card, until the grace period ends.
      const oldRef = rotation.previous.privateKey as QuacKeyRef;
      const newRef = rotation.key.privateKey as QuacKeyRef;
      expect(newRef.device).toBe(oldRef.device);
      expect(newRef.handle).not.toBe(oldRef.handle);
      expect(equalBytes((await quac.storedKey(LABEL)).publicKey, rotation.key.publicKey)).toBe(true);
      expect(await quac.storedKeyAttributes(newRef)).toEqual({ extractable: false, persistent: true });
      await graceClock.advance(GRACE_MS - 1);
      expect(await quac.storedKeyAttributes(oldRef)).toEqual({ extractable: false, persistent: true });
      await graceClock.advance(1);
      await rotation.retired;
      const card = devices[oldRef.device]!;
      await expect(card.keyAttributes(oldRef.handle)).rejects.toMatchObject({ resultName: 'KEY_NOT_FOUND' });
      await expect(card.keyExport(oldRef.handle)).rejects.toMatchObject({ resultName: 'KEY_NOT_FOUND' });
      await expect(quac.storedKeyAttributes(oldRef)).rejects.toBeInstanceOf(QuacError);
      // And the server goes on with the new key alone.
      const before = results.length;
      await Promise.all([handshake(), handshake()]);
      expect(results.slice(before).every(isNew)).toBe(true);
      expect(graceClock.pending).toBe(0);
    } finally {
      gated.release();
      await new Promise<void>((r) => server.close(() => r()));
      await quac.close();
    }
  }, 60_000);

  it('close() ends the grace period at once: the timer is released and the old key destroyed', async () => {
    const { quac, devices } = await quacFixture({ seed: 'rotation-close' });
    await quac.createStoredKey('ml-dsa-44', 'k', { persistent: false });
    const graceClock = new VirtualClock({ auto: false });
    const rotation = await rotateStoredKey(quac, 'k', { graceMs: 60_000, clock: graceClock });
    expect(graceClock.pending).toBe(1);
    // A session key stays a session key.
    expect(await quac.storedKeyAttributes(rotation.key.privateKey)).toEqual({ extractable: false, persistent: false });
    await rotation.close();
    expect(graceClock.pending).toBe(0);
    const old = rotation.previous.privateKey as QuacKeyRef;
    await expect(devices[0]!.keyAttributes(old.handle)).rejects.toMatchObject({ resultName: 'KEY_NOT_FOUND' });
    await quac.close();
  });

  it('refuses what it cannot do: an unknown label, a grace period out of range, two rotations of one label at once', async () => {
    const { quac } = await quacFixture({ seed: 'rotation-refuse' });
    await quac.createStoredKey('ml-dsa-44', 'k');
    const graceClock = new VirtualClock({ auto: false });
    await expect(rotateStoredKey(quac, 'nope', { graceMs: 1, clock: graceClock })).rejects.toThrow(/no QUAC device .* holds a key labelled "nope"/);
    await expect(rotateStoredKey(quac, 'k', { graceMs: -1, clock: graceClock })).rejects.toBeInstanceOf(ConfigError);
    await expect(rotateStoredKey(quac, 'k', { graceMs: MAX_ROTATION_GRACE_MS + 1, clock: graceClock })).rejects.toBeInstanceOf(ConfigError);
    const a = rotateStoredKey(quac, 'k', { graceMs: 1, clock: graceClock });
    await expect(rotateStoredKey(quac, 'k', { graceMs: 1, clock: graceClock })).rejects.toThrow(/already in progress/);
    await (await a).close();
    await quac.close();
  });
});

describe('setCertificate on running servers', () => {
  it('TLS: an unusable certificate is refused and the old one kept', async () => {
    const provider = createNobleProvider({ random: seededRandom('set-cert') });
    const key = await testKey(provider, 'ed25519');
    const server = createServer({ provider, now: clock, certificate: { chain: [key.publicKey], ...key } }, (s) => s.end());
    expect(() => server.setCertificate({ chain: [], privateKey: key.privateKey, keyAlgorithm: 'ed25519' })).toThrow(ConfigError);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const s = await connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, provider, now: clock, serverName: 'x', verifier: pinnedKeyVerifier(key) });
      s.destroy();
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('QUIC: connections accepted after setCertificate present the new certificate', async () => {
    const provider = createNobleProvider({ random: seededRandom('set-cert-quic') });
    const [a, b] = [await testKey(provider, 'ed25519'), await testKey(provider, 'ed25519')];
    const server = createQuicServer({ tls: { provider, now: clock, certificate: { chain: [a.publicKey], ...a }, alpnProtocols: ['r'] } }, () => undefined);
    await new Promise<void>((r) => server.bind(0, '127.0.0.1', r));
    const { port } = server.address();
    const dial = (key: typeof a) => quicConnect({ host: '127.0.0.1', port, tls: { provider, now: clock, serverName: 'r', verifier: pinnedKeyVerifier(key), alpnProtocols: ['r'] } });
    try {
      const s1 = await dial(a);
      expect(() => server.setCertificate({ chain: [], privateKey: b.privateKey, keyAlgorithm: 'ed25519' })).toThrow(ConfigError);
      server.setCertificate({ chain: [b.publicKey], ...b });
      const s2 = await dial(b);
      expect(equalBytes(s1.handshake!.peerCertificates[0]!, a.publicKey)).toBe(true);
      expect(equalBytes(s2.handshake!.peerCertificates[0]!, b.publicKey)).toBe(true);
      await Promise.all([s1.close(), s2.close()]);
    } finally {
      server.close();
    }
  });
});
