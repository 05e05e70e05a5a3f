/**
 * One test per MUST / MUST NOT of RFC 8446 that a receiving endpoint has to
 * enforce (§4 handshake, §4.2 extensions, §4.4 authentication, §4.6
 * post-handshake, §5 record layer, §6 alerts). Each drives crafted bytes into
 * a TlsConnection and checks the alert it ends with.
 *
 * Encrypted flights are tampered with in the middle: the honest peer's key log
 * gives the traffic secret, its records are opened, messages rewritten and
 * sealed again under the same key, so the victim reaches the check under test.
 */
import { describe, expect, it } from 'vitest';
import { concat, fromHex } from '../../src/bytes.js';
import { AlertDescription } from '../../src/errors.js';
import { NamedGroup, SignatureScheme, type CryptoProvider } from '../../src/pq/index.js';
import { MemoryAntiReplay } from '../../src/tls13/anti-replay.js';
import { CipherSuite, cipherSuiteInfo, type CipherSuiteInfo } from '../../src/tls13/cipher-suites.js';
import type { ClientOptions, ServerOptions } from '../../src/tls13/config.js';
import { ContentType, ExtensionType, HRR_RANDOM, HandshakeType, TLS12, TLS13 } from '../../src/tls13/constants.js';
import { TlsConnection } from '../../src/tls13/connection.js';
import { deriveTrafficKeys } from '../../src/tls13/key-schedule.js';
import {
  decodeCertificate, decodeCertificateVerify, decodeEncryptedExtensions, encodeCertificate, encodeCertificateRequest, encodeCertificateVerify,
  encodeEncryptedExtensions, encodeKeyUpdate,
} from '../../src/tls13/messages/certificate.js';
import {
  EMPTY, encodeAlpn, encodeKeyShareClient, encodeKeyShareHrr, encodeKeyShareServer, encodePskModes, encodeSupportedVersionsServer,
  encodeU16List, type Extension,
} from '../../src/tls13/messages/extensions.js';
import { HandshakeReassembler, frameHandshake, type HandshakeMessage } from '../../src/tls13/messages/handshake.js';
import { decodeClientHello, encodeClientHello, encodeServerHello, type ClientHello } from '../../src/tls13/messages/hello.js';
import { encodeNewSessionTicket, encodeOfferedPsks, encodeSelectedIdentity } from '../../src/tls13/messages/psk.js';
import { encodeRecord } from '../../src/tls13/record-layer.js';
import { RecordProtector } from '../../src/tls13/record-protection.js';
import { MemorySessionStore, type Session } from '../../src/tls13/session.js';
import { TicketKeyRing } from '../../src/tls13/tickets.js';
import { NOW, clock, connectPair, drain, pinnedKeyVerifier, pump, seededProvider, testKey, type TestKey } from '../helpers/tls-pair.js';

const SUITE = CipherSuite.TLS_AES_128_GCM_SHA256;
const SUITE_INFO = cipherSuiteInfo(SUITE) as CipherSuiteInfo;
const { illegal_parameter, unexpected_message, decode_error, decrypt_error, missing_extension, unsupported_extension } = AlertDescription;

// ---------------------------------------------------------------- helpers

/** Splits a byte stream into whole TLS records (header included). */
function records(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let o = 0; o < bytes.length; ) {
    const len = ((bytes[o + 3] as number) << 8) | (bytes[o + 4] as number);
    out.push(bytes.slice(o, o + 5 + len));
    o += 5 + len;
  }
  return out;
}

function messages(stream: Uint8Array): HandshakeMessage[] {
  const r = new HandshakeReassembler(1 << 20);
  r.push(stream);
  const out: HandshakeMessage[] = [];
  for (let m = r.next(); m; m = r.next()) out.push(m);
  return out;
}

/** Collects NSS key-log lines so a test can play the honest peer's record layer. */
function keyLogger(): { log: (line: string) => void; secret: (label: string) => Uint8Array } {
  const lines = new Map<string, Uint8Array>();
  return {
    log: (line) => {
      const [label, , secret] = line.split(' ');
      lines.set(label as string, fromHex(secret as string));
    },
    secret: (label) => {
      const s = lines.get(label);
      if (!s) throw new Error(`no ${label} in the key log`);
      return s;
    },
  };
}

/** Seals `content` as one protected record of `type` under `secret` at sequence number `seq`. */
async function seal(provider: CryptoProvider, secret: Uint8Array, type: ContentType, content: Uint8Array, seq = 0): Promise<Uint8Array> {
  const p = await RecordProtector.create(provider, SUITE_INFO, secret, { sequenceNumber: BigInt(seq) });
  return p.seal(type, content);
}

/** Seals an arbitrary TLSInnerPlaintext, including ones RecordProtector refuses to produce. */
async function sealInner(provider: CryptoProvider, secret: Uint8Array, inner: Uint8Array, seq = 0): Promise<Uint8Array> {
  const { key, iv } = await deriveTrafficKeys(provider, SUITE_INFO, secret);
  const aead = await provider.aead(SUITE_INFO.aead, key);
  const nonce = iv.slice();
  nonce[nonce.length - 1] = (nonce[nonce.length - 1] as number) ^ seq;
  const len = inner.length + 16;
  const header = new Uint8Array([ContentType.application_data, 3, 3, len >> 8, len & 0xff]);
  return concat(header, await aead.seal(nonce, header, inner));
}

/** Opens every protected record in `recs` under `secret`, returning the handshake byte stream. */
async function openAll(provider: CryptoProvider, secret: Uint8Array, recs: Uint8Array[]): Promise<Uint8Array> {
  const p = await RecordProtector.create(provider, SUITE_INFO, secret);
  const parts: Uint8Array[] = [];
  for (const r of recs) {
    const o = await p.open(r.subarray(0, 5), r.subarray(5));
    expect(o.contentType).toBe(ContentType.handshake);
    parts.push(o.content);
  }
  return concat(...parts);
}

interface Bench {
  provider: CryptoProvider;
  key: TestKey;
  clientKey: TestKey;
  client(extra?: Partial<ClientOptions>): ClientOptions;
  server(extra?: Partial<ServerOptions>): ServerOptions;
}

async function bench(seed: string): Promise<Bench> {
  const provider = seededProvider(seed);
  const key = await testKey(provider, 'ed25519');
  const clientKey = await testKey(provider, 'ed25519');
  return {
    provider, key, clientKey,
    client: (extra = {}) => ({ provider, now: clock, verifier: pinnedKeyVerifier(key), cipherSuites: [SUITE], keyShareGroups: [NamedGroup.x25519], ...extra }),
    server: (extra = {}) => ({ provider, now: clock, certificate: { chain: [key.publicKey], ...key }, cipherSuites: [SUITE], ...extra }),
  };
}

const mutual = (b: Bench, required = true): Partial<ServerOptions> => ({ clientAuth: { verifier: pinnedKeyVerifier(b.clientKey), required } });
const clientCert = (b: Bench): Partial<ClientOptions> => ({ certificate: { chain: [b.clientKey.publicKey], ...b.clientKey } });

/**
 * Runs a handshake up to the server's encrypted flight, rewrites its messages
 * (EncryptedExtensions … Finished) with `mutate`, and delivers the result to the client.
 */
async function tamperServerFlight(
  b: Bench, mutate: (m: HandshakeMessage[]) => Uint8Array[], c: Partial<ClientOptions> = {}, s: Partial<ServerOptions> = {},
): Promise<TlsConnection> {
  const keys = keyLogger();
  const server = TlsConnection.server(b.server({ keyLog: keys.log, ...s }));
  const client = await TlsConnection.client(b.client(c));
  await server.receive(client.takeOutput());
  const recs = records(server.takeOutput());
  const secret = keys.secret('SERVER_HANDSHAKE_TRAFFIC_SECRET');
  const flight = messages(await openAll(b.provider, secret, recs.filter((r) => r[0] === ContentType.application_data)));
  for (const r of recs.filter((r) => r[0] !== ContentType.application_data)) await client.receive(r);
  await client.receive(await seal(b.provider, secret, ContentType.handshake, concat(...mutate(flight))));
  return client;
}

/** Runs a mutual-TLS handshake up to the client's encrypted flight, rewrites it and delivers it to the server. */
async function tamperClientFlight(
  b: Bench, mutate: (m: HandshakeMessage[]) => Uint8Array[], c: Partial<ClientOptions> = {}, s: Partial<ServerOptions> = {},
): Promise<TlsConnection> {
  const keys = keyLogger();
  const server = TlsConnection.server(b.server({ ...mutual(b), ...s }));
  const client = await TlsConnection.client(b.client({ ...clientCert(b), keyLog: keys.log, ...c }));
  await server.receive(client.takeOutput());
  await client.receive(server.takeOutput());
  const recs = records(client.takeOutput());
  const secret = keys.secret('CLIENT_HANDSHAKE_TRAFFIC_SECRET');
  const flight = messages(await openAll(b.provider, secret, recs.filter((r) => r[0] === ContentType.application_data)));
  for (const r of recs.filter((r) => r[0] !== ContentType.application_data)) await server.receive(r);
  await server.receive(await seal(b.provider, secret, ContentType.handshake, concat(...mutate(flight))));
  return server;
}

