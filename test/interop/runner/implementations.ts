/**
 * The implementations a case can pair, each as a server that serves a
 * directory and a client that downloads URLs into one, in the interop
 * runner's contract (`/www`, `/downloads`, requests as URLs). An adapter says
 * which features of a case it can do; a pairing that needs one it cannot is
 * "unsupported" and shown as such in the matrix, not run and not failed.
 *
 * Adding an implementation is one entry in {@link IMPLEMENTATIONS}. Peers
 * whose programs are still echo programs today (quiche-peer) or that another
 * install may lack (openssl-quic-client) probe their usage text: once the
 * program understands the file-transfer options, the adapter takes part.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { peersBinDir, spawnPeer, type PeerExit, type PeerProcess } from '../../helpers/peers.js';
import type { CertFamily, ServerCert } from './pki.js';
import { pairingOrder } from './names.js';
import { pqtlsMain } from './pqtls-build.js';

export type Alpn = 'h3' | 'hq-interop';

/** What a case may ask of a side. */
export type Feature =
  | 'retry' | 'resumption' | 'zerortt' | 'chacha20' | 'keyupdate' | 'v2' | 'versionnegotiation' | 'migration'
  | 'multiconnect' | 'h3'
  /** The server can do a handshake without a Retry (amplificationlimit is moot after one). */
  | 'no-retry'
  /** The server follows a client whose address changed under a NAT (RFC 9000 §9.3); clients need do nothing. */
  | 'rebinding';

export interface ServerLaunch {
  readonly port: number;
  readonly www: string;
  readonly cert: ServerCert;
  readonly alpn: Alpn;
  /** Send a Retry before every handshake (RFC 9000 §8.1.2); otherwise do not. */
  readonly retry: boolean;
  /** Accept 0-RTT. */
  readonly earlyData: boolean;
  /** Switch to QUIC v2 when the client offers it (RFC 9368 compatible version negotiation). */
  readonly preferV2: boolean;
  readonly keylogFile: string;
  /** Where the server writes its qlog (JSON-SEQ, one file per connection), for a failed cell's diagnosis. */
  readonly qlogDir: string;
  readonly lifetimeMs: number;
}

export interface ClientLaunch {
  /** The relay's port on 127.0.0.1. */
  readonly port: number;
  /** Paths (without the leading slash) to fetch, in order. */
  readonly paths: readonly string[];
  readonly downloadDir: string;
  readonly caFile: string;
  readonly alpn: Alpn;
  /**
   * `single`: one connection for every path; `resumption` / `zerortt`: the first path on a first
   * connection, the rest on a resumed second one (in 0-RTT for `zerortt`); `multiconnect`: one
   * connection per path.
   */
  readonly mode: 'single' | 'resumption' | 'zerortt' | 'multiconnect';
  readonly chacha20: boolean;
  readonly keyUpdate: boolean;
  /** `vn`: start with a version the server does not support, expecting Version Negotiation. */
  readonly version: 'v1' | 'v2' | 'vn';
  /** Move to a new local address after the handshake (active migration, RFC 9000 §9). */
  readonly migrate: boolean;
  readonly keylogFile: string;
  /** Where the client writes its qlog, as {@link ServerLaunch.qlogDir}. */
  readonly qlogDir: string;
  readonly lifetimeMs: number;
  readonly workDir: string;
}

export interface ClientOutcome {
  readonly ok: boolean;
  /** Why not, or the tail of the output. */
  readonly detail: string;
}

export interface Implementation {
  readonly name: string;
  /** The certificates it can serve and verify: ML-DSA if it can, else ECDSA. */
  readonly certFamily: CertFamily;
  readonly alpns: readonly Alpn[];
  /** Why it cannot run at all here, or undefined. */
  unavailable(): string | undefined;
  readonly server?: {
    /** Why it cannot serve a case needing `features`, or undefined. */
    unsupported(features: readonly Feature[]): string | undefined;
    start(l: ServerLaunch): Promise<PeerProcess>;
  };
  readonly client?: {
    unsupported(features: readonly Feature[]): string | undefined;
    run(l: ClientLaunch): Promise<ClientOutcome>;
  };
}

