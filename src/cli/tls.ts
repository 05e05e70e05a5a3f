import { appendFileSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { PqtlsError, alertName } from '../errors.js';
import { createNobleProvider } from '../pq/index.js';
import { groupName, signatureSchemeName } from '../pq/ids.js';
import { connect, createServer, type PqTlsSocket } from '../node/index.js';
import { loadCertifiedKey } from '../tls13/credentials.js';
import { webPkiVerifier } from '../tls13/verifier.js';
import type { CertificateVerifier } from '../tls13/config.js';
import { CliError, UsageError, type CliCommand, type CliIo } from './command.js';
import { createNodeCryptoProvider } from '../node/crypto-provider.js';
import type { CryptoProvider } from '../pq/provider.js';
import { FileSessionStore } from '../node/session-file.js';
import { qlogDirFromEnv } from '../node/qlog-file.js';
import type { HandshakeInfo } from '../tls13/handshake/common.js';
import { CipherSuite } from '../tls13/cipher-suites.js';
import { QUIC_V1, QUIC_V2, isReservedVersion, versionNegotiationProbe, type QuicVersion } from '../quic/versions.js';
import { quicDownload, quicEchoClient, quicServe } from './quic.js';
import { MemoryAntiReplay } from '../tls13/anti-replay.js';
import { TicketKeyRing } from '../tls13/tickets.js';
import { parseCertificate, summarizeCertificate } from '../x509/certificate.js';
import type { Server as HttpServer } from 'node:http';
import { quacCredentials, serveMetrics } from './quac.js';
import { openQuacCard, quacLabel, quacOptions } from './quac-card.js';

const SERVER_HELP = `Usage: pqtls server --port P --cert chain.pem --key key.pem [options]

Runs a TLS 1.3 server (hybrid post-quantum key exchange by default).

  --port P                 TCP port (0 picks one; the chosen port is printed)
  --host ADDR              address to listen on (default 127.0.0.1)
  --cert FILE              certificate chain, leaf first (PEM)
  --key FILE               the leaf's private key (PKCS #8 PEM)
  --ca FILE                trust anchors for client certificates (PEM)
  --require-client-cert    reject clients without a valid certificate (needs --ca)
  --groups LIST            key-exchange groups by preference, comma-separated
  --alpn LIST              ALPN protocols by preference, comma-separated
  --echo                   echo what each client sends (default: print it)
  --early-data             accept 0-RTT early data on resumption (replay-protected by ClientHello recording)
  --keylog FILE            append NSS key-log lines to FILE
  --max-connections N      exit after N connections
  --handshake-timeout MS   close connections (TCP and QUIC) whose handshake is not complete after MS milliseconds (default 10000)
  --max-handshakes N       connections in handshake at once; more are closed (TCP) or dropped (QUIC) (default 1024 / 256)
  --provider noble|node    crypto backend: pure TypeScript (default) or node:crypto (ML-KEM/ML-DSA native on Node >= 24.7)
  --quic                   serve QUIC v1 over UDP instead of TLS over TCP (needs --alpn); --echo echoes each
                           bidirectional stream
  --retry                  with --quic: validate each client's address with a Retry before the handshake
  --www DIR                with --quic: serve the files under DIR over HTTP/3 (ALPN h3) and HTTP/0.9
                           (ALPN hq-interop), whichever the client chose (--alpn defaults to h3,hq-interop)
  --qlog DIR               with --quic: write a qlog (JSON-SEQ) per connection into DIR (default $QLOGDIR)
  --quic-versions LIST     with --quic: the versions by preference, e.g. v2,v1: a client offering a preferred one
                           is switched to it (compatible version negotiation, RFC 9368); default: the client's choice
  --quac emulated|native   ML-KEM and ML-DSA on a QUAC 100 card; --key quac:LABEL then names an ML-DSA key
                           stored on the card, which signs the CertificateVerify
  --quac-state FILE        the emulated card's flash (default $QUAC_EMULATOR_STATE); it holds the card's
                           private keys in the clear: for tests and demos only
  --quac-library PATH      the native card's libquac100.so (default $QUAC100_LIBRARY)
  --no-quac-batch          send each card operation in its own call (default: batched across connections)
  --metrics-port P         with --quac: serve the card metrics in Prometheus text at http://127.0.0.1:P/metrics
`;

const CLIENT_HELP = `Usage: pqtls client HOST:PORT [options]
       pqtls client --quic URL... --alpn h3|hq-interop --download DIR --ca FILE [options]

Connects with TLS 1.3 and prints what was negotiated; or, with --quic and URLs,
fetches each URL over HTTP/3 or HTTP/0.9 (hq-interop) and saves it under DIR.

  --ca FILE              trust anchors (PEM); required
  --servername NAME      name to send (SNI) and verify (default: HOST)
  --cert FILE --key FILE client certificate chain and key, for mutual TLS
  --groups LIST          key-exchange groups by preference (default: all, X25519MLKEM768 first)
  --key-shares LIST      groups to send key shares for (default: X25519MLKEM768,x25519)
  --alpn LIST            ALPN protocols to offer
  --send TEXT            send TEXT and print the reply until the server closes
  --session FILE         resume with the session in FILE if it is usable, and save the newest ticket there
  --early-data TEXT      with --session: send TEXT as 0-RTT early data if the ticket allows it
  --keylog FILE          append NSS key-log lines to FILE
  --json                 print one JSON object instead of a summary
  --provider noble|node  crypto backend: pure TypeScript (default) or node:crypto (ML-KEM/ML-DSA native on Node >= 24.7)
  --quic                 connect with QUIC v1 over UDP instead of TLS over TCP (needs --alpn)
  --cipher-suites LIST   TLS 1.3 cipher suites to offer, e.g. TLS_CHACHA20_POLY1305_SHA256
  --download DIR         with --quic and URLs: save each file as DIR/<path>; exit 0 only if all were saved
  --quic-version V       the QUIC version to start in: v1 (default), v2, or a reserved 0x?a?a?a?a to force
                         Version Negotiation (then v1 or v2)
  --multiconnect         with --download: one connection per URL
  --key-update           with --download: update the 1-RTT keys once the handshake is confirmed (RFC 9001 §6)
  --qlog DIR             with --quic: write a qlog (JSON-SEQ) per connection into DIR (default $QLOGDIR)
  --resumption           with --download: the first URL on one connection, the others on a second one resumed
                         from its ticket (no certificate sent)
  --0rtt                 as --resumption, with the second connection's requests in 0-RTT packets (RFC 9001 §4.6)
  --migrate              with --download: move to a new local UDP port once the handshake is confirmed (RFC 9000 §9.2)
`;

/** Usage mistakes print the message and the help, exit code 2. */
function withUsage(run: (argv: readonly string[], io: CliIo) => Promise<number>, help: string) {
  return async (argv: readonly string[], io: CliIo): Promise<number> => {
    try {
      return await run(argv, io);
    } catch (e) {
      if (!(e instanceof UsageError) && !(e instanceof TypeError && /parseArgs|option/i.test(e.message))) throw e;
      io.err(`${e.message}\n\n${help}`);
      return 2;
    }
  };
}

export const serverCommand: CliCommand = { summary: 'run a TLS 1.3 server (hybrid PQ key exchange)', run: withUsage(runServer, SERVER_HELP) };
export const clientCommand: CliCommand = { summary: 'connect with TLS 1.3 and report what was negotiated', run: withUsage(runClient, CLIENT_HELP) };

function makeProvider(name: string | undefined): CryptoProvider {
  if (name === 'node') return createNodeCryptoProvider();
  if (name === undefined || name === 'noble') return createNobleProvider();
  throw new UsageError(`unknown provider "${name}" (noble or node)`);
}

const list = (s: string | undefined): string[] | undefined => (s ? s.split(',').map((x) => x.trim()).filter(Boolean) : undefined);

const systemErrors: Readonly<Record<string, string>> = {
  ENOENT: 'no such file or directory', EACCES: 'permission denied', EPERM: 'operation not permitted', EISDIR: 'is a directory',
  ENOTDIR: 'a path component is not a directory', EADDRINUSE: 'address already in use', EADDRNOTAVAIL: 'address not available',
};

/** A Node system error as a short reason (`no such file or directory`), without the syscall and path it repeats. */
function systemReason(e: unknown): string {
  const code = e instanceof Error ? (e as { code?: unknown }).code : undefined;
  if (typeof code === 'string' && systemErrors[code]) return systemErrors[code];
  return e instanceof Error ? e.message : String(e);
}

/** Reads the text file an option names; a file that cannot be read is a {@link CliError}. */
function readText(flag: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new CliError(`cannot read ${flag} ${file}: ${systemReason(e)}`);
  }
}

