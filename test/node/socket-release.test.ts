import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { connect, createServer, type PqTlsSocket } from '../../src/node/index.js';
import { clock, pinnedKeyVerifier, seededProvider, testKey } from '../helpers/tls-pair.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('a destroyed PqTlsSocket lets go of its TlsConnection', () => {
  it('sockets the application still holds after they closed keep none of their connections alive', () => {
    // A child with --expose-gc: vitest's workers cannot collect on demand. It runs 20 handshakes over loopback,
    // keeps all 40 PqTlsSockets (both sides) after they closed, collects, and counts the TlsConnections still alive.
    const script = fileURLToPath(new URL('./socket-release-gc.mjs', import.meta.url));
    const out = execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', script], { encoding: 'utf8', timeout: 60_000 });
    const r = JSON.parse(out.trim().split('\n').pop() ?? '{}') as { sockets: number; closed: number; connectionsAlive: number };
    expect(r.sockets).toBe(40);
    expect(r.closed).toBe(40);
    // Keys, transcript, buffers and handshake state go with the connection; the last one may still sit in a
    // register or a stack slot when the collector runs.
    expect(r.connectionsAlive).toBeLessThanOrEqual(1);
  });

  it('still exports keying material (RFC 8446 §7.5) after close and destroy, the same on both sides, as tls.TLSSocket does', async () => {
    const provider = seededProvider('socket-release-exporter');
    const key = await testKey(provider, 'ml-dsa-65');
    let served: PqTlsSocket | undefined;
    let serverClosed: (() => void) | undefined;
    const closedOnServer = new Promise<void>((resolve) => (serverClosed = resolve));
    const server = createServer({ provider, now: clock, certificate: { chain: [key.publicKey], ...key } }, (s) => {
      served = s;
      s.on('error', () => undefined);
      s.once('close', () => serverClosed?.());
      s.resume();
      s.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const client = await connect({ host: '127.0.0.1', port, provider, now: clock, verifier: pinnedKeyVerifier(key) });
    const before = hex(await client.exportKeyingMaterial(32, 'EXPORTER-after-close', new Uint8Array([1, 2, 3])));
    const noContext = hex(await client.exportKeyingMaterial(32, 'EXPORTER-no-context'));
    client.resume();
    await new Promise<void>((resolve) => client.once('close', () => resolve()));
    await closedOnServer;
    server.close();
    expect(client.destroyed && served?.destroyed).toBe(true);
    expect(hex(await client.exportKeyingMaterial(32, 'EXPORTER-after-close', new Uint8Array([1, 2, 3])))).toBe(before);
    expect(hex(await (served as PqTlsSocket).exportKeyingMaterial(32, 'EXPORTER-after-close', new Uint8Array([1, 2, 3])))).toBe(before);
    expect(hex(await (served as PqTlsSocket).exportKeyingMaterial(32, 'EXPORTER-no-context'))).toBe(noContext);
  });
});
