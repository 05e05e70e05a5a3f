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
 *   client → pqtls (node:crypto) server.
 *
 * All sides use X25519MLKEM768, TLS_AES_128_GCM_SHA256 and an ML-DSA-65 chain
 * of two, verified.
 * MB/s is the client's own time from its first packet to the last FIN;
 * CPU per MB counts both processes (the client's own account; the server's
 * from /proc/PID/stat around the run). Pairings take turns within each round,
 * so a busy moment of the machine spreads over all of them; medians of the
 * rounds are reported, with the ratio to the fastest pairing. A run slower
 * than SLOW_RUN_S is not repeated (the table says so), and one that does not
 * finish (a stall: pqtls has shown them) is counted as failed and tried again
 * in the next round, twice at most.
 *
 * Options after the module name: `--quick` (16 MiB, 3 rounds), `--mib=N`,
 * `--runs=N`, `--only=WORD` (pairings whose name contains WORD). The OpenSSL
 * programs come from the interop peers (`bash scripts/install-peers.sh
 * openssl-quic-server openssl-quic-client`, `$PQTLS_PEERS_DIR`); without them
 * only the pqtls pairings run, and the output says so.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createNobleProvider } from '../src/pq/index.js';
import { mintPki, writePem } from './tls-fixtures.js';

const REPO = fileURLToPath(new URL('../', import.meta.url));
const PEER_SCRIPT = fileURLToPath(new URL('./quic-transfer-peer.ts', import.meta.url));
const MIB = 1 << 20;
/**
 * What pqtls negotiates with itself (X25519MLKEM768, TLS_AES_128_GCM_SHA256), so that OpenSSL ↔ OpenSSL
 * does not pick AES-256 on its own and every pairing encrypts alike.
 */
const OPENSSL_TLS = ['-groups', 'X25519MLKEM768', '-ciphersuites', 'TLS_AES_128_GCM_SHA256'] as const;
const STREAM_COUNTS = [1, 16] as const;
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
  constructor(readonly proc: ChildProcess, readonly name: string) {
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
    if (this.proc.exitCode === null && this.proc.pid !== undefined) this.proc.kill('SIGKILL');
  }
}

function start(command: string, args: readonly string[], name: string): Child {
  return new Child(spawn(command, args, { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] }), name);
}

const nodePeer = (args: readonly string[], name: string): Child => start(process.execPath, ['--import', 'tsx', PEER_SCRIPT, ...args], name);

/** User + system CPU of a live process, in ms. */
function procCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS; // utime, stime (fields 14, 15)
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
  readonly name: string;
  readonly server: () => Promise<Server>;
  /** Runs one client to completion against `port` for `names`; resolves its own report. */
  readonly client: (port: number, names: readonly string[]) => Promise<{ bytes: number; seconds: number; cpuMs: number }>;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function runClient(child: Child, timeoutMs: number): Promise<{ bytes: number; seconds: number; cpuMs: number }> {
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.stop();
  }, timeoutMs);
  try {
    const code = await child.exited;
    const m = /stats: (?:files=\d+ )?bytes=(\d+) seconds=([\d.]+) cpu_ms=(\d+)/.exec(child.out);
    if (timedOut) throw new Error(`${child.name} did not finish within ${timeoutMs / 1000} s ${child.out.trim().slice(-300)}`);
    if (code !== 0 || !m) throw new Error(`${child.name} failed (exit ${code}): ${child.out.trim().slice(-600)}`);
    return { bytes: Number(m[1]), seconds: Number(m[2]), cpuMs: Number(m[3]) };
  } finally {
    clearTimeout(timer);
  }
}

