/**
 * `pqtls cert`: the CLI mints a root, an intermediate and a leaf into
 * directories with cert.pem / key.pem / chain.pem / root.pem, and the results
 * validate under our validator. Runs `main()` in-process with an injected clock.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main, type CliIo } from '../../src/cli/main.js';
import { SLH_DSA_ALGORITHMS } from '../../src/pq/ids.js';
import { createNobleProvider } from '../../src/pq/noble/index.js';
import { decodePem, importPrivateKeyPem, parsePemChain, verifyChain, type Certificate } from '../../src/x509/index.js';

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
    for (const sub of ['ca', 'intermediate', 'leaf', 'show', 'verify']) {
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
