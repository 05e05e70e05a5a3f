/**
 * `pqtls cert` with keys on a QUAC 100 card (`--quac emulated --quac-state
 * FILE`, keys named `quac:LABEL`): a root CA whose signing key is on the card,
 * a CSR signed on the card, the leaf certifying the card key. The card keys
 * are never written out: no key.pem, and the card refuses to export them.
 * OpenSSL 3.5 validates the chain. Runs `main()` in-process, each command a
 * fresh card object on the same state file (as separate CLI runs would be).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { emulatedQuacLibrary } from '../../src/hw/quac100/emulated.js';
import { createQuacProvider } from '../../src/hw/quac100/provider.js';
import { fileQuacStorage } from '../../src/node/quac-state.js';
import { KeyUnavailableError } from '../../src/errors.js';
import { createNobleProvider } from '../../src/pq/index.js';
import { parseCertificationRequest } from '../../src/x509/csr.js';
import { parsePemChain, verifyChain, type Certificate } from '../../src/x509/index.js';
import { captureIo } from '../helpers/cli-io.js';
import { interopDisabled, requirePeer, runPeer } from '../helpers/peers.js';

const dir = mkdtempSync(join(tmpdir(), 'pqtls-cert-quac-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const f = (name: string): string => join(dir, name);
const state = f('card.json');
const card = ['--quac', 'emulated', '--quac-state', state];

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = captureIo();
  // A minute back: openssl verify checks validity against the real clock.
  const code = await main(argv, { ...io, now: () => new Date(Date.now() - 60_000) });
  return { code, out: io.text(), err: io.errors() };
}

describe('pqtls cert with keys on the (emulated) QUAC 100 card', () => {
  it('CA key on the card → CSR signed on the card → leaf for the card key; no key leaves the card; the chain validates', async () => {
    const root = await run('cert', 'ca', ...card, '--new-key', 'quac:root-ca', '--alg', 'ml-dsa-87', '--subject', 'CN=Card root', '--out', f('root'));
    expect(root, root.err).toMatchObject({ code: 0, err: '' });
    expect(existsSync(f('root/key.pem'))).toBe(false);
    expect(readFileSync(f('root/key.quac'), 'utf8')).toBe('quac:root-ca\n');

    const csr = await run('cert', 'csr', ...card, '--new-key', 'quac:device', '--alg', 'ml-dsa-65', '--dns', 'device.test', '--out', f('device.csr'));
    expect(csr, csr.err).toMatchObject({ code: 0 });
    expect(csr.out).toContain('made ml-dsa-65 key quac:device on the card');
    const request = parseCertificationRequest(readFileSync(f('device.csr'), 'utf8'));

    // The CA signs on the card (its key named in root/key.quac); the leaf certifies the requested card key.
    const leaf = await run('cert', 'leaf', ...card, '--ca', f('root'), '--csr', f('device.csr'), '--eku', 'clientAuth', '--out', f('leaf'));
    expect(leaf, leaf.err).toMatchObject({ code: 0 });
    expect(existsSync(f('leaf/key.pem'))).toBe(false);
    // The same key certified directly by label: the public key is read from the card.
    const direct = await run('cert', 'leaf', ...card, '--ca', f('root'), '--key', 'quac:device', '--dns', 'device.test', '--out', f('direct'));
    expect(direct, direct.err).toMatchObject({ code: 0 });
    expect(existsSync(f('direct/key.pem'))).toBe(false);

    const [fromCsr] = parsePemChain(readFileSync(f('leaf/cert.pem'), 'utf8'));
    const [fromLabel] = parsePemChain(readFileSync(f('direct/cert.pem'), 'utf8'));
    expect(fromCsr!.publicKey.publicKey).toEqual(request.publicKey.publicKey);
    expect(fromLabel!.publicKey.publicKey).toEqual(request.publicKey.publicKey);
    const anchors = parsePemChain(readFileSync(f('root/cert.pem'), 'utf8'));
    const verified = await verifyChain({
      provider: createNobleProvider(), leaf: fromLabel as Certificate, intermediates: [], trustAnchors: anchors, now: new Date(), hostname: 'device.test', purpose: 'serverAuth',
    });
    expect(verified.path.map((c) => c.subject.text)).toEqual(['CN=device.test', 'CN=Card root']);

    // The card keeps the keys: found by label in a new process's worth of card, never exported.
    const quac = await createQuacProvider({ library: emulatedQuacLibrary({ storage: fileQuacStorage(state) }), keyPool: false });
    try {
      for (const label of ['root-ca', 'device']) {
        const k = await quac.storedKey(label);
        await expect(quac.exportPrivateKey(k.privateKey)).rejects.toThrow(KeyUnavailableError);
      }
      expect((await quac.storedKey('root-ca')).publicKey).toEqual(anchors[0]!.publicKey.publicKey);
    } finally {
      await quac.close();
    }
  });

  it.runIf(!interopDisabled)('OpenSSL 3.5 verifies the chain: root and leaf signed on the card', async () => {
    requirePeer('openssl');
    const r = await run('cert', 'ca', ...card, '--new-key', 'quac:ossl-root', '--alg', 'ml-dsa-65', '--subject', 'CN=Card root 2', '--out', f('oroot'));
    expect(r, r.err).toMatchObject({ code: 0 });
    const i = await run('cert', 'intermediate', ...card, '--ca', f('oroot'), '--new-key', 'quac:ossl-int', '--subject', 'CN=Card int', '--out', f('oint'));
    expect(i, i.err).toMatchObject({ code: 0 });
    const l = await run('cert', 'leaf', ...card, '--ca', f('oint'), '--new-key', 'quac:ossl-leaf', '--dns', 'localhost', '--out', f('oleaf'));
    expect(l, l.err).toMatchObject({ code: 0 });
    for (const d of ['oroot', 'oint', 'oleaf']) expect(existsSync(f(`${d}/key.pem`))).toBe(false);
    const v = await runPeer('openssl', ['verify', '-CAfile', f('oleaf/root.pem'), '-untrusted', f('oleaf/chain.pem'), '-purpose', 'sslserver',
      '-verify_hostname', 'localhost', f('oleaf/cert.pem')]);
    expect(v.stdout + v.stderr).toContain(': OK');
    expect(v.code).toBe(0);
  });

  it('refuses what it cannot do: a card key without --quac, a second key under one label, a card CA without its card', async () => {
    const noCard = await run('cert', 'csr', '--key', 'quac:device', '--dns', 'x.test');
    expect(noCard.code).toBe(2);
    expect(noCard.err).toContain('quac:device is a key on a QUAC card: give --quac emulated|native');
    const again = await run('cert', 'csr', ...card, '--new-key', 'quac:dup', '--dns', 'x.test', '--out', f('dup1.csr'));
    expect(again.code).toBe(0);
    const dup = await run('cert', 'csr', ...card, '--new-key', 'quac:dup', '--dns', 'x.test', '--out', f('dup2.csr'));
    expect(dup.code).toBe(1);
    expect(dup.err).toContain('the card already holds a key labelled "dup"');
    const missing = await run('cert', 'csr', ...card, '--key', 'quac:nobody', '--dns', 'x.test');
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('no QUAC device in the rotation holds a key labelled "nobody"');
    const caWithoutCard = await run('cert', 'leaf', '--ca', f('root'), '--dns', 'x.test', '--out', f('nocard'));
    expect(caWithoutCard.code).toBe(2);
    expect(caWithoutCard.err).toContain('is on a QUAC card (quac:root-ca): give --quac emulated|native');
    const otherCard = await run('cert', 'leaf', '--quac', 'emulated', '--quac-state', f('other.json'), '--ca', f('root'), '--dns', 'x.test', '--out', f('other'));
    expect(otherCard.code).toBe(1);
    expect(otherCard.err).toContain('no QUAC device in the rotation holds a key labelled "root-ca"');
    const noState = await run('cert', 'ca', '--quac', 'emulated', '--new-key', 'quac:x', '--subject', 'CN=x', '--out', f('nostate'));
    expect(noState.code).toBe(2);
    expect(noState.err).toContain('--quac emulated needs --quac-state FILE');
    // An --out that would be refused is refused before the card makes a key it would then hold for nothing.
    const taken = await run('cert', 'ca', ...card, '--new-key', 'quac:orphan', '--subject', 'CN=x', '--out', f('root'));
    expect(taken.code).toBe(2);
    expect(taken.err).toContain('already exist (use --force to overwrite)');
    expect((await run('cert', 'csr', ...card, '--key', 'quac:orphan', '--dns', 'x.test')).err).toContain('no QUAC device in the rotation holds a key labelled "orphan"');
    const slh = await run('cert', 'ca', ...card, '--new-key', 'quac:slh', '--alg', 'slh-dsa-sha2-128s', '--subject', 'CN=x', '--out', f('slh'));
    expect(slh.code).toBe(2);
    expect(slh.err).toContain('the QUAC card holds ML-DSA keys, not slh-dsa-sha2-128s');
    // --quac native loads the vendor library named by --quac-library: a missing one is a one-line error, not a crash.
    const native = await run('cert', 'csr', '--quac', 'native', '--quac-library', f('missing/libquac100.so'), '--new-key', 'quac:x', '--dns', 'x.test');
    expect(native.code).toBe(1);
    expect(native.err).toContain(`cannot load the QUAC 100 library '${f('missing/libquac100.so')}'`);
    const file = await run('cert', 'leaf', ...card, '--ca', f('root'), '--key', f('some.pem'), '--dns', 'x.test', '--out', f('file'));
    expect(file.code).toBe(2);
    expect(file.err).toContain('name a key on the card here (quac:LABEL)');
  });
});
