// The portable conformance subset of the runtime matrix (test/runtimes/matrix.test.ts): plain
// JavaScript that imports only the published entry points, so that Node 20 and 24, Deno, Bun,
// workerd and Chromium run exactly what a user would install. It reads no file and no clock: the
// test vectors come in as an argument (from JSON files, or inlined by the bundle), and every
// connection uses a seeded provider and a fixed `now`.
import { NamedGroup, SignatureScheme, createNobleProvider, createWebCryptoProvider } from 'pqtls/pq';
import { MemorySessionStore, TicketKeyRing, TlsConnection, webPkiVerifier } from 'pqtls/tls13';
import {
  CHACHA20_POLY1305_SHA256, QUIC_V1, QUIC_V2, QuicConnection, deriveDirectionalKeys, encodeRetry, initialKeys, openPacket,
  parsePacket, sealPacket,
} from 'pqtls/quic';
import { generateRoot, issueIntermediate, issueLeaf } from 'pqtls/x509';
import { scriptedRandom, seededRandom, withTraceHooks } from 'pqtls/testing';
import * as root from 'pqtls';

/**
 * Makes the provider every case runs on from a random source (seeded here, so runs are
 * reproducible): noble, then the WebCrypto provider on the same seeds, so the same subset proves
 * it byte-identical to noble (RFC 8448, RFC 9001/9369 bytes) on each runtime's own SubtleCrypto.
 */
let makeProvider = (random) => createNobleProvider({ random });
const webCrypto = (random) => createWebCryptoProvider({ random });

/** 2026-11-23T00:00:00Z, inside the validity of the certificates made here. */
const NOW = Date.UTC(2026, 10, 23);
const clock = () => NOW;
const EMPTY = new Uint8Array(0);

const toHex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
function fromHex(h) {
  const out = new Uint8Array(h.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(h.slice(2 * i, 2 * i + 2), 16);
  return out;
}
const utf8 = (s) => new TextEncoder().encode(s);
function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
}
function equalHex(a, b, what) {
  const x = typeof a === 'string' ? a : toHex(a);
  const y = typeof b === 'string' ? b : toHex(b);
  if (x !== y) throw new Error(`${what}: got ${x.slice(0, 64)}${x.length > 64 ? '…' : ''}, want ${y.slice(0, 64)}${y.length > 64 ? '…' : ''}`);
}

function drain(conn) {
  const out = [];
  for (let e = conn.poll(); e; e = conn.poll()) out.push(e);
  return out;
}
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

/** An ML-DSA-65 root → intermediate → leaf for `localhost`, and the options both sides need. */
async function pqPki(seed) {
  const provider = makeProvider(seededRandom(seed));
  const validity = { notBefore: new Date(Date.UTC(2026, 0, 1)), notAfter: new Date(Date.UTC(2027, 0, 1)) };
  const rootCa = await generateRoot({ provider, algorithm: 'ml-dsa-65', subject: 'CN=Matrix Root,O=pqtls', ...validity });
  const inter = await issueIntermediate({
    provider, algorithm: 'ml-dsa-65', subject: 'CN=Matrix Intermediate,O=pqtls', ...validity,
    issuer: { certificate: rootCa.certificate, privateKey: rootCa.keyPair.privateKey },
  });
  const leaf = await issueLeaf({
    provider, algorithm: 'ml-dsa-65', dns: ['localhost'], ...validity,
    issuer: { certificate: inter.certificate, privateKey: inter.keyPair.privateKey },
  });
  const certificate = { chain: [leaf.certificate.der, inter.certificate.der], keyAlgorithm: 'ml-dsa-65', privateKey: leaf.keyPair.privateKey };
  const verifier = webPkiVerifier({ provider, trustAnchors: [rootCa.certificate.der] });
  return { provider, certificate, verifier };
}

