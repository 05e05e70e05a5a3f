/**
 * `pqtls server --quic` and `pqtls client --quic`: the QUIC side of the CLI,
 * in the QUIC interop runner's contract (BRIEF: CLI contract). The server
 * serves a directory (`--www`) over HTTP/3 or hq-interop, whichever ALPN the
 * client chose, or echoes / prints streams (`--echo`, for tests and demos).
 * The client fetches URLs over concurrent streams and saves them under
 * `--download`, or sends one message (`--send`) and prints the reply.
 */
import { mkdir, readFile, realpath, writeFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { concat } from '../bytes.js';
import { groupName } from '../pq/ids.js';
import { createQuicServer, quicConnect, type QuicConnectOptions, type QuicListenOptions, type QuicSession } from '../node/quic.js';
import type { QuicEvent } from '../quic/connection/connection.js';
import { StreamsBlockedError, type StreamEvent } from '../quic/connection/streams.js';
import type { QuicVersion } from '../quic/versions.js';
import type { HandshakeInfo } from '../tls13/handshake/common.js';
import { Http3Connection, type Http3Event } from '../http3/connection.js';
import { HqConnection, type HqEvent } from '../http3/hq.js';
import { H3ErrorCode, h3ErrorName } from '../http3/errors.js';
import { CliError, type CliIo } from './command.js';
import { MemorySessionStore } from '../tls13/session.js';
import { K_INITIAL_RTT } from '../quic/connection/rtt.js';

const now = (): number => performance.timeOrigin + performance.now();
/** Stream events held for a server connection until its handshake completes (the connection bounds its own streams too). */
const MAX_EARLY_STREAM_EVENTS = 4096;

/** `pqtls client --quic HOST:PORT --send TEXT`: one bidirectional stream carries TEXT, the reply is read until FIN. */
export async function quicEchoClient(
  io: CliIo,
  o: { host: string; port: number; send: string | undefined; json: boolean; start: number; connect: Omit<QuicConnectOptions, 'host' | 'port'> },
  f: { summarize(info: HandshakeInfo, ms: number, protocol: string): object; format(s: object): string; describe(e: unknown): string },
): Promise<number> {
  let session: QuicSession;
  try {
    session = await quicConnect({ ...o.connect, host: o.host, port: o.port });
  } catch (e) {
    io.err(`pqtls client: QUIC handshake failed: ${f.describe(e)}\n`);
    return 1;
  }
  let summary = f.summarize(session.handshake as HandshakeInfo, performance.now() - o.start, session.connection.version.name);
  if (o.send !== undefined) {
    const id = session.connection.openStream(true);
    const chunks: Uint8Array[] = [];
    const done = new Promise<void>((resolve) => {
      session.on('stream', (ev: StreamEvent) => {
        if ((ev.type !== 'readable' && ev.type !== 'finished') || ev.id !== id) return;
        for (let r = session.connection.readStream(id); r && (r.data.length || r.fin); r = session.connection.readStream(id)) {
          chunks.push(r.data);
          if (r.fin) resolve();
        }
      });
      session.on('closed', () => resolve());
      session.on('done', () => resolve()); // also after a failure, which has no 'closed'
      setTimeout(resolve, 30_000).unref();
    });
    await session.write(id, new TextEncoder().encode(o.send), true);
    await done;
    summary = { ...summary, reply: new TextDecoder().decode(concat(...chunks)) };
  }
  await session.close(0, '');
  io.out(o.json ? JSON.stringify(summary) + '\n' : f.format(summary));
  return 0;
}

// ---- serving files ----

/**
 * The file under `root` that a request path names, or undefined when it
 * names none: the query is dropped, percent-escapes decoded, and a path that
 * leaves the root (`..`, an absolute escape, a symlink pointing out) is refused.
 */
export async function resolveWwwPath(root: string, requestPath: string): Promise<string | undefined> {
  let p = requestPath.split('?')[0] ?? '';
  try {
    p = decodeURIComponent(p);
  } catch {
    return undefined;
  }
  if (!p.startsWith('/') || p.includes('\0')) return undefined;
  const base = await realpath(root);
  const candidate = resolve(base, '.' + p);
  if (candidate !== base && !candidate.startsWith(base + sep)) return undefined;
  try {
    const real = await realpath(candidate);
    return real.startsWith(base + sep) ? real : undefined;
  } catch {
    return undefined;
  }
}

async function readWww(root: string, path: string): Promise<Uint8Array | undefined> {
  const file = await resolveWwwPath(root, path);
  if (!file) return undefined;
  try {
    return new Uint8Array(await readFile(file));
  } catch {
    return undefined; // a directory, or unreadable: not found for the client
  }
}

/**
 * Serves `root` on a session once its ALPN is known: HTTP/3 for `h3`,
 * HTTP/0.9 for `hq-interop`. Returns false for another ALPN.
 */
function serveWww(session: QuicSession, alpn: string | undefined, root: string, io: CliIo): boolean {
  const conn = session.connection;
  let flushQueued = false;
  /** Sends what the application queued: writes made in event handlers go out with the next run. */
  const flush = (): void => {
    if (flushQueued) return;
    flushQueued = true;
    void session.run(() => {
      flushQueued = false;
    });
  };
  if (alpn === 'h3') {
    const h3 = new Http3Connection(conn);
    h3.start(now());
    const drain = (): void => {
      for (let e: Http3Event | undefined = h3.poll(); e; e = h3.poll()) {
        if (e.type === 'closed') io.err(`http3: closed the connection: ${e.reason}\n`);
        if (e.type !== 'request') continue;
        const { streamId, request } = e;
        if (request.method !== 'GET' && request.method !== 'HEAD') {
          void session.run(() => h3.respond(streamId, 405, [['allow', 'GET, HEAD']]));
          continue;
        }
        void readWww(root, request.path ?? '/').then((body) => session.run(() => {
          if (conn.isClosed) return;
          if (!body) return h3.respond(streamId, 404, [['content-length', '0']]);
          h3.respond(streamId, 200, [['content-length', String(body.length)]], request.method === 'GET' ? body : undefined);
        }));
      }
      flush();
    };
    session.on('stream', (ev: StreamEvent) => {
      h3.handleStreamEvent(ev, now());
      drain();
    });
    drain();
    return true;
  }
  if (alpn === 'hq-interop') {
    const hq = new HqConnection(conn);
    session.on('stream', (ev: StreamEvent) => {
      hq.handleStreamEvent(ev);
      for (let e: HqEvent | undefined = hq.poll(); e; e = hq.poll()) {
        if (e.type !== 'request') continue;
        const { streamId, path } = e;
        void readWww(root, path).then((body) => session.run(() => {
          if (conn.isClosed) return;
          if (body) hq.respond(streamId, body);
          else hq.refuse(streamId);
        }));
      }
      flush();
    });
    return true;
  }
  return false;
}

/** `pqtls server --quic`: prints each connection; serves --www, or echoes (--echo) or prints each bidirectional stream. */
export async function quicServe(
  io: CliIo,
  o: {
    port: number; host: string; echo: boolean; www: string | undefined; maxConnections: number; retry: boolean;
    maxConcurrentHandshakes: number | undefined; qlogDir: string | undefined; versions: readonly QuicVersion[] | undefined;
    /** --handshake-timeout, as over TCP: a QUIC handshake not complete after this long is closed (the endpoint's cap). */
    handshakeTimeoutMs: number;
    tls: QuicListenOptions['tls']; describe(e: unknown): string; systemReason(e: unknown): string;
  },
): Promise<number> {
  let remaining = o.maxConnections;
  if (o.www !== undefined) {
    try {
      await realpath(o.www);
    } catch (e) {
      throw new CliError(`cannot serve --www ${o.www}: ${o.systemReason(e)}`);
    }
  }
  return new Promise<number>((resolvePromise, reject) => {
    const sock = createQuicServer({
      tls: o.tls, retry: o.retry, maxConcurrentHandshakes: o.maxConcurrentHandshakes, handshakeTimeoutMs: o.handshakeTimeoutMs, qlogDir: o.qlogDir,
      ...(o.versions ? { versions: o.versions } : {}),
    }, (s) => {
      let served = false;
      /** Stream events before the handshake completed: requests in 0-RTT packets (RFC 9001 §4.6), served once it has. */
      const early: StreamEvent[] = [];
      s.on('connected', (e: Extract<QuicEvent, { type: 'connected' }>) => {
        io.out(`connection: quic group=${e.info.group === undefined ? '-' : groupName(e.info.group)} cipher=${e.info.cipherSuite.name} alpn=${e.info.alpn ?? '-'}` +
          `${e.info.earlyData === 'accepted' ? ' early-data=accepted' : ''}\n`);
        if (o.www === undefined) return;
        served = serveWww(s, e.info.alpn, o.www, io);
        if (served) for (const ev of early.splice(0)) s.emit('stream', ev);
      });
      s.on('stream', (ev: StreamEvent) => {
        if (served) return;
        if (o.www !== undefined) {
          if (early.length < MAX_EARLY_STREAM_EVENTS) early.push(ev);
          return;
        }
        if (ev.type !== 'readable' && ev.type !== 'finished') return;
        for (let r = s.connection.readStream(ev.id); r && (r.data.length || r.fin); r = s.connection.readStream(ev.id)) {
          // Bidirectional streams (id bit 1 clear) can be answered; unidirectional ones are only read.
          if (o.echo && (ev.id & 2) === 0) void s.write(ev.id, r.data, r.fin);
          else if (!o.echo) io.out(new TextDecoder().decode(r.data));
        }
      });
      s.on('error', () => undefined);
      s.on('done', () => {
        if (--remaining <= 0) sock.close(() => resolvePromise(0));
      });
    });
    sock.on('retry', (address: string) => io.out(`retry sent to ${address}\n`));
    // A bind failure (port in use, bad address) arrives as an 'error' event rather than a throw.
    const bindFailed = (e: Error): void => reject(new CliError(`cannot listen on ${o.host}:${o.port} (QUIC): ${o.systemReason(e)}`));
    sock.once('error', bindFailed);
    sock.bind(o.port, o.host, () => {
      sock.off('error', bindFailed);
      // A later socket error ends the server with a message rather than an uncaught exception.
      sock.on('error', (e) => {
        io.err(`pqtls server: ${o.describe(e)}\n`);
        sock.close();
        resolvePromise(1);
      });
      const a = sock.address();
      io.out(`listening on ${o.host}:${a.port} (QUIC${o.retry ? ', Retry on' : ''}${o.www !== undefined ? `, serving ${o.www}` : ''})\n`);
    });
  });
}

// ---- downloading ----

export interface Download {
  readonly url: URL;
  /** Where the body is saved: DIR plus the URL's path. */
  readonly file: string;
}

/** The URLs of the command line, each with the file it is saved to; a URL that is not https, or whose path leaves DIR, is refused. */
export function plannedDownloads(urls: readonly string[], dir: string): Download[] {
  const base = resolve(dir);
  return urls.map((u) => {
    let url: URL;
    try {
      url = new URL(u);
    } catch {
      throw new CliError(`not a URL: ${u}`);
    }
    if (url.protocol !== 'https:') throw new CliError(`not an https URL: ${u}`);
    const path = decodeURIComponent(url.pathname);
    const file = resolve(base, '.' + path);
    if (!file.startsWith(base + sep)) throw new CliError(`${u} names no file under --download ${dir}`);
    return { url, file };
  });
}

interface Fetcher {
  /** Starts a request; false when the peer's stream limit says wait. */
  start(d: Download): boolean;
  /** Handles a stream event; returns the downloads it finished (body, or an error). */
  onStream(ev: StreamEvent): { d: Download; body?: Uint8Array; error?: string }[];
}

function fetcherFor(session: QuicSession, alpn: string): Fetcher {
  const conn = session.connection;
  const byStream = new Map<number, { d: Download; chunks: Uint8Array[]; status?: number }>();
  const start = (open: () => number, d: Download): boolean => {
    try {
      byStream.set(open(), { d, chunks: [] });
      return true;
    } catch (e) {
      if (e instanceof StreamsBlockedError) return false;
      throw e;
    }
  };
  if (alpn === 'h3') {
    const h3 = new Http3Connection(conn);
    h3.start(now());
    return {
      start: (d) => start(() => h3.get(d.url.host, d.url.pathname + d.url.search), d),
      onStream(ev) {
        h3.handleStreamEvent(ev, now());
        const done: { d: Download; body?: Uint8Array; error?: string }[] = [];
        for (let e = h3.poll(); e; e = h3.poll()) {
          if (e.type === 'closed') {
            for (const s of byStream.values()) done.push({ d: s.d, error: `connection closed: ${e.reason}` });
            byStream.clear();
            continue;
          }
          if (!('streamId' in e)) continue;
          const s = byStream.get(e.streamId);
          if (!s) continue;
          if (e.type === 'response') s.status = e.status;
          else if (e.type === 'data') s.chunks.push(e.data);
          else {
            byStream.delete(e.streamId);
            if (e.type === 'reset') done.push({ d: s.d, error: `stream reset with ${h3ErrorName(e.errorCode)}` });
            else if (s.status !== 200) done.push({ d: s.d, error: `status ${s.status}` });
            else done.push({ d: s.d, body: concat(...s.chunks) });
          }
        }
        return done;
      },
    };
  }
  const hq = new HqConnection(conn);
  return {
    start: (d) => start(() => hq.request(d.url.pathname), d),
    onStream(ev) {
      hq.handleStreamEvent(ev);
      const done: { d: Download; body?: Uint8Array; error?: string }[] = [];
      for (let e = hq.poll(); e; e = hq.poll()) {
        const s = byStream.get(e.streamId);
        if (!s) continue;
        if (e.type === 'data') s.chunks.push(e.data);
        else if (e.type === 'end' || e.type === 'reset') {
          byStream.delete(e.streamId);
          done.push(e.type === 'end' ? { d: s.d, body: concat(...s.chunks) } : { d: s.d, error: `stream reset with code ${e.errorCode}` });
        }
      }
      return done;
    },
  };
}

/**
 * One connection fetching `downloads` on concurrent streams (as many as the
 * server's MAX_STREAMS allows at a time) and saving each. Resolves with how
 * many were saved, and the connection's RTT estimate once it had a sample.
 */
async function fetchOnOneConnection(
  io: CliIo, downloads: readonly Download[],
  o: { alpn: string; keyUpdate: boolean; migrate: boolean; connect: QuicConnectOptions; describe(e: unknown): string },
): Promise<{ saved: number; rtt?: number }> {
  const queue = [...downloads];
  let outstanding = downloads.length;
  let saved = 0;
  let fetcher: Fetcher | undefined;
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((r) => {
    finish = r;
  });
  const writes: Promise<void>[] = [];
  let session: QuicSession | undefined;
  let keyUpdated = false;
  let migrated = false;
  const pump = (): void => {
    while (fetcher && queue.length && fetcher.start(queue[0] as Download)) queue.shift();
  };
  const onStream = (s: QuicSession, ev: StreamEvent): void => {
    if (!fetcher) return;
    for (const r of fetcher.onStream(ev)) {
      outstanding--;
      if (r.body) {
        const body = r.body;
        writes.push(mkdir(dirname(r.d.file), { recursive: true }).then(() => writeFile(r.d.file, body)).then(() => {
          saved++;
          io.out(`saved ${r.d.url.pathname} (${body.length} bytes)\n`);
        }, (e: unknown) => io.err(`pqtls client: cannot save ${r.d.file}: ${o.describe(e)}\n`)));
      } else {
        io.err(`pqtls client: ${r.d.url.href}: ${r.error ?? 'failed'}\n`);
      }
    }
    if (ev.type === 'streams_available' || queue.length) pump();
    // RFC 9001 §6: a key update once the handshake is confirmed (interop case "keyupdate").
    if (o.keyUpdate && !keyUpdated && s.connection.isHandshakeConfirmed) {
      keyUpdated = true;
      void s.run(() => s.connection.updateKeys(now()));
    }
    // RFC 9000 §9.2: once confirmed, the client moves to a new local port (interop case "connectionmigration").
    if (o.migrate && !migrated && s.connection.isHandshakeConfirmed) {
      migrated = true;
      s.migrate().then(() => io.out('migrated to a new local address\n'), (e: unknown) => io.err(`pqtls client: migration refused: ${o.describe(e)}\n`));
    }
    void s.run(() => undefined);
    if (outstanding === 0) finish();
  };
  try {
    session = await quicConnect({
      ...o.connect,
      // 0-RTT (RFC 9001 §4.6.1): the requests go before the handshake completes, in the one ALPN we offer;
      // if the server rejects them the connection sends them again in 1-RTT.
      onEarlyData: (s) => {
        fetcher = fetcherFor(s, o.alpn);
        pump();
      },
      onSession: (s) => {
        s.on('connected', (e: Extract<QuicEvent, { type: 'connected' }>) => {
          fetcher ??= fetcherFor(s, e.info.alpn ?? o.alpn);
          pump();
        });
        s.on('stream', (ev: StreamEvent) => onStream(s, ev));
        s.on('done', () => finish());
        s.on('closed', () => finish());
      },
    });
  } catch (e) {
    io.err(`pqtls client: QUIC handshake failed: ${o.describe(e)}\n`);
    return { saved: 0 };
  }
  const live = session;
  await live.run(() => undefined);
  await finished;
  await Promise.all(writes);
  const info = live.handshake;
  io.out(`connection: ${live.connection.version.name} alpn=${info?.alpn ?? '-'} cipher=${info?.cipherSuite.name ?? '-'}` +
    ` resumed=${info?.resumed === true ? 'yes' : 'no'} early-data=${live.connection.earlyData}` +
    ` key-updates=${live.connection.keyPhase.updates} saved=${saved}/${downloads.length}\n`);
  if (!live.connection.isClosed) await live.close(o.alpn === 'h3' ? H3ErrorCode.H3_NO_ERROR : 0, '');
  const rtt = live.connection.rtt;
  // min is 0 until the first sample: then the smoothed RTT is only kInitialRtt.
  return rtt.min > 0 ? { saved, rtt: rtt.smoothed } : { saved };
}

/**
 * The RTT a connection to the server a previous one reached may start from (RFC 9002 §6.2.2): that one's
 * smoothed RTT, never more than kInitialRtt. With kInitialRtt's one-second first PTO, doubling, a client
 * whose first flight keeps being lost gets five tries (0, 1, 3, 7, 15 s) before a 30 s idle timeout ends it;
 * the interop case handshakeloss (fifty connections, 30% loss in bursts) lost connections that way, and spent
 * most of its time in those PTOs. Undefined for a first connection, or after one that had no sample.
 */
export function carriedRtt(previous: number | undefined): number | undefined {
  return previous === undefined || !(previous > 0) ? undefined : Math.min(previous, K_INITIAL_RTT);
}

/** Whether two groups of downloads go to the same host and port (the network a carried RTT was measured on). */
function sameServer(a: readonly Download[], b: readonly Download[] | undefined): boolean {
  const x = a[0]?.url;
  const y = b?.[0]?.url;
  return x !== undefined && y !== undefined && x.host === y.host;
}

/**
 * `pqtls client --quic URL... --download DIR`: fetches every URL (over one
 * connection, or one per URL with `multiconnect`) and saves it under DIR.
 * Exit code 0 only when every file was saved.
 */
export async function quicDownload(
  io: CliIo,
  o: {
    urls: readonly string[]; dir: string; alpn: string; multiconnect: boolean; keyUpdate: boolean; version: QuicVersion | undefined;
    versions: readonly QuicVersion[] | undefined;
    /** The first URL on one connection, the rest on a second one resumed from its ticket, in 0-RTT with `zeroRtt`. */
    resumption: boolean; zeroRtt: boolean; migrate: boolean;
    qlogDir: string | undefined; tls: QuicConnectOptions['tls']; describe(e: unknown): string;
  },
): Promise<number> {
  const downloads = plannedDownloads(o.urls, o.dir);
  const first = downloads[0]?.url;
  if (!first) throw new CliError('no URL to fetch');
  const resumed = o.resumption || o.zeroRtt;
  const groups = o.multiconnect ? downloads.map((d) => [d])
    : resumed && downloads.length > 1 ? [downloads.slice(0, 1), downloads.slice(1)] : [downloads];
  const sessionStore = resumed ? new MemorySessionStore() : o.tls.sessionStore;
  let saved = 0;
  /** The last connection's RTT: the next one, to the same server, starts from it. */
  let rtt: number | undefined;
  for (const [i, group] of groups.entries()) {
    const url = (group[0] as Download).url;
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    const connect: QuicConnectOptions = {
      host, port: Number(url.port || 443), ...(o.version ? { version: o.version } : {}), ...(o.versions ? { versions: o.versions } : {}),
      qlogDir: o.qlogDir, earlyData: o.zeroRtt && i > 0,
      tls: { ...o.tls, alpnProtocols: [o.alpn], serverName: o.tls.serverName ?? host, ...(sessionStore ? { sessionStore } : {}) },
      ...(sameServer(group, groups[i - 1]) && rtt !== undefined ? { initialRtt: rtt } : {}),
    };
    const r = await fetchOnOneConnection(io, group, { alpn: o.alpn, keyUpdate: o.keyUpdate, migrate: o.migrate, connect, describe: o.describe });
    saved += r.saved;
    rtt = carriedRtt(r.rtt) ?? rtt;
  }
  return saved === downloads.length ? 0 : 1;
}