const replace = (type: number, by: (m: HandshakeMessage) => Uint8Array) => (ms: HandshakeMessage[]): Uint8Array[] =>
  ms.map((m) => (m.type === type ? by(m) : m.raw));

/** A completed connection pair plus the application traffic secrets (sequence 0 is unused: no tickets, no data). */
async function established(b: Bench, c: Partial<ClientOptions> = {}, s: Partial<ServerOptions> = {}) {
  const ck = keyLogger();
  const { client, server } = await connectPair(b.client({ keyLog: ck.log, ...c }), b.server(s));
  expect(client.handshakeInfo).toBeDefined();
  expect(server.handshakeInfo).toBeDefined();
  drain(client);
  drain(server);
  return {
    client, server,
    /** A record as the server would protect it, for the client. */
    fromServer: (type: ContentType, content: Uint8Array, seq = 0) => seal(b.provider, ck.secret('SERVER_TRAFFIC_SECRET_0'), type, content, seq),
    /** A record as the client would protect it, for the server. */
    fromClient: (type: ContentType, content: Uint8Array, seq = 0) => seal(b.provider, ck.secret('CLIENT_TRAFFIC_SECRET_0'), type, content, seq),
    serverSecret: () => ck.secret('SERVER_TRAFFIC_SECRET_0'),
    clientSecret: () => ck.secret('CLIENT_TRAFFIC_SECRET_0'),
  };
}

/** A client that has sent its ClientHello, and that hello decoded. */
async function helloSent(b: Bench, c: Partial<ClientOptions> = {}): Promise<{ client: TlsConnection; ch: ClientHello }> {
  const client = await TlsConnection.client(b.client(c));
  const first = records(client.takeOutput())[0] as Uint8Array;
  return { client, ch: decodeClientHello(first.subarray(9)) };
}

const versions: Extension = { type: ExtensionType.supported_versions, data: encodeSupportedVersionsServer(TLS13) };
const x25519Share: Extension = { type: ExtensionType.key_share, data: encodeKeyShareServer({ group: NamedGroup.x25519, share: new Uint8Array(32).fill(9) }) };

function serverHello(ch: ClientHello, extensions: Extension[], over: { random?: Uint8Array; suite?: number } = {}): Uint8Array {
  return encodeServerHello({ random: over.random ?? new Uint8Array(32).fill(7), legacySessionIdEcho: ch.legacySessionId, cipherSuite: over.suite ?? SUITE, extensions });
}
const hrr = (ch: ClientHello, extensions: Extension[], suite: number = SUITE): Uint8Array => serverHello(ch, [versions, ...extensions], { random: HRR_RANDOM, suite });
const askFor = (group: number): Extension => ({ type: ExtensionType.key_share, data: encodeKeyShareHrr(group) });
const plain = (msg: Uint8Array): Uint8Array => encodeRecord(ContentType.handshake, msg);

async function clientGets(b: Bench, forge: (ch: ClientHello) => Uint8Array[], c: Partial<ClientOptions> = {}): Promise<TlsConnection> {
  const { client, ch } = await helloSent(b, c);
  for (const m of forge(ch)) await client.receive(plain(m));
  return client;
}

/** A server fed one ClientHello built from a real client's by `edit`. */
async function serverGets(b: Bench, edit: (ch: ClientHello) => ClientHello | Uint8Array, s: Partial<ServerOptions> = {}, c: Partial<ClientOptions> = {}): Promise<TlsConnection> {
  const { ch } = await helloSent(b, c);
  const server = TlsConnection.server(b.server(s));
  const edited = edit(ch);
  await server.receive(plain(edited instanceof Uint8Array ? edited : encodeClientHello(edited)));
  return server;
}

const withoutExt = (ch: ClientHello, type: number): ClientHello => ({ ...ch, extensions: ch.extensions.filter((e) => e.type !== type) });
const bogusPsk = (identities: number, binders: number): Extension => ({
  type: ExtensionType.pre_shared_key,
  data: encodeOfferedPsks({
    identities: Array.from({ length: identities }, (_, i) => ({ identity: new Uint8Array(16).fill(i + 1), obfuscatedTicketAge: 0 })),
    binders: Array.from({ length: binders }, () => new Uint8Array(32)),
  }),
});
const pskModes: Extension = { type: ExtensionType.psk_key_exchange_modes, data: encodePskModes([1]) };

/** A session the client will offer; the server side is forged, so its PSK need not be real. */
function fakeSession(suite: CipherSuite = SUITE): Session {
  return {
    ticket: new Uint8Array(16).fill(0xaa), suite, psk: new Uint8Array(32).fill(0x55), receivedAt: NOW - 1000, lifetime: 3600,
    ageAdd: 0, maxEarlyData: 0, alpn: undefined, peerCertificates: [], peerSignatureScheme: undefined,
  };
}
function storeWith(s: Session): MemorySessionStore {
  const store = new MemorySessionStore();
  store.put('', s);
  return store;
}

/** A client and server that have completed one full handshake and left the client a real ticket. */
async function resumable(b: Bench, early?: { maxSize: number }): Promise<{ store: MemorySessionStore; server: (extra?: Partial<ServerOptions>) => ServerOptions }> {
  const ring = await TicketKeyRing.create(b.provider);
  const store = new MemorySessionStore();
  const antiReplay = new MemoryAntiReplay();
  const server = (extra: Partial<ServerOptions> = {}): ServerOptions =>
    b.server({ tickets: { sealer: ring, count: 1 }, ...(early ? { earlyData: { maxSize: early.maxSize, antiReplay } } : {}), ...extra });
  const first = await connectPair(b.client({ sessionStore: store }), server());
  expect(first.client.handshakeInfo?.resumed).toBe(false);
  return { store, server };
}

function expectAlert(c: TlsConnection, alert: number): void {
  expect(c.error?.alert, c.error?.message).toBe(alert);
}

// ---------------------------------------------------------------- §4.1 hellos, client side

