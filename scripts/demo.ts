/**
 * `npm run demo`: mints a fresh ML-DSA-65 CA and leaf, starts a pqtls server on
 * 127.0.0.1, connects a pqtls client to it over real TCP with X25519MLKEM768,
 * sends a line, and prints what was negotiated; then does the same over QUIC v1 on UDP.
 *
 * `npm run demo -- --quac`: the same two handshakes, but the server's ML-DSA-65
 * key is made on an emulated QUAC 100 card (non-extractable) and the server's
 * ML-KEM and ML-DSA work goes to that card through the QUAC provider, batched;
 * the summary says which card holds the key and what the card did.
 */
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { KeyUnavailableError } from '../src/errors.js';
import { EmulatedQuacLibrary } from '../src/hw/quac100/emulated.js';
import { createQuacProvider, type QuacKeyRef, type QuacProvider } from '../src/hw/quac100/provider.js';
import { createNobleProvider, type CryptoProvider, type KeyPair } from '../src/pq/index.js';
import { connect, createServer } from '../src/node/index.js';
import { webPkiVerifier } from '../src/tls13/verifier.js';
import { generateRoot, issueLeaf } from '../src/x509/ca.js';
import { formatSummary, summarize, summarizeInfo } from '../src/cli/tls.js';
import { createQuicServer, quicConnect } from '../src/node/quic.js';
import type { StreamEvent } from '../src/quic/connection/streams.js';
import type { HandshakeInfo } from '../src/tls13/handshake/common.js';

const QUAC_KEY_LABEL = 'pqtls-demo-server';

/** The server side with `--quac`: an emulated card, the QUAC provider over it (default batching) and a stored ML-DSA-65 key. */
async function quacServer(): Promise<{ quac: QuacProvider; key: KeyPair }> {
  const quac = await createQuacProvider({
    library: new EmulatedQuacLibrary(),
    batch: { maxSize: 32, maxWaitMs: 1 },
    // A server only encapsulates to its clients' shares: it has no use for a stock of client key pairs.
    keyPool: false,
  });
  return { quac, key: await quac.createStoredKey('ml-dsa-65', QUAC_KEY_LABEL) };
}

