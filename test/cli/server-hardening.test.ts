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
import { createSocket } from 'node:dgram';
import { main } from '../../src/cli/main.js';
import { createNobleProvider } from '../../src/pq/index.js';
import { QuicConnection } from '../../src/quic/connection/connection.js';
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

describe('pqtls server --quic --handshake-timeout', () => {
  // The interop matrix's 50 handshakes under 30% loss need it: PTO backoff (1 s, 2 s, 4 s, 8 s, RFC 9002 §6.2.1)
  // can take a lossy handshake past the 10 s default, and --handshake-timeout was read only for TCP.
  it('closes a QUIC connection whose client went silent after its first Initial once the timeout passes', async () => {
    const srv = io();
    const serving = main(['server', '--quic', '--port', '0', '--cert', join(leaf, 'chain.pem'), '--key', join(leaf, 'key.pem'), '--alpn', 'pq',
      '--echo', '--handshake-timeout', '300', '--max-connections', '1'], srv);
    const port = await listening(srv);
    const provider = createNobleProvider();
    const client = await QuicConnection.connect({
      tls: { provider, now: Date.now, serverName: 'localhost', alpnProtocols: ['pq'], verifier: { verify: async () => { throw new Error('unused'); } } },
    }, Date.now());
    const first = await client.pollTransmit(Date.now());
    const sock = createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    try {
      sock.send(first?.data ?? new Uint8Array(0), port, '127.0.0.1');
      // The connection ends at 300 ms plus its closing period (3 PTOs, ≈ 3 s before any RTT sample), not at the
      // 10 s default: the server then has had its one connection and exits.
      const ended = await Promise.race([serving.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 8000))]);
      expect(ended).toBe(true);
    } finally {
      sock.close();
    }
  }, 20_000);
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
