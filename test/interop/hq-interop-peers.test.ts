/**
 * The peers' hq-interop modes (HTTP/0.9 over QUIC, the interop runner's
 * file-transfer protocol: one `GET /path\r\n` per client bidirectional stream,
 * the file as the response, FIN ends it) work between themselves before pqtls
 * is measured against them: openssl-quic-client ↔ openssl-quic-server with
 * X25519MLKEM768 and a CA-verified ML-DSA-65 chain, quiche-peer client ↔
 * quiche-peer server, and each OpenSSL program against quiche. Files are
 * compared by SHA-256; a `..` request and a missing file get the stream reset.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { concat } from '../../src/bytes.js';
import { createNobleProvider } from '../../src/pq/index.js';
import type { StreamEvent } from '../../src/quic/connection/streams.js';
import { seededRandom } from '../../src/testing/index.js';
import { loadCertifiedKey } from '../../src/tls13/credentials.js';
import { webPkiVerifier } from '../../src/tls13/verifier.js';
import { freePort, interopDisabled, requirePeer, runPeer, spawnPeer, waitForPort } from '../helpers/peers.js';
import { listenOurQuicServer, ourQuicClient, sendOnNewStream, until } from '../helpers/quic-interop.js';
import { createTestPki, type TestPki } from '../helpers/test-pki.js';

// quiche-peer is JavaScript around quiche: ~2.4 MB took it 26 s on a loaded 2-core machine.
const CASE_TIMEOUT_MS = 120_000;
/**
 * Each peer process is stopped before its case times out, so that a case that does not finish fails with
 * the peers' output (what each printed, its exit) rather than a bare timeout of the test.
 */
