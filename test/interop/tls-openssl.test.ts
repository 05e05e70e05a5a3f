/**
 * TLS 1.3 against OpenSSL 3.5 (`openssl s_server` / `s_client`) on loopback,
 * both directions: our client (Node adapter `connect`) to s_server, and
 * s_client to our server (`createServer`). Certificates are minted by our own
 * CA API (test/helpers/our-pki.ts) unless a case says otherwise, so OpenSSL
 * validating them checks our X.509 encoder as much as our handshake.
 *
 * Covered: the hybrid groups of draft-ietf-tls-ecdhe-mlkem (X25519MLKEM768,
 * SecP256r1MLKEM768, SecP384r1MLKEM1024) and pure MLKEM1024 / MLKEM512
 * (draft-ietf-tls-mlkem), ML-DSA-65 CertificateVerify (draft-ietf-tls-mldsa),
 * HelloRetryRequest (RFC 8446 §4.1.4) each way and no group in common,
 * client certificates (§4.3.2, §4.4.2) required and optional, KeyUpdate
 * (§4.6.3) started by either side, TLS_CHACHA20_POLY1305_SHA256 (§B.4), ALPN
 * (RFC 7301), a classical ECDSA P-256 chain (§4.2.3), small padded records
 * (§5.1, §5.4) and an OpenSSL-minted ML-DSA chain.
 *
 * What OpenSSL reports is read from its own output: `-brief` summaries
 * ("Negotiated TLS1.3 group", "Signature type", "Verification: OK"), the
 * s_server connection summary ("Peer Temp Key", "Ciphersuite") and `-msg`
 * lines (`>>>` sent, `<<<` received) for HelloRetryRequest and KeyUpdate.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { AlertDescription, PqtlsError } from '../../src/errors.js';
import { connect, type ConnectOptions, type PqTlsServerOptions } from '../../src/node/index.js';
import { createNobleProvider, type CryptoProvider } from '../../src/pq/index.js';
import { seededRandom } from '../../src/testing/index.js';
import { CipherSuite } from '../../src/tls13/cipher-suites.js';
import { loadCertifiedKey } from '../../src/tls13/credentials.js';
import { webPkiVerifier } from '../../src/tls13/verifier.js';
import { decodePem } from '../../src/x509/pem.js';
import { mintOurPki, type MintedHierarchy, type OurPki } from '../helpers/our-pki.js';
import { freePort, interopDisabled, requirePeer, spawnPeer, waitForPort, type PeerProcess } from '../helpers/peers.js';
import { createTestPki, type TestPki } from '../helpers/test-pki.js';
import { closed, collectText, lineEcho, listenOurServer } from '../helpers/tls-interop.js';

const CASE_TIMEOUT_MS = 20_000;
const PEER_LIFETIME_MS = 15_000;

describe.runIf(!interopDisabled)('TLS 1.3 interop with OpenSSL 3.5 s_server / s_client', () => {
  let dir = '';
  let provider: CryptoProvider;
  let pki: OurPki;
  let osslPki: TestPki;

  beforeAll(async () => {
    requirePeer('openssl');
    dir = mkdtempSync(join(tmpdir(), 'pqtls-interop-openssl-'));
    provider = createNobleProvider({ random: seededRandom('interop openssl') });
    pki = await mintOurPki(provider, dir);
    osslPki = await createTestPki(dir);
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  // -------------------------------------------------------------------------------------------
  // Plumbing

  /** `openssl s_server` for one TLS 1.3 connection; its stdin stays open (it ends when stdin closes). */
  async function sServer(args: readonly string[]): Promise<{ peer: PeerProcess; port: number }> {
    const port = await freePort();
    const peer = spawnPeer('openssl', ['s_server', '-accept', `127.0.0.1:${port}`, '-tls1_3', '-naccept', '1', ...args], {
      timeoutMs: PEER_LIFETIME_MS,
    });
    await waitForPort(port, { process: peer });
    return { peer, port };
  }

  /** s_server presenting one of our hierarchies' server chain (leaf, root). */
  function serverCert(h: MintedHierarchy): string[] {
    return ['-cert', h.server.certFile, '-key', h.server.keyFile, '-cert_chain', h.rootFile];
  }

  /**
   * `openssl s_client` to our server. With `input`, `-ign_eof` keeps it reading
   * after its input ends, so it leaves when our server closes (lineEcho does on
   * "bye"). Without, stdin stays open for the test to write lines, which
   * s_client also reads as commands ("K" = KeyUpdate, update_requested), a
   * mode `-ign_eof` would turn off.
   */
  function sClient(port: number, args: readonly string[], input?: string): PeerProcess {
    return spawnPeer('openssl', [
      's_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', '-verify_return_error',
      ...(input !== undefined ? ['-ign_eof'] : []), ...args,
    ], { timeoutMs: PEER_LIFETIME_MS, ...(input !== undefined && { input }) });
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

  /** Waits for the peer to exit by itself and returns everything it printed. */
  async function finished(peer: PeerProcess): Promise<string> {
    const exit = await peer.exited;
    expect(exit.timedOut, `${peer.commandLine} had to be killed:\n${peer.output}`).toBe(false);
    return peer.output;
  }

  /** Index of the first `-msg` line matching `re` (sent `>>>` or received `<<<`); -1 if none. */
  function msgIndex(output: string, re: RegExp): number {
    return output.split('\n').findIndex((l) => re.test(l));
  }

  // -------------------------------------------------------------------------------------------
  // X25519MLKEM768 with our ML-DSA-65 chain

  it('our client → s_server: X25519MLKEM768, ML-DSA-65 chain we minted, data echoed by -rev', async () => {
    const { peer, port } = await sServer([...serverCert(pki.mldsa), '-groups', 'X25519MLKEM768', '-rev']);
    const sock = await ourClient(port);
    expect(sock.getProtocol()).toBe('TLSv1.3');
    expect(sock.getEphemeralKeyInfo()).toEqual({ type: 'TLSGroup', name: 'X25519MLKEM768' });
    expect(sock.getPeerSignatureScheme()).toBe('mldsa65');
    expect(sock.handshakeInfo?.helloRetryRequest).toBe(false);
    expect(sock.getPeerCertificateChain()).toEqual(pki.mldsa.server.credentials.chain);
    const rx = collectText(sock);
    sock.write('post-quantum hello\n');
    expect(await rx.until('\n')).toBe('olleh mutnauq-tsop\n');
    sock.end();
    await closed(sock);
    // s_server's summary of the connection: the group it used and the suite.
    const out = await peer.waitForLine('Peer Temp Key');
    expect(out).toContain('X25519MLKEM768');
    expect(peer.output).toContain('Protocol version: TLSv1.3');
    expect(peer.output).toContain(`Ciphersuite: ${sock.getCipher()?.name ?? '?'}`);
  }, CASE_TIMEOUT_MS);

  it('s_client → our server: X25519MLKEM768, ML-DSA-65 chain we minted, OpenSSL verifies it, data echoed', async () => {
    const ours = await listenOurServer(ourServerOptions(), lineEcho());
    const peer = sClient(ours.port, ['-groups', 'X25519MLKEM768', '-CAfile', pki.mldsa.rootFile, '-brief'], 'hello from openssl\nbye\n');
    const out = await finished(peer);
    expect(out).toContain('Protocol version: TLSv1.3');
    expect(out).toContain('Negotiated TLS1.3 group: X25519MLKEM768');
    expect(out).toContain('Signature type: mldsa65');
    expect(out).toContain('Verification: OK');
    expect(peer.stdout).toContain('echo: hello from openssl\n');
    const s = await ours.accepted();
    expect(s.getEphemeralKeyInfo()).toEqual({ type: 'TLSGroup', name: 'X25519MLKEM768' });
    expect(s.handshakeInfo?.helloRetryRequest).toBe(false);
    expect(s.handshakeInfo?.serverName).toBe('localhost');
    expect(ours.errors).toEqual([]);
  }, CASE_TIMEOUT_MS);

  // -------------------------------------------------------------------------------------------
  // The other ML-KEM groups, chosen by configuration on both sides

  // s_server names pure ML-KEM groups by their algorithm (ML-KEM-1024), the hybrids by their TLS name.
  const serverNames = {
    SecP256r1MLKEM768: 'SecP256r1MLKEM768', SecP384r1MLKEM1024: 'SecP384r1MLKEM1024', MLKEM1024: 'ML-KEM-1024', MLKEM512: 'ML-KEM-512',
  } as const;
  for (const group of ['SecP256r1MLKEM768', 'SecP384r1MLKEM1024', 'MLKEM1024', 'MLKEM512'] as const) {
    it(`our client → s_server: ${group}`, async () => {
      const { peer, port } = await sServer([...serverCert(pki.mldsa), '-groups', group, '-rev']);
      const sock = await ourClient(port, { groups: [group] });
      expect(sock.getEphemeralKeyInfo()).toEqual({ type: 'TLSGroup', name: group });
      expect(sock.handshakeInfo?.helloRetryRequest).toBe(false);
      const rx = collectText(sock);
      sock.write('abc\n');
      expect(await rx.until('\n')).toBe('cba\n');
      sock.end();
      await finished(peer);
      expect(peer.output).toContain(`Peer Temp Key: ${serverNames[group]}\n`);
    }, CASE_TIMEOUT_MS);

    it(`s_client → our server: ${group}`, async () => {
      const ours = await listenOurServer(ourServerOptions(), lineEcho());
      const peer = sClient(ours.port, ['-groups', group, '-CAfile', pki.mldsa.rootFile, '-brief'], 'ping\nbye\n');
      const out = await finished(peer);
      expect(out).toContain(`Negotiated TLS1.3 group: ${group}`);
      expect(out).toContain('Verification: OK');
      expect(peer.stdout).toContain('echo: ping\n');
      expect((await ours.accepted()).getEphemeralKeyInfo()).toEqual({ type: 'TLSGroup', name: group });
    }, CASE_TIMEOUT_MS);
  }

  // -------------------------------------------------------------------------------------------
  // HelloRetryRequest (RFC 8446 §4.1.4): the first ClientHello has no share for the server's group

  it('HelloRetryRequest: our client offers only an x25519 share, s_server insists on X25519MLKEM768', async () => {
    const { peer, port } = await sServer([...serverCert(pki.mldsa), '-groups', 'X25519MLKEM768', '-rev', '-msg']);
    const sock = await ourClient(port, { keyShareGroups: ['x25519'] });
    expect(sock.handshakeInfo?.helloRetryRequest).toBe(true);
    expect(sock.getEphemeralKeyInfo()).toEqual({ type: 'TLSGroup', name: 'X25519MLKEM768' });
    const rx = collectText(sock);
    sock.write('retry\n');
    expect(await rx.until('\n')).toBe('yrter\n');
    sock.end();
    await peer.waitForLine('Peer Temp Key: X25519MLKEM768');
    // Two ClientHellos received, two ServerHellos (the first is the HRR) sent.
    const lines = peer.output.split('\n');
    expect(lines.filter((l) => /^<<< .*ClientHello/.test(l))).toHaveLength(2);
    expect(lines.filter((l) => /^>>> .*ServerHello/.test(l))).toHaveLength(2);
  }, CASE_TIMEOUT_MS);

  it('HelloRetryRequest: s_client sends an x25519 share first (-groups *x25519:X25519MLKEM768), our server wants only X25519MLKEM768', async () => {
    const ours = await listenOurServer(ourServerOptions({ groups: ['X25519MLKEM768'] }), lineEcho());
    // OpenSSL 3.5 group lists: a leading `*` marks the groups that get a key share in the first ClientHello.
    const peer = sClient(ours.port, ['-groups', '*x25519:X25519MLKEM768', '-CAfile', pki.mldsa.rootFile, '-brief', '-msg'], 'again\nbye\n');
    const out = await finished(peer);
    expect(out).toContain('Negotiated TLS1.3 group: X25519MLKEM768');
    expect(out).toContain('Verification: OK');
    expect(peer.stdout).toContain('echo: again\n');
    const lines = out.split('\n');
    expect(lines.filter((l) => /^>>> .*ClientHello/.test(l))).toHaveLength(2);
    expect(lines.filter((l) => /^<<< .*ServerHello/.test(l))).toHaveLength(2);
    const s = await ours.accepted();
    expect(s.handshakeInfo?.helloRetryRequest).toBe(true);
    expect(s.getEphemeralKeyInfo()).toEqual({ type: 'TLSGroup', name: 'X25519MLKEM768' });
  }, CASE_TIMEOUT_MS);

  it('no group in common: s_client offers only ffdhe2048 and secp521r1, our server answers handshake_failure (§4.1.1)', async () => {
    const ours = await listenOurServer(ourServerOptions(), lineEcho());
    const peer = sClient(ours.port, ['-groups', 'ffdhe2048:secp521r1', '-CAfile', pki.mldsa.rootFile, '-brief'], 'x\nbye\n');
    const out = await finished(peer);
    expect(out).toContain('alert handshake failure');
    expect(out).toContain('SSL alert number 40');
    await vi.waitFor(() => expect(ours.errors).toHaveLength(1));
    expect((ours.errors[0] as PqtlsError).alert).toBe(AlertDescription.handshake_failure);
  }, CASE_TIMEOUT_MS);

  // -------------------------------------------------------------------------------------------
  // Client certificates (RFC 8446 §4.3.2 CertificateRequest, §4.4.2) with ML-DSA-65

  it('mTLS: s_server -Verify 1 requires a client certificate; our client presents its ML-DSA-65 chain', async () => {
    const { peer, port } = await sServer([
      ...serverCert(pki.mldsa), '-Verify', '1', '-CAfile', pki.mldsa.rootFile, '-verify_return_error', '-rev',
    ]);
    const sock = await ourClient(port, { certificate: pki.mldsa.client.credentials });
    expect(sock.handshakeInfo?.signatureScheme).toBe(0x0905); // we signed CertificateVerify with mldsa65
    const rx = collectText(sock);
    sock.write('mutual\n');
    expect(await rx.until('\n')).toBe('lautum\n');
    sock.end();
    const out = await finished(peer);
    expect(out).toContain('Peer certificate: CN=pqtls interop ml-dsa-65 client');
    expect(out).toContain('Signature type: mldsa65');
    expect(out).toContain('Verification: OK');
    expect(out).not.toMatch(/verify error/i);
  }, CASE_TIMEOUT_MS);

  it('mTLS: our server requires a client certificate; s_client presents our minted ML-DSA-65 client chain', async () => {
    const ours = await listenOurServer(ourServerOptions({
      clientAuth: { verifier: webPkiVerifier({ provider, trustAnchors: [pki.mldsa.rootDer] }), required: true },
    }), lineEcho());
    const peer = sClient(ours.port, [
      '-CAfile', pki.mldsa.rootFile, '-cert', pki.mldsa.client.certFile, '-key', pki.mldsa.client.keyFile,
      '-cert_chain', pki.mldsa.rootFile, '-brief',
    ], 'mutual\nbye\n');
    const out = await finished(peer);
    expect(out).toContain('Verification: OK');
    expect(peer.stdout).toContain('echo: mutual\n');
    const s = await ours.accepted();
    expect(s.getPeerSignatureScheme()).toBe('mldsa65');
    expect(s.getPeerCertificateChain()[0]).toEqual(pki.mldsa.client.credentials.chain[0]);
  }, CASE_TIMEOUT_MS);

  it('optional client auth: s_server -verify 1 asks, our client has no certificate and sends an empty Certificate (§4.4.2)', async () => {
    const { peer, port } = await sServer([...serverCert(pki.mldsa), '-verify', '1', '-CAfile', pki.mldsa.rootFile, '-rev']);
    const sock = await ourClient(port);
    expect(sock.handshakeInfo?.signatureScheme).toBeUndefined();
    const rx = collectText(sock);
    sock.write('anonymous\n');
    expect(await rx.until('\n')).toBe('suomynona\n');
    sock.end();
    expect(await finished(peer)).toContain('No peer certificate');
  }, CASE_TIMEOUT_MS);

  it('mTLS: our server refuses s_client without a certificate (certificate_required, RFC 8446 §4.4.2.4)', async () => {
    const ours = await listenOurServer(ourServerOptions({
      clientAuth: { verifier: webPkiVerifier({ provider, trustAnchors: [pki.mldsa.rootDer] }), required: true },
    }), lineEcho());
    const peer = sClient(ours.port, ['-CAfile', pki.mldsa.rootFile, '-brief'], 'nope\nbye\n');
    const out = await finished(peer);
    expect(out).toContain('alert certificate required');
    expect(out).toContain('SSL alert number 116');
    expect(peer.stdout).not.toContain('echo: nope');
    expect(ours.connections).toHaveLength(0);
    await vi.waitFor(() => expect(ours.errors).toHaveLength(1));
    expect(ours.errors[0]).toBeInstanceOf(PqtlsError);
    expect((ours.errors[0] as PqtlsError).alert).toBe(AlertDescription.certificate_required);
  }, CASE_TIMEOUT_MS);

  // -------------------------------------------------------------------------------------------
  // KeyUpdate (RFC 8446 §4.6.3), update_requested, each side starting it

  it('KeyUpdate from our client: s_server receives it, answers with its own, and data flows both ways after', async () => {
    const { peer, port } = await sServer([...serverCert(pki.mldsa), '-msg']);
    const sock = await ourClient(port);
    const rx = collectText(sock);
    sock.write('before update\n');
    await peer.waitForLine('before update');
    await sock.keyUpdate(true);
    sock.write('after update\n');
    await peer.waitForLine(/^after update/);
    peer.write('reply under new keys\n');
    await rx.until('reply under new keys\n');
    const out = peer.output;
    const received = msgIndex(out, /^<<< .*KeyUpdate/);
    const answered = msgIndex(out, /^>>> .*KeyUpdate/);
    expect(received, out).toBeGreaterThan(-1);
    expect(answered, out).toBeGreaterThan(received);
    expect(msgIndex(out, /^after update/)).toBeGreaterThan(received);
    sock.end();
  }, CASE_TIMEOUT_MS);

  it('KeyUpdate from our server: s_client receives it, answers, and the echo after it arrives', async () => {
    const ours = await listenOurServer(ourServerOptions(), lineEcho((s) => s.keyUpdate(true)));
    const peer = sClient(ours.port, ['-CAfile', pki.mldsa.rootFile, '-brief', '-msg']);
    peer.write('first\n');
    await peer.waitForLine('echo: first');
    peer.write('second\n');
    await peer.waitForLine('echo: second');
    peer.write('bye\n');
    const out = await finished(peer);
    const received = msgIndex(out, /^<<< .*KeyUpdate/);
    const answered = msgIndex(out, /^>>> .*KeyUpdate/);
    expect(received, out).toBeGreaterThan(-1);
    expect(answered, out).toBeGreaterThan(received);
    expect(msgIndex(out, /^echo: first/)).toBeGreaterThan(received);
  }, CASE_TIMEOUT_MS);

  it('KeyUpdate from s_server ("K" on its stdin): our client answers it and reads the data sent after it', async () => {
    const { peer, port } = await sServer([...serverCert(pki.mldsa), '-msg']);
    const sock = await ourClient(port);
    const rx = collectText(sock);
    sock.write('hello\n');
    await peer.waitForLine(/^hello/);
    peer.write('K\n');
    await peer.waitForLine(/^>>> .*KeyUpdate/);
    peer.write('after server update\n');
    await rx.until('after server update\n');
    sock.write('client after update\n');
    await peer.waitForLine(/^client after update/);
    // update_requested: our KeyUpdate came back, before our data under the new key.
    const out = peer.output;
    const sent = msgIndex(out, /^>>> .*KeyUpdate/);
    const answer = msgIndex(out, /^<<< .*KeyUpdate/);
    expect(answer, out).toBeGreaterThan(sent);
    expect(msgIndex(out, /^client after update/)).toBeGreaterThan(answer);
    sock.end();
  }, CASE_TIMEOUT_MS);

  it('KeyUpdate from s_client ("K" on its stdin): our server answers it and echoes the data sent after it', async () => {
    const ours = await listenOurServer(ourServerOptions(), lineEcho());
    const peer = sClient(ours.port, ['-CAfile', pki.mldsa.rootFile, '-brief', '-msg']);
    peer.write('one\n');
    await peer.waitForLine('echo: one');
    peer.write('K\n');
    await peer.waitForLine('KEYUPDATE');
    peer.write('two\n');
    await peer.waitForLine('echo: two');
    peer.write('bye\n');
    const out = await finished(peer);
    const sent = msgIndex(out, /^>>> .*KeyUpdate/);
    const answer = msgIndex(out, /^<<< .*KeyUpdate/);
    expect(sent, out).toBeGreaterThan(-1);
    expect(answer, out).toBeGreaterThan(sent);
    expect(msgIndex(out, /^echo: two/)).toBeGreaterThan(answer);
  }, CASE_TIMEOUT_MS);

  // -------------------------------------------------------------------------------------------
  // Cipher suite, ALPN, classical chain

  it('TLS_CHACHA20_POLY1305_SHA256 and ALPN: our client → s_server -ciphersuites … -alpn', async () => {
    const { peer, port } = await sServer([
      ...serverCert(pki.mldsa), '-ciphersuites', 'TLS_CHACHA20_POLY1305_SHA256', '-alpn', 'h2,pqtls/1', '-rev',
    ]);
    const sock = await ourClient(port, { alpnProtocols: ['pqtls/1', 'http/1.1'] });
    expect(sock.getCipher()?.name).toBe('TLS_CHACHA20_POLY1305_SHA256');
    expect(sock.alpnProtocol).toBe('pqtls/1');
    const rx = collectText(sock);
    sock.write('chacha\n');
    expect(await rx.until('\n')).toBe('ahcahc\n');
    sock.end();
    // s_server buffers its ALPN lines until it exits (-naccept 1: after this connection).
    const out = await finished(peer);
    expect(out).toContain('Ciphersuite: TLS_CHACHA20_POLY1305_SHA256');
    expect(out).toContain('ALPN protocols advertised by the client: pqtls/1, http/1.1');
    expect(out).toContain('ALPN protocols selected: pqtls/1');
  }, CASE_TIMEOUT_MS);

  it('TLS_CHACHA20_POLY1305_SHA256 and ALPN: s_client -ciphersuites … -alpn → our server', async () => {
    const ours = await listenOurServer(ourServerOptions({ alpnProtocols: ['pqtls/1'] }), lineEcho());
    const peer = sClient(ours.port, [
      '-CAfile', pki.mldsa.rootFile, '-ciphersuites', 'TLS_CHACHA20_POLY1305_SHA256', '-alpn', 'http/1.1,pqtls/1',
    ], 'chacha\nbye\n');
    const out = await finished(peer);
    expect(out).toMatch(/New, TLSv1\.3, Cipher is TLS_CHACHA20_POLY1305_SHA256/);
    expect(out).toContain('ALPN protocol: pqtls/1');
    expect(peer.stdout).toContain('echo: chacha\n');
    const s = await ours.accepted();
    expect(s.getCipher()?.name).toBe('TLS_CHACHA20_POLY1305_SHA256');
    expect(s.alpnProtocol).toBe('pqtls/1');
  }, CASE_TIMEOUT_MS);

  it('ECDSA P-256 chain we minted: our client → s_server', async () => {
    const { peer, port } = await sServer([...serverCert(pki.ecdsa), '-rev']);
    const sock = await ourClient(port, { verifier: webPkiVerifier({ provider, trustAnchors: [pki.ecdsa.rootDer] }) });
    expect(sock.getPeerSignatureScheme()).toBe('ecdsa_secp256r1_sha256');
    expect(sock.getEphemeralKeyInfo()).toEqual({ type: 'TLSGroup', name: 'X25519MLKEM768' });
    const rx = collectText(sock);
    sock.write('classic\n');
    expect(await rx.until('\n')).toBe('cissalc\n');
    sock.end();
    await peer.waitForLine('Peer Temp Key');
  }, CASE_TIMEOUT_MS);

  it('ECDSA P-256 chain we minted: s_client → our server', async () => {
    const ours = await listenOurServer(ourServerOptions({ certificate: pki.ecdsa.server.credentials }), lineEcho());
    const peer = sClient(ours.port, ['-CAfile', pki.ecdsa.rootFile, '-brief'], 'classic\nbye\n');
    const out = await finished(peer);
    expect(out).toContain('Signature type: ecdsa_secp256r1_sha256');
    expect(out).toContain('Verification: OK');
    expect(peer.stdout).toContain('echo: classic\n');
    await ours.accepted();
  }, CASE_TIMEOUT_MS);

  // -------------------------------------------------------------------------------------------
  // Record layer: 512-byte fragments (the 11 KB Certificate spans ~25 records, RFC 8446 §5.1) and
  // padded inner plaintexts (§5.4); the client side also without middlebox compatibility (Appendix D.4)

  it('small padded records from s_server (-max_send_frag 512 -record_padding 256); our client without middlebox compatibility', async () => {
    const { peer, port } = await sServer([...serverCert(pki.mldsa), '-max_send_frag', '512', '-record_padding', '256', '-rev']);
    const sock = await ourClient(port, { middleboxCompat: false });
    expect(sock.getPeerSignatureScheme()).toBe('mldsa65');
    const rx = collectText(sock);
    sock.write('fragments\n');
    expect(await rx.until('\n')).toBe('stnemgarf\n');
    sock.end();
    expect(await finished(peer)).toContain('Peer Temp Key: X25519MLKEM768');
  }, CASE_TIMEOUT_MS);

  it('small padded records from s_client (-max_send_frag 512 -record_padding 1000 -no_middlebox) → our server', async () => {
    const ours = await listenOurServer(ourServerOptions({ clientAuth: {
      verifier: webPkiVerifier({ provider, trustAnchors: [pki.mldsa.rootDer] }), required: true,
    } }), lineEcho());
    const peer = sClient(ours.port, [
      '-CAfile', pki.mldsa.rootFile, '-cert', pki.mldsa.client.certFile, '-key', pki.mldsa.client.keyFile,
      '-max_send_frag', '512', '-record_padding', '1000', '-no_middlebox', '-brief',
    ], 'fragments\nbye\n');
    const out = await finished(peer);
    expect(out).toContain('Verification: OK');
    expect(peer.stdout).toContain('echo: fragments\n');
    expect((await ours.accepted()).getPeerSignatureScheme()).toBe('mldsa65');
  }, CASE_TIMEOUT_MS);

  // -------------------------------------------------------------------------------------------
  // An OpenSSL-minted ML-DSA-65 chain (keys in OpenSSL's seed + expanded PKCS #8 form)

  it('OpenSSL-minted ML-DSA-65 chain: our client validates it; our server loads its key and s_client accepts', async () => {
    const { peer, port } = await sServer(['-cert', osslPki.leafCert, '-key', osslPki.leafKey, '-cert_chain', osslPki.caCert, '-rev']);
    const caPem = readFileSync(osslPki.caCert, 'utf8');
    const sock = await ourClient(port, { verifier: webPkiVerifier({ provider, trustAnchors: [caPem] }) });
    expect(sock.getPeerSignatureScheme()).toBe('mldsa65');
    const rx = collectText(sock);
    sock.write('minted by openssl\n');
    expect(await rx.until('\n')).toBe('lssnepo yb detnim\n');
    sock.end();
    await peer.waitForLine('Peer Temp Key');

    const chainPem = readFileSync(osslPki.leafCert, 'utf8') + caPem;
    const certificate = await loadCertifiedKey(provider, chainPem, readFileSync(osslPki.leafKey, 'utf8'));
    expect(certificate.chain).toHaveLength(decodePem(chainPem).length);
    const ours = await listenOurServer(ourServerOptions({ certificate, cipherSuites: [CipherSuite.TLS_AES_256_GCM_SHA384] }), lineEcho());
    const client = sClient(ours.port, ['-CAfile', osslPki.caCert, '-brief'], 'x\nbye\n');
    const out = await finished(client);
    expect(out).toContain('Signature type: mldsa65');
    expect(out).toContain('Ciphersuite: TLS_AES_256_GCM_SHA384');
    expect(out).toContain('Verification: OK');
    expect(client.stdout).toContain('echo: x\n');
  }, CASE_TIMEOUT_MS);
});
