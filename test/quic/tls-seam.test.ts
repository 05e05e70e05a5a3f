/**
 * The seam between the TLS 1.3 handshake and QUIC (RFC 9001 §4): the very
 * state machines TLS uses, driven with handshake messages per encryption level
 * (as CRYPTO frames would carry them) instead of records. They must hand out
 * matching secrets per level, carry quic_transport_parameters both ways,
 * require ALPN, send no change_cipher_spec and no legacy_session_id, refuse
 * KeyUpdate — and the secrets must key QUIC packet protection that
 * interoperates across the two sides.
 */
import { describe, expect, it } from 'vitest';
import { toHex, utf8 } from '../../src/bytes.js';
import { AlertDescription, PqtlsError } from '../../src/errors.js';
import { NamedGroup } from '../../src/pq/index.js';
import { resolveClientOptions, resolveServerOptions } from '../../src/tls13/config.js';
import { Outbox, type HandshakeAction, type Level } from '../../src/tls13/handshake/common.js';
import { handleClient, startClient, type ClientState } from '../../src/tls13/handshake/client.js';
import { handleServer, startServer, type ServerState } from '../../src/tls13/handshake/server.js';
import { updateWriteKey } from '../../src/tls13/handshake/post-handshake.js';
import { HandshakeReassembler } from '../../src/tls13/messages/handshake.js';
import { decodeClientHello } from '../../src/tls13/messages/hello.js';
import { QUIC_V1, deriveDirectionalKeys, openPacket, parsePacket, quicCipherSuite, sealPacket } from '../../src/quic/index.js';
import { decodeTransportParameters, encodeTransportParameters } from '../../src/quic/transport-parameters.js';
import { clock, pinnedKeyVerifier, seededProvider, testKey } from '../helpers/tls-pair.js';

type Secrets = Partial<Record<`${'read' | 'write'}:${Level}`, { secret: Uint8Array; suite: number }>>;

/** One endpoint: a handshake state, a CRYPTO reassembler per level, and what its actions said. */
interface Endpoint<S> {
  state: S;
  readonly out: Outbox;
  readonly inbox: Map<Level, HandshakeReassembler>;
  readonly secrets: Secrets;
  readonly sent: { level: Level; data: Uint8Array }[];
  readonly actions: HandshakeAction[];
}

function endpoint<S>(state: S, out: Outbox): Endpoint<S> {
  return { state, out, inbox: new Map(), secrets: {}, sent: [], actions: [] };
}

/** Takes the outbox's actions: records secrets, queues sends. */
function collect<S>(e: Endpoint<S>): { level: Level; data: Uint8Array }[] {
  const sends: { level: Level; data: Uint8Array }[] = [];
  for (const a of e.out.actions.splice(0)) {
    e.actions.push(a);
    if (a.kind === 'send') sends.push({ level: a.level, data: a.data });
    if (a.kind === 'readSecret' || a.kind === 'writeSecret') {
      e.secrets[`${a.kind === 'readSecret' ? 'read' : 'write'}:${a.level}`] = { secret: a.secret, suite: a.suite.id };
    }
  }
  e.sent.push(...sends);
  return sends;
}

async function deliver<S>(to: Endpoint<S>, level: Level, data: Uint8Array, handle: (s: S, l: Level, m: never, o: Outbox) => Promise<S>): Promise<void> {
  let r = to.inbox.get(level);
  if (!r) to.inbox.set(level, (r = new HandshakeReassembler(1 << 18)));
  r.push(data);
  for (let m = r.next(); m; m = r.next()) to.state = await handle(to.state, level, m as never, to.out);
}

async function quicHandshake(serverAlpn: string[] = ['h3']) {
  const provider = seededProvider('quic-seam');
  const key = await testKey(provider, 'ml-dsa-65');
  const clientTp = encodeTransportParameters({ initialSourceConnectionId: new Uint8Array([1, 2, 3, 4]), initialMaxData: 1 << 20 });
  const serverTp = encodeTransportParameters({
    initialSourceConnectionId: new Uint8Array([9, 9]), originalDestinationConnectionId: new Uint8Array([5, 6, 7, 8]), initialMaxStreamsBidi: 100,
  });
  const cfgC = resolveClientOptions({ provider, now: clock, verifier: pinnedKeyVerifier(key), serverName: 'quic.test', alpnProtocols: ['h3'] });
  const cfgS = resolveServerOptions({ provider, now: clock, certificate: { chain: [key.publicKey], ...key }, alpnProtocols: serverAlpn });
  const started = await startClient(cfgC, { transportParameters: clientTp });
  const client = endpoint<ClientState>(started.state, started.out);
  const server = endpoint<ServerState>(startServer(cfgS, { transportParameters: serverTp }), new Outbox(undefined, new Uint8Array(32)));
  let pending = collect(client).map((s) => ({ ...s, toServer: true }));
  for (let round = 0; round < 10 && pending.length; round++) {
    const next: typeof pending = [];
    for (const p of pending) {
      if (p.toServer) {
        await deliver(server, p.level, p.data, handleServer);
        next.push(...collect(server).map((s) => ({ ...s, toServer: false })));
      } else {
        await deliver(client, p.level, p.data, handleClient);
        next.push(...collect(client).map((s) => ({ ...s, toServer: true })));
      }
    }
    pending = next;
  }
  return { provider, client, server, clientTp, serverTp };
}

