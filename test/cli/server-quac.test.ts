/**
 * `pqtls server --quac emulated --key quac:LABEL`: the server's ML-DSA key is
 * stored on the (emulated) QUAC 100 card — made beforehand in this process on
 * a card whose flash is the --quac-state file — and every CertificateVerify
 * (RFC 8446 §4.4.3) is signed there, as `quac_sign_operations_total` on
 * --metrics-port counts. Checked with our client over TLS and QUIC and with
 * OpenSSL 3.5 `s_client`.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { EmulatedQuacLibrary } from '../../src/hw/quac100/emulated.js';
import { createQuacProvider } from '../../src/hw/quac100/provider.js';
import { fileQuacStorage } from '../../src/node/quac-state.js';
import { createNobleProvider } from '../../src/pq/index.js';
import { issueLeaf } from '../../src/x509/ca.js';
import { parseCertificate } from '../../src/x509/certificate.js';
import { certificateToPem } from '../../src/x509/pem-certificates.js';
import { importPrivateKeyPem } from '../../src/x509/pkcs8.js';
import { pemCertificates } from '../../src/tls13/credentials.js';
import { captureIo, listeningPort, type CapturedIo } from '../helpers/cli-io.js';
import { interopDisabled, runPeer } from '../helpers/peers.js';

const dir = mkdtempSync(join(tmpdir(), 'pqtls-cli-quac-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const state = join(dir, 'card.json');
const ca = join(dir, 'ca');
const other = join(dir, 'other');
const chain = join(dir, 'card-chain.pem');
const LABEL = 'tls-server';

beforeAll(async () => {
  expect(await main(['cert', 'ca', '--alg', 'ml-dsa-65', '--subject', 'CN=quac cli root', '--out', ca], captureIo())).toBe(0);
  expect(await main(['cert', 'leaf', '--ca', ca, '--alg', 'ml-dsa-65', '--dns', 'localhost', '--out', other], captureIo())).toBe(0);
  // The key is made on the card (its flash is the state file) and certified by the CA; the card keeps the private half.
  const quac = await createQuacProvider({ library: new EmulatedQuacLibrary({ storage: fileQuacStorage(state) }), keyPool: false });
  const key = await quac.createStoredKey('ml-dsa-65', LABEL, { persistent: true });
  await quac.close();
  const software = createNobleProvider();
  const issuer = {
    certificate: parseCertificate(pemCertificates(readFileSync(join(ca, 'cert.pem'), 'utf8'))[0] as Uint8Array),
    privateKey: (await importPrivateKeyPem(software, readFileSync(join(ca, 'key.pem'), 'utf8'))).privateKey,
  };
  const now = Date.now();
  const leaf = await issueLeaf({
    provider: software, issuer, keyPair: key, dns: ['localhost'], notBefore: new Date(now - 3_600_000), notAfter: new Date(now + 86_400_000),
  });
  writeFileSync(chain, certificateToPem(leaf.certificate.der));
});

const caCert = (): string => join(ca, 'cert.pem');
const quacServer = (...extra: string[]): string[] => [
  'server', '--quac', 'emulated', '--quac-state', state, '--key', `quac:${LABEL}`, '--cert', chain, '--port', '0', '--metrics-port', '0', ...extra,
];

async function metricsPort(o: CapturedIo): Promise<number> {
  const m = /metrics on http:\/\/127\.0\.0\.1:(\d+)\/metrics/.exec(o.text());
  if (!m) throw new Error(`no metrics line in: ${o.text()}`);
  return Number(m[1]);
}

/** `quac_sign_operations_total{operation="sign",…}` summed over algorithms. */
async function cardSignatures(port: number): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  let n = 0;
  for (const m of text.matchAll(/^quac_sign_operations_total\{([^}]*)\} (\d+)$/gm)) {
    if (/operation="sign"/.test(m[1] as string)) n += Number(m[2]);
  }
  return n;
}

async function ourClient(port: number, ...extra: string[]): Promise<Record<string, unknown>> {
  const c = captureIo();
  expect(await main(['client', `127.0.0.1:${port}`, '--ca', caCert(), '--servername', 'localhost', '--json', ...extra], c), c.errors()).toBe(0);
  return JSON.parse(c.text()) as Record<string, unknown>;
}

