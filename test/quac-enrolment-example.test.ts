import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

// examples/quac-enrolment/README.md promises this script runs as written and shows each step.
describe('examples/quac-enrolment', () => {
  it('enrols a card-held ML-DSA-65 identity (non-extractable) and authenticates with it over mTLS while the server rotates its key', async () => {
    const root = fileURLToPath(new URL('..', import.meta.url));
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'examples/quac-enrolment/enrol.ts'], { cwd: root, timeout: 60_000 });
    expect(stdout).toMatch(/^device: made ml-dsa-65 key quac:device-identity on card 0 \(handle \d+\)$/m);
    expect(stdout).toContain('device: export of the private key: refused');
    expect(stdout).toContain('ca: issued "CN=device-0042.devices.example,O=Example Devices" (clientAuth)');
    expect(stdout).toContain('after restart, quac:device-identity found on the card; matches the certificate: yes');
    expect(stdout).toContain('key exchange X25519MLKEM768, server signature mldsa65');
    // The server saw the card key's certificate: the client's CertificateVerify was signed on the card.
    expect(stdout).toContain('tls: server replied: hello CN=device-0042.devices.example,O=Example Devices, you said "hello from the device"');
    expect(stdout).toContain('device: signatures made on the card during the handshake: 1');
    // The server rotated its own card key while serving: new certificate for the next connection, old key destroyed.
    expect(stdout).toMatch(/^server: rotated quac:server-identity to handle \d+; the device's next connection saw a new server certificate: yes$/m);
    expect(stdout).toContain('server: after 200 ms of grace the previous key is destroyed: KEY_NOT_FOUND');
    expect(stdout.trimEnd().endsWith('enrolment complete')).toBe(true);
  });
});
