/**
 * `pqtls cert`: the CLI mints a root, an intermediate and a leaf into
 * directories with cert.pem / key.pem / chain.pem / root.pem, and the results
 * validate under our validator. Runs `main()` in-process with an injected clock.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main, type CliIo } from '../../src/cli/main.js';
import { SLH_DSA_ALGORITHMS, SignatureScheme } from '../../src/pq/ids.js';
import { webPkiVerifier } from '../../src/tls13/verifier.js';
import { freePort, interopDisabled, requirePeer, runPeer, spawnPeer, waitForPort } from '../helpers/peers.js';
import { ourQuicClient } from '../helpers/quic-interop.js';
import { createNobleProvider } from '../../src/pq/noble/index.js';
import { decodePem, importPrivateKeyPem, parsePemChain, parsePkcs8Pem, verifyChain, type Certificate } from '../../src/x509/index.js';

const NOW = new Date('2026-03-01T00:00:00Z');
const dir = mkdtempSync(join(tmpdir(), 'pqtls-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIo = { out: (s) => void (out += s), err: (s) => void (err += s), now: () => NOW };
  const code = await main(argv, io);
  return { code, out, err };
}

describe('pqtls cert', () => {
  it('ca → intermediate → leaf, files with clear names, chain validates', async () => {
    const root = join(dir, 'root');
    const inter = join(dir, 'int');
    const leaf = join(dir, 'leaf');
    expect(await run('cert', 'ca', '--alg', 'ml-dsa-65', '--subject', 'CN=CLI Root,O=pqtls', '--out', root)).toMatchObject({ code: 0 });
    expect(await run('cert', 'intermediate', '--ca', root, '--alg', 'ml-dsa-87', '--subject', 'CN=CLI Intermediate', '--path-len', '0', '--out', inter))
      .toMatchObject({ code: 0 });
    const r = await run('cert', 'leaf', '--ca', inter, '--alg', 'ml-dsa-44', '--dns', 'localhost', '--ip', '127.0.0.1', '--ip', '::1', '--out', leaf);
    expect(r).toMatchObject({ code: 0, err: '' });
    expect(r.out).toContain('names:      DNS:localhost, IP:127.0.0.1, IP:::1');
    for (const d of [root, inter, leaf]) for (const file of ['cert.pem', 'key.pem', 'chain.pem', 'root.pem']) expect(existsSync(join(d, file))).toBe(true);
    expect(statSync(join(leaf, 'key.pem')).mode & 0o777).toBe(0o600);

    const chain = parsePemChain(readFileSync(join(leaf, 'chain.pem'), 'utf8'));
    expect(chain.map((c) => c.subject.text)).toEqual(['CN=localhost', 'CN=CLI Intermediate']);
    const provider = createNobleProvider();
    const result = await verifyChain({
      provider, leaf: chain[0] as Certificate, intermediates: chain.slice(1), trustAnchors: parsePemChain(readFileSync(join(leaf, 'root.pem'), 'utf8')),
      now: NOW, hostname: 'localhost', purpose: 'serverAuth',
    });
    expect(result.path.map((c) => c.subject.text)).toEqual(['CN=localhost', 'CN=CLI Intermediate', 'CN=CLI Root,O=pqtls']);
    expect(result.leaf.notBefore).toEqual(NOW);
    expect(result.leaf.notAfter).toEqual(new Date(NOW.getTime() + 365 * 86_400_000));
    // ML-DSA keys are written in seed form by default (RFC 9881 §6): 54 bytes of PKCS #8.
    const keyPem = readFileSync(join(leaf, 'key.pem'), 'utf8');
    expect(decodePem(keyPem)[0]?.bytes).toHaveLength(54);
    expect((await importPrivateKeyPem(provider, keyPem)).publicKey).toEqual(result.leaf.publicKey.publicKey);

    const verified = await run('cert', 'verify', '--ca', join(leaf, 'root.pem'), '--host', 'localhost', join(leaf, 'chain.pem'));
    expect(verified).toMatchObject({ code: 0 });
    expect(verified.out).toContain('2: CN=CLI Root,O=pqtls');
    const wrong = await run('cert', 'verify', '--ca', join(leaf, 'root.pem'), '--host', 'example.com', join(leaf, 'chain.pem'));
    expect(wrong.code).toBe(1);
    expect(wrong.err).toContain('hostname_mismatch: not valid for "example.com"');
    const shown = await run('cert', 'show', join(leaf, 'chain.pem'));
    expect(shown.out).toMatch(/chain\.pem \[1\]\n {2}subject: {4}CN=CLI Intermediate/);
  });

  it('--key-format both writes seed and expanded key; refuses to overwrite without --force', async () => {
    const out = join(dir, 'both');
    expect((await run('cert', 'ca', '--alg', 'ml-dsa-44', '--subject', 'CN=x', '--key-format', 'both', '--out', out)).code).toBe(0);
    expect(decodePem(readFileSync(join(out, 'key.pem'), 'utf8'))[0]?.bytes.length).toBeGreaterThan(2560 + 32);
    const again = await run('cert', 'ca', '--alg', 'ml-dsa-44', '--subject', 'CN=x', '--out', out);
    expect(again.code).toBe(2);
    expect(again.err).toContain('already exist (use --force to overwrite)');
    expect((await run('cert', 'ca', '--alg', 'ed25519', '--subject', 'CN=x', '--out', out, '--force')).code).toBe(0);
  });

  it('--alg slh-dsa-sha2-128s mints an SLH-DSA root (FIPS 205, RFC 9909) with OpenSSL\'s PKCS #8 layout', async () => {
    // The one "s" signature of the suite: small signatures, slow signing, as a long-lived root would choose.
    const out = join(dir, 'slh-s');
    const r = await run('cert', 'ca', '--alg', 'slh-dsa-sha2-128s', '--subject', 'CN=SLH-DSA root', '--out', out);
    expect(r).toMatchObject({ code: 0, err: '' });
    expect(r.out).toMatch(/signature: +SLH-DSA-SHA2-128s/);
    const [root] = parsePemChain(readFileSync(join(out, 'cert.pem'), 'utf8')) as [Certificate];
    expect(root.signature).toHaveLength(7856);
    const provider = createNobleProvider();
    await expect(provider.verify('slh-dsa-sha2-128s', root.publicKey.publicKey, root.tbs, root.signature)).resolves.toBe(true);
    // 30 52 02 01 00 30 0b <OID> 04 40 <SK.seed ‖ SK.prf ‖ PK.seed ‖ PK.root>: 84 bytes, as openssl genpkey writes.
    const keyPem = readFileSync(join(out, 'key.pem'), 'utf8');
    expect(decodePem(keyPem)[0]?.bytes).toHaveLength(84);
    expect((await importPrivateKeyPem(provider, keyPem)).publicKey).toEqual(root.publicKey.publicKey);
  });

  it('an SLH-DSA-SHA2-128f root → ML-DSA intermediate → ML-DSA leaf validates; SLH-DSA is refused for a leaf', async () => {
    const root = join(dir, 'slh-f');
    const inter = join(dir, 'slh-f-int');
    const leaf = join(dir, 'slh-f-leaf');
    expect(await run('cert', 'ca', '--alg', 'SLH-DSA-SHA2-128f', '--subject', 'CN=SLH root', '--out', root)).toMatchObject({ code: 0 });
    expect(await run('cert', 'intermediate', '--ca', root, '--alg', 'ml-dsa-65', '--subject', 'CN=ML-DSA int', '--out', inter)).toMatchObject({ code: 0 });
    expect(await run('cert', 'leaf', '--ca', inter, '--alg', 'ml-dsa-44', '--dns', 'localhost', '--out', leaf)).toMatchObject({ code: 0 });
    const verified = await run('cert', 'verify', '--ca', join(leaf, 'root.pem'), '--host', 'localhost', join(leaf, 'chain.pem'));
    expect(verified).toMatchObject({ code: 0 });
    expect(verified.out).toContain('2: CN=SLH root');
    const shown = await run('cert', 'show', join(inter, 'cert.pem'));
    expect(shown.out).toMatch(/signature: +SLH-DSA-SHA2-128f/);
    const refused = await run('cert', 'leaf', '--ca', root, '--alg', 'slh-dsa-sha2-128f', '--dns', 'localhost', '--out', join(dir, 'slh-leaf'));
    expect(refused).toMatchObject({ code: 2, err: expect.stringContaining('--alg slh-dsa-sha2-128f is for CA certificates only') as unknown });
    expect(existsSync(join(dir, 'slh-leaf'))).toBe(false);
  });

  it('every SLH-DSA parameter set is named in --help; an unknown one is a usage error', async () => {
    const help = (await run('cert', 'ca', '--help')).out;
    for (const alg of SLH_DSA_ALGORITHMS) expect(help).toContain(alg);
    const bad = await run('cert', 'ca', '--alg', 'slh-dsa-sha2-512s', '--subject', 'CN=x', '--out', join(dir, 'bad-slh'));
    expect(bad).toMatchObject({ code: 2, err: expect.stringContaining('slh-dsa-shake-256f, not "slh-dsa-sha2-512s"') as unknown });
  });

  it('--help for the dispatcher, cert and every subcommand', async () => {
    expect((await run('--help')).out).toMatch(/cert +mint and check X.509 certificates/);
    expect((await run('cert', '--help')).out).toContain('chain.pem  the certificate and the intermediates above it');
    for (const sub of ['ca', 'intermediate', 'leaf', 'csr', 'show', 'verify']) {
      const r = await run('cert', sub, '--help');
      expect(r.code).toBe(0);
      expect(r.out).toMatch(new RegExp(`^usage: pqtls cert ${sub}`));
    }
  });

  it('usage errors exit 2 and say what is wrong', async () => {
    expect(await run('nope')).toMatchObject({ code: 2, err: expect.stringContaining('unknown command "nope"') as unknown });
    expect(await run('cert', 'ca', '--subject', 'CN=x')).toMatchObject({ code: 2, err: expect.stringContaining('--out is required') as unknown });
    expect(await run('cert', 'ca', '--alg', 'rsa', '--subject', 'CN=x', '--out', join(dir, 'r'))).toMatchObject({ code: 2, err: expect.stringContaining('--alg must be one of') as unknown });
    expect(await run('cert', 'ca', '--bogus')).toMatchObject({ code: 2, err: expect.stringContaining("Unknown option '--bogus'") as unknown });
    expect(await run('cert', 'leaf', '--ca', join(dir, 'root'), '--out', join(dir, 'l2'))).toMatchObject({ code: 2, err: expect.stringContaining('at least one --dns or --ip') as unknown });
    expect(await run('cert', 'leaf', '--ca', join(dir, 'missing'), '--dns', 'a', '--out', join(dir, 'l3'))).toMatchObject({ code: 1, err: expect.stringContaining('ENOENT') as unknown });
  });
});

describe('pqtls cert csr and leaf --csr', () => {
  it('csr --new-key → leaf --csr: the CA certifies the requester\'s key, writes no key.pem, and the chain validates', async () => {
    const ca = join(dir, 'csr-ca');
    expect((await run('cert', 'ca', '--alg', 'ml-dsa-87', '--subject', 'CN=CSR CA', '--out', ca)).code).toBe(0);
    const key = join(dir, 'req.key');
    const req = join(dir, 'req.csr');
    const made = await run('cert', 'csr', '--new-key', key, '--alg', 'ml-dsa-65', '--subject', 'CN=req,O=pqtls', '--dns', 'req.example', '--ip', '::1', '--out', req);
    expect(made).toMatchObject({ code: 0, err: '' });
    expect(statSync(key).mode & 0o777).toBe(0o600);
    expect(readFileSync(req, 'utf8')).toMatch(/^-----BEGIN CERTIFICATE REQUEST-----\n/);

    const out = join(dir, 'csr-leaf');
    const issued = await run('cert', 'leaf', '--ca', ca, '--csr', req, '--dns', 'extra.example', '--out', out);
    expect(issued).toMatchObject({ code: 0, err: '' });
    expect(issued.out).toContain('names:      DNS:req.example, DNS:extra.example, IP:::1');
    expect(existsSync(join(out, 'key.pem'))).toBe(false);
    const provider = createNobleProvider();
    const [leaf] = parsePemChain(readFileSync(join(out, 'cert.pem'), 'utf8'));
    expect(leaf?.subject.text).toBe('CN=req,O=pqtls');
    // The certified key is the one in the requester's key file.
    expect(leaf?.publicKey.publicKey).toEqual((await importPrivateKeyPem(provider, readFileSync(key, 'utf8'))).publicKey);
    const verified = await run('cert', 'verify', '--ca', join(out, 'root.pem'), '--host', 'req.example', join(out, 'chain.pem'));
    expect(verified).toMatchObject({ code: 0 });

    // csr --key with the existing key, to standard output.
    const again = await run('cert', 'csr', '--key', key, '--dns', 'req.example');
    expect(again.code).toBe(0);
    expect(again.out).toMatch(/^-----BEGIN CERTIFICATE REQUEST-----/);
  });

  it('leaf --csr refuses a request whose signature does not verify, and flags that do not apply', async () => {
    const ca = join(dir, 'csr-ca2');
    expect((await run('cert', 'ca', '--alg', 'ed25519', '--subject', 'CN=CSR CA 2', '--out', ca)).code).toBe(0);
    const req = join(dir, 'bad.csr');
    expect((await run('cert', 'csr', '--new-key', join(dir, 'bad.key'), '--alg', 'ed25519', '--dns', 'bad.example', '--out', req)).code).toBe(0);
    const der = decodePem(readFileSync(req, 'utf8'))[0]?.bytes.slice() as Uint8Array;
    der[der.length - 1] = (der[der.length - 1] as number) ^ 1;
    writeFileSync(req, der);
    const refused = await run('cert', 'leaf', '--ca', ca, '--csr', req, '--out', join(dir, 'bad-leaf'));
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('bad_signature: the request is not signed by the key it names');
    expect(existsSync(join(dir, 'bad-leaf'))).toBe(false);
    expect(await run('cert', 'leaf', '--ca', ca, '--csr', req, '--alg', 'ed25519', '--out', join(dir, 'x'))).toMatchObject({
      code: 2, err: expect.stringContaining('--alg does not apply with --csr') as unknown,
    });
    writeFileSync(join(dir, 'huge.csr'), new Uint8Array(200_000));
    expect(await run('cert', 'leaf', '--ca', ca, '--csr', join(dir, 'huge.csr'), '--out', join(dir, 'y'))).toMatchObject({
      code: 1, err: expect.stringContaining('too large for a certification request') as unknown,
    });
    expect(await run('cert', 'csr', '--dns', 'a.example')).toMatchObject({ code: 2, err: expect.stringContaining('exactly one of --key FILE and --new-key FILE') as unknown });
    expect(await run('cert', 'csr', '--key', join(dir, 'bad.key'))).toMatchObject({ code: 2, err: expect.stringContaining('needs --subject or at least one') as unknown });
  });
});

describe('pqtls cert --alg ecdsa-*: the PKCS #8 key carries its public key (RFC 5915 [1] publicKey)', () => {
  for (const alg of ['ecdsa-p256', 'ecdsa-p384'] as const) {
    it(`${alg}: key.pem holds the ECPrivateKey publicKey, equal to the certificate's key`, async () => {
      const out = join(dir, `${alg}-ca`);
      expect((await run('cert', 'ca', '--alg', alg, '--subject', `CN=${alg}`, '--out', out)).code).toBe(0);
      const key = parsePkcs8Pem(readFileSync(join(out, 'key.pem'), 'utf8'));
      const [cert] = parsePemChain(readFileSync(join(out, 'cert.pem'), 'utf8'));
      // An uncompressed SEC1 point (0x04 || X || Y), the same one the certificate certifies.
      expect(key.publicKey).toEqual(cert?.publicKey.publicKey);
      expect(key.publicKey?.[0]).toBe(0x04);
    });
  }
});

/**
 * Other stacks load the ECDSA keys the CLI writes: OpenSSL checks the key and
 * derives the same SubjectPublicKeyInfo; GnuTLS 3.8 (ngtcp2-server) loaded
 * keys without [1] publicKey as "ASN1 parser: Element was not found", so a
 * QUIC handshake signed with the CLI's key proves GnuTLS reads it.
 */
