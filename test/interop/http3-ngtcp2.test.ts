/**
 * HTTP/3 (RFC 9114, QPACK RFC 9204) against ngtcp2 1.11's examples, which
 * are built on nghttp3: the pqtls CLI client GETs files from ngtcp2-server,
 * and ngtcp2-client GETs files from `pqtls server --quic --www`; each file is
 * compared by SHA-256. nghttp3 Huffman-codes its QPACK literals, so the
 * decoding side of RFC 7541 §5.2 is exercised for real. Classical
 * handshakes: ngtcp2/GnuTLS has no ML-KEM or ML-DSA, so the certificates are
 * our ECDSA P-256 chain and ngtcp2 picks x25519 from our key shares.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { createNobleProvider, type CryptoProvider } from '../../src/pq/index.js';
import { seededRandom } from '../../src/testing/index.js';
import { captureIo, listeningPort } from '../helpers/cli-io.js';
import { mintOurPki, type OurPki } from '../helpers/our-pki.js';
import { freePort, interopDisabled, requirePeer, spawnPeer, waitForPort } from '../helpers/peers.js';

const CASE_TIMEOUT_MS = 45_000;
const PEER_LIFETIME_MS = 40_000;
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

describe.runIf(!interopDisabled)('HTTP/3 interop with ngtcp2 (nghttp3)', () => {
  let dir = '';
  let www = '';
  let provider: CryptoProvider;
  let pki: OurPki;
  const files = new Map<string, Uint8Array>();

  beforeAll(async () => {
    requirePeer('ngtcp2-server');
    requirePeer('ngtcp2-client');
    dir = mkdtempSync(join(tmpdir(), 'pqtls-interop-h3-ngtcp2-'));
    provider = createNobleProvider({ random: seededRandom('interop h3 ngtcp2') });
    pki = await mintOurPki(provider, dir);
    www = join(dir, 'www');
    mkdirSync(www);
    const rnd = seededRandom('h3 files');
    for (const [name, size] of [['a.bin', 1000], ['b.bin', 300_000], ['c.bin', 1_200_000]] as const) {
      files.set(name, rnd(size));
      writeFileSync(join(www, name), files.get(name) as Uint8Array);
    }
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('pqtls client --quic --alpn h3 → ngtcp2-server: three files on concurrent streams, same SHA-256', async () => {
    const port = await freePort('udp');
    const peer = spawnPeer('ngtcp2-server', [
      '-q', '-d', www, '127.0.0.1', String(port), pki.ecdsa.server.keyFile, pki.ecdsa.server.chainFile,
    ], { timeoutMs: PEER_LIFETIME_MS });
    await waitForPort(port, { protocol: 'udp', process: peer });
    const out = join(dir, 'from-ngtcp2');
    const c = captureIo();
    const code = await main(['client', '--quic', ...[...files.keys()].map((n) => `https://127.0.0.1:${port}/${n}`), '--servername', 'localhost',
      '--alpn', 'h3', '--download', out, '--ca', pki.ecdsa.rootFile], c);
    expect(code, `${c.errors()}\n${peer.output}`).toBe(0);
    for (const [name, body] of files) expect(sha256(readFileSync(join(out, name))), name).toBe(sha256(body));
  }, CASE_TIMEOUT_MS);

  it('pqtls client → ngtcp2-server -V --preferred-versions=v2,v1: h3 after a Retry, in QUIC v2, ChaCha20, with a key update', async () => {
    const port = await freePort('udp');
    const peer = spawnPeer('ngtcp2-server', [
      '--no-quic-dump', '--no-http-dump', '-V', '--preferred-versions=v2,v1', '-d', www, '127.0.0.1', String(port), pki.ecdsa.server.keyFile, pki.ecdsa.server.chainFile,
    ], { timeoutMs: PEER_LIFETIME_MS });
    await waitForPort(port, { protocol: 'udp', process: peer });
    const out = join(dir, 'from-ngtcp2-v2');
    const c = captureIo();
    const code = await main(['client', '--quic', ...[...files.keys()].map((n) => `https://127.0.0.1:${port}/${n}`), '--servername', 'localhost',
      '--alpn', 'h3', '--download', out, '--ca', pki.ecdsa.rootFile, '--quic-version', 'v2', '--cipher-suites', 'TLS_CHACHA20_POLY1305_SHA256',
      '--key-update'], c);
    expect(code, `${c.errors()}\n${peer.output}`).toBe(0);
    expect(c.text()).toMatch(/connection: QUICv2 alpn=h3 cipher=TLS_CHACHA20_POLY1305_SHA256 .*key-updates=1 saved=3\/3/);
    for (const [name, body] of files) expect(sha256(readFileSync(join(out, name))), name).toBe(sha256(body));
    expect(peer.output).toContain('Sending Retry packet');
    expect(peer.output).toContain('Token was successfully validated');
  }, CASE_TIMEOUT_MS);

  it('ngtcp2-client → pqtls server --quic --www (h3): three files, same SHA-256', async () => {
    const srv = captureIo();
    const serving = main(['server', '--quic', '--port', '0', '--cert', pki.ecdsa.server.chainFile, '--key', pki.ecdsa.server.keyFile,
      '--alpn', 'h3,hq-interop', '--www', www, '--max-connections', '1'], srv);
    const port = await listeningPort(srv);
    const out = join(dir, 'to-ngtcp2');
    mkdirSync(out);
    const peer = spawnPeer('ngtcp2-client', [
      '-q', '--exit-on-all-streams-close', '--timeout=30s', `--download=${out}`, '127.0.0.1', String(port),
      ...[...files.keys()].map((n) => `https://localhost:${port}/${n}`),
    ], { timeoutMs: PEER_LIFETIME_MS });
    const exit = await peer.exited;
    expect(exit.timedOut, peer.output).toBe(false);
    expect(exit.code, `${peer.output}\n${srv.errors()}`).toBe(0);
    expect(readdirSync(out).sort()).toEqual([...files.keys()].sort());
    for (const [name, body] of files) expect(sha256(readFileSync(join(out, name))), name).toBe(sha256(body));
    expect(await serving).toBe(0);
    expect(srv.text()).toMatch(/connection: quic group=x25519 .* alpn=h3/);
  }, CASE_TIMEOUT_MS);
});
