/**
 * Issue 11's interop proof: full TLS 1.3 and QUIC handshakes with OpenSSL 3.5
 * as the peer, where the server's CertificateVerify (RFC 8446 §4.4.3,
 * draft-ietf-tls-mldsa) is signed by an ML-DSA-65 key that lives on a QUAC 100
 * card (here the emulated one) and cannot be exported, and the ML-KEM half of
 * X25519MLKEM768 (draft-ietf-tls-ecdhe-mlkem §3.1) runs on the card too.
 *
 * The certificate is issued by a software CA for the card key's public half
 * (`signLeaf`: the CA never holds the subject's private key), so OpenSSL
 * verifying the chain and the CertificateVerify proves the card's signatures
 * are the FIPS 204 signatures the certificate promises.
 *
 * - `openssl s_client` (TLS 1.3, its default groups: X25519MLKEM768 first)
 *   → our `createServer` with the QUAC provider;
 * - `openssl s_client -quic` → our `createQuicServer` with the QUAC provider;
 * - our `connect` / `quicConnect` with the QUAC provider (ML-KEM keygen and
 *   decapsulation on the card) → `openssl s_server` / `openssl-quic-server`.
 *
 * Each case reads the provider's metrics before and after, so the counts are
 * that handshake's own device operations.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyUnavailableError } from '../../src/errors.js';
import { emulatedQuacLibrary } from '../../src/hw/quac100/emulated.js';
import { prometheusText, type QuacMetricsSnapshot } from '../../src/hw/quac100/metrics.js';
import { createQuacProvider, type QuacKeyRef, type QuacProvider } from '../../src/hw/quac100/provider.js';
import { connect } from '../../src/node/index.js';
import { NamedGroup, SignatureScheme } from '../../src/pq/ids.js';
import { createNobleProvider, type CryptoProvider, type KeyAlgorithm, type KeyPair } from '../../src/pq/index.js';
import { seededRandom } from '../../src/testing/index.js';
import type { CertifiedKey } from '../../src/tls13/config.js';
import { webPkiVerifier } from '../../src/tls13/verifier.js';
import { generateRoot, signLeaf } from '../../src/x509/ca.js';
import { encodePem } from '../../src/x509/pem.js';
import { mintHierarchy, type MintedHierarchy } from '../helpers/our-pki.js';
import { freePort, interopDisabled, requirePeer, spawnPeer, waitForPort, type PeerProcess } from '../helpers/peers.js';
import { listenOurQuicServer, ourQuicClient, sClientQuicEcho, sendOnNewStream, until } from '../helpers/quic-interop.js';
import { closed, collectText, lineEcho, listenOurServer } from '../helpers/tls-interop.js';

const CASE_TIMEOUT_MS = 30_000;
const PEER_LIFETIME_MS = 20_000;
const CARD_KEY_LABEL = 'interop-server-mldsa65';

/** One counter of a labelled family in a snapshot (0 when it was never counted). */
function counted(m: QuacMetricsSnapshot, family: 'kemOperations' | 'signOperations', operation: string, algorithm: string): number {
  return m[family].find((c) => c.labels['operation'] === operation && c.labels['algorithm'] === algorithm)?.value ?? 0;
}

/** What a handshake did on the card: the difference of two snapshots. */
function deviceWork(before: QuacMetricsSnapshot, after: QuacMetricsSnapshot): Record<string, number> {
  const d = (family: 'kemOperations' | 'signOperations', op: string, alg: string) => counted(after, family, op, alg) - counted(before, family, op, alg);
  return {
    'ML-KEM-768 keygen': d('kemOperations', 'keygen', 'ML-KEM-768'),
    'ML-KEM-768 encaps': d('kemOperations', 'encaps', 'ML-KEM-768'),
    'ML-KEM-768 decaps': d('kemOperations', 'decaps', 'ML-KEM-768'),
    'ml-dsa-65 sign': d('signOperations', 'sign', 'ml-dsa-65'),
    'ml-dsa-65 verify': d('signOperations', 'verify', 'ml-dsa-65'),
  };
}

