/**
 * pqtls against node:tls on Node 24 (OpenSSL 3.5), each side in its own
 * process so its CPU is its own (issue 13's yardstick):
 * - full handshakes, X25519MLKEM768 + an ML-DSA-65 chain of two validated by
 *   the client, AES-128-GCM: CPU per handshake per side, handshakes/s with 1
 *   and with 8 in flight;
 * - bulk: 64 MiB from client to server through one connection, and 64 MiB
 *   from server to client (a download): MB/s and CPU per MiB per side.
 * Stacks: pqtls with the node:crypto provider (ML-KEM and ML-DSA native on
 * Node 24), pqtls on noble (pure TypeScript: the price of no native crypto),
 * and node:tls. Rounds are interleaved; figures are medians.
 *
 * The handshakes are the same work on both stacks, by their defaults (checked
 * with strace on the server): a 1.4 KB ClientHello with one X25519MLKEM768
 * share; one writev of ServerHello, change_cipher_spec and the encrypted
 * flight (15.7 KB; the chain is 11 KB); after the client's Finished, one
 * close_notify, shutdown and close. Neither server sends a NewSessionTicket:
 * pqtls's client offers psk_key_exchange_modes only with a session store, and
 * a pqtls server sends tickets only to a client that offers them (§4.2.9);
 * OpenSSL's client always offers them, but a node:tls server that ends the
 * connection in its 'secureConnection' callback, as here, sends none (ended
 * 50 ms later, it sends its two: 542 bytes). The one difference: node:tls's
 * client answers close_notify with its own, which the node:tls server then
 * reads (24 bytes); pqtls's client destroys its socket without one.
 *
 * Both stacks are measured as a program runs them: pqtls from its compiled
 * package (`dist/`, built here with tsconfig.build.json when missing or older
 * than `src/`; the TypeScript sources through tsx only if that build fails,
 * which the output says), and every measured client process first runs the
 * same WARM_UP handshakes itself, for every stack, so JIT compilation and
 * tier-up fall outside its measured window: V8 (Node 24) optimises a function
 * with Maglev after about 400 calls and with Turbofan after about 3000, so a
 * function called once per handshake runs unoptimised for the first few
 * hundred; 20 handshakes of warm-up measured that start, not a running
 * server. `PQTLS_BENCH_WARMUP=N` sets another warm-up. The bench's own loop scripts
 * (bench/tls-side-loop.ts) run through tsx for all stacks alike.
 *
 * Run alone: node --import tsx bench/tls-native.ts
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createNobleProvider } from '../src/pq/index.js';
import { median } from './compare.js';
import { f1, f2 } from './side.js';
import { pqtlsLib } from './pqtls-lib.js';
import { mintPki, writePem } from './tls-fixtures.js';

const ROUNDS = Number(process.env["PQTLS_BENCH_ROUNDS"] ?? 5);
const HANDSHAKES = 100;
const WARM_UP = Number(process.env['PQTLS_BENCH_WARMUP'] ?? 500);
const BULK_BYTES = 64 * 2 ** 20;
const NODE24 = fileURLToPath(new URL('../.peers/bin/node24', import.meta.url));
const ROOT = fileURLToPath(new URL('..', import.meta.url));

interface Stack {
  readonly label: string;
  readonly script: string;
  readonly stack: string;
}
const STACKS: readonly Stack[] = [
  { label: 'pqtls, node:crypto provider (native ML-KEM/ML-DSA)', script: 'bench/tls-side.ts', stack: 'pqtls' },
  { label: 'pqtls, noble provider (pure TypeScript)', script: 'bench/tls-side.ts', stack: 'pqtls-noble' },
  { label: 'node:tls', script: 'bench/tls-side-node.ts', stack: 'node' },
];

/** A side process and the JSON lines it prints. */
class Side {
  private readonly lines: string[] = [];
  private waiting: ((line: string) => void) | undefined;
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly exited: Promise<number | null>;
  private stderr = '';

