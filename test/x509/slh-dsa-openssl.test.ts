/**
 * SLH-DSA (FIPS 205, RFC 9909) interop with OpenSSL 3.5 both ways: OpenSSL
 * validates a chain whose root we signed with SLH-DSA and loads our SLH-DSA
 * PKCS #8; we validate an SLH-DSA root and chain OpenSSL minted, load its
 * SLH-DSA private key and sign with it; and for all twelve parameter sets our
 * SPKI and PKCS #8 encodings equal OpenSSL's byte for byte. A missing openssl
 * peer fails the suite unless PQTLS_SKIP_INTEROP=1 is set.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SLH_DSA_ALGORITHMS } from '../../src/pq/ids.js';
import { connect } from '../../src/node/index.js';
import { webPkiVerifier } from '../../src/tls13/verifier.js';
import { freePort, interopDisabled, requirePeer, runPeer, spawnPeer, waitForPort } from '../helpers/peers.js';
import { closed, lineEcho, listenOurServer } from '../helpers/tls-interop.js';
import {
  certificateToPem, chainToPem, decodePem, encodePem, encodePkcs8, encodeSubjectPublicKeyInfo, exportPrivateKeyPem, importPrivateKeyPem, issueIntermediate,
  parsePemChain, parsePkcs8Pem, parseSubjectPublicKeyInfo, summarizeCertificate, verifyChain, type Certificate,
} from './exports.js';
import { creds, makeChain, testProvider, type Chain } from './pki.js';

const provider = testProvider('slh-dsa openssl interop');

describe.runIf(!interopDisabled)('SLH-DSA interop with OpenSSL 3.5', () => {
  let dir: string;
  /** SLH-DSA-SHA2-128f root → ML-DSA-65 intermediate → ML-DSA-65 leaf, minted by us. */
  let chain: Chain;
  beforeAll(async () => {
    requirePeer('openssl');
    dir = mkdtempSync(join(tmpdir(), 'pqtls-slh-'));
    chain = await makeChain(provider, ['slh-dsa-sha2-128f', 'ml-dsa-65', 'ml-dsa-65']);
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  const f = (name: string): string => join(dir, name);
  const read = (name: string): string => readFileSync(f(name), 'utf8');
  async function ossl(...args: string[]): Promise<string> {
    const r = await runPeer('openssl', args, { cwd: dir, timeoutMs: 60_000 });
    if (r.code !== 0) throw new Error(`openssl ${args.join(' ')} exited ${r.code}:\n${r.stdout}${r.stderr}`);
    return r.stdout + r.stderr;
  }
  const atTime = String(Date.UTC(2026, 5, 1) / 1000);

  /** `alg` root → ML-DSA-65 intermediate → ML-DSA-44 leaf for localhost, all by OpenSSL, as files `${alg}.{root,int,leaf}.{pem,key}`. */
  async function opensslChain(alg: string): Promise<string> {
    const t = alg;
    writeFileSync(f('ca.ext'), 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n');
    writeFileSync(f('leaf.ext'), 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost\n');
    await ossl('req', '-x509', '-newkey', alg, '-keyout', f(`${t}.root.key`), '-out', f(`${t}.root.pem`), '-nodes', '-days', '30',
      '-subj', `/O=OpenSSL/CN=${alg} root`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
    await ossl('req', '-new', '-newkey', 'ml-dsa-65', '-keyout', f(`${t}.int.key`), '-out', f(`${t}.int.csr`), '-nodes', '-subj', '/O=OpenSSL/CN=int');
    await ossl('x509', '-req', '-in', f(`${t}.int.csr`), '-CA', f(`${t}.root.pem`), '-CAkey', f(`${t}.root.key`), '-set_serial', '2',
      '-days', '30', '-extfile', f('ca.ext'), '-out', f(`${t}.int.pem`));
    await ossl('req', '-new', '-newkey', 'ml-dsa-44', '-keyout', f(`${t}.leaf.key`), '-out', f(`${t}.leaf.csr`), '-nodes', '-subj', '/CN=localhost');
    await ossl('x509', '-req', '-in', f(`${t}.leaf.csr`), '-CA', f(`${t}.int.pem`), '-CAkey', f(`${t}.int.key`), '-set_serial', '3',
      '-days', '30', '-extfile', f('leaf.ext'), '-out', f(`${t}.leaf.pem`));
    return t;
  }

  it('OpenSSL validates our SLH-DSA-SHA2-128f root → ML-DSA-65 → ML-DSA-65 chain and loads our SLH-DSA key', async () => {
    writeFileSync(f('our-root.pem'), certificateToPem(chain.root.certificate));
    writeFileSync(f('our-int.pem'), chainToPem(chain.intermediates.map((i) => i.certificate)));
    writeFileSync(f('our-leaf.pem'), certificateToPem(chain.leaf.certificate));
    writeFileSync(f('our-root.key'), await exportPrivateKeyPem(provider, chain.root.keyPair.privateKey));

    const text = await ossl('x509', '-in', f('our-int.pem'), '-noout', '-text');
    expect(text).toContain('Signature Algorithm: SLH-DSA-SHA2-128f');
    // -check_ss_sig makes OpenSSL check the root's own signature too, which a trust anchor's is not by default.
    const verified = await ossl('verify', '-check_ss_sig', '-CAfile', f('our-root.pem'), '-untrusted', f('our-int.pem'), '-purpose', 'sslserver',
      '-verify_hostname', 'localhost', '-attime', atTime, f('our-leaf.pem'));
    expect(verified).toContain(': OK');
    const pub = await ossl('pkey', '-in', f('our-root.key'), '-pubout');
    expect(decodePem(pub)[0]?.bytes).toEqual(chain.root.certificate.publicKey.der);

    // And a corrupted SLH-DSA signature is refused by OpenSSL as by us.
    const der = (chain.intermediates[0]?.certificate as Certificate).der.slice();
    der[der.length - 1] = (der[der.length - 1] as number) ^ 1;
    writeFileSync(f('our-int-bad.pem'), encodePem('CERTIFICATE', der));
    const bad = await runPeer('openssl', ['verify', '-CAfile', f('our-root.pem'), '-untrusted', f('our-int-bad.pem'), '-attime', atTime, f('our-leaf.pem')],
      { cwd: dir, timeoutMs: 60_000 });
    expect(bad.code).not.toBe(0);
    expect(bad.stdout + bad.stderr).toMatch(/certificate signature failure/);
  });

  it('we validate an OpenSSL-minted SLH-DSA root and chain, load its SLH-DSA key, and sign a certificate OpenSSL accepts', async () => {
    for (const alg of ['slh-dsa-sha2-128f', 'slh-dsa-shake-128f'] as const) {
      const t = await opensslChain(alg);
      const [root] = parsePemChain(read(`${t}.root.pem`)) as [Certificate];
      const result = await verifyChain({
        provider, leaf: parsePemChain(read(`${t}.leaf.pem`))[0] as Certificate, intermediates: parsePemChain(read(`${t}.int.pem`)),
        trustAnchors: [root], now: new Date(), hostname: 'localhost', purpose: 'serverAuth',
      });
      expect(result.path.map((c) => summarizeCertificate(c).signatureAlgorithm)[1]).toBe(alg.slice(0, -1).toUpperCase() + alg.slice(-1));

      // OpenSSL's private key loads, and signs a new intermediate under OpenSSL's root (issueIntermediate checks the signature).
      const key = await importPrivateKeyPem(provider, read(`${t}.root.key`));
      expect(key.publicKey).toEqual(root.publicKey.publicKey);
      const now = Date.now();
      const ours = await issueIntermediate({
        provider, issuer: creds({ certificate: root, keyPair: key }), algorithm: 'ml-dsa-44', subject: 'CN=ours under OpenSSL',
        notBefore: new Date(now - 86_400_000), notAfter: new Date(now + 86_400_000),
      });
      writeFileSync(f(`${t}.ours.pem`), certificateToPem(ours.certificate));
      expect(await ossl('verify', '-CAfile', f(`${t}.root.pem`), f(`${t}.ours.pem`))).toContain(': OK');
    }
  });

  it('TLS 1.3 on the wire: s_client verifies our server\'s SLH-DSA-rooted chain; our client verifies s_server\'s', async () => {
    // OpenSSL as the client: our server sends the ML-DSA-65 leaf and the intermediate our SLH-DSA root signed.
    writeFileSync(f('wire-root.pem'), certificateToPem(chain.root.certificate));
    const intermediate = chain.intermediates[0]?.certificate as Certificate;
    const ours = await listenOurServer({
      provider,
      certificate: { chain: [chain.leaf.certificate.der, intermediate.der], privateKey: chain.leaf.keyPair.privateKey, keyAlgorithm: 'ml-dsa-65' },
    }, lineEcho());
    const client = await runPeer('openssl', [
      's_client', '-connect', `127.0.0.1:${ours.port}`, '-servername', 'localhost', '-verify_hostname', 'localhost', '-CAfile', f('wire-root.pem'),
      '-verify_return_error', '-brief', '-ign_eof',
    ], { cwd: dir, timeoutMs: 30_000, input: 'bye\n' });
    const log = client.stdout + client.stderr;
    expect(log).toContain('Verification: OK');
    expect(log).toContain('Signature type: mldsa65');
    expect(ours.errors).toEqual([]);

    // Our client: s_server presents an OpenSSL-made chain under an OpenSSL SLH-DSA-SHAKE-128s root (OpenSSL signs fast enough).
    const t = await opensslChain('slh-dsa-shake-128s');
    const port = await freePort();
    const server = spawnPeer('openssl', ['s_server', '-accept', `127.0.0.1:${port}`, '-tls1_3', '-naccept', '1', '-cert', f(`${t}.leaf.pem`),
      '-key', f(`${t}.leaf.key`), '-cert_chain', f(`${t}.int.pem`), '-rev'], { timeoutMs: 30_000 });
    await waitForPort(port, { process: server });
    const sock = await connect({
      host: '127.0.0.1', port, provider, serverName: 'localhost',
      verifier: webPkiVerifier({ provider, trustAnchors: [read(`${t}.root.pem`)] }),
    });
    expect(sock.getPeerSignatureScheme()).toBe('mldsa44');
    expect(sock.getPeerCertificateChain()).toHaveLength(2);
    sock.end();
    await closed(sock);
  });

  it('all twelve parameter sets: OpenSSL\'s keys parse to the right set, and our SPKI and PKCS #8 encodings equal OpenSSL\'s', async () => {
    for (const alg of SLH_DSA_ALGORITHMS) {
      await ossl('genpkey', '-algorithm', alg, '-out', f(`${alg}.key`));
      await ossl('pkey', '-in', f(`${alg}.key`), '-pubout', '-out', f(`${alg}.pub`));
      const spkiDer = decodePem(read(`${alg}.pub`))[0]?.bytes as Uint8Array;
      const info = parseSubjectPublicKeyInfo(spkiDer);
      expect(info.algorithm).toBe(alg);
      expect(encodeSubjectPublicKeyInfo(alg, info.publicKey)).toEqual(spkiDer);
      const parsed = parsePkcs8Pem(read(`${alg}.key`));
      expect(parsed.algorithm).toBe(alg);
      expect(encodePkcs8(parsed)).toEqual(decodePem(read(`${alg}.key`))[0]?.bytes);
      const pair = await importPrivateKeyPem(provider, read(`${alg}.key`));
      expect(pair.publicKey).toEqual(info.publicKey);
    }
  });
});
