/**
 * Bulk TLS 1.3 in memory: 64 MiB of application data from client to server
 * through two TlsConnections, no sockets, so the figure is the engine and the
 * provider's AEAD alone (the record layer's cost per byte). For both
 * providers, AES-128-GCM and ChaCha20-Poly1305.
 *
 * Run alone: node --import tsx bench/tls-bulk-memory.ts
 */
import { pathToFileURL } from 'node:url';
import { createNodeCryptoProvider } from '../src/node/index.js';
import { NamedGroup, createNobleProvider, type CryptoProvider } from '../src/pq/index.js';
import { CipherSuite } from '../src/tls13/cipher-suites.js';
import { TlsConnection } from '../src/tls13/connection.js';
import { median } from './compare.js';
import { f1, f2 } from './side.js';

const ROUNDS = Number(process.env['PQTLS_BENCH_ROUNDS'] ?? 5);
const BYTES = 64 * 2 ** 20;
const CHUNK = 64 * 1024;

async function pair(provider: CryptoProvider, suite: CipherSuite): Promise<{ client: TlsConnection; server: TlsConnection }> {
  const key = await provider.generateKeyPair('ed25519');
  const now = (): number => 0;
  const server = TlsConnection.server({ provider, now, certificate: { chain: [key.publicKey], privateKey: key.privateKey, keyAlgorithm: 'ed25519' }, cipherSuites: [suite] });
  const client = await TlsConnection.client({
    provider, now, groups: [NamedGroup.x25519], cipherSuites: [suite],
    verifier: { verify: async () => ({ publicKey: key.publicKey, keyAlgorithm: 'ed25519' }) },
  });
  for (let i = 0; i < 10 && !(client.handshakeInfo && server.handshakeInfo); i++) {
    if (client.wantsWrite) await server.receive(client.takeOutput());
    if (server.wantsWrite) await client.receive(server.takeOutput());
  }
  if (!client.handshakeInfo || !server.handshakeInfo) throw new Error(`handshake failed: ${client.error?.message ?? server.error?.message}`);
  while (client.poll());
  while (server.poll());
  return { client, server };
}

async function round(provider: CryptoProvider, suite: CipherSuite): Promise<{ mbps: number; cpuPerMiB: number }> {
  const { client, server } = await pair(provider, suite);
  const chunk = new Uint8Array(CHUNK).fill(0x61);
  let received = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let sent = 0; sent < BYTES; sent += CHUNK) {
    await client.write(chunk);
    await server.receive(client.takeOutput());
    for (let e = server.poll(); e; e = server.poll()) if (e.type === 'data') received += e.data.length;
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  if (received !== BYTES) throw new Error(`received ${received} of ${BYTES}`);
  const mib = BYTES / 2 ** 20;
  return { mbps: mib / seconds, cpuPerMiB: (cpu.user + cpu.system) / 1000 / mib };
}

export async function run(): Promise<string> {
  const cases = [
    ['node:crypto', createNodeCryptoProvider(), CipherSuite.TLS_AES_128_GCM_SHA256],
    ['node:crypto', createNodeCryptoProvider(), CipherSuite.TLS_CHACHA20_POLY1305_SHA256],
    ['noble', createNobleProvider(), CipherSuite.TLS_AES_128_GCM_SHA256],
    ['noble', createNobleProvider(), CipherSuite.TLS_CHACHA20_POLY1305_SHA256],
  ] as const;
  const results = cases.map(() => [] as { mbps: number; cpuPerMiB: number }[]);
  for (let r = 0; r < ROUNDS; r++) for (const [i, [, p, s]] of cases.entries()) results[i]?.push(await round(p, s));
  const out = [
    `64 MiB client → server through two in-memory TlsConnections (write 64 KiB, receive, poll), Node ${process.versions.node}; medians of ${ROUNDS} rounds.`,
    '',
    '| provider | suite | MB/s | CPU ms / MiB (both sides) |',
    '| --- | --- | ---: | ---: |',
  ];
  for (const [i, [name, , suite]] of cases.entries()) {
    const rs = results[i] ?? [];
    out.push(`| ${name} | ${suite === CipherSuite.TLS_AES_128_GCM_SHA256 ? 'TLS_AES_128_GCM_SHA256' : 'TLS_CHACHA20_POLY1305_SHA256'} | ${f1(median(rs.map((x) => x.mbps)))} | ${f2(median(rs.map((x) => x.cpuPerMiB)))} |`);
  }
  return out.join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(await run());
}
