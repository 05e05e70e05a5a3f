/**
 * The receiving side of a QUIC bulk transfer on its own (issue 12): per
 * 1452-byte packet, what pqtls costs the receiver, without the socket, the
 * file, the peer or the machine's other load in the figure (see
 * bench/quic-receive-peer.ts, the child process that does it on Node 24 with
 * the node:crypto provider, pqtls from dist/). CPU time of the main thread in
 * the receiver's calls only; the figures per run of 2000 packets show the
 * first packets (run while V8 still compiles the path) apart from the steady
 * state (the median run of the second half: a run with a garbage collection
 * in it costs more, one without less).
 *
 * Options after the module name: `--mib=N` (default 64), `--runs=N` (default 5). `npm run bench -- quic-receive`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createNobleProvider } from '../src/pq/index.js';
import { pqtlsLib } from './pqtls-lib.js';
import { mintPki, writePem } from './tls-fixtures.js';

const REPO = fileURLToPath(new URL('../', import.meta.url));

function option(name: string, fallback: number): number {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  const n = a ? Number(a.slice(name.length + 3)) : fallback;
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer`);
  return n;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

export async function run(): Promise<string> {
  const mib = option('mib', 64);
  const runs = option('runs', 5);
  const peersBin = resolve(process.env['PQTLS_PEERS_DIR'] ?? join(REPO, '.peers'), 'bin');
  const node24 = join(peersBin, 'node24');
  const node = existsSync(node24) ? node24 : process.execPath;
  const lib = pqtlsLib();
  const provider = createNobleProvider();
  const pem = await writePem(provider, await mintPki(provider));
  const rows: { first: number; steady: number; all: number; packets: number; bytes: number }[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      const r = spawnSync(node, ['--import', 'tsx', join(REPO, 'bench', 'quic-receive-peer.ts'), '--lib', lib.dir, '--pem', pem.dir, '--mib', String(mib)], {
        cwd: REPO, encoding: 'utf8', timeout: 600_000,
      });
      const m = /stats: packets=(\d+) bytes=(\d+) total_us=(\d+) windows=([\d.,]*)/.exec(r.stdout);
      if (!m) throw new Error(`quic-receive-peer failed (${r.status}): ${(r.stderr || r.stdout).slice(-600)}`);
      const packets = Number(m[1]);
      const windows = (m[4] as string).split(',').filter(Boolean).map(Number);
      process.stderr.write(`quic-receive: run ${i + 1}/${runs}: ${m[4]}\n`);
      rows.push({ first: windows[0] ?? NaN, steady: median(windows.slice(Math.ceil(windows.length / 2))), all: Number(m[3]) / packets, packets, bytes: Number(m[2]) });
    }
  } finally {
    pem.remove();
  }
  const perMb = (usPerPacket: number, r: { packets: number; bytes: number }): string => (usPerPacket * r.packets / (r.bytes / 1e6) / 1000).toFixed(2);
  const r0 = rows[0] as (typeof rows)[number];
  const first = median(rows.map((r) => r.first));
  const steady = median(rows.map((r) => r.steady));
  const all = median(rows.map((r) => r.all));
  return [
    `${mib} MiB on one stream in 1452-byte datagrams (${r0.packets} packets), server and client endpoints in one process on ${node === node24 ? `Node 24 (${node24})` : `this Node (${process.version})`}, ` +
      `node:crypto provider, ${lib.note}. The client's receiving calls only (handleDatagrams per batch of up to 64 datagrams, then readStreamChunk until empty), ` +
      `main-thread CPU time (V8's compiler threads not counted); median of ${runs} run(s). "steady": the median run of 2000 packets in the second half of the transfer; "first 2000": while V8 compiles the path.`,
    '',
    '| receiver, per packet | µs | ms/MB |',
    '| --- | ---: | ---: |',
    `| first 2000 packets | ${first.toFixed(2)} | ${perMb(first, r0)} |`,
    `| steady | ${steady.toFixed(2)} | ${perMb(steady, r0)} |`,
    `| whole run | ${all.toFixed(2)} | ${perMb(all, r0)} |`,
  ].join('\n');
}