describe('pqtls server --quac emulated --key quac:LABEL', () => {
  it('TLS: our client and OpenSSL s_client verify a CertificateVerify signed on the card; /metrics counts each signature', async () => {
    const srv = captureIo();
    const serving = main(quacServer('--echo', '--max-connections', '4'), srv);
    const port = await listeningPort(srv);
    const mport = await metricsPort(srv);
    expect(await cardSignatures(mport)).toBe(0);
    for (const text of ['one', 'two']) {
      expect(await ourClient(port, '--send', text)).toMatchObject({ protocol: 'TLSv1.3', signatureScheme: 'mldsa65', reply: text, resumed: false });
    }
    if (!interopDisabled) {
      const s = await runPeer('openssl', [
        's_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', '-CAfile', caCert(), '-verify_return_error', '-brief',
      ]);
      const log = s.stdout + s.stderr;
      expect(s.code, log).toBe(0);
      expect(log).toContain('Signature type: mldsa65');
      expect(log).toContain('Verification: OK');
    } else {
      await ourClient(port);
    }
    expect(await cardSignatures(mport)).toBe(3);
    expect((await fetch(`http://127.0.0.1:${mport}/other`)).status).toBe(404);
    await ourClient(port);
    expect(await serving, srv.errors()).toBe(0);
    expect(srv.errors()).toBe('');
  });

  it('QUIC: the handshake signs on the card too', async () => {
    const srv = captureIo();
    const serving = main(quacServer('--quic', '--alpn', 'pq', '--echo', '--max-connections', '2'), srv);
    const port = await listeningPort(srv);
    const mport = await metricsPort(srv);
    expect(await ourClient(port, '--quic', '--alpn', 'pq', '--send', 'over quic')).toMatchObject({ protocol: 'QUICv1', signatureScheme: 'mldsa65', reply: 'over quic' });
    expect(await cardSignatures(mport)).toBe(1);
    await ourClient(port, '--quic', '--alpn', 'pq');
    expect(await serving, srv.errors()).toBe(0);
  });

  it('--no-quac-batch serves as well, one operation per device call', async () => {
    const srv = captureIo();
    const serving = main(quacServer('--no-quac-batch', '--max-connections', '1'), srv);
    const port = await listeningPort(srv);
    expect(await ourClient(port)).toMatchObject({ signatureScheme: 'mldsa65' });
    expect(await serving, srv.errors()).toBe(0);
  });

  it('refuses a card key without --quac, an unknown --quac, a label the card lacks and a certificate for another key', async () => {
    const run = async (args: string[]): Promise<[number, string]> => {
      const o = captureIo();
      return [await main(args, o), o.errors()];
    };
    const [noQuac, noQuacErr] = await run(['server', '--key', `quac:${LABEL}`, '--cert', chain, '--port', '0']);
    expect([noQuac, noQuacErr]).toEqual([2, expect.stringMatching(/--key quac:tls-server needs --quac/)]);
    const [metricsOnly, metricsErr] = await run(['server', '--key', join(other, 'key.pem'), '--cert', join(other, 'chain.pem'), '--port', '0', '--metrics-port', '0']);
    expect([metricsOnly, metricsErr]).toEqual([2, expect.stringMatching(/--metrics-port needs --quac/)]);
    const [bogus, bogusErr] = await run(['server', '--quac', 'bogus', '--key', `quac:${LABEL}`, '--cert', chain, '--port', '0']);
    expect([bogus, bogusErr]).toEqual([2, expect.stringMatching(/--quac must be emulated or native, not "bogus"/)]);
    const [missing, missingErr] = await run(['server', '--quac', 'emulated', '--quac-state', state, '--key', 'quac:absent', '--cert', chain, '--port', '0']);
    expect(missing).toBe(1);
    expect(missingErr).toMatch(/--key quac:absent: no QUAC device in the rotation holds a key labelled "absent"/);
    const [wrong, wrongErr] = await run(['server', ...quacServer().slice(1).map((a) => (a === chain ? join(other, 'chain.pem') : a))]);
    expect(wrong).toBe(1);
    expect(wrongErr).toMatch(/does not certify the key quac:tls-server on the card/);
  });
});
