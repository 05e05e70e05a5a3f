/**
 * Interop with OpenSSL 3.5, a real and independent X.509 implementation:
 * what we mint, OpenSSL accepts (x509 -text, verify, s_server/s_client with our
 * key); what OpenSSL mints (ML-DSA-44/65/87 chains, RSA PKCS #1 and PSS,
 * ECDSA, Ed25519; keys in seed+expanded, seed-only and expanded form), we
 * validate and load. PKCS #10 (RFC 2986) both ways: `pqtls cert csr` requests
 * pass `openssl req -verify`, and `pqtls cert leaf --csr` issues from OpenSSL's
 * ML-DSA requests a chain `openssl verify` accepts. A missing openssl peer
 * fails the suite unless PQTLS_SKIP_INTEROP=1 is set.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, interopDisabled, requirePeer, runPeer, spawnPeer, waitForPort } from '../helpers/peers.js';
import {
  certificateToPem, chainToPem, decodePem, encodePem, exportPrivateKeyPem, importPrivateKeyPem, parseCertificate, parsePemChain,
  summarizeCertificate, verifyChain, type Certificate,
} from '../../src/x509/index.js';
import { main, type CliIo } from '../../src/cli/main.js';
import { makeChain, testProvider } from './pki.js';

const provider = testProvider('openssl interop');

describe.runIf(!interopDisabled)('X.509 interop with OpenSSL 3.5', () => {
  let dir: string;
  let openssl: string;
  beforeAll(() => {
    openssl = requirePeer('openssl');
    dir = mkdtempSync(join(tmpdir(), 'pqtls-x509-'));
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const f = (name: string): string => join(dir, name);
  async function ossl(...args: string[]): Promise<string> {
    const r = await runPeer('openssl', args, { cwd: dir, timeoutMs: 30_000 });
    if (r.code !== 0) throw new Error(`openssl ${args.join(' ')} exited ${r.code}:\n${r.stdout}${r.stderr}`);
    return r.stdout + r.stderr;
  }
  const read = (name: string): string => readFileSync(f(name), 'utf8');

  describe('certificates and keys we mint are accepted by OpenSSL', () => {
    const cases = [
      ['all ML-DSA (65 → 87 → 44)', ['ml-dsa-65', 'ml-dsa-87', 'ml-dsa-44']],
      ['ECDSA P-384 root → ML-DSA-65 intermediate → ML-DSA-65 leaf', ['ecdsa-p384', 'ml-dsa-65', 'ml-dsa-65']],
      ['ML-DSA-87 root → ECDSA P-256 leaf', ['ml-dsa-87', 'ecdsa-p256']],
      ['ML-DSA-44 root → Ed25519 leaf', ['ml-dsa-44', 'ed25519']],
    ] as const;
    for (const [name, algs] of cases) {
      it(name, async () => {
        const chain = await makeChain(provider, algs);
        const tag = algs.join('_');
        writeFileSync(f(`${tag}-root.pem`), certificateToPem(chain.root.certificate));
        writeFileSync(f(`${tag}-int.pem`), chainToPem(chain.intermediates.map((i) => i.certificate)));
        writeFileSync(f(`${tag}-leaf.pem`), certificateToPem(chain.leaf.certificate));
        writeFileSync(f(`${tag}-leaf.key`), await exportPrivateKeyPem(provider, chain.leaf.keyPair.privateKey));

        const text = await ossl('x509', '-in', f(`${tag}-leaf.pem`), '-noout', '-text');
        expect(text).toContain('Subject: CN=localhost');
        expect(text).toMatch(/DNS:localhost, IP Address:127\.0\.0\.1/);
        expect(text).toContain('TLS Web Server Authentication');
        const untrusted = chain.intermediates.length ? ['-untrusted', f(`${tag}-int.pem`)] : [];
        const verified = await ossl('verify', '-CAfile', f(`${tag}-root.pem`), ...untrusted, '-purpose', 'sslserver',
          '-verify_hostname', 'localhost', '-verify_ip', '127.0.0.1', '-attime', String(Date.UTC(2026, 5, 1) / 1000), f(`${tag}-leaf.pem`));
        expect(verified).toContain(': OK');
        // OpenSSL derives the same public key from the PKCS #8 we wrote (ML-DSA: from the seed alone).
        const pub = await ossl('pkey', '-in', f(`${tag}-leaf.key`), '-pubout');
        expect(decodePem(pub)[0]?.bytes).toEqual(chain.leaf.certificate.publicKey.der);
      });
    }

    it('openssl s_server loads our ML-DSA leaf key and chain; s_client verifies the handshake signature', async () => {
      const chain = await makeChain(provider, ['ml-dsa-65', 'ml-dsa-87', 'ml-dsa-44'], {
        root: { notBefore: new Date(Date.now() - 86_400_000), notAfter: new Date(Date.now() + 86_400_000) },
        intermediate: { notBefore: new Date(Date.now() - 86_400_000), notAfter: new Date(Date.now() + 86_400_000) },
        leaf: { notBefore: new Date(Date.now() - 86_400_000), notAfter: new Date(Date.now() + 86_400_000) },
      });
      writeFileSync(f('live-root.pem'), certificateToPem(chain.root.certificate));
      writeFileSync(f('live-chain.pem'), chainToPem(chain.intermediates.map((i) => i.certificate)));
      writeFileSync(f('live-leaf.pem'), certificateToPem(chain.leaf.certificate));
      writeFileSync(f('live-leaf.key'), await exportPrivateKeyPem(provider, chain.leaf.keyPair.privateKey));
      const port = await freePort();
      const server = spawnPeer(openssl, [
        's_server', '-accept', `127.0.0.1:${port}`, '-cert', f('live-leaf.pem'), '-key', f('live-leaf.key'), '-cert_chain', f('live-chain.pem'),
        '-tls1_3', '-www',
      ]);
      await waitForPort(port, { process: server });
      const client = await runPeer(openssl, [
        's_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', '-verify_hostname', 'localhost', '-CAfile', f('live-root.pem'),
        '-verify_return_error', '-brief',
      ]);
      const log = client.stdout + client.stderr;
      expect(client.code, log).toBe(0);
      expect(log).toContain('Signature type: mldsa44');
      expect(log).toContain('Verification: OK');
    });
  });

  describe('chains OpenSSL mints validate under our validator', () => {
    /** root → intermediate → leaf with `openssl req` / `x509`, keys per the -newkey arguments given. */
    async function opensslChain(tag: string, rootKey: string[], intKey: string[], leafKey: string[], sign: string[][] = [[], []]): Promise<void> {
      writeFileSync(f(`${tag}.ca.ext`), 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n');
      writeFileSync(f(`${tag}.leaf.ext`), 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,DNS:*.pq.test,IP:127.0.0.1\n');
      await ossl('req', '-x509', ...rootKey, '-keyout', f(`${tag}.root.key`), '-out', f(`${tag}.root.pem`), '-nodes', '-days', '30',
        '-subj', `/O=OpenSSL/CN=${tag} root`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
      await ossl('req', '-new', ...intKey, '-keyout', f(`${tag}.int.key`), '-out', f(`${tag}.int.csr`), '-nodes', '-subj', `/O=OpenSSL/CN=${tag} intermediate`);
      await ossl('x509', '-req', '-in', f(`${tag}.int.csr`), '-CA', f(`${tag}.root.pem`), '-CAkey', f(`${tag}.root.key`), '-CAcreateserial',
        '-days', '30', '-extfile', f(`${tag}.ca.ext`), '-out', f(`${tag}.int.pem`), ...(sign[0] ?? []));
      await ossl('req', '-new', ...leafKey, '-keyout', f(`${tag}.leaf.key`), '-out', f(`${tag}.leaf.csr`), '-nodes', '-subj', '/CN=localhost');
      await ossl('x509', '-req', '-in', f(`${tag}.leaf.csr`), '-CA', f(`${tag}.int.pem`), '-CAkey', f(`${tag}.int.key`), '-CAcreateserial',
        '-days', '30', '-extfile', f(`${tag}.leaf.ext`), '-out', f(`${tag}.leaf.pem`), ...(sign[1] ?? []));
    }

    async function validate(tag: string, hostname = 'localhost'): Promise<readonly Certificate[]> {
      const [leaf] = parsePemChain(read(`${tag}.leaf.pem`));
      const result = await verifyChain({
        provider, leaf: leaf as Certificate, intermediates: parsePemChain(read(`${tag}.int.pem`)), trustAnchors: parsePemChain(read(`${tag}.root.pem`)),
        now: new Date(), hostname, purpose: 'serverAuth',
      });
      return result.path;
    }

    for (const level of ['44', '65', '87']) {
      it(`ML-DSA-${level}: the chain validates and OpenSSL's seed+expanded keys load`, async () => {
        const tag = `mldsa${level}`;
        const k = ['-newkey', `ml-dsa-${level}`];
        await opensslChain(tag, k, k, k);
        const path = await validate(tag);
        expect(path.map((c) => summarizeCertificate(c).publicKeyAlgorithm)).toEqual([`ML-DSA-${level}`, `ML-DSA-${level}`, `ML-DSA-${level}`]);
        await expect(validate(tag, 'www.pq.test')).resolves.toHaveLength(3);
        await expect(validate(tag, 'a.b.pq.test')).rejects.toMatchObject({ reason: 'hostname_mismatch' });
        for (const who of ['root', 'int', 'leaf'] as const) {
          const pem = read(`${tag}.${who}.key`);
          const pair = await importPrivateKeyPem(provider, pem);
          const cert = parsePemChain(read(`${tag}.${who}.pem`))[0] as Certificate;
          expect(pair.publicKey).toEqual(cert.publicKey.publicKey);
        }
        // OpenSSL's default is the "both" form: the key in the file is 32 + the FIPS 204 expanded size, not the seed alone.
        expect(decodePem(read(`${tag}.leaf.key`))[0]?.bytes.length).toBeGreaterThan(2560);
      });
    }

    it('classical roots: RSA (PKCS #1 v1.5 and PSS signatures) and ECDSA P-256 over ML-DSA', async () => {
      await opensslChain('rsa', ['-newkey', 'rsa:2048', '-sha256'], ['-newkey', 'ml-dsa-65'], ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'],
        [['-sha256'], []]);
      expect((await validate('rsa')).map((c) => summarizeCertificate(c).signatureAlgorithm)).toEqual(['ML-DSA-65', 'sha256WithRSAEncryption', 'sha256WithRSAEncryption']);
      await opensslChain('pss', ['-newkey', 'rsa:3072', '-sha384'], ['-newkey', 'ml-dsa-44'], ['-newkey', 'ml-dsa-44'],
        [['-sha256', '-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:digest', '-sigopt', 'rsa_mgf1_md:sha256'], []]);
      const pss = await validate('pss');
      expect(summarizeCertificate(pss[1] as Certificate).signatureAlgorithm).toBe('RSASSA-PSS (SHA-256)');
      await opensslChain('ec', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'], ['-newkey', 'ed25519'], ['-newkey', 'ml-dsa-87']);
      expect((await validate('ec')).map((c) => summarizeCertificate(c).publicKeyAlgorithm)).toEqual(['ML-DSA-87', 'Ed25519', 'ECDSA P-256']);
      for (const key of ['rsa.root.key', 'rsa.leaf.key', 'ec.int.key']) {
        const pair = await importPrivateKeyPem(provider, read(key));
        expect(pair.publicKey.length).toBeGreaterThan(0);
      }
    });

    it('PSS with a salt length other than the hash length is unsupported, as TLS has no scheme for it', async () => {
      await opensslChain('pss20', ['-newkey', 'rsa:2048'], ['-newkey', 'ml-dsa-44'], ['-newkey', 'ml-dsa-44'],
        [['-sha256', '-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:20'], []]);
      await expect(validate('pss20')).rejects.toMatchObject({ reason: 'unsupported_algorithm', certificate: { index: 1 } });
    });

    it('a tampered OpenSSL certificate is refused with bad_signature', async () => {
      await opensslChain('tamper', ['-newkey', 'ml-dsa-65'], ['-newkey', 'ml-dsa-65'], ['-newkey', 'ml-dsa-65']);
      const der = parseCertificate(read('tamper.leaf.pem')).der.slice();
      der[der.length - 1] = (der[der.length - 1] as number) ^ 0x80;
      writeFileSync(f('tamper.leaf.pem'), encodePem('CERTIFICATE', der));
      await expect(validate('tamper')).rejects.toMatchObject({ reason: 'bad_signature', certificate: { index: 0 } });
    });

    it('seed-only and expanded-only keys written by openssl genpkey load and agree', async () => {
      await ossl('genpkey', '-algorithm', 'ml-dsa-65', '-provparam', 'ml-dsa.output_formats=seed-only', '-out', f('seed.key'));
      await ossl('pkey', '-in', f('seed.key'), '-out', f('expanded.key'), '-provparam', 'ml-dsa.output_formats=priv-only');
      const seed = await importPrivateKeyPem(provider, read('seed.key'));
      const expanded = await importPrivateKeyPem(provider, read('expanded.key'));
      expect(decodePem(read('seed.key'))[0]?.bytes).toHaveLength(54);
      expect(decodePem(read('expanded.key'))[0]?.bytes.length).toBeGreaterThan(4032);
      expect(expanded.publicKey).toEqual(seed.publicKey);
      const pub = decodePem(await ossl('pkey', '-in', f('seed.key'), '-pubout'))[0]?.bytes as Uint8Array;
      expect(pub.subarray(pub.length - seed.publicKey.length)).toEqual(seed.publicKey);
    });
  });

  describe('PKCS #10 certification requests (RFC 2986)', () => {
    /** Runs `pqtls` in-process; the clock is the real one (a minute back), as openssl verify uses it. */
    async function pqtls(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
      let out = '';
      let err = '';
      const io: CliIo = { out: (t) => void (out += t), err: (t) => void (err += t), now: () => new Date(Date.now() - 60_000) };
      const code = await main(argv, io);
      return { code, out, err };
    }

    for (const alg of ['ml-dsa-44', 'ml-dsa-65', 'ml-dsa-87', 'ed25519', 'ecdsa-p256', 'ecdsa-p384']) {
      it(`${alg}: a request from pqtls cert csr passes openssl req -verify, names and key intact`, async () => {
        const r = await pqtls('cert', 'csr', '--new-key', f(`csr-${alg}.key`), '--alg', alg, '--subject', 'CN=csr.pq.test,O=pqtls',
          '--dns', 'csr.pq.test', '--ip', '192.0.2.1', '--out', f(`csr-${alg}.csr`));
        expect(r, r.err).toMatchObject({ code: 0 });
        const text = await ossl('req', '-verify', '-in', f(`csr-${alg}.csr`), '-noout', '-text');
        expect(text).toContain('Certificate request self-signature verify OK');
        expect(text).toContain('Subject: O=pqtls, CN=csr.pq.test');
        expect(text).toMatch(/DNS:csr\.pq\.test, IP Address:192\.0\.2\.1/);
        // The key in the request is the key in the file.
        const fromReq = decodePem(await ossl('req', '-in', f(`csr-${alg}.csr`), '-noout', '-pubkey'))[0]?.bytes;
        const fromKey = decodePem(await ossl('pkey', '-in', f(`csr-${alg}.key`), '-pubout'))[0]?.bytes;
        expect(fromReq).toEqual(fromKey);
      });
    }

    it('an OpenSSL ML-DSA-65 request → pqtls cert leaf --csr → openssl verify accepts the chain; the requested CA:TRUE is not granted', async () => {
      expect((await pqtls('cert', 'ca', '--alg', 'ml-dsa-65', '--subject', 'CN=pqtls CSR root', '--out', f('csr-root'))).code).toBe(0);
      expect((await pqtls('cert', 'intermediate', '--ca', f('csr-root'), '--alg', 'ml-dsa-87', '--subject', 'CN=pqtls CSR intermediate',
        '--out', f('csr-int'))).code).toBe(0);
      await ossl('req', '-new', '-newkey', 'ml-dsa-65', '-nodes', '-keyout', f('ossl-req.key'), '-out', f('ossl-req.csr'), '-subj', '/O=OpenSSL/CN=localhost',
        '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign');
      const issued = await pqtls('cert', 'leaf', '--ca', f('csr-int'), '--csr', f('ossl-req.csr'), '--out', f('ossl-leaf'));
      expect(issued, issued.err).toMatchObject({ code: 0 });
      expect(issued.out).toContain('public key: ML-DSA-65');
      const verified = await ossl('verify', '-CAfile', f('ossl-leaf/root.pem'), '-untrusted', f('ossl-leaf/chain.pem'), '-purpose', 'sslserver',
        '-verify_hostname', 'localhost', '-verify_ip', '127.0.0.1', f('ossl-leaf/cert.pem'));
      expect(verified).toContain(': OK');
      const text = await ossl('x509', '-in', f('ossl-leaf/cert.pem'), '-noout', '-text');
      expect(text).toMatch(/Basic Constraints: critical\s+CA:FALSE/);
      expect(text).toMatch(/Key Usage: critical\s+Digital Signature\n/);
      expect(text).toContain('Subject: O=OpenSSL, CN=localhost');
      // The certificate certifies OpenSSL's key, which never left OpenSSL.
      const pub = decodePem(await ossl('pkey', '-in', f('ossl-req.key'), '-pubout'))[0]?.bytes;
      expect(parseCertificate(read('ossl-leaf/cert.pem')).publicKey.der).toEqual(pub);
    });

    it('OpenSSL issues from our ML-DSA-44 request (openssl x509 -req) and we validate what it made', async () => {
      expect((await pqtls('cert', 'csr', '--new-key', f('our-req.key'), '--alg', 'ml-dsa-44', '--dns', 'localhost', '--out', f('our-req.csr'))).code).toBe(0);
      await ossl('req', '-x509', '-newkey', 'ml-dsa-87', '-nodes', '-keyout', f('ossl-ca.key'), '-out', f('ossl-ca.pem'), '-days', '30',
        '-subj', '/CN=OpenSSL CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign');
      writeFileSync(f('our-req.ext'), 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n');
      await ossl('x509', '-req', '-in', f('our-req.csr'), '-CA', f('ossl-ca.pem'), '-CAkey', f('ossl-ca.key'), '-days', '30', '-copy_extensions', 'copy',
        '-extfile', f('our-req.ext'), '-out', f('our-req.pem'));
      const leaf = parseCertificate(read('our-req.pem'));
      expect(leaf.extensions.subjectAltName?.dns).toEqual(['localhost']);
      const result = await verifyChain({
        provider, leaf, intermediates: [], trustAnchors: parsePemChain(read('ossl-ca.pem')), now: new Date(), hostname: 'localhost', purpose: 'serverAuth',
      });
      expect(result.path).toHaveLength(2);
    });

    it('a request whose signature OpenSSL rejects, pqtls refuses too (bad_signature), and issues nothing', async () => {
      await ossl('req', '-new', '-newkey', 'ml-dsa-65', '-nodes', '-keyout', f('tampered.key'), '-out', f('tampered.csr'), '-subj', '/CN=localhost');
      const der = decodePem(read('tampered.csr'))[0]?.bytes.slice() as Uint8Array;
      der[der.length - 10] = (der[der.length - 10] as number) ^ 0x40;
      writeFileSync(f('tampered.csr'), encodePem('CERTIFICATE REQUEST', der));
      const o = await runPeer('openssl', ['req', '-verify', '-in', f('tampered.csr'), '-noout'], { cwd: dir });
      expect(o.code).not.toBe(0);
      expect((await pqtls('cert', 'ca', '--alg', 'ml-dsa-44', '--subject', 'CN=refusing CA', '--out', f('refusing-ca'))).code).toBe(0);
      const r = await pqtls('cert', 'leaf', '--ca', f('refusing-ca'), '--csr', f('tampered.csr'), '--out', f('tampered-leaf'));
      expect(r.code).toBe(1);
      expect(r.err).toContain('bad_signature');
    });
  });
});