describe('a client checks the ServerHello and HelloRetryRequest (RFC 8446 §4.1.3, §4.1.4, §4.2.1, §4.2.8)', () => {
  it('§4.1.3: legacy_session_id_echo that differs from the ClientHello → illegal_parameter', async () => {
    const b = await bench('sh-sid');
    const c = await clientGets(b, (ch) => [encodeServerHello({ random: new Uint8Array(32), legacySessionIdEcho: new Uint8Array(32).fill(1), cipherSuite: SUITE, extensions: [versions, x25519Share] })]);
    expectAlert(c, illegal_parameter);
  });

  const shWithLegacyVersion = (v: number) => (ch: ClientHello): Uint8Array[] => {
    const sh = serverHello(ch, [versions, x25519Share]);
    sh[4] = v >> 8;
    sh[5] = v & 0xff;
    return [sh];
  };
  for (const v of [0x0300, 0x0000, 0x0103]) {
    it(`Appendix D.5: ServerHello.legacy_version 0x${v.toString(16).padStart(4, '0')} (SSL 3.0 or older), even with supported_versions → protocol_version`, async () => {
      const b = await bench(`sh-legacy-${v}`);
      expectAlert(await clientGets(b, shWithLegacyVersion(v)), AlertDescription.protocol_version);
    });
  }

  it('§4.1.3: ServerHello.legacy_version other than 0x0303 alongside supported_versions TLS 1.3 → illegal_parameter', async () => {
    const b = await bench('sh-legacy-0304');
    expectAlert(await clientGets(b, shWithLegacyVersion(0x0304)), illegal_parameter);
  });

  it('§4.1.3: a cipher suite that was not offered → illegal_parameter', async () => {
    const b = await bench('sh-suite');
    const c = await clientGets(b, (ch) => [serverHello(ch, [versions, x25519Share], { suite: CipherSuite.TLS_CHACHA20_POLY1305_SHA256 })]);
    expectAlert(c, illegal_parameter);
  });

  it('§4.1.3: legacy_compression_method other than 0 → illegal_parameter', async () => {
    const b = await bench('sh-comp');
    const c = await clientGets(b, (ch) => {
      const sh = serverHello(ch, [versions, x25519Share]);
      sh[4 + 2 + 32 + 1 + ch.legacySessionId.length + 2] = 1;
      return [sh];
    });
    expectAlert(c, illegal_parameter);
  });

  it('§4.1.3: a TLS 1.2 ServerHello whose random ends in the downgrade sentinel → illegal_parameter', async () => {
    const b = await bench('sh-downgrade');
    const random = new Uint8Array(32);
    random.set([0x44, 0x4f, 0x57, 0x4e, 0x47, 0x52, 0x44, 0x01], 24);
    const c = await clientGets(b, (ch) => [serverHello(ch, [], { random, suite: 0xc02f })]);
    expectAlert(c, illegal_parameter);
  });

  it('§4.2.1: supported_versions selecting a version the client did not offer (TLS 1.2) → illegal_parameter', async () => {
    const b = await bench('sh-version');
    const c = await clientGets(b, (ch) => [serverHello(ch, [{ type: ExtensionType.supported_versions, data: encodeSupportedVersionsServer(TLS12) }, x25519Share])]);
    expectAlert(c, illegal_parameter);
  });

  it('§4.2: an extension not allowed in ServerHello (server_name) → illegal_parameter', async () => {
    const b = await bench('sh-not-allowed');
    const c = await clientGets(b, (ch) => [serverHello(ch, [versions, x25519Share, { type: ExtensionType.server_name, data: EMPTY }])], { serverName: 'example.test' });
    expectAlert(c, illegal_parameter);
  });

  it('§4.2: an extension the client did not offer (pre_shared_key without a PSK) → unsupported_extension', async () => {
    const b = await bench('sh-unsolicited');
    const c = await clientGets(b, (ch) => [serverHello(ch, [versions, x25519Share, { type: ExtensionType.pre_shared_key, data: encodeSelectedIdentity(0) }])]);
    expectAlert(c, unsupported_extension);
  });

  it('§4.2: two extensions of the same type → illegal_parameter', async () => {
    const b = await bench('sh-dup');
    const c = await clientGets(b, (ch) => [serverHello(ch, [versions, x25519Share, x25519Share])]);
    expectAlert(c, illegal_parameter);
  });

  it('§4.2.8: a key share for a group the client sent no share for → illegal_parameter', async () => {
    const b = await bench('sh-group');
    const share = { type: ExtensionType.key_share, data: encodeKeyShareServer({ group: NamedGroup.secp256r1, share: new Uint8Array(65).fill(4) }) };
    const c = await clientGets(b, (ch) => [serverHello(ch, [versions, share])]);
    expectAlert(c, illegal_parameter);
  });

  it('§4.2.8, §9.2: a full-handshake ServerHello without key_share → missing_extension', async () => {
    const b = await bench('sh-noshare');
    const c = await clientGets(b, (ch) => [serverHello(ch, [versions])]);
    expectAlert(c, missing_extension);
  });

  it('§4: a handshake message other than ServerHello first → unexpected_message', async () => {
    const b = await bench('sh-order');
    const c = await clientGets(b, () => [encodeEncryptedExtensions([])]);
    expectAlert(c, unexpected_message);
  });

  it('§4.1.4: a HelloRetryRequest that would not change the ClientHello → illegal_parameter', async () => {
    const b = await bench('hrr-nochange');
    const c = await clientGets(b, (ch) => [hrr(ch, [])]);
    expectAlert(c, illegal_parameter);
  });

  it('§4.1.4: a second HelloRetryRequest → unexpected_message', async () => {
    const b = await bench('hrr-twice');
    const c = await clientGets(b, (ch) => [hrr(ch, [askFor(NamedGroup.secp256r1)]), hrr(ch, [askFor(NamedGroup.secp384r1)])]);
    expectAlert(c, unexpected_message);
  });

  it('§4.2.8: HelloRetryRequest selecting a group the client already sent a share for → illegal_parameter', async () => {
    const b = await bench('hrr-same-group');
    const c = await clientGets(b, (ch) => [hrr(ch, [askFor(NamedGroup.x25519)])]);
    expectAlert(c, illegal_parameter);
  });

  it('§4.2.8: HelloRetryRequest selecting a group not in supported_groups → illegal_parameter', async () => {
    const b = await bench('hrr-unsupported-group');
    const c = await clientGets(b, (ch) => [hrr(ch, [askFor(NamedGroup.secp384r1)])], { groups: [NamedGroup.x25519, NamedGroup.secp256r1] });
    expectAlert(c, illegal_parameter);
  });

  it('§4.1.4: HelloRetryRequest with a cipher suite that was not offered → illegal_parameter', async () => {
    const b = await bench('hrr-suite');
    const c = await clientGets(b, (ch) => [hrr(ch, [askFor(NamedGroup.secp256r1)], CipherSuite.TLS_AES_256_GCM_SHA384)]);
    expectAlert(c, illegal_parameter);
  });

  it('§4.1.4: a ServerHello whose cipher suite differs from the HelloRetryRequest\'s → illegal_parameter', async () => {
    const b = await bench('hrr-sh-suite');
    const both = { cipherSuites: [SUITE, CipherSuite.TLS_AES_256_GCM_SHA384] };
    const c = await clientGets(b, (ch) => [hrr(ch, [askFor(NamedGroup.secp256r1)]), serverHello(ch, [versions, x25519Share], { suite: CipherSuite.TLS_AES_256_GCM_SHA384 })], both);
    expectAlert(c, illegal_parameter);
  });

  it('§4.2.8: after HRR, a ServerHello key share in a group other than the HRR\'s → illegal_parameter', async () => {
    const b = await bench('hrr-sh-group');
    const c = await clientGets(b, (ch) => [hrr(ch, [askFor(NamedGroup.secp256r1)]), serverHello(ch, [versions, x25519Share])]);
    expectAlert(c, illegal_parameter);
  });

  it('§4.1.4: HelloRetryRequest with an extension the client did not offer (other than cookie) → unsupported_extension', async () => {
    const b = await bench('hrr-unsolicited');
    const c = await clientGets(b, (ch) => [hrr(ch, [askFor(NamedGroup.secp256r1), { type: 0x7a7a, data: EMPTY }])]);
    expectAlert(c, unsupported_extension);
  });

  it('§4.2: HelloRetryRequest with an extension not allowed there (pre_shared_key) → illegal_parameter', async () => {
    const b = await bench('hrr-not-allowed');
    const c = await clientGets(b, (ch) => [hrr(ch, [askFor(NamedGroup.secp256r1), { type: ExtensionType.pre_shared_key, data: encodeSelectedIdentity(0) }])]);
    expectAlert(c, illegal_parameter);
  });

  it('§4.1.4: a HelloRetryRequest with legacy_session_id_echo that differs → illegal_parameter', async () => {
    const b = await bench('hrr-sid');
    const c = await clientGets(b, () => [encodeServerHello({ random: HRR_RANDOM, legacySessionIdEcho: new Uint8Array(0), cipherSuite: SUITE, extensions: [versions, askFor(NamedGroup.secp256r1)] })]);
    expectAlert(c, illegal_parameter);
  });
});

describe('a client checks the server\'s PSK choice (RFC 8446 §4.2.11)', () => {
  const offering = (s: Session, extra: Partial<ClientOptions> = {}): Partial<ClientOptions> => ({ sessionStore: storeWith(s), ...extra });
  const selected = (i: number): Extension => ({ type: ExtensionType.pre_shared_key, data: encodeSelectedIdentity(i) });

  it('§4.2.11: selected_identity outside the offered range → illegal_parameter', async () => {
    const b = await bench('psk-range');
    const c = await clientGets(b, (ch) => [serverHello(ch, [versions, x25519Share, selected(1)])], offering(fakeSession()));
    expectAlert(c, illegal_parameter);
  });

  it('§4.2.11: a cipher suite whose hash is not the PSK\'s → illegal_parameter', async () => {
    const b = await bench('psk-hash');
    const c = await clientGets(
      b, (ch) => [serverHello(ch, [versions, x25519Share, selected(0)], { suite: CipherSuite.TLS_AES_256_GCM_SHA384 })],
      offering(fakeSession(), { cipherSuites: [SUITE, CipherSuite.TLS_AES_256_GCM_SHA384] }),
    );
    expectAlert(c, illegal_parameter);
  });

  it('§4.2.11: no key_share although psk_key_exchange_modes allowed only psk_dhe_ke → illegal_parameter', async () => {
    const b = await bench('psk-noshare');
    const c = await clientGets(b, (ch) => [serverHello(ch, [versions, selected(0)])], offering(fakeSession()));
    expectAlert(c, illegal_parameter);
  });
});

// ---------------------------------------------------------------- §4.3, §4.4: the server's encrypted flight

