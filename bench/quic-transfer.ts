/**
 * `npm run bench -- quic-transfer`: bulk QUIC over loopback UDP. 64 MiB per
 * run, on one stream and on 16 streams (4 MiB each), hq-interop (`GET /NAME`,
 * body, FIN) so that every pairing moves the same bytes the same way:
 *
 * - pqtls ↔ pqtls with the noble provider and with the node:crypto provider
 *   (`bench/quic-transfer-peer.ts`, one child process per side, driven through
 *   `quicConnect` / `createQuicServer`);
 * - OpenSSL 3.5 ↔ OpenSSL 3.5 (`openssl-quic-client` ↔ `openssl-quic-server -www`);
 * - the crossings pqtls (node:crypto) client → OpenSSL server and OpenSSL
 *   client → pqtls (node:crypto) server;
 * - ngtcp2 ↔ ngtcp2 (Debian's `gtlsclient` / `gtlsserver` examples, installed as
 *   ngtcp2-client / ngtcp2-server) and the two crossings with pqtls (node:crypto).
 *
 * The pqtls peers run on the interop peers' Node 24 when it is installed (its
 * node:crypto has ML-KEM and ML-DSA), and once more on the bench's own Node
 * ('(this Node)'). ngtcp2 ↔ ngtcp2 runs a second time with 65000-byte
 * datagrams, the room pqtls's adapter finds on loopback by itself (see
 * NGTCP2_BIG).
 *
 * These use X25519MLKEM768, TLS_AES_128_GCM_SHA256 and an ML-DSA-65 chain of
 * two, verified — except the ngtcp2 rows, marked (h3): ngtcp2's examples speak
 * only HTTP/3, and the GnuTLS they are built on has neither ML-KEM nor ML-DSA,
 * so those rows use HTTP/3 (`pqtls/http3` on the pqtls side), X25519 and an
 * ECDSA P-256 chain of two, with the same suite. ngtcp2-client cannot be given
 * a trust anchor and does not verify the chain; pqtls's client does.
 * Every body a client received is checked against the served file's SHA-256.
 * MB/s is the client's own time from its first packet to the last FIN (for
 * ngtcp2-client, which reports nothing, its process's life, start-up
 * included: the output says how long an empty fetch takes); CPU per MB
 * counts both processes (the client's own account, or for ngtcp2-client its
 * shell's `times`; the server's from /proc/PID/stat around the run).
 * A pqtls client is a new process per run, so its figures include what a
 * JavaScript process pays on its first connection (compiling and optimising
 * the code it runs); the `(warm client)` row shows a long-running client: its
 * process first fetches 16 MiB on a connection of its own, then the measured
 * one runs. A pqtls server serves every round of its pairings, so only its
 * first run is its process's first connection.
 * Pairings take turns within each round, so a busy moment of the machine
 * spreads over all of them; medians of the rounds are reported, with the
 * ratio to the fastest pairing. A run slower
 * than SLOW_RUN_S is not repeated (the table says so), and one that does not
 * finish (a stall: pqtls has shown them) is counted as failed and tried again
 * in the next round, twice at most.
 *
 * Options after the module name: `--quick` (16 MiB, 3 rounds), `--mib=N`,
 * `--runs=N`, `--only=WORD` (pairings whose name contains WORD). The OpenSSL
 * and ngtcp2 programs come from the interop peers (`bash scripts/install-peers.sh
 * openssl-quic-server openssl-quic-client ngtcp2`, `$PQTLS_PEERS_DIR`); the
 * pairings of a peer that is not installed are skipped, and the output says so.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createNobleProvider, type CryptoProvider } from '../src/pq/index.js';
import { generateRoot, issueLeaf } from '../src/x509/ca.js';
import { certificateToPem } from '../src/x509/pem-certificates.js';
import { exportPrivateKeyPem } from '../src/x509/pkcs8.js';
import { pqtlsLib } from './pqtls-lib.js';
import { mintPki, SERVER_NAME, writePem } from './tls-fixtures.js';

const REPO = fileURLToPath(new URL('../', import.meta.url));
const PEER_SCRIPT = fileURLToPath(new URL('./quic-transfer-peer.ts', import.meta.url));
const MIB = 1 << 20;
/**
 * What pqtls negotiates with itself (X25519MLKEM768, TLS_AES_128_GCM_SHA256), so that OpenSSL ↔ OpenSSL
 * does not pick AES-256 on its own and every pairing encrypts alike.
 */
