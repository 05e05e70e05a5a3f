/**
 * `pqtls server` and `pqtls client` end to end over loopback TCP, in-process:
 * a minted ML-DSA-65 chain, the --json summary, a saved session resumed with
 * 0-RTT, and a failing handshake reported with its alert.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { captureIo, listeningPort } from '../helpers/cli-io.js';

const dir = mkdtempSync(join(tmpdir(), 'pqtls-cli-tls-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const io = captureIo;
const listening = listeningPort;

describe('pqtls server / client', () => {
  it('full handshake, then resumption with 0-RTT from a session file, summarised as JSON', async () => {
    const ca = join(dir, 'ca');
    const leaf = join(dir, 'leaf');
    expect(await main(['cert', 'ca', '--alg', 'ml-dsa-65', '--subject', 'CN=CLI TLS root', '--out', ca], io())).toBe(0);
    expect(await main(['cert', 'leaf', '--ca', ca, '--alg', 'ml-dsa-65', '--dns', 'localhost', '--ip', '127.0.0.1', '--out', leaf], io())).toBe(0);

    const srv = io();
    const serving = main(['server', '--port', '0', '--cert', join(leaf, 'chain.pem'), '--key', join(leaf, 'key.pem'), '--echo', '--early-data', '--max-connections', '3', '--alpn', 'demo'], srv);
    const port = await listening(srv);
    const session = join(dir, 'session.b64');
    const client = async (...extra: string[]) => {
      const c = io();
      const code = await main(['client', `127.0.0.1:${port}`, '--ca', join(ca, 'cert.pem'), '--servername', 'localhost', '--alpn', 'demo', '--json', '--session', session, ...extra], c);
      expect(code, c.errors()).toBe(0);
      return JSON.parse(c.text()) as Record<string, unknown>;
    };

    const first = await client('--send', 'one');
    expect(first).toMatchObject({ protocol: 'TLSv1.3', group: 'X25519MLKEM768', signatureScheme: 'mldsa65', alpn: 'demo', resumed: false, earlyDataAccepted: null, reply: 'one' });
    expect(first.peerCertificates).toEqual([{ subject: 'CN=localhost', issuer: 'CN=CLI TLS root', publicKeyAlgorithm: 'ML-DSA-65' }]);
    expect(typeof first.handshakeMs).toBe('number');

    // The node:crypto backend resumes a session the noble one saved.
    const second = await client('--early-data', 'early ', '--send', 'late', '--provider', 'node');
    expect(second).toMatchObject({ resumed: true, earlyDataAccepted: true, group: 'X25519MLKEM768', reply: 'early late' });

    // A client that does not trust the server's root fails with the alert named.
    const other = join(dir, 'other');
    expect(await main(['cert', 'ca', '--alg', 'ed25519', '--subject', 'CN=Other', '--out', other], io())).toBe(0);
    const bad = io();
    expect(await main(['client', `127.0.0.1:${port}`, '--ca', join(other, 'cert.pem'), '--servername', 'localhost'], bad)).toBe(1);
    expect(bad.errors()).toMatch(/handshake failed: unknown_ca/);

    expect(await serving).toBe(0);
    expect(srv.text()).toMatch(/resumed=yes early-data=accepted/);
  });
});

describe('pqtls server --quic / client --quic', () => {
  it('a hybrid PQ QUIC handshake and a stream echoed, summarised as JSON', async () => {
    const ca = join(dir, 'qca');
    const leaf = join(dir, 'qleaf');
    expect(await main(['cert', 'ca', '--alg', 'ml-dsa-44', '--subject', 'CN=QUIC root', '--out', ca], io())).toBe(0);
    expect(await main(['cert', 'leaf', '--ca', ca, '--alg', 'ml-dsa-44', '--dns', 'localhost', '--out', leaf], io())).toBe(0);
    const srv = io();
    const serving = main(['server', '--quic', '--port', '0', '--cert', join(leaf, 'chain.pem'), '--key', join(leaf, 'key.pem'), '--alpn', 'pq', '--echo', '--max-connections', '1'], srv);
    const port = await listening(srv);
    const c = io();
    expect(await main(['client', '--quic', `127.0.0.1:${port}`, '--ca', join(ca, 'cert.pem'), '--servername', 'localhost', '--alpn', 'pq', '--send', 'over quic', '--json'], c), c.errors()).toBe(0);
    expect(JSON.parse(c.text())).toMatchObject({ protocol: 'QUICv1', group: 'X25519MLKEM768', signatureScheme: 'mldsa44', alpn: 'pq', reply: 'over quic' });
    expect(await serving).toBe(0);
    expect(srv.text()).toMatch(/connection: quic group=X25519MLKEM768/);
    // --quic without --alpn is a usage error.
    const bad = io();
    expect(await main(['client', '--quic', `127.0.0.1:${port}`, '--ca', join(ca, 'cert.pem')], bad)).toBe(2);
    expect(bad.errors()).toMatch(/--quic needs --alpn/);
  });
});