const PEER_TIMEOUT_MS = CASE_TIMEOUT_MS - 15_000;
/** Sizes chosen to cross flow-control windows and packet boundaries; one empty file. */
const FILES: Readonly<Record<string, number>> = { 'one-mb': 1 << 20, 'odd': 1_234_567, 'small.txt': 1_200, 'empty': 0 };

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');
const pemToDer = (pem: string): Uint8Array =>
  new Uint8Array(Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64'));

describe.runIf(!interopDisabled)('hq-interop between the installed QUIC peers (OpenSSL 3.5, quiche)', () => {
  let dir = '';
  let www = '';
  let pki: TestPki;
  const digests = new Map<string, string>();

  beforeAll(async () => {
    requirePeer('openssl-quic-server');
    requirePeer('openssl-quic-client');
    requirePeer('quiche-peer');
    dir = mkdtempSync(join(tmpdir(), 'pqtls-hq-interop-peers-'));
    pki = await createTestPki(dir);
    www = join(dir, 'www');
    mkdirSync(www);
    const random = seededRandom('hq-interop peers');
    for (const [name, size] of Object.entries(FILES)) {
      const bytes = random(size);
      writeFileSync(join(www, name), bytes);
      digests.set(name, sha256(bytes));
    }
    writeFileSync(join(dir, 'secret'), 'outside the web root\n');
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function downloadDir(name: string): string {
    const d = join(dir, name);
    mkdirSync(d);
    return d;
  }

  function expectFiles(downloads: string): void {
    for (const [name, digest] of digests) {
      expect(existsSync(join(downloads, name)), `${name} was not saved`).toBe(true);
      expect(sha256(readFileSync(join(downloads, name))), name).toBe(digest);
    }
  }

  const urls = (port: number, names: readonly string[] = [...Object.keys(FILES)]): string[] =>
    names.map((n) => `https://127.0.0.1:${port}/${n}`);

  async function opensslServer(cert: string, key: string, extra: readonly string[] = []): Promise<{ port: number; peer: ReturnType<typeof spawnPeer> }> {
    const port = await freePort('udp');
    const peer = spawnPeer('openssl-quic-server', ['-www', www, ...extra, String(port), cert, key], { timeoutMs: PEER_TIMEOUT_MS });
    await waitForPort(port, { protocol: 'udp', process: peer });
    return { port, peer };
  }

  async function quicheServer(): Promise<{ port: number; peer: ReturnType<typeof spawnPeer> }> {
    const port = await freePort('udp');
    const peer = spawnPeer('quiche-peer', ['server', '--www', www, String(port), pki.ecCert, pki.ecKey], { timeoutMs: PEER_TIMEOUT_MS });
    await peer.waitForLine(`listening on 127.0.0.1:${port} alpn=hq-interop`, 15_000);
    return { port, peer };
  }

  it('openssl-quic-client → openssl-quic-server -www: X25519MLKEM768, ML-DSA-65 chain verified, every file intact', async () => {
    const { port, peer } = await opensslServer(pki.leafCert, pki.leafKey, ['-n', '1']);
    const downloads = downloadDir('openssl-openssl');
    const client = await runPeer('openssl-quic-client', [
      '--ca', pki.caCert, '--servername', 'localhost', '--download', downloads, ...urls(port),
    ], { timeoutMs: PEER_TIMEOUT_MS });
    expect(client.code, client.stdout + client.stderr).toBe(0);
    expect(client.stdout).toMatch(/^connection: group=X25519MLKEM768 cipher=\S+ alpn=hq-interop resumed=no verified=yes$/m);
    expectFiles(downloads);
    const line = await peer.waitForLine(/^connection: /);
    expect(line).toContain(`streams=${Object.keys(FILES).length}`);
  }, CASE_TIMEOUT_MS);

  it('openssl-quic-client resumes with its session file, updates keys and uses ChaCha20 on request', async () => {
    const { port, peer } = await opensslServer(pki.leafCert, pki.leafKey, ['-n', '2']);
    const session = join(dir, 'openssl-session.pem');
    const first = await runPeer('openssl-quic-client', [
      '--ca', pki.caCert, '--servername', 'localhost', '--session-out', session, '--download', downloadDir('resume-1'), urls(port)[0]!,
    ], { timeoutMs: PEER_TIMEOUT_MS });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('resumed=no');
    const downloads = downloadDir('resume-2');
    const second = await runPeer('openssl-quic-client', [
      '--ca', pki.caCert, '--servername', 'localhost', '--session-in', session, '--key-update', '--download', downloads, ...urls(port),
    ], { timeoutMs: PEER_TIMEOUT_MS });
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain('resumed=yes');
    expectFiles(downloads);
    await peer.waitForLine(/resumed=yes/);

    const chacha = await opensslServer(pki.leafCert, pki.leafKey, ['-n', '1', '-ciphersuites', 'TLS_CHACHA20_POLY1305_SHA256']);
    const third = await runPeer('openssl-quic-client', [
      '--ca', pki.caCert, '--servername', 'localhost', '--ciphersuites', 'TLS_CHACHA20_POLY1305_SHA256',
      '--download', downloadDir('chacha'), urls(chacha.port)[0]!,
    ], { timeoutMs: PEER_TIMEOUT_MS });
    expect(third.code, third.stderr).toBe(0);
    expect(third.stdout).toContain('cipher=TLS_CHACHA20_POLY1305_SHA256');
  }, CASE_TIMEOUT_MS);

  /**
   * Our own client sends the raw requests (URL parsers would fold `..` away):
   * `..` and a missing file must be answered with RESET_STREAM, never data.
   */
  async function expectRefusals(port: number, caPem: string): Promise<void> {
    const provider = createNobleProvider({ random: seededRandom('hq-interop refusals') });
    const { log } = await ourQuicClient({
      host: '127.0.0.1', port,
      tls: {
        provider, serverName: 'localhost', alpnProtocols: ['hq-interop'],
        verifier: webPkiVerifier({ provider, trustAnchors: [pemToDer(readFileSync(caPem, 'utf8'))] }),
      },
    });
    const resets = new Map<number, number>();
    log.session.on('stream', (ev: StreamEvent) => {
      if (ev.type === 'reset') resets.set(ev.id, ev.errorCode);
    });
    const climb = await sendOnNewStream(log.session, 'GET /../secret\r\n');
    const missing = await sendOnNewStream(log.session, 'GET /no-such-file\r\n');
    const good = await sendOnNewStream(log.session, 'GET /small.txt\r\n');
    await until(() => resets.has(climb) && resets.has(missing) && log.finished.has(good), 'two resets and one file');
    expect(log.streams.get(climb) ?? []).toEqual([]);
    expect(log.streams.get(missing) ?? []).toEqual([]);
    expect(sha256(concat(...(log.streams.get(good) ?? [])))).toBe(digests.get('small.txt'));
  }

  it('openssl-quic-server and quiche-peer server reset a stream asking for `..` or a missing file', async () => {
    const openssl = await opensslServer(pki.leafCert, pki.leafKey, ['-n', '1']);
    await expectRefusals(openssl.port, pki.caCert);
    const quiche = await quicheServer();
    await expectRefusals(quiche.port, pki.ecCert);
  }, CASE_TIMEOUT_MS);

  it('key updates really happen (RFC 9001 §6): openssl-quic-client -key-update → our server, our client → openssl-quic-server -key-update', async () => {
    const provider = createNobleProvider({ random: seededRandom('hq-interop key update') });
    const certificate = await loadCertifiedKey(provider, readFileSync(pki.leafCert, 'utf8'), readFileSync(pki.leafKey, 'utf8'));
    // Our echo server answers `GET /x` with the request itself: enough for the client to save a file.
    const ours = await listenOurQuicServer({ tls: { provider, certificate, alpnProtocols: ['hq-interop'] } });
    const downloads = downloadDir('key-update');
    const client = await runPeer('openssl-quic-client', [
      '--ca', pki.caCert, '--servername', 'localhost', '--key-update', '--download', downloads, `https://127.0.0.1:${ours.port}/x`,
    ], { timeoutMs: PEER_TIMEOUT_MS });
    expect(client.code, client.stdout + client.stderr).toBe(0);
    expect(readFileSync(join(downloads, 'x'), 'utf8')).toBe('GET /x\r\n');
    expect(ours.sessions[0]?.session.connection.keyPhase.updates).toBeGreaterThanOrEqual(1);

    const { port } = await opensslServer(pki.leafCert, pki.leafKey, ['-n', '1', '-key-update']);
    const { log } = await ourQuicClient({
      host: '127.0.0.1', port,
      tls: {
        provider, serverName: 'localhost', alpnProtocols: ['hq-interop'],
        verifier: webPkiVerifier({ provider, trustAnchors: [pemToDer(readFileSync(pki.caCert, 'utf8'))] }),
      },
    });
    const id = await sendOnNewStream(log.session, 'GET /one-mb\r\n');
    await until(() => log.finished.has(id), 'one-mb from openssl-quic-server -key-update');
    expect(sha256(concat(...(log.streams.get(id) ?? [])))).toBe(digests.get('one-mb'));
    expect(log.session.connection.keyPhase.updates).toBeGreaterThanOrEqual(1);
  }, CASE_TIMEOUT_MS);

  it('quiche-peer client → quiche-peer server --www: every file intact', async () => {
    const { port } = await quicheServer();
    const downloads = downloadDir('quiche-quiche');
    const client = await runPeer('quiche-peer', ['client', '--download', downloads, '--ca', pki.ecCert, '--servername', 'localhost', ...urls(port)], {
      timeoutMs: PEER_TIMEOUT_MS,
    });
    expect(client.code, client.stdout + client.stderr).toBe(0);
    expect(client.stdout).toContain(`downloaded: files=${Object.keys(FILES).length}/${Object.keys(FILES).length}`);
    expectFiles(downloads);
  }, CASE_TIMEOUT_MS);

  it('openssl-quic-client → quiche-peer server, and quiche-peer client → openssl-quic-server (X25519, ECDSA certificate)', async () => {
    const quiche = await quicheServer();
    const toQuiche = downloadDir('openssl-quiche');
    const a = await runPeer('openssl-quic-client', ['--ca', pki.ecCert, '--servername', 'localhost', '--download', toQuiche, ...urls(quiche.port)], {
      timeoutMs: PEER_TIMEOUT_MS,
    });
    expect(a.code, a.stdout + a.stderr).toBe(0);
    expect(a.stdout).toContain('group=x25519');
    expectFiles(toQuiche);

    const openssl = await opensslServer(pki.ecCert, pki.ecKey, ['-n', '1']);
    const toOpenssl = downloadDir('quiche-openssl');
    const b = await runPeer('quiche-peer', ['client', '--download', toOpenssl, ...urls(openssl.port)], { timeoutMs: PEER_TIMEOUT_MS });
    expect(b.code, b.stdout + b.stderr).toBe(0);
    expectFiles(toOpenssl);
  }, CASE_TIMEOUT_MS);
});
