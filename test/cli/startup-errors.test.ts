/**
 * Start-up errors of the `pqtls` executable, spawned as a user runs it
 * (`bin/pqtls.js` on the compiled `dist/`): a file that cannot be read, a key
 * that is not a key or not the certificate's, an unusable --ca, a bad option
 * value, a port in use. Each is one line on stderr, `pqtls: <message>`, exit
 * code 1, and never a stack trace; usage errors keep exit code 2 with help.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RSA_PSS_SHA256_CERT_PEM, RSA_PSS_SHA256_KEY_PEM } from '../fixtures/rsa-pss.js';

const root = resolve(import.meta.dirname, '../..');
const bin = join(root, 'bin/pqtls.js');
const dir = mkdtempSync(join(tmpdir(), 'pqtls-cli-startup-'));
const ca = join(dir, 'ca');
const leaf = join(dir, 'leaf');
const other = join(dir, 'other');
let busy: Server;
let busyPort = 0;

function pqtls(...args: string[]): { code: number | null; stderr: string; stdout: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: dir, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stderr: r.stderr, stdout: r.stdout };
}

/** Exit code 1 and exactly one stderr line, `pqtls: ...`, with no stack frame. */
function expectOneLineError(r: ReturnType<typeof pqtls>, pattern: RegExp): void {
  const lines = r.stderr.split('\n').filter((l) => l.length > 0);
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^pqtls: /);
  expect(lines[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/^\s+at /m);
  expect(r.code, r.stderr).toBe(1);
}

beforeAll(async () => {
  // The executable runs dist/, so build it from this tree first.
  execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'pipe' });
  for (const args of [
    ['cert', 'ca', '--alg', 'ed25519', '--subject', 'CN=startup root', '--out', ca],
    ['cert', 'leaf', '--ca', ca, '--alg', 'ed25519', '--dns', 'localhost', '--out', leaf],
    ['cert', 'ca', '--alg', 'ed25519', '--subject', 'CN=other root', '--out', other],
  ]) {
    const r = pqtls(...args);
    expect(r.code, r.stderr).toBe(0);
  }
  busy = createServer();
  await new Promise<void>((ok) => busy.listen(0, '127.0.0.1', ok));
  busyPort = (busy.address() as AddressInfo).port;
}, 240_000);

afterAll(async () => {
  await new Promise<void>((ok) => (busy ? busy.close(() => ok()) : ok()));
  rmSync(dir, { recursive: true, force: true });
});

const serve = (...extra: string[]): string[] => ['server', '--port', '0', '--cert', join(leaf, 'chain.pem'), '--key', join(leaf, 'key.pem'), ...extra];

describe('pqtls start-up errors: one line, exit code 1', () => {
  it('a --cert file that does not exist', () => {
    expectOneLineError(pqtls('server', '--port', '0', '--cert', 'missing.pem', '--key', join(leaf, 'key.pem')), /cannot read --cert missing\.pem: no such file/);
  });

  it('a --cert that is a directory', () => {
    expectOneLineError(pqtls('server', '--port', '0', '--cert', leaf, '--key', join(leaf, 'key.pem')), /cannot read --cert .*: is a directory/);
  });

  it('a --key that holds a certificate, not a PKCS #8 key', () => {
    expectOneLineError(pqtls('server', '--port', '0', '--cert', join(leaf, 'chain.pem'), '--key', join(leaf, 'cert.pem')), /PRIVATE KEY/);
  });

  it('a --key that is not the leaf certificate’s key', () => {
    expectOneLineError(pqtls('server', '--port', '0', '--cert', join(leaf, 'chain.pem'), '--key', join(other, 'key.pem')), /does not match the leaf certificate/);
  });

  it('an unknown --groups name', () => {
    expectOneLineError(pqtls(...serve('--groups', 'x25519,nosuchgroup')), /unknown group nosuchgroup/);
  });

  it('a --keylog file that cannot be written', () => {
    expectOneLineError(pqtls(...serve('--keylog', join(dir, 'no/such/dir/keys.log'))), /cannot write --keylog .*no such file/);
  });

  it('a --port already in use, over TCP', () => {
    expectOneLineError(pqtls('server', '--port', String(busyPort), '--cert', join(leaf, 'chain.pem'), '--key', join(leaf, 'key.pem')), /cannot listen on 127\.0\.0\.1:\d+: address already in use/);
  });

  it('a client --ca that does not exist, and one that holds no certificate', () => {
    expectOneLineError(pqtls('client', '127.0.0.1:1', '--ca', 'missing.pem'), /cannot read --ca missing\.pem/);
    expectOneLineError(pqtls('client', '127.0.0.1:1', '--ca', join(leaf, 'key.pem')), /cannot use --ca/);
  });

  it('a client --key that is unreadable', () => {
    expectOneLineError(pqtls('client', '127.0.0.1:1', '--ca', join(ca, 'cert.pem'), '--cert', join(leaf, 'chain.pem'), '--key', 'missing.pem'), /cannot read --key missing\.pem/);
  });

  it('cert: an issuing CA directory that does not exist', () => {
    const r = pqtls('cert', 'leaf', '--ca', join(dir, 'nope'), '--dns', 'x', '--out', join(dir, 'x'));
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });
});

describe('pqtls usage errors keep exit code 2', () => {
  it('a --port that is not a port number', () => {
    const r = pqtls('server', '--port', 'http', '--cert', join(leaf, 'chain.pem'), '--key', join(leaf, 'key.pem'));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--port must be an integer in 0\.\.65535, not "http"/);
    expect(r.stderr).toMatch(/Usage: pqtls server/);
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });

  it('a --max-connections that is not a count', () => {
    const r = pqtls(...serve('--max-connections', 'many'));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--max-connections must be an integer/);
  });
});

describe('pqtls server with an id-RSASSA-PSS key (openssl genpkey -algorithm RSA-PSS)', () => {
  it('starts listening instead of dying with a stack trace', async () => {
    writeFileSync(join(dir, 'pss.key'), RSA_PSS_SHA256_KEY_PEM);
    writeFileSync(join(dir, 'pss.pem'), RSA_PSS_SHA256_CERT_PEM);
    const child = spawn(process.execPath, [bin, 'server', '--port', '0', '--cert', join(dir, 'pss.pem'), '--key', join(dir, 'pss.key')], { cwd: dir });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((ok) => child.on('exit', (code) => ok(code)));
    try {
      for (let i = 0; i < 600 && !/listening on /.test(out) && child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 50));
      expect(err).toBe('');
      expect(out).toMatch(/listening on 127\.0\.0\.1:\d+/);
    } finally {
      child.kill();
      await exited;
    }
  });
});
