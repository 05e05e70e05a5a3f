/**
 * scripts/peers/trixie.sh takes the Debian mirror for the interop peers from
 * the machine's apt configuration or from PQTLS_DEBIAN_MIRROR /
 * PQTLS_DEBIAN_SECURITY_MIRROR, and stops with a message naming the variable
 * when neither names one: the repository carries no mirror host of its own.
 * The fixtures use the reserved `.example` domain (RFC 2606).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const trixie = fileURLToPath(new URL('../scripts/peers/trixie.sh', import.meta.url));
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** An /etc/apt stand-in holding `files` (paths relative to it). */
function aptEtc(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'pqtls-apt-'));
  dirs.push(dir);
  mkdirSync(join(dir, 'sources.list.d'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

/** Runs `debian_mirror SUFFIX` as install-peers.sh would (set -euo pipefail, its die). */
function mirror(etc: string, suffix: 'debian' | 'debian-security', env: Record<string, string> = {}) {
  const script = [
    'set -euo pipefail',
    'die() { echo "pqtls-peers: error: $*" >&2; exit 1; }',
    'note() { :; }',
    'PEERS=/nonexistent',
    `. ${JSON.stringify(trixie)}`,
    `APT_ETC=${JSON.stringify(etc)}`,
    `debian_mirror ${suffix}`,
  ].join('\n');
  const clean = { ...process.env };
  delete clean['PQTLS_DEBIAN_MIRROR'];
  delete clean['PQTLS_DEBIAN_SECURITY_MIRROR'];
  const run = spawnSync('bash', ['-c', script], { encoding: 'utf8', env: { ...clean, ...env } });
  return { status: run.status, stdout: run.stdout.trim(), stderr: run.stderr };
}

const deb822 = `Types: deb
# http://old.example/archive/debian/20250520T000000Z
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main

Types: deb
URIs: http://security-mirror.example/debian-security/
Suites: bookworm-security
Components: main
`;

describe('scripts/peers/trixie.sh: the Debian mirror', () => {
  it('comes from a deb822 *.sources file, comments skipped, debian and debian-security told apart', () => {
    const etc = aptEtc({ 'sources.list.d/debian.sources': deb822 });
    expect(mirror(etc, 'debian')).toEqual({ status: 0, stdout: 'http://mirror.example/debian', stderr: '' });
    expect(mirror(etc, 'debian-security')).toEqual({ status: 0, stdout: 'http://security-mirror.example/debian-security', stderr: '' });
  });

  it('comes from one-line sources.list and *.list entries, options and trailing slash allowed', () => {
    const etc = aptEtc({
      'sources.list': '# deb http://commented.example/debian bookworm main\n',
      'sources.list.d/x.list':
        'deb [arch=amd64 signed-by=/usr/share/keyrings/k.gpg] https://mirror.example/pub/debian/ bookworm main\n' +
        'deb http://mirror.example/pub/debian-security bookworm-security main\n',
      // Neither *.list nor *.sources: apt ignores it, and so does the installer.
      'sources.list.d/off.sources.disabled': 'URIs: http://disabled.example/debian\n',
    });
    expect(mirror(etc, 'debian').stdout).toBe('https://mirror.example/pub/debian');
    expect(mirror(etc, 'debian-security').stdout).toBe('http://mirror.example/pub/debian-security');
  });

  it('PQTLS_DEBIAN_MIRROR and PQTLS_DEBIAN_SECURITY_MIRROR take precedence over apt', () => {
    const etc = aptEtc({ 'sources.list.d/debian.sources': deb822 });
    const env = { PQTLS_DEBIAN_MIRROR: 'http://chosen.example/debian/', PQTLS_DEBIAN_SECURITY_MIRROR: 'http://chosen.example/sec' };
    expect(mirror(etc, 'debian', env).stdout).toBe('http://chosen.example/debian');
    expect(mirror(etc, 'debian-security', env).stdout).toBe('http://chosen.example/sec');
  });

  it('with neither, stops with a message naming the variable to set (no built-in fallback)', () => {
    const etc = aptEtc({ 'sources.list.d/other.sources': 'Types: deb\nURIs: https://vendor.example/apt\nSuites: stable\n' });
    const main = mirror(etc, 'debian');
    expect(main.status).toBe(1);
    expect(main.stdout).toBe('');
    expect(main.stderr).toMatch(/^pqtls-peers: error: no Debian mirror found for 'debian'.*set PQTLS_DEBIAN_MIRROR to/);
    expect(mirror(etc, 'debian-security').stderr).toContain('set PQTLS_DEBIAN_SECURITY_MIRROR to');
  });
});
