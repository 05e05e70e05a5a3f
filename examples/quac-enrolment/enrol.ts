/**
 * Device enrolment with a card-held identity key (QUAC 100, emulated):
 *
 *   1. the device makes its ML-DSA-65 identity key on its card: persistent, non-extractable;
 *   2. it writes a PKCS #10 request signed on the card (proof of possession);
 *   3. a CA checks the request and issues a clientAuth certificate for the card's key;
 *   4. the device restarts (a new card object on the same flash) and finds its key by label;
 *   5. it connects to an mTLS server with that certificate: the CertificateVerify is signed on the card;
 *   6. meanwhile the server, whose own ML-DSA-65 key lives on its card, rotates that key without a restart:
 *      a new key on the card, a new certificate for it (`setCertificate`), the old key destroyed after a
 *      grace period; the device's next connection sees the new certificate.
 *
 * Run: node --import tsx examples/quac-enrolment/enrol.ts
 * (In an application the imports are `pqtls/hw`, `pqtls/node`, `pqtls/x509`, `pqtls/tls13`.)
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QuacError, createQuacProvider, emulatedQuacLibrary, rotateStoredKey, type QuacKeyRef, type QuacProvider } from '../../src/hw/index.js';
import { connect, createServer, fileQuacStorage, type PqTlsServer, type PqTlsSocket } from '../../src/node/index.js';
import type { KeyPair } from '../../src/pq/provider.js';
import { createNobleProvider, groupName, signatureSchemeName } from '../../src/pq/index.js';
import { webPkiVerifier } from '../../src/tls13/verifier.js';
import {
  KeyUnavailableError, certificateToPem, certificationRequestToPem, createCertificationRequest, generateRoot, issueLeaf, issueLeafFromRequest,
  parseCertificate,
} from '../../src/x509/index.js';

const LABEL = 'device-identity';
const SERVER_LABEL = 'server-identity';
/** How long the server's previous key keeps signing for handshakes already under way. */
const GRACE_MS = 200;
const DEVICE = 'device-0042.devices.example';

