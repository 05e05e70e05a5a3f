/**
 * QUIC against ngtcp2 1.11 (GnuTLS 3.8, HTTP/3 examples), both directions.
 * ngtcp2 has no ML-KEM and no ML-DSA, so these are classical handshakes:
 * our client offers X25519MLKEM768 and x25519 key shares and ngtcp2 picks
 * x25519 (RFC 8446 §4.2.8); certificates are our minted ECDSA P-256 chain.
 * The examples speak only HTTP/3 (ALPN "h3"); we speak none, so after the
 * handshake the peer may close with an H3 error — the QUIC layer is what is
 * checked here: the handshake (RFC 9001 §4), Retry (RFC 9000 §8.1.2,
 * server `-V`) and QUIC version 2 (RFC 9369).
 *
 * ngtcp2 runs without `-q` but with `--no-quic-dump --no-http-dump`, so it
 * prints "QUIC handshake has completed", "Negotiated group is X25519",
 * "Negotiated ALPN is h3" and "the negotiated version is 0x…".
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NamedGroup, SignatureScheme } from '../../src/pq/ids.js';
import { createNobleProvider, type CryptoProvider } from '../../src/pq/index.js';
import { seededRandom } from '../../src/testing/index.js';
import { QUIC_V1, QUIC_V2, type QuicVersion } from '../../src/quic/versions.js';
import { webPkiVerifier } from '../../src/tls13/verifier.js';
import { mintOurPki, type OurPki } from '../helpers/our-pki.js';
import { freePort, interopDisabled, requirePeer, spawnPeer, waitForPort, type PeerProcess } from '../helpers/peers.js';
import { isBidi, isV1Retry, listenOurQuicServer, ourQuicClient, udpRelay, until } from '../helpers/quic-interop.js';

const CASE_TIMEOUT_MS = 20_000;
const PEER_LIFETIME_MS = 15_000;
const LOG_ARGS = ['--no-quic-dump', '--no-http-dump'];

function hex8(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}

describe.runIf(!interopDisabled)('QUIC interop with ngtcp2 (ngtcp2-server, ngtcp2-client)', () => {
  let dir = '';
  let provider: CryptoProvider;
  let pki: OurPki;

  beforeAll(async () => {
    requirePeer('ngtcp2-server');
    requirePeer('ngtcp2-client');
    dir = mkdtempSync(join(tmpdir(), 'pqtls-interop-quic-ngtcp2-'));
    provider = createNobleProvider({ random: seededRandom('interop quic ngtcp2') });
    pki = await mintOurPki(provider, dir);
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** What ngtcp2 prints about the handshake (each line awaited: output arrives in pieces). */
  async function ngtcp2Reports(peer: PeerProcess, version: QuicVersion): Promise<void> {
    await peer.waitForLine(`the negotiated version is ${hex8(version.number)}`);
    await peer.waitForLine('QUIC handshake has completed');
    await peer.waitForLine('Negotiated group is X25519');
    await peer.waitForLine('Negotiated ALPN is h3');
  }

  async function ngtcp2Server(extra: readonly string[] = []): Promise<{ peer: PeerProcess; port: number }> {
    const port = await freePort('udp');
    const peer = spawnPeer('ngtcp2-server', [
      ...LOG_ARGS, ...extra, '-d', dir, '127.0.0.1', String(port), pki.ecdsa.server.keyFile, pki.ecdsa.server.chainFile,
    ], { timeoutMs: PEER_LIFETIME_MS });
    await waitForPort(port, { protocol: 'udp', process: peer });
    return { peer, port };
  }

  /**
   * Our client to ngtcp2-server through a recording relay; checks both sides'
   * view of the handshake and returns the datagrams the server sent.
   */
  async function handshakeWithServer(peer: PeerProcess, port: number, version: QuicVersion): Promise<Uint8Array[]> {
    const relay = await udpRelay(port);
    const { log, info } = await ourQuicClient({
      host: '127.0.0.1', port: relay.port, version,
      tls: { provider, serverName: 'localhost', alpnProtocols: ['h3'], verifier: webPkiVerifier({ provider, trustAnchors: [pki.ecdsa.rootDer] }) },
    });
    expect(log.session.connection.version).toBe(version);
    expect(info.group).toBe(NamedGroup.x25519);
    expect(info.helloRetryRequest).toBe(false);
    expect(info.peerSignatureScheme).toBe(SignatureScheme.ecdsa_secp256r1_sha256);
    expect(info.alpn).toBe('h3');
    await ngtcp2Reports(peer, version);
    expect(log.errors).toEqual([]);
    return relay.fromServer;
  }

  it('our client → ngtcp2-server: x25519 chosen from our two key shares, P-256 chain, ALPN h3', async () => {
    const { peer, port } = await ngtcp2Server();
    const fromServer = await handshakeWithServer(peer, port, QUIC_V1);
    expect(fromServer.some(isV1Retry)).toBe(false);
    expect(peer.output).not.toContain('Sending Retry packet');
  }, CASE_TIMEOUT_MS);

  // RFC 9000 §9.6: ngtcp2-server advertises a preferred address; our client validates it and moves there after the
  // handshake, then (§9.2) moves itself to a new socket, on a new connection ID, and validates that path too.
  it('our client → ngtcp2-server with a preferred address: the client moves there, then migrates to a new socket', async () => {
    const preferredPort = await freePort('udp');
    const { peer, port } = await ngtcp2Server([`--preferred-ipv4-addr=127.0.0.1:${preferredPort}`]);
    const { log } = await ourQuicClient({
      host: '127.0.0.1', port,
      tls: { provider, serverName: 'localhost', alpnProtocols: ['h3'], verifier: webPkiVerifier({ provider, trustAnchors: [pki.ecdsa.rootDer] }) },
    });
    await ngtcp2Reports(peer, QUIC_V1);
    type PathView = { paths: { current: { remote: string; validated: boolean; challenge?: Uint8Array } } };
    const path = (): PathView['paths']['current'] => (log.session.connection as unknown as PathView).paths.current;
    await until(() => path().remote === `127.0.0.1:${preferredPort}`, 'our client to move to the preferred address', 8_000);
    // Moving to the preferred address retired the handshake's connection ID: the spare for a new path is its replacement.
    for (let tries = 0; ; tries++) {
      try {
        await log.session.migrate();
        break;
      } catch (e) {
        if (tries > 40 || !String(e).includes('spare connection ID')) throw e;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    expect(path().challenge).toBeDefined();
    await until(() => path().challenge === undefined && path().validated, 'the new path to be validated', 8_000);
    expect(path().remote).toBe(`127.0.0.1:${preferredPort}`);
    expect(log.errors).toEqual([]);
  }, CASE_TIMEOUT_MS);

  it('our client → ngtcp2-server -V: the handshake completes after a Retry (RFC 9000 §8.1.2)', async () => {
    const { peer, port } = await ngtcp2Server(['-V']);
    const fromServer = await handshakeWithServer(peer, port, QUIC_V1);
    expect(isV1Retry(fromServer[0] as Uint8Array)).toBe(true);
    // Our ClientHello spans two Initial datagrams; ngtcp2 answers each with a Retry and we
    // follow only the first (RFC 9000 §17.2.5.2), whose token it then accepts.
    expect(peer.output).toContain('Sending Retry packet');
    expect(peer.output).toContain('Token was successfully validated');
  }, CASE_TIMEOUT_MS);

  it('our client → ngtcp2-server in QUIC version 2 (RFC 9369)', async () => {
    const { peer, port } = await ngtcp2Server(['--preferred-versions=v2,v1']);
    await handshakeWithServer(peer, port, QUIC_V2);
  }, CASE_TIMEOUT_MS);

  async function ngtcp2ClientToOurServer(extra: readonly string[], version: QuicVersion): Promise<void> {
    const server = await listenOurQuicServer({
      tls: { provider, certificate: pki.ecdsa.server.credentials, alpnProtocols: ['h3'] },
    });
    const url = `https://localhost:${server.port}/`;
    const peer = spawnPeer('ngtcp2-client', [
      ...LOG_ARGS, ...extra, '--exit-on-all-streams-close', '--timeout=5s', '127.0.0.1', String(server.port), url,
    ], { timeoutMs: PEER_LIFETIME_MS });

    const { log, info } = await server.connected();
    expect(log.session.connection.version).toBe(version);
    expect(info.group).toBe(NamedGroup.x25519);
    expect(info.signatureScheme).toBe(SignatureScheme.ecdsa_secp256r1_sha256);
    expect(info.alpn).toBe('h3');
    expect(info.serverName).toBe('localhost');

    await ngtcp2Reports(peer, version);
    // HTTP/3 (RFC 9114 §6): the request on client bidi stream 0, the control and QPACK
    // streams on client unidirectional streams (IDs ≡ 2 mod 4).
    await until(() => log.streams.has(0) && [...log.streams.keys()].some((id) => !isBidi(id)), 'the client\'s HTTP/3 streams');
    expect([...log.streams.keys()].filter((id) => !isBidi(id)).every((id) => id % 4 === 2)).toBe(true);
    expect(log.errors).toEqual([]);
  }

  it('ngtcp2-client → our server: x25519, our P-256 chain, ALPN h3, its HTTP/3 streams arrive', async () => {
    await ngtcp2ClientToOurServer([], QUIC_V1);
  }, CASE_TIMEOUT_MS);

  it('ngtcp2-client -v v2 → our server: QUIC version 2 (RFC 9369)', async () => {
    await ngtcp2ClientToOurServer(['-v', 'v2'], QUIC_V2);
  }, CASE_TIMEOUT_MS);

  // RFC 9000 §9.2/§9.3: ngtcp2 moves to a new local port after the handshake (actively, then as a NAT rebinding
  // would, without validating) and only then sends its request: our server follows it to the new address once that
  // address answers a PATH_CHALLENGE.
  for (const [name, extra] of [['migrates', []], ['is NAT-rebound', ['--nat-rebinding']]] as const) {
    it(`ngtcp2-client that ${name} → our server: the server validates and uses the new address`, async () => {
      const server = await listenOurQuicServer({ tls: { provider, certificate: pki.ecdsa.server.credentials, alpnProtocols: ['h3'] } });
      const url = `https://localhost:${server.port}/`;
      const peer = spawnPeer('ngtcp2-client', [
        ...LOG_ARGS, '--change-local-addr=200ms', '--delay-stream=600ms', ...extra, '--timeout=5s', '127.0.0.1', String(server.port), url,
      ], { timeoutMs: PEER_LIFETIME_MS });
      try {
        const { log } = await server.connected();
        type PathView = { paths: { current: { remote: string; validated: boolean } } };
        const path = (): { remote: string; validated: boolean } => (log.session.connection as unknown as PathView).paths.current;
        const first = path().remote;
        await until(() => path().remote !== first && path().validated, 'our server to move to the client\'s new address', 8_000);
        expect(log.errors).toEqual([]);
      } finally {
        await peer.kill();
      }
    }, CASE_TIMEOUT_MS);
  }
});
