/**
 * `QLOGDIR`, as OpenSSL's QUIC honours it: with the variable set, `pqtls
 * server --quic` and `pqtls client --quic` each write one qlog file per
 * connection into that directory, `<odcid>_server.sqlog` and `<odcid>_client.sqlog`.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { captureIo, listeningPort } from '../helpers/cli-io.js';

const dir = mkdtempSync(join(tmpdir(), 'pqtls-cli-qlog-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('QLOGDIR with pqtls server --quic / client --quic', () => {
  it('both ends write <odcid>_<role>.sqlog for their connection', async () => {
    const ca = join(dir, 'ca');
    const leaf = join(dir, 'leaf');
    const qlog = join(dir, 'qlog');
    expect(await main(['cert', 'ca', '--alg', 'ml-dsa-44', '--subject', 'CN=qlog root', '--out', ca], captureIo())).toBe(0);
    expect(await main(['cert', 'leaf', '--ca', ca, '--alg', 'ml-dsa-44', '--dns', 'localhost', '--out', leaf], captureIo())).toBe(0);
    const before = process.env['QLOGDIR'];
    process.env['QLOGDIR'] = qlog;
    try {
      const srv = captureIo();
      const serving = main(['server', '--quic', '--port', '0', '--cert', join(leaf, 'chain.pem'), '--key', join(leaf, 'key.pem'), '--alpn', 'pq', '--echo', '--max-connections', '1'], srv);
      const port = await listeningPort(srv);
      const c = captureIo();
      expect(await main(['client', '--quic', `127.0.0.1:${port}`, '--ca', join(ca, 'cert.pem'), '--servername', 'localhost', '--alpn', 'pq', '--send', 'qlog'], c), c.errors()).toBe(0);
      expect(await serving).toBe(0);
    } finally {
      if (before === undefined) delete process.env['QLOGDIR'];
      else process.env['QLOGDIR'] = before;
    }
    await new Promise((r) => setImmediate(r));
    const files = readdirSync(qlog).sort();
    expect(files).toHaveLength(2);
    expect(files[0]).toMatch(/^[0-9a-f]{16}_client\.sqlog$/);
    expect(files[1]).toBe(files[0]?.replace('_client', '_server'));
    for (const f of files) {
      const text = readFileSync(join(qlog, f), 'utf8');
      expect(JSON.parse(text.split('\u001e')[1] ?? '')).toMatchObject({ qlog_version: '0.3', qlog_format: 'JSON-SEQ' });
      expect(text).toContain('"name":"connectivity:connection_closed"');
    }
  });
});
