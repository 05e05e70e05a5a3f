/**
 * Resumption and 0-RTT against ngtcp2 1.11 (RFC 9001 §4.5–4.6, RFC 9000
 * §7.4.1), both directions, at the handshake level with ALPN h3 as in
 * quic-ngtcp2.test.ts (ngtcp2 has no ML-KEM: x25519 from our key shares).
 * The first connection leaves a ticket; the second resumes with it and sends
 * stream data in 0-RTT packets, which the server accepts.
 */
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNobleProvider, type CryptoProvider } from '../../src/pq/index.js';
import { seededRandom } from '../../src/testing/index.js';
import { MemoryAntiReplay } from '../../src/tls13/anti-replay.js';
import { quicSessionKey } from '../../src/quic/connection/zero-rtt.js';
import { QUIC_V1 } from '../../src/quic/versions.js';
import { MemorySessionStore } from '../../src/tls13/session.js';
import { TicketKeyRing } from '../../src/tls13/tickets.js';
import { webPkiVerifier } from '../../src/tls13/verifier.js';
import { quicConnect, type QuicSession } from '../../src/node/quic.js';
import { mintOurPki, type OurPki } from '../helpers/our-pki.js';
import { freePort, interopDisabled, requirePeer, spawnPeer, waitForPort, type PeerProcess } from '../helpers/peers.js';
import { listenOurQuicServer, until } from '../helpers/quic-interop.js';

const CASE_TIMEOUT_MS = 30_000;
const PEER_LIFETIME_MS = 15_000;
const LOG_ARGS = ['--no-quic-dump', '--no-http-dump'];
/** An HTTP/3 control stream (RFC 9114 §6.2.1): stream type 0x00, then an empty SETTINGS frame (type 0x04, length 0). */
const H3_CONTROL_STREAM = new Uint8Array([0x00, 0x04, 0x00]);

describe.runIf(!interopDisabled)('QUIC 0-RTT with ngtcp2 (RFC 9001 §4.6)', () => {
  let dir = '';
  let provider: CryptoProvider;
  let pki: OurPki;

  beforeAll(async () => {
    requirePeer('ngtcp2-server');
    requirePeer('ngtcp2-client');
    dir = mkdtempSync(join(tmpdir(), 'pqtls-interop-quic-ngtcp2-0rtt-'));
    provider = createNobleProvider({ random: seededRandom('interop quic ngtcp2 0-rtt') });
    pki = await mintOurPki(provider, dir);
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('our client → ngtcp2-server: the second connection resumes and its HTTP/3 control stream goes in 0-RTT, accepted', async () => {
    const port = await freePort('udp');
    const peer: PeerProcess = spawnPeer('ngtcp2-server', [
      ...LOG_ARGS, '-d', dir, '127.0.0.1', String(port), pki.ecdsa.server.keyFile, pki.ecdsa.server.chainFile,
    ], { timeoutMs: PEER_LIFETIME_MS });
    await waitForPort(port, { protocol: 'udp', process: peer });
    const store = new MemorySessionStore();
    const tls = { provider, serverName: 'localhost', alpnProtocols: ['h3'], sessionStore: store, verifier: webPkiVerifier({ provider, trustAnchors: [pki.ecdsa.rootDer] }) };

    const first = await quicConnect({ host: '127.0.0.1', port, tls, earlyData: true });
    expect(first.connection.earlyData).toBe('none');
    // The tickets come after the handshake, in 1-RTT CRYPTO frames.
    const key = quicSessionKey('localhost', QUIC_V1);
    await until(() => { const s = store.take(key, Date.now()); if (s) store.put(key, s); return s !== undefined; }, 'a ticket from ngtcp2');
    await first.close(0, 'first done');

    let earlyStream: number | undefined;
    const second: QuicSession = await quicConnect({
      host: '127.0.0.1', port, tls, earlyData: true,
      onEarlyData: (s) => {
        earlyStream = s.connection.openStream(false);
        s.connection.writeStream(earlyStream, H3_CONTROL_STREAM);
      },
    });
    expect(earlyStream).toBeDefined();
    expect(second.handshake?.resumed).toBe(true);
    expect(second.connection.earlyData).toBe('accepted');
    await second.close(0, 'second done');
  }, CASE_TIMEOUT_MS);

  it('ngtcp2-client → our server: the second run resumes from its session file and sends its request in 0-RTT, accepted', async () => {
    const ring = await TicketKeyRing.create(provider);
    const server = await listenOurQuicServer({
      tls: {
        provider, certificate: pki.ecdsa.server.credentials, alpnProtocols: ['h3'],
        tickets: { sealer: ring }, earlyData: { maxSize: 1 << 14, antiReplay: new MemoryAntiReplay() },
      },
    });
    const sessionFile = join(dir, 'ngtcp2-session.pem');
    const tpFile = join(dir, 'ngtcp2-tp.txt');
    const run = (): PeerProcess => spawnPeer('ngtcp2-client', [
      ...LOG_ARGS, `--session-file=${sessionFile}`, `--tp-file=${tpFile}`, '--wait-for-ticket', '--exit-on-all-streams-close', '--timeout=3s',
      '127.0.0.1', String(server.port), `https://localhost:${server.port}/`,
    ], { timeoutMs: PEER_LIFETIME_MS });

    const first = run();
    await until(() => existsSync(sessionFile) && statSync(sessionFile).size > 0 && existsSync(tpFile) && statSync(tpFile).size > 0, 'ngtcp2 to save the ticket', 10_000);
    await first.kill();
    expect(server.sessions[0]?.session.connection.earlyData).toBe('none');

    const second = run();
    await until(() => server.sessions[1]?.session.handshake !== undefined, 'the resumed connection', 10_000);
    const conn = server.sessions[1]?.session;
    expect(conn?.handshake?.resumed).toBe(true);
    expect(conn?.connection.earlyData).toBe('accepted');
    // ngtcp2 sent its HTTP/3 request (client bidi stream 0, with FIN) in a 0-RTT packet, and it arrived.
    expect(second.output).toMatch(/0RTT STREAM\(0x0b\) id=0x0 fin=1/);
    await until(() => server.sessions[1]?.finished.has(0) === true, 'the 0-RTT request on stream 0');
    await second.kill();
  }, CASE_TIMEOUT_MS);
});