/** A URL the client asks for: the relay on 127.0.0.1, as the runner's `https://server:443/file`. */
function url(port: number, path: string): string {
  return `https://127.0.0.1:${port}/${path}`;
}

function tail(text: string, lines = 25): string {
  return text.split('\n').filter((l) => l.trim() !== '').slice(-lines).join('\n');
}

function outcome(exit: PeerExit, what: string): ClientOutcome {
  if (exit.timedOut) return { ok: false, detail: `${what} timed out:\n${tail(exit.stdout + exit.stderr)}` };
  if (exit.code !== 0) return { ok: false, detail: `${what} exited ${exit.code ?? exit.signal}:\n${tail(exit.stdout + exit.stderr)}` };
  return { ok: true, detail: tail(exit.stdout + exit.stderr, 5) };
}

function missing(features: readonly Feature[], supported: readonly Feature[], who: string): string | undefined {
  const lacking = features.filter((f) => !supported.includes(f));
  return lacking.length ? `${who} cannot do ${lacking.join(', ')}` : undefined;
}

/** Runs `tasks` with at most `limit` at once; resolves with every result in order. */
async function limited<T>(limit: number, tasks: readonly (() => Promise<T>)[]): Promise<T[]> {
  const results: T[] = new Array<T>(tasks.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, async () => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await (tasks[i] as () => Promise<T>)();
    }
  }));
  return results;
}

// ---------------------------------------------------------------------------------------------
// pqtls, through its CLI (src/cli/quic.ts contract)

const LAUNCH = 'const { main } = await import(process.argv[1]); process.exitCode = await main(process.argv.slice(2));';

/**
 * The server's handshake cap in the cases (`--handshake-timeout`; 10 s by default, a bound on what a silent
 * client holds). Under handshakeloss's 30% loss a handshake can need PTO after PTO (1 s, 2 s, 4 s, 8 s: RFC 9002
 * §6.2.1): in 1500 simulated handshakes with the relay's loss pattern, 4 took the server 10.7–16 s, so about one
 * cell in ten lost a connection to the default. The runner's servers have no such cap (ngtcp2's is off by default).
 */
const SERVER_HANDSHAKE_TIMEOUT_MS = 60_000;

/** `pqtls ARGS` on the build of this tree (see pqtls-build.ts), as bin/pqtls.js runs it. */
function spawnPqtls(args: readonly string[], lifetimeMs: number, env: Record<string, string> = {}): PeerProcess {
  return spawnPeer(process.execPath, ['--input-type=module', '-e', LAUNCH, pqtlsMain(), ...args], { timeoutMs: lifetimeMs, env, killWithTest: false });
}

const pqtls: Implementation = {
  name: 'pqtls',
  certFamily: 'mldsa',
  alpns: ['hq-interop', 'h3'],
  unavailable: () => undefined,
  server: {
    unsupported: () => undefined,
    async start(l) {
      return spawnPqtls([
        'server', '--quic', '--host', '127.0.0.1', '--port', String(l.port), '--cert', l.cert.chainFile, '--key', l.cert.keyFile,
        '--alpn', 'h3,hq-interop', '--www', l.www, '--keylog', l.keylogFile, '--qlog', l.qlogDir, '--handshake-timeout', String(SERVER_HANDSHAKE_TIMEOUT_MS),
        ...(l.retry ? ['--retry'] : []), ...(l.earlyData ? ['--early-data'] : []), ...(l.preferV2 ? ['--quic-versions', 'v2,v1'] : []),
      ], l.lifetimeMs);
    },
  },
  client: {
    unsupported: () => undefined,
    async run(l) {
      const args = [
        'client', '--quic', ...l.paths.map((p) => url(l.port, p)), '--alpn', l.alpn, '--download', l.downloadDir,
        '--ca', l.caFile, '--servername', 'localhost', '--keylog', l.keylogFile, '--qlog', l.qlogDir,
        ...(l.mode === 'resumption' ? ['--resumption'] : []),
        ...(l.mode === 'zerortt' ? ['--resumption', '--0rtt'] : []),
        ...(l.mode === 'multiconnect' ? ['--multiconnect'] : []),
        ...(l.chacha20 ? ['--cipher-suites', 'TLS_CHACHA20_POLY1305_SHA256'] : []),
        ...(l.keyUpdate ? ['--key-update'] : []),
        // A reserved version (RFC 9000 §15: 0x?a?a?a?a) forces Version Negotiation.
        ...(l.version === 'v2' ? ['--quic-version', 'v2'] : l.version === 'vn' ? ['--quic-version', '0x1a2a3a4a'] : []),
        ...(l.migrate ? ['--migrate'] : []),
      ];
      return outcome(await spawnPqtls(args, l.lifetimeMs).exited, 'pqtls client');
    },
  },
};