/** A key-log writer appending to `f`, checked for writability now rather than at the first handshake. */
function fileKeyLog(f: string | undefined): ((line: string) => void) | undefined {
  if (!f) return undefined;
  try {
    appendFileSync(f, '');
  } catch (e) {
    throw new CliError(`cannot write --keylog ${f}: ${systemReason(e)}`);
  }
  return (line: string) => appendFileSync(f, line + '\n');
}

/** The chain and key of --cert/--key, loaded and matched; a bad file or mismatched key is a {@link CliError}. */
async function loadCredentials(provider: CryptoProvider, certFile: string, keyFile: string) {
  const chain = readText('--cert', certFile);
  const key = readText('--key', keyFile);
  try {
    return await loadCertifiedKey(provider, chain, key);
  } catch (e) {
    if (e instanceof PqtlsError) throw new CliError(`cannot use --cert ${certFile} with --key ${keyFile}: ${e.message}`);
    throw e;
  }
}

/** A web-PKI verifier trusting the roots in --ca `file`. */
function trustVerifier(provider: CryptoProvider, file: string): CertificateVerifier {
  const pem = readText('--ca', file);
  try {
    return webPkiVerifier({ provider, trustAnchors: [pem] });
  } catch (e) {
    if (e instanceof PqtlsError) throw new CliError(`cannot use --ca ${file}: ${e.message}`);
    throw e;
  }
}