describe('TLS handshake as QUIC drives it (RFC 9001 §4)', () => {
  it('completes with matching per-level secrets, exchanged transport parameters, ALPN, and no TLS-only messages', async () => {
    const { provider, client, server, clientTp, serverTp } = await quicHandshake();
    expect(client.state.kind).toBe('Connected');
    expect(server.state.kind).toBe('Connected');

    // §4.1.3: Initial carries ClientHello/ServerHello, Handshake the rest; nothing goes at 0-RTT or in 1-RTT.
    expect(client.sent.map((s) => s.level)).toEqual(['initial', 'handshake']);
    expect(server.sent.map((s) => s.level)).toEqual(['initial', 'handshake', 'handshake', 'handshake', 'handshake']);
    // §8.4: no middlebox-compatibility session id and no change_cipher_spec.
    expect(decodeClientHello((client.sent[0] as { data: Uint8Array }).data.subarray(4)).legacySessionId.length).toBe(0);
    expect([...client.actions, ...server.actions].some((a) => a.kind === 'changeCipherSpec')).toBe(false);

    for (const level of ['handshake', 'application'] as const) {
      expect(toHex(client.secrets[`write:${level}`]?.secret ?? new Uint8Array())).toBe(toHex(server.secrets[`read:${level}`]?.secret ?? new Uint8Array(1)));
      expect(toHex(server.secrets[`write:${level}`]?.secret ?? new Uint8Array())).toBe(toHex(client.secrets[`read:${level}`]?.secret ?? new Uint8Array(1)));
    }
    const info = (client.actions.find((a) => a.kind === 'complete') as Extract<HandshakeAction, { kind: 'complete' }>).info;
    expect(info.alpn).toBe('h3');
    expect(info.group).toBe(NamedGroup.X25519MLKEM768);
    expect(toHex(info.peerTransportParameters as Uint8Array)).toBe(toHex(serverTp));
    expect(decodeTransportParameters(info.peerTransportParameters as Uint8Array, 'server').initialMaxStreamsBidi).toBe(100);
    const sInfo = (server.actions.find((a) => a.kind === 'complete') as Extract<HandshakeAction, { kind: 'complete' }>).info;
    expect(toHex(sInfo.peerTransportParameters as Uint8Array)).toBe(toHex(clientTp));

    // The application secrets key 1-RTT packet protection (RFC 9001 §5.1) that works across the two sides.
    const w = client.secrets['write:application'] as { secret: Uint8Array; suite: number };
    const r = server.secrets['read:application'] as { secret: Uint8Array; suite: number };
    const suite = quicCipherSuite(w.suite);
    if (!suite) throw new Error('no QUIC suite');
    const sealKeys = await deriveDirectionalKeys(provider, QUIC_V1, suite, w.secret);
    const openKeys = await deriveDirectionalKeys(provider, QUIC_V1, suite, r.secret);
    const dcid = new Uint8Array([9, 9]);
    const packet = await sealPacket(sealKeys, { type: '1rtt', dcid }, utf8('stream frame bytes'), { packetNumber: 3 });
    const parsed = parsePacket(packet, 0, { shortDcidLength: 2 }).packet;
    if (!('pnOffset' in parsed)) throw new Error(`not a protected packet: ${parsed.type}`);
    const opened = await openPacket(openKeys, parsed, 2);
    expect(opened && new TextDecoder().decode(opened.payload.subarray(0, 18))).toBe('stream frame bytes');
  });

  it('a QUIC server with no ALPN in common ends with no_application_protocol (RFC 9001 §8.1)', async () => {
    await expect(quicHandshake(['h2'])).rejects.toMatchObject({ alert: AlertDescription.no_application_protocol });
  });

  it('KeyUpdate is not a QUIC thing (RFC 9001 §6): neither sent nor accepted', async () => {
    const { client } = await quicHandshake();
    if (client.state.kind !== 'Connected') throw new Error('not connected');
    await expect(updateWriteKey(client.state, false, client.out)).rejects.toBeInstanceOf(PqtlsError);
    await expect(deliver(client, 'application', new Uint8Array([24, 0, 0, 1, 0]), handleClient)).rejects.toMatchObject({ alert: AlertDescription.unexpected_message });
  });
});