/** A full handshake: X25519MLKEM768, the server's ML-DSA-65 chain verified by webPkiVerifier, data both ways. */
async function handshake() {
  const { provider, certificate, verifier } = await pqPki('matrix handshake');
  const server = TlsConnection.server({ provider, now: clock, certificate });
  const client = await TlsConnection.client({ provider, now: clock, serverName: 'localhost', verifier });
  await pump(client, server);
  const info = client.handshakeInfo;
  check(info !== undefined, `handshake completed (client error: ${client.error?.message}, server error: ${server.error?.message})`);
  check(info.group === NamedGroup.X25519MLKEM768, `group X25519MLKEM768, got ${info.group}`);
  check(info.peerSignatureScheme === SignatureScheme.mldsa65, `scheme mldsa65, got ${info.peerSignatureScheme}`);
  check(info.peerCertificates.length === 2, 'the server sent leaf and intermediate');
  await client.write(utf8('ping over pq tls'));
  await pump(client, server);
  const got = drain(server).find((e) => e.type === 'data');
  equalHex(got?.data ?? EMPTY, utf8('ping over pq tls'), 'server received');
  // The root entry re-exports the core: the same class, not a copy.
  check(root.TlsConnection === TlsConnection && root.QuicConnection === QuicConnection, 'pqtls re-exports the core entries');
  return { group: 'X25519MLKEM768', scheme: 'mldsa65', chain: info.peerCertificates.length };
}

/** A full handshake leaves tickets; the second connection resumes (psk_dhe_ke, still hybrid). */
async function resumption() {
  const { provider, certificate, verifier } = await pqPki('matrix resumption');
  const ring = await TicketKeyRing.create(provider);
  const store = new MemorySessionStore();
  const serverOptions = { provider, now: clock, certificate, tickets: { sealer: ring } };
  const clientOptions = { provider, now: clock, serverName: 'localhost', verifier, sessionStore: store };
  for (const expectResumed of [false, true]) {
    const server = TlsConnection.server(serverOptions);
    const client = await TlsConnection.client(clientOptions);
    await pump(client, server);
    check(client.handshakeInfo?.resumed === expectResumed, `connection resumed=${expectResumed} (error: ${client.error?.message})`);
    check(server.handshakeInfo?.resumed === expectResumed, `server resumed=${expectResumed}`);
    check(client.handshakeInfo.group === NamedGroup.X25519MLKEM768, 'hybrid group kept');
  }
  return { resumed: true };
}

/** TLS extensions of a ClientHello body, parsed here so the replay needs no internal decoder. */
function traceClientHello(body) {
  let o = 2;
  const random = body.slice(o, o + 32);
  o += 32;
  const sid = body.slice(o + 1, o + 1 + body[o]);
  o += 1 + body[o];
  const suitesLen = (body[o] << 8) | body[o + 1];
  const cipherSuites = [];
  for (let i = 0; i < suitesLen; i += 2) cipherSuites.push((body[o + 2 + i] << 8) | body[o + 3 + i]);
  o += 2 + suitesLen;
  o += 1 + body[o]; // compression
  const end = o + 2 + ((body[o] << 8) | body[o + 1]);
  o += 2;
  const extensions = [];
  while (o < end) {
    const type = (body[o] << 8) | body[o + 1];
    const len = (body[o + 2] << 8) | body[o + 3];
    extensions.push({ type, data: body.slice(o + 4, o + 4 + len) });
    o += 4 + len;
  }
  return { random, legacySessionId: sid, cipherSuites, extensions };
}

/**
 * RFC 8448 §3 (Simple 1-RTT Handshake) through the client: with the trace's random and x25519 key,
 * fed the trace's server records, it must emit the trace's records byte for byte. The trace's
 * 1024-bit RSA server key is below what the verifier accepts, so the client pins it.
 */
