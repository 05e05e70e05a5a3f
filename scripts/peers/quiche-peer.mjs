// pqtls interop peer: a QUIC v1 server and client on Cloudflare quiche 0.18 with BoringSSL, through
// the npm package @matrixai/quic. Installed by scripts/install-peers.sh as .peers/bin/quiche-peer.
//
//   quiche-peer server [--www DIR] [--host ADDR] PORT CERT.pem KEY.pem [ALPN]
//       without --www: echo every bidirectional stream back (ALPN default "quic");
//       with --www DIR: hq-interop (HTTP/0.9) file server: each bidirectional stream carries
//       `GET /path\r\n`, DIR/path is sent and the stream finished; a `..` segment, a missing file or
//       a malformed request resets the stream (ALPN default "hq-interop").
//   quiche-peer client PORT MESSAGE [ALPN]
//       send MESSAGE on one stream, print "echo: ...", exit 0
//   quiche-peer client --download DIR [--alpn ALPN] [--ca FILE] [--servername NAME] [--timeout S] URL...
//       hq-interop client: one connection to the URLs' https://HOST:PORT (all the same), one stream per
//       URL (up to 32 in flight), each response saved as DIR/PATH; exit 0 only when every file ended with
//       the stream's FIN. Without --ca the certificate is not verified. ALPN default "hq-interop".
//
// Binds 127.0.0.1 unless --host says otherwise. QUICHE_LOG=info turns on the library's own log. quiche offers and accepts
// X25519, P-256 and P-384 only: a client whose only key share is X25519MLKEM768 gets a
// HelloRetryRequest. The server always sends a Retry; the client does not verify the certificate.
import { createHmac, randomBytes, randomFillSync, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import Logger, { LogLevel, StreamHandler } from '@matrixai/logger';
import { QUICClient, QUICServer, events } from '@matrixai/quic';

const USAGE =
  'usage: quiche-peer server [--www DIR] [--host ADDR] PORT CERT KEY [ALPN] | quiche-peer client PORT MESSAGE [ALPN]\n' +
  '       quiche-peer client --download DIR [--alpn ALPN] [--ca FILE] [--servername NAME] [--timeout S] URL...';
const CLIENT_DEADLINE_MS = 15_000;
const MAX_IN_FLIGHT = 32;
const MAX_REQUEST = 4096;

function fail(message, code = 1) {
  console.error(`quiche-peer: ${message}`);
  process.exit(code);
}

const toArrayBuffer = (bytes) => bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);

const FLAGS = { '--www': 'www', '--host': 'host', '--download': 'download', '--alpn': 'alpn', '--ca': 'ca',
  '--servername': 'serverName', '--timeout': 'timeout' };

function parseArgs(argv) {
  const [mode, ...args] = argv;
  const flags = {};
  const positional = [];
  for (let i = 0; i < args.length; i++) {
    const key = FLAGS[args[i]];
    if (key === undefined) positional.push(args[i]);
    else if (i + 1 < args.length) flags[key] = args[++i];
    else fail(USAGE, 64);
  }
  const host = flags.host ?? '127.0.0.1';
  if (mode === 'client' && flags.download !== undefined) {
    if (positional.length === 0) fail(USAGE, 64);
    const urls = positional.map(parseUrl);
    if (urls.some((u) => u.host !== urls[0].host || u.port !== urls[0].port)) fail('all URLs must name the same HOST:PORT', 64);
    const timeout = Number(flags.timeout ?? 120);
    if (!(timeout > 0)) fail(USAGE, 64);
    return { mode: 'download', dir: flags.download, urls, alpn: flags.alpn ?? 'hq-interop', ca: flags.ca,
      serverName: flags.serverName ?? urls[0].host, timeoutMs: timeout * 1000 };
  }
  const [portText, ...rest] = positional;
  const port = Number(portText);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) fail(USAGE, 64);
  if (mode === 'server' && (rest.length === 2 || rest.length === 3)) {
    const www = flags.www;
    if (www !== undefined && !statSync(www, { throwIfNoEntry: false })?.isDirectory()) fail(`--www ${www} is not a directory`, 64);
    return { mode, port, host, www, certFile: rest[0], keyFile: rest[1], alpn: rest[2] ?? (www ? 'hq-interop' : 'quic') };
  }
  if (mode === 'client' && (rest.length === 1 || rest.length === 2)) {
    return { mode, port, host, message: rest[0], alpn: rest[1] ?? 'quic' };
  }
  return fail(USAGE, 64);
}

