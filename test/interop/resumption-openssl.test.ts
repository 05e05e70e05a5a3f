/**
 * TLS 1.3 session resumption (RFC 8446 §2.2, §4.6.1) and 0-RTT (§2.3,
 * §4.2.10) against OpenSSL 3.5 on loopback, both directions.
 *
 * Our client → `openssl s_server`: a full handshake with X25519MLKEM768 and our
 * ML-DSA-65 chain leaves tickets in our session store; the next connection
 * offers one and resumes, with psk_dhe_ke (the hybrid key exchange is kept) or,
 * when both sides opt in, psk_ke; with `s_server -early_data` the second
 * connection's first bytes go as 0-RTT. OpenSSL's side is read from its own
 * output: "Reused session-id" in the connection summary, the `-trace` of the
 * ServerHello (pre_shared_key and key_share extensions), and "Early data
 * received:" with the bytes it printed.
 *
 * `openssl s_client` → our server (the Node adapter's `createServer` with a
 * ticket key ring and 0-RTT on): `-sess_out` then `-sess_in` prints "Reused,
 * TLSv1.3", and `-early_data FILE` prints "Early data was accepted" while our
 * server delivers exactly those bytes; a server without 0-RTT skips them
 * (§4.2.10) and the connection still works.
 *
 * The `pqtls client --session FILE --early-data TEXT --json` CLI is checked
 * against s_server the same way.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main, type CliIo } from '../../src/cli/main.js';
import { connect, FileSessionStore, type ConnectOptions, type PqTlsServerOptions, type PqTlsSocket } from '../../src/node/index.js';
import { createNobleProvider, type CryptoProvider } from '../../src/pq/index.js';
import { seededRandom } from '../../src/testing/index.js';
import { MemoryAntiReplay } from '../../src/tls13/anti-replay.js';
import { MemorySessionStore, type SessionStore } from '../../src/tls13/session.js';
import { TicketKeyRing } from '../../src/tls13/tickets.js';
import { webPkiVerifier } from '../../src/tls13/verifier.js';
import { mintOurPki, type OurPki } from '../helpers/our-pki.js';
import { freePort, interopDisabled, requirePeer, spawnPeer, waitForPort, type PeerProcess } from '../helpers/peers.js';
import { closed, collectText, lineEcho, listenOurServer } from '../helpers/tls-interop.js';

const CASE_TIMEOUT_MS = 20_000;
const PEER_LIFETIME_MS = 15_000;

/** Resolves with the next ticket `sock` receives (the 'session' event), so a session is stored before we close. */
function nextTicket(sock: PqTlsSocket, timeoutMs = 5_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no NewSessionTicket within ${timeoutMs} ms`)), timeoutMs);
    sock.once('session', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** The lines of an OpenSSL `-trace` that belong to the first traced message of type `message`. */
function tracedMessage(output: string, message: string): string {
  const start = output.search(new RegExp(`^\\s+${message}, Length=`, 'm'));
  if (start < 0) return '';
  const rest = output.slice(start);
  // The message ends where the next record header does.
  const end = rest.search(/^(Received|Sent) TLS Record/m);
  return end < 0 ? rest : rest.slice(0, end);
}

/** An s_server `-trace` split per connection: each starts with the ClientHello it received. */
function connectionTraces(trace: string): string[] {
  return trace.split(/^(?=Received TLS Record\n(?:.*\n){4}\s+ClientHello, Length=)/m).filter((t) => /ClientHello, Length=/.test(t));
}

describe.runIf(!interopDisabled)('TLS 1.3 resumption and 0-RTT with OpenSSL 3.5', () => {
  let dir = '';
  let provider: CryptoProvider;
  let pki: OurPki;

  beforeAll(async () => {
    requirePeer('openssl');
    dir = mkdtempSync(join(tmpdir(), 'pqtls-resume-openssl-'));
    provider = createNobleProvider({ random: seededRandom('interop resumption openssl') });
    pki = await mintOurPki(provider, dir);
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  // -------------------------------------------------------------------------------------------
  // Plumbing

  /**
   * `openssl s_server` for `connections` TLS 1.3 connections with our ML-DSA-65
   * chain and X25519MLKEM768; stdin stays open (it ends when stdin closes,
   * and `-early_data` reads its input from there).
   */
  async function sServer(connections: number, args: readonly string[]): Promise<{ peer: PeerProcess; port: number }> {
    const port = await freePort();
    const peer = spawnPeer('openssl', [
      's_server', '-accept', `127.0.0.1:${port}`, '-tls1_3', '-naccept', String(connections),
      '-cert', pki.mldsa.server.certFile, '-key', pki.mldsa.server.keyFile, '-cert_chain', pki.mldsa.rootFile,
      '-groups', 'X25519MLKEM768', ...args,
    ], { timeoutMs: PEER_LIFETIME_MS });
    await waitForPort(port, { process: peer });
    return { peer, port };
  }

  /** `openssl s_client` to our server; `-ign_eof` keeps it reading after `input` until our server closes. */
  function sClient(port: number, args: readonly string[], input: string): PeerProcess {
    return spawnPeer('openssl', [
      's_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', '-verify_return_error',
      '-CAfile', pki.mldsa.rootFile, '-groups', 'X25519MLKEM768', '-ign_eof', ...args,
    ], { timeoutMs: PEER_LIFETIME_MS, input });
  }

  function ourClient(port: number, sessionStore: SessionStore, options: Partial<ConnectOptions> = {}): Promise<PqTlsSocket> {
    return connect({
      host: '127.0.0.1', port, provider, serverName: 'localhost',
      verifier: webPkiVerifier({ provider, trustAnchors: [pki.mldsa.rootDer] }),
      sessionStore, ...options,
    });
  }

  /** Our server with a ticket key ring; 0-RTT on unless `earlyData: undefined` is passed. */
  async function ourServerOptions(options: Partial<PqTlsServerOptions> = {}): Promise<PqTlsServerOptions> {
    return {
      provider, certificate: pki.mldsa.server.credentials,
      tickets: { sealer: await TicketKeyRing.create(provider) },
      earlyData: { maxSize: 16_384, antiReplay: new MemoryAntiReplay() },
      ...options,
    };
  }

  /** Waits for the peer to exit by itself and returns everything it printed. */
  async function finished(peer: PeerProcess): Promise<string> {
    const exit = await peer.exited;
    expect(exit.timedOut, `${peer.commandLine} had to be killed:\n${peer.output}`).toBe(false);
    return peer.output;
  }

  /** A full handshake through `store`: waits for a ticket, then has s_server (-rev) reverse a line. */
  async function firstConnection(port: number, store: SessionStore): Promise<PqTlsSocket> {
    const sock = await ourClient(port, store);
    const ticket = nextTicket(sock);
    expect(sock.handshakeInfo?.resumed).toBe(false);
    expect(sock.handshakeInfo?.earlyData).toBe('none');
    expect(sock.getEphemeralKeyInfo()).toEqual({ type: 'TLSGroup', name: 'X25519MLKEM768' });
    expect(sock.getPeerSignatureScheme()).toBe('mldsa65');
    await ticket;
    return sock;
  }

  // -------------------------------------------------------------------------------------------
  // Our client → s_server

  it('our client → s_server: full handshake, then psk_dhe_ke resumption with X25519MLKEM768; s_server reports the reuse', async () => {
    const traceFile = join(dir, 'psk-dhe-ke.trace');
    const { peer, port } = await sServer(2, ['-rev', '-trace', '-msgfile', traceFile]);
    const store = new MemorySessionStore();
    const first = await firstConnection(port, store);
    const rx1 = collectText(first);
    first.write('full\n');
    expect(await rx1.until('\n')).toBe('lluf\n');
    first.end();
    await closed(first);

    const second = await ourClient(port, store);
    const info = second.handshakeInfo;
    expect(info?.resumed).toBe(true);
    // psk_dhe_ke: the resumed handshake still ran the hybrid key exchange.
    expect(second.getEphemeralKeyInfo()).toEqual({ type: 'TLSGroup', name: 'X25519MLKEM768' });
    // No Certificate on resumption; the identity is the one authenticated by the first handshake.
    expect(second.getPeerCertificateChain()).toEqual(pki.mldsa.server.credentials.chain);
    const rx2 = collectText(second);
    second.write('resumed\n');
    expect(await rx2.until('\n')).toBe('demuser\n');
    second.end();
    await closed(second);

    const out = await finished(peer);
    // OpenSSL's statistics at exit: one of the two handshakes resumed a session ("-rev" prints no
    // "Reused session-id" line; the default mode does, see the 0-RTT case).
    expect(out).toMatch(/^\s+2 server accepts that finished$/m);
    expect(out).toMatch(/^\s+1 session cache hits$/m);
    // The second connection's trace: a ServerHello with pre_shared_key (§4.2.11) and an X25519MLKEM768
    // key_share (§4.2.8), and no Certificate (the PSK authenticates the server).
    const [full, resumed] = connectionTraces(readFileSync(traceFile, 'utf8'));
    expect(tracedMessage(full ?? '', 'ServerHello')).not.toMatch(/extension_type=psk\(41\)/);
    expect(full).toMatch(/^\s+Certificate, Length=/m);
    const serverHello = tracedMessage(resumed ?? '', 'ServerHello');
    // OpenSSL's trace calls pre_shared_key "psk"; the body is selected_identity 0, our only offer.
    expect(serverHello).toMatch(/extension_type=psk\(41\), length=2\n\s+0000 - 00 00 /);
    expect(serverHello).toMatch(/extension_type=key_share\(51\)/);
    expect(serverHello).toMatch(/NamedGroup: X25519MLKEM768/);
    expect(resumed).not.toMatch(/^\s+Certificate, Length=/m);
  }, CASE_TIMEOUT_MS);

  it('our client → s_server -allow_no_dhe_kex: psk_ke resumption (both sides opted in) has no key exchange', async () => {
    const traceFile = join(dir, 'psk-ke.trace');
    const { peer, port } = await sServer(2, ['-rev', '-allow_no_dhe_kex', '-trace', '-msgfile', traceFile]);
    const store = new MemorySessionStore();
    const first = await firstConnection(port, store);
    first.end();
    await closed(first);

    const second = await ourClient(port, store, { pskModes: ['psk_ke'] });
    expect(second.handshakeInfo?.resumed).toBe(true);
    expect(second.handshakeInfo?.group).toBeUndefined();
    expect(second.getEphemeralKeyInfo()).toEqual({});
    const rx = collectText(second);
    second.write('psk only\n');
    expect(await rx.until('\n')).toBe('ylno ksp\n');
    second.end();
    await closed(second);

    const out = await finished(peer);
    expect(out).toMatch(/^\s+1 session cache hits$/m);
    const serverHello = tracedMessage(connectionTraces(readFileSync(traceFile, 'utf8'))[1] ?? '', 'ServerHello');
    // OpenSSL's trace calls pre_shared_key "psk"; the body is selected_identity 0, our only offer.
    expect(serverHello).toMatch(/extension_type=psk\(41\), length=2\n\s+0000 - 00 00 /);
    expect(serverHello).not.toMatch(/extension_type=key_share/);
  }, CASE_TIMEOUT_MS);

  it('our client → s_server -early_data: 0-RTT accepted, s_server prints the early data; session kept in a FileSessionStore', async () => {
    const { peer, port } = await sServer(2, ['-early_data']);
    const store = new FileSessionStore(join(dir, 'our-client.session'));
    const first = await firstConnection(port, store);
    first.end();
    await closed(first);

    const early = 'GET /early HTTP/1.0 (sent in 0-RTT)\n';
    const second = await ourClient(port, store, { earlyData: new TextEncoder().encode(early) });
    expect(second.handshakeInfo?.resumed).toBe(true);
    expect(second.handshakeInfo?.earlyData).toBe('accepted');
    expect(second.getEphemeralKeyInfo()).toEqual({ type: 'TLSGroup', name: 'X25519MLKEM768' });
    second.write('after the handshake\n');
    await peer.waitForLine(/^after the handshake/);
    second.end();
    await closed(second);

    const out = await finished(peer);
    // The first connection had none; for the second, s_server reports the early data and prints it
    // (its raw bytes and its labels go through differently buffered streams, so their order varies).
    expect(out).toContain('No early data received');
    expect(out).toContain('Early data received:');
    expect(out).toContain('End of early data');
    expect(out).toContain(early);
    expect(out.indexOf(early)).toBeLessThan(out.indexOf('after the handshake'));
    expect(out).toContain('Reused session-id');
  }, CASE_TIMEOUT_MS);

  it('pqtls client --session FILE --early-data TEXT --json → s_server -early_data: resumed, earlyDataAccepted', async () => {
    const { peer, port } = await sServer(2, ['-early_data']);
    const sessionFile = join(dir, 'cli.session');
    const cli = async (...extra: string[]): Promise<Record<string, unknown>> => {
      let out = '';
      let err = '';
      const io: CliIo = { out: (s) => void (out += s), err: (s) => void (err += s), now: () => new Date() };
      const code = await main(['client', `127.0.0.1:${port}`, '--servername', 'localhost', '--ca', pki.mldsa.rootFile, '--session', sessionFile, '--json', ...extra], io);
      expect(code, err).toBe(0);
      return JSON.parse(out) as Record<string, unknown>;
    };
    const full = await cli();
    expect(full).toMatchObject({ resumed: false, earlyDataAccepted: null, group: 'X25519MLKEM768' });
    expect(readFileSync(sessionFile, 'utf8').length).toBeGreaterThan(0);
    const resumed = await cli('--early-data', 'cli early data\n');
    expect(resumed).toMatchObject({ resumed: true, earlyDataAccepted: true, group: 'X25519MLKEM768' });
    const out = await finished(peer);
    expect(out).toContain('Early data received:');
    expect(out).toContain('cli early data\n');
  }, CASE_TIMEOUT_MS);

  // -------------------------------------------------------------------------------------------
  // s_client → our server

  it('s_client -sess_out, then -sess_in → our server: "Reused, TLSv1.3", psk_dhe_ke with X25519MLKEM768', async () => {
    const ours = await listenOurServer(await ourServerOptions(), lineEcho());
    const sessionFile = join(dir, 'openssl-resume.pem');
    const full = sClient(ours.port, ['-sess_out', sessionFile], 'full\nbye\n');
    const fullOut = await finished(full);
    expect(fullOut).toMatch(/^New, TLSv1\.3, Cipher is /m);
    expect(full.stdout).toContain('echo: full\n');
    expect(readFileSync(sessionFile, 'utf8')).toContain('BEGIN SSL SESSION PARAMETERS');

    const again = sClient(ours.port, ['-sess_in', sessionFile], 'again\nbye\n');
    const againOut = await finished(again);
    expect(againOut).toMatch(/^Reused, TLSv1\.3, Cipher is /m);
    expect(againOut).toContain('Negotiated TLS1.3 group: X25519MLKEM768');
    expect(again.stdout).toContain('echo: again\n');

    const [s1, s2] = [await ours.accepted(), await ours.accepted()];
    expect(s1.handshakeInfo?.resumed).toBe(false);
    expect(s2.handshakeInfo?.resumed).toBe(true);
    expect(s2.getEphemeralKeyInfo()).toEqual({ type: 'TLSGroup', name: 'X25519MLKEM768' });
    expect(s2.handshakeInfo?.serverName).toBe('localhost');
    expect(ours.errors).toEqual([]);
  }, CASE_TIMEOUT_MS);

  it('s_client -sess_in -early_data FILE → our server with 0-RTT on: "Early data was accepted", our server received those bytes', async () => {
    const earlyEvents: string[] = [];
    const echo = lineEcho();
    const ours = await listenOurServer(await ourServerOptions(), (s) => {
      s.on('earlyData', (d: Uint8Array) => earlyEvents.push(Buffer.from(d).toString('utf8')));
      echo(s);
    });
    const sessionFile = join(dir, 'openssl-early.pem');
    const earlyFile = join(dir, 'early.txt');
    const early = 'early line from openssl\n';
    writeFileSync(earlyFile, early);
    const full = sClient(ours.port, ['-sess_out', sessionFile], 'full\nbye\n');
    const fullOut = await finished(full);
    // Our tickets promise max_early_data_size (§4.6.1), and OpenSSL read it.
    expect(fullOut).toContain('Max Early Data: 16384');

    const zeroRtt = sClient(ours.port, ['-sess_in', sessionFile, '-early_data', earlyFile], 'bye\n');
    const out = await finished(zeroRtt);
    expect(out).toMatch(/^Reused, TLSv1\.3, Cipher is /m);
    expect(out).toContain('Early data was accepted');
    // Early data reads like the rest of the stream: lineEcho answered it.
    expect(zeroRtt.stdout).toContain(`echo: ${early}`);

    await ours.accepted();
    const s = await ours.accepted();
    expect(s.handshakeInfo?.resumed).toBe(true);
    expect(s.handshakeInfo?.earlyData).toBe('accepted');
    expect(s.earlyDataReceived).toBe(Buffer.byteLength(early));
    // 'earlyData' reaches a listener attached in the connection callback, i.e. after 'secure'.
    expect(earlyEvents.join('')).toBe(early);
    expect(ours.errors).toEqual([]);
  }, CASE_TIMEOUT_MS);

  it('s_client -early_data → a server of the same ticket ring without 0-RTT: "Early data was rejected", skipped (§4.2.10)', async () => {
    // The ticket comes from a server that allows 0-RTT (so OpenSSL sends early data with it); the
    // second server shares the ring but not the 0-RTT setting: it resumes, rejects the early data and
    // must skip the 0-RTT records it cannot decrypt.
    const ring = await TicketKeyRing.create(provider);
    const issuing = await listenOurServer(await ourServerOptions({ tickets: { sealer: ring } }), lineEcho());
    const rejecting = await listenOurServer(await ourServerOptions({ tickets: { sealer: ring }, earlyData: undefined }), lineEcho());
    const sessionFile = join(dir, 'openssl-rejected.pem');
    const earlyFile = join(dir, 'rejected.txt');
    writeFileSync(earlyFile, 'not for this server\n');
    const full = sClient(issuing.port, ['-sess_out', sessionFile], 'full\nbye\n');
    expect(await finished(full)).toContain('Max Early Data: 16384');

    const zeroRtt = sClient(rejecting.port, ['-sess_in', sessionFile, '-early_data', earlyFile], 'after rejection\nbye\n');
    const out = await finished(zeroRtt);
    expect(out).toMatch(/^Reused, TLSv1\.3, Cipher is /m);
    expect(out).toContain('Early data was rejected');
    expect(zeroRtt.stdout).toContain('echo: after rejection\n');
    expect(zeroRtt.stdout).not.toContain('not for this server');
    const s = await rejecting.accepted();
    expect(s.handshakeInfo?.resumed).toBe(true);
    expect(s.handshakeInfo?.earlyData).toBe('rejected');
    expect(s.earlyDataReceived).toBe(0);
    expect(rejecting.errors).toEqual([]);
  }, CASE_TIMEOUT_MS);
});
