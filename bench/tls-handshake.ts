/**
 * Full TLS 1.3 handshakes: X25519MLKEM768 key exchange, an ML-DSA-65 chain of
 * two (root + leaf), the client validating it with webPkiVerifier.
 *
 * 1. pqtls client and server in memory (bytes moved by a pump): handshakes/s
 *    and wall ms per handshake spent inside each side's calls.
 * 2. The same handshakes with each side's CryptoProvider wrapped in a timing
 *    proxy: time inside the primitives per side, so engine overhead =
 *    (side − provider) / provider shows (goal: under 15%), and which primitive
 *    dominates.
 * 3. In the same rounds, over loopback TCP: pqtls through the Node adapter,
 *    and node:tls under Node 24 (OpenSSL 3.5) with the same certificates.
 *
 * Rounds are interleaved so every stack sees the same machine state; figures
 * are medians over rounds.
 *
 * Run alone: node --import tsx bench/tls-handshake.ts
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { connect, createServer } from '../src/node/index.js';
import { NamedGroup, SignatureScheme, groupName, signatureSchemeName } from '../src/pq/ids.js';
import { createNobleProvider } from '../src/pq/noble/index.js';
import type { CryptoProvider } from '../src/pq/provider.js';
import type { CertificateVerifier, ClientOptions, ServerOptions } from '../src/tls13/config.js';
import { TlsConnection } from '../src/tls13/connection.js';
import { webPkiVerifier } from '../src/tls13/verifier.js';
import { median } from './compare.js';
import { f1, f2, pct, timed, timedPump, type Side } from './side.js';
import { ProviderClock, timedProvider, type PrimitiveStats } from './timed-provider.js';
import { SERVER_NAME, mintPki, writePem, type BenchPki } from './tls-fixtures.js';

const ROUNDS = 7;
const MEMORY_PER_ROUND = 20;
const TCP_PER_ROUND = 20;
const NODE24_PER_ROUND = 200;
const NODE24_WARM_UP = 20;
/** ML-DSA signing is rejection-sampled: its time varies from call to call, so average over enough calls. */
const PRIMITIVE_REPS = 20;
const GROUP = 'X25519MLKEM768';

const NODE24 = fileURLToPath(new URL('../.peers/bin/node24', import.meta.url));
const NODE24_SCRIPT = fileURLToPath(new URL('./node24-tls-handshake.mjs', import.meta.url));

const run$ = promisify(execFile);




/** Labels provider calls made during chain validation, and times the verifier as a whole. */
function chainLabelled(inner: CertificateVerifier, clock: ProviderClock, spent: { ms: number }): CertificateVerifier {
  return {
    async verify(chain, options) {
      const t0 = performance.now();
      clock.context = 'chain';
      try {
        return await inner.verify(chain, options);
      } finally {
        clock.context = undefined;
        spent.ms += performance.now() - t0;
      }
    },
  };
}

interface Setup {
  readonly pki: BenchPki;
  /** Owns the leaf key; the in-memory server wraps it, the TCP server uses it bare. */
  readonly serverProvider: CryptoProvider;
  readonly client: Side;
  readonly server: Side;
  readonly verifier: { ms: number };
  readonly memoryClient: ClientOptions;
  readonly memoryServer: ServerOptions;
}

async function setup(): Promise<Setup> {
  const serverProvider = createNobleProvider();
  const pki = await mintPki(serverProvider);
  const client: Side = { ms: 0, clock: new ProviderClock() };
  const server: Side = { ms: 0, clock: new ProviderClock() };
  const verifier = { ms: 0 };
  const clientProvider = timedProvider(createNobleProvider(), client.clock);
  const now = (): number => pki.now;
  return {
    pki, serverProvider, client, server, verifier,
    memoryClient: {
      provider: clientProvider, now, serverName: SERVER_NAME, groups: [GROUP], keyShareGroups: [GROUP],
      verifier: chainLabelled(webPkiVerifier({ provider: clientProvider, trustAnchors: [pki.rootDer] }), client.clock, verifier),
    },
    memoryServer: { provider: timedProvider(serverProvider, server.clock), now, groups: [GROUP], certificate: pki.certificate },
  };
}

/** One handshake between two in-memory connections, each side's calls timed separately. */
async function memoryHandshake(s: Setup): Promise<{ group: string; scheme: string; suite: string }> {
  const server = await timed(s.server, () => TlsConnection.server(s.memoryServer));
  const client = await timed(s.client, () => TlsConnection.client(s.memoryClient));
  await timedPump(client, s.client, server, s.server);
  const info = client.handshakeInfo;
  if (!info || !server.handshakeInfo) {
    throw new Error(`in-memory handshake failed: ${client.error?.message ?? server.error?.message ?? 'did not complete'}`);
  }
  return {
    group: info.group === undefined ? 'none' : groupName(info.group),
    scheme: info.peerSignatureScheme === undefined ? '?' : signatureSchemeName(info.peerSignatureScheme),
    suite: info.cipherSuite.name,
  };
}