describe('a client checks the server\'s encrypted flight (RFC 8446 §4.3, §4.4)', () => {
  it('§4.3.1: EncryptedExtensions carrying an extension not allowed there (key_share) → illegal_parameter', async () => {
    const b = await bench('ee-forbidden');
    const c = await tamperServerFlight(b, replace(HandshakeType.encrypted_extensions, () => encodeEncryptedExtensions([x25519Share])));
    expectAlert(c, illegal_parameter);
  });

  it('§4.2: EncryptedExtensions answering an extension the client did not send (ALPN) → unsupported_extension', async () => {
    const b = await bench('ee-unsolicited');
    const alpn = { type: ExtensionType.application_layer_protocol_negotiation, data: encodeAlpn(['h2']) };
    const c = await tamperServerFlight(b, replace(HandshakeType.encrypted_extensions, () => encodeEncryptedExtensions([alpn])));
    expectAlert(c, unsupported_extension);
  });

  it('§4.2: EncryptedExtensions with the same extension twice → illegal_parameter', async () => {
    const b = await bench('ee-dup');
    const sni = { type: ExtensionType.server_name, data: EMPTY };
    const c = await tamperServerFlight(b, replace(HandshakeType.encrypted_extensions, () => encodeEncryptedExtensions([sni, sni])), { serverName: 'example.test' });
    expectAlert(c, illegal_parameter);
  });

  it('§4.3.2: a handshake CertificateRequest with a non-empty certificate_request_context → illegal_parameter', async () => {
    const b = await bench('cr-context');
    const sa = { type: ExtensionType.signature_algorithms, data: encodeU16List([SignatureScheme.ed25519]) };
    const c = await tamperServerFlight(b, replace(HandshakeType.certificate_request, () => encodeCertificateRequest({ context: new Uint8Array([1]), extensions: [sa] })), {}, mutual(b));
    expectAlert(c, illegal_parameter);
  });

  it('§4.3.2: a CertificateRequest without signature_algorithms → missing_extension', async () => {
    const b = await bench('cr-nosa');
    // The extensions vector has a minimum of one extension's worth (<2..2^16-1>), so another one stands in.
    const sac = { type: ExtensionType.signature_algorithms_cert, data: encodeU16List([SignatureScheme.ed25519]) };
    const c = await tamperServerFlight(b, replace(HandshakeType.certificate_request, () => encodeCertificateRequest({ context: EMPTY, extensions: [sac] })), {}, mutual(b));
    expectAlert(c, missing_extension);
  });

  it('§4.3.2: a CertificateRequest from a server authenticating with a PSK → unexpected_message', async () => {
    const b = await bench('cr-psk');
    const r = await resumable(b);
    const sa = { type: ExtensionType.signature_algorithms, data: encodeU16List([SignatureScheme.ed25519]) };
    const cr = encodeCertificateRequest({ context: EMPTY, extensions: [sa] });
    const c = await tamperServerFlight(b, (ms) => [(ms[0] as HandshakeMessage).raw, cr, ...ms.slice(1).map((m) => m.raw)], { sessionStore: r.store }, r.server());
    expectAlert(c, unexpected_message);
  });

  it('§4.4.2: a server Certificate with a non-empty certificate_request_context → illegal_parameter', async () => {
    const b = await bench('cert-context');
    const c = await tamperServerFlight(b, replace(HandshakeType.certificate, (m) => encodeCertificate({ ...decodeCertificate(m.body), context: new Uint8Array([7]) })));
    expectAlert(c, illegal_parameter);
  });

  it('§4.4.2.4: an empty server Certificate → decode_error', async () => {
    const b = await bench('cert-empty');
    const c = await tamperServerFlight(b, replace(HandshakeType.certificate, () => encodeCertificate({ context: EMPTY, entries: [] })));
    expectAlert(c, decode_error);
  });

  it('§4.4.2: a CertificateEntry extension the client did not offer (signed_certificate_timestamp) → unsupported_extension', async () => {
    const b = await bench('cert-ext-unsolicited');
    const c = await tamperServerFlight(b, replace(HandshakeType.certificate, () =>
      encodeCertificate({ context: EMPTY, entries: [{ certData: b.key.publicKey, extensions: [{ type: ExtensionType.signed_certificate_timestamp, data: new Uint8Array([0, 0]) }] }] })));
    expectAlert(c, unsupported_extension);
  });

  it('§4.2: a CertificateEntry extension not allowed in Certificate (key_share) → illegal_parameter', async () => {
    const b = await bench('cert-ext-forbidden');
    const c = await tamperServerFlight(b, replace(HandshakeType.certificate, () =>
      encodeCertificate({ context: EMPTY, entries: [{ certData: b.key.publicKey, extensions: [x25519Share] }] })));
    expectAlert(c, illegal_parameter);
  });

  const resign = (scheme: number) => replace(HandshakeType.certificate_verify, (m) => encodeCertificateVerify({ ...decodeCertificateVerify(m.body), scheme }));

  it('§4.4.3: a CertificateVerify scheme the client did not offer in signature_algorithms → illegal_parameter', async () => {
    const b = await bench('cv-not-offered');
    const c = await tamperServerFlight(b, resign(SignatureScheme.mldsa44), { signatureSchemes: [SignatureScheme.ed25519, SignatureScheme.ecdsa_secp256r1_sha256] });
    expectAlert(c, illegal_parameter);
  });

  it('§4.4.3: a CertificateVerify scheme that does not fit the certificate\'s key → illegal_parameter', async () => {
    const b = await bench('cv-wrong-key');
    const c = await tamperServerFlight(b, resign(SignatureScheme.ecdsa_secp256r1_sha256));
    expectAlert(c, illegal_parameter);
  });

  it('§4.2.3: an RSASSA-PKCS1-v1_5 CertificateVerify → illegal_parameter', async () => {
    const b = await bench('cv-pkcs1');
    const c = await tamperServerFlight(b, resign(SignatureScheme.rsa_pkcs1_sha256));
    expectAlert(c, illegal_parameter);
  });

  it('§4.4.3: a CertificateVerify signature that does not verify → decrypt_error', async () => {
    const b = await bench('cv-bad-sig');
    const c = await tamperServerFlight(b, replace(HandshakeType.certificate_verify, (m) => {
      const cv = decodeCertificateVerify(m.body);
      const sig = cv.signature.slice();
      sig[0] = (sig[0] as number) ^ 1;
      return encodeCertificateVerify({ scheme: cv.scheme, signature: sig });
    }));
    expectAlert(c, decrypt_error);
  });

  it('§4.2.10: early_data in EncryptedExtensions with a body (it is struct {} Empty) → decode_error', async () => {
    const b = await bench('ee-early-body');
    const r = await resumable(b, { maxSize: 64 });
    const c = await tamperServerFlight(b, replace(HandshakeType.encrypted_extensions, (m) => encodeEncryptedExtensions(
      decodeEncryptedExtensions(m.body).map((e) => (e.type === ExtensionType.early_data ? { type: e.type, data: fromHex('00') } : e)))),
    { sessionStore: r.store, earlyData: new Uint8Array(4) }, r.server());
    expectAlert(c, decode_error);
  });

  it('§4.2.10: early_data in EncryptedExtensions, empty, accepts the 0-RTT data (the check above is not over-strict)', async () => {
    const b = await bench('ee-early-ok');
    const r = await resumable(b, { maxSize: 64 });
    const c = await tamperServerFlight(b, (ms) => ms.map((m) => m.raw), { sessionStore: r.store, earlyData: new Uint8Array(4) }, r.server());
    expect(c.error).toBeUndefined();
    expect(c.handshakeInfo?.earlyData).toBe('accepted');
  });

  it('§4.4.3: an empty CertificateVerify signature (signature<0..2^16-1> allows it) decodes and fails verification → decrypt_error', async () => {
    const b = await bench('cv-empty-sig');
    const c = await tamperServerFlight(b, replace(HandshakeType.certificate_verify, (m) =>
      encodeCertificateVerify({ scheme: decodeCertificateVerify(m.body).scheme, signature: new Uint8Array(0) })));
    expectAlert(c, decrypt_error);
  });

  it('§4.4.4: a server Finished that does not verify → decrypt_error', async () => {
    const b = await bench('fin-bad');
    const c = await tamperServerFlight(b, replace(HandshakeType.finished, (m) => {
      const raw = m.raw.slice();
      raw[raw.length - 1] = (raw[raw.length - 1] as number) ^ 1;
      return raw;
    }));
    expectAlert(c, decrypt_error);
  });

  it('§4.6.3: a KeyUpdate before the server\'s Finished → unexpected_message', async () => {
    const b = await bench('ku-early');
    const c = await tamperServerFlight(b, (ms) => [encodeKeyUpdate(false), ...ms.map((m) => m.raw)]);
    expectAlert(c, unexpected_message);
  });

  it('§5.1: a ServerHello sharing its record with part of the next message (spans the key change) → unexpected_message', async () => {
    const b = await bench('span-key-change');
    const server = TlsConnection.server(b.server());
    const client = await TlsConnection.client(b.client({ middleboxCompat: false }));
    await server.receive(client.takeOutput());
    const sh = records(server.takeOutput())[0] as Uint8Array;
    await client.receive(encodeRecord(ContentType.handshake, concat(sh.subarray(5), new Uint8Array([HandshakeType.encrypted_extensions, 0]))));
    expectAlert(client, unexpected_message);
  });
});

// ---------------------------------------------------------------- §4.1, §4.2: ClientHello, server side

