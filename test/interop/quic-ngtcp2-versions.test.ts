/**
 * Version negotiation against ngtcp2 1.11 (RFC 9368 compatible negotiation,
 * RFC 9369 QUIC v2, RFC 9000 §6 Version Negotiation), both directions.
 * Handshake-level checks with ALPN h3, as in quic-ngtcp2.test.ts: ngtcp2 has
 * no ML-KEM, so it picks x25519 from our key shares; the HTTP/3 layer after
 * the handshake is not what is checked here.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNobleProvider, type CryptoProvider } from '../../src/pq/index.js';
import { seededRandom } from '../../src/testing/index.js';
import { QUIC_V1, QUIC_V2 } from '../../src/quic/versions.js';
import { webPkiVerifier } from '../../src/tls13/verifier.js';
import { mintOurPki, type OurPki } from '../helpers/our-pki.js';
import { freePort, interopDisabled, requirePeer, spawnPeer, waitForPort, type PeerProcess } from '../helpers/peers.js';
import { PRIVATE_QUIC_VERSION } from '../helpers/private-quic-version.js';
import { listenOurQuicServer, ourQuicClient, udpRelay } from '../helpers/quic-interop.js';

const CASE_TIMEOUT_MS = 20_000;
const PEER_LIFETIME_MS = 15_000;
const LOG_ARGS = ['--no-quic-dump', '--no-http-dump'];

function hex8(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}

/** The version field of every long-header packet starting a datagram, in order (RFC 8999 §5.1). */
function longHeaderVersions(datagrams: readonly Uint8Array[]): number[] {
  return datagrams.filter((d) => ((d[0] ?? 0) & 0x80) !== 0)
    .map((d) => (((d[1] ?? 0) << 24) | ((d[2] ?? 0) << 16) | ((d[3] ?? 0) << 8) | (d[4] ?? 0)) >>> 0);
}

describe.runIf(!interopDisabled)('QUIC version negotiation with ngtcp2 (RFC 9368, RFC 9369)', () => {
  let dir = '';
  let provider: CryptoProvider;
  let pki: OurPki;

  beforeAll(async () => {
    requirePeer('ngtcp2-server');
    requirePeer('ngtcp2-client');
    dir = mkdtempSync(join(tmpdir(), 'pqtls-interop-quic-ngtcp2-vn-'));
    provider = createNobleProvider({ random: seededRandom('interop quic ngtcp2 versions') });
    pki = await mintOurPki(provider, dir);
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function ngtcp2Server(extra: readonly string[]): Promise<{ peer: PeerProcess; port: number }> {
    const port = await freePort('udp');
    const peer = spawnPeer('ngtcp2-server', [
      ...LOG_ARGS, ...extra, '-d', dir, '127.0.0.1', String(port), pki.ecdsa.server.keyFile, pki.ecdsa.server.chainFile,
    ], { timeoutMs: PEER_LIFETIME_MS });
    await waitForPort(port, { protocol: 'udp', process: peer });
    return { peer, port };
  }

  function clientTls() {
    return { provider, serverName: 'localhost', alpnProtocols: ['h3'], verifier: webPkiVerifier({ provider, trustAnchors: [pki.ecdsa.rootDer] }) };
  }

  it('our client in v1, offering v2 in version_information → ngtcp2-server --preferred-versions=v2,v1: switched to v2', async () => {
    const { peer, port } = await ngtcp2Server(['--preferred-versions=v2,v1']);
    const relay = await udpRelay(port);
    const { log, info } = await ourQuicClient({ host: '127.0.0.1', port: relay.port, version: QUIC_V1, tls: clientTls() });
    expect(log.session.connection.version).toBe(QUIC_V2);
    expect(info.alpn).toBe('h3');
    await peer.waitForLine(`the negotiated version is ${hex8(QUIC_V2.number)}`);
    await peer.waitForLine('QUIC handshake has completed');
    // ngtcp2 acknowledges the first part of our two-packet ClientHello in v1; from its ServerHello on, v2 only.
    const versions = longHeaderVersions(relay.fromServer);
    const firstV2 = versions.indexOf(QUIC_V2.number);
    expect(firstV2).toBeGreaterThanOrEqual(0);
    expect(versions.slice(firstV2).every((v) => v === QUIC_V2.number)).toBe(true);
    expect(log.errors).toEqual([]);
  }, CASE_TIMEOUT_MS);

  it('our client in a version ngtcp2 does not speak gets Version Negotiation and starts over in v1 (RFC 9000 §6.2)', async () => {
    const { peer, port } = await ngtcp2Server([]);
    const relay = await udpRelay(port);
    const { log } = await ourQuicClient({
      host: '127.0.0.1', port: relay.port, versions: [PRIVATE_QUIC_VERSION, QUIC_V1, QUIC_V2], version: PRIVATE_QUIC_VERSION, tls: clientTls(),
    });
    expect(log.session.connection.version).toBe(QUIC_V1);
    // The first thing back was a Version Negotiation packet (version 0).
    expect(longHeaderVersions(relay.fromServer)[0]).toBe(0);
    await peer.waitForLine(`the negotiated version is ${hex8(QUIC_V1.number)}`);
    await peer.waitForLine('QUIC handshake has completed');
    expect(log.errors).toEqual([]);
  }, CASE_TIMEOUT_MS);

  it('ngtcp2-client in v1 offering v2 → our server preferring v2: v2 on the wire from our first flight', async () => {
    const server = await listenOurQuicServer({
      tls: { provider, certificate: pki.ecdsa.server.credentials, alpnProtocols: ['h3'] },
      versions: [QUIC_V2, QUIC_V1],
    });
    const relay = await udpRelay(server.port);
    const peer = spawnPeer('ngtcp2-client', [
      ...LOG_ARGS, '-v', 'v1', '--available-versions=v2,v1', '--exit-on-all-streams-close', '--timeout=5s',
      '127.0.0.1', String(relay.port), `https://localhost:${server.port}/`,
    ], { timeoutMs: PEER_LIFETIME_MS });
    const { log, info } = await server.connected();
    expect(log.session.connection.version).toBe(QUIC_V2);
    expect(info.alpn).toBe('h3');
    await peer.waitForLine(`the negotiated version is ${hex8(QUIC_V2.number)}`);
    await peer.waitForLine('QUIC handshake has completed');
    const versions = longHeaderVersions(relay.fromServer);
    const firstV2 = versions.indexOf(QUIC_V2.number);
    expect(firstV2).toBeGreaterThanOrEqual(0);
    // Before our ServerHello we may have acknowledged the first part of a ClientHello in v1; after it, v2 only.
    expect(versions.slice(firstV2).every((v) => v === QUIC_V2.number)).toBe(true);
    expect(log.errors).toEqual([]);
  }, CASE_TIMEOUT_MS);
});
