/**
 * QUIC v1 (RFC 9000, RFC 9001) against OpenSSL 3.5's QUIC stack, both
 * directions, with the post-quantum suite end to end: X25519MLKEM768
 * (draft-ietf-tls-ecdhe-mlkem) and an ML-DSA-65 chain minted by our own CA
 * (draft-ietf-tls-mldsa), the ~11 KB Certificate message spanning several
 * Handshake packets (RFC 9001 §4.1.3).
 *
 * - our client (`quicConnect`) → `openssl-quic-server`, which echoes the
 *   first bidirectional stream and prints the group, cipher, ALPN and echoed
 *   byte count it saw;
 * - `openssl s_client -quic` → our server (`createQuicServer`): s_client
 *   prints the protocol, peer signature type and verification result, and
 *   sends its stdin line on a bidirectional stream we echo.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NamedGroup, SignatureScheme } from '../../src/pq/ids.js';
import { createNobleProvider, type CryptoProvider } from '../../src/pq/index.js';
import { seededRandom } from '../../src/testing/index.js';
import { webPkiVerifier } from '../../src/tls13/verifier.js';
import { mintOurPki, type OurPki } from '../helpers/our-pki.js';
import { freePort, interopDisabled, requirePeer, spawnPeer, waitForPort } from '../helpers/peers.js';
import { listenOurQuicServer, ourQuicClient, sClientQuicEcho, sendOnNewStream, until } from '../helpers/quic-interop.js';

const CASE_TIMEOUT_MS = 20_000;
const PEER_LIFETIME_MS = 15_000;

describe.runIf(!interopDisabled)('QUIC interop with OpenSSL 3.5 (openssl-quic-server, s_client -quic)', () => {
  let dir = '';
  let provider: CryptoProvider;
  let pki: OurPki;

  beforeAll(async () => {
    requirePeer('openssl');
    requirePeer('openssl-quic-server');
    dir = mkdtempSync(join(tmpdir(), 'pqtls-interop-quic-openssl-'));
    provider = createNobleProvider({ random: seededRandom('interop quic openssl') });
    pki = await mintOurPki(provider, dir);
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('our client → openssl-quic-server: X25519MLKEM768, ML-DSA-65 chain, ALPN "test", stream echoed', async () => {
    const port = await freePort('udp');
    const peer = spawnPeer('openssl-quic-server', ['-alpn', 'test', String(port), pki.mldsa.server.chainFile, pki.mldsa.server.keyFile], {
      timeoutMs: PEER_LIFETIME_MS,
    });
    await waitForPort(port, { protocol: 'udp', process: peer });

    const { log, info } = await ourQuicClient({
      host: '127.0.0.1', port,
      tls: { provider, serverName: 'localhost', alpnProtocols: ['test'], verifier: webPkiVerifier({ provider, trustAnchors: [pki.mldsa.rootDer] }) },
    });
    expect(info.group).toBe(NamedGroup.X25519MLKEM768);
    expect(info.peerSignatureScheme).toBe(SignatureScheme.mldsa65);
    expect(info.alpn).toBe('test');
    expect(info.peerCertificates).toEqual(pki.mldsa.server.credentials.chain);

    const message = 'post-quantum over QUIC\n';
    const id = await sendOnNewStream(log.session, message);
    await until(() => log.finished.has(id), `the echo of stream ${id}; peer said:\n${peer.output}`);
    expect(log.text(id)).toBe(message);

    const line = await peer.waitForLine(/^connection: /);
    expect(line).toMatch(/group=X25519MLKEM768 /);
    expect(line).toMatch(/cipher=TLS_AES_(128|256)_GCM_SHA(256|384) /);
    expect(line).toContain('alpn=test');
    expect(line).toContain(`echoed=${message.length}`);
    expect(log.errors).toEqual([]);
  }, CASE_TIMEOUT_MS);

  it('our client updates its 1-RTT keys (RFC 9001 §6) before sending; openssl-quic-server follows and echoes', async () => {
    const port = await freePort('udp');
    const peer = spawnPeer('openssl-quic-server', ['-alpn', 'test', String(port), pki.mldsa.server.chainFile, pki.mldsa.server.keyFile], {
      timeoutMs: PEER_LIFETIME_MS,
    });
    await waitForPort(port, { protocol: 'udp', process: peer });
    const { log } = await ourQuicClient({
      host: '127.0.0.1', port,
      tls: { provider, serverName: 'localhost', alpnProtocols: ['test'], verifier: webPkiVerifier({ provider, trustAnchors: [pki.mldsa.rootDer] }) },
    });
    const conn = log.session.connection;
    // Key updates wait for HANDSHAKE_DONE (the handshake is confirmed); it arrives right after the handshake.
    await until(() => conn.isHandshakeConfirmed, 'the handshake to be confirmed');
    await log.session.run(() => conn.updateKeys(performance.timeOrigin + performance.now()));
    expect(conn.keyPhase).toEqual({ phase: 1, updates: 1 });
    const message = 'after a key update\n';
    const id = await sendOnNewStream(log.session, message);
    await until(() => log.finished.has(id), `the echo of stream ${id}; peer said:\n${peer.output}`);
    expect(log.text(id)).toBe(message);
    expect(await peer.waitForLine(/^connection: /)).toContain(`echoed=${message.length}`);
    expect(log.errors).toEqual([]);
  }, CASE_TIMEOUT_MS);

  it('openssl s_client -quic → our server: QUICv1, mldsa65 CertificateVerify, our chain verified, stdin line echoed', async () => {
    const server = await listenOurQuicServer({
      tls: { provider, certificate: pki.mldsa.server.credentials, alpnProtocols: ['test'] },
    });
    const { info } = await sClientQuicEcho(server, {
      caFile: pki.mldsa.rootFile, message: 'hello from s_client\n', lifetimeMs: PEER_LIFETIME_MS, args: ['-groups', 'X25519MLKEM768'],
    });
    expect(info.group).toBe(NamedGroup.X25519MLKEM768);
    expect(info.signatureScheme).toBe(SignatureScheme.mldsa65);
    expect(info.alpn).toBe('test');
    expect(info.serverName).toBe('localhost');
  }, CASE_TIMEOUT_MS);
});

