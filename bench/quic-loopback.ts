/**
 * 10 MB over loopback UDP through the Node QUIC adapter (`src/node/quic.ts`),
 * pqtls client ↔ pqtls server, each in its own process as in the interop runner:
 * the server (a child process) sends 2, 3 and 5 MB on three concurrent streams
 * the client opened. Reports wall time per transfer and how many datagrams the
 * kernel dropped at each side's socket for a full receive buffer. Not a test:
 * figures, not verdicts.
 *
 *   node --import tsx bench/quic-loopback.ts [rounds] [noble|node]
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createNobleProvider } from '../src/pq/index.js';
import type { CryptoProvider } from '../src/pq/provider.js';
import { createNodeCryptoProvider } from '../src/node/crypto-provider.js';
import { createQuicServer, quicConnect, type QuicSession } from '../src/node/quic.js';
import type { StreamEvent } from '../src/quic/connection/streams.js';

const SIZES = [2_000_000, 3_000_000, 5_000_000];

function provider(name: string): CryptoProvider {
  return name === 'node' ? createNodeCryptoProvider() : createNobleProvider();
}

/**
 * Datagrams the kernel dropped at the UDP sockets of process `pid` for a full
 * receive buffer (the `drops` column of /proc/net/udp, per socket, Linux), or
 * undefined elsewhere. Per socket rather than the machine-wide `RcvbufErrors`
 * of /proc/net/snmp, which counts every other program's UDP traffic too.
 */
function socketDrops(pid: number): number | undefined {
  try {
    const inodes = new Set(readdirSync(`/proc/${pid}/fd`).map((fd) => {
      try {
        return /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
      } catch {
        return undefined;
      }
    }).filter((i): i is string => i !== undefined));
    let drops = 0;
    for (const table of ['/proc/net/udp', '/proc/net/udp6']) {
      for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
        const f = line.trim().split(/\s+/);
        if (f.length >= 13 && inodes.has(f[9] as string)) drops += Number(f[12]);
      }
    }
    return drops;
  } catch {
    return undefined;
  }
}

async function serve(providerName: string): Promise<void> {
  const p = provider(providerName);
  const kp = await p.generateKeyPair('ed25519');
  const server = createQuicServer({ tls: { provider: p, certificate: { chain: [kp.publicKey], keyAlgorithm: 'ed25519', privateKey: kp.privateKey }, alpnProtocols: ['bench'] } }, (s) => {
    s.on('stream', (e: StreamEvent) => {
      if (e.type !== 'finished') return;
      // The request names the stream's size by its index; the answer follows at once.
      let req = '';
      for (let r = s.connection.readStream(e.id); r && (r.data.length || r.fin); r = s.connection.readStream(e.id)) req += new TextDecoder().decode(r.data);
      void s.write(e.id, new Uint8Array(SIZES[Number(req)] ?? 0), true);
    });
  });
  server.bind(0, '127.0.0.1', () => process.stdout.write(`${server.address().port}\n`));
}

async function transfer(port: number, providerName: string, serverPid: number): Promise<{ ms: number; drops: string }> {
  const p = provider(providerName);
  const t0 = performance.now();
  const session: QuicSession = await quicConnect({
    host: '127.0.0.1', port,
    tls: { provider: p, serverName: 'localhost', alpnProtocols: ['bench'], verifier: { verify: (chain) => Promise.resolve({ publicKey: chain[0] as Uint8Array, keyAlgorithm: 'ed25519' }) } },
  });
  const left = new Map<number, number>();
  const done = new Promise<void>((resolve, reject) => {
    session.on('stream', (e: StreamEvent) => {
      if (e.type !== 'readable' && e.type !== 'finished') return;
      for (let r = session.connection.readStream(e.id); r && (r.data.length || r.fin); r = session.connection.readStream(e.id)) {
        left.set(e.id, (left.get(e.id) ?? 0) - r.data.length);
        if (r.fin) {
          if (left.get(e.id) !== 0) reject(new Error(`stream ${e.id}: ${left.get(e.id)} bytes short`));
          left.delete(e.id);
          if (left.size === 0) resolve();
        }
      }
    });
    session.once('closed', () => reject(new Error('connection closed during the transfer')));
  });
  for (const [i, size] of SIZES.entries()) {
    const id = session.connection.openStream(true);
    left.set(id, size);
    await session.write(id, new TextEncoder().encode(String(i)), true);
  }
  await done;
  const ms = performance.now() - t0;
  // Read while the client's socket is open: its counter goes with it. The server's socket lives on
  // across rounds, so its count is a running total.
  const [client, server] = [socketDrops(process.pid), socketDrops(serverPid)];
  await session.close();
  return { ms, drops: client === undefined || server === undefined ? 'n/a' : `${client} / ${server}` };
}

export async function run(rounds = 3, providerName = 'noble'): Promise<string> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--serve', providerName], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout.once('data', (d: Buffer) => resolve(Number(String(d).trim())));
      child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
    });
    const rows: string[] = ['| round | provider | time (s) | MB/s | datagrams dropped by the kernel: client / server (running total) |', '|---|---|---|---|---|'];
    for (let r = 1; r <= rounds; r++) {
      const { ms, drops } = await transfer(port, providerName, child.pid as number);
      rows.push(`| ${r} | ${providerName} | ${(ms / 1000).toFixed(2)} | ${(10 / (ms / 1000)).toFixed(1)} | ${drops} |`);
    }
    return rows.join('\n');
  } finally {
    child.kill();
  }
}

if (process.argv[2] === '--serve') {
  void serve(process.argv[3] ?? 'noble');
} else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  run(Number(process.argv[2] ?? 3), process.argv[3] ?? 'noble').then((md) => console.log(md), (e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  });
}
