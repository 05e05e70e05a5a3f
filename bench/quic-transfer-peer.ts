/**
 * One pqtls side of `bench/quic-transfer.ts`, run as a child process so that
 * its CPU is its own and it gets a core of its own, as the OpenSSL programs do.
 * Both sides speak hq-interop (HTTP/0.9 over QUIC: `GET /NAME\r\n`, the body,
 * FIN), so every pairing with openssl-quic-client/-server moves the same bytes.
 *
 *   quic-transfer-peer.ts server --provider noble|node --cert CHAIN --key KEY --files NAME=BYTES,...
 *     prints `listening PORT`; each body is NAME's size in bytes of a fixed pattern
 *   quic-transfer-peer.ts client --provider noble|node --port P --ca ROOT NAME...
 *     prints `stats: bytes=B seconds=S cpu_ms=MS` and exits 0 once every body ended with FIN
 */
import { readFileSync } from 'node:fs';
import { concat, fromUtf8, utf8 } from '../src/bytes.js';
import { createNodeCryptoProvider } from '../src/node/crypto-provider.js';
import { createQuicServer, quicConnect, type QuicSession } from '../src/node/quic.js';
import { createNobleProvider } from '../src/pq/index.js';
import type { CryptoProvider } from '../src/pq/provider.js';
import type { StreamEvent } from '../src/quic/connection/streams.js';
import { loadCertifiedKey, pemCertificates } from '../src/tls13/credentials.js';
import { webPkiVerifier } from '../src/tls13/verifier.js';

const ALPN = 'hq-interop';
const CHUNK = 1 << 20;
const MAX_REQUEST = 4096;

function flag(args: string[], name: string): string {
  const i = args.indexOf(name);
  const value = i >= 0 ? args[i + 1] : undefined;
  if (value === undefined) throw new Error(`${name} is required`);
  args.splice(i, 2);
  return value;
}

function providerNamed(name: string): CryptoProvider {
  if (name === 'noble') return createNobleProvider();
  if (name === 'node') return createNodeCryptoProvider();
  throw new Error(`unknown provider ${name}`);
}

const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** Reads what stream `id` has now; `fin` once its end was read. */
function drain(session: QuicSession, id: number, sink: (data: Uint8Array) => void): boolean {
  for (let r = session.connection.readStream(id); r; r = session.connection.readStream(id)) {
    sink(r.data);
    if (r.fin) return true;
    if (r.data.length === 0) break;
  }
  return false;
}

async function server(args: string[]): Promise<void> {
  const provider = providerNamed(flag(args, '--provider'));
  const certificate = await loadCertifiedKey(provider, readFileSync(flag(args, '--cert'), 'utf8'), readFileSync(flag(args, '--key'), 'utf8'));
  const sizes = new Map(flag(args, '--files').split(',').map((kv) => {
    const [name, bytes] = kv.split('=');
    return [name!, Number(bytes)] as const;
  }));
  const pattern = new Uint8Array(CHUNK).map((_, i) => (i * 131 + 7) & 0xff);
  const sock = createQuicServer({ tls: { provider, certificate, alpnProtocols: [ALPN] } }, (session) => {
    const requests = new Map<number, Uint8Array[]>();
    const answered = new Set<number>();
    session.on('error', () => undefined);
    session.on('stream', (ev: StreamEvent) => {
      if (ev.type !== 'readable' || (ev.id & 3) !== 0) return; // client-initiated bidirectional only
      const pieces = requests.get(ev.id) ?? [];
      requests.set(ev.id, pieces);
      const fin = drain(session, ev.id, (d) => pieces.push(d));
      if (answered.has(ev.id)) return; // the rest of a request already answered (its FIN, say)
      const request = concat(...pieces);
      if (!fin && !request.includes(0x0a) && request.length < MAX_REQUEST) return;
      answered.add(ev.id);
      requests.delete(ev.id);
      const match = /^GET \/(\S+)/.exec(fromUtf8(request.subarray(0, Math.min(request.length, MAX_REQUEST))));
      const size = match ? sizes.get(match[1]!) : undefined;
      if (size === undefined) {
        void session.run(() => session.connection.resetStream(ev.id, 0x10c));
        return;
      }
      void session.run(() => {
        for (let sent = 0; sent < size; sent += CHUNK) {
          const n = Math.min(CHUNK, size - sent);
          session.connection.writeStream(ev.id, pattern.subarray(0, n), sent + n >= size);
        }
        if (size === 0) session.connection.writeStream(ev.id, new Uint8Array(0), true);
      });
    });
  });
  sock.bind(0, '127.0.0.1', () => {
    console.log(`listening ${sock.address().port}`);
  });
  process.on('SIGTERM', () => process.exit(0));
}

async function client(args: string[]): Promise<void> {
  const provider = providerNamed(flag(args, '--provider'));
  const port = Number(flag(args, '--port'));
  const root = pemCertificates(readFileSync(flag(args, '--ca'), 'utf8'));
  const names = args;
  const cpu0 = cpuMs();
  const t0 = performance.now();
  const session = await quicConnect({
    host: '127.0.0.1', port,
    tls: { provider, serverName: 'localhost', alpnProtocols: [ALPN], verifier: webPkiVerifier({ provider, trustAnchors: root }) },
  });
  let bytes = 0;
  const open = new Set<number>();
  const done = new Promise<void>((resolve, reject) => {
    session.on('error', reject);
    session.on('closed', (e: { reason?: string }) => reject(new Error(`connection closed: ${e.reason ?? ''}`)));
    session.on('stream', (ev: StreamEvent) => {
      if (ev.type === 'reset') reject(new Error(`stream ${ev.id} reset by the server (${ev.errorCode})`));
      if (ev.type !== 'readable' || !open.has(ev.id)) return;
      if (drain(session, ev.id, (d) => (bytes += d.length))) {
        open.delete(ev.id);
        if (open.size === 0) resolve();
      }
    });
  });
  for (const name of names) {
    const id = session.connection.openStream(true);
    open.add(id);
    await session.write(id, utf8(`GET /${name}\r\n`), true);
  }
  await done;
  const seconds = (performance.now() - t0) / 1000;
  console.log(`stats: bytes=${bytes} seconds=${seconds.toFixed(3)} cpu_ms=${Math.round(cpuMs() - cpu0)}`);
  await session.close(0, 'done');
  process.exit(0);
}

const [mode, ...rest] = process.argv.slice(2);
(mode === 'server' ? server(rest) : mode === 'client' ? client(rest) : Promise.reject(new Error('mode: server | client'))).catch((e: unknown) => {
  console.error(`quic-transfer-peer: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
