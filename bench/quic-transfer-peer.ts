/**
 * One pqtls side of `bench/quic-transfer.ts`, run as a child process so that
 * its CPU is its own and it gets a core of its own, as the OpenSSL programs do.
 * Both sides speak hq-interop (HTTP/0.9 over QUIC: `GET /NAME\r\n`, the body,
 * FIN), so every pairing with openssl-quic-client/-server moves the same bytes;
 * with `--alpn h3` they speak HTTP/3 instead (`pqtls/http3`), for ngtcp2's
 * examples, which know nothing else.
 *
 * Either mode takes `--lib DIR`: load pqtls from DIR (default `src/`).
 *
 *   quic-transfer-peer.ts server --provider noble|node [--alpn hq-interop|h3] --cert CHAIN --key KEY --files NAME=BYTES,...
 *     prints `listening PORT`; each body is NAME's size in bytes of a fixed pattern
 *   quic-transfer-peer.ts client --provider noble|node [--alpn hq-interop|h3] [--groups G,...] [--warmup NAME,...] --port P --ca ROOT --download DIR NAME...
 *     saves each body as DIR/NAME, prints `stats: bytes=B seconds=S cpu_ms=MS group=G suite=S alpn=A`
 *     and exits 0 once every body ended with FIN. Like openssl-quic-client and ngtcp2-client it writes
 *     what it receives to files, which the bench then checks against the served ones (SHA-256): the
 *     check costs none of the client's CPU, as it costs the peers' clients none. With `--warmup`, it
 *     first fetches those names on a connection of its own and prints a `warmup:` line like the stats
 *     line, so that the measured connection runs in a process that has run its code before.
 *
 * Both modes take `--max-datagram N`: DPLPMTUD searches up to N bytes of UDP payload, not the loopback
 * interface's size (the like-for-like row beside ngtcp2's ~1450-byte default).
 */
import { closeSync, openSync, readFileSync, writeSync, writevSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Http3Connection as Http3ConnectionT, Http3Event } from '../src/http3/connection.js';
import type { QuicSession } from '../src/node/quic.js';
import type { CryptoProvider } from '../src/pq/provider.js';
import type { StreamEvent } from '../src/quic/connection/streams.js';

// `--lib DIR` (anywhere in the arguments): load pqtls from DIR, which the bench makes its compiled `dist/`
// (what users run); `src/` otherwise.
const libAt = process.argv.indexOf('--lib');
const lib = libAt >= 0 ? process.argv.splice(libAt, 2)[1]! : fileURLToPath(new URL('../src', import.meta.url));
const load = <T>(path: string): Promise<T> => import(pathToFileURL(join(lib, path)).href) as Promise<T>;
const { concat, fromUtf8, utf8 } = await load<typeof import('../src/bytes.js')>('bytes.js');
const { Http3Connection } = await load<typeof import('../src/http3/connection.js')>('http3/connection.js');
const { H3ErrorCode } = await load<typeof import('../src/http3/errors.js')>('http3/errors.js');
const { createNodeCryptoProvider } = await load<typeof import('../src/node/crypto-provider.js')>('node/crypto-provider.js');
const { createQuicServer, quicConnect } = await load<typeof import('../src/node/quic.js')>('node/quic.js');
const { groupName } = await load<typeof import('../src/pq/ids.js')>('pq/ids.js');
const { createNobleProvider } = await load<typeof import('../src/pq/index.js')>('pq/index.js');
const { loadCertifiedKey, pemCertificates } = await load<typeof import('../src/tls13/credentials.js')>('tls13/credentials.js');
const { webPkiVerifier } = await load<typeof import('../src/tls13/verifier.js')>('tls13/verifier.js');

const CHUNK = 1 << 20;
const MAX_REQUEST = 4096;

function flag(args: string[], name: string, fallback?: string): string {
  const i = args.indexOf(name);
  const value = i >= 0 ? args[i + 1] : fallback;
  if (value === undefined) throw new Error(`${name} is required`);
  if (i >= 0) args.splice(i, 2);
  return value;
}

function alpnFlag(args: string[]): 'hq-interop' | 'h3' {
  const alpn = flag(args, '--alpn', 'hq-interop');
  if (alpn !== 'hq-interop' && alpn !== 'h3') throw new Error(`--alpn: hq-interop or h3, not ${alpn}`);
  return alpn;
}

/** `mtuDiscovery` for `--max-datagram N`, or nothing (the adapter's own ceiling). */
function mtuFlag(args: string[]): { mtuDiscovery?: { ceiling: number } } {
  const n = Number(flag(args, '--max-datagram', '0'));
  return n > 0 ? { mtuDiscovery: { ceiling: n } } : {};
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
  for (let r = session.connection.readStreamChunk(id); r; r = session.connection.readStreamChunk(id)) {
    sink(r.data);
    if (r.fin) return true;
    if (r.data.length === 0) break;
  }
  return false;
}

