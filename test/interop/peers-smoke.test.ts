/**
 * The interop peers themselves work: each program that scripts/install-peers.sh
 * puts in .peers/bin runs, and the post-quantum ones speak the hybrid group
 * X25519MLKEM768 (draft-ietf-tls-ecdhe-mlkem §3) with ML-DSA-65 certificates
 * (draft-ietf-tls-mldsa) to each other over loopback. If this file fails, every
 * interop result against these peers is suspect.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, interopDisabled, runPeer, spawnPeer, waitForPort } from '../helpers/peers.js';
import { createTestPki, type TestPki } from '../helpers/test-pki.js';

describe.runIf(!interopDisabled)('interop peers installed by scripts/install-peers.sh', () => {
  let dir = '';
  let pki: TestPki;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pqtls-peers-smoke-'));
    pki = await createTestPki(dir);
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('openssl is OpenSSL 3.5 and lists the X25519MLKEM768 hybrid', async () => {
    const version = await runPeer('openssl', ['version']);
    expect(version.code).toBe(0);
    expect(version.stdout).toMatch(/^OpenSSL 3\.5\.\d+/);
    const kems = await runPeer('openssl', ['list', '-kem-algorithms']);
    expect(kems.stdout).toContain('X25519MLKEM768');
  });

  it('node24 is Node.js 24 built with OpenSSL 3.5', async () => {
    const r = await runPeer('node24', ['-p', '`${process.versions.node} ${process.versions.openssl}`']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^24\.\d+\.\d+ 3\.5\.\d+/);
  });

  it('ngtcp2-client and ngtcp2-server start (ngtcp2 on GnuTLS)', async () => {
    for (const peer of ['ngtcp2-client', 'ngtcp2-server'] as const) {
      const r = await runPeer(peer, ['--help']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout + r.stderr).toContain(`Usage: ${peer} [OPTIONS]`); // the usage line goes to stderr
    }
  });

  it('quiche-peer echoes a bidirectional stream over QUIC v1 on loopback', async () => {
    const port = await freePort('udp');
    const server = spawnPeer('quiche-peer', ['server', String(port), pki.ecCert, pki.ecKey]);
    await server.waitForLine(`listening on 127.0.0.1:${port}`, 15_000);
    const client = await runPeer('quiche-peer', ['client', String(port), 'hello from pqtls']);
    expect(client.code, client.stderr).toBe(0);
    expect(client.stdout).toContain('echo: hello from pqtls');
    await server.waitForLine('connection from 127.0.0.1');
  });

  it('openssl s_server and s_client agree on TLS 1.3 with X25519MLKEM768 and an ML-DSA-65 chain', async () => {
    const port = await freePort();
    const server = spawnPeer('openssl', [
      's_server', '-accept', `127.0.0.1:${port}`, '-cert', pki.leafCert, '-key', pki.leafKey, '-cert_chain', pki.caCert,
      '-groups', 'X25519MLKEM768', '-tls1_3', '-www',
    ]);
    await waitForPort(port, { process: server });
    const client = await runPeer('openssl', [
      's_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', '-groups', 'X25519MLKEM768',
      '-CAfile', pki.caCert, '-verify_return_error', '-brief',
    ]);
    const log = client.stdout + client.stderr;
    expect(client.code, log).toBe(0);
    expect(log).toContain('Protocol version: TLSv1.3');
    expect(log).toContain('Negotiated TLS1.3 group: X25519MLKEM768');
    expect(log).toContain('Signature type: mldsa65');
    expect(log).toContain('Verification: OK');
  });

  it('openssl-quic-server and s_client -quic agree on QUIC v1 with X25519MLKEM768 and ML-DSA-65', async () => {
    const port = await freePort('udp');
    const server = spawnPeer('openssl-quic-server', ['-n', '1', String(port), pki.leafCert, pki.leafKey]);
    await waitForPort(port, { protocol: 'udp', process: server });
    // stdin stays open until the echo is back: s_client hangs up as soon as its input ends.
    const client = spawnPeer('openssl', [
      's_client', '-quic', '-alpn', 'pqtls-test', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost',
      '-groups', 'X25519MLKEM768', '-CAfile', pki.caCert, '-verify_return_error',
    ]);
    client.write('ping\n');
    await client.waitForLine(/^ping$/);
    client.closeStdin();
    const exit = await client.exited;
    const log = client.output;
    expect(exit.code, log).toBe(0);
    expect(log).toContain('Protocol: QUICv1');
    expect(log).toContain('Peer signature type: mldsa65');
    const line = await server.waitForLine(/^connection: /);
    expect(line).toMatch(/group=X25519MLKEM768 .*alpn=pqtls-test echoed=5$/);
  });
});
