/**
 * `pqtls server --quac`: the server's certificate chain with its key on the
 * card (`--key quac:LABEL`), and the provider's metrics in Prometheus text on
 * `GET /metrics`. The card itself is opened by quac-card.ts.
 */
import { createServer as httpCreateServer, type Server as HttpServer } from 'node:http';
import { equalBytes } from '../bytes.js';
import { PqtlsError } from '../errors.js';
import { prometheusText } from '../hw/quac100/metrics.js';
import type { QuacKeyRef, QuacProvider } from '../hw/quac100/provider.js';
import { pemCertificates } from '../tls13/credentials.js';
import type { CertifiedKey } from '../tls13/config.js';
import type { KeyAlgorithm } from '../pq/ids.js';
import { parseCertificate } from '../x509/certificate.js';
import { CliError } from './command.js';

const QUAC_KEY_PREFIX = 'quac:';

/**
 * The chain in `chainPem` with the card's key `label` as its private key:
 * the leaf must certify that key's public key, or the handshake could never
 * verify.
 */
export async function quacCredentials(
  provider: QuacProvider, label: string, chainPem: string, certFile: string,
): Promise<CertifiedKey & { readonly keyAlgorithm: KeyAlgorithm }> {
  let key;
  try {
    key = await provider.storedKey(label);
  } catch (e) {
    if (e instanceof PqtlsError) throw new CliError(`--key ${QUAC_KEY_PREFIX}${label}: ${e.message}`);
    throw e;
  }
  const chain = pemCertificates(chainPem);
  const leaf = chain[0];
  if (!leaf) throw new CliError(`--cert ${certFile} holds no certificate`);
  let leafKey: Uint8Array;
  try {
    leafKey = parseCertificate(leaf).publicKey.publicKey;
  } catch (e) {
    if (e instanceof PqtlsError) throw new CliError(`--cert ${certFile}: ${e.message}`);
    throw e;
  }
  if (!equalBytes(leafKey, key.publicKey)) {
    throw new CliError(`--cert ${certFile} does not certify the key ${QUAC_KEY_PREFIX}${label} on the card (its public key differs)`);
  }
  return { chain, privateKey: key.privateKey, keyAlgorithm: (key.privateKey as QuacKeyRef).algorithm };
}

/** `GET /metrics` on 127.0.0.1:`port` in Prometheus text; resolves with the port it listens on. */
export async function serveMetrics(provider: QuacProvider, port: number): Promise<{ server: HttpServer; port: number }> {
  const server = httpCreateServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(prometheusText(provider.metrics()));
  });
  // A scraper that holds its connection open must not keep the server process alive after it closes.
  server.keepAliveTimeout = 1000;
  server.headersTimeout = 5000;
  server.requestTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  }).catch((e: unknown) => {
    throw new CliError(`cannot serve metrics on 127.0.0.1:${port}: ${e instanceof Error ? e.message : String(e)}`);
  });
  const a = server.address();
  return { server, port: typeof a === 'object' && a ? a.port : port };
}