  constructor(args: readonly string[]) {
    this.child = spawn(NODE24, ['--import', 'tsx', ...args], { cwd: ROOT, stdio: 'pipe' });
    this.child.stderr.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000);
    });
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      if (this.waiting) {
        const w = this.waiting;
        this.waiting = undefined;
        w(line);
      } else this.lines.push(line);
    });
    this.exited = new Promise((resolve) => this.child.once('exit', resolve));
  }

  line(): Promise<string> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(l);
    return Promise.race([
      new Promise<string>((resolve) => {
        this.waiting = resolve;
      }),
      this.exited.then((code) => {
        throw new Error(`side process exited (${code}) before answering: ${this.stderr}`);
      }),
    ]);
  }

  async json<T>(): Promise<T> {
    return JSON.parse(await this.line()) as T;
  }

  send(cmd: string): void {
    this.child.stdin.write(`${cmd}\n`);
  }

  async done(): Promise<void> {
    const code = await this.exited;
    if (code !== 0) throw new Error(`side process failed (${code}): ${this.stderr}`);
  }

  kill(): void {
    this.child.kill();
  }
}

interface HandshakeFigures {
  readonly hps1: number;
  readonly hps8: number;
  readonly clientCpu: number;
  readonly serverCpu: number;
  readonly clientCpu8: number;
  readonly serverCpu8: number;
}
interface BulkFigures {
  readonly mbps: number;
  readonly clientCpuPerMiB: number;
  readonly serverCpuPerMiB: number;
}

async function handshakeRound(s: Stack, dir: string, lib: string): Promise<HandshakeFigures> {
  const server = new Side([s.script, 'server', '--stack', s.stack, '--dir', dir, '--lib', lib, '--mode', 'handshake']);
  try {
    const port = (await server.line()).replace(/^port /, '');
    const measured = async (inflight: number): Promise<{ hps: number; clientCpu: number; serverCpu: number }> => {
      const client = new Side([s.script, 'client', '--stack', s.stack, '--dir', dir, '--lib', lib, '--port', port, '--mode', 'handshake',
        '--count', String(HANDSHAKES), '--inflight', String(inflight), '--warmup', String(WARM_UP)]);
      await client.json<{ warm: number }>();
      server.send('mark');
      client.send('go');
      const c = await client.json<{ cpuMs: number; seconds: number }>();
      await client.done();
      server.send('report');
      const sv = await server.json<{ handshakes: number; cpuMs: number }>();
      if (sv.handshakes !== HANDSHAKES) throw new Error(`${s.label}: the server saw ${sv.handshakes} handshakes, not ${HANDSHAKES}`);
      return { hps: HANDSHAKES / c.seconds, clientCpu: c.cpuMs / HANDSHAKES, serverCpu: sv.cpuMs / HANDSHAKES };
    };
    const one = await measured(1);
    const eight = await measured(8);
    server.send('exit');
    return { hps1: one.hps, hps8: eight.hps, clientCpu: one.clientCpu, serverCpu: one.serverCpu, clientCpu8: eight.clientCpu, serverCpu8: eight.serverCpu };
  } finally {
    server.kill();
  }
}

/** One connection moving BULK_BYTES: `bulk` from client to server, `download` from server to client. */
async function bulkRound(s: Stack, dir: string, lib: string, mode: 'bulk' | 'download'): Promise<BulkFigures> {
  const server = new Side([s.script, 'server', '--stack', s.stack, '--dir', dir, '--lib', lib, '--mode', mode, '--bytes', String(BULK_BYTES)]);
  try {
    const port = (await server.line()).replace(/^port /, '');
    const c = new Side([s.script, 'client', '--stack', s.stack, '--dir', dir, '--lib', lib, '--port', port, '--mode', mode, '--bytes', String(BULK_BYTES)]);
    const cr = await c.json<{ bytes: number; cpuMs: number; seconds: number }>();
    await c.done();
    const sr = await server.json<{ bytes: number; cpuMs: number; seconds: number }>();
    const received = mode === 'bulk' ? sr.bytes : cr.bytes;
    if (received !== BULK_BYTES) throw new Error(`${s.label}: ${mode === 'bulk' ? 'the server' : 'the client'} received ${received} bytes, not ${BULK_BYTES}`);
    const mib = BULK_BYTES / 2 ** 20;
    return { mbps: mib / cr.seconds, clientCpuPerMiB: cr.cpuMs / mib, serverCpuPerMiB: sr.cpuMs / mib };
  } finally {
    server.kill();
  }
}