// ---------------------------------------------------------------------------------------------
// ngtcp2 1.11 examples (HTTP/3 only; GnuTLS without ML-KEM/ML-DSA)

const NGTCP2_CLIENT_FEATURES: readonly Feature[] = [
  'rebinding', 'retry', 'resumption', 'zerortt', 'chacha20', 'keyupdate', 'v2', 'versionnegotiation', 'migration', 'multiconnect', 'h3',
];
const NGTCP2_SERVER_FEATURES: readonly Feature[] = [
  'no-retry', 'rebinding', 'retry', 'resumption', 'zerortt', 'chacha20', 'keyupdate', 'v2', 'versionnegotiation', 'migration', 'multiconnect', 'h3',
];

/** Small windows so the peer must send MAX_DATA / MAX_STREAM_DATA, and fewer streams than multiplexing opens. */
const NGTCP2_LIMITS = ['--max-data=1M', '--max-stream-data-bidi-local=256K', '--max-stream-data-bidi-remote=256K', '--max-streams-bidi=100'];

const ngtcp2: Implementation = {
  name: 'ngtcp2',
  certFamily: 'ecdsa',
  alpns: ['h3'],
  unavailable: () => (existsSync(join(peersBinDir, 'ngtcp2-client')) ? undefined : 'ngtcp2 is not installed'),
  server: {
    unsupported: (f) => missing(f, NGTCP2_SERVER_FEATURES, 'ngtcp2-server'),
    async start(l) {
      return spawnPeer('ngtcp2-server', [
        '-q', ...NGTCP2_LIMITS, ...(l.retry ? ['-V'] : []), ...(l.preferV2 ? ['--preferred-versions=v2,v1'] : []),
        '-d', l.www, '127.0.0.1', String(l.port), l.cert.keyFile, l.cert.chainFile,
      ], { timeoutMs: l.lifetimeMs, env: { SSLKEYLOGFILE: l.keylogFile }, killWithTest: false });
    },
  },
  client: {
    unsupported: (f) => missing(f, NGTCP2_CLIENT_FEATURES, 'ngtcp2-client'),
    async run(l) {
      const common = [
        '-q', '--exit-on-all-streams-close', '--timeout=30s', '--sni=localhost', '--download', l.downloadDir, ...NGTCP2_LIMITS,
        ...(l.chacha20 ? ['--ciphers=NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+CHACHA20-POLY1305'] : []),
        ...(l.keyUpdate ? ['--key-update=1ms'] : []),
        ...(l.version === 'v2' ? ['-v', 'v1', '--preferred-versions=v2,v1', '--available-versions=v2,v1'] : []),
        ...(l.version === 'vn' ? ['-v', '0x1a2a3a4a', '--preferred-versions=v1'] : []),
        ...(l.migrate ? ['--change-local-addr=5ms'] : []),
      ];
      const env = { SSLKEYLOGFILE: l.keylogFile };
      const run = async (paths: readonly string[], extra: readonly string[] = []): Promise<ClientOutcome> => outcome(await spawnPeer('ngtcp2-client', [
        ...common, ...extra, '127.0.0.1', String(l.port), ...paths.map((p) => url(l.port, p)),
      ], { timeoutMs: l.lifetimeMs, env, killWithTest: false }).exited, 'ngtcp2-client');
      if (l.mode === 'single') return run(l.paths);
      if (l.mode === 'multiconnect') {
        const all = await limited(5, l.paths.map((p) => () => run([p])));
        return all.find((o) => !o.ok) ?? { ok: true, detail: `${all.length} connections` };
      }
      const session = ['--session-file', join(l.workDir, 'ngtcp2.session'), '--tp-file', join(l.workDir, 'ngtcp2.tp')];
      const first = await run(l.paths.slice(0, 1), [...session, '--wait-for-ticket']);
      if (!first.ok) return first;
      return run(l.paths.slice(1), [...session, ...(l.mode === 'resumption' ? ['--disable-early-data'] : [])]);
    },
  },
};

