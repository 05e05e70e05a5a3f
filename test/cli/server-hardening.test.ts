/**
 * `pqtls server` bounds what a peer gets for free: --handshake-timeout closes
 * half-open TLS connections, and --quic --retry validates client addresses
 * with a Retry (RFC 9000 §8.1.2) before any handshake work.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { captureIo, listeningPort } from '../helpers/cli-io.js';

const dir = mkdtempSync(join(tmpdir(), 'pqtls-cli-hardening-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const ca = join(dir, 'ca');
const leaf = join(dir, 'leaf');
beforeAll(async () => {
  expect(await main(['cert', 'ca', '--alg', 'ml-dsa-44', '--subject', 'CN=hardening root', '--out', ca], io())).toBe(0);
  expect(await main(['cert', 'leaf', '--ca', ca, '--alg', 'ml-dsa-44', '--dns', 'localhost', '--out', leaf], io())).toBe(0);
});

const io = captureIo;
const listening = listeningPort;

describe('pqtls server --handshake-timeout', () => {
  it('a client that connects and sends nothing is disconnected and reported as a failed handshake', async () => {
    const srv = io();
    const serving = main(['server', '--port', '0', '--cert', join(leaf, 'chain.pem'), '--key', join(leaf, 'key.pem'), '--handshake-timeout', '200', '--max-connections', '1'], srv);
    const port = await listening(srv);
    const sock = netConnect(port, '127.0.0.1');
    sock.on('error', () => undefined);
    await once(sock, 'close');
    expect(await serving).toBe(0);
    expect(srv.errors()).toMatch(/handshake failed: TLS handshake not complete after 200 ms/);
  });

  it('rejects a timeout that is not a positive integer, and --retry without --quic', async () => {
    const files = ['--port', '0', '--cert', join(leaf, 'chain.pem'), '--key', join(leaf, 'key.pem')];
    const a = io();
    expect(await main(['server', ...files, '--handshake-timeout', '0'], a)).toBe(2);
    expect(a.errors()).toMatch(/--handshake-timeout needs a positive integer/);
    const b = io();
    expect(await main(['server', ...files, '--retry'], b)).toBe(2);
    expect(b.errors()).toMatch(/--retry needs --quic/);
  });
});

describe('pqtls server --quic --retry', () => {
  it('the client is sent a Retry, comes back with the token and completes the handshake', async () => {
    const srv = io();
    const serving = main(['server', '--quic', '--retry', '--port', '0', '--cert', join(leaf, 'chain.pem'), '--key', join(leaf, 'key.pem'), '--alpn', 'pq', '--echo', '--max-connections', '1'], srv);
    const port = await listening(srv);
    expect(srv.text()).toMatch(/\(QUIC, Retry on\)/);
    const c = io();
    expect(await main(['client', '--quic', `127.0.0.1:${port}`, '--ca', join(ca, 'cert.pem'), '--servername', 'localhost', '--alpn', 'pq', '--send', 'after retry', '--json'], c), c.errors()).toBe(0);
    expect(JSON.parse(c.text())).toMatchObject({ protocol: 'QUICv1', reply: 'after retry' });
    expect(await serving).toBe(0);
    expect(srv.text()).toMatch(/retry sent to 127\.0\.0\.1:\d+/);
  });
});
