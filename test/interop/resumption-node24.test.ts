/**
 * TLS 1.3 session resumption (RFC 8446 §2.2, §4.6.1) against Node.js 24's
 * node:tls (OpenSSL 3.5 inside) on loopback, both directions. Node has no TLS
 * early data, so 0-RTT is covered against OpenSSL (resumption-openssl.test.ts).
 *
 * Our client → `tls.createServer`: the full handshake (X25519MLKEM768, our
 * ML-DSA-65 chain) leaves Node's tickets in our MemorySessionStore, the next
 * connection resumes with psk_dhe_ke and Node reports `isSessionReused()`.
 *
 * `tls.connect` → our server (the Node adapter's `createServer`): the second
 * connection offers the session of the first one's 'session' event; Node
 * reports `isSessionReused()` and, psk_dhe_ke, still X25519MLKEM768 from
 * `getEphemeralKeyInfo()`. The same with the ticket taken from our server A
 * to our server B whose ring holds A's exported key material (a fleet), and
 * to a server C with a ring of its own, which must fall back to a full
 * handshake (§4.2.11: a PSK the server cannot use is ignored).
 *
 * The Node side is test/helpers/node24-resumption-peer.mjs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type PqTlsServerOptions, type PqTlsSocket } from '../../src/node/index.js';
import { createNobleProvider, type CryptoProvider } from '../../src/pq/index.js';
import { seededRandom } from '../../src/testing/index.js';
import { MemorySessionStore } from '../../src/tls13/session.js';
import { TicketKeyRing } from '../../src/tls13/tickets.js';
import { webPkiVerifier } from '../../src/tls13/verifier.js';
import { mintOurPki, type OurPki } from '../helpers/our-pki.js';
import { freePort, interopDisabled, requirePeer, spawnPeer, type PeerProcess } from '../helpers/peers.js';
import { closed, collectText, lineEcho, listenOurServer } from '../helpers/tls-interop.js';

const CASE_TIMEOUT_MS = 20_000;
const PEER_LIFETIME_MS = 15_000;
const PEER_SCRIPT = fileURLToPath(new URL('../helpers/node24-resumption-peer.mjs', import.meta.url));

/** What node24-resumption-peer.mjs prints for each completed handshake. */
interface NodeSecure {
  readonly event: 'secure';
  readonly index: number;
  readonly reused: boolean;
  readonly protocol: string | null;
  readonly cipher: string | undefined;
  readonly ephemeral: { readonly type?: string; readonly name?: string } | null;
  readonly authorized: boolean;
}

interface NodeConfig {
  readonly role: 'server' | 'client';
  readonly port?: number;
  readonly ports?: readonly number[];
  readonly cert?: string;
  readonly key?: string;
  readonly ca?: string;
  readonly groups?: string;
  readonly connections?: number;
  readonly send?: string;
}