describe('a server checks the ClientHello (RFC 8446 §4.1.2, §4.2)', () => {
  it('§4.1.2: legacy_compression_methods other than [null] → illegal_parameter', async () => {
    const b = await bench('ch-comp');
    const s = await serverGets(b, (ch) => {
      const m = encodeClientHello(ch);
      m[4 + 2 + 32 + 1 + ch.legacySessionId.length + 2 + 2 * ch.cipherSuites.length + 1] = 1;
      return m;
    });
    expectAlert(s, illegal_parameter);
  });

  const withLegacyVersion = (v: number) => (ch: ClientHello): Uint8Array => {
    const m = encodeClientHello(ch);
    m[4] = v >> 8;
    m[5] = v & 0xff;
    return m;
  };
  for (const v of [0x0300, 0x0000, 0x0100, 0x0103, 0x0200, 0x0002]) {
    it(`Appendix D.5: ClientHello.legacy_version 0x${v.toString(16).padStart(4, '0')} (SSL 3.0 or older), even with supported_versions → protocol_version`, async () => {
      const b = await bench(`ch-legacy-${v}`);
      expectAlert(await serverGets(b, withLegacyVersion(v)), AlertDescription.protocol_version);
    });
  }

  for (const v of [0x0403, 0xfefd, 0xffff]) {
    it(`§4.1.2: ClientHello.legacy_version 0x${v.toString(16)} (not a TLS version) → protocol_version`, async () => {
      const b = await bench(`ch-legacy-${v}`);
      expectAlert(await serverGets(b, withLegacyVersion(v)), AlertDescription.protocol_version);
    });
  }

  it('§4.2.1: legacy_version 0x0301 with supported_versions offering TLS 1.3 is answered (the extension alone negotiates)', async () => {
    const b = await bench('ch-legacy-0301');
    const s = await serverGets(b, withLegacyVersion(0x0301));
    expect(s.error).toBeUndefined();
    expect(records(s.takeOutput())[0]?.[5]).toBe(HandshakeType.server_hello);
  });

  it('§4.1.2: a TLS 1.3 ClientHello with extensions<8..2^16-1> shorter than 8 bytes (supported_versions alone) → decode_error', async () => {
    const b = await bench('ch-ext-short');
    const s = await serverGets(b, (ch) => ({ ...ch, extensions: ch.extensions.filter((e) => e.type === ExtensionType.supported_versions)
      .map((e) => ({ type: e.type, data: fromHex('020304') })) }));
    expectAlert(s, decode_error);
  });

  it('§4.1.2: a pre-TLS 1.3 ClientHello with fewer than 8 bytes of extensions still gets protocol_version', async () => {
    const b = await bench('ch-ext-short-tls12');
    const s = await serverGets(b, (ch) => ({ ...ch, extensions: [{ type: 0xff01, data: fromHex('00') }] }));
    expectAlert(s, AlertDescription.protocol_version);
  });

  it('§4.2.10: early_data in a ClientHello with a body (it is struct {} Empty) → decode_error', async () => {
    const b = await bench('ch-early-body');
    const s = await serverGets(b, (ch) => ({ ...ch, extensions: [...ch.extensions, { type: ExtensionType.early_data, data: fromHex('00') }] }));
    expectAlert(s, decode_error);
  });

  it('§4.2.1: a ClientHello without supported_versions (TLS 1.2 only) → protocol_version', async () => {
    const b = await bench('ch-noversions');
    const s = await serverGets(b, (ch) => withoutExt(ch, ExtensionType.supported_versions));
    expectAlert(s, AlertDescription.protocol_version);
  });

  it('§4.2: two extensions of the same type → illegal_parameter', async () => {
    const b = await bench('ch-dup');
    const s = await serverGets(b, (ch) => ({ ...ch, extensions: [...ch.extensions, ch.extensions[0] as Extension] }));
    expectAlert(s, illegal_parameter);
  });

  it('§4.2.3: no signature_algorithms when the server authenticates with a certificate → missing_extension', async () => {
    const b = await bench('ch-nosa');
    const s = await serverGets(b, (ch) => withoutExt(ch, ExtensionType.signature_algorithms));
    expectAlert(s, missing_extension);
  });

  it('§9.2: key_share without supported_groups → missing_extension', async () => {
    const b = await bench('ch-nogroups');
    const s = await serverGets(b, (ch) => withoutExt(ch, ExtensionType.supported_groups));
    expectAlert(s, missing_extension);
  });

  it('§4.2.8: a key share for a group missing from supported_groups → illegal_parameter', async () => {
    const b = await bench('ch-share-not-supported');
    const s = await serverGets(b, (ch) => ({
      ...ch,
      extensions: ch.extensions.map((e) => (e.type === ExtensionType.supported_groups ? { type: e.type, data: encodeU16List([NamedGroup.secp256r1]) } : e)),
    }));
    expectAlert(s, illegal_parameter);
  });

  it('§4.2.8: two key shares for the same group → illegal_parameter', async () => {
    const b = await bench('ch-share-dup');
    const share = { group: NamedGroup.x25519, share: new Uint8Array(32).fill(9) };
    const s = await serverGets(b, (ch) => ({
      ...ch,
      extensions: ch.extensions.map((e) => (e.type === ExtensionType.key_share ? { type: e.type, data: encodeKeyShareClient([share, share]) } : e)),
    }));
    expectAlert(s, illegal_parameter);
  });

  it('§4.2.8.2: an X25519 key share of the wrong length → illegal_parameter', async () => {
    const b = await bench('ch-share-len');
    const s = await serverGets(b, (ch) => ({
      ...ch,
      extensions: ch.extensions.map((e) => (e.type === ExtensionType.key_share ? { type: e.type, data: encodeKeyShareClient([{ group: NamedGroup.x25519, share: new Uint8Array(31).fill(9) }]) } : e)),
    }));
    expectAlert(s, illegal_parameter);
  });

  it('§7.4.2: an X25519 share giving the all-zero shared secret (a low-order point) → illegal_parameter', async () => {
    const b = await bench('ch-share-zero');
    const s = await serverGets(b, (ch) => ({
      ...ch,
      extensions: ch.extensions.map((e) => (e.type === ExtensionType.key_share ? { type: e.type, data: encodeKeyShareClient([{ group: NamedGroup.x25519, share: new Uint8Array(32) }]) } : e)),
    }));
    expectAlert(s, illegal_parameter);
  });

  it('§4.1.1: no key-exchange group in common → handshake_failure', async () => {
    const b = await bench('ch-no-group');
    const s = await serverGets(b, (ch) => ch, { groups: [NamedGroup.secp384r1] }, { groups: [NamedGroup.x25519] });
    expectAlert(s, AlertDescription.handshake_failure);
  });

  it('§4.1.1: no cipher suite in common → handshake_failure', async () => {
    const b = await bench('ch-no-suite');
    const s = await serverGets(b, (ch) => ch, { cipherSuites: [CipherSuite.TLS_CHACHA20_POLY1305_SHA256] });
    expectAlert(s, AlertDescription.handshake_failure);
  });

  it('§4.2.11: pre_shared_key that is not the last extension → illegal_parameter', async () => {
    const b = await bench('ch-psk-not-last');
    const s = await serverGets(b, (ch) => ({ ...ch, extensions: [...ch.extensions, pskModes, bogusPsk(1, 1), { type: ExtensionType.padding, data: new Uint8Array(4) }] }));
    expectAlert(s, illegal_parameter);
  });

  it('§4.2.9: pre_shared_key without psk_key_exchange_modes → missing_extension (even on a server that issues no tickets)', async () => {
    const b = await bench('ch-psk-nomodes');
    const s = await serverGets(b, (ch) => ({ ...ch, extensions: [...ch.extensions, bogusPsk(1, 1)] }));
    expectAlert(s, missing_extension);
  });

  it('§4.2.11: as many binders as identities, or illegal_parameter', async () => {
    const b = await bench('ch-psk-binders');
    const s = await serverGets(b, (ch) => ({ ...ch, extensions: [...ch.extensions, pskModes, bogusPsk(1, 2)] }));
    expectAlert(s, illegal_parameter);
  });

  it('§4.2.11.2: a PSK binder that does not verify → decrypt_error', async () => {
    const b = await bench('ch-psk-binder');
    const r = await resumable(b);
    const client = await TlsConnection.client(b.client({ sessionStore: r.store }));
    const ch = client.takeOutput().slice();
    ch[ch.length - 1] = (ch[ch.length - 1] as number) ^ 1; // the binder is the last byte of the ClientHello
    const server = TlsConnection.server(r.server());
    await server.receive(ch);
    expectAlert(server, decrypt_error);
  });

  it('§4.1.2: a ClientHello after the handshake (renegotiation) → unexpected_message', async () => {
    const b = await bench('ch-reneg');
    const e = await established(b);
    const { ch } = await helloSent(b);
    await e.server.receive(await e.fromClient(ContentType.handshake, encodeClientHello(ch)));
    expectAlert(e.server, unexpected_message);
  });

  it('§4: a Finished in place of the ClientHello → unexpected_message', async () => {
    const b = await bench('ch-order');
    const server = TlsConnection.server(b.server());
    await server.receive(plain(frameHandshake(HandshakeType.finished, new Uint8Array(32))));
    expectAlert(server, unexpected_message);
  });
});