async function rfc8448(t) {
  const rec = (name) => fromHex(t.records[name].record);
  const certHex = t.messages.certificate;
  const rsaEncryption = '06092a864886f70d0101010500';
  const at = certHex.indexOf(rsaEncryption) + rsaEncryption.length;
  check(certHex.slice(at, at + 8) === '03818d00', 'trace certificate has a 1024-bit RSA key');
  const publicKey = fromHex(certHex.slice(at + 8, at + 8 + 0x8c * 2));
  const verifier = { verify: async () => ({ publicKey, keyAlgorithm: 'rsa' }) };
  const provider = makeProvider(scriptedRandom([fromHex(t.randoms.client), fromHex(t.x25519.client.privateKey)]));
  const traceHello = traceClientHello(fromHex(t.messages.clientHello).subarray(4));
  const client = await TlsConnection.client(withTraceHooks({
    provider, now: clock, serverName: 'server', verifier, middleboxCompat: false, sessionStore: new MemorySessionStore(),
    groups: [NamedGroup.x25519, NamedGroup.secp256r1, NamedGroup.secp384r1], keyShareGroups: [NamedGroup.x25519],
  }, { clientHello: () => traceHello }));
  equalHex(client.takeOutput(), rec('clientHello'), 'ClientHello record');
  await client.receive(rec('serverHello'));
  await client.receive(rec('serverHandshakeFlight'));
  check(client.error === undefined, `no error after the server flight (${client.error?.message})`);
  equalHex(client.takeOutput(), rec('clientFinished'), 'client Finished record');
  check(drain(client)[0]?.type === 'handshake', 'handshake event');
  await client.receive(rec('newSessionTicket'));
  check(drain(client).map((e) => e.type).join() === 'ticket', 'NewSessionTicket delivered');
  const appData = fromHex(t.records.clientApplicationData.payload);
  await client.write(appData);
  equalHex(client.takeOutput(), rec('clientApplicationData'), 'client application data record');
  await client.receive(rec('serverApplicationData'));
  const data = drain(client)[0];
  equalHex(data?.type === 'data' ? data.data : EMPTY, appData, 'server application data');
  await client.close();
  equalHex(client.takeOutput(), rec('clientAlert'), 'close_notify record');
  await client.receive(rec('serverAlert'));
  check(client.isClosed, 'closed both ways');
  return { records: 6 };
}

/** RFC 9001 / RFC 9369 Appendix A: Initial packets both ways, Retry, ChaCha20 short header. */
async function packetProtection(v, version) {
  const provider = makeProvider(seededRandom('matrix vectors'));
  const dcid = fromHex(v.dcid);
  const keys = await initialKeys(provider, version, dcid);
  const c = v.clientInitial;
  const payload = new Uint8Array(c.payloadLength);
  payload.set(fromHex(c.cryptoFrame));
  equalHex(await keys.client.header.mask(fromHex(c.sample)), c.mask, 'A.2 mask');
  equalHex(await sealPacket(keys.client, { type: 'initial', version, dcid, scid: EMPTY }, payload, { packetNumber: c.packetNumber, pnLength: 4 }), c.packet, 'A.2 client Initial');
  const opened = await openPacket(keys.client, parsePacket(fromHex(c.packet), 0, { shortDcidLength: 0 }).packet, -1);
  equalHex(opened?.payload ?? EMPTY, payload, 'A.2 unprotected payload');
  const s = v.serverInitial;
  const serverCid = fromHex('f067a5502a4262b5');
  equalHex(await sealPacket(keys.server, { type: 'initial', version, dcid: EMPTY, scid: serverCid }, fromHex(s.payload), { packetNumber: s.packetNumber, pnLength: 2 }), s.packet, 'A.3 server Initial');
  const retry = fromHex(v.retry.packet);
  equalHex(await encodeRetry(provider, { version, dcid: EMPTY, scid: serverCid, token: utf8('token'), unused: retry[0] & 0x0f }, fromHex(v.retry.originalDcid)), retry, 'A.4 Retry');
  const x = v.chacha20ShortHeader;
  const cc = await deriveDirectionalKeys(provider, version, CHACHA20_POLY1305_SHA256, fromHex(x.secret));
  equalHex(await sealPacket(cc, { type: '1rtt', dcid: EMPTY }, fromHex(x.payload), { packetNumber: x.packetNumber, pnLength: 3 }), x.packet, 'A.5 ChaCha20 short header');
  return { packets: 4 };
}