/** An integer option in [min, max]; anything else is a usage error. */
function integerOption(flag: string, text: string, min: number, max: number): number {
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) throw new UsageError(`${flag} must be an integer in ${min}..${max}, not "${text}"`);
  return Number(text);
}

async function runServer(argv: readonly string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      port: { type: 'string' }, host: { type: 'string', default: '127.0.0.1' }, cert: { type: 'string' }, key: { type: 'string' },
      ca: { type: 'string' }, 'require-client-cert': { type: 'boolean' }, groups: { type: 'string' }, alpn: { type: 'string' },
      echo: { type: 'boolean' }, keylog: { type: 'string' }, 'max-connections': { type: 'string' }, 'early-data': { type: 'boolean' },
      provider: { type: 'string', default: 'noble' }, quic: { type: 'boolean' }, retry: { type: 'boolean' }, www: { type: 'string' },
      qlog: { type: 'string' }, 'quic-versions': { type: 'string' },
      'handshake-timeout': { type: 'string', default: '10000' }, 'max-handshakes': { type: 'string' }, help: { type: 'boolean', short: 'h' },
      ...quacOptions, 'quac-batch': { type: 'boolean', default: true }, 'metrics-port': { type: 'string' },
    },
    allowNegative: true,
  });
  if (values.help) {
    io.out(SERVER_HELP);
    return 0;
  }
  if (!values.port || !values.cert || !values.key) {
    io.err('pqtls server: --port, --cert and --key are required\n\n' + SERVER_HELP);
    return 2;
  }
  if (values['require-client-cert'] && !values.ca) {
    io.err('pqtls server: --require-client-cert needs --ca\n');
    return 2;
  }
  const port = integerOption('--port', values.port, 0, 65535);
  let remaining = values['max-connections'] ? integerOption('--max-connections', values['max-connections'], 1, Number.MAX_SAFE_INTEGER) : Infinity;
  const cardKey = quacLabel(values.key);
  if (values.quac === undefined) {
    if (cardKey !== undefined) throw new UsageError(`--key ${values.key} needs --quac`);
    if (values['metrics-port'] !== undefined) throw new UsageError('--metrics-port needs --quac');
  }
  const metricsPort = values['metrics-port'] === undefined ? undefined : integerOption('--metrics-port', values['metrics-port'], 0, 65535);
  const software = makeProvider(values.provider);
  // Batching across connections is on with the provider's defaults; batch size 1 is one operation per device call.
  const quac = await openQuacCard(values, process.env, { software, ...(values['quac-batch'] === false && { batch: { maxSize: 1 } }) });
  let metrics: HttpServer | undefined;
  try {
    const provider: CryptoProvider = quac ?? software;
    const certificate = quac && cardKey !== undefined
      ? await quacCredentials(quac, cardKey, readText('--cert', values.cert), values.cert)
      : await loadCredentials(provider, values.cert, values.key);
    if (quac && metricsPort !== undefined) {
      const m = await serveMetrics(quac, metricsPort);
      metrics = m.server;
      io.out(`metrics on http://127.0.0.1:${m.port}/metrics\n`);
    }
    return await serve(io, values, { port, remaining, provider, certificate });
  } finally {
    metrics?.closeAllConnections();
    metrics?.close();
    await quac?.close();
  }
}