const OPENSSL_TLS = ['-groups', 'X25519MLKEM768', '-ciphersuites', 'TLS_AES_128_GCM_SHA256'] as const;
/** The same suite for ngtcp2 (GnuTLS priority strings), and X25519: its GnuTLS has no ML-KEM group. */
const NGTCP2_TLS = ['--groups=-GROUP-ALL:+GROUP-X25519', '--ciphers=NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM'] as const;
type Peer = 'openssl' | 'ngtcp2';
/** Every pairing, in table order; `peer`: the installed programs it needs. The (h3) rows are ngtcp2's set-up (see above). */
const PAIRINGS = [
  { name: 'pqtls noble ↔ pqtls noble' },
  { name: 'pqtls node ↔ pqtls node' },
  { name: 'pqtls node ↔ pqtls node (warm client)' },
  { name: 'pqtls node ↔ pqtls node (this Node)' },
  { name: 'pqtls node ↔ pqtls node (1452-byte datagrams)' },
  { name: 'OpenSSL ↔ OpenSSL', peer: 'openssl' },
  { name: 'pqtls node client → OpenSSL server', peer: 'openssl' },
  { name: 'OpenSSL client → pqtls node server', peer: 'openssl' },
  { name: 'ngtcp2 ↔ ngtcp2 (h3)', peer: 'ngtcp2' },
  { name: 'ngtcp2 ↔ ngtcp2 (h3, 65000-byte datagrams)', peer: 'ngtcp2' },
  { name: 'pqtls node client → ngtcp2 server (h3)', peer: 'ngtcp2' },
  { name: 'ngtcp2 client → pqtls node server (h3)', peer: 'ngtcp2' },
] as const satisfies readonly { name: string; peer?: Peer }[];
type PairingName = (typeof PAIRINGS)[number]['name'];
const peerOf = (p: (typeof PAIRINGS)[number]): Peer | undefined => ('peer' in p ? p.peer : undefined);
const STREAM_COUNTS = [1, 16] as const;
/**
 * ngtcp2's examples keep to ~1450-byte datagrams unless told the path carries more (then without PMTUD).
 * pqtls's UDP adapter probes up to the loopback interface's size on its own; this row shows ngtcp2 given
 * the same room, so that the ratio to ngtcp2's default is not mistaken for a like-for-like comparison.
 */
const NGTCP2_BIG = ['--max-udp-payload-size=65000'] as const;
const NGTCP2_BIG_ROW = (name: string): boolean => name.includes('65000-byte');
/** Rows that are not a pairing at its defaults, left out of the "× fastest default" reference: ngtcp2 given 65000 bytes, a warmed-up pqtls client. */
const NOT_DEFAULT_ROW = (name: string): boolean => NGTCP2_BIG_ROW(name) || name.includes('(warm client)');
/** pqtls kept to quinn's default datagram size, near ngtcp2's default: the like-for-like row of ngtcp2 ↔ ngtcp2 (h3). */
const PQTLS_SMALL = ['--max-datagram', '1452'] as const;
/** A run that has not finished by then is a stall (pqtls has shown them), reported as failed. */
const runTimeoutMs = (mib: number): number => Math.max(120, 4 * mib) * 1000;
/** A pairing whose run took longer than this is not run again: one slow sample beats a bench that takes an hour. */
const SLOW_RUN_S = 45;
const CLOCK_TICKS = 100; // USER_HZ on Linux: /proc/PID/stat counts CPU in 1/100 s

interface Options {
  readonly mib: number;
  readonly runs: number;
  readonly only: string | undefined;
}

function options(argv: readonly string[]): Options {
  let mib = Number(process.env['PQTLS_BENCH_QUIC_MIB'] ?? 64);
  let runs = 3;
  let only: string | undefined;
  for (const a of argv) {
    if (a === '--quick') mib = 16;
    else if (a.startsWith('--mib=')) mib = Number(a.slice(6));
    else if (a.startsWith('--runs=')) runs = Number(a.slice(7));
    else if (a.startsWith('--only=')) only = a.slice(7);
  }
  if (!(Number.isInteger(mib) && mib >= 16 && mib % 16 === 0)) throw new Error('--mib must be a multiple of 16');
  if (!(Number.isInteger(runs) && runs >= 1)) throw new Error('--runs must be a positive integer');
  return { mib, runs, only };
}

