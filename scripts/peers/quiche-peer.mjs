// pqtls interop peer: a QUIC v1 echo server and client on Cloudflare quiche 0.18 with BoringSSL, through
// the npm package @matrixai/quic. Loopback only. Installed by scripts/install-peers.sh as .peers/bin/quiche-peer.
//
//   quiche-peer server PORT CERT.pem KEY.pem [ALPN]   echo every bidirectional stream back
//   quiche-peer client PORT MESSAGE [ALPN]            send MESSAGE on one stream, print "echo: ...", exit 0
//
// ALPN defaults to "quic". QUICHE_LOG=info turns on the library's own log. quiche offers and accepts
// X25519, P-256 and P-384 only: a client whose only key share is X25519MLKEM768 gets a
// HelloRetryRequest. The server always sends a Retry; the client does not verify the certificate.
import { createHmac, randomBytes, randomFillSync, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Logger, { LogLevel, StreamHandler } from '@matrixai/logger';
import { QUICClient, QUICServer, events } from '@matrixai/quic';

const USAGE = 'usage: quiche-peer server PORT CERT KEY [ALPN] | quiche-peer client PORT MESSAGE [ALPN]';
const HOST = '127.0.0.1';
const CLIENT_DEADLINE_MS = 15_000;

function fail(message, code = 1) {
  console.error(`quiche-peer: ${message}`);
  process.exit(code);
}

const toArrayBuffer = (bytes) => bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);

function parseArgs(argv) {
  const [mode, portText, ...rest] = argv;
  const port = Number(portText);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) fail(USAGE, 64);
  if (mode === 'server' && (rest.length === 2 || rest.length === 3)) {
    return { mode, port, certFile: rest[0], keyFile: rest[1], alpn: rest[2] ?? 'quic' };
  }
  if (mode === 'client' && (rest.length === 1 || rest.length === 2)) {
    return { mode, port, message: rest[0], alpn: rest[1] ?? 'quic' };
  }
  return fail(USAGE, 64);
}

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

async function runServer({ port, certFile, keyFile, alpn }) {
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
      stream.readable.pipeTo(stream.writable).catch(() => {});
    });
  });
  await server.start({ host: HOST, port });
  console.log(`listening on ${server.host}:${server.port} alpn=${alpn}`);
  const stop = () => {
    setTimeout(() => process.exit(0), 2000).unref();
    server.stop({ force: true }).finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

async function runClient({ port, message, alpn }) {
  setTimeout(() => fail(`no echo within ${CLIENT_DEADLINE_MS} ms`, 2), CLIENT_DEADLINE_MS).unref();
  const client = await QUICClient.createQUICClient({
    host: HOST,
    port,
    localHost: HOST,
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

const args = parseArgs(process.argv.slice(2));
(args.mode === 'server' ? runServer(args) : runClient(args)).catch((error) =>
  fail(`${args.mode} failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`),
);