export async function run(): Promise<string> {
  if (!existsSync(NODE24)) throw new Error(`Node 24 is not installed at ${NODE24}: run scripts/install-peers.sh node24`);
  const lib = pqtlsLib();
  const provider = createNobleProvider();
  const pem = await writePem(provider, await mintPki(provider));
  const hs = new Map<Stack, HandshakeFigures[]>(STACKS.map((s) => [s, []]));
  const bulk = new Map<Stack, BulkFigures[]>(STACKS.map((s) => [s, []]));
  const download = new Map<Stack, BulkFigures[]>(STACKS.map((s) => [s, []]));
  try {
    for (let r = 0; r < ROUNDS; r++) {
      for (const s of STACKS) {
        hs.get(s)?.push(await handshakeRound(s, pem.dir, lib.dir));
        bulk.get(s)?.push(await bulkRound(s, pem.dir, lib.dir, 'bulk'));
        download.get(s)?.push(await bulkRound(s, pem.dir, lib.dir, 'download'));
      }
    }
  } finally {
    pem.remove();
  }
  const med = <T>(xs: readonly T[] | undefined, f: (x: T) => number): number => median((xs ?? []).map(f));
  const node = STACKS[2] as Stack;
  const nodeHs = hs.get(node);
  const out = [
    `Node 24 (${NODE24}), loopback TCP, each side in its own process. X25519MLKEM768, ML-DSA-65 chain of two validated by the client, ` +
      `TLS_AES_128_GCM_SHA256. Medians of ${ROUNDS} interleaved rounds; ${HANDSHAKES} handshakes per round and setting, each measured client process ` +
      `first running ${WARM_UP} handshakes itself (every stack); ${BULK_BYTES / 2 ** 20} MiB each way in bulk. ${lib.note}.`,
    '',
    '| stack | handshakes/s (1 in flight) | handshakes/s (8 in flight) | client CPU ms / hs | server CPU ms / hs | client × node:tls | server × node:tls |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const s of STACKS) {
    const h = hs.get(s);
    const c = med(h, (x) => x.clientCpu);
    const sv = med(h, (x) => x.serverCpu);
    out.push(`| ${s.label} | ${f1(med(h, (x) => x.hps1))} | ${f1(med(h, (x) => x.hps8))} | ${f2(c)} | ${f2(sv)} | ` +
      `${f2(c / med(nodeHs, (x) => x.clientCpu))} | ${f2(sv / med(nodeHs, (x) => x.serverCpu))} |`);
  }
  const bulkTable = (title: string, figures: Map<Stack, BulkFigures[]>): void => {
    const nodeFigures = figures.get(node);
    out.push('', `| stack | ${title} MB/s | × node:tls | client CPU ms / MiB | server CPU ms / MiB |`, '| --- | ---: | ---: | ---: | ---: |');
    for (const s of STACKS) {
      const b = figures.get(s);
      const mbps = med(b, (x) => x.mbps);
      out.push(`| ${s.label} | ${f1(mbps)} | ${f2(mbps / med(nodeFigures, (x) => x.mbps))} | ${f2(med(b, (x) => x.clientCpuPerMiB))} | ${f2(med(b, (x) => x.serverCpuPerMiB))} |`);
    }
  };
  bulkTable('bulk (client → server)', bulk);
  bulkTable('download (server → client)', download);
  return out.join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(await run());
}
