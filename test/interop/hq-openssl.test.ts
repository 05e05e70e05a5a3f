/**
 * hq-interop (HTTP/0.9 over QUIC, the interop runner's protocol) with the
 * post-quantum suite end to end: `openssl s_client -quic -alpn hq-interop`
 * (OpenSSL 3.5) sends `GET /path` on a bidirectional stream to
 * `pqtls server --quic --www`, over X25519MLKEM768 with our ML-DSA-65 chain,
 * and prints the file we send back.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { createNobleProvider } from '../../src/pq/index.js';
import { seededRandom } from '../../src/testing/index.js';
import { captureIo, listeningPort } from '../helpers/cli-io.js';
import { mintOurPki, type OurPki } from '../helpers/our-pki.js';
import { interopDisabled, requirePeer, spawnPeer } from '../helpers/peers.js';

const CASE_TIMEOUT_MS = 30_000;

describe.runIf(!interopDisabled)('hq-interop with OpenSSL 3.5 s_client -quic', () => {
  let dir = '';
  let www = '';
  let pki: OurPki;
  /** 2000 numbered lines (≈ 30 KB, several packets): the first and last must both arrive. */
  const lines = Array.from({ length: 2000 }, (_, i) => `line ${i} of the hq-interop file`);

  beforeAll(async () => {
    requirePeer('openssl');
    dir = mkdtempSync(join(tmpdir(), 'pqtls-interop-hq-openssl-'));
    pki = await mintOurPki(createNobleProvider({ random: seededRandom('interop hq openssl') }), dir);
    www = join(dir, 'www');
    mkdirSync(www);
    writeFileSync(join(www, 'lines.txt'), lines.join('\n') + '\n');
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('s_client GETs a file from pqtls server --www: X25519MLKEM768, ML-DSA-65, ALPN hq-interop', async () => {
    const srv = captureIo();
    const serving = main(['server', '--quic', '--port', '0', '--cert', pki.mldsa.server.chainFile, '--key', pki.mldsa.server.keyFile,
      '--www', www, '--max-connections', '1'], srv);
    const port = await listeningPort(srv);
    const peer = spawnPeer('openssl', [
      's_client', '-quic', '-alpn', 'hq-interop', '-connect', `127.0.0.1:${port}`, '-CAfile', pki.mldsa.rootFile,
      '-servername', 'localhost', '-verify_return_error',
    ], { timeoutMs: 20_000 });
    peer.write('GET /lines.txt\r\n');
    await peer.waitForLine('Verification: OK');
    await peer.waitForLine('Peer signature type: mldsa65');
    await peer.waitForLine(lines[0] as string);
    await peer.waitForLine(lines[lines.length - 1] as string);
    peer.closeStdin();
    const exit = await peer.exited;
    expect(exit.timedOut, peer.output).toBe(false);
    for (const l of lines) expect(peer.stdout).toContain(`${l}\n`);
    expect(await serving).toBe(0);
    expect(srv.text()).toMatch(/connection: quic group=X25519MLKEM768 .* alpn=hq-interop/);
  }, CASE_TIMEOUT_MS);
});
