/**
 * QUIC v1 against Cloudflare quiche 0.18 / BoringSSL (`quiche-peer`, via
 * npm `@matrixai/quic`), both directions. quiche knows no ML-KEM and no
 * ML-DSA: it picks x25519 from our two key shares (RFC 8446 §4.2.8) and we
 * serve our minted ECDSA P-256 chain. Its server always answers the first
 * Initial with a stateless Retry (RFC 9000 §8.1.2), so our client's side of
 * Retry — the integrity tag (RFC 9001 §5.8), the new Destination Connection
 * ID, the token echoed in the next Initial and the retry_source_connection_id
 * check (RFC 9000 §7.3) — is exercised on every connection. Both quiche
 * programs echo bidirectional streams; we check the echoed bytes each way.
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
import { freePort, interopDisabled, requirePeer, spawnPeer } from '../helpers/peers.js';
import { isV1Retry, listenOurQuicServer, ourQuicClient, sendOnNewStream, udpRelay, until } from '../helpers/quic-interop.js';

const CASE_TIMEOUT_MS = 20_000;
const PEER_LIFETIME_MS = 15_000;

describe.runIf(!interopDisabled)('QUIC interop with quiche (quiche-peer server / client)', () => {
  let dir = '';
  let provider: CryptoProvider;
  let pki: OurPki;

  beforeAll(async () => {
    requirePeer('quiche-peer');
    dir = mkdtempSync(join(tmpdir(), 'pqtls-interop-quic-quiche-'));
    provider = createNobleProvider({ random: seededRandom('interop quic quiche') });
    pki = await mintOurPki(provider, dir);
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('our client → quiche-peer server: handshake after its Retry, x25519, P-256 chain, stream echoed', async () => {
    const port = await freePort('udp');
    const peer = spawnPeer('quiche-peer', ['server', String(port), pki.ecdsa.server.chainFile, pki.ecdsa.server.keyFile, 'test'], {
      timeoutMs: PEER_LIFETIME_MS,
    });
    await peer.waitForLine(`listening on 127.0.0.1:${port} alpn=test`);
    const relay = await udpRelay(port);

    const { log, info } = await ourQuicClient({
      host: '127.0.0.1', port: relay.port,
      tls: { provider, serverName: 'localhost', alpnProtocols: ['test'], verifier: webPkiVerifier({ provider, trustAnchors: [pki.ecdsa.rootDer] }) },
    });
    expect(info.group).toBe(NamedGroup.x25519);
    expect(info.helloRetryRequest).toBe(false);
    expect(info.peerSignatureScheme).toBe(SignatureScheme.ecdsa_secp256r1_sha256);
    expect(info.alpn).toBe('test');
    // quiche's first answer is a Retry; the handshake continued on its token.
    expect(relay.fromServer.length).toBeGreaterThan(1);
    expect(isV1Retry(relay.fromServer[0] as Uint8Array)).toBe(true);
    await peer.waitForLine(/^connection from 127\.0\.0\.1:\d+/);

    const message = 'hello quiche, from pqtls';
    const id = await sendOnNewStream(log.session, message);
    await until(() => log.finished.has(id), `quiche's echo of stream ${id}; peer said:\n${peer.output}`);
    expect(log.text(id)).toBe(message);
    expect(log.errors).toEqual([]);
  }, CASE_TIMEOUT_MS);

  /** quiche-peer's client against our server, with or without address validation by Retry. */
  async function quicheClientToOurServer(retry: boolean): Promise<number> {
    const server = await listenOurQuicServer({
      retry, tls: { provider, certificate: pki.ecdsa.server.credentials, alpnProtocols: ['test'] },
    });
    let retries = 0;
    server.socket.on('retry', () => retries++);
    const peer = spawnPeer('quiche-peer', ['client', String(server.port), 'hello quiche', 'test'], { timeoutMs: PEER_LIFETIME_MS });

    const { log, info } = await server.connected();
    expect(info.group).toBe(NamedGroup.x25519);
    expect(info.signatureScheme).toBe(SignatureScheme.ecdsa_secp256r1_sha256);
    expect(info.alpn).toBe('test');
    expect(info.serverName).toBe('localhost');

    await peer.waitForLine('echo: hello quiche');
    const exit = await peer.exited;
    expect(exit.code, peer.output).toBe(0);
    expect(log.text(0)).toBe('hello quiche');
    expect(log.finished.has(0)).toBe(true);
    expect(log.errors).toEqual([]);
    return retries;
  }

  it('quiche-peer client → our server: x25519, ALPN "test", our echo printed back', async () => {
    expect(await quicheClientToOurServer(false)).toBe(0);
  }, CASE_TIMEOUT_MS);

  it('quiche-peer client → our server validating addresses with Retry (RFC 9000 §8.1.2): handshake and echo', async () => {
    expect(await quicheClientToOurServer(true)).toBeGreaterThan(0);
  }, CASE_TIMEOUT_MS);
});
