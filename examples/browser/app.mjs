// TLS 1.3 from a browser tab: X25519MLKEM768 + ML-DSA through a WebSocket-to-TCP relay
// (`pqtls relay`) to an ordinary TLS server. The relay forwards records only; the handshake, the
// certificate check and the keys are all here, in the page.
import { connectWebSocket } from 'pqtls/transport';
import { SignatureScheme, createWebCryptoProvider, groupName } from 'pqtls/pq';
import { webPkiVerifier } from 'pqtls/tls13';
import { parseCertificate, summarizeCertificate } from 'pqtls/x509';

const schemeName = (code) => Object.entries(SignatureScheme).find(([, v]) => v === code)?.[0] ?? `0x${code?.toString(16)}`;

/**
 * Connects through the relay at `relayUrl` (ws://…), verifies the server's chain against `caPem`
 * for `serverName`, sends `message` and waits for `replyBytes` bytes of reply (or the server's
 * close). Resolves to what the page shows.
 */
export async function connectViaRelay({ relayUrl, caPem, serverName, message, replyBytes }) {
  // SubtleCrypto for AES-GCM, X25519/ECDH and classical signatures where the browser has them; noble for ML-KEM/ML-DSA.
  const provider = createWebCryptoProvider();
  const started = performance.now();
  const ws = new WebSocket(relayUrl);
  const tls = await connectWebSocket(ws, { provider, now: () => Date.now(), serverName, verifier: webPkiVerifier({ provider, trustAnchors: [caPem] }) });
  const info = await tls.handshake;
  const handshakeMs = performance.now() - started;
  await tls.write(new TextEncoder().encode(message));
  const chunks = [];
  let received = 0;
  while (received < replyBytes) {
    const d = await tls.read();
    if (d === undefined) break;
    chunks.push(d);
    received += d.length;
  }
  await tls.close();
  const reply = new TextDecoder().decode(chunks.reduce((a, b) => {
    const out = new Uint8Array(a.length + b.length);
    out.set(a);
    out.set(b, a.length);
    return out;
  }, new Uint8Array(0)));
  return {
    protocol: info.version,
    cipherSuite: info.cipherSuite.name,
    group: groupName(info.group),
    signatureScheme: schemeName(info.peerSignatureScheme),
    chain: info.peerCertificates.map((der) => {
      const s = summarizeCertificate(parseCertificate(der));
      return { subject: s.subject, issuer: s.issuer, publicKeyAlgorithm: s.publicKeyAlgorithm, signatureAlgorithm: s.signatureAlgorithm };
    }),
    handshakeMs: Math.round(handshakeMs),
    reply,
  };
}

/** Renders a result into the page's summary table. */
export function show(result, el = document.getElementById('summary')) {
  const rows = [
    ['protocol', result.protocol], ['cipher suite', result.cipherSuite], ['key exchange', result.group],
    ['server signature', result.signatureScheme], ['handshake', `${result.handshakeMs} ms (in this tab, through the relay)`],
    ...result.chain.map((c, i) => [i === 0 ? 'certificate' : `issuer ${i}`, `${c.subject} — ${c.publicKeyAlgorithm}, signed ${c.signatureAlgorithm} by ${c.issuer}`]),
    ['reply', result.reply],
  ];
  el.replaceChildren(...rows.map(([k, v]) => {
    const tr = document.createElement('tr');
    const th = document.createElement('th');
    const td = document.createElement('td');
    th.textContent = k;
    td.textContent = v;
    tr.append(th, td);
    return tr;
  }));
}