/** The sample of `quac_sign_operations_total{operation="sign",algorithm="ml-dsa-65"}` in the Prometheus text. */
function promSignCount(m: QuacMetricsSnapshot): number {
  const line = prometheusText(m).split('\n').find((l) => /^quac_sign_operations_total\{.*operation="sign"/.test(l) && l.includes('algorithm="ml-dsa-65"'));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe.runIf(!interopDisabled)('QUAC 100 (emulated card) interop with OpenSSL 3.5: device-held ML-DSA-65 server key, ML-KEM on the card', () => {
  let dir = '';
  let quac: QuacProvider;
  let cardKey: KeyPair;
  let certified: CertifiedKey & { readonly keyAlgorithm: KeyAlgorithm };
  let rootFile = '';
  let rootDer: Uint8Array;
  /** A software hierarchy for OpenSSL's own servers (s_server needs a key file). */
  let peerPki: MintedHierarchy;

  beforeAll(async () => {
    requirePeer('openssl');
    requirePeer('openssl-quic-server');
    dir = mkdtempSync(join(tmpdir(), 'pqtls-interop-quac100-'));
    // keyPool off: every client key share is generated on the card during the handshake that uses it.
    quac = await createQuacProvider({ library: emulatedQuacLibrary({ devices: 1 }), keyPool: false });
    cardKey = await quac.createStoredKey('ml-dsa-65', CARD_KEY_LABEL);

    const ca = createNobleProvider({ random: seededRandom('interop quac100 CA') });
    const now = Date.now();
    const validity = { notBefore: new Date(now - 3600_000), notAfter: new Date(now + 2 * 24 * 3600_000) };
    const root = await generateRoot({ provider: ca, subject: 'CN=pqtls QUAC 100 interop root,O=pqtls', algorithm: 'ml-dsa-65', ...validity });
    const leaf = await signLeaf(
      { provider: ca, issuer: { certificate: root.certificate, privateKey: root.keyPair.privateKey }, dns: ['localhost'], ip: ['127.0.0.1'], ...validity },
      { algorithm: 'ml-dsa-65', publicKey: cardKey.publicKey },
    );
    rootDer = root.certificate.der;
    rootFile = join(dir, 'root.pem');
    writeFileSync(rootFile, encodePem('CERTIFICATE', rootDer));
    certified = { chain: [leaf.der, rootDer], privateKey: cardKey.privateKey, keyAlgorithm: 'ml-dsa-65' };

    peerPki = await mintHierarchy(ca, dir, 'peer', 'ml-dsa-65');
  });
  afterAll(async () => {
    await quac?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the server key is a handle on the card: no key bytes in the reference, export refused', async () => {
    const ref = cardKey.privateKey as QuacKeyRef;
    expect(ref).toMatchObject({ provider: 'quac100', algorithm: 'ml-dsa-65', label: CARD_KEY_LABEL });
    expect(typeof ref.handle).toBe('bigint');
    expect(Object.values(ref).some((v) => v instanceof Uint8Array)).toBe(false);
    await expect(quac.exportPrivateKey(ref)).rejects.toThrow(KeyUnavailableError);
    await expect(quac.exportPrivateKey(ref)).rejects.toThrow(/not extractable/);
    // The same key, found again by its label on the card.
    const found = await quac.storedKey(CARD_KEY_LABEL);
    expect((found.privateKey as QuacKeyRef).handle).toBe(ref.handle);
  });

  it('openssl s_client (default groups) → our TLS server: X25519MLKEM768, card-signed mldsa65 CertificateVerify verified, data echoed', async () => {
    const before = quac.metrics();
    const ours = await listenOurServer({ provider: quac, certificate: certified }, lineEcho());
    const peer = spawnPeer('openssl', [
      's_client', '-connect', `127.0.0.1:${ours.port}`, '-servername', 'localhost', '-verify_return_error',
      '-CAfile', rootFile, '-brief', '-ign_eof',
    ], { timeoutMs: PEER_LIFETIME_MS, input: 'hello from openssl\nbye\n' });
    const exit = await peer.exited;
    expect(exit.timedOut, peer.output).toBe(false);
    expect(peer.output).toContain('Protocol version: TLSv1.3');
    expect(peer.output).toContain('Negotiated TLS1.3 group: X25519MLKEM768');
    expect(peer.output).toContain('Signature type: mldsa65');
    expect(peer.output).toContain('Verification: OK');
    expect(peer.stdout).toContain('echo: hello from openssl\n');
    const s = await ours.accepted();
    expect(s.handshakeInfo?.group).toBe(NamedGroup.X25519MLKEM768);
    expect(s.handshakeInfo?.signatureScheme).toBe(SignatureScheme.mldsa65);
    expect(ours.errors).toEqual([]);

    const after = quac.metrics();
    // One CertificateVerify signed on the card; the server's ML-KEM-768 encapsulation on the card.
    expect(deviceWork(before, after)).toEqual({
      'ML-KEM-768 keygen': 0, 'ML-KEM-768 encaps': 1, 'ML-KEM-768 decaps': 0, 'ml-dsa-65 sign': 1, 'ml-dsa-65 verify': 0,
    });
    expect(promSignCount(after)).toBe(promSignCount(before) + 1);
    expect(after.softwareFallbacks).toEqual([]);
    await expect(quac.exportPrivateKey(cardKey.privateKey)).rejects.toThrow(KeyUnavailableError);
  }, CASE_TIMEOUT_MS);

  it('openssl s_client -quic → our QUIC server: QUICv1, X25519MLKEM768, card-signed mldsa65 CertificateVerify verified, stream echoed', async () => {
    const before = quac.metrics();
    const server = await listenOurQuicServer({ tls: { provider: quac, certificate: certified, alpnProtocols: ['test'] } });
    const { info } = await sClientQuicEcho(server, { caFile: rootFile, message: 'hello over QUIC from s_client\n', lifetimeMs: PEER_LIFETIME_MS });
    expect(info.group).toBe(NamedGroup.X25519MLKEM768);
    expect(info.signatureScheme).toBe(SignatureScheme.mldsa65);

    expect(deviceWork(before, quac.metrics())).toEqual({
      'ML-KEM-768 keygen': 0, 'ML-KEM-768 encaps': 1, 'ML-KEM-768 decaps': 0, 'ml-dsa-65 sign': 1, 'ml-dsa-65 verify': 0,
    });
    expect(quac.metrics().softwareFallbacks).toEqual([]);
  }, CASE_TIMEOUT_MS);

  /** Our client's view of the peer's ML-DSA-65 chain, verified through the QUAC provider. */
  function ourVerifier(provider: CryptoProvider) {
    return webPkiVerifier({ provider, trustAnchors: [peerPki.rootDer] });
  }

  it('our TLS client with the QUAC provider → openssl s_server: ML-KEM-768 keygen and decapsulation on the card, ML-DSA verified there', async () => {
    const port = await freePort();
    const peer: PeerProcess = spawnPeer('openssl', [
      's_server', '-accept', `127.0.0.1:${port}`, '-tls1_3', '-naccept', '1',
      '-cert', peerPki.server.certFile, '-key', peerPki.server.keyFile, '-cert_chain', peerPki.rootFile, '-rev',
    ], { timeoutMs: PEER_LIFETIME_MS });
    await waitForPort(port, { process: peer });

    const before = quac.metrics();
    const sock = await connect({
      host: '127.0.0.1', port, provider: quac, serverName: 'localhost', groups: ['X25519MLKEM768'], verifier: ourVerifier(quac),
    });
    expect(sock.getEphemeralKeyInfo()).toEqual({ type: 'TLSGroup', name: 'X25519MLKEM768' });
    expect(sock.getPeerSignatureScheme()).toBe('mldsa65');
    const rx = collectText(sock);
    sock.write('device key exchange\n');
    expect(await rx.until('\n')).toBe('egnahcxe yek ecived\n');
    sock.end();
    await closed(sock);
    const exit = await peer.exited;
    expect(exit.timedOut, peer.output).toBe(false);
    expect(peer.output).toContain('X25519MLKEM768');

    // The client's ML-KEM-768 key share made on the card and the server's ciphertext decapsulated there; the
    // leaf's certificate signature and the CertificateVerify checked by the card's verify.
    expect(deviceWork(before, quac.metrics())).toEqual({
      'ML-KEM-768 keygen': 1, 'ML-KEM-768 encaps': 0, 'ML-KEM-768 decaps': 1, 'ml-dsa-65 sign': 0, 'ml-dsa-65 verify': 2,
    });
    expect(quac.metrics().softwareFallbacks).toEqual([]);
  }, CASE_TIMEOUT_MS);

  it('our QUIC client with the QUAC provider → openssl-quic-server: ML-KEM-768 keygen and decapsulation on the card, stream echoed', async () => {
    const port = await freePort('udp');
    const peer = spawnPeer('openssl-quic-server', ['-alpn', 'test', String(port), peerPki.server.chainFile, peerPki.server.keyFile], {
      timeoutMs: PEER_LIFETIME_MS,
    });
    await waitForPort(port, { protocol: 'udp', process: peer });

    const before = quac.metrics();
    const { log, info } = await ourQuicClient({
      host: '127.0.0.1', port,
      tls: { provider: quac, serverName: 'localhost', alpnProtocols: ['test'], groups: ['X25519MLKEM768'], verifier: ourVerifier(quac) },
    });
    expect(info.group).toBe(NamedGroup.X25519MLKEM768);
    expect(info.peerSignatureScheme).toBe(SignatureScheme.mldsa65);
    const message = 'QUIC with the card\n';
    const id = await sendOnNewStream(log.session, message);
    await until(() => log.finished.has(id), `the echo of stream ${id}; peer said:\n${peer.output}`);
    expect(log.text(id)).toBe(message);
    expect(await peer.waitForLine(/^connection: /)).toMatch(/group=X25519MLKEM768 /);
    expect(log.errors).toEqual([]);

    expect(deviceWork(before, quac.metrics())).toEqual({
      'ML-KEM-768 keygen': 1, 'ML-KEM-768 encaps': 0, 'ML-KEM-768 decaps': 1, 'ml-dsa-65 sign': 0, 'ml-dsa-65 verify': 2,
    });
  }, CASE_TIMEOUT_MS);
});