interface MemoryRound {
  readonly handshakesPerSecond: number;
  readonly cpuMs: number;
  readonly clientMs: number;
  readonly serverMs: number;
  readonly clientProviderMs: number;
  readonly serverProviderMs: number;
  readonly verifierMs: number;
  /** `side: primitive` → per-handshake figures. */
  readonly primitives: Map<string, PrimitiveStats>;
}

async function memoryRound(s: Setup, n: number): Promise<MemoryRound> {
  s.client.ms = 0;
  s.server.ms = 0;
  s.verifier.ms = 0;
  s.client.clock.reset();
  s.server.clock.reset();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await memoryHandshake(s);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const primitives = new Map<string, PrimitiveStats>();
  for (const [side, clock] of [['client', s.client.clock], ['server', s.server.clock]] as const) {
    for (const [name, st] of clock.primitives) primitives.set(`${side}: ${name}`, { calls: st.calls / n, ms: st.ms / n });
  }
  return {
    handshakesPerSecond: n / seconds,
    cpuMs: (cpu.user + cpu.system) / 1000 / n,
    clientMs: s.client.ms / n,
    serverMs: s.server.ms / n,
    clientProviderMs: s.client.clock.totalMs / n,
    serverProviderMs: s.server.clock.totalMs / n,
    verifierMs: s.verifier.ms / n,
    primitives,
  };
}

interface TcpRound {
  readonly handshakesPerSecond: number;
  readonly cpuMs: number;
}

/** pqtls over loopback TCP through the Node adapter, server and client in this process. */
async function tcpBench(s: Setup): Promise<{ round: (n: number) => Promise<TcpRound>; close: () => void }> {
  let served: (() => void) | undefined;
  let failed: ((e: unknown) => void) | undefined;
  const now = (): number => s.pki.now;
  const server = createServer({ provider: s.serverProvider, now, groups: [GROUP], certificate: s.pki.certificate }, (sock) => {
    sock.on('error', () => undefined);
    served?.();
  });
  server.on('tlsClientError', (e: unknown) => failed?.(e));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const provider = createNobleProvider();
  const verifier = webPkiVerifier({ provider, trustAnchors: [s.pki.rootDer] });

  const handshake = async (): Promise<void> => {
    const serverDone = new Promise<void>((resolve, reject) => {
      served = resolve;
      failed = reject;
    });
    const sock = await connect({
      host: '127.0.0.1', port, provider, now, serverName: SERVER_NAME, verifier, groups: [GROUP], keyShareGroups: [GROUP],
    });
    // The client closes only after the server has read its Finished.
    await serverDone;
    sock.destroy();
  };
  return {
    round: async (n) => {
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      for (let i = 0; i < n; i++) await handshake();
      const seconds = (performance.now() - t0) / 1000;
      const cpu = process.cpuUsage(cpu0);
      return { handshakesPerSecond: n / seconds, cpuMs: (cpu.user + cpu.system) / 1000 / n };
    },
    close: () => server.close(),
  };
}

interface Node24Round extends TcpRound {
  readonly node: string;
  readonly openssl: string;
  readonly group: string;
  readonly cipher: string;
}

async function node24Round(pemDir: string, n: number): Promise<Node24Round> {
  const { stdout } = await run$(NODE24, [NODE24_SCRIPT, pemDir, String(n), String(NODE24_WARM_UP)], { timeout: 60_000 });
  const r = JSON.parse(stdout) as Omit<Node24Round, 'cpuMs'> & { cpuMsPerHandshake: number };
  return { ...r, cpuMs: r.cpuMsPerHandshake };
}

/**
 * The handshake's expensive primitives alone, through a bare provider: ms per
 * operation, one round's figure per entry. Key exchanges are timed as a full
 * exchange (generate + encapsulate + complete); the message signed is the size
 * of a CertificateVerify input.
 */
async function primitiveBench(): Promise<{ names: string[]; round: () => Promise<number[]> }> {
  const provider = createNobleProvider();
  const ops: [string, () => Promise<unknown>][] = [];
  for (const g of [NamedGroup.X25519MLKEM768, NamedGroup.MLKEM768, NamedGroup.x25519]) {
    const kex = provider.keyExchange(g);
    ops.push([`${groupName(g)} exchange`, async () => {
      const share = await kex.generate();
      const reply = await kex.encapsulate(share.share);
      return share.complete(reply.share);
    }]);
  }
  const key = await provider.generateKeyPair('ml-dsa-65');
  const message = await provider.random(130);
  const signature = await provider.sign(SignatureScheme.mldsa65, key.privateKey, message);
  ops.push(['ML-DSA-65 sign', () => provider.sign(SignatureScheme.mldsa65, key.privateKey, message)]);
  ops.push(['ML-DSA-65 verify', () => provider.verify(SignatureScheme.mldsa65, key.publicKey, message, signature)]);
  for (const [, op] of ops) for (let i = 0; i < PRIMITIVE_REPS; i++) await op();
  return {
    names: ops.map(([name]) => name),
    round: async () => {
      const out: number[] = [];
      for (const [, op] of ops) {
        const t0 = performance.now();
        for (let i = 0; i < PRIMITIVE_REPS; i++) await op();
        out.push((performance.now() - t0) / PRIMITIVE_REPS);
      }
      return out;
    },
  };
}