// ---------------------------------------------------------------------------------------------
// OpenSSL 3.5's QUIC API: openssl-quic-server -www and openssl-quic-client (scripts/peers)

/** The usage text a program prints when run without arguments ('' if it cannot be run). */
function usageOf(program: string): string {
  const path = join(peersBinDir, program);
  if (!existsSync(path)) return '';
  try {
    return execFileSync(path, [], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 5000 });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string };
    return `${err.stdout ?? ''}${err.stderr ?? ''}`;
  }
}

const probed = new Map<string, string>();
function usage(program: string): string {
  let u = probed.get(program);
  if (u === undefined) {
    u = usageOf(program);
    probed.set(program, u);
  }
  return u;
}

// OpenSSL 3.5's QUIC stack has no 0-RTT, no v2, no active migration, and its client cannot pick a version;
// its server loses the connection when the client's address is rebound (openssl→openssl fails rebind-port/-addr).
// 'multiconnect' (50 handshakes under 30% loss or corruption) is left out for OpenSSL (both roles) and
// quiche's server: their own anchors (openssl→openssl, quiche→quiche) do not complete it in the case's
// 180 s here, so a failure of a pairing with them would not say which side is at fault.
const OPENSSL_CLIENT_FEATURES: readonly Feature[] = ['rebinding', 'resumption', 'chacha20', 'keyupdate'];
// Neither OpenSSL 3.5's nor this quiche's server sends version_information (RFC 9368): they answer an
// unknown version with Version Negotiation, but a client that followed one must then close with
// VERSION_NEGOTIATION_ERROR (RFC 9368 §4, downgrade prevention), so the case needs RFC 9368 on the server.
const OPENSSL_SERVER_FEATURES: readonly Feature[] = ['no-retry', 'retry', 'resumption', 'chacha20', 'keyupdate'];

const openssl: Implementation = {
  name: 'openssl',
  certFamily: 'mldsa',
  alpns: ['hq-interop'],
  unavailable: () => undefined,
  server: {
    unsupported: (f) => (usage('openssl-quic-server').includes('-www')
      ? missing(f, OPENSSL_SERVER_FEATURES, 'openssl-quic-server')
      : 'openssl-quic-server here is an echo server (no -www)'),
    async start(l) {
      return spawnPeer(join(peersBinDir, 'openssl-quic-server'), [
        '-www', l.www, '-alpn', l.alpn, '-keylog', l.keylogFile, ...(l.retry ? [] : ['-no-retry']),
        String(l.port), l.cert.chainFile, l.cert.keyFile,
      ], { timeoutMs: l.lifetimeMs, env: { QLOGDIR: l.qlogDir }, killWithTest: false });
    },
  },
  client: {
    unsupported: (f) => (usage('openssl-quic-client').includes('-download')
      ? missing(f, OPENSSL_CLIENT_FEATURES, 'openssl-quic-client')
      : 'no openssl-quic-client (hq-interop download client) installed'),
    async run(l) {
      const common = [
        '-alpn', l.alpn, '-ca', l.caFile, '-servername', 'localhost', '-keylog', l.keylogFile, '-download', l.downloadDir,
        ...(l.chacha20 ? ['-ciphersuites', 'TLS_CHACHA20_POLY1305_SHA256'] : []), ...(l.keyUpdate ? ['-key-update'] : []),
      ];
      const run = async (paths: readonly string[], extra: readonly string[] = []): Promise<ClientOutcome> => outcome(
        await spawnPeer(join(peersBinDir, 'openssl-quic-client'), [...common, ...extra, ...paths.map((p) => url(l.port, p))], {
          timeoutMs: l.lifetimeMs, env: { QLOGDIR: l.qlogDir }, killWithTest: false,
        }).exited, 'openssl-quic-client');
      if (l.mode === 'single') return run(l.paths);
      if (l.mode === 'multiconnect') {
        const all = await limited(5, l.paths.map((p) => () => run([p])));
        return all.find((o) => !o.ok) ?? { ok: true, detail: `${all.length} connections` };
      }
      const session = join(l.workDir, 'openssl.session');
      const first = await run(l.paths.slice(0, 1), ['-session-out', session]);
      if (!first.ok) return first;
      return run(l.paths.slice(1), ['-session-in', session]);
    },
  },
};