/** An in-memory QUIC connection (X25519MLKEM768, ML-DSA-65 chain) echoing one bidirectional stream. */
async function quicStream() {
  const { provider, certificate, verifier } = await pqPki('matrix quic');
  const tp = { maxIdleTimeout: 30_000, initialMaxData: 1 << 20, initialMaxStreamDataBidiLocal: 1 << 18, initialMaxStreamDataBidiRemote: 1 << 18, initialMaxStreamsBidi: 10 };
  const serverOptions = { tls: { provider, now: clock, certificate, alpnProtocols: ['pq-echo'] }, transportParameters: tp };
  let now = 1_000_000;
  const client = await QuicConnection.connect({ tls: { provider, now: clock, serverName: 'localhost', verifier, alpnProtocols: ['pq-echo'] }, transportParameters: tp }, now);
  let server;
  const message = utf8('hello over quic, '.repeat(200));
  let streamId;
  const received = [];
  let fin = false;
  for (let round = 0; round < 200 && !fin; round++) {
    let moved = false;
    for (let d = await client.pollTransmit(now); d; d = await client.pollTransmit(now)) {
      moved = true;
      if (!server) server = await QuicConnection.accept(serverOptions, d.data, now);
      else await server.handleDatagram(d.data, now);
    }
    for (let d = server && (await server.pollTransmit(now)); d; d = await server.pollTransmit(now)) {
      moved = true;
      await client.handleDatagram(d.data, now);
    }
    if (client.isHandshakeComplete && streamId === undefined) {
      streamId = client.openStream(true);
      client.writeStream(streamId, message, true);
    }
    // The server echoes what it reads, FIN included.
    if (server) {
      for (let e = server.poll(); e; e = server.poll()) {
        if (e.type !== 'stream' || (e.event.type !== 'readable' && e.event.type !== 'finished')) continue;
        for (let r = server.readStream(e.event.id); r && (r.data.length || r.fin); r = server.readStream(e.event.id)) {
          server.writeStream(e.event.id, r.data, r.fin);
          if (r.fin) break;
        }
      }
    }
    drain(client);
    if (streamId !== undefined) {
      for (let r = client.readStream(streamId); r && (r.data.length || r.fin); r = client.readStream(streamId)) {
        received.push(r.data);
        if (r.fin) fin = true;
      }
    }
    if (!moved) {
      const t = [client.pollTimeout(), server?.pollTimeout()].filter((x) => x !== undefined);
      if (t.length === 0) break;
      now = Math.max(now + 1, Math.min(...t));
      for (const c of [client, server]) if (c && c.pollTimeout() !== undefined && c.pollTimeout() <= now) await c.handleTimeout(now);
    }
  }
  check(fin, 'the echoed stream finished');
  const total = received.reduce((n, r) => n + r.length, 0);
  const echoed = new Uint8Array(total);
  let o = 0;
  for (const r of received) {
    echoed.set(r, o);
    o += r.length;
  }
  equalHex(echoed, message, 'echoed stream');
  return { bytes: total };
}

/** The cases, in order, by name. */
const BASE_CASES = ['tls13-handshake', 'tls13-resumption', 'rfc8448-section3', 'rfc9001-vectors', 'rfc9369-vectors', 'quic-stream'];
/** Every case on noble, then on the WebCrypto provider (`… [webcrypto]`). */
export const CASES = [...BASE_CASES, ...BASE_CASES.map((c) => `${c} [webcrypto]`)];

/**
 * Runs every case and returns one result per case: `{ case, ok, ms, detail?, error? }`. `now` is the
 * runtime's clock for timing the cases only (the library never reads one); `vectors` is
 * `{ rfc8448: simple-1rtt.json, rfc9001: vectors.json, rfc9369: vectors.json }`; `provider` makes
 * the crypto provider from a random source (default: noble).
 */
export async function runConformance(vectors, now = () => performance.now(), provider = (random) => createNobleProvider({ random })) {
  const cases = {
    'tls13-handshake': () => handshake(),
    'tls13-resumption': () => resumption(),
    'rfc8448-section3': () => rfc8448(vectors.rfc8448),
    'rfc9001-vectors': () => packetProtection(vectors.rfc9001, QUIC_V1),
    'rfc9369-vectors': () => packetProtection(vectors.rfc9369, QUIC_V2),
    'quic-stream': () => quicStream(),
  };
  const results = [];
  for (const name of CASES) {
    const start = now();
    const base = name.replace(/ \[webcrypto\]$/, '');
    makeProvider = base === name ? provider : webCrypto;
    try {
      const detail = await cases[base]();
      results.push({ case: name, ok: true, ms: Math.round(now() - start), detail });
    } catch (e) {
      results.push({ case: name, ok: false, ms: Math.round(now() - start), error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
    }
  }
  return results;
}