describe('a server checks ClientHello2 against ClientHello1 (RFC 8446 §4.1.2, §4.1.4, §4.2.2)', () => {
  /** Runs ClientHello1 → HelloRetryRequest and hands ClientHello2, decoded, to `edit` before the server sees it. */
  async function secondHello(seed: string, edit: (ch2: ClientHello, ch1: ClientHello) => ClientHello, s: Partial<ServerOptions> = {}): Promise<TlsConnection> {
    const b = await bench(seed);
    const server = TlsConnection.server(b.server({ groups: [NamedGroup.secp256r1], ...s }));
    const client = await TlsConnection.client(b.client({ alpnProtocols: ['h2'] }));
    const ch1 = client.takeOutput();
    await server.receive(ch1);
    await client.receive(server.takeOutput());
    const ch2 = records(client.takeOutput()).find((r) => r[0] === ContentType.handshake) as Uint8Array;
    await server.receive(plain(encodeClientHello(edit(decodeClientHello(ch2.subarray(9)), decodeClientHello((records(ch1)[0] as Uint8Array).subarray(9))))));
    return server;
  }

  it('an unmodified ClientHello2 completes the handshake (the checks below are not over-strict)', async () => {
    const b = await bench('ch2-honest');
    const { client, server } = await connectPair(b.client({ alpnProtocols: ['h2'] }), b.server({ groups: [NamedGroup.secp256r1], hrrCookie: true }));
    expect(client.handshakeInfo?.helloRetryRequest).toBe(true);
    expect(server.handshakeInfo?.helloRetryRequest).toBe(true);
  });

  it('§4.1.2: our ClientHello2 keeps psk_key_exchange_modes, so a server still issues tickets after HRR', async () => {
    const b = await bench('ch2-modes');
    const ring = await TicketKeyRing.create(b.provider);
    const { client, server } = await connectPair(b.client({ sessionStore: new MemorySessionStore() }), b.server({ groups: [NamedGroup.secp256r1], tickets: { sealer: ring } }));
    expect(server.error).toBeUndefined();
    expect(client.handshakeInfo?.helloRetryRequest).toBe(true);
    expect(drain(client).filter((e) => e.type === 'ticket')).toHaveLength(2);
  });

  it('§4.1.2: ClientHello2 with a different random → illegal_parameter', async () => {
    const s = await secondHello('ch2-random', (ch) => ({ ...ch, random: new Uint8Array(32).fill(3) }));
    expectAlert(s, illegal_parameter);
  });

  it('§4.1.2: ClientHello2 with a different cipher_suites list → illegal_parameter', async () => {
    const s = await secondHello('ch2-suites', (ch) => ({ ...ch, cipherSuites: [...ch.cipherSuites, CipherSuite.TLS_AES_256_GCM_SHA384] }));
    expectAlert(s, illegal_parameter);
  });

  it('§4.1.2: ClientHello2 with a different legacy_session_id → illegal_parameter', async () => {
    const s = await secondHello('ch2-sid', (ch) => ({ ...ch, legacySessionId: new Uint8Array(32).fill(5) }));
    expectAlert(s, illegal_parameter);
  });

  it('§4.1.2: ClientHello2 that changes an extension HRR does not license (ALPN) → illegal_parameter', async () => {
    const s = await secondHello('ch2-alpn', (ch) => ({
      ...ch,
      extensions: ch.extensions.map((e) => (e.type === ExtensionType.application_layer_protocol_negotiation ? { type: e.type, data: encodeAlpn(['http/1.1']) } : e)),
    }));
    expectAlert(s, illegal_parameter);
  });

  it('§4.1.2: ClientHello2 that drops an extension of ClientHello1 → illegal_parameter', async () => {
    const s = await secondHello('ch2-drop', (ch) => withoutExt(ch, ExtensionType.signature_algorithms_cert));
    expectAlert(s, illegal_parameter);
  });

  it('§4.1.2, §4.2.10: ClientHello2 offering early_data → illegal_parameter', async () => {
    const s = await secondHello('ch2-early', (ch) => ({ ...ch, extensions: [...ch.extensions, { type: ExtensionType.early_data, data: EMPTY }] }));
    expectAlert(s, illegal_parameter);
  });

  it('§4.2.8: ClientHello2 whose key share is not for the group the HRR selected → illegal_parameter', async () => {
    const s = await secondHello('ch2-share', (ch2, ch1) => ({
      ...ch2,
      extensions: ch2.extensions.map((e) => (e.type === ExtensionType.key_share ? (ch1.extensions.find((x) => x.type === ExtensionType.key_share) as Extension) : e)),
    }));
    expectAlert(s, illegal_parameter);
  });

  it('§4.2.2: ClientHello2 that does not echo the HRR cookie → illegal_parameter', async () => {
    const s = await secondHello('ch2-cookie', (ch) => withoutExt(ch, ExtensionType.cookie), { hrrCookie: true });
    expectAlert(s, illegal_parameter);
  });
});

// ---------------------------------------------------------------- §4.4: the client's flight, server side

describe('a server checks the client\'s authentication messages (RFC 8446 §4.4)', () => {
  it('§4.4.2: a client Certificate whose certificate_request_context does not match the request → illegal_parameter', async () => {
    const b = await bench('ccert-context');
    const s = await tamperClientFlight(b, replace(HandshakeType.certificate, (m) => encodeCertificate({ ...decodeCertificate(m.body), context: new Uint8Array([1]) })));
    expectAlert(s, illegal_parameter);
  });

  it('§4.4.2: a client CertificateEntry extension the CertificateRequest did not carry → unsupported_extension', async () => {
    const b = await bench('ccert-ext');
    const s = await tamperClientFlight(b, replace(HandshakeType.certificate, () =>
      encodeCertificate({ context: EMPTY, entries: [{ certData: b.clientKey.publicKey, extensions: [{ type: ExtensionType.status_request, data: EMPTY }] }] })));
    expectAlert(s, unsupported_extension);
  });

  it('§4.4.2.4: an empty client Certificate when one is required → certificate_required', async () => {
    const b = await bench('ccert-required');
    const { server } = await connectPair(b.client(), b.server(mutual(b, true)));
    expectAlert(server, AlertDescription.certificate_required);
  });

  it('§4.4.2.4: an empty client Certificate when one is optional lets the handshake go on without client auth', async () => {
    const b = await bench('ccert-optional');
    const { client, server } = await connectPair(b.client(), b.server(mutual(b, false)));
    expect(server.error).toBeUndefined();
    expect(client.handshakeInfo).toBeDefined();
    expect(server.handshakeInfo?.peerCertificates).toEqual([]);
  });

  it('§4.4.3: a client CertificateVerify scheme not offered in the CertificateRequest → illegal_parameter', async () => {
    const b = await bench('ccv-scheme');
    const s = await tamperClientFlight(
      b, replace(HandshakeType.certificate_verify, (m) => encodeCertificateVerify({ ...decodeCertificateVerify(m.body), scheme: SignatureScheme.mldsa44 })),
      {}, { signatureSchemes: [SignatureScheme.ed25519, SignatureScheme.ecdsa_secp256r1_sha256] },
    );
    expectAlert(s, illegal_parameter);
  });

  it('§4.4.3: a client CertificateVerify that does not verify → decrypt_error', async () => {
    const b = await bench('ccv-sig');
    const s = await tamperClientFlight(b, replace(HandshakeType.certificate_verify, (m) => {
      const cv = decodeCertificateVerify(m.body);
      const sig = cv.signature.slice();
      sig[3] = (sig[3] as number) ^ 0x10;
      return encodeCertificateVerify({ scheme: cv.scheme, signature: sig });
    }));
    expectAlert(s, decrypt_error);
  });

  it('§4.4.3: an empty client CertificateVerify signature → decrypt_error', async () => {
    const b = await bench('ccv-empty-sig');
    const s = await tamperClientFlight(b, replace(HandshakeType.certificate_verify, (m) =>
      encodeCertificateVerify({ scheme: decodeCertificateVerify(m.body).scheme, signature: new Uint8Array(0) })));
    expectAlert(s, decrypt_error);
  });

  it('§4.4.4: a client Finished that does not verify → decrypt_error', async () => {
    const b = await bench('cfin');
    const s = await tamperClientFlight(b, replace(HandshakeType.finished, (m) => {
      const raw = m.raw.slice();
      raw[4] = (raw[4] as number) ^ 1;
      return raw;
    }));
    expectAlert(s, decrypt_error);
  });

  it('§4.6.3: a KeyUpdate in place of the client Finished → unexpected_message', async () => {
    const b = await bench('cku-early');
    const s = await tamperClientFlight(b, replace(HandshakeType.finished, () => encodeKeyUpdate(false)));
    expectAlert(s, unexpected_message);
  });
});

// ---------------------------------------------------------------- §4.6: after the handshake

