import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

// The README's main job: `npm run demo` must succeed on a fresh checkout.
describe('npm run demo', () => {
  it('runs a TLS 1.3 and a QUIC handshake with X25519MLKEM768 and ML-DSA-65 and exits 0', async () => {
    const root = fileURLToPath(new URL('..', import.meta.url));
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/demo.ts'], { cwd: root, timeout: 60_000 });
    expect(stdout.match(/Key exchange: +X25519MLKEM768/g)?.length).toBe(2);
    expect(stdout.match(/Peer signature: +mldsa65/g)?.length).toBe(2);
    expect(stdout).toContain('Protocol:          QUICv1');
    expect(stdout).toContain('"echo: hello over QUIC"');
    expect(stdout).not.toContain('QUAC');
  });

  // `--quac`: the server's ML-DSA-65 key is made on the emulated card and both handshakes sign there (issue 11).
  it('--quac: the same handshakes with the server key on an emulated QUAC 100, and the summary says what the card did', async () => {
    const root = fileURLToPath(new URL('..', import.meta.url));
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/demo.ts', '--quac'], { cwd: root, timeout: 60_000 });
    expect(stdout.match(/Key exchange: +X25519MLKEM768/g)?.length).toBe(2);
    expect(stdout.match(/Peer signature: +mldsa65/g)?.length).toBe(2);
    expect(stdout).toContain('"echo: hello over QUIC"');
    expect(stdout).toContain('server key on an emulated QUAC 100');
    expect(stdout).toMatch(/Server key: +ML-DSA-65 on QUAC 100 \(emulated\)/);
    expect(stdout).toMatch(/device: +0\n/);
    expect(stdout).toMatch(/key label: +pqtls-demo-server \(handle 0x[0-9a-f]+\)/);
    expect(stdout).toMatch(/extractable: +no \(export refused\)/);
    // One CertificateVerify per handshake (TLS, then QUIC) and the ML-KEM half of each key exchange, all on the card.
    expect(stdout).toMatch(/Device work: +2 ML-DSA signatures, 2 ML-KEM encapsulations/);
    const batches = /batches: +(\d+) batch calls carrying (\d+) operations/.exec(stdout);
    expect(batches).not.toBeNull();
    expect(Number(batches?.[1])).toBeGreaterThan(0);
    expect(Number(batches?.[2])).toBeGreaterThanOrEqual(4);
    expect(stdout).toMatch(/software fallbacks: 0\n/);
  });
});