// ---------------------------------------------------------------------------------------------
// quiche 0.18 (quiche-peer.mjs on @matrixai/quic): classical only, v1 only, the server always sends a Retry
// and does not follow a rebound client (quiche→quiche fails rebind-port/-addr)

const QUICHE_SERVER_FEATURES: readonly Feature[] = ['retry', 'chacha20', 'keyupdate']; // no RFC 9368, no multiconnect: see the OpenSSL lists
const QUICHE_CLIENT_FEATURES: readonly Feature[] = ['rebinding', 'multiconnect'];

const quiche: Implementation = {
  name: 'quiche',
  certFamily: 'ecdsa',
  alpns: ['hq-interop'],
  unavailable: () => (existsSync(join(peersBinDir, 'quiche-peer')) ? undefined : 'quiche-peer is not installed'),
  server: {
    unsupported: (f) => (usage('quiche-peer').includes('--www')
      ? missing(f, QUICHE_SERVER_FEATURES, 'quiche-peer server')
      : 'quiche-peer here is an echo program (no --www)'),
    async start(l) {
      return spawnPeer('quiche-peer', ['server', '--www', l.www, String(l.port), l.cert.chainFile, l.cert.keyFile, l.alpn], {
        timeoutMs: l.lifetimeMs, killWithTest: false,
      });
    },
  },
  client: {
    unsupported: (f) => (usage('quiche-peer').includes('--download')
      ? missing(f, QUICHE_CLIENT_FEATURES, 'quiche-peer client')
      : 'quiche-peer here is an echo program (no --download)'),
    async run(l) {
      const run = async (paths: readonly string[]): Promise<ClientOutcome> => outcome(await spawnPeer('quiche-peer', [
        'client', '--download', l.downloadDir, '--alpn', l.alpn, '--ca', l.caFile, '--servername', 'localhost',
        '--timeout', String(Math.ceil(l.lifetimeMs / 1000)), ...paths.map((p) => url(l.port, p)),
      ], { timeoutMs: l.lifetimeMs, killWithTest: false }).exited, 'quiche-peer client');
      if (l.mode === 'multiconnect') {
        const all = await limited(5, l.paths.map((p) => () => run([p])));
        return all.find((o) => !o.ok) ?? { ok: true, detail: `${all.length} connections` };
      }
      return run(l.paths);
    },
  },
};

export const IMPLEMENTATIONS: readonly Implementation[] = [pqtls, ngtcp2, openssl, quiche];

export interface Pairing {
  readonly client: Implementation;
  readonly server: Implementation;
}

/** The pairings of the matrix, in the order of {@link pairingOrder}. */
export function pairings(): Pairing[] {
  const byName = (n: string): Implementation => IMPLEMENTATIONS.find((i) => i.name === n) as Implementation;
  return pairingOrder(IMPLEMENTATIONS.map((i) => i.name)).map(([c, s]) => ({ client: byName(c), server: byName(s) }));
}

export function pairingName(p: Pairing): string {
  return `${p.client.name}→${p.server.name}`;
}