describe('post-handshake messages (RFC 8446 §4.5, §4.6)', () => {
  it('§4.6.3: KeyUpdate with request_update other than 0 or 1 → illegal_parameter', async () => {
    const b = await bench('ku-value');
    const e = await established(b);
    await e.client.receive(await e.fromServer(ContentType.handshake, frameHandshake(HandshakeType.key_update, new Uint8Array([2]))));
    expectAlert(e.client, illegal_parameter);
  });

  it('§4.6.3: update_requested is answered with a KeyUpdate(update_not_requested) before any further data', async () => {
    const b = await bench('ku-answer');
    const e = await established(b);
    await e.client.receive(await e.fromServer(ContentType.handshake, encodeKeyUpdate(true)));
    await e.client.write(new Uint8Array([42]));
    const [ku, data] = records(e.client.takeOutput());
    const opener = await RecordProtector.create(b.provider, SUITE_INFO, e.clientSecret());
    const opened = await opener.open((ku as Uint8Array).subarray(0, 5), (ku as Uint8Array).subarray(5));
    expect(opened.contentType).toBe(ContentType.handshake);
    expect(Array.from(opened.content)).toEqual([HandshakeType.key_update, 0, 0, 1, 0]);
    // The data after it is under the next key, which the peer reaches by reading the KeyUpdate.
    await e.server.receive(concat(ku as Uint8Array, data as Uint8Array));
    expect(drain(e.server)).toEqual([{ type: 'data', data: new Uint8Array([42]) }]);
  });

  it('§5.1: a KeyUpdate not aligned with a record boundary (spans the key change) → unexpected_message', async () => {
    const b = await bench('ku-span');
    const e = await established(b);
    await e.client.receive(await e.fromServer(ContentType.handshake, concat(encodeKeyUpdate(false), new Uint8Array([HandshakeType.key_update, 0]))));
    expectAlert(e.client, unexpected_message);
  });

  it('§4.6.2: a CertificateRequest after the handshake without post_handshake_auth → unexpected_message', async () => {
    const b = await bench('pha');
    const e = await established(b);
    const sa = { type: ExtensionType.signature_algorithms, data: encodeU16List([SignatureScheme.ed25519]) };
    await e.client.receive(await e.fromServer(ContentType.handshake, encodeCertificateRequest({ context: new Uint8Array([1]), extensions: [sa] })));
    expectAlert(e.client, unexpected_message);
  });

  const nst = (lifetime: number, extensions: Extension[] = []): Uint8Array =>
    encodeNewSessionTicket({ lifetime, ageAdd: 1, nonce: new Uint8Array([0]), ticket: new Uint8Array(16).fill(1), extensions });

  it('§4.6.1: a NewSessionTicket with ticket_lifetime over 7 days → illegal_parameter', async () => {
    const b = await bench('nst-lifetime');
    const e = await established(b);
    await e.client.receive(await e.fromServer(ContentType.handshake, nst(604801)));
    expectAlert(e.client, illegal_parameter);
  });

  it('§4.6.1: a NewSessionTicket of exactly 7 days is accepted, with an unknown extension ignored', async () => {
    const b = await bench('nst-ok');
    const e = await established(b);
    await e.client.receive(await e.fromServer(ContentType.handshake, nst(604800, [{ type: 0x7a7a, data: EMPTY }])));
    expect(e.client.error).toBeUndefined();
    expect(drain(e.client).map((x) => x.type)).toEqual(['ticket']);
  });

  /** Delivers a handshake message of any size as consecutive protected records (2^14 bytes each). */
  async function deliverLarge(e: Awaited<ReturnType<typeof established>>, msg: Uint8Array): Promise<void> {
    for (let o = 0, seq = 0; o < msg.length; o += 1 << 14, seq++) {
      await e.client.receive(await e.fromServer(ContentType.handshake, msg.subarray(o, o + (1 << 14)), seq));
    }
  }
  /** One unknown extension whose block is exactly `blockLength` bytes. */
  const filler = (blockLength: number): Extension[] => [{ type: 0x7a7a, data: new Uint8Array(blockLength - 4) }];

  it('§4.6.1: NewSessionTicket extensions<0..2^16-2>: a block of 2^16-1 bytes → decode_error', async () => {
    const b = await bench('nst-ext-max');
    const e = await established(b);
    await deliverLarge(e, nst(3600, filler(0xffff)));
    expectAlert(e.client, decode_error);
  });

  it('§4.6.1: a NewSessionTicket extension block of exactly 2^16-2 bytes is accepted', async () => {
    const b = await bench('nst-ext-max-ok');
    const e = await established(b);
    await deliverLarge(e, nst(3600, filler(0xfffe)));
    expect(e.client.error).toBeUndefined();
    expect(drain(e.client).map((x) => x.type)).toEqual(['ticket']);
  });

  it('§4.2: a NewSessionTicket carrying an extension not allowed there (key_share) → illegal_parameter', async () => {
    const b = await bench('nst-ext');
    const e = await established(b);
    await e.client.receive(await e.fromServer(ContentType.handshake, nst(3600, [x25519Share])));
    expectAlert(e.client, illegal_parameter);
  });

  it('§4.6.1: a NewSessionTicket sent to a server → unexpected_message', async () => {
    const b = await bench('nst-to-server');
    const e = await established(b);
    await e.server.receive(await e.fromClient(ContentType.handshake, nst(3600)));
    expectAlert(e.server, unexpected_message);
  });

  it('§4.5: an EndOfEarlyData received by a client → unexpected_message', async () => {
    const b = await bench('eoed-client');
    const e = await established(b);
    await e.client.receive(await e.fromServer(ContentType.handshake, frameHandshake(HandshakeType.end_of_early_data, EMPTY)));
    expectAlert(e.client, unexpected_message);
  });
});

// ---------------------------------------------------------------- §4.2.10: early data

describe('0-RTT limits on the server (RFC 8446 §4.2.10)', () => {
  async function earlyServer(seed: string): Promise<{ b: Bench; server: TlsConnection; early: Uint8Array }> {
    const b = await bench(seed);
    const r = await resumable(b, { maxSize: 16 });
    const keys = keyLogger();
    const client = await TlsConnection.client(b.client({ sessionStore: r.store, earlyData: new Uint8Array(4), keyLog: keys.log }));
    const flight = records(client.takeOutput());
    const server = TlsConnection.server(r.server());
    // The ClientHello (and compatibility CCS), without the client's own early data record.
    for (const rec of flight.filter((x) => x[0] !== ContentType.application_data)) await server.receive(rec);
    expect(server.error).toBeUndefined();
    return { b, server, early: keys.secret('CLIENT_EARLY_TRAFFIC_SECRET') };
  }

  it('§4.2.10: more than max_early_data_size bytes of 0-RTT data → unexpected_message', async () => {
    const { b, server, early } = await earlyServer('0rtt-max');
    await server.receive(await seal(b.provider, early, ContentType.application_data, new Uint8Array(16)));
    expect(server.error).toBeUndefined();
    await server.receive(await seal(b.provider, early, ContentType.application_data, new Uint8Array(1), 1));
    expectAlert(server, unexpected_message);
  });

  /**
   * A resuming client sends ClientHello1 with early data; the server wants another group, so it
   * answers HelloRetryRequest and skips the 0-RTT records (§4.2.10), then takes ClientHello2.
   */
  async function afterHrrWithEarlyData(seed: string): Promise<{ server: TlsConnection; client: TlsConnection }> {
    const b = await bench(seed);
    const r = await resumable(b, { maxSize: 64 });
    const client = await TlsConnection.client(b.client({ sessionStore: r.store, earlyData: new Uint8Array(4) }));
    const server = TlsConnection.server(r.server({ groups: [NamedGroup.secp256r1] }));
    const flight1 = records(client.takeOutput());
    expect(flight1.some((x) => x[0] === ContentType.application_data)).toBe(true);
    await server.receive(concat(...flight1));
    expect(server.error).toBeUndefined();
    await client.receive(server.takeOutput());
    await server.receive(client.takeOutput());
    expect(server.error).toBeUndefined();
    expect(records(server.takeOutput())[0]?.[5]).toBe(HandshakeType.server_hello);
    return { server, client };
  }

  it('§4.2.10: after HelloRetryRequest the 0-RTT records before ClientHello2 are skipped, and the handshake completes', async () => {
    const b = await bench('hrr-0rtt-ok');
    const r = await resumable(b, { maxSize: 64 });
    const { client, server } = await connectPair(b.client({ sessionStore: r.store, earlyData: new Uint8Array(4) }), r.server({ groups: [NamedGroup.secp256r1] }));
    expect(server.handshakeInfo?.helloRetryRequest).toBe(true);
    expect(client.handshakeInfo?.earlyData).toBe('rejected');
  });

  it('§4.2.10: rejected 0-RTT of exactly max_early_data_size bytes is skipped (the budget counts plaintext, not record overhead)', async () => {
    const b = await bench('hrr-0rtt-exact');
    const r = await resumable(b, { maxSize: 16 });
    const { client, server } = await connectPair(b.client({ sessionStore: r.store, earlyData: new Uint8Array(16) }), r.server({ groups: [NamedGroup.secp256r1] }));
    expect(server.error).toBeUndefined();
    expect(server.handshakeInfo?.helloRetryRequest).toBe(true);
    expect(client.handshakeInfo?.earlyData).toBe('rejected');
  });

  it('§4.2.10: rejected 0-RTT beyond max_early_data_size → unexpected_message', async () => {
    const b = await bench('hrr-0rtt-over');
    const r = await resumable(b, { maxSize: 16 });
    const client = await TlsConnection.client(b.client({ sessionStore: r.store, earlyData: new Uint8Array(4) }));
    const server = TlsConnection.server(r.server({ groups: [NamedGroup.secp256r1] }));
    await server.receive(client.takeOutput());
    expect(server.error).toBeUndefined();
    // 13 more bytes of plaintext under a 16-byte tag and the content-type byte: 17 + 30 bytes skipped in all.
    await server.receive(encodeRecord(ContentType.application_data, new Uint8Array(30).fill(0x33)));
    expectAlert(server, unexpected_message);
  });

  it('§4.2.10, §5.2: after HelloRetryRequest, a record after ClientHello2 that fails to decrypt → bad_record_mac (the skip ends at ClientHello2)', async () => {
    const { server } = await afterHrrWithEarlyData('hrr-0rtt-garbage');
    await server.receive(encodeRecord(ContentType.application_data, new Uint8Array(8).fill(0x33)));
    expectAlert(server, AlertDescription.bad_record_mac);
  });

  it('§4.2.10, §5.2: after HelloRetryRequest, an undecryptable record after ClientHello2 larger than max_early_data_size → bad_record_mac', async () => {
    const { server } = await afterHrrWithEarlyData('hrr-0rtt-garbage-big');
    await server.receive(encodeRecord(ContentType.application_data, new Uint8Array(100).fill(0x33)));
    expectAlert(server, AlertDescription.bad_record_mac);
  });

  it('§4.2.10: an accepted-0-RTT record that fails to decrypt → bad_record_mac', async () => {
    const { server } = await earlyServer('0rtt-mac');
    await server.receive(encodeRecord(ContentType.application_data, new Uint8Array(40).fill(0x33)));
    expectAlert(server, AlertDescription.bad_record_mac);
  });
});