/** https://HOST:PORT/PATH -> parts; the path must be non-empty and free of `..` segments. */
function parseUrl(text) {
  let url;
  try {
    url = new URL(text);
  } catch {
    return fail(`not a URL: ${text}`, 64);
  }
  const path = decodeURIComponent(url.pathname).replace(/^\/+/, '');
  if (path === '' || !safePath(path)) fail(`bad path in ${text}`, 64);
  return { text, host: url.hostname, port: Number(url.port || 443), path };
}

const safePath = (path) => !path.split('/').includes('..');

const logger = new Logger('quiche-peer', process.env.QUICHE_LOG === 'info' ? LogLevel.INFO : LogLevel.WARN, [
  new StreamHandler(),
]);

/**
 * Retry tokens are HMACs the library asks the server to make and check. They are computed
 * synchronously on purpose: with a truly asynchronous HMAC (Web Crypto), @matrixai/quic opens two
 * connections for a ClientHello that spans two Initial packets (every ML-KEM key share does) and
 * the handshake stalls.
 */
function retryTokenOps() {
  const mac = (key, data) => createHmac('sha256', Buffer.from(key)).update(Buffer.from(data)).digest();
  return {
    key: toArrayBuffer(randomBytes(32)),
    ops: {
      sign: async (key, data) => toArrayBuffer(mac(key, data)),
      verify: async (key, data, tag) => {
        const want = mac(key, data);
        const got = Buffer.from(tag);
        return got.length === want.length && timingSafeEqual(got, want);
      },
    },
  };
}

/** Reads one request line (up to CRLF, or the stream's end), at most MAX_REQUEST bytes. */
async function readRequest(reader) {
  const chunks = [];
  let length = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(Buffer.from(value));
    length += value.byteLength;
    if (value.includes(0x0a) || length >= MAX_REQUEST) break;
  }
  return Buffer.concat(chunks).toString('latin1').split(/\r?\n/, 1)[0];
}