/** What the card did, from the provider's own metrics; the key's non-extractability is checked, not assumed. */
async function quacSummary(quac: QuacProvider, key: KeyPair): Promise<string> {
  const ref = key.privateKey as QuacKeyRef;
  let extractable = 'EXTRACTABLE (export succeeded)';
  try {
    await quac.exportPrivateKey(ref);
  } catch (e) {
    if (!(e instanceof KeyUnavailableError)) throw e;
    extractable = 'no (export refused)';
  }
  const m = quac.metrics();
  const count = (xs: typeof m.signOperations, op: string): number => xs.filter((x) => x.labels['operation'] === op).reduce((a, x) => a + x.value, 0);
  const fallbacks = m.softwareFallbacks.reduce((a, x) => a + x.value, 0);
  return [
    'Server key:        ML-DSA-65 on QUAC 100 (emulated)',
    `  device:          ${ref.device}`,
    `  key label:       ${ref.label} (handle 0x${ref.handle.toString(16)})`,
    `  extractable:     ${extractable}`,
    `Device work:       ${count(m.signOperations, 'sign')} ML-DSA signatures, ${count(m.kemOperations, 'encaps')} ML-KEM encapsulations`,
    `  batches:         ${m.batchSizes.count} batch calls carrying ${m.batchSizes.sum} operations (batching on, up to 32 items or 1 ms)`,
    `  device calls:    ${m.deviceCalls} (${m.deviceOperations} operations)`,
    `  software fallbacks: ${fallbacks}`,
  ].join('\n') + '\n';
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { quac: { type: 'boolean', default: false } } });
  const provider = createNobleProvider();
  const card = values.quac ? await quacServer() : undefined;
  const serverProvider: CryptoProvider = card?.quac ?? provider;
  const now = Date.now();
  const validity = { notBefore: new Date(now - 3600_000), notAfter: new Date(now + 24 * 3600_000) };
  const t0 = performance.now();
  const root = await generateRoot({ provider, subject: 'CN=pqtls demo root', algorithm: 'ml-dsa-65', ...validity });
  const leaf = await issueLeaf({
    provider, algorithm: 'ml-dsa-65', dns: ['localhost'], ip: ['127.0.0.1'], ...validity, ...(card && { keyPair: card.key }),
    issuer: { certificate: root.certificate, privateKey: root.keyPair.privateKey },
  });
  const mintMs = performance.now() - t0;
  const certificate = {
    chain: [leaf.certificate.der, root.certificate.der],
    privateKey: leaf.keyPair.privateKey,
    keyAlgorithm: 'ml-dsa-65' as const,
  };

  const server = createServer({ provider: serverProvider, certificate, alpnProtocols: ['pqtls-demo'] }, (s) => {
    s.on('data', (d: Buffer) => s.write(Buffer.concat([Buffer.from('echo: '), d])));
    s.on('end', () => s.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    const start = performance.now();
    const sock = await connect({
      host: '127.0.0.1', port, provider, serverName: 'localhost', alpnProtocols: ['pqtls-demo'],
      verifier: webPkiVerifier({ provider, trustAnchors: [root.certificate.der] }),
    });
    const handshakeMs = performance.now() - start;
    const reply: Buffer[] = [];
    const ended = new Promise<void>((resolve) => sock.on('end', resolve));
    sock.on('data', (d: Buffer) => reply.push(d));
    sock.end('hello, post-quantum world');
    await ended;
    const summary = { ...summarize(sock, handshakeMs), reply: Buffer.concat(reply).toString('utf8') };
    const where = card ? ', server key on an emulated QUAC 100' : '';
    process.stdout.write(`pqtls demo: loopback TLS 1.3 on 127.0.0.1:${port}${where} (certificates minted in ${mintMs.toFixed(0)} ms)\n\n`);
    process.stdout.write(formatSummary(summary));
    if (summary.group !== 'X25519MLKEM768' || summary.signatureScheme !== 'mldsa65') {
      throw new Error('demo did not negotiate X25519MLKEM768 with ML-DSA-65');
    }
  } finally {
    server.close();
  }
  try {
    await quicDemo(serverProvider, provider, certificate, root.certificate.der);
    if (card) {
      process.stdout.write(`\nThe server's side of both handshakes on the card:\n\n${await quacSummary(card.quac, card.key)}`);
      const signatures = card.quac.metrics().signOperations.filter((x) => x.labels['operation'] === 'sign').reduce((a, x) => a + x.value, 0);
      if (signatures < 2) throw new Error(`the card made ${signatures} signatures, not one per handshake`);
    }
  } finally {
    await card?.quac.close();
  }
}

/** The same chain over QUIC v1 on loopback UDP: the handshake in CRYPTO frames, one stream echoed. */
async function quicDemo(serverProvider: CryptoProvider, provider: CryptoProvider, certificate: CertifiedKeyOf, rootDer: Uint8Array): Promise<void> {
  const sock = createQuicServer({ tls: { provider: serverProvider, certificate, alpnProtocols: ['pqtls-demo'] } }, (s) => {
    s.on('stream', (ev: StreamEvent) => {
      if (ev.type !== 'readable' && ev.type !== 'finished') return;
      for (let r = s.connection.readStream(ev.id); r && (r.data.length || r.fin); r = s.connection.readStream(ev.id)) {
        void s.write(ev.id, new TextEncoder().encode(`echo: ${new TextDecoder().decode(r.data)}`), r.fin);
      }
    });
  });
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
  const { port } = sock.address();
  try {
    const start = performance.now();
    const session = await quicConnect({
      host: '127.0.0.1', port,
      tls: { provider, serverName: 'localhost', alpnProtocols: ['pqtls-demo'], verifier: webPkiVerifier({ provider, trustAnchors: [rootDer] }) },
    });
    const handshakeMs = performance.now() - start;
    const id = session.connection.openStream(true);
    const chunks: string[] = [];
    const done = new Promise<void>((resolve) => {
      session.on('stream', (ev: StreamEvent) => {
        if ((ev.type !== 'readable' && ev.type !== 'finished') || ev.id !== id) return;
        for (let r = session.connection.readStream(id); r && (r.data.length || r.fin); r = session.connection.readStream(id)) {
          chunks.push(new TextDecoder().decode(r.data));
          if (r.fin) resolve();
        }
      });
    });
    await session.write(id, new TextEncoder().encode('hello over QUIC'), true);
    await done;
    const summary = { ...summarizeInfo(session.handshake as HandshakeInfo, handshakeMs, 'QUICv1'), reply: chunks.join('') };
    process.stdout.write(`\nThe same chain over QUIC v1, UDP 127.0.0.1:${port}:\n\n`);
    process.stdout.write(formatSummary(summary));
    await session.close(0, 'demo done');
    if (summary.group !== 'X25519MLKEM768') throw new Error('QUIC demo did not negotiate X25519MLKEM768');
  } finally {
    sock.close();
  }
}

type CertifiedKeyOf = Parameters<typeof createServer>[0]['certificate'];

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`demo failed: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
    process.exit(1);
  },
);