export async function run(): Promise<string> {
  const opts = options(process.argv.slice(2));
  const total = opts.mib * MIB;
  const provider = createNobleProvider();
  const pki = await mintPki(provider);
  const pem = await writePem(provider, pki);
  const www = mkdtempSync(join(tmpdir(), 'pqtls-bench-www-'));
  const children: Child[] = [];
  const lines: string[] = [];
  try {
    // The same names and sizes on every server: `one` (the whole amount) and s0..s15 (a sixteenth each).
    const files = new Map<string, number>([['one', total], ...Array.from({ length: 16 }, (_, i) => [`s${i}`, total / 16] as const)]);
    const pattern = new Uint8Array(MIB).map((_, i) => (i * 131 + 7) & 0xff);
    for (const [name, size] of files) {
      const parts: Uint8Array[] = [];
      for (let n = 0; n < size; n += MIB) parts.push(pattern);
      writeFileSync(join(www, name), Buffer.concat(parts));
    }
    const fileList = [...files].map(([n, s]) => `${n}=${s}`).join(',');
    const chain = join(pem.dir, 'chain.pem');
    const key = join(pem.dir, 'key.pem');
    const root = join(pem.dir, 'root.pem');

    const peersBin = join(resolve(process.env['PQTLS_PEERS_DIR'] || join(REPO, '.peers')), 'bin');
    const opensslServer = join(peersBin, 'openssl-quic-server');
    const opensslClient = join(peersBin, 'openssl-quic-client');
    const haveOpenssl = existsSync(opensslServer) && existsSync(opensslClient);

    const servers = new Map<string, Promise<Server>>();
    const once = (key: string, make: () => Promise<Server>) => () => {
      let s = servers.get(key);
      if (!s) {
        s = make();
        servers.set(key, s);
      }
      return s;
    };
    const pqtlsServer = (prov: string) => once(`pqtls-${prov}`, async () => {
      const child = nodePeer(['server', '--provider', prov, '--cert', chain, '--key', key, '--files', fileList], `pqtls server (${prov})`);
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
    const pqtlsClient = (prov: string) => (port: number, names: readonly string[]) =>
      runClient(nodePeer(['client', '--provider', prov, '--port', String(port), '--ca', root, ...names], `pqtls client (${prov})`), runTimeoutMs(opts.mib));
    const osslClient = (port: number, names: readonly string[]) => {
      const dl = mkdtempSync(join(tmpdir(), 'pqtls-bench-dl-'));
      const child = start(opensslClient, [
        ...OPENSSL_TLS, '-ca', root, '-servername', 'localhost', '-stats', '-download', dl,
        ...names.map((n) => `https://127.0.0.1:${port}/${n}`),
      ], 'openssl-quic-client');
      return runClient(child, runTimeoutMs(opts.mib)).finally(() => rmSync(dl, { recursive: true, force: true }));
    };

    const all: Pairing[] = [
      { name: 'pqtls noble ↔ pqtls noble', server: pqtlsServer('noble'), client: pqtlsClient('noble') },
      { name: 'pqtls node ↔ pqtls node', server: pqtlsServer('node'), client: pqtlsClient('node') },
      ...(haveOpenssl
        ? [
            { name: 'OpenSSL ↔ OpenSSL', server: osslServer, client: osslClient },
            { name: 'pqtls node client → OpenSSL server', server: osslServer, client: pqtlsClient('node') },
            { name: 'OpenSSL client → pqtls node server', server: pqtlsServer('node'), client: osslClient },
          ]
        : []),
    ];
    const pairings = all.filter((p) => opts.only === undefined || p.name.includes(opts.only));
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

    lines.push(
      `${opts.mib} MiB per run over loopback UDP, X25519MLKEM768, TLS_AES_128_GCM_SHA256, ML-DSA-65 chain of two, hq-interop; ` +
        `median of ${opts.runs} run(s) per cell; MB = 10^6 bytes. CPU/MB is client + server process CPU per MB moved. ` +
        `Both sides run as separate processes on this machine (${cpus().length} cores, shared with whatever else runs).`,
    );
    if (!haveOpenssl) lines.push('', `**OpenSSL pairings skipped:** ${opensslServer} / openssl-quic-client not installed (scripts/install-peers.sh).`);
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
      const best = Math.max(...rows.map((r) => (Number.isNaN(r.mbps) ? 0 : r.mbps)));
      lines.push('', `### ${streams === 1 ? 'one stream' : `${streams} streams`} (${streams === 1 ? opts.mib : opts.mib / streams} MiB each)`, '',
        '| pairing (client ↔ server) | MB/s | × fastest | client CPU ms/MB | server CPU ms/MB | total CPU ms/MB | runs |',
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