/** Entries cheaper than this per handshake are summed into one row. */
const DETAIL_MS = 0.05;

function kindOf(primitive: string): string {
  if (/: sign mldsa/.test(primitive)) return 'ML-DSA-65 sign (server CertificateVerify)';
  if (/: verify mldsa.*\(chain\)/.test(primitive)) return 'ML-DSA-65 verify of the chain (leaf certificate signature)';
  if (/: verify mldsa/.test(primitive)) return 'ML-DSA-65 verify of CertificateVerify';
  if (/X25519MLKEM768/.test(primitive)) return `${GROUP} key exchange (ML-KEM-768 + X25519)`;
  if (/GCM|CHACHA/i.test(primitive)) return 'AEAD (record protection)';
  return 'hashing, HMAC, HKDF, random';
}

function medianPrimitives(rounds: readonly MemoryRound[]): { name: string; calls: number; ms: number }[] {
  const names = new Set(rounds.flatMap((r) => [...r.primitives.keys()]));
  return [...names]
    .map((name) => ({
      name,
      calls: median(rounds.map((r) => r.primitives.get(name)?.calls ?? 0)),
      ms: median(rounds.map((r) => r.primitives.get(name)?.ms ?? 0)),
    }))
    .sort((a, b) => b.ms - a.ms);
}