describe.runIf(!interopDisabled)('pqtls cert ECDSA keys in OpenSSL 3.5 and GnuTLS 3.8', () => {
  // Real validity around the wall clock: ngtcp2 and our verifier check it against now.
  const notBefore = new Date(Date.now() - 3_600_000).toISOString();

  async function mint(alg: 'ecdsa-p256' | 'ecdsa-p384', tag: string): Promise<{ root: string; leaf: string }> {
    const root = join(dir, `${tag}-${alg}-root`);
    const leaf = join(dir, `${tag}-${alg}-leaf`);
    expect((await run('cert', 'ca', '--alg', alg, '--subject', `CN=${alg} interop root`, '--not-before', notBefore, '--out', root)).code).toBe(0);
    expect((await run('cert', 'leaf', '--ca', root, '--alg', alg, '--dns', 'localhost', '--not-before', notBefore, '--days', '2', '--out', leaf)).code)
      .toBe(0);
    return { root, leaf };
  }

  for (const alg of ['ecdsa-p256', 'ecdsa-p384'] as const) {
    it(`${alg}: openssl pkey -check accepts key.pem, and -pubout gives the certificate's SubjectPublicKeyInfo`, async () => {
      requirePeer('openssl');
      const { leaf } = await mint(alg, 'openssl');
      const check = await runPeer('openssl', ['pkey', '-in', join(leaf, 'key.pem'), '-check', '-noout']);
      expect(check.code, check.stdout + check.stderr).toBe(0);
      expect(check.stdout + check.stderr).toContain('Key is valid');
      const pub = await runPeer('openssl', ['pkey', '-in', join(leaf, 'key.pem'), '-pubout']);
      expect(pub.code).toBe(0);
      const [cert] = parsePemChain(readFileSync(join(leaf, 'cert.pem'), 'utf8'));
      expect(decodePem(pub.stdout)[0]?.bytes).toEqual(cert?.publicKey.der);
      // OpenSSL's own text form lists the public point inside the private key.
      const text = await runPeer('openssl', ['pkey', '-in', join(leaf, 'key.pem'), '-text', '-noout']);
      expect(text.stdout).toContain('pub:');
    });

    it(`${alg}: ngtcp2-server (GnuTLS) loads key.pem + chain.pem and completes a QUIC handshake with our client`, async () => {
      requirePeer('ngtcp2-server');
      const { root, leaf } = await mint(alg, 'gnutls');
      const port = await freePort('udp');
      const peer = spawnPeer('ngtcp2-server', [
        '--no-quic-dump', '--no-http-dump', '-d', dir, '127.0.0.1', String(port), join(leaf, 'key.pem'), join(leaf, 'chain.pem'),
      ], { timeoutMs: 15_000 });
      await waitForPort(port, { protocol: 'udp', process: peer });
      const provider = createNobleProvider();
      const trustAnchors = parsePemChain(readFileSync(join(root, 'cert.pem'), 'utf8')).map((c) => c.der);
      const { log, info } = await ourQuicClient({
        host: '127.0.0.1', port, tls: { provider, serverName: 'localhost', alpnProtocols: ['h3'], verifier: webPkiVerifier({ provider, trustAnchors }) },
      });
      expect(info.peerSignatureScheme).toBe(alg === 'ecdsa-p256' ? SignatureScheme.ecdsa_secp256r1_sha256 : SignatureScheme.ecdsa_secp384r1_sha384);
      await peer.waitForLine('QUIC handshake has completed');
      expect(peer.output).not.toContain('ASN1 parser');
      expect(log.errors).toEqual([]);
    }, 20_000);
  }
});