/** hq-interop: one `GET /path` per bidirectional stream, answered with the file and FIN. */
async function serveRequest(stream, www) {
  const reader = stream.readable.getReader();
  const writer = stream.writable.getWriter();
  const line = await readRequest(reader);
  // The rest of the request side (normally just the FIN) is drained and ignored.
  void (async () => {
    for (;;) if ((await reader.read()).done) return;
  })().catch(() => {});
  const match = /^GET \/(\S*)$/.exec(line);
  const path = match ? decodeURIComponent(match[1].split(/[?#]/)[0]) || 'index.html' : undefined;
  let file;
  try {
    if (path === undefined || !safePath(path)) throw new Error(`refused request ${JSON.stringify(line)}`);
    file = await open(join(www, path), 'r');
    if (!(await file.stat()).isFile()) throw new Error(`not a file: ${path}`);
  } catch (error) {
    await file?.close();
    console.error(`quiche-peer: ${error instanceof Error ? error.message : String(error)}`);
    await writer.abort(error).catch(() => {});
    return 0;
  }
  let sent = 0;
  try {
    const chunk = Buffer.alloc(64 * 1024);
    for (;;) {
      const { bytesRead } = await file.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) break;
      await writer.write(new Uint8Array(chunk.subarray(0, bytesRead)));
      sent += bytesRead;
    }
    await writer.close();
  } finally {
    await file.close();
  }
  return sent;
}

async function runServer({ port, host, www, certFile, keyFile, alpn }) {
  const server = new QUICServer({
    logger,
    crypto: retryTokenOps(),
    config: {
      applicationProtos: [alpn],
      verifyPeer: false,
      cert: readFileSync(certFile, 'utf8'),
      key: readFileSync(keyFile, 'utf8'),
    },
  });
  server.addEventListener(events.EventQUICServerConnection.name, (event) => {
    const connection = event.detail;
    console.log(`connection from ${connection.remoteHost}:${connection.remotePort}`);
    connection.addEventListener(events.EventQUICConnectionStream.name, (streamEvent) => {
      const stream = streamEvent.detail;
      // A peer that resets its stream ends the echo; that is the peer's business, not a server error.
      if (www === undefined) stream.readable.pipeTo(stream.writable).catch(() => {});
      else serveRequest(stream, www).catch(() => {});
    });
  });
  await server.start({ host, port });
  console.log(`listening on ${server.host}:${server.port} alpn=${alpn}`);
  const stop = () => {
    setTimeout(() => process.exit(0), 2000).unref();
    server.stop({ force: true }).finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

async function runClient({ port, host, message, alpn }) {
  setTimeout(() => fail(`no echo within ${CLIENT_DEADLINE_MS} ms`, 2), CLIENT_DEADLINE_MS).unref();
  const client = await QUICClient.createQUICClient({
    host,
    port,
    localHost: host,
    serverName: 'localhost',
    logger,
    config: { applicationProtos: [alpn], verifyPeer: false },
    crypto: { ops: { randomBytes: async (buffer) => void randomFillSync(new Uint8Array(buffer)) } },
  });
  const stream = client.connection.newStream();
  const writer = stream.writable.getWriter();
  await writer.write(new TextEncoder().encode(message));
  await writer.close();
  const chunks = [];
  for await (const chunk of stream.readable) chunks.push(Buffer.from(chunk));
  console.log(`echo: ${Buffer.concat(chunks).toString('utf8')}`);
  await client.destroy({ force: true });
  process.exit(0);
}

async function download(connection, { text, path }, dir) {
  const stream = connection.newStream();
  const writer = stream.writable.getWriter();
  await writer.write(new TextEncoder().encode(`GET /${path}\r\n`));
  await writer.close();
  const file = await open(join(dir, path), 'w');
  let bytes = 0;
  try {
    // A reset stream makes the read reject: only a FIN ends this loop normally.
    for await (const chunk of stream.readable) {
      await file.write(chunk);
      bytes += chunk.byteLength;
    }
  } catch (error) {
    throw new Error(`${text}: the response did not end with FIN (${error instanceof Error ? error.message : String(error)})`);
  } finally {
    await file.close();
  }
  return bytes;
}

async function runDownload({ dir, urls, alpn, ca, serverName, timeoutMs }) {
  setTimeout(() => fail(`downloads not complete within ${timeoutMs} ms`, 2), timeoutMs).unref();
  const { host, port } = urls[0];
  const client = await QUICClient.createQUICClient({
    host,
    port,
    localHost: host.includes(':') ? '::' : '0.0.0.0',
    serverName,
    logger,
    config: { applicationProtos: [alpn], verifyPeer: ca !== undefined, ...(ca ? { ca: readFileSync(ca, 'utf8') } : {}) },
    crypto: { ops: { randomBytes: async (buffer) => void randomFillSync(new Uint8Array(buffer)) } },
  });
  let next = 0;
  let total = 0;
  const failures = [];
  // quiche does not wait for stream credit (MAX_STREAMS): keep a bounded number in flight.
  const worker = async () => {
    while (next < urls.length) {
      const url = urls[next++];
      try {
        const bytes = await download(client.connection, url, dir);
        total += bytes;
      } catch (error) {
        failures.push(error instanceof Error ? error.message : String(error));
        await unlink(join(dir, url.path)).catch(() => {});
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(MAX_IN_FLIGHT, urls.length) }, worker));
  await client.destroy({ force: true });
  for (const f of failures) console.error(`quiche-peer: ${f}`);
  console.log(`downloaded: files=${urls.length - failures.length}/${urls.length} bytes=${total}`);
  process.exit(failures.length === 0 ? 0 : 1);
}

const args = parseArgs(process.argv.slice(2));
const run = { server: runServer, client: runClient, download: runDownload }[args.mode];
run(args).catch((error) =>
  fail(`${args.mode} failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`),
);