/** A child process with its output collected; `line` waits for a line matching a pattern. */
class Child {
  out = '';
  exited: Promise<number | null>;
  /** `group`: the child leads a process group of its own, and `stop` kills the whole group. */
  constructor(readonly proc: ChildProcess, readonly name: string, private readonly group = false) {
    proc.stdout?.on('data', (b: Buffer) => (this.out += b.toString('utf8')));
    proc.stderr?.on('data', (b: Buffer) => (this.out += b.toString('utf8')));
    this.exited = new Promise((r) => proc.on('close', (code) => r(code)));
  }
  async line(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = pattern.exec(this.out);
      if (m) return m;
      if (this.proc.exitCode !== null || Date.now() > deadline) {
        throw new Error(`${this.name}: no ${String(pattern)} (exit ${this.proc.exitCode}); output:\n${this.out.slice(-800)}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  stop(): void {
    if (this.proc.exitCode !== null || this.proc.pid === undefined) return;
    if (!this.group) {
      this.proc.kill('SIGKILL');
      return;
    }
    try {
      process.kill(-this.proc.pid, 'SIGKILL');
    } catch {
      // the group is gone already
    }
  }
}

function start(command: string, args: readonly string[], name: string, group = false): Child {
  return new Child(spawn(command, args, { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'], detached: group }), name, group);
}

/** pqtls as the peers load it: its compiled package where it builds (see bench/pqtls-lib.ts). */
let LIB: { dir: string; note: string } | undefined;
const nodePeer = (node: string, args: readonly string[], name: string): Child => {
  LIB ??= pqtlsLib();
  return start(node, ['--import', 'tsx', PEER_SCRIPT, '--lib', LIB.dir, ...args], name);
};

/** User + system CPU of a live process, in ms. */
function procCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS; // utime, stime (fields 14, 15)
}

/** Whether a UDP socket is bound to 127.0.0.1:`port` (ngtcp2-server says nothing once it is). */
function udpBound(port: number): boolean {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return readFileSync('/proc/net/udp', 'utf8').split('\n').some((l) => l.trim().split(/\s+/)[1] === local);
}

/** A UDP port the kernel just handed out (and we let go of), for the OpenSSL server to bind. */
function freeUdpPort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const s = createSocket('udp4');
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolvePort(port));
    });
  });
}

interface Server {
  readonly child: Child;
  readonly port: number;
}

interface Sample {
  readonly mbps: number;
  readonly clientCpuMs: number;
  readonly serverCpuMs: number;
}

interface Pairing {
  readonly name: PairingName;
  readonly server: () => Promise<Server>;
  /** Runs one client to completion against `port` for `names`; resolves its own report. */
  readonly client: (port: number, names: readonly string[]) => Promise<{ bytes: number; seconds: number; cpuMs: number }>;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** Waits for a client to exit 0; a client still running after `timeoutMs` is killed and the run fails. */
async function finish(child: Child, timeoutMs: number): Promise<string> {
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.stop();
  }, timeoutMs);
  try {
    const code = await child.exited;
    if (timedOut) throw new Error(`${child.name} did not finish within ${timeoutMs / 1000} s ${child.out.trim().slice(-300)}`);
    if (code !== 0) throw new Error(`${child.name} failed (exit ${code}): ${child.out.trim().slice(-600)}`);
    return child.out;
  } finally {
    clearTimeout(timer);
  }
}

/** The `stats:` line of a pqtls or OpenSSL client. */
async function runClient(child: Child, timeoutMs: number): Promise<{ bytes: number; seconds: number; cpuMs: number; out: string }> {
  const out = await finish(child, timeoutMs);
  const m = /stats: (?:files=\d+ )?bytes=(\d+) seconds=([\d.]+) cpu_ms=(\d+)/.exec(out);
  if (!m) throw new Error(`${child.name} printed no stats: ${out.trim().slice(-600)}`);
  return { bytes: Number(m[1]), seconds: Number(m[2]), cpuMs: Number(m[3]), out };
}

/** What a client negotiated, as it printed it (pqtls: `group= suite=`; OpenSSL: `group= cipher=`), against what the row says. */
function checkNegotiated(name: string, out: string, group: string): void {
  const m = /group=(\S+) (?:suite|cipher)=(\S+)/.exec(out);
  if (!m) throw new Error(`${name} did not say what it negotiated`);
  if (m[1]!.toLowerCase() !== group.toLowerCase() || m[2] !== 'TLS_AES_128_GCM_SHA256') {
    throw new Error(`${name} negotiated ${m[1]} ${m[2]}, not ${group} TLS_AES_128_GCM_SHA256`);
  }
}

const sha256 = (data: Uint8Array | string): string => createHash('sha256').update(data).digest('hex');

/**
 * The files a client saved in `dir` against what was served (`expected`: SHA-256 by name): the bytes
 * moved, or an error naming the first file that is missing or differs.
 */
function checkDownloads(dir: string, names: readonly string[], expected: ReadonlyMap<string, string>): number {
  const saved = new Set(readdirSync(dir));
  let bytes = 0;
  for (const n of names) {
    if (!saved.has(n)) throw new Error(`${n} was not saved`);
    const data = readFileSync(join(dir, n));
    if (sha256(data) !== expected.get(n)) throw new Error(`${n}: ${data.length} bytes saved, not the served file (SHA-256 differs)`);
    bytes += data.length;
  }
  return bytes;
}

/** A leaf for `localhost` under a root, both ECDSA P-256, as PEM files in `dir`: for peers without ML-DSA. */
async function writeEcdsaPki(provider: CryptoProvider, dir: string): Promise<{ chain: string; key: string; root: string }> {
  const now = Date.now();
  const validity = { notBefore: new Date(now - 3600_000), notAfter: new Date(now + 24 * 3600_000) };
  const root = await generateRoot({ provider, subject: 'CN=pqtls bench ECDSA root', algorithm: 'ecdsa-p256', ...validity });
  const leaf = await issueLeaf({
    provider, algorithm: 'ecdsa-p256', dns: [SERVER_NAME], ...validity,
    issuer: { certificate: root.certificate, privateKey: root.keyPair.privateKey },
  });
  const files = { chain: join(dir, 'ecdsa-chain.pem'), key: join(dir, 'ecdsa-key.pem'), root: join(dir, 'ecdsa-root.pem') };
  writeFileSync(files.chain, certificateToPem(leaf.certificate.der) + certificateToPem(root.certificate.der));
  // With its public key: GnuTLS reads PKCS #8 ECDSA keys without one too, but not every parser does.
  writeFileSync(files.key, await exportPrivateKeyPem(provider, leaf.keyPair.privateKey, { publicKey: leaf.keyPair.publicKey }));
  writeFileSync(files.root, certificateToPem(root.certificate.der));
  return files;
}

/** The children's user + system CPU a shell's `times` printed last, in ms. */
function childrenCpuMs(out: string): number | undefined {
  const lines = [...out.matchAll(/^(\d+)m([\d.]+)s (\d+)m([\d.]+)s$/gm)];
  const m = lines[lines.length - 1];
  return m ? (Number(m[1]) * 60 + Number(m[2]) + Number(m[3]) * 60 + Number(m[4])) * 1000 : undefined;
}

export async function run(): Promise<string> {
  const opts = options(process.argv.slice(2));
  const peersBin = join(resolve(process.env['PQTLS_PEERS_DIR'] || join(REPO, '.peers')), 'bin');
  const opensslServer = join(peersBin, 'openssl-quic-server');
  const opensslClient = join(peersBin, 'openssl-quic-client');
  const ngtcp2Server = join(peersBin, 'ngtcp2-server');
  const ngtcp2Client = join(peersBin, 'ngtcp2-client');
  const installed: Record<Peer, boolean> = {
    openssl: existsSync(opensslServer) && existsSync(opensslClient),
    ngtcp2: existsSync(ngtcp2Server) && existsSync(ngtcp2Client),
  };
  // Node 24 where the interop peers installed it (its node:crypto has ML-KEM and ML-DSA; issue 13 measures there);
  // the '(this Node)' row runs the same pairing on the Node that runs the bench, unless that is the same program.
  const node24 = join(peersBin, 'node24');
  const peerNode = existsSync(node24) ? node24 : process.execPath;
  const nodeVersion = (node: string): string => spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
  const matching = PAIRINGS.filter((p) => (opts.only === undefined || p.name.includes(opts.only)) &&
    (p.name !== 'pqtls node ↔ pqtls node (this Node)' || peerNode !== process.execPath));
  if (matching.length === 0) {
    return `**No pairing matches \`--only=${opts.only}\`.** The pairings: ${PAIRINGS.map((p) => p.name).join('; ')}.`;
  }
  const missing = [...new Set(matching.map(peerOf).filter((peer): peer is Peer => peer !== undefined && !installed[peer]))];
  const chosen = matching.filter((p) => { const peer = peerOf(p); return peer === undefined || installed[peer]; });
  const skippedNote = missing.map((peer) => peer === 'openssl'
    ? `**OpenSSL pairings skipped:** ${opensslServer} / openssl-quic-client not installed (scripts/install-peers.sh).`
    : `**ngtcp2 pairings skipped:** ${ngtcp2Server} / ngtcp2-client not installed (scripts/install-peers.sh ngtcp2).`);
  if (chosen.length === 0) return skippedNote.join('\n');

  const total = opts.mib * MIB;
  const provider = createNobleProvider();
  const pki = await mintPki(provider);
  const pem = await writePem(provider, pki);
  const www = mkdtempSync(join(tmpdir(), 'pqtls-bench-www-'));
  const children: Child[] = [];
  const lines: string[] = [];
  try {
    // The same names and sizes on every server: `one` (the whole amount), s0..s15 (a sixteenth each),
    // `empty`, which times ngtcp2-client's start-up and handshake, and `warm` (16 MiB), what a warm client
    // fetches on a first connection of its own.
    const files = new Map<string, number>([
      ['one', total], ...Array.from({ length: 16 }, (_, i) => [`s${i}`, total / 16] as const), ['empty', 0], ['warm', 16 * MIB],
    ]);
    const pattern = new Uint8Array(MIB).map((_, i) => (i * 131 + 7) & 0xff);
    /** SHA-256 of each served file, by name: what every client must have received. */
    const digests = new Map<string, string>();
    for (const [name, size] of files) {
      const parts: Uint8Array[] = [];
      for (let n = 0; n < size; n += MIB) parts.push(pattern);
      const body = Buffer.concat(parts);
      writeFileSync(join(www, name), body);
      digests.set(name, sha256(body));
    }
    const fileList = [...files].map(([n, s]) => `${n}=${s}`).join(',');
    const chain = join(pem.dir, 'chain.pem');
    const key = join(pem.dir, 'key.pem');
    const root = join(pem.dir, 'root.pem');
    const ecdsa = await writeEcdsaPki(provider, pem.dir);

    const servers = new Map<string, Promise<Server>>();
    const once = (key: string, make: () => Promise<Server>) => () => {
      let s = servers.get(key);
      if (!s) {
        s = make();
        servers.set(key, s);
      }
      return s;
    };
    const pqtlsServer = (prov: string, alpn: 'hq-interop' | 'h3' = 'hq-interop', node = peerNode, extra: readonly string[] = []) => once(`pqtls-${prov}-${alpn}-${node}${extra.join(' ')}`, async () => {
      const [c, k] = alpn === 'h3' ? [ecdsa.chain, ecdsa.key] : [chain, key];
      const child = nodePeer(node, ['server', '--provider', prov, '--alpn', alpn, '--cert', c, '--key', k, '--files', fileList, ...extra], `pqtls server (${prov}, ${alpn})`);
      children.push(child);
      const m = await child.line(/listening (\d+)/, 60_000);
      return { child, port: Number(m[1]) };
    });
    const osslServer = once('openssl', async () => {
      const port = await freeUdpPort();
      const child = start(opensslServer, ['-www', www, ...OPENSSL_TLS, String(port), chain, key], 'openssl-quic-server');
      children.push(child);
      await child.line(/listening on/, 10_000);
      return { child, port };
    });
    const ngServerWith = (extra: readonly string[]) => once(`ngtcp2${extra.join(' ')}`, async () => {
      const port = await freeUdpPort();
      const child = start(ngtcp2Server, ['-q', '-d', www, ...NGTCP2_TLS, ...extra, '127.0.0.1', String(port), ecdsa.key, ecdsa.chain], 'ngtcp2-server');
      children.push(child);
      await child.line(/Using document root/, 10_000);
      // It names its document root before it binds its socket.
      for (const deadline = Date.now() + 10_000; !udpBound(port); await new Promise((r) => setTimeout(r, 10))) {
        if (child.proc.exitCode !== null || Date.now() > deadline) throw new Error(`ngtcp2-server did not bind port ${port}: ${child.out.slice(-400)}`);
      }
      return { child, port };
    });
    const ngServer = ngServerWith([]);
    /**
     * A run of the pqtls peer's client, checked for what it negotiated and saved; `warm`: files (16 MiB
     * each) it fetches first, on a connection of its own, before the measured one.
     */
    const pqtlsClient = (prov: string, alpn: 'hq-interop' | 'h3' = 'hq-interop', node = peerNode, extra: readonly string[] = [], warm: readonly string[] = []) => async (port: number, names: readonly string[]) => {
      const name = `pqtls client (${prov}, ${alpn})`;
      const args = [...(alpn === 'h3' ? ['--alpn', 'h3', '--groups', 'x25519', '--ca', ecdsa.root] : ['--ca', root]), ...extra];
      if (warm.length > 0) args.push('--warmup', warm.join(','));
      const dl = mkdtempSync(join(tmpdir(), 'pqtls-bench-dl-'));
      try {
        const r = await runClient(nodePeer(node, ['client', '--provider', prov, '--port', String(port), '--download', dl, ...args, ...names], name), runTimeoutMs(opts.mib + 16 * warm.length));
        checkNegotiated(name, r.out, alpn === 'h3' ? 'x25519' : 'X25519MLKEM768');
        checkDownloads(dl, warm, digests);
        if (checkDownloads(dl, names, digests) !== r.bytes) throw new Error(`${name} counted ${r.bytes} bytes, saved others`);
        return r;
      } finally {
        rmSync(dl, { recursive: true, force: true });
      }
    };
    const osslClient = async (port: number, names: readonly string[]) => {
      const dl = mkdtempSync(join(tmpdir(), 'pqtls-bench-dl-'));
      try {
        const r = await runClient(start(opensslClient, [
          ...OPENSSL_TLS, '-ca', root, '-servername', 'localhost', '-stats', '-download', dl,
          ...names.map((n) => `https://127.0.0.1:${port}/${n}`),
        ], 'openssl-quic-client'), runTimeoutMs(opts.mib));
        checkNegotiated('openssl-quic-client', r.out, 'X25519MLKEM768');
        if (checkDownloads(dl, names, digests) !== r.bytes) throw new Error(`openssl-quic-client counted ${r.bytes} bytes, saved others`);
        return r;
      } finally {
        rmSync(dl, { recursive: true, force: true });
      }
    };
    /**
     * ngtcp2-client reports neither time nor CPU: its wall time is its process's life as seen from here, its
     * CPU what the shell that waited for it reads from `times`. It offers only X25519 and AES-128-GCM.
     */
    const ngClient = async (port: number, names: readonly string[], timeoutMs = runTimeoutMs(opts.mib), extra: readonly string[] = []) => {
      const dl = mkdtempSync(join(tmpdir(), 'pqtls-bench-dl-'));
      try {
        const t0 = performance.now();
        const child = start('/bin/sh', ['-c', '"$0" "$@"; rc=$?; times; exit $rc', ngtcp2Client,
          '-q', '--exit-on-all-streams-close', '--sni=localhost', `--download=${dl}`, ...NGTCP2_TLS, ...extra,
          '127.0.0.1', String(port), ...names.map((n) => `https://127.0.0.1:${port}/${n}`)], 'ngtcp2-client', true);
        const out = await finish(child, timeoutMs);
        const seconds = (performance.now() - t0) / 1000;
        const cpuMs = childrenCpuMs(out);
        if (cpuMs === undefined) throw new Error(`ngtcp2-client: no CPU times from the shell: ${out.slice(-300)}`);
        return { bytes: checkDownloads(dl, names, digests), seconds, cpuMs };
      } finally {
        rmSync(dl, { recursive: true, force: true });
      }
    };

    const impl: Record<PairingName, Omit<Pairing, 'name'>> = {
      'pqtls noble ↔ pqtls noble': { server: pqtlsServer('noble'), client: pqtlsClient('noble') },
      'pqtls node ↔ pqtls node': { server: pqtlsServer('node'), client: pqtlsClient('node') },
      'pqtls node ↔ pqtls node (warm client)': { server: pqtlsServer('node'), client: pqtlsClient('node', 'hq-interop', peerNode, [], ['warm']) },
      'pqtls node ↔ pqtls node (this Node)': { server: pqtlsServer('node', 'hq-interop', process.execPath), client: pqtlsClient('node', 'hq-interop', process.execPath) },
      'pqtls node ↔ pqtls node (1452-byte datagrams)': {
        server: pqtlsServer('node', 'hq-interop', peerNode, PQTLS_SMALL), client: pqtlsClient('node', 'hq-interop', peerNode, PQTLS_SMALL),
      },
      'OpenSSL ↔ OpenSSL': { server: osslServer, client: osslClient },
      'pqtls node client → OpenSSL server': { server: osslServer, client: pqtlsClient('node') },
      'OpenSSL client → pqtls node server': { server: pqtlsServer('node'), client: osslClient },
      'ngtcp2 ↔ ngtcp2 (h3)': { server: ngServer, client: ngClient },
      'ngtcp2 ↔ ngtcp2 (h3, 65000-byte datagrams)': {
        server: ngServerWith(NGTCP2_BIG), client: (port, names) => ngClient(port, names, runTimeoutMs(opts.mib), NGTCP2_BIG),
      },
      'pqtls node client → ngtcp2 server (h3)': { server: ngServer, client: pqtlsClient('node', 'h3') },
      'ngtcp2 client → pqtls node server (h3)': { server: pqtlsServer('node', 'h3'), client: ngClient },
    };
    const pairings: Pairing[] = chosen.map((p) => ({ name: p.name, ...impl[p.name] }));

    /** ngtcp2-client's start-up and handshake, which its rows include: three fetches of an empty file. */
    let ngtcp2Empty: { seconds: number; cpuMs: number } | string | undefined;
    if (pairings.some((p) => p.client === ngClient)) {
      try {
        const server = await ngServer();
        const runs = [];
        for (let i = 0; i < 3; i++) runs.push(await ngClient(server.port, ['empty'], 30_000));
        ngtcp2Empty = { seconds: median(runs.map((r) => r.seconds)), cpuMs: median(runs.map((r) => r.cpuMs)) };
      } catch (e) {
        ngtcp2Empty = e instanceof Error ? e.message.split('\n')[0]! : String(e);
      }
    }

    const samples = new Map<string, Sample[]>();
    /** Failed runs per cell: a stall in one run does not hide the others; two failures end the cell. */
    const failures = new Map<string, string[]>();
    const slow = new Set<string>();
    for (let round = 0; round < opts.runs; round++) {
      for (const streams of STREAM_COUNTS) {
        const names = streams === 1 ? ['one'] : Array.from({ length: streams }, (_, i) => `s${i}`);
        for (const p of pairings) {
          const key = `${p.name}|${streams}`;
          if ((failures.get(key)?.length ?? 0) >= 2 || slow.has(key)) continue;
          try {
            const server = await p.server();
            const pid = server.child.proc.pid!;
            const s0 = procCpuMs(pid);
            const r = await p.client(server.port, names);
            const serverCpuMs = procCpuMs(pid) - s0;
            if (r.bytes !== total) throw new Error(`moved ${r.bytes} bytes, not ${total}`);
            const list = samples.get(key) ?? [];
            list.push({ mbps: total / 1e6 / r.seconds, clientCpuMs: r.cpuMs, serverCpuMs });
            samples.set(key, list);
            if (r.seconds > SLOW_RUN_S) slow.add(key);
            console.error(`quic-transfer: round ${round + 1}/${opts.runs} ${streams} stream(s) ${p.name}: ${(total / 1e6 / r.seconds).toFixed(1)} MB/s`);
          } catch (e) {
            failures.set(key, [...(failures.get(key) ?? []), e instanceof Error ? e.message.split('\n')[0]! : String(e)]);
            console.error(`quic-transfer: ${key}: ${e instanceof Error ? e.message : String(e)}`);
          }
        }
      }
    }

    const h3Rows = pairings.some((p) => p.name.endsWith('(h3)'));
    lines.push(
      `${opts.mib} MiB per run over loopback UDP` +
        (pairings.some((p) => !p.name.endsWith('(h3)'))
          ? `, X25519MLKEM768, TLS_AES_128_GCM_SHA256, ML-DSA-65 chain of two (verified), hq-interop${h3Rows ? ' except the (h3) rows' : ''}; `
          : ' (only (h3) rows: see below); ') +
        `median of ${opts.runs} run(s) per cell; MB = 10^6 bytes. CPU/MB is client + server process CPU per MB moved. ` +
        `Both sides run as separate processes on this machine (${cpus().length} cores, shared with whatever else runs). ` +
        `The pqtls peers run on Node ${nodeVersion(peerNode)}` +
        (peerNode === process.execPath ? ' (Node 24 is not installed in the interop peers)' : ` (${peerNode}; the '(this Node)' row on Node ${process.version}, which runs the bench)`) +
        `, ${(LIB ??= pqtlsLib()).note}. ` +
        'Over loopback pqtls\'s UDP adapter lets DPLPMTUD probe up to the interface\'s size, so its datagrams grow to ~64 KB; ' +
        'ngtcp2\'s examples stay near 1450 bytes unless told otherwise, hence the ngtcp2 row with 65000-byte datagrams, ' +
        'which the "× fastest default" column leaves out of its reference, and the pqtls row kept to 1452-byte ones ' +
        '(like for like with ngtcp2\'s default). ' +
        'Every body received is checked against the served file (SHA-256), and the group and suite against the row\'s ' +
        'where the client prints them (pqtls, OpenSSL).',
    );
    if (h3Rows) {
      const empty = ngtcp2Empty === undefined ? ''
        : typeof ngtcp2Empty === 'string' ? ` (Timing its start-up failed: ${ngtcp2Empty}.)`
        : ` Fetching an empty file, ngtcp2-client takes ${(ngtcp2Empty.seconds * 1000).toFixed(0)} ms and ${ngtcp2Empty.cpuMs.toFixed(0)} ms of CPU (median of 3): that much of each of its runs is its start-up, the handshake and a request's round trip.`;
      lines.push('',
        '**(h3) rows:** HTTP/3, X25519, TLS_AES_128_GCM_SHA256, an ECDSA P-256 chain of two. ngtcp2 is Debian\'s build of its ' +
        'examples (ngtcp2-client/-server), which speak only HTTP/3 (pqtls serves and fetches with `pqtls/http3` there) and run ' +
        'on GnuTLS 3.8.9, whose build lists neither an ML-KEM group nor ML-DSA (`gnutls-cli --list`). ngtcp2-client takes no ' +
        'trust anchor and does not verify the server\'s chain; pqtls\'s client verifies it against the ECDSA root. ngtcp2-client ' +
        'reports no figures of its own: its MB/s counts its whole process\'s life, from spawn to exit, and its CPU is its ' +
        `process's (from the shell that waited for it).${empty}`);
    }
    if (skippedNote.length) lines.push('', ...skippedNote);
    for (const streams of STREAM_COUNTS) {
      const rows = pairings.map((p) => {
        const list = samples.get(`${p.name}|${streams}`) ?? [];
        return {
          p, n: list.length,
          mbps: list.length ? median(list.map((s) => s.mbps)) : NaN,
          client: list.length ? median(list.map((s) => s.clientCpuMs / (total / 1e6))) : NaN,
          server: list.length ? median(list.map((s) => s.serverCpuMs / (total / 1e6))) : NaN,
        };
      });
      // The ratio is to the fastest pairing as the programs ship, each client a new process: the 65000-byte ngtcp2 row
      // (see NGTCP2_BIG) and the warm pqtls client are not counted.
      const best = Math.max(...rows.filter((r) => !NOT_DEFAULT_ROW(r.p.name)).map((r) => (Number.isNaN(r.mbps) ? 0 : r.mbps)));
      lines.push('', `### ${streams === 1 ? 'one stream' : `${streams} streams`} (${streams === 1 ? opts.mib : opts.mib / streams} MiB each)`, '',
        '| pairing (client ↔ server) | MB/s | × fastest default | client CPU ms/MB | server CPU ms/MB | total CPU ms/MB | runs |',
        '| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
      for (const r of rows) {
        const failed = failures.get(`${r.p.name}|${streams}`) ?? [];
        const why = (failed[0] ?? 'no run').replace(/\|/g, '/');
        if (r.n === 0) {
          lines.push(`| ${r.p.name} | failed ${failed.length}×: ${why.slice(0, 160)} | | | | | 0 |`);
          continue;
        }
        const note = (failed.length ? `, ${failed.length} failed: ${why.slice(0, 100)}` : '') +
          (slow.has(`${r.p.name}|${streams}`) && r.n + failed.length < opts.runs ? ` (> ${SLOW_RUN_S} s: not repeated)` : '');
        lines.push(`| ${r.p.name} | ${r.mbps.toFixed(1)} | ${(r.mbps / best).toFixed(2)} | ${r.client.toFixed(1)} | ${r.server.toFixed(1)} | ${(r.client + r.server).toFixed(1)} | ${r.n}${note} |`);
      }
    }
    return lines.join('\n');
  } finally {
    for (const c of children) c.stop();
    pem.remove();
    rmSync(www, { recursive: true, force: true });
  }
}