async function server(args: string[]): Promise<void> {
  const provider = providerNamed(flag(args, '--provider'));
  const alpn = alpnFlag(args);
  const mtu = mtuFlag(args);
  const certificate = await loadCertifiedKey(provider, readFileSync(flag(args, '--cert'), 'utf8'), readFileSync(flag(args, '--key'), 'utf8'));
  const sizes = new Map(flag(args, '--files').split(',').map((kv) => {
    const [name, bytes] = kv.split('=');
    return [name!, Number(bytes)] as const;
  }));
  const pattern = new Uint8Array(CHUNK).map((_, i) => (i * 131 + 7) & 0xff);
  const sock = createQuicServer({ ...mtu, tls: { provider, certificate, alpnProtocols: [alpn] } }, (session) => {
    if (alpn === 'h3') return serveH3(session, sizes, pattern);
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
          // `pattern` never changes: the stream may keep it rather than a copy (quinn's write_chunk).
          session.connection.writeStream(ev.id, pattern.subarray(0, n), sent + n >= size, { copy: false });
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

/**
 * HTTP/3 (RFC 9114) on one server session: each GET of a known name gets 200
 * with its content-length, then the body in 1 MiB DATA frames and FIN.
 */
function serveH3(session: QuicSession, sizes: ReadonlyMap<string, number>, pattern: Uint8Array): void {
  let h3: Http3ConnectionT | undefined;
  /** Stream events before `connected` (a request can arrive with the client's Finished), fed in once it is. */
  const early: StreamEvent[] = [];
  session.on('error', () => undefined);
  const answer = (): void => {
    if (!h3) return;
    for (let e: Http3Event | undefined = h3.poll(); e; e = h3.poll()) {
      if (e.type !== 'request') continue;
      const { streamId, request } = e;
      const size = request.method === 'GET' ? sizes.get((request.path ?? '').replace(/^\//, '')) : undefined;
      if (size === undefined) {
        h3.respond(streamId, 404, [['content-length', '0']]);
        continue;
      }
      if (!h3.respond(streamId, 200, [['content-length', String(size)]], undefined, size === 0)) continue;
      for (let sent = 0; sent < size; sent += CHUNK) {
        const n = Math.min(CHUNK, size - sent);
        if (!h3.sendData(streamId, pattern.subarray(0, n), sent + n >= size)) break;
      }
    }
  };
  session.on('connected', () => {
    void session.run(() => {
      h3 = new Http3Connection(session.connection);
      h3.start(Date.now());
      for (const ev of early.splice(0)) h3.handleStreamEvent(ev, Date.now());
      answer();
    });
  });
  session.on('stream', (ev: StreamEvent) => {
    // Flow-control credit ('writable') comes all through a transfer and is nothing to HTTP/3: no pass for it.
    if (ev.type === 'opened' || ev.type === 'writable') return;
    if (!h3) {
      early.push(ev);
      return;
    }
    // Writes made here go out with the run (the same pass as the hq-interop server's).
    void session.run(() => {
      h3!.handleStreamEvent(ev, Date.now());
      answer();
    });
  });
}

interface ClientSettings {
  readonly provider: CryptoProvider;
  readonly alpn: 'hq-interop' | 'h3';
  readonly groups: string;
  readonly mtu: ReturnType<typeof mtuFlag>;
  readonly port: number;
  readonly root: ReturnType<typeof pemCertificates>;
  readonly download: string;
}

async function client(args: string[]): Promise<void> {
  const provider = providerNamed(flag(args, '--provider'));
  const settings: ClientSettings = {
    provider, alpn: alpnFlag(args), groups: flag(args, '--groups', ''), mtu: mtuFlag(args), port: Number(flag(args, '--port')),
    root: pemCertificates(readFileSync(flag(args, '--ca'), 'utf8')), download: flag(args, '--download'),
  };
  const warmUp = flag(args, '--warmup', '');
  if (warmUp) {
    const w = await fetchAll(settings, warmUp.split(','));
    console.log(`warmup: ${w}`);
  }
  console.log(`stats: ${await fetchAll(settings, args)}`);
  process.exit(0);
}

/** Fetches `names` on a connection of its own, saving each body as download/NAME; what it took, as the stats line says. */
async function fetchAll(settings: ClientSettings, names: readonly string[]): Promise<string> {
  const { provider, alpn, groups, mtu, port, root, download } = settings;
  const cpu0 = cpuMs();
  const t0 = performance.now();
  let h3: Http3ConnectionT | undefined;
  /** Stream events until the requests are sent; replayed once they are known. */
  const early: StreamEvent[] = [];
  let onStream = (ev: StreamEvent): void => void early.push(ev);
  const session = await quicConnect({
    host: '127.0.0.1', port, ...mtu,
    tls: {
      provider, serverName: 'localhost', alpnProtocols: [alpn], verifier: webPkiVerifier({ provider, trustAnchors: root }),
      ...(groups ? { groups: groups.split(',') } : {}),
    },
    // Listening from the start: the server's HTTP/3 control stream may come with the end of the handshake.
    onSession: (s) => s.on('stream', (ev: StreamEvent) => onStream(ev)),
  });
  let bytes = 0;
  /** Per request stream: the file its body goes to. */
  const open = new Map<number, number>();
  /**
   * Writes what one pass over a stream read (a piece per packet, views of the packets) with one writev, not one
   * write per piece: a write from Node costs several µs more than write(2) from C, and per 1452-byte packet that
   * was a tenth of the client's CPU (≈ 3.6 ms/MB of ≈ 35). The file gets every byte still, as the peers' clients write theirs.
   */
  const save = (id: number, pieces: Uint8Array[]): void => {
    if (pieces.length === 0) return;
    const fd = open.get(id)!;
    let total = 0;
    for (const p of pieces) total += p.length;
    let done = writevSync(fd, pieces);
    if (done === total) return;
    // A short write (a full disk, a signal): the rest piece by piece.
    for (const p of pieces) {
      const skip = Math.min(done, p.length);
      done -= skip;
      for (let off = skip; off < p.length;) off += writeSync(fd, p, off);
    }
  };
  const ended = (id: number): boolean => {
    closeSync(open.get(id)!);
    open.delete(id);
    return open.size === 0;
  };
  const done = new Promise<void>((resolve, reject) => {
    session.on('error', reject);
    session.on('closed', (e: { reason?: string }) => reject(new Error(`connection closed: ${e.reason ?? ''}`)));
    onStream = alpn === 'h3'
      ? (ev) => {
        h3!.handleStreamEvent(ev, Date.now());
        for (let e: Http3Event | undefined = h3!.poll(); e; e = h3!.poll()) {
          if (e.type === 'closed') reject(new Error(`http3: ${e.reason}`));
          if (!('streamId' in e) || !open.has(e.streamId)) continue;
          if (e.type === 'response' && e.status !== 200) reject(new Error(`stream ${e.streamId}: status ${e.status}`));
          else if (e.type === 'reset') reject(new Error(`stream ${e.streamId} reset (${e.errorCode})`));
          else if (e.type === 'data') {
            bytes += e.data.length;
            save(e.streamId, [e.data]);
          } else if (e.type === 'end' && ended(e.streamId)) resolve();
        }
      }
      : (ev) => {
        if (ev.type === 'reset') reject(new Error(`stream ${ev.id} reset by the server (${ev.errorCode})`));
        if (ev.type !== 'readable' || !open.has(ev.id)) return;
        const pieces: Uint8Array[] = [];
        const fin = drain(session, ev.id, (d) => {
          bytes += d.length;
          if (d.length > 0) pieces.push(d);
        });
        save(ev.id, pieces);
        if (fin && ended(ev.id)) resolve();
      };
  });
  await session.run(() => {
    if (alpn === 'h3') {
      h3 = new Http3Connection(session.connection);
      h3.start(Date.now());
    }
    for (const name of names) {
      const id = h3 ? h3.get('localhost', `/${name}`) : session.connection.openStream(true);
      if (!h3) session.connection.writeStream(id, utf8(`GET /${name}\r\n`), true);
      open.set(id, openSync(join(download, name), 'w'));
    }
    for (const ev of early.splice(0)) onStream(ev);
  });
  await done;
  const seconds = (performance.now() - t0) / 1000;
  const cpu = Math.round(cpuMs() - cpu0);
  const info = session.handshake;
  await session.close(alpn === 'h3' ? H3ErrorCode.H3_NO_ERROR : 0, 'done');
  return `bytes=${bytes} seconds=${seconds.toFixed(3)} cpu_ms=${cpu} ` +
    `group=${info?.group === undefined ? '-' : groupName(info.group)} suite=${info?.cipherSuite.name ?? '-'} alpn=${info?.alpn ?? '-'}`;
}

const [mode, ...rest] = process.argv.slice(2);
(mode === 'server' ? server(rest) : mode === 'client' ? client(rest) : Promise.reject(new Error('mode: server | client'))).catch((e: unknown) => {
  console.error(`quic-transfer-peer: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