type ServerValues = {
  readonly host?: string; readonly ca?: string; readonly 'require-client-cert'?: boolean; readonly groups?: string; readonly alpn?: string;
  readonly echo?: boolean; readonly keylog?: string; readonly 'early-data'?: boolean; readonly quic?: boolean; readonly retry?: boolean;
  readonly www?: string; readonly qlog?: string; readonly 'quic-versions'?: string;
  readonly 'handshake-timeout'?: string; readonly 'max-handshakes'?: string;
};

/** The server proper, over TCP or QUIC, once the provider and credentials are settled. */
async function serve(
  io: CliIo, values: ServerValues,
  o: { port: number; remaining: number; provider: CryptoProvider; certificate: Awaited<ReturnType<typeof loadCredentials>> },
): Promise<number> {
  const { port, provider, certificate } = o;
  let remaining = o.remaining;
  const clientAuth = values.ca
    ? { verifier: trustVerifier(provider, values.ca), required: values['require-client-cert'] ?? false }
    : undefined;
  const handshakeTimeoutMs = positiveInteger(values['handshake-timeout'], '--handshake-timeout');
  const maxConcurrentHandshakes = values['max-handshakes'] === undefined ? undefined : positiveInteger(values['max-handshakes'], '--max-handshakes');
  if (values.retry && !values.quic) throw new UsageError('--retry needs --quic');
  if (values.www !== undefined && !values.quic) throw new UsageError('--www needs --quic');
  if (values.quic) {
    return quicServe(io, {
      port, host: values.host ?? '127.0.0.1', echo: values.echo ?? false, www: values.www, maxConnections: remaining,
      retry: values.retry ?? false, maxConcurrentHandshakes, handshakeTimeoutMs, describe, systemReason, qlogDir: values.qlog ?? qlogDirFromEnv(),
      versions: values['quic-versions'] === undefined ? undefined : parseQuicVersions(values['quic-versions']),
      tls: {
        provider, certificate, clientAuth, groups: list(values.groups), keyLog: fileKeyLog(values.keylog),
        // Tickets, as over TCP (resumption, RFC 9001 §4.5); with --early-data, 0-RTT through ClientHello recording.
        tickets: { sealer: await TicketKeyRing.create(provider) },
        ...(values['early-data'] ? { earlyData: { maxSize: 0xffffffff, antiReplay: new MemoryAntiReplay() } } : {}),
        // --www speaks both of the interop runner's protocols unless told otherwise.
        alpnProtocols: required(list(values.alpn) ?? (values.www !== undefined ? ['h3', 'hq-interop'] : undefined), '--quic needs --alpn'),
      },
    });
  }
  const tickets = { sealer: await TicketKeyRing.create(provider) };
  const earlyData = values['early-data'] ? { maxSize: 16384, antiReplay: new MemoryAntiReplay() } : undefined;
  const server = createServer(
    {
      provider, certificate, clientAuth, groups: list(values.groups), alpnProtocols: list(values.alpn), keyLog: fileKeyLog(values.keylog),
      tickets, earlyData, handshakeTimeoutMs, maxConcurrentHandshakes,
    },
    (s) => {
      const info = s.handshakeInfo;
      io.out(
        `connection: group=${info ? (info.group === undefined ? 'none (psk_ke)' : groupName(info.group)) : '?'} cipher=${info?.cipherSuite.name} alpn=${info?.alpn ?? '-'}` +
          ` client-cert=${info?.peerCertificates.length ? 'yes' : 'no'} resumed=${info?.resumed ? 'yes' : 'no'} early-data=${info?.earlyData ?? 'none'}\n`,
      );
      s.on('data', (d: Buffer) => (values.echo ? s.write(d) : io.out(d.toString('utf8'))));
      s.on('end', () => s.end());
      s.on('error', () => undefined);
      s.on('close', () => {
        if (--remaining <= 0) server.close();
      });
    },
  );
  server.on('tlsClientError', (err: Error) => {
    io.err(`handshake failed: ${describe(err)}\n`);
    if (--remaining <= 0) server.close();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, values.host, () => {
      server.off('error', reject);
      resolve();
    });
  }).catch((e: unknown) => {
    throw new CliError(`cannot listen on ${values.host}:${port}: ${systemReason(e)}`);
  });
  const addr = server.address();
  io.out(`listening on ${values.host}:${typeof addr === 'object' && addr ? addr.port : port}\n`);
  await new Promise<void>((resolve) => server.on('close', resolve));
  return 0;
}