describe.runIf(!interopDisabled)('TLS 1.3 resumption with Node.js 24 (node:tls on OpenSSL 3.5)', () => {
  let dir = '';
  let provider: CryptoProvider;
  let pki: OurPki;

  beforeAll(async () => {
    requirePeer('node24');
    dir = mkdtempSync(join(tmpdir(), 'pqtls-resume-node24-'));
    provider = createNobleProvider({ random: seededRandom('interop resumption node24') });
    pki = await mintOurPki(provider, dir);
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  // -------------------------------------------------------------------------------------------
  // Plumbing

  function nodePeer(config: NodeConfig): PeerProcess {
    return spawnPeer('node24', [PEER_SCRIPT, JSON.stringify(config)], { timeoutMs: PEER_LIFETIME_MS });
  }

  function events(peer: PeerProcess): Record<string, unknown>[] {
    return peer.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  /** The 'secure' reports, in connection order, once the peer has exited by itself. */
  async function handshakes(peer: PeerProcess): Promise<NodeSecure[]> {
    const exit = await peer.exited;
    expect(exit.timedOut, `node24 had to be killed:\n${peer.output}`).toBe(false);
    expect(events(peer).filter((e) => e.event === 'error' || e.event === 'tlsClientError'), peer.output).toEqual([]);
    return events(peer).filter((e): e is Record<string, unknown> & NodeSecure => e.event === 'secure');
  }

  /** The text the Node client received on each connection. */
  function received(peer: PeerProcess): string[] {
    return events(peer).filter((e) => e.event === 'end').map((e) => String(e.text));
  }

  function ourClient(port: number, sessionStore: MemorySessionStore): Promise<PqTlsSocket> {
    return connect({
      host: '127.0.0.1', port, provider, serverName: 'localhost',
      verifier: webPkiVerifier({ provider, trustAnchors: [pki.mldsa.rootDer] }),
      sessionStore,
    });
  }

  function ourServerOptions(ring: TicketKeyRing): PqTlsServerOptions {
    return { provider, certificate: pki.mldsa.server.credentials, tickets: { sealer: ring } };
  }

  /** A Node client trusting our ML-DSA root, connecting to each of `ports` in turn with the previous session. */
  function nodeClient(ports: readonly number[]): PeerProcess {
    return nodePeer({ role: 'client', ports, ca: pki.mldsa.rootFile, groups: 'X25519MLKEM768', send: 'hello from node\nbye\n' });
  }

  /** Echoes a line through the Node server and closes; resolves once a ticket has arrived too. */
  async function talk(sock: PqTlsSocket, line: string, waitForTicket: boolean): Promise<void> {
    const ticket = waitForTicket
      ? new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no NewSessionTicket from Node within 5 s')), 5_000);
        sock.once('session', () => {
          clearTimeout(timer);
          resolve();
        });
      })
      : Promise.resolve();
    const rx = collectText(sock);
    sock.write(`${line}\nbye\n`);
    await rx.until(`echo: ${line}\n`);
    await ticket;
    await closed(sock);
  }

  // -------------------------------------------------------------------------------------------
  // Our client → Node server

  it('our client → Node server: full handshake, then psk_dhe_ke resumption with X25519MLKEM768; Node reports isSessionReused()', async () => {
    const port = await freePort();
    const peer = nodePeer({ role: 'server', port, cert: pki.mldsa.server.chainFile, key: pki.mldsa.server.keyFile, groups: 'X25519MLKEM768' });
    await peer.waitForLine('{"event":"listening"}');
    const store = new MemorySessionStore();

    const first = await ourClient(port, store);
    expect(first.handshakeInfo?.resumed).toBe(false);
    expect(first.getEphemeralKeyInfo()).toEqual({ type: 'TLSGroup', name: 'X25519MLKEM768' });
    expect(first.getPeerSignatureScheme()).toBe('mldsa65');
    await talk(first, 'full', true);

    const second = await ourClient(port, store);
    expect(second.handshakeInfo?.resumed).toBe(true);
    expect(second.handshakeInfo?.earlyData).toBe('none');
    // psk_dhe_ke: the hybrid key exchange ran again.
    expect(second.getEphemeralKeyInfo()).toEqual({ type: 'TLSGroup', name: 'X25519MLKEM768' });
    // Carried over from the first handshake: the chain Node authenticated itself with then.
    expect(second.getPeerCertificateChain()).toEqual(pki.mldsa.server.credentials.chain);
    expect(second.getPeerSignatureScheme()).toBe('mldsa65');
    await talk(second, 'resumed', false);

    const node = await handshakes(peer);
    expect(node.map((h) => [h.index, h.reused])).toEqual([[0, false], [1, true]]);
    expect(node[1]?.protocol).toBe('TLSv1.3');
    expect(node[1]?.cipher).toBe(second.getCipher()?.name);
  }, CASE_TIMEOUT_MS);

  // -------------------------------------------------------------------------------------------
  // Node client → our server

  it('Node client → our server: tls.connect with the first connection\'s session resumes; isSessionReused(), X25519MLKEM768', async () => {
    const server = await listenOurServer(ourServerOptions(await TicketKeyRing.create(provider)), lineEcho());
    const peer = nodeClient([server.port, server.port]);
    const node = await handshakes(peer);
    expect(node.map((h) => [h.index, h.reused])).toEqual([[0, false], [1, true]]);
    for (const h of node) {
      expect(h.protocol).toBe('TLSv1.3');
      expect(h.authorized).toBe(true);
      expect(h.ephemeral).toEqual({ type: 'TLSGroup', name: 'X25519MLKEM768' });
    }
    expect(received(peer)).toEqual(['echo: hello from node\n', 'echo: hello from node\n']);
    const [s1, s2] = [await server.accepted(), await server.accepted()];
    expect(s1.handshakeInfo?.resumed).toBe(false);
    expect(s2.handshakeInfo?.resumed).toBe(true);
    expect(s2.getEphemeralKeyInfo()).toEqual({ type: 'TLSGroup', name: 'X25519MLKEM768' });
    expect(server.errors).toEqual([]);
  }, CASE_TIMEOUT_MS);

  it('Node client: a ticket of our server A resumes at our server B whose ring holds A\'s exported keys, not at C with its own', async () => {
    const ringA = await TicketKeyRing.create(provider);
    const a = await listenOurServer(ourServerOptions(ringA), lineEcho());
    const b = await listenOurServer(ourServerOptions(await TicketKeyRing.create(provider, { keys: ringA.export() })), lineEcho());
    const c = await listenOurServer(ourServerOptions(await TicketKeyRing.create(provider)), lineEcho());

    // A (full) → B (resumes with A's ticket) → C (B's ticket is unknown there: full handshake).
    const peer = nodeClient([a.port, b.port, c.port]);
    const node = await handshakes(peer);
    expect(node.map((h) => [h.index, h.reused])).toEqual([[0, false], [1, true], [2, false]]);
    expect(received(peer)).toHaveLength(3);
    expect((await a.accepted()).handshakeInfo?.resumed).toBe(false);
    const atB = await b.accepted();
    expect(atB.handshakeInfo?.resumed).toBe(true);
    expect(atB.getEphemeralKeyInfo()).toEqual({ type: 'TLSGroup', name: 'X25519MLKEM768' });
    expect((await c.accepted()).handshakeInfo?.resumed).toBe(false);
    expect([...a.errors, ...b.errors, ...c.errors]).toEqual([]);
  }, CASE_TIMEOUT_MS);
});
