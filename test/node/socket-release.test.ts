import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

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
});
