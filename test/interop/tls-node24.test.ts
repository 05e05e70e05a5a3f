/**
 * TLS 1.3 against Node.js 24's node:tls (OpenSSL 3.5 inside) on loopback, both
 * directions: our client to a `tls.createServer`, and `tls.connect` to our
 * server. The Node side is test/helpers/node24-tls-peer.mjs, which prints what
 * Node reports as JSON: getProtocol(), getCipher(), getEphemeralKeyInfo() (on
 * the client; Node gives servers null), alpnProtocol, authorized, and
 * exportKeyingMaterial(). With `trace`, OpenSSL's record trace on its stderr
 * shows each ClientHello and KeyUpdate and which way it went.
 *
 * Covered: X25519MLKEM768, SecP256r1MLKEM768, SecP384r1MLKEM1024, MLKEM1024,
 * MLKEM512; our ML-DSA-65 and ECDSA P-256 chains; HelloRetryRequest (RFC 8446
 * §4.1.4) each way; client certificates; KeyUpdate (§4.6.3) sent by us to Node
 * in both roles; ChaCha20; ALPN (RFC 7301); data longer than a record; and the
 * exporter (§7.5, RFC 5705 interface), whose output must match Node's byte for
 * byte.
 *
 * Node 24 cannot start a TLS 1.3 KeyUpdate: it exposes no SSL_key_update, and
 * `TLSSocket#renegotiate` fails with ERR_SSL_WRONG_SSL_VERSION on TLS 1.3.
 * KeyUpdate started by the peer is covered against openssl s_client/s_server
 * (tls-openssl.test.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toHex } from '../../src/bytes.js';
import { connect, type ConnectOptions, type PqTlsServerOptions } from '../../src/node/index.js';
import { createNobleProvider, type CryptoProvider } from '../../src/pq/index.js';
import { seededRandom } from '../../src/testing/index.js';
import { webPkiVerifier } from '../../src/tls13/verifier.js';
import { mintOurPki, type MintedHierarchy, type OurPki } from '../helpers/our-pki.js';
import { freePort, interopDisabled, requirePeer, spawnPeer, type PeerProcess } from '../helpers/peers.js';
import { closed, collectText, lineEcho, listenOurServer } from '../helpers/tls-interop.js';

const CASE_TIMEOUT_MS = 20_000;
const PEER_LIFETIME_MS = 15_000;
const PEER_SCRIPT = fileURLToPath(new URL('../helpers/node24-tls-peer.mjs', import.meta.url));

/** What node24-tls-peer.mjs prints on `secure`. */
interface NodeReport {
  readonly event: 'secure';
  readonly protocol: string | null;
  readonly cipher: string | undefined;
  readonly ephemeral: { readonly type?: string; readonly name?: string } | null;
  readonly alpn: string | false;
  readonly authorized: boolean;
  readonly authorizationError: string | null;
  readonly peerSubject: string | null;
  readonly exporter?: string;
}

/** The peer script's configuration (see node24-tls-peer.mjs). */
interface NodeConfig {
  readonly cert?: string;
  readonly key?: string;
  readonly ca?: string;
  /** Node's `ecdhCurve`, an OpenSSL group list. */
  readonly groups?: string;
  /** Node's `ciphers`, which also takes the TLS 1.3 suites. */
  readonly ciphers?: string;
  readonly alpn?: readonly string[];
  readonly requestCert?: boolean;
  readonly trace?: boolean;
  readonly exporter?: { readonly length: number; readonly label: string; readonly context?: string };
  /** Client only: what to send once connected; a list sends its next element whenever data arrives. */
  readonly send?: string | readonly string[];
}

/** One record of OpenSSL's trace: which way it went and its decoded text. */
interface TracedRecord {
  readonly dir: 'Received' | 'Sent';
  readonly text: string;
}

function traceRecords(stderr: string): TracedRecord[] {
  const records: TracedRecord[] = [];
  for (const block of stderr.split(/^(?=(?:Received|Sent) TLS Record$)/m)) {
    const m = /^(Received|Sent) TLS Record\n/.exec(block);
    if (m) records.push({ dir: m[1] as 'Received' | 'Sent', text: block });
  }
  return records;
}