/** The device's card: an emulated QUAC 100 whose flash is `state` (a real device: nativeQuacLibrary()). */
const openCard = (state: string): Promise<QuacProvider> =>
  createQuacProvider({ library: emulatedQuacLibrary({ storage: fileQuacStorage(state) }), keyPool: false });

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'pqtls-enrol-'));
  const state = join(work, 'card-flash.json');
  const say = (line: string): void => void process.stdout.write(`${line}\n`);
  const now = Date.now();
  const validity = { notBefore: new Date(now - 3600_000), notAfter: new Date(now + 30 * 86_400_000) };
  try {
    // 1. The identity key is made inside the card and never leaves it.
    let card = await openCard(state);
    const identity = await card.createStoredKey('ml-dsa-65', LABEL, { persistent: true });
    const ref = identity.privateKey as QuacKeyRef;
    say(`device: made ${ref.algorithm} key quac:${ref.label} on card ${ref.device} (handle ${ref.handle})`);
    const exported = await card.exportPrivateKey(identity.privateKey).then(() => 'EXPORTED', (e: unknown) => e instanceof KeyUnavailableError ? 'refused' : 'failed');
    say(`device: export of the private key: ${exported}`);

    // 2. The request is signed on the card.
    const csr = certificationRequestToPem(await createCertificationRequest({
      provider: card, keyPair: identity, subject: `CN=${DEVICE},O=Example Devices`, dns: [DEVICE],
    }));
    writeFileSync(join(work, 'device.csr'), csr);
    say(`device: wrote a PKCS #10 request (${csr.length} bytes of PEM)`);

    // 3. The CA (software keys here) checks the proof of possession and certifies the card's key for client auth.
    const ca = createNobleProvider();
    const root = await generateRoot({ provider: ca, subject: 'CN=Example device CA', algorithm: 'ml-dsa-65', ...validity });
    const issuer = { certificate: root.certificate, privateKey: root.keyPair.privateKey };
    const deviceCert = await issueLeafFromRequest({ provider: ca, issuer, request: csr, extKeyUsage: ['clientAuth'], ...validity });
    writeFileSync(join(work, 'device.pem'), certificateToPem(deviceCert));
    say(`ca: issued "${deviceCert.subject.text}" (clientAuth), serial ${Buffer.from(deviceCert.serialNumber).toString('hex')}`);

    // 4. A restart: the key is found on the card by its label, the same key the certificate names.
    await card.close();
    card = await openCard(state);
    const key = await card.storedKey(LABEL);
    const same = Buffer.from(key.publicKey).equals(Buffer.from(deviceCert.publicKey.publicKey));
    say(`device: after restart, quac:${LABEL} found on the card; matches the certificate: ${same ? 'yes' : 'NO'}`);
    if (!same) throw new Error('the card key is not the certified key');

    // 5. mTLS on loopback: the server requires a client certificate from the device CA; its own key is on its card.
    const serverCard = await createQuacProvider({ library: emulatedQuacLibrary(), keyPool: false });
    const serverKey = await serverCard.createStoredKey('ml-dsa-65', SERVER_LABEL, { persistent: true });
    const server = await startServer(serverCard, await serverLeaf(ca, issuer, validity, serverKey), root.certificate.der);
    const { port } = server.address() as AddressInfo;
    const device = { chain: [deviceCert.der], privateKey: key.privateKey, keyAlgorithm: 'ml-dsa-65' as const };
    try {
      const signsBefore = signCount(card);
      const first = await visit(port, card, root.certificate.der, device);
      say(`tls: TLSv1.3 ${first.suite}, key exchange ${first.group}, server signature ${first.scheme}`);
      say(`tls: server replied: ${first.reply}`);
      say(`device: signatures made on the card during the handshake: ${signCount(card) - signsBefore}`);

      // 6. The server rotates its card key while it keeps running.
      const rotation = await rotateStoredKey(serverCard, SERVER_LABEL, { graceMs: GRACE_MS });
      server.setCertificate(await serverLeaf(ca, issuer, validity, rotation.key));
      const second = await visit(port, card, root.certificate.der, device);
      say(`server: rotated quac:${SERVER_LABEL} to handle ${(rotation.key.privateKey as QuacKeyRef).handle}; `
        + `the device's next connection saw a new server certificate: ${second.serverSerial !== first.serverSerial ? 'yes' : 'NO'}`);
      if (second.serverSerial === first.serverSerial) throw new Error('the server certificate did not change');
      await rotation.retired;
      const old = await serverCard.storedKeyAttributes(rotation.previous.privateKey).then(() => 'still on the card', (e: unknown) => e instanceof QuacError ? e.resultName : String(e));
      say(`server: after ${GRACE_MS} ms of grace the previous key is destroyed: ${old}`);
      if (old !== 'KEY_NOT_FOUND') throw new Error('the previous server key outlived its grace period');
    } finally {
      server.close();
      await card.close();
      await serverCard.close();
    }
    say('enrolment complete');
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** A serverAuth leaf for `localhost` certifying `key` (a card key: the CA never holds its private half). */
async function serverLeaf(
  ca: ReturnType<typeof createNobleProvider>, issuer: Parameters<typeof issueLeaf>[0]['issuer'],
  validity: { notBefore: Date; notAfter: Date }, key: KeyPair,
): Promise<{ chain: Uint8Array[]; privateKey: KeyPair['privateKey']; keyAlgorithm: 'ml-dsa-65' }> {
  const leaf = await issueLeaf({ provider: ca, issuer, keyPair: key, algorithm: 'ml-dsa-65', dns: ['localhost'], ...validity });
  return { chain: [leaf.certificate.der], privateKey: key.privateKey, keyAlgorithm: 'ml-dsa-65' };
}

/** An mTLS echo server that greets the client by its certificate's subject. */
async function startServer(
  provider: QuacProvider, certificate: Awaited<ReturnType<typeof serverLeaf>>, rootDer: Uint8Array,
): Promise<PqTlsServer> {
  const server = createServer({
    provider, certificate,
    clientAuth: { verifier: webPkiVerifier({ provider, trustAnchors: [rootDer] }), required: true },
  }, (s) => {
    const peer = s.getPeerCertificate();
    const subject = peer ? parseCertificate(peer.raw).subject.text : '(none)';
    s.on('data', (d: Buffer) => s.write(`hello ${subject}, you said "${d.toString('utf8')}"`));
    s.on('end', () => s.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

/** One device connection: the handshake's parameters, the server certificate's serial, and the server's reply. */
async function visit(
  port: number, card: QuacProvider, rootDer: Uint8Array,
  certificate: { chain: Uint8Array[]; privateKey: KeyPair['privateKey']; keyAlgorithm: 'ml-dsa-65' },
): Promise<{ suite: string; group: string; scheme: string; serverSerial: string; reply: string }> {
  const sock = await connect({
    host: '127.0.0.1', port, provider: card, serverName: 'localhost',
    verifier: webPkiVerifier({ provider: card, trustAnchors: [rootDer] }), certificate,
  });
  const info = sock.handshakeInfo!;
  const serverCert = parseCertificate(info.peerCertificates[0] as Uint8Array);
  const reply = await exchange(sock, 'hello from the device');
  return {
    suite: info.cipherSuite.name,
    group: info.group === undefined ? 'none' : groupName(info.group),
    scheme: info.peerSignatureScheme === undefined ? 'none' : signatureSchemeName(info.peerSignatureScheme),
    serverSerial: Buffer.from(serverCert.serialNumber).toString('hex'),
    reply,
  };
}

function exchange(sock: PqTlsSocket, text: string): Promise<string> {
  const chunks: Buffer[] = [];
  return new Promise((resolve, reject) => {
    sock.on('data', (d: Buffer) => chunks.push(d));
    sock.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    sock.on('error', reject);
    sock.end(text);
  });
}

function signCount(card: QuacProvider): number {
  return card.metrics().signOperations.filter((c) => c.labels['operation'] === 'sign').reduce((n, c) => n + c.value, 0);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`enrolment failed: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
    process.exit(1);
  },
);
