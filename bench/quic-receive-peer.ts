/**
 * The child of `bench/quic-receive.ts`: a server endpoint and a client endpoint
 * in one process, no socket, the server sending one stream of `--mib` MiB in
 * 1452-byte datagrams. Only the client's receiving side is timed: its
 * endpoint's `handleDatagrams` for each batch the server sent and the reads
 * that drain the stream after it (readStreamChunk, the bytes counted, not
 * kept). That is the receiver's own per-packet work — header parsing and
 * routing, header protection, decryption, frames, reassembly, ACK ranges and
 * the application's reads — without the socket, the file and the peer, whose
 * costs and the machine's load make the rows of quic-transfer noisy. It counts the CPU time of the
 * main thread (process.threadCpuUsage, Node 23.9+) in those calls.
 * Each datagram gets an ArrayBuffer of its own, as Node's dgram hands them over.
 *
 *   quic-receive-peer.ts --lib DIR --pem DIR --mib N
 *     prints `stats: packets=P bytes=B total_us=T windows=W1,W2,...` (µs per packet over each run of 2000 packets)
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { QuicConnection } from '../src/quic/connection/connection.js';

const args = process.argv.slice(2);
const flag = (name: string): string => {
  const i = args.indexOf(name);
  if (i < 0 || args[i + 1] === undefined) throw new Error(`${name} is required`);
  return args[i + 1] as string;
};
const lib = flag('--lib');
const pem = flag('--pem');
const bytes = Number(flag('--mib')) * (1 << 20);
const load = <T>(path: string): Promise<T> => import(pathToFileURL(join(lib, path)).href) as Promise<T>;
const { createNodeCryptoProvider } = await load<typeof import('../src/node/crypto-provider.js')>('node/crypto-provider.js');
const { QuicEndpoint } = await load<typeof import('../src/quic/endpoint.js')>('quic/endpoint.js');
const { loadCertifiedKey, pemCertificates } = await load<typeof import('../src/tls13/credentials.js')>('tls13/credentials.js');
const { webPkiVerifier } = await load<typeof import('../src/tls13/verifier.js')>('tls13/verifier.js');

const WINDOW = 2000;
/**
 * CPU time of this thread, in ms: the receiver's work whether or not the machine's load takes the core away
 * meanwhile (wall-clock time counted that too). V8's compiler threads are not in it.
 */
const cpuMs = (): number => {
  const u = (process as unknown as { threadCpuUsage(): NodeJS.CpuUsage }).threadCpuUsage();
  return (u.user + u.system) / 1000;
};
const BATCH = 64;
const provider = createNodeCryptoProvider();
const clock = (): number => Date.now();
const certificate = await loadCertifiedKey(provider, readFileSync(join(pem, 'chain.pem'), 'utf8'), readFileSync(join(pem, 'key.pem'), 'utf8'));
const mtu = { mtuDiscovery: { ceiling: 1452 } };
const server = await QuicEndpoint.create({ provider, server: { ...mtu, tls: { provider, now: clock, certificate, alpnProtocols: ['hq-interop'] } } });
const client = await QuicEndpoint.create({ provider });
let now = 1_000_000;
const conn = await client.connect({
  ...mtu,
  tls: { provider, now: clock, serverName: 'localhost', alpnProtocols: ['hq-interop'], verifier: webPkiVerifier({ provider, trustAnchors: pemCertificates(readFileSync(join(pem, 'root.pem'), 'utf8')) }) },
}, 'server', now);
const pattern = new Uint8Array(1 << 20).map((_, i) => (i * 131 + 7) & 0xff);
let accepted: QuicConnection | undefined;
let answered = false;

/** The server: the stream's whole body as soon as the request arrives. */
function serve(): void {
  for (let e = server.poll(); e; e = server.poll()) if (e.type === 'connection') accepted = e.connection;
  for (let ce = server.pollConnectionEvent(); ce; ce = server.pollConnectionEvent()) {
    const ev = ce.event;
    if (answered || !accepted || ev.type !== 'stream' || ev.event.type !== 'readable') continue;
    const id = ev.event.id;
    while (accepted.readStreamChunk(id)?.data.length) { /* the request: read and dropped */ }
    answered = true;
    for (let sent = 0; sent < bytes; sent += pattern.length) {
      const n = Math.min(pattern.length, bytes - sent);
      accepted.writeStream(id, pattern.subarray(0, n), sent + n >= bytes, { copy: false });
    }
  }
}

let stream = -1;
let received = 0;
let fin = false;
let packets = 0;
let totalMs = 0;
let windowStart = { packets: 0, ms: 0 };
const windows: string[] = [];
for (let round = 0; !fin; round++) {
  if (round > 10_000_000) throw new Error('the transfer did not finish');
  const up = await client.pollTransmits(now, BATCH);
  if (up.length) await server.handleDatagrams(up.map((t) => ({ data: t.data, remote: 'client' })), now);
  serve();
  const down = (await server.pollTransmits(now, BATCH)).map((t) => ({ data: t.data.slice(), remote: 'server' }));
  if (stream < 0) {
    if (down.length) await client.handleDatagrams(down, now);
    while (client.pollConnectionEvent()) { /* the handshake's events */ }
    if (conn.isHandshakeComplete) {
      stream = conn.openStream(true);
      conn.writeStream(stream, new TextEncoder().encode('GET /one\r\n'), true);
    }
  } else if (down.length) {
    const t0 = cpuMs();
    await client.handleDatagrams(down, now);
    for (let ce = client.pollConnectionEvent(); ce; ce = client.pollConnectionEvent()) {
      if (ce.event.type !== 'stream' || ce.event.event.type !== 'readable') continue;
      for (let r = conn.readStreamChunk(stream); r; r = conn.readStreamChunk(stream)) {
        received += r.data.length;
        if (r.fin) fin = true;
        if (r.fin || r.data.length === 0) break;
      }
    }
    totalMs += cpuMs() - t0;
    packets += down.length;
    if (packets - windowStart.packets >= WINDOW) {
      windows.push(((totalMs - windowStart.ms) * 1000 / (packets - windowStart.packets)).toFixed(2));
      windowStart = { packets, ms: totalMs };
    }
  }
  now += 0.25;
  for (const ep of [server, client]) {
    const due = ep.pollTimeout();
    if (due !== undefined && due <= now) await ep.handleTimeout(now);
  }
}
if (received !== bytes) throw new Error(`received ${received} of ${bytes} bytes`);
console.log(`stats: packets=${packets} bytes=${received} total_us=${Math.round(totalMs * 1000)} windows=${windows.join(',')}`);