/** The traced handshake messages of one type, e.g. `ClientHello` or `KeyUpdate`, in order. */
function traced(peer: PeerProcess, message: string): ('Received' | 'Sent')[] {
  const line = new RegExp(`^\\s+${message}, Length=`, 'm');
  return traceRecords(peer.stderr).filter((r) => line.test(r.text)).map((r) => r.dir);
}

describe.runIf(!interopDisabled)('TLS 1.3 interop with Node.js 24 (node:tls on OpenSSL 3.5)', () => {
  let dir = '';
  let provider: CryptoProvider;
  let pki: OurPki;

  beforeAll(async () => {
    requirePeer('node24');
    dir = mkdtempSync(join(tmpdir(), 'pqtls-interop-node24-'));
    provider = createNobleProvider({ random: seededRandom('interop node24') });
    pki = await mintOurPki(provider, dir);
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  // -------------------------------------------------------------------------------------------
  // Plumbing

  function nodePeer(config: NodeConfig & { role: 'server' | 'client'; port: number }): PeerProcess {
    return spawnPeer('node24', [PEER_SCRIPT, JSON.stringify(config)], { timeoutMs: PEER_LIFETIME_MS });
  }

  function reports(peer: PeerProcess): Record<string, unknown>[] {
    return peer.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  async function secureReport(peer: PeerProcess): Promise<NodeReport> {
    await peer.waitForLine(/^\{"event":"(secure|error|tlsClientError)"/);
    const r = reports(peer).find((e) => e.event === 'secure');
    if (!r) throw new Error(`node24 peer reported no handshake:\n${peer.output}`);
    return r as unknown as NodeReport;
  }

  /** A Node server for one connection, presenting one of our server chains. */
  async function nodeServer(h: MintedHierarchy, config: NodeConfig = {}): Promise<{ peer: PeerProcess; port: number }> {
    const port = await freePort();
    const peer = nodePeer({ role: 'server', port, cert: h.server.chainFile, key: h.server.keyFile, ...config });
    await peer.waitForLine('{"event":"listening"}');
    return { peer, port };
  }

  /** A Node client sending `send` (ending in "bye", so our lineEcho closes) and trusting our ML-DSA root. */
  function nodeClient(port: number, config: NodeConfig = {}): PeerProcess {
    return nodePeer({ role: 'client', port, ca: pki.mldsa.rootFile, send: 'hello from node\nbye\n', ...config });
  }

  /** Waits for the Node client to finish and returns the text it received. */
  async function received(peer: PeerProcess): Promise<string> {
    const exit = await peer.exited;
    expect(exit.timedOut, `node24 had to be killed:\n${peer.output}`).toBe(false);
    const end = reports(peer).find((e) => e.event === 'end');
    expect(end, peer.output).toBeDefined();
    expect(exit.code, peer.output).toBe(0);
    return String(end?.text);
  }

  function ourClient(port: number, options: Partial<ConnectOptions> = {}): ReturnType<typeof connect> {
    return connect({
      host: '127.0.0.1', port, provider, serverName: 'localhost',
      verifier: webPkiVerifier({ provider, trustAnchors: [pki.mldsa.rootDer] }),
      ...options,
    });
  }

  function ourServerOptions(options: Partial<PqTlsServerOptions> = {}): PqTlsServerOptions {
    return { provider, certificate: pki.mldsa.server.credentials, ...options };
  }

  /** Sends a line through the Node echo server and checks the echo, then closes. */
  async function echoAndClose(sock: Awaited<ReturnType<typeof connect>>, line: string): Promise<void> {
    const rx = collectText(sock);
    sock.write(`${line}\nbye\n`);
    await rx.until(`echo: ${line}\n`);
    await closed(sock);
  }

  const EXPORTER = { label: 'EXPORTER-pqtls-interop', context: '00010203fffe', length: 48 } as const;

  // -------------------------------------------------------------------------------------------
  // X25519MLKEM768 with our ML-DSA-65 chain, and the exporter

  it('our client → Node server: X25519MLKEM768, ML-DSA-65 chain we minted, echo, exporter equal to Node\'s', async () => {
    const { peer, port } = await nodeServer(pki.mldsa, { groups: 'X25519MLKEM768', exporter: EXPORTER });
    const sock = await ourClient(port);
    expect(sock.getProtocol()).toBe('TLSv1.3');
    expect(sock.getEphemeralKeyInfo()).toEqual({ type: 'TLSGroup', name: 'X25519MLKEM768' });
    expect(sock.getPeerSignatureScheme()).toBe('mldsa65');
    expect(sock.handshakeInfo?.helloRetryRequest).toBe(false);
    const ours = await sock.exportKeyingMaterial(EXPORTER.length, EXPORTER.label, Uint8Array.from(Buffer.from(EXPORTER.context, 'hex')));
    const node = await secureReport(peer);
    expect(node.protocol).toBe('TLSv1.3');
    expect(node.cipher).toBe(sock.getCipher()?.name);
    expect(node.exporter).toBe(toHex(ours));
    await echoAndClose(sock, 'post-quantum hello');
  }, CASE_TIMEOUT_MS);

  it('Node client → our server: X25519MLKEM768, Node verifies our ML-DSA-65 chain, echo, exporter (no context) equal', async () => {
    const server = await listenOurServer(ourServerOptions(), lineEcho());
    // RFC 8446 §7.5: in TLS 1.3 an absent context and an empty one give the same output.
    const peer = nodeClient(server.port, { groups: 'X25519MLKEM768', exporter: { label: 'EXPORTER-no-context', length: 32 } });
    const node = await secureReport(peer);
    expect(node.protocol).toBe('TLSv1.3');
    expect(node.ephemeral).toEqual({ type: 'TLSGroup', name: 'X25519MLKEM768' });
    expect(node.authorized).toBe(true);
    expect(await received(peer)).toBe('echo: hello from node\n');
    const s = await server.accepted();
    expect(s.getEphemeralKeyInfo()).toEqual({ type: 'TLSGroup', name: 'X25519MLKEM768' });
    expect(node.cipher).toBe(s.getCipher()?.name);
    expect(node.exporter).toBe(toHex(await s.exportKeyingMaterial(32, 'EXPORTER-no-context')));
    expect(server.errors).toEqual([]);
  }, CASE_TIMEOUT_MS);

  // -------------------------------------------------------------------------------------------
  // The other ML-KEM groups

  for (const group of ['SecP256r1MLKEM768', 'SecP384r1MLKEM1024', 'MLKEM1024', 'MLKEM512'] as const) {
    it(`our client → Node server: ${group}`, async () => {
      const { peer, port } = await nodeServer(pki.mldsa, { groups: group, exporter: EXPORTER });
      const sock = await ourClient(port, { groups: [group] });
      expect(sock.getEphemeralKeyInfo()).toEqual({ type: 'TLSGroup', name: group });
      expect(sock.handshakeInfo?.helloRetryRequest).toBe(false);
      const ours = await sock.exportKeyingMaterial(EXPORTER.length, EXPORTER.label, Uint8Array.from(Buffer.from(EXPORTER.context, 'hex')));
      expect((await secureReport(peer)).exporter).toBe(toHex(ours));
      await echoAndClose(sock, group);
    }, CASE_TIMEOUT_MS);

    it(`Node client → our server: ${group}`, async () => {
      const server = await listenOurServer(ourServerOptions(), lineEcho());
      const peer = nodeClient(server.port, { groups: group });
      const node = await secureReport(peer);
      expect(node.ephemeral).toEqual({ type: 'TLSGroup', name: group });
      expect(await received(peer)).toBe('echo: hello from node\n');
      expect((await server.accepted()).getEphemeralKeyInfo()).toEqual({ type: 'TLSGroup', name: group });
    }, CASE_TIMEOUT_MS);
  }

  // -------------------------------------------------------------------------------------------
  // HelloRetryRequest (RFC 8446 §4.1.4)

  it('HelloRetryRequest: our client offers only an x25519 share, the Node server accepts only X25519MLKEM768', async () => {
    const { peer, port } = await nodeServer(pki.mldsa, { groups: 'X25519MLKEM768', trace: true });
    const sock = await ourClient(port, { keyShareGroups: ['x25519'] });
    expect(sock.handshakeInfo?.helloRetryRequest).toBe(true);
    expect(sock.getEphemeralKeyInfo()).toEqual({ type: 'TLSGroup', name: 'X25519MLKEM768' });
    await echoAndClose(sock, 'retried');
    await peer.exited;
    expect(traced(peer, 'ClientHello')).toEqual(['Received', 'Received']);
    // The HRR is traced as a ServerHello too: two sent.
    expect(traced(peer, 'ServerHello')).toEqual(['Sent', 'Sent']);
  }, CASE_TIMEOUT_MS);

  it('HelloRetryRequest: Node sends an x25519 share first (ecdhCurve *x25519:X25519MLKEM768), our server wants only X25519MLKEM768', async () => {
    const server = await listenOurServer(ourServerOptions({ groups: ['X25519MLKEM768'] }), lineEcho());
    const peer = nodeClient(server.port, { groups: '*x25519:X25519MLKEM768', trace: true });
    const node = await secureReport(peer);
    expect(node.ephemeral).toEqual({ type: 'TLSGroup', name: 'X25519MLKEM768' });
    expect(await received(peer)).toBe('echo: hello from node\n');
    expect(traced(peer, 'ClientHello')).toEqual(['Sent', 'Sent']);
    const s = await server.accepted();
    expect(s.handshakeInfo?.helloRetryRequest).toBe(true);
    expect(s.getEphemeralKeyInfo()).toEqual({ type: 'TLSGroup', name: 'X25519MLKEM768' });
  }, CASE_TIMEOUT_MS);

  // -------------------------------------------------------------------------------------------
  // Client certificates with ML-DSA-65

  it('mTLS: the Node server requires a client certificate (requestCert, rejectUnauthorized); ours is accepted', async () => {
    const { peer, port } = await nodeServer(pki.mldsa, { requestCert: true, ca: pki.mldsa.rootFile });
    const sock = await ourClient(port, { certificate: pki.mldsa.client.credentials });
    const node = await secureReport(peer);
    expect(node.authorized).toBe(true);
    expect(node.peerSubject).toBe('CN=pqtls interop ml-dsa-65 client');
    await echoAndClose(sock, 'mutual');
  }, CASE_TIMEOUT_MS);

  it('mTLS: our server requires a client certificate; the Node client presents our minted ML-DSA-65 chain', async () => {
    const server = await listenOurServer(ourServerOptions({
      clientAuth: { verifier: webPkiVerifier({ provider, trustAnchors: [pki.mldsa.rootDer] }), required: true },
    }), lineEcho());
    const peer = nodeClient(server.port, { cert: pki.mldsa.client.chainFile, key: pki.mldsa.client.keyFile });
    expect((await secureReport(peer)).authorized).toBe(true);
    expect(await received(peer)).toBe('echo: hello from node\n');
    const s = await server.accepted();
    expect(s.getPeerSignatureScheme()).toBe('mldsa65');
    expect(s.getPeerCertificateChain()).toEqual(pki.mldsa.client.credentials.chain);
  }, CASE_TIMEOUT_MS);

  // -------------------------------------------------------------------------------------------
  // KeyUpdate (RFC 8446 §4.6.3) from our side; Node answers update_requested with its own

  it('KeyUpdate from our client: the Node server receives it, answers, and the echo after it arrives', async () => {
    const { peer, port } = await nodeServer(pki.mldsa, { trace: true });
    const sock = await ourClient(port);
    const rx = collectText(sock);
    sock.write('before\n');
    await rx.until('echo: before\n');
    await sock.keyUpdate(true);
    sock.write('after\n');
    await rx.until('echo: after\n');
    sock.write('bye\n');
    await closed(sock);
    await peer.exited;
    expect(traced(peer, 'KeyUpdate')).toEqual(['Received', 'Sent']);
  }, CASE_TIMEOUT_MS);

  it('KeyUpdate from our server: the Node client receives it, answers, and gets the echo after it', async () => {
    const server = await listenOurServer(ourServerOptions(), lineEcho((s) => s.keyUpdate(true)));
    // §4.6.3: the answer to update_requested goes out before the receiver's next application data, so Node
    // must have something to send after our KeyUpdate arrives: "two" is sent once the first echo is in.
    const peer = nodeClient(server.port, { trace: true, send: ['one\n', 'two\n', 'bye\n'] });
    expect(await received(peer)).toBe('echo: one\necho: two\n');
    expect(traced(peer, 'KeyUpdate')).toEqual(['Received', 'Sent']);
  }, CASE_TIMEOUT_MS);

  // -------------------------------------------------------------------------------------------
  // Cipher suite, ALPN, classical chain

  it('TLS_CHACHA20_POLY1305_SHA256 and ALPN: our client → Node server', async () => {
    const { peer, port } = await nodeServer(pki.mldsa, { ciphers: 'TLS_CHACHA20_POLY1305_SHA256', alpn: ['h2', 'pqtls/1'] });
    const sock = await ourClient(port, { alpnProtocols: ['pqtls/1', 'http/1.1'] });
    expect(sock.getCipher()?.name).toBe('TLS_CHACHA20_POLY1305_SHA256');
    expect(sock.alpnProtocol).toBe('pqtls/1');
    const node = await secureReport(peer);
    expect(node.cipher).toBe('TLS_CHACHA20_POLY1305_SHA256');
    expect(node.alpn).toBe('pqtls/1');
    await echoAndClose(sock, 'chacha');
  }, CASE_TIMEOUT_MS);

  it('TLS_CHACHA20_POLY1305_SHA256 and ALPN: Node client → our server', async () => {
    const server = await listenOurServer(ourServerOptions({ alpnProtocols: ['pqtls/1'] }), lineEcho());
    const peer = nodeClient(server.port, { ciphers: 'TLS_CHACHA20_POLY1305_SHA256', alpn: ['http/1.1', 'pqtls/1'] });
    const node = await secureReport(peer);
    expect(node.cipher).toBe('TLS_CHACHA20_POLY1305_SHA256');
    expect(node.alpn).toBe('pqtls/1');
    expect(await received(peer)).toBe('echo: hello from node\n');
    const s = await server.accepted();
    expect(s.getCipher()?.name).toBe('TLS_CHACHA20_POLY1305_SHA256');
    expect(s.alpnProtocol).toBe('pqtls/1');
  }, CASE_TIMEOUT_MS);

  // A line of 50,000 bytes spans four records of at most 2^14 bytes (RFC 8446 §5.1) in each direction.
  const LONG_LINE = Array.from({ length: 50_000 }, (_, i) => String.fromCharCode(0x61 + (i % 26))).join('');

  it('application data longer than a record: our client → Node server and back', async () => {
    const { port } = await nodeServer(pki.mldsa);
    const sock = await ourClient(port);
    await echoAndClose(sock, LONG_LINE);
  }, CASE_TIMEOUT_MS);

  it('application data longer than a record: Node client → our server and back', async () => {
    const server = await listenOurServer(ourServerOptions(), lineEcho());
    const peer = nodeClient(server.port, { send: `${LONG_LINE}\nbye\n` });
    expect(await received(peer)).toBe(`echo: ${LONG_LINE}\n`);
  }, CASE_TIMEOUT_MS);

  it('ECDSA P-256 chain we minted: our client → Node server', async () => {
    const { peer, port } = await nodeServer(pki.ecdsa);
    const sock = await ourClient(port, { verifier: webPkiVerifier({ provider, trustAnchors: [pki.ecdsa.rootDer] }) });
    expect(sock.getPeerSignatureScheme()).toBe('ecdsa_secp256r1_sha256');
    expect((await secureReport(peer)).protocol).toBe('TLSv1.3');
    await echoAndClose(sock, 'classic');
  }, CASE_TIMEOUT_MS);

  it('ECDSA P-256 chain we minted: Node client → our server', async () => {
    const server = await listenOurServer(ourServerOptions({ certificate: pki.ecdsa.server.credentials }), lineEcho());
    const peer = nodeClient(server.port, { ca: pki.ecdsa.rootFile });
    expect((await secureReport(peer)).authorized).toBe(true);
    expect(await received(peer)).toBe('echo: hello from node\n');
    await server.accepted();
  }, CASE_TIMEOUT_MS);
});