/** The JSON summary `pqtls client --json` prints. */
export interface ClientSummary {
  readonly protocol: string;
  readonly cipher: string;
  readonly group: string;
  readonly signatureScheme: string | null;
  readonly alpn: string | null;
  readonly resumed: boolean;
  /** null when no early data was attempted. */
  readonly earlyDataAccepted: boolean | null;
  readonly helloRetryRequest: boolean;
  readonly peerCertificates: readonly { subject: string; issuer: string; publicKeyAlgorithm: string }[];
  readonly handshakeMs: number;
  readonly reply?: string;
}

export function summarize(s: PqTlsSocket, handshakeMs: number): ClientSummary {
  if (!s.handshakeInfo) throw new Error('handshake not complete');
  return summarizeInfo(s.handshakeInfo, handshakeMs, 'TLSv1.3');
}

/** The summary of a completed handshake, over TLS or QUIC. */
export function summarizeInfo(info: HandshakeInfo, handshakeMs: number, protocol: string): ClientSummary {
  return {
    protocol,
    cipher: info.cipherSuite.name,
    group: info.group === undefined ? 'none (psk_ke)' : groupName(info.group),
    signatureScheme: info.peerSignatureScheme === undefined ? null : signatureSchemeName(info.peerSignatureScheme),
    alpn: info.alpn ?? null,
    resumed: info.resumed,
    earlyDataAccepted: info.earlyData === 'none' ? null : info.earlyData === 'accepted',
    helloRetryRequest: info.helloRetryRequest,
    peerCertificates: info.peerCertificates.map((der) => {
      const c = summarizeCertificate(parseCertificate(der));
      return { subject: c.subject, issuer: c.issuer, publicKeyAlgorithm: c.publicKeyAlgorithm };
    }),
    handshakeMs: Math.round(handshakeMs * 100) / 100,
  };
}

export function formatSummary(s: ClientSummary): string {
  const lines = [
    `Protocol:          ${s.protocol}`,
    `Cipher suite:      ${s.cipher}`,
    `Key exchange:      ${s.group}${s.helloRetryRequest ? ' (after HelloRetryRequest)' : ''}`,
    `Peer signature:    ${s.signatureScheme ?? '-'}`,
    `ALPN:              ${s.alpn ?? '-'}`,
    `Resumed:           ${s.resumed ? 'yes' : 'no'}`,
    `Early data:        ${s.earlyDataAccepted === null ? '-' : s.earlyDataAccepted ? 'accepted' : 'rejected'}`,
    `Handshake:         ${s.handshakeMs.toFixed(1)} ms`,
    'Peer certificates:',
    ...s.peerCertificates.map((c, i) => `  ${i}: ${c.subject}  [${c.publicKeyAlgorithm}]  issued by ${c.issuer}`),
  ];
  if (s.reply !== undefined) lines.push(`Reply:             ${JSON.stringify(s.reply)}`);
  return lines.join('\n') + '\n';
}

