/**
 * `pqtls server --quic --www DIR` and `pqtls client --quic URL... --download DIR`,
 * the interop runner's contract (BRIEF: CLI contract), in-process over
 * loopback: files fetched over HTTP/3 (RFC 9114) and over hq-interop
 * (HTTP/0.9 over QUIC) on concurrent streams, compared by SHA-256; a missing
 * file and a path that climbs out of the root are refused, and the exit code
 * says so.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { resolveWwwPath, plannedDownloads } from '../../src/cli/quic.js';
import { seededRandom } from '../../src/testing/index.js';
import { captureIo, listeningPort } from '../helpers/cli-io.js';

const dir = mkdtempSync(join(tmpdir(), 'pqtls-cli-www-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const www = join(dir, 'www');
const ca = join(dir, 'ca');
const leaf = join(dir, 'leaf');
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const files: Record<string, Uint8Array> = {};

beforeAll(async () => {
  mkdirSync(join(www, 'sub'), { recursive: true });
  const rnd = seededRandom('cli www files');
  for (const [name, size] of [['small.txt', 17], ['medium.bin', 150_000], ['sub/nested.bin', 40_000], ['empty', 0]] as const) {
    files[name] = rnd(size);
    writeFileSync(join(www, name), files[name] as Uint8Array);
  }
  writeFileSync(join(dir, 'secret'), 'outside the root');
  expect(await main(['cert', 'ca', '--alg', 'ml-dsa-44', '--subject', 'CN=WWW root', '--out', ca], captureIo())).toBe(0);
  expect(await main(['cert', 'leaf', '--ca', ca, '--alg', 'ml-dsa-44', '--dns', 'localhost', '--out', leaf], captureIo())).toBe(0);
});

async function serve(connections: number, extra: readonly string[] = []): Promise<{ port: number; serving: Promise<number>; log: () => string }> {
  const srv = captureIo();
  const serving = main(['server', '--quic', '--port', '0', '--cert', join(leaf, 'chain.pem'), '--key', join(leaf, 'key.pem'),
    '--www', www, '--max-connections', String(connections), ...extra], srv); // --alpn defaults to h3,hq-interop with --www
  return { port: await listeningPort(srv), serving, log: () => srv.text() };
}

describe('the interop runner\'s resumption, zerortt, connectionmigration and versionnegotiation flags', () => {
  for (const alpn of ['h3', 'hq-interop']) {
    it(`${alpn} --0rtt: the first URL on a full handshake, the others resumed, their requests in 0-RTT and accepted (RFC 9001 §4.6)`, async () => {
      const { port, serving, log } = await serve(2, ['--early-data']);
      const out = join(dir, `dl-0rtt-${alpn}`);
      const c = captureIo();
      const code = await main(['client', '--quic', `https://localhost:${port}/small.txt`, `https://localhost:${port}/medium.bin`,
        `https://localhost:${port}/sub/nested.bin`, '--alpn', alpn, '--download', out, '--ca', join(ca, 'cert.pem'), '--0rtt'], c);
      expect(code, c.errors()).toBe(0);
      for (const n of ['small.txt', 'medium.bin', 'sub/nested.bin']) expect(sha256(readFileSync(join(out, n))), n).toBe(sha256(files[n] as Uint8Array));
      expect(c.text()).toMatch(/resumed=no early-data=none .* saved=1\/1/);
      expect(c.text()).toMatch(/resumed=yes early-data=accepted .* saved=2\/2/);
      expect(await serving).toBe(0);
      expect(log()).toContain('early-data=accepted');
    });
  }

  it('--resumption without --early-data on the server: the second connection resumes, no 0-RTT', async () => {
    const { port, serving } = await serve(2);
    const c = captureIo();
    const code = await main(['client', '--quic', `https://localhost:${port}/small.txt`, `https://localhost:${port}/empty`, '--alpn', 'h3',
      '--download', join(dir, 'dl-resume'), '--ca', join(ca, 'cert.pem'), '--resumption'], c);
    expect(code, c.errors()).toBe(0);
    expect(c.text()).toMatch(/resumed=yes early-data=none .* saved=1\/1/);
    expect(await serving).toBe(0);
  });

  it('--migrate: the client moves to a new local port once the handshake is confirmed and the transfer completes (RFC 9000 §9.2)', async () => {
    const { port, serving } = await serve(1);
    const out = join(dir, 'dl-migrate');
    const c = captureIo();
    const code = await main(['client', '--quic', `https://localhost:${port}/medium.bin`, '--alpn', 'hq-interop', '--download', out,
      '--ca', join(ca, 'cert.pem'), '--migrate'], c);
    expect(code, c.errors()).toBe(0);
    expect(c.text()).toContain('migrated to a new local address');
    expect(sha256(readFileSync(join(out, 'medium.bin')))).toBe(sha256(files['medium.bin'] as Uint8Array));
    expect(await serving).toBe(0);
  });

  it('--quic-version 0x1a2a3a4a: a reserved version draws Version Negotiation, then the client completes in v1 (RFC 9000 §6.2, §15)', async () => {
    const { port, serving } = await serve(1);
    const c = captureIo();
    const code = await main(['client', '--quic', `https://localhost:${port}/small.txt`, '--alpn', 'h3', '--download', join(dir, 'dl-vn'),
      '--ca', join(ca, 'cert.pem'), '--quic-version', '0x1a2a3a4a'], c);
    expect(code, c.errors()).toBe(0);
    expect(c.text()).toMatch(/connection: QUICv1 .* saved=1\/1/);
    expect(await serving).toBe(0);
  });
});

describe('pqtls client --quic URL... --download DIR against pqtls server --quic --www DIR', () => {
  for (const alpn of ['h3', 'hq-interop']) {
    it(`${alpn}: every file on one connection, on concurrent streams, saved by path with the same SHA-256`, async () => {
      const { port, serving } = await serve(1);
      const out = join(dir, `dl-${alpn}`);
      const names = Object.keys(files);
      const c = captureIo();
      const code = await main(['client', '--quic', ...names.map((n) => `https://localhost:${port}/${n}`), '--alpn', alpn,
        '--download', out, '--ca', join(ca, 'cert.pem')], c);
      expect(code, c.errors()).toBe(0);
      for (const n of names) expect(sha256(readFileSync(join(out, n))), n).toBe(sha256(files[n] as Uint8Array));
      expect(await serving).toBe(0);
    });
  }

  it('h3 with --multiconnect and --cipher-suites: one connection per URL, ChaCha20', async () => {
    const { port, serving } = await serve(2);
    const out = join(dir, 'dl-multi');
    const c = captureIo();
    const code = await main(['client', '--quic', `https://localhost:${port}/small.txt`, `https://localhost:${port}/sub/nested.bin`, '--alpn', 'h3',
      '--download', out, '--ca', join(ca, 'cert.pem'), '--multiconnect', '--cipher-suites', 'TLS_CHACHA20_POLY1305_SHA256'], c);
    expect(code, c.errors()).toBe(0);
    expect(sha256(readFileSync(join(out, 'sub/nested.bin')))).toBe(sha256(files['sub/nested.bin'] as Uint8Array));
    expect(c.text().match(/connection: QUICv1 alpn=h3 cipher=TLS_CHACHA20_POLY1305_SHA256 .* saved=1\/1/g)).toHaveLength(2);
    expect(await serving).toBe(0);
  });

  it('h3 with --quic-version v2 and --key-update: QUIC version 2 (RFC 9369), 1-RTT keys updated once (RFC 9001 §6)', async () => {
    const { port, serving } = await serve(1);
    const out = join(dir, 'dl-v2');
    const c = captureIo();
    const code = await main(['client', '--quic', `https://localhost:${port}/medium.bin`, '--alpn', 'h3', '--download', out, '--ca', join(ca, 'cert.pem'),
      '--quic-version', 'v2', '--key-update'], c);
    expect(code, c.errors()).toBe(0);
    expect(c.text()).toMatch(/connection: QUICv2 alpn=h3 .* key-updates=1 saved=1\/1/);
    expect(sha256(readFileSync(join(out, 'medium.bin')))).toBe(sha256(files['medium.bin'] as Uint8Array));
    expect(await serving).toBe(0);
  });

  for (const alpn of ['h3', 'hq-interop']) {
    it(`${alpn}: 150 files, more than the server's 100 concurrent streams: the rest wait for MAX_STREAMS (RFC 9000 §4.6)`, async () => {
      const many = join(www, `many-${alpn}`);
      mkdirSync(many);
      for (let i = 0; i < 150; i++) writeFileSync(join(many, `f${i}`), `file ${i}\n`);
      const { port, serving } = await serve(1);
      const out = join(dir, `dl-many-${alpn}`);
      const c = captureIo();
      const code = await main(['client', '--quic', ...Array.from({ length: 150 }, (_, i) => `https://localhost:${port}/many-${alpn}/f${i}`),
        '--alpn', alpn, '--download', out, '--ca', join(ca, 'cert.pem')], c);
      expect(code, c.errors()).toBe(0);
      for (let i = 0; i < 150; i++) expect(readFileSync(join(out, `many-${alpn}`, `f${i}`), 'utf8')).toBe(`file ${i}\n`);
      expect(await serving).toBe(0);
    });
  }

  for (const alpn of ['h3', 'hq-interop']) {
    it(`${alpn}: a missing file is not saved, the others are, and the exit code is 1`, async () => {
      const { port, serving } = await serve(1);
      const out = join(dir, `dl-missing-${alpn}`);
      const c = captureIo();
      const code = await main(['client', '--quic', `https://localhost:${port}/small.txt`, `https://localhost:${port}/nothing-here`, '--alpn', alpn, '--download', out, '--ca', join(ca, 'cert.pem')], c);
      expect(code).toBe(1);
      expect(existsSync(join(out, 'small.txt'))).toBe(true);
      expect(existsSync(join(out, 'nothing-here'))).toBe(false);
      expect(c.errors()).toMatch(alpn === 'h3' ? /nothing-here: status 404/ : /nothing-here: stream reset/);
      expect(await serving).toBe(0);
    });
  }
});

describe('--www path resolution', () => {
  it('keeps requests inside the root: .., encoded .., absolute escapes and missing files name nothing', async () => {
    expect(await resolveWwwPath(www, '/small.txt')).toBe(join(await import('node:fs/promises').then((f) => f.realpath(www)), 'small.txt'));
    expect(await resolveWwwPath(www, '/sub/nested.bin?x=1')).toMatch(/sub[/\\]nested\.bin$/);
    for (const p of ['/../secret', '/sub/../../secret', '/%2e%2e/secret', '/sub/%2e%2e%2f%2e%2e%2fsecret', '/nothing', 'small.txt', '/%zz']) {
      expect(await resolveWwwPath(www, p), p).toBeUndefined();
    }
  });

  it('--download refuses URLs whose path leaves DIR, and non-https URLs', () => {
    expect(plannedDownloads(['https://h:1/a/b'], '/tmp/x')[0]?.file).toBe('/tmp/x/a/b');
    // The URL parser already folds /%2e%2e/ (WHATWG URL); an encoded slash survives it and is caught here.
    expect(plannedDownloads(['https://h:1/%2e%2e/etc/passwd'], '/tmp/x')[0]?.file).toBe('/tmp/x/etc/passwd');
    expect(() => plannedDownloads(['https://h:1/..%2f..%2fetc/passwd'], '/tmp/x')).toThrow(/names no file/);
    expect(() => plannedDownloads(['http://h:1/a'], '/tmp/x')).toThrow(/not an https URL/);
  });
});

describe('pqtls client --quic HOST:PORT --send with --quic-version v2', () => {
  it('the echo exchange runs in QUIC version 2 (RFC 9369) and the summary says so', async () => {
    const srv = captureIo();
    const serving = main(['server', '--quic', '--port', '0', '--cert', join(leaf, 'chain.pem'), '--key', join(leaf, 'key.pem'), '--alpn', 'pq', '--echo', '--max-connections', '1'], srv);
    const port = await listeningPort(srv);
    const c = captureIo();
    expect(await main(['client', '--quic', `127.0.0.1:${port}`, '--ca', join(ca, 'cert.pem'), '--servername', 'localhost', '--alpn', 'pq',
      '--quic-version', 'v2', '--send', 'in v2', '--json'], c), c.errors()).toBe(0);
    expect(JSON.parse(c.text())).toMatchObject({ protocol: 'QUICv2', reply: 'in v2' });
    expect(await serving).toBe(0);
  });

  it('--quic-version other than v1/v2 and an unknown --cipher-suites name are usage errors', async () => {
    const a = captureIo();
    expect(await main(['client', '--quic', '127.0.0.1:1', '--ca', join(ca, 'cert.pem'), '--alpn', 'pq', '--quic-version', 'v3'], a)).toBe(2);
    expect(a.errors()).toMatch(/--quic-version must be v1, v2 or a reserved version/);
    const b = captureIo();
    expect(await main(['client', '--quic', '127.0.0.1:1', '--ca', join(ca, 'cert.pem'), '--alpn', 'pq', '--cipher-suites', 'TLS_RC4'], b)).toBe(2);
    expect(b.errors()).toMatch(/unknown cipher suite "TLS_RC4"/);
  });
});
