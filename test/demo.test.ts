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
  });
});