async function runClient(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      ca: { type: 'string' }, servername: { type: 'string' }, cert: { type: 'string' }, key: { type: 'string' },
      groups: { type: 'string' }, 'key-shares': { type: 'string' }, alpn: { type: 'string' }, send: { type: 'string' },
      keylog: { type: 'string' }, json: { type: 'boolean' }, session: { type: 'string' }, 'early-data': { type: 'string' },
      provider: { type: 'string', default: 'noble' }, quic: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
      'cipher-suites': { type: 'string' }, download: { type: 'string' }, 'quic-version': { type: 'string' },
      multiconnect: { type: 'boolean' }, 'key-update': { type: 'boolean' }, qlog: { type: 'string' },
      resumption: { type: 'boolean' }, '0rtt': { type: 'boolean' }, migrate: { type: 'boolean' },
    },
  });
  if (values.help) {
    io.out(CLIENT_HELP);
    return 0;
  }
  const cipherSuites = values['cipher-suites'] === undefined ? undefined : parseCipherSuites(values['cipher-suites']);
  const version = values['quic-version'] === undefined ? undefined : parseQuicVersion(values['quic-version']);
  // A version we cannot speak (a reserved one, RFC 9000 §15) is tried first, then v1 and v2 after Version Negotiation.
  const versions = version && version !== QUIC_V1 && version !== QUIC_V2 ? [version, QUIC_V1, QUIC_V2] : undefined;
  if (positionals.some((p) => p.includes('://')) || values.download !== undefined) {
    if (!values.quic || values.download === undefined || !values.ca) throw new UsageError('URLs need --quic, --download DIR and --ca');
    const provider = makeProvider(values.provider);
    return quicDownload(io, {
      urls: positionals, dir: values.download, alpn: required(list(values.alpn), '--quic needs --alpn')[0] as string,
      multiconnect: values.multiconnect ?? false, keyUpdate: values['key-update'] ?? false, version, versions, describe,
      resumption: values.resumption ?? false, zeroRtt: values['0rtt'] ?? false, migrate: values.migrate ?? false,
      qlogDir: values.qlog ?? qlogDirFromEnv(),
      tls: {
        provider, verifier: trustVerifier(provider, values.ca), serverName: values.servername, groups: list(values.groups),
        keyShareGroups: list(values['key-shares']), keyLog: fileKeyLog(values.keylog), cipherSuites,
      },
    });
  }
  const target = positionals[0];
  const m = target ? /^(.+):(\d+)$/.exec(target) : null;
  if (!m || !values.ca) {
    io.err('pqtls client: HOST:PORT and --ca are required\n\n' + CLIENT_HELP);
    return 2;
  }
  const host = (m[1] as string).replace(/^\[(.*)\]$/, '$1');
  const port = integerOption('port', m[2] as string, 1, 65535);
  if ((values.cert === undefined) !== (values.key === undefined)) throw new UsageError('--cert and --key go together');
  const provider = makeProvider(values.provider);
  const verifier = trustVerifier(provider, values.ca);
  const certificate = values.cert && values.key ? await loadCredentials(provider, values.cert, values.key) : undefined;
  const start = performance.now();
  if (values.quic) {
    return quicEchoClient(io, {
      host, port, send: values.send, json: values.json ?? false, start,
      connect: {
        ...(version ? { version } : {}), qlogDir: values.qlog ?? qlogDirFromEnv(),
        tls: {
          provider, verifier, certificate, serverName: values.servername ?? host, groups: list(values.groups), cipherSuites,
          keyShareGroups: list(values['key-shares']), alpnProtocols: required(list(values.alpn), '--quic needs --alpn'), keyLog: fileKeyLog(values.keylog),
        },
      },
    }, { summarize: (info, ms, protocol) => summarizeInfo(info, ms, protocol), format: (x) => formatSummary(x as ClientSummary), describe });
  }
  const sessionStore = values.session ? new FileSessionStore(values.session) : undefined;
  let sock: PqTlsSocket;
  try {
    sock = await connect({
      host, port, provider, verifier, certificate, serverName: values.servername ?? host,
      groups: list(values.groups), keyShareGroups: list(values['key-shares']), alpnProtocols: list(values.alpn),
      keyLog: fileKeyLog(values.keylog), cipherSuites,
      sessionStore,
      earlyData: values['early-data'] !== undefined ? new TextEncoder().encode(values['early-data']) : undefined,
    });
  } catch (e) {
    io.err(`pqtls client: handshake failed: ${describe(e)}\n`);
    return 1;
  }
  let summary = summarize(sock, performance.now() - start);
  const chunks: Buffer[] = [];
  sock.on('data', (d: Buffer) => chunks.push(d));
  // Wait for the server to close (tickets arrive meanwhile), but not forever when it does not.
  const ended = new Promise<void>((resolve) => {
    sock.on('end', resolve);
    sock.on('close', resolve);
    sock.on('error', () => resolve());
    setTimeout(resolve, values.send !== undefined ? 30_000 : 1_000).unref();
  });
  sock.end(values.send);
  await ended;
  // The store writes in the background; the newest ticket must be on disk before we exit.
  try {
    await sessionStore?.flush();
  } catch (e) {
    io.err(`pqtls client: could not save the session: ${describe(e)}\n`);
  }
  if (values.send !== undefined) summary = { ...summary, reply: Buffer.concat(chunks).toString('utf8') };
  io.out(values.json ? JSON.stringify(summary) + '\n' : formatSummary(summary));
  sock.destroy();
  return 0;
}

