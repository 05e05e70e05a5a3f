/**
 * id-RSASSA-PSS keys (RFC 4055) made by OpenSSL 3.5's `genpkey -algorithm
 * RSA-PSS`, with and without RSASSA-PSS-params restricting them to SHA-256
 * and a 32-byte minimum salt: `pqtls server` loads each with its certificate
 * and completes TLS 1.3 handshakes with `openssl s_client`, which verifies the
 * rsa_pss_pss_* CertificateVerify (RFC 8446 §4.2.3, §4.4.3); and our client
 * accepts `openssl s_server` serving the same keys. A missing openssl peer
 * fails the suite unless PQTLS_SKIP_INTEROP=1 is set.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { createNobleProvider } from '../../src/pq/noble/index.js';
import { createNodeCryptoProvider } from '../../src/node/crypto-provider.js';
import { importPrivateKeyPem, parsePkcs8Pem } from '../../src/x509/index.js';
import { freePort, interopDisabled, requirePeer, runPeer, spawnPeer, waitForPort } from '../helpers/peers.js';
import { captureIo, listeningPort } from '../helpers/cli-io.js';

const io = captureIo;
const listening = listeningPort;

describe.runIf(!interopDisabled)('RSASSA-PSS keys from OpenSSL 3.5 genpkey', () => {
  let dir: string;
  let openssl: string;
  const f = (name: string): string => join(dir, name);
  async function ossl(...args: string[]): Promise<string> {
    const r = await runPeer('openssl', args, { cwd: dir, timeoutMs: 60_000 });
    if (r.code !== 0) throw new Error(`openssl ${args.join(' ')} exited ${r.code}:\n${r.stdout}${r.stderr}`);
    return r.stdout + r.stderr;
  }

  const variants = [
    ['unrestricted', [], undefined],
    ['restricted to SHA-256, salt ≥ 32', ['-pkeyopt', 'rsa_pss_keygen_md:sha256', '-pkeyopt', 'rsa_pss_keygen_saltlen:32'], { hash: 'SHA-256', mgfHash: 'SHA-1', saltLength: 32 }],
  ] as const;

  beforeAll(async () => {
    openssl = requirePeer('openssl');
    dir = mkdtempSync(join(tmpdir(), 'pqtls-rsa-pss-'));
    await ossl('genpkey', '-algorithm', 'ED25519', '-out', f('root.key'));
    await ossl('req', '-x509', '-new', '-key', f('root.key'), '-subj', '/CN=RSA-PSS interop root', '-days', '2',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', f('root.pem'));
    writeFileSync(f('leaf.ext'), 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost\n');
    for (const [i, [, opts]] of variants.entries()) {
      await ossl('genpkey', '-algorithm', 'RSA-PSS', '-pkeyopt', 'rsa_keygen_bits:2048', ...opts, '-out', f(`pss${i}.key`));
      await ossl('req', '-new', '-key', f(`pss${i}.key`), '-subj', '/CN=localhost', '-out', f(`pss${i}.csr`));
      await ossl('x509', '-req', '-in', f(`pss${i}.csr`), '-CA', f('root.pem'), '-CAkey', f('root.key'), '-days', '1',
        '-extfile', f('leaf.ext'), '-out', f(`pss${i}.pem`));
    }
  }, 120_000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  describe.each(variants.map((v, i) => [v[0], i, v[2]] as const))('%s', (_, i, restriction) => {
    it('loads as an id-RSASSA-PSS key with that restriction into both providers', async () => {
      const pem = readFileSync(f(`pss${i}.key`), 'utf8');
      const parsed = parsePkcs8Pem(pem);
      expect(parsed.algorithm).toBe('rsa-pss');
      expect((parsed as { pss?: unknown }).pss).toEqual(restriction);
      for (const p of [createNobleProvider(), createNodeCryptoProvider()]) {
        expect((await importPrivateKeyPem(p, pem)).privateKey.algorithm).toBe('rsa-pss');
      }
    });

    it.each(['noble', 'node'])('pqtls server --provider %s serves it; openssl s_client verifies rsa_pss_pss_sha256', async (provider) => {
      const srv = io();
      const serving = main(['server', '--port', '0', '--cert', f(`pss${i}.pem`), '--key', f(`pss${i}.key`), '--max-connections', '1', '--provider', provider], srv);
      const port = await listening(srv);
      const client = await runPeer(openssl, [
        's_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', '-verify_hostname', 'localhost', '-CAfile', f('root.pem'),
        '-verify_return_error', '-brief', '-tls1_3',
      ], { input: '', timeoutMs: 30_000 });
      const log = client.stdout + client.stderr;
      expect(client.code, log).toBe(0);
      expect(log).toContain('Signature type: rsa_pss_pss_sha256');
      expect(log).toContain('Verification: OK');
      expect(await serving, srv.errors()).toBe(0);
    });

    it('openssl s_server serves it; pqtls client validates the chain and the rsa_pss_pss_* signature', async () => {
      const port = await freePort();
      const server = spawnPeer(openssl, ['s_server', '-accept', `127.0.0.1:${port}`, '-cert', f(`pss${i}.pem`), '-key', f(`pss${i}.key`), '-tls1_3', '-www']);
      try {
        await waitForPort(port, { process: server });
        const c = io();
        const code = await main(['client', `127.0.0.1:${port}`, '--ca', f('root.pem'), '--servername', 'localhost', '--json'], c);
        expect(code, c.errors()).toBe(0);
        const summary = JSON.parse(c.text()) as { signatureScheme: string; peerCertificates: { publicKeyAlgorithm: string }[] };
        expect(summary.signatureScheme).toMatch(/^rsa_pss_pss_sha(256|384|512)$/);
        if (restriction) expect(summary.signatureScheme).toBe('rsa_pss_pss_sha256');
        expect(summary.peerCertificates[0]?.publicKeyAlgorithm).toMatch(/^RSASSA-PSS 2048/);
      } finally {
        await server.kill();
      }
    });
  });
});