// ---------------------------------------------------------------- §5: records

describe('the record layer (RFC 8446 §5)', () => {
  it('§5: change_cipher_spec with a value other than 0x01 → unexpected_message', async () => {
    const b = await bench('ccs-value');
    const { client } = await helloSent(b);
    await client.receive(encodeRecord(ContentType.change_cipher_spec, new Uint8Array([2])));
    expectAlert(client, unexpected_message);
  });

  it('§5: change_cipher_spec before the first ClientHello → unexpected_message', async () => {
    const b = await bench('ccs-before-ch');
    const server = TlsConnection.server(b.server());
    await server.receive(encodeRecord(ContentType.change_cipher_spec, new Uint8Array([1])));
    expectAlert(server, unexpected_message);
  });

  it('§5: change_cipher_spec between ClientHello1 and ClientHello2 is dropped', async () => {
    const b = await bench('ccs-after-hrr');
    const server = TlsConnection.server(b.server({ groups: [NamedGroup.secp256r1] }));
    const client = await TlsConnection.client(b.client());
    await server.receive(client.takeOutput());
    await client.receive(server.takeOutput());
    // The client's CH2 flight starts with its compatibility CCS; the server takes both.
    const flight = records(client.takeOutput());
    expect(flight[0]?.[0]).toBe(ContentType.change_cipher_spec);
    await server.receive(concat(...flight));
    expect(server.error).toBeUndefined();
    await pump(client, server);
    expect(server.handshakeInfo?.helloRetryRequest).toBe(true);
  });

  it('§5: change_cipher_spec after the peer\'s Finished → unexpected_message', async () => {
    const b = await bench('ccs-after-fin');
    const e = await established(b);
    await e.client.receive(encodeRecord(ContentType.change_cipher_spec, new Uint8Array([1])));
    expectAlert(e.client, unexpected_message);
  });

  it('§5: a protected change_cipher_spec → unexpected_message', async () => {
    const b = await bench('ccs-protected');
    const e = await established(b);
    await e.client.receive(await sealInner(b.provider, e.serverSecret(), new Uint8Array([1, ContentType.change_cipher_spec])));
    expectAlert(e.client, unexpected_message);
  });

  it('§5: a record of an unknown content type → unexpected_message', async () => {
    const b = await bench('rec-type');
    const server = TlsConnection.server(b.server());
    await server.receive(new Uint8Array([24, 3, 3, 0, 1, 0]));
    expectAlert(server, unexpected_message);
  });

  it('§5.1: a TLSPlaintext fragment over 2^14 bytes → record_overflow', async () => {
    const b = await bench('rec-plain-big');
    const server = TlsConnection.server(b.server());
    const len = (1 << 14) + 1;
    await server.receive(concat(new Uint8Array([ContentType.handshake, 3, 3, len >> 8, len & 0xff]), new Uint8Array(len)));
    expectAlert(server, AlertDescription.record_overflow);
  });

  it('§5.2: a TLSCiphertext over 2^14 + 256 bytes → record_overflow', async () => {
    const b = await bench('rec-cipher-big');
    const e = await established(b);
    const len = (1 << 14) + 257;
    await e.client.receive(concat(new Uint8Array([ContentType.application_data, 3, 3, len >> 8, len & 0xff]), new Uint8Array(len)));
    expectAlert(e.client, AlertDescription.record_overflow);
  });

  it('§5.4: a TLSInnerPlaintext over 2^14 + 1 bytes → record_overflow', async () => {
    const b = await bench('rec-inner-big');
    const e = await established(b);
    const inner = new Uint8Array((1 << 14) + 2);
    inner[1 << 14] = ContentType.application_data; // content 2^14, type, one byte of padding
    await e.client.receive(await sealInner(b.provider, e.serverSecret(), inner));
    expectAlert(e.client, AlertDescription.record_overflow);
  });

  it('§5.1: a zero-length plaintext handshake record → unexpected_message', async () => {
    const b = await bench('rec-empty-plain');
    const server = TlsConnection.server(b.server());
    await server.receive(new Uint8Array([ContentType.handshake, 3, 3, 0, 0]));
    expectAlert(server, unexpected_message);
  });

  it('§5.4: a protected handshake record with zero-length content → unexpected_message', async () => {
    const b = await bench('rec-empty-hs');
    const e = await established(b);
    await e.client.receive(await sealInner(b.provider, e.serverSecret(), new Uint8Array([ContentType.handshake, 0, 0])));
    expectAlert(e.client, unexpected_message);
  });

  it('§5.4: a protected alert record with zero-length content → unexpected_message', async () => {
    const b = await bench('rec-empty-alert');
    const e = await established(b);
    await e.client.receive(await sealInner(b.provider, e.serverSecret(), new Uint8Array([ContentType.alert])));
    expectAlert(e.client, unexpected_message);
  });

  it('§5.4: a TLSInnerPlaintext with no non-zero octet → unexpected_message', async () => {
    const b = await bench('rec-zeros');
    const e = await established(b);
    await e.client.receive(await sealInner(b.provider, e.serverSecret(), new Uint8Array(8)));
    expectAlert(e.client, unexpected_message);
  });

  it('§5.4: zero-length application data is allowed (cover traffic)', async () => {
    const b = await bench('rec-empty-data');
    const e = await established(b);
    await e.client.receive(await sealInner(b.provider, e.serverSecret(), new Uint8Array([ContentType.application_data, 0, 0, 0])));
    expect(e.client.error).toBeUndefined();
  });

  it('§5.2: a record that fails to deprotect → bad_record_mac', async () => {
    const b = await bench('rec-mac');
    const e = await established(b);
    const rec = await e.fromServer(ContentType.application_data, new Uint8Array([1, 2, 3]));
    rec[rec.length - 1] = (rec[rec.length - 1] as number) ^ 1;
    await e.client.receive(rec);
    expectAlert(e.client, AlertDescription.bad_record_mac);
  });

  it('§5.1: a plaintext handshake record once keys are in use → unexpected_message', async () => {
    const b = await bench('rec-plain-late');
    const e = await established(b);
    await e.client.receive(plain(encodeKeyUpdate(false)));
    expectAlert(e.client, unexpected_message);
  });

  it('§5.1: application data before the handshake → unexpected_message', async () => {
    const b = await bench('rec-data-early');
    const server = TlsConnection.server(b.server());
    await server.receive(encodeRecord(ContentType.application_data, new Uint8Array(20)));
    expectAlert(server, unexpected_message);
  });

  it('§5.1: application data between the records of a fragmented handshake message → unexpected_message', async () => {
    const b = await bench('rec-interleave');
    const e = await established(b);
    const ticket = encodeNewSessionTicket({ lifetime: 60, ageAdd: 0, nonce: EMPTY, ticket: new Uint8Array(40).fill(1), extensions: [] });
    await e.client.receive(await e.fromServer(ContentType.handshake, ticket.subarray(0, 20), 0));
    await e.client.receive(await e.fromServer(ContentType.application_data, new Uint8Array([1]), 1));
    expectAlert(e.client, unexpected_message);
  });
});

// ---------------------------------------------------------------- §6: alerts

describe('alerts (RFC 8446 §6)', () => {
  it('§6.1: anything received after close_notify is ignored', async () => {
    const b = await bench('alert-after-close');
    const e = await established(b);
    await e.client.receive(concat(
      await e.fromServer(ContentType.alert, new Uint8Array([1, AlertDescription.close_notify]), 0),
      await e.fromServer(ContentType.application_data, new Uint8Array([9]), 1),
      await e.fromServer(ContentType.alert, new Uint8Array([2, AlertDescription.handshake_failure]), 2),
    ));
    expect(drain(e.client)).toEqual([{ type: 'peerClosed' }]);
    expect(e.client.error).toBeUndefined();
  });

  it('§6: an error alert sent with level warning is still fatal', async () => {
    const b = await bench('alert-warning');
    const e = await established(b);
    await e.client.receive(await e.fromServer(ContentType.alert, new Uint8Array([1, AlertDescription.handshake_failure])));
    expect(e.client.error?.alert).toBe(AlertDescription.handshake_failure);
    expect(drain(e.client)).toEqual([{ type: 'alertReceived', alert: AlertDescription.handshake_failure, name: 'handshake_failure' }]);
  });

  it('§6: an unknown alert type is treated as an error alert', async () => {
    const b = await bench('alert-unknown');
    const e = await established(b);
    await e.client.receive(await e.fromServer(ContentType.alert, new Uint8Array([1, 200])));
    expect(e.client.error?.alert).toBe(200);
    expect(e.client.isClosed).toBe(true);
  });

  it('§5.1: two alerts coalesced into one record → decode_error', async () => {
    const b = await bench('alert-coalesced');
    const e = await established(b);
    await e.client.receive(await e.fromServer(ContentType.alert, new Uint8Array([1, 0, 1, 0])));
    expectAlert(e.client, decode_error);
  });
});