function positiveInteger(v: string | undefined, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} needs a positive integer, got "${v}"`);
  return n;
}

/** `--cipher-suites`: TLS 1.3 suite names, comma-separated. */
function parseCipherSuites(text: string): CipherSuite[] {
  return (list(text) ?? []).map((name) => {
    const id = (CipherSuite as Record<string, CipherSuite | undefined>)[name];
    if (id === undefined) throw new UsageError(`unknown cipher suite "${name}" (${Object.keys(CipherSuite).join(', ')})`);
    return id;
  });
}

function parseQuicVersion(text: string): QuicVersion {
  if (text === 'v1' || text === '1') return QUIC_V1;
  if (text === 'v2' || text === '2') return QUIC_V2;
  // A reserved version (RFC 9000 §15: 0x?a?a?a?a) in v1's packet format: no server speaks it, so it forces
  // Version Negotiation, as the interop runner's case does; the client then starts over in v1 or v2.
  if (/^0x[0-9a-f]{8}$/i.test(text) && isReservedVersion(Number(text))) return versionNegotiationProbe(Number(text));
  if (/^0x[0-9a-f]{1,8}$/i.test(text) && Number(text) === QUIC_V1.number) return QUIC_V1;
  if (/^0x[0-9a-f]{1,8}$/i.test(text) && Number(text) === QUIC_V2.number) return QUIC_V2;
  throw new UsageError(`--quic-version must be v1, v2 or a reserved version 0x?a?a?a?a, not "${text}"`);
}

/** `--quic-versions v2,v1`: the server's preference, which switches clients that offer a preferred one (RFC 9368). */
function parseQuicVersions(text: string): QuicVersion[] {
  const out = text.split(',').map((t) => parseQuicVersion(t.trim()));
  if (out.some((v) => v !== QUIC_V1 && v !== QUIC_V2)) throw new UsageError('--quic-versions takes v1 and v2');
  return out;
}

function required<T>(v: T | undefined, message: string): T {
  if (v === undefined) throw new UsageError(message);
  return v;
}

/** An error as a user should read it: the alert's name first when there is one. */
export function describe(e: unknown): string {
  if (e instanceof PqtlsError) return `${alertName(e.alert)}: ${e.message}`;
  return e instanceof Error ? e.message : String(e);
}
