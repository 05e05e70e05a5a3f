/**
 * Where the interop peers live and how they get there: a thin layer over
 * `scripts/install-peers.sh`, shared by the vitest global setup (which runs the
 * installer once before any worker starts) and by `peers.ts` (which runs it
 * again only if a peer is still missing). Free of vitest imports so that the
 * global setup, which runs outside any test file, can use it.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Programs the installer puts in `.peers/bin`. */
export type PeerName =
  | 'openssl'
  | 'openssl-quic-server'
  | 'openssl-quic-client'
  | 'node24'
  | 'ngtcp2-server'
  | 'ngtcp2-client'
  | 'gnutls-cli'
  | 'quiche-peer'
  | 'tshark';

export const PEER_NAMES: readonly PeerName[] = [
  'openssl', 'openssl-quic-server', 'openssl-quic-client', 'node24', 'ngtcp2-server', 'ngtcp2-client', 'gnutls-cli', 'quiche-peer',
  'tshark',
];

export const repoRoot: string = fileURLToPath(new URL('../../', import.meta.url));
export const installerPath: string = join(repoRoot, 'scripts', 'install-peers.sh');
/** `$PQTLS_PEERS_DIR`, else `<repo>/.peers` — the same rule the installer follows. */
export const peersDir: string = resolve(process.env['PQTLS_PEERS_DIR'] || join(repoRoot, '.peers'));
export const peersBinDir: string = join(peersDir, 'bin');

/** True when the opt-out `PQTLS_SKIP_INTEROP=1` is set (for people without network access). */
export const interopSkipRequested: boolean = process.env['PQTLS_SKIP_INTEROP'] === '1';

/** The JavaScript runtimes of the runtime matrix (test/runtimes/), installed by the same script. */
export type RuntimeName = 'deno' | 'bun' | 'workerd' | 'chromium';
export const RUNTIME_NAMES: readonly RuntimeName[] = ['deno', 'bun', 'workerd', 'chromium'];
/** The installer's names for the interop peers (ngtcp2 brings ngtcp2-server, -client and gnutls-cli). */
export const INTEROP_INSTALL_NAMES: readonly string[] = ['openssl', 'openssl-quic-server', 'node24', 'ngtcp2', 'quiche-peer'];

/**
 * True when the opt-out `PQTLS_SKIP_RUNTIMES=1` is set: the runtime matrix (Deno, Bun, workerd,
 * Chromium, Node 24) and the browser WebSocket tests are skipped, and those runtimes not installed.
 */
export const runtimesSkipRequested: boolean = process.env['PQTLS_SKIP_RUNTIMES'] === '1';

/** How to get the peers by hand, for error messages. */
export const installHint =
  'install them with `bash scripts/install-peers.sh` (needs the npm registry and a Debian mirror), ' +
  'or set PQTLS_SKIP_INTEROP=1 to skip the interop suites deliberately';

/**
 * Identifies one test run, so that the installer, after a failure, answers the
 * other workers of the same run from its record instead of retrying. The global
 * setup sets it in the main process, whose environment the forked workers
 * inherit; without the global setup, the workers' common parent stands in.
 */
export function testRunId(): string {
  const id = process.env['PQTLS_PEERS_RUN_ID'] || `vitest-${process.ppid}`;
  process.env['PQTLS_PEERS_RUN_ID'] = id;
  return id;
}

export interface InstallResult {
  readonly ok: boolean;
  /** The installer's messages (it writes them all to stderr). */
  readonly log: string;
}

/** The `pqtls-peers: error:` lines of an installer log, or its last lines if it has none. */
export function installErrors(log: string): string {
  const lines = log.split('\n').filter((l) => l.trim() !== '');
  const errors = lines.filter((l) => l.startsWith('pqtls-peers: error:'));
  return (errors.length > 0 ? errors : lines.slice(-5)).join('\n');
}

const INSTALL_TIMEOUT_MS = 20 * 60_000;

function installerEnv(): NodeJS.ProcessEnv {
  return { ...process.env, PQTLS_PEERS_DIR: peersDir, PQTLS_PEERS_RUN_ID: testRunId() };
}

/** Runs the installer synchronously (it serialises concurrent callers on its own lock); no names = every peer. */
export function runInstallerSync(names: readonly string[] = []): InstallResult {
  const r = spawnSync('bash', [installerPath, ...names], {
    cwd: repoRoot,
    env: installerEnv(),
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: INSTALL_TIMEOUT_MS,
    killSignal: 'SIGKILL',
  });
  const log = `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? `\n${r.error.message}` : ''}`;
  return { ok: r.status === 0, log };
}

/** Runs the installer, echoing its progress to our stderr as it goes (for the global setup). */
export function runInstallerLive(names: readonly string[] = []): Promise<InstallResult> {
  return new Promise((resolveResult) => {
    const child = spawn('bash', [installerPath, ...names], { cwd: repoRoot, env: installerEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    const collect = (chunk: Buffer): void => {
      process.stderr.write(chunk);
      log += chunk.toString('utf8');
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const timer = setTimeout(() => child.kill('SIGKILL'), INSTALL_TIMEOUT_MS);
    child.on('error', (e) => {
      clearTimeout(timer);
      resolveResult({ ok: false, log: `${log}\n${e.message}` });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolveResult({ ok: code === 0, log });
    });
  });
}

/** Whether `.peers/bin/NAME` is there (the installer writes wrappers only after they work). */
export function peerInstalled(name: PeerName): boolean {
  return existsSync(join(peersBinDir, name));
}

/** The error recorded by a failed install in this run, if any (see {@link testRunId}). */
export function recordedFailure(): string | undefined {
  const mark = join(peersDir, '.failed-run');
  if (!existsSync(mark)) return undefined;
  const [id, ...rest] = readFileSync(mark, 'utf8').split('\n');
  return id === testRunId() ? rest.join('\n').trim() : undefined;
}
