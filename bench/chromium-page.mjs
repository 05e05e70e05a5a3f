// The in-page half of bench/chromium.ts: runs in headless Chromium as ES modules from the packed
// package (import map), like the runtime matrix: the WebCrypto provider and noble, by name, measured
// in the same page.
import { createNobleProvider, createWebCryptoProvider } from 'pqtls/pq';
import { TlsConnection, webPkiVerifier } from 'pqtls/tls13';
import { generateRoot, issueLeaf } from 'pqtls/x509';

const PROVIDERS = { noble: () => createNobleProvider(), webcrypto: () => createWebCryptoProvider() };

async function pump(a, b) {
  for (let i = 0; i < 100; i++) {
    let moved = false;
    for (const [from, to] of [[a, b], [b, a]]) {
      if (from.wantsWrite) {
        await to.receive(from.takeOutput());
        moved = true;
      }
    }
    if (!moved) return;
  }
  throw new Error('pump did not settle');
}

/** Full X25519MLKEM768 + ML-DSA-65 handshakes, both sides in this page, chain checked by webPkiVerifier. */
async function handshakes(provider, seconds) {
  const validity = { notBefore: new Date(Date.now() - 86_400_000), notAfter: new Date(Date.now() + 86_400_000) };
  const root = await generateRoot({ provider, algorithm: 'ml-dsa-65', subject: 'CN=Bench Root', ...validity });
  const leaf = await issueLeaf({ provider, algorithm: 'ml-dsa-65', dns: ['localhost'], ...validity, issuer: { certificate: root.certificate, privateKey: root.keyPair.privateKey } });
  const certificate = { chain: [leaf.certificate.der], keyAlgorithm: 'ml-dsa-65', privateKey: leaf.keyPair.privateKey };
  const verifier = webPkiVerifier({ provider, trustAnchors: [root.certificate.der] });
  const now = () => Date.now();
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < seconds * 1000 || n < 3) {
    const server = TlsConnection.server({ provider, now, certificate });
    const client = await TlsConnection.client({ provider, now, serverName: 'localhost', verifier });
    await pump(client, server);
    if (!client.handshakeInfo || !server.handshakeInfo) throw new Error(`handshake failed: ${client.error?.message ?? server.error?.message}`);
    n++;
  }
  return n / ((performance.now() - start) / 1000);
}

/** AES-128-GCM sealing through the provider, 16 KiB records (TLS's largest), in MB/s. */
async function aesGcm(provider, seconds) {
  const key = await provider.aead('AES-128-GCM', new Uint8Array(16).fill(7));
  const record = new Uint8Array(16384).fill(1);
  const nonce = new Uint8Array(12);
  const aad = new Uint8Array(5);
  let bytes = 0;
  const start = performance.now();
  while (performance.now() - start < seconds * 1000) {
    await key.seal(nonce, aad, record);
    bytes += record.length;
  }
  return bytes / 1e6 / ((performance.now() - start) / 1000);
}

export async function runBench(seconds = 5) {
  const rows = [];
  for (const [name, make] of Object.entries(PROVIDERS)) {
    const provider = make();
    rows.push({ provider: name, handshakesPerSecond: await handshakes(provider, seconds), aesGcmMBps: await aesGcm(provider, seconds) });
  }
  return { userAgent: navigator.userAgent, rows };
}