/** Runs the benchmark and returns markdown tables. */
export async function run(): Promise<string> {
  const s = await setup();
  const first = await memoryHandshake(s);
  if (first.group !== GROUP || first.scheme !== 'mldsa65') throw new Error(`negotiated ${first.group}/${first.scheme}, not ${GROUP}/mldsa65`);
  await memoryHandshake(s);

  const alone = await primitiveBench();
  const tcp = await tcpBench(s);
  const haveNode24 = existsSync(NODE24);
  const pem = haveNode24 ? await writePem(s.serverProvider, s.pki) : undefined;
  const memory: MemoryRound[] = [];
  const overTcp: TcpRound[] = [];
  const node24: Node24Round[] = [];
  let node24Failure: string | undefined;
  const aloneRounds: number[][] = [];
  try {
    await tcp.round(2); // warm-up
    for (let r = 0; r < ROUNDS; r++) {
      memory.push(await memoryRound(s, MEMORY_PER_ROUND));
      overTcp.push(await tcp.round(TCP_PER_ROUND));
      if (pem && node24Failure === undefined) {
        // A broken peer degrades the benchmark to pqtls alone; the output says why.
        try {
          node24.push(await node24Round(pem.dir, NODE24_PER_ROUND));
        } catch (e) {
          node24Failure = e instanceof Error ? e.message.split('\n').slice(0, 3).join(' ') : String(e);
        }
      }
      aloneRounds.push(await alone.round());
    }
  } finally {
    tcp.close();
    pem?.remove();
  }

  const m = (f: (r: MemoryRound) => number): number => median(memory.map(f));
  const mem = {
    hps: m((r) => r.handshakesPerSecond), cpu: m((r) => r.cpuMs),
    client: m((r) => r.clientMs), server: m((r) => r.serverMs),
    clientProvider: m((r) => r.clientProviderMs), serverProvider: m((r) => r.serverProviderMs),
    clientOverhead: m((r) => (r.clientMs - r.clientProviderMs) / r.clientProviderMs),
    serverOverhead: m((r) => (r.serverMs - r.serverProviderMs) / r.serverProviderMs),
    verifier: m((r) => r.verifierMs),
    verifierProvider: m((r) => [...r.primitives].filter(([k]) => k.endsWith('(chain)')).reduce((a, [, v]) => a + v.ms, 0)),
  };
  const tcpHps = median(overTcp.map((r) => r.handshakesPerSecond));
  const tcpCpu = median(overTcp.map((r) => r.cpuMs));

  const out: string[] = [
    `TLS 1.3 full handshake: ${GROUP}, ML-DSA-65 chain of two (root + leaf), client validating the chain with webPkiVerifier; ` +
      `suite ${first.suite}. Median of ${ROUNDS} interleaved rounds (in-memory ${MEMORY_PER_ROUND}, TCP ${TCP_PER_ROUND}, ` +
      `node:tls ${NODE24_PER_ROUND} handshakes per round). pqtls runs on Node ${process.versions.node}.`,
    '',
    '| transport | stack | handshakes/s | process CPU ms / handshake (both sides) | client ms | server ms |',
    '| --- | --- | ---: | ---: | ---: | ---: |',
    `| in-memory | pqtls | ${f1(mem.hps)} | ${f2(mem.cpu)} | ${f2(mem.client)} | ${f2(mem.server)} |`,
    `| loopback TCP | pqtls (Node adapter) | ${f1(tcpHps)} | ${f2(tcpCpu)} | | |`,
  ];
  const n24 = node24[0];
  if (node24Failure !== undefined) {
    out.push('', `**node:tls comparison skipped: the Node 24 run failed: ${node24Failure}**`);
  } else if (n24) {
    const hps = median(node24.map((r) => r.handshakesPerSecond));
    const cpu = median(node24.map((r) => r.cpuMs));
    out.push(
      `| loopback TCP | node:tls (Node ${n24.node}, OpenSSL ${n24.openssl}; ${n24.group}, ${n24.cipher}) | ${f1(hps)} | ${f2(cpu)} | | |`,
      '',
      `Over TCP, pqtls manages ${pct(tcpHps / hps)} of node:tls's handshakes/s and spends ${f1(tcpCpu / cpu)}× its CPU per handshake.`,
    );
  } else {
    out.push('', `**node:tls comparison skipped: Node 24 is not installed at ${NODE24}** (run scripts/install-peers.sh).`);
  }

  const clientEngine = mem.client - mem.clientProvider;
  const serverEngine = mem.server - mem.serverProvider;
  out.push(
    '',
    'Where the in-memory time goes (ms per handshake; "provider" is time inside CryptoProvider calls, ' +
      '"engine" everything else: state machine, codecs, records, X.509 parsing and path building). Goal: overhead under 15%.',
    '',
    '| side | total | provider | engine | overhead = engine / provider |',
    '| --- | ---: | ---: | ---: | ---: |',
    `| client | ${f2(mem.client)} | ${f2(mem.clientProvider)} | ${f2(clientEngine)} | ${pct(mem.clientOverhead)} |`,
    `| server | ${f2(mem.server)} | ${f2(mem.serverProvider)} | ${f2(serverEngine)} | ${pct(mem.serverOverhead)} |`,
    '',
    `Of the client's time, the certificate verifier takes ${f2(mem.verifier)} ms, ${f2(mem.verifier - mem.verifierProvider)} ms of it outside the provider.`,
    '',
    'Provider calls per handshake, by cost ("(chain)" = made by the certificate verifier):',
    '',
    '| side: primitive | calls | ms | share of all provider time |',
    '| --- | ---: | ---: | ---: |',
  );
  const prims = medianPrimitives(memory);
  const allProvider = mem.clientProvider + mem.serverProvider;
  const shown = prims.filter((x) => x.ms >= DETAIL_MS);
  for (const p of shown) out.push(`| ${p.name} | ${f1(p.calls)} | ${p.ms.toFixed(3)} | ${pct(p.ms / allProvider)} |`);
  const rest = prims.filter((x) => x.ms < DETAIL_MS);
  if (rest.length) {
    const ms = rest.reduce((a, p) => a + p.ms, 0);
    out.push(`| ${rest.length} cheaper entries (hash contexts, HMAC, HKDF-Extract, random, keying) | ${f1(rest.reduce((a, p) => a + p.calls, 0))} | ${ms.toFixed(3)} | ${pct(ms / allProvider)} |`);
  }
  out.push('', 'The same, by kind of work:', '', '| kind | ms per handshake | share of all provider time |', '| --- | ---: | ---: |');
  const kinds = new Map<string, number>();
  for (const p of prims) kinds.set(kindOf(p.name), (kinds.get(kindOf(p.name)) ?? 0) + p.ms);
  const byKind = [...kinds].sort((a, b) => b[1] - a[1]);
  for (const [kind, ms] of byKind) out.push(`| ${kind} | ${f2(ms)} | ${pct(ms / allProvider)} |`);
  const [topKind, topMs] = byKind[0] ?? ['none', 0];
  out.push('', `Dominant: ${topKind}, ${pct(topMs / allProvider)} of all provider time and ${pct(topMs / (mem.client + mem.server))} of the whole handshake.`);
  out.push(
    '',
    `The expensive primitives alone (bare provider, ${PRIMITIVE_REPS} calls per round; ${GROUP} is ML-KEM-768 + X25519):`,
    '',
    '| primitive | ms per operation |',
    '| --- | ---: |',
    ...alone.names.map((name, i) => `| ${name} | ${f2(median(aloneRounds.map((r) => r[i] as number)))} |`),
  );
  return out.join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(await run());
}
