// A Cloudflare Worker that is a TLS 1.3 server over a WebSocketPair (pqtls/transport): the TLS
// records arrive as WebSocket messages, the Worker decrypts and echoes them. Its ML-DSA-65 root and
// leaf are made on the first request (a Worker may not draw randomness at start-up); GET /ca
// returns the root for the client to trust. Bundled and served by workerd in matrix.test.ts.
import { createWebCryptoProvider } from 'pqtls/pq';
import { acceptWebSocket } from 'pqtls/transport';
import { certificateToPem, generateRoot, issueIntermediate, issueLeaf } from 'pqtls/x509';

let pki;
async function makePki() {
  const provider = createWebCryptoProvider();
  const validity = { notBefore: new Date(Date.now() - 86_400_000), notAfter: new Date(Date.now() + 86_400_000) };
  const root = await generateRoot({ provider, algorithm: 'ml-dsa-65', subject: 'CN=Worker Root,O=pqtls', ...validity });
  const inter = await issueIntermediate({ provider, algorithm: 'ml-dsa-65', subject: 'CN=Browser Intermediate,O=pqtls', ...validity, issuer: { certificate: root.certificate, privateKey: root.keyPair.privateKey } });
  const leaf = await issueLeaf({ provider, algorithm: 'ml-dsa-65', dns: ['localhost'], ...validity, issuer: { certificate: inter.certificate, privateKey: inter.keyPair.privateKey } });
  return {
    provider,
    rootPem: certificateToPem(root.certificate.der),
    certificate: { chain: [leaf.certificate.der, inter.certificate.der], keyAlgorithm: 'ml-dsa-65', privateKey: leaf.keyPair.privateKey },
  };
}

export default {
  async fetch(request) {
    pki ??= makePki();
    const { provider, rootPem, certificate } = await pki;
    if (request.headers.get('upgrade') !== 'websocket') {
      return new Response(rootPem, { headers: { 'content-type': 'application/x-pem-file', 'access-control-allow-origin': '*' } });
    }
    const [client, server] = Object.values(new WebSocketPair());
    server.accept();
    const tls = acceptWebSocket(server, { provider, now: () => Date.now(), certificate });
    (async () => {
      await tls.handshake;
      for (let d = await tls.read(); d !== undefined; d = await tls.read()) await tls.write(d);
      await tls.close();
    })().catch(() => undefined); // the connection's own error closes the WebSocket; nothing to add
    return new Response(null, { status: 101, webSocket: client });
  },
};
