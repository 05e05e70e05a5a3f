import { AlertDescription, SizeOverflowError } from '../../errors.js';
import { equalBytes } from '../../bytes.js';
import { groupName, pssSchemeAllowed, schemeKeyAlgorithm, signatureSchemeName, type NamedGroup, type SignatureScheme } from '../../pq/ids.js';
import type { KeyShare } from '../../pq/provider.js';
import { cipherSuiteInfo, type CipherSuiteInfo } from '../cipher-suites.js';
import type { PeerIdentity, ResolvedClient } from '../config.js';
import { DOWNGRADE_TLS11, DOWNGRADE_TLS12, ExtensionType, HandshakeType, TLS12, TLS13 } from '../constants.js';
import {
  decodeCertificate, decodeCertificateRequest, decodeCertificateVerify, decodeEncryptedExtensions, decodeFinished,
  encodeCertificate, encodeCertificateVerify, encodeFinished,
} from '../messages/certificate.js';
import {
  decodeAlpn, decodeCookie, decodeKeyShareHrr, decodeKeyShareServer, decodeSupportedVersionsServer, decodeU16List,
  decodeRecordSizeLimit, encodeRecordSizeLimit, encodeAlpn, encodeKeyShareClient, encodeServerName, encodeSupportedVersionsClient, encodeU16List,
  encodePskModes, findExtension, type Extension,
} from '../messages/extensions.js';
import type { HandshakeMessage } from '../messages/handshake.js';
import { decodeServerHello, encodeClientHello, isHelloRetryRequest, type ClientHello, type ServerHello } from '../messages/hello.js';
import { Transcript } from '../transcript.js';
import {
  KeyLogLabel, Outbox, certificateVerifyContent, expectType, checkExtensions, chooseScheme, fail, isPkcs1, type HandshakeInfo, type Level,
} from './common.js';
import { HandshakeKeySchedule, finishedVerifyData, resumptionMasterSecret, type HandshakeStage } from './secrets.js';
import { Connected, handlePostHandshake } from './post-handshake.js';
import { encodeHelloWithBinder, preparePskOffer, pskExtensions, sessionFromTicket, sessionKey, type PskOffer } from './client-psk.js';
import { PskMode, decodeSelectedIdentity, encodeEndOfEarlyData } from '../messages/psk.js';
import type { Session } from '../session.js';

/** Extra inputs a QUIC connection gives the client handshake (RFC 9001 §8). */
export interface ClientQuicParams {
  readonly transportParameters: Uint8Array;
  /**
   * Offer 0-RTT when the session allows it (RFC 9001 §4.6.1): the QUIC layer
   * then writes STREAM data under the early key until the server answers.
   */
  readonly earlyData?: boolean;
}

interface Hello {
  readonly cfg: ResolvedClient;
  readonly random: Uint8Array;
  readonly sessionId: Uint8Array;
  readonly shares: readonly KeyShare[];
  readonly extensions: Extension[];
  readonly offered: ReadonlySet<number>;
  readonly quic: ClientQuicParams | undefined;
  /** The session offered for resumption, if any. */
  readonly psk: PskOffer | undefined;
  /** Whether the compatibility change_cipher_spec has gone out (it is sent once). */
  readonly ccsSent: boolean;
}

interface ExpectServerHello {
  readonly kind: 'ExpectServerHello';
  readonly hello: Hello;
  readonly transcript: Transcript;
  /** The suite a HelloRetryRequest selected, once one has been answered. */
  readonly afterHrr: CipherSuiteInfo | undefined;
}

/** What every state after ServerHello knows: the suite, the transcript and the handshake secrets. */
interface Negotiated {
  readonly hello: Hello;
  readonly suite: CipherSuiteInfo;
  /** Undefined only for psk_ke resumption, which has no key exchange. */
  readonly group: NamedGroup | undefined;
  readonly transcript: Transcript;
  readonly stage: HandshakeStage;
  /** Whether the server sent a HelloRetryRequest. */
  readonly hrr: boolean;
}

interface ExpectEncryptedExtensions extends Negotiated {
  /** The session the server accepted, when resuming. */
  readonly resumed: Session | undefined;
  /** Early data was offered and is still being written (until EncryptedExtensions says whether it was accepted). */
  readonly earlyOffered: boolean;
}

/** What the server's EncryptedExtensions settled. */
interface ServerExtensions {
  readonly alpn: string | undefined;
  readonly peerTransportParameters: Uint8Array | undefined;
  readonly earlyAccepted: boolean;
}

/** A full handshake after EncryptedExtensions: the server authenticates with a certificate next. */
interface ExpectCertificateOrRequest extends Negotiated, ServerExtensions {}

/** The server's CertificateRequest (§4.3.2): it wants a client certificate. */
interface CertRequest {
  readonly context: Uint8Array;
  readonly schemes: readonly number[];
}

interface ExpectCertificate extends ExpectCertificateOrRequest {
  readonly certRequest: CertRequest;
}

interface ExpectCertificateVerify extends ExpectCertificateOrRequest {
  /** Undefined when the server asked for no client certificate. */
  readonly certRequest: CertRequest | undefined;
  readonly peerChain: readonly Uint8Array[];
  readonly peer: PeerIdentity;
}

interface ExpectFinished extends Negotiated, ServerExtensions {
  readonly certRequest: CertRequest | undefined;
  /** Whether the server resumed a session; the peer fields below are then the session's. */
  readonly resumed: boolean;
  readonly peerCertificates: readonly Uint8Array[];
  readonly peerSignatureScheme: SignatureScheme | undefined;
}

/** The record each state after ServerHello holds. */
interface Records {
  ExpectEncryptedExtensions: ExpectEncryptedExtensions;
  ExpectCertificateOrRequest: ExpectCertificateOrRequest;
  ExpectCertificate: ExpectCertificate;
  ExpectCertificateVerify: ExpectCertificateVerify;
  ExpectFinished: ExpectFinished;
}

type In<K extends keyof Records> = { readonly kind: K; readonly n: Records[K] };

/** Client handshake states (RFC 8446 Appendix A.1), one per expected message. */
export type ClientState =
  | ExpectServerHello
  | In<'ExpectEncryptedExtensions'>
  | In<'ExpectCertificateOrRequest'>
  | In<'ExpectCertificate'>
  | In<'ExpectCertificateVerify'>
  | In<'ExpectFinished'>
  | Connected;

/** The level each state reads its next message at; anything else is unexpected_message. */
export function clientReadLevel(s: ClientState): Level {
  switch (s.kind) {
    case 'ExpectServerHello': return 'initial';
    case 'Connected': return 'application';
    default: return 'handshake';
  }
}

/**
 * The session a client in its first flight offers with 0-RTT, if it does: a
 * QUIC client sends early STREAM data within the transport parameters
 * remembered with it (RFC 9000 §7.4.1).
 */
export function earlyDataSession(state: ClientState): Session | undefined {
  return state.kind === 'ExpectServerHello' && !state.afterHrr && state.hello.psk?.earlyData ? state.hello.psk.session : undefined;
}

/** Builds and sends the first ClientHello. */
export async function startClient(cfg: ResolvedClient, quic?: ClientQuicParams): Promise<{ state: ClientState; out: Outbox }> {
  const p = cfg.provider;
  const random = await p.random(32);
  // QUIC forbids the compatibility session id (RFC 9001 §8.4).
  const sessionId = cfg.middleboxCompat && !quic ? await p.random(32) : new Uint8Array(0);
  const shares: KeyShare[] = [];
  for (const g of cfg.keyShareGroups) shares.push(await p.keyExchange(g).generate());
  const extensions: Extension[] = [];
  if (cfg.serverName && !isIpAddress(cfg.serverName)) {
    extensions.push({ type: ExtensionType.server_name, data: encodeServerName(cfg.serverName) });
  }
  extensions.push(
    { type: ExtensionType.supported_versions, data: encodeSupportedVersionsClient([TLS13]) },
    { type: ExtensionType.supported_groups, data: encodeU16List(cfg.groups) },
    { type: ExtensionType.signature_algorithms, data: encodeU16List(cfg.signatureSchemes.filter((s) => !isPkcs1(s))) },
    { type: ExtensionType.signature_algorithms_cert, data: encodeU16List(cfg.signatureSchemes) },
    { type: ExtensionType.key_share, data: encodeKeyShareClient(shares.map((s) => ({ group: s.group, share: s.share }))) },
  );
  if (cfg.alpnProtocols.length) {
    extensions.push({ type: ExtensionType.application_layer_protocol_negotiation, data: encodeAlpn(cfg.alpnProtocols) });
  }
  // QUIC has no records, so no record size limit (RFC 9001 §8.4 forbids nothing, but it would be meaningless).
  if (!quic) extensions.push({ type: ExtensionType.record_size_limit, data: encodeRecordSizeLimit(cfg.recordSizeLimit) });
  if (quic) extensions.push({ type: ExtensionType.quic_transport_parameters, data: quic.transportParameters });
  let psk = await preparePskOffer(cfg, quic);
  // A ticket is the server's to size (up to 2^16-1 bytes): one that leaves no room in the
  // ClientHello for our key shares is not offered, and the handshake goes ahead in full.
  const offer = psk;
  if (offer && !fitsClientHello(random, sessionId, cfg, () => [...extensions, ...pskExtensions(cfg, offer, offer.earlyData)])) psk = undefined;
  if (psk) extensions.push(...pskExtensions(cfg, psk, psk.earlyData));
  // Without a session to offer, the modes still tell servers that tickets are wanted, and which (§4.2.9).
  else if (cfg.sessionStore) extensions.push({ type: ExtensionType.psk_key_exchange_modes, data: encodePskModes(cfg.pskModes.map((m) => PskMode[m])) });
  let hello: Hello = { cfg, random, sessionId, shares, extensions, offered: new Set(), quic, psk, ccsSent: false };
  let chObj = clientHelloOf(hello);
  const shaped = cfg.traceHooks?.clientHello?.(chObj);
  if (shaped) {
    hello = { ...hello, random: shaped.random, sessionId: shaped.legacySessionId, extensions: [...shaped.extensions] };
    chObj = shaped;
  }
  const ch = psk ? await encodeHelloWithBinder(cfg, chObj, psk, undefined) : encodeClientHello(chObj);
  hello = { ...hello, offered: new Set(hello.extensions.map((e) => e.type)) };
  const out = new Outbox(cfg.keyLog, hello.random);
  const transcript = Transcript.buffered();
  transcript.update(ch);
  out.send('initial', ch);
  if (psk?.earlyData) {
    // 0-RTT (§2.3): early data goes out right behind the ClientHello under client_early_traffic_secret.
    const secret = await psk.schedule.clientEarlyTrafficSecret(cfg.provider.hash(psk.suite.hash).digest(ch));
    out.log(KeyLogLabel.clientEarly, secret);
    if (hello.sessionId.length) out.changeCipherSpec();
    hello = { ...hello, ccsSent: hello.sessionId.length > 0 };
    out.write('early', psk.suite, secret);
  }
  return { state: { kind: 'ExpectServerHello', hello, transcript, afterHrr: undefined }, out };
}

function fitsClientHello(random: Uint8Array, sessionId: Uint8Array, cfg: ResolvedClient, extensions: () => Extension[]): boolean {
  try {
    encodeClientHello({ random, legacySessionId: sessionId, cipherSuites: cfg.cipherSuites, extensions: extensions() });
    return true;
  } catch (e) {
    if (e instanceof SizeOverflowError) return false;
    throw e;
  }
}

function clientHelloOf(h: Hello): ClientHello {
  return { random: h.random, legacySessionId: h.sessionId, cipherSuites: h.cfg.cipherSuites, extensions: h.extensions };
}

/** Feeds one handshake message received at `level` to the client; returns the next state. */
export async function handleClient(state: ClientState, level: Level, msg: HandshakeMessage, out: Outbox): Promise<ClientState> {
  if (level !== clientReadLevel(state)) {
    fail(AlertDescription.unexpected_message, `handshake message ${msg.type} at ${level} level in state ${state.kind}`);
  }
  switch (state.kind) {
    case 'ExpectServerHello':
      expectType(msg, HandshakeType.server_hello, state.kind);
      return onServerHello(state, msg, out);
    case 'ExpectEncryptedExtensions':
      expectType(msg, HandshakeType.encrypted_extensions, state.kind);
      return onEncryptedExtensions(state.n, msg, out);
    case 'ExpectCertificateOrRequest':
      if (msg.type === HandshakeType.certificate_request) return onCertificateRequest(state.n, msg);
      expectType(msg, HandshakeType.certificate, state.kind);
      return onCertificate(state.n, undefined, msg);
    case 'ExpectCertificate':
      expectType(msg, HandshakeType.certificate, state.kind);
      return onCertificate(state.n, state.n.certRequest, msg);
    case 'ExpectCertificateVerify':
      expectType(msg, HandshakeType.certificate_verify, state.kind);
      return onCertificateVerify(state.n, msg);
    case 'ExpectFinished':
      expectType(msg, HandshakeType.finished, state.kind);
      return onFinished(state.n, msg, out);
    case 'Connected':
      return handlePostHandshake(state, msg, out);
  }
}

async function onServerHello(state: ExpectServerHello, msg: HandshakeMessage, out: Outbox): Promise<ExpectServerHello | In<'ExpectEncryptedExtensions'>> {
  const { hello, transcript } = state;
  const cfg = hello.cfg;
  const sh = decodeServerHello(msg.body);
  const suite = checkServerHello(state, sh);
  if (isHelloRetryRequest(sh)) {
    if (state.afterHrr) fail(AlertDescription.unexpected_message, 'second HelloRetryRequest');
    checkExtensions('HRR', sh.extensions, hello.offered);
    return onHelloRetryRequest(state, sh.extensions, suite, msg, out);
  }

  checkExtensions('SH', sh.extensions, hello.offered);
  const resumed = resumedSession(hello, sh.extensions, suite);
  const { shared, group } = await completeKeyExchange(hello, sh.extensions, resumed);
  if (!transcript.started) transcript.start(cfg.provider, suite.hash);
  transcript.update(msg.raw);
  const ks = await HandshakeKeySchedule.start(cfg.provider, suite, resumed?.psk);
  const stage = await ks.handshake(shared, transcript.hash());
  out.log(KeyLogLabel.clientHandshake, stage.clientSecret);
  out.log(KeyLogLabel.serverHandshake, stage.serverSecret);
  out.read('handshake', suite, stage.serverSecret);
  // While early data is in flight the client keeps writing under the early key until
  // EncryptedExtensions says whether it was accepted (§4.2.10).
  const earlyOffered = hello.psk?.earlyData === true && !state.afterHrr;
  if (!earlyOffered) switchToHandshakeWrites(hello, suite, stage, out);
  return {
    kind: 'ExpectEncryptedExtensions',
    n: { hello, suite, group, transcript, stage, hrr: state.afterHrr !== undefined, resumed, earlyOffered },
  };
}

/** The version, echo and suite checks a ServerHello or HelloRetryRequest must pass; returns the selected suite. */
function checkServerHello(state: ExpectServerHello, sh: ServerHello & { readonly legacyVersion: number }): CipherSuiteInfo {
  const { hello } = state;
  // Appendix D.5: a ServerHello.legacy_version of 0x0300 or less MUST abort with protocol_version,
  // whatever supported_versions says.
  if (sh.legacyVersion <= 0x0300) fail(AlertDescription.protocol_version, `ServerHello.legacy_version 0x${sh.legacyVersion.toString(16).padStart(4, '0')} is SSL 3.0 or older`);
  const versionExt = findExtension(sh.extensions, ExtensionType.supported_versions);
  if (!versionExt) {
    // A TLS 1.2 (or older) ServerHello. §4.1.3: a TLS 1.3 client seeing the downgrade sentinel aborts.
    const tail = sh.random.subarray(24);
    if (equalBytes(tail, DOWNGRADE_TLS12) || equalBytes(tail, DOWNGRADE_TLS11)) {
      fail(AlertDescription.illegal_parameter, 'server signalled a downgrade (RFC 8446 §4.1.3 sentinel)');
    }
    fail(AlertDescription.protocol_version, 'server does not speak TLS 1.3');
  }
  if (decodeSupportedVersionsServer(versionExt) !== TLS13) fail(AlertDescription.illegal_parameter, 'server selected a version we did not offer');
  if (sh.legacyVersion !== TLS12) fail(AlertDescription.illegal_parameter, 'ServerHello.legacy_version must be 0x0303');
  if (!equalBytes(sh.legacySessionIdEcho, hello.sessionId)) fail(AlertDescription.illegal_parameter, 'legacy_session_id_echo does not match');
  const suite = cipherSuiteInfo(sh.cipherSuite);
  if (!suite || !hello.cfg.cipherSuites.includes(suite.id)) fail(AlertDescription.illegal_parameter, 'server selected a cipher suite we did not offer');
  if (state.afterHrr && state.afterHrr.id !== suite.id) fail(AlertDescription.illegal_parameter, 'ServerHello suite differs from HelloRetryRequest');
  return suite;
}

/** The session the ServerHello resumes, if it selected our PSK (§4.2.11). */
function resumedSession(hello: Hello, exts: readonly Extension[], suite: CipherSuiteInfo): Session | undefined {
  const pskExt = findExtension(exts, ExtensionType.pre_shared_key);
  if (!pskExt) return undefined;
  // §4.2.11: the server picks one of the identities we offered (we offer one), with a suite of the same hash.
  if (!hello.psk || decodeSelectedIdentity(pskExt) !== 0) fail(AlertDescription.illegal_parameter, 'server selected a PSK we did not offer');
  if (hello.psk.suite.hash !== suite.hash) fail(AlertDescription.illegal_parameter, 'server resumed with a suite of another hash');
  return hello.psk.session;
}

/** The (EC)DHE/KEM shared secret from the server's key share; none only for a psk_ke resumption. */
async function completeKeyExchange(
  hello: Hello, exts: readonly Extension[], resumed: Session | undefined,
): Promise<{ shared: Uint8Array | null; group: NamedGroup | undefined }> {
  const ksExt = findExtension(exts, ExtensionType.key_share);
  if (ksExt) {
    const entry = decodeKeyShareServer(ksExt);
    const share = hello.shares.find((s) => s.group === entry.group);
    if (!share) fail(AlertDescription.illegal_parameter, `server key share for ${groupName(entry.group)}, which we did not send`);
    return { shared: await share.complete(entry.share), group: share.group };
  }
  if (!resumed) fail(AlertDescription.missing_extension, 'ServerHello without key_share');
  if (!hello.cfg.pskModes.includes('psk_ke')) {
    // §4.2.11: a resumption without the key share our psk_key_exchange_modes require is illegal_parameter.
    fail(AlertDescription.illegal_parameter, 'ServerHello resumes without key_share, but we offered only psk_dhe_ke');
  }
  return { shared: null, group: undefined };
}

/** Compatibility mode sends one dummy change_cipher_spec before the second flight (Appendix D.4), if not already sent. */
function switchToHandshakeWrites(hello: Hello, suite: CipherSuiteInfo, stage: HandshakeStage, out: Outbox): void {
  if (hello.sessionId.length && !hello.ccsSent) out.changeCipherSpec();
  out.write('handshake', suite, stage.clientSecret);
}

async function onHelloRetryRequest(
  state: ExpectServerHello, exts: readonly Extension[], suite: CipherSuiteInfo, msg: HandshakeMessage, out: Outbox,
): Promise<ExpectServerHello> {
  const { hello, transcript } = state;
  const cfg = hello.cfg;
  const ksExt = findExtension(exts, ExtensionType.key_share);
  const cookieExt = findExtension(exts, ExtensionType.cookie);
  // §4.1.4: an HRR that would not change the ClientHello is illegal_parameter.
  if (!ksExt && !cookieExt) fail(AlertDescription.illegal_parameter, 'HelloRetryRequest changes nothing');
  let shares = hello.shares;
  if (ksExt) {
    const group = decodeKeyShareHrr(ksExt);
    if (!cfg.groups.includes(group as NamedGroup)) fail(AlertDescription.illegal_parameter, `HRR asks for ${groupName(group)}, which we do not support`);
    if (hello.shares.some((s) => s.group === group)) fail(AlertDescription.illegal_parameter, `HRR asks for ${groupName(group)}, for which we sent a share`);
    shares = [await cfg.provider.keyExchange(group as NamedGroup).generate()];
  }
  const extensions = hello.extensions.map((e) =>
    e.type === ExtensionType.key_share
      ? { type: e.type, data: encodeKeyShareClient(shares.map((s) => ({ group: s.group, share: s.share }))) }
      : e,
  );
  // §4.1.2: no early data after a HelloRetryRequest; the PSK stays only if its hash fits the suite.
  const psk = hello.psk && hello.psk.suite.hash === suite.hash ? hello.psk : undefined;
  // psk_key_exchange_modes stays as it was: only early_data, pre_shared_key and the cookie may change (§4.1.2).
  const kept = extensions.filter((e) => e.type !== ExtensionType.early_data && e.type !== ExtensionType.pre_shared_key);
  if (cookieExt) {
    decodeCookie(cookieExt);
    kept.push({ type: ExtensionType.cookie, data: cookieExt });
  }
  if (psk) kept.push(...pskExtensions(cfg, psk, false).filter((e) => e.type === ExtensionType.pre_shared_key));
  transcript.start(cfg.provider, suite.hash);
  transcript.replaceWithMessageHash();
  transcript.update(msg.raw);
  const next: Hello = { ...hello, shares, extensions: kept, psk, ccsSent: hello.sessionId.length > 0, offered: new Set([...hello.offered, ...kept.map((e) => e.type)]) };
  let ch2: Uint8Array;
  try {
    ch2 = psk ? await encodeHelloWithBinder(cfg, clientHelloOf(next), psk, transcript) : encodeClientHello(clientHelloOf(next));
  } catch (e) {
    // The cookie is the server's to size: one too large for the ClientHello to carry is the server's fault.
    if (e instanceof SizeOverflowError) fail(AlertDescription.illegal_parameter, `HelloRetryRequest asks for a ClientHello that cannot be encoded (${e.message})`);
    throw e;
  }
  transcript.update(ch2);
  if (hello.sessionId.length && !hello.ccsSent) out.changeCipherSpec();
  out.send('initial', ch2);
  return { kind: 'ExpectServerHello', hello: next, transcript, afterHrr: suite };
}

function onEncryptedExtensions(
  n: ExpectEncryptedExtensions, msg: HandshakeMessage, out: Outbox,
): In<'ExpectFinished'> | In<'ExpectCertificateOrRequest'> {
  const settled = readEncryptedExtensions(n, decodeEncryptedExtensions(msg.body), out);
  // Rejected: stop writing early data now and go on under the handshake key.
  if (n.earlyOffered && !settled.earlyAccepted) switchToHandshakeWrites(n.hello, n.suite, n.stage, out);
  n.transcript.update(msg.raw);
  const { hello, suite, group, transcript, stage, hrr } = n;
  const next = { hello, suite, group, transcript, stage, hrr, ...settled };
  if (!n.resumed) return { kind: 'ExpectCertificateOrRequest', n: next };
  // A resumption authenticates by the PSK: the peer is the one the session was made with.
  return {
    kind: 'ExpectFinished',
    n: {
      ...next, certRequest: undefined, resumed: true, peerCertificates: n.resumed.peerCertificates,
      peerSignatureScheme: n.resumed.peerSignatureScheme as SignatureScheme | undefined,
    },
  };
}

/** Checks EncryptedExtensions against what we offered (§4.3.1) and takes what the server settled. */
function readEncryptedExtensions(n: ExpectEncryptedExtensions, exts: readonly Extension[], out: Outbox): ServerExtensions {
  checkExtensions('EE', exts, n.hello.offered);
  let alpn: string | undefined;
  const alpnExt = findExtension(exts, ExtensionType.application_layer_protocol_negotiation);
  if (alpnExt) {
    const list = decodeAlpn(alpnExt);
    if (list.length !== 1 || !n.hello.cfg.alpnProtocols.includes(list[0] as string)) {
      fail(AlertDescription.illegal_parameter, 'server selected an ALPN protocol we did not offer');
    }
    alpn = list[0];
  }
  const sni = findExtension(exts, ExtensionType.server_name);
  if (sni && sni.length !== 0) fail(AlertDescription.decode_error, 'server_name in EncryptedExtensions must be empty');
  const rsl = findExtension(exts, ExtensionType.record_size_limit);
  if (rsl) out.actions.push({ kind: 'peerRecordSizeLimit', limit: decodeRecordSizeLimit(rsl) });
  const tp = findExtension(exts, ExtensionType.quic_transport_parameters);
  if (n.hello.quic) {
    if (!tp) fail(AlertDescription.missing_extension, 'QUIC server sent no quic_transport_parameters');
    if (alpn === undefined) fail(AlertDescription.no_application_protocol, 'QUIC requires ALPN (RFC 9001 §8.1)');
  }
  const earlyExt = findExtension(exts, ExtensionType.early_data);
  // §4.2.10: in EncryptedExtensions, early_data is `struct {} Empty`.
  if (earlyExt?.length) fail(AlertDescription.decode_error, 'early_data in EncryptedExtensions must be empty');
  const earlyAccepted = earlyExt !== undefined;
  if (earlyAccepted && !(n.earlyOffered && n.resumed)) fail(AlertDescription.illegal_parameter, 'server accepted early data that was not offered');
  return { alpn, peerTransportParameters: tp, earlyAccepted };
}

function onCertificateRequest(n: ExpectCertificateOrRequest, msg: HandshakeMessage): In<'ExpectCertificate'> {
  const cr = decodeCertificateRequest(msg.body);
  checkExtensions('CR', cr.extensions, n.hello.offered);
  // §4.3.2: the context is empty in the handshake.
  if (cr.context.length !== 0) fail(AlertDescription.illegal_parameter, 'CertificateRequest context must be empty during the handshake');
  const sa = findExtension(cr.extensions, ExtensionType.signature_algorithms);
  if (!sa) fail(AlertDescription.missing_extension, 'CertificateRequest without signature_algorithms');
  n.transcript.update(msg.raw);
  return { kind: 'ExpectCertificate', n: { ...n, certRequest: { context: cr.context, schemes: decodeU16List(sa, 'signature_algorithms') } } };
}

/** The server's Certificate, with or without a CertificateRequest before it (`certRequest`). */
async function onCertificate(
  n: ExpectCertificateOrRequest, certRequest: CertRequest | undefined, msg: HandshakeMessage,
): Promise<In<'ExpectCertificateVerify'>> {
  const cert = decodeCertificate(msg.body);
  if (cert.context.length !== 0) fail(AlertDescription.illegal_parameter, 'server Certificate with a request context');
  // §4.4.2.4: a server must send a certificate; an empty one is decode_error.
  if (cert.entries.length === 0) fail(AlertDescription.decode_error, 'server sent an empty Certificate');
  for (const e of cert.entries) checkExtensions('CT', e.extensions, n.hello.offered);
  const chain = cert.entries.map((e) => e.certData);
  const cfg = n.hello.cfg;
  const peer = await cfg.verifier.verify(chain, { serverName: cfg.serverName, purpose: 'serverAuth', now: cfg.now() });
  n.transcript.update(msg.raw);
  return { kind: 'ExpectCertificateVerify', n: { ...n, certRequest, peerChain: chain, peer } };
}

async function onCertificateVerify(n: ExpectCertificateVerify, msg: HandshakeMessage): Promise<In<'ExpectFinished'>> {
  const cv = decodeCertificateVerify(msg.body);
  const cfg = n.hello.cfg;
  const scheme = await verifyPeerSignature(cfg.provider, cfg.signatureSchemes, n.peer, cv, 'server', n.transcript.hash());
  n.transcript.update(msg.raw);
  return { kind: 'ExpectFinished', n: { ...n, resumed: false, peerCertificates: n.peerChain, peerSignatureScheme: scheme } };
}

/** Checks a CertificateVerify against the peer's leaf key (RFC 8446 §4.4.3). */
export async function verifyPeerSignature(
  provider: ResolvedClient['provider'], ours: readonly SignatureScheme[], peer: PeerIdentity,
  cv: { scheme: number; signature: Uint8Array }, role: 'server' | 'client', th: Uint8Array,
): Promise<SignatureScheme> {
  const scheme = cv.scheme as SignatureScheme;
  if (!ours.includes(scheme) || isPkcs1(scheme)) {
    fail(AlertDescription.illegal_parameter, `peer signed with ${signatureSchemeName(cv.scheme)}, which we did not offer`);
  }
  if (schemeKeyAlgorithm(scheme) !== peer.keyAlgorithm) {
    fail(AlertDescription.illegal_parameter, `${signatureSchemeName(scheme)} does not fit the certificate's ${peer.keyAlgorithm} key`);
  }
  if (peer.keyAlgorithm === 'rsa-pss' && !pssSchemeAllowed(scheme, peer.rsaPss)) {
    fail(AlertDescription.illegal_parameter, `${signatureSchemeName(scheme)} is outside the certificate's RSASSA-PSS parameters`);
  }
  const ok = await provider.verify(
    scheme, peer.publicKey, certificateVerifyContent(role, th), cv.signature, peer.rsaPss ? { rsaPss: peer.rsaPss } : undefined,
  );
  if (!ok) fail(AlertDescription.decrypt_error, `${role} CertificateVerify signature does not verify`);
  return scheme;
}

async function onFinished(n: ExpectFinished, msg: HandshakeMessage, out: Outbox): Promise<Connected> {
  const cfg = n.hello.cfg;
  const p = cfg.provider;
  const { suite, transcript, stage } = n;
  const verifyData = decodeFinished(msg.body, suite.hashLength);
  const expected = await finishedVerifyData(p, suite, stage.serverSecret, transcript.hash());
  if (!equalBytes(expected, verifyData)) fail(AlertDescription.decrypt_error, 'server Finished does not verify');
  transcript.update(msg.raw);
  const master = await stage.master(transcript.hash());
  out.log(KeyLogLabel.serverTraffic0, master.serverSecret);
  out.log(KeyLogLabel.clientTraffic0, master.clientSecret);
  out.log(KeyLogLabel.exporter, master.exporterSecret);
  out.read('application', suite, master.serverSecret);
  if (n.earlyAccepted && n.hello.quic) {
    // RFC 9001 §8.3: QUIC sends no EndOfEarlyData; 1-RTT packets end the 0-RTT ones.
    switchToHandshakeWrites(n.hello, suite, stage, out);
  } else if (n.earlyAccepted) {
    // §4.5: EndOfEarlyData closes the early data under the early key; it is in the transcript.
    const eoed = encodeEndOfEarlyData();
    out.send('early', eoed);
    transcript.update(eoed);
    switchToHandshakeWrites(n.hello, suite, stage, out);
  }
  const signatureScheme = n.certRequest ? await sendClientCertificate(cfg, n.certRequest, transcript, out) : undefined;
  const fin = encodeFinished(await finishedVerifyData(p, suite, stage.clientSecret, transcript.hash()));
  transcript.update(fin);
  out.send('handshake', fin);
  out.write('application', suite, master.clientSecret);
  const resumption = await resumptionMasterSecret(p, suite, master.master, transcript.hash());
  const info = handshakeInfo(n, signatureScheme);
  const original = {
    alpn: info.alpn, peerCertificates: info.peerCertificates, peerSignatureScheme: info.peerSignatureScheme,
    // QUIC: 0-RTT with this ticket stays within the server's transport parameters of today (RFC 9000 §7.4.1).
    ...(n.hello.quic && info.peerTransportParameters ? { quicTransportParameters: info.peerTransportParameters } : {}),
  };
  const store = cfg.sessionStore;
  out.actions.push({ kind: 'complete', info });
  return {
    kind: 'Connected',
    role: 'client',
    provider: p,
    suite,
    info,
    exporterSecret: master.exporterSecret,
    resumptionSecret: resumption,
    readSecret: master.serverSecret,
    writeSecret: master.clientSecret,
    quic: n.hello.quic !== undefined,
    keepTicket: store
      ? async (nst) => store.put(sessionKey(cfg), await sessionFromTicket(cfg, suite, resumption, nst, original))
      : undefined,
  };
}

/**
 * Answers a CertificateRequest with our Certificate and CertificateVerify; returns the scheme we signed
 * with, or undefined if we had no usable certificate and sent an empty one (§4.4.2).
 */
async function sendClientCertificate(
  cfg: ResolvedClient, req: CertRequest, transcript: Transcript, out: Outbox,
): Promise<SignatureScheme | undefined> {
  const cert = cfg.certificate;
  const scheme = cert ? chooseScheme(cert.keyAlgorithm, cfg.signatureSchemes, req.schemes, cert.rsaPss) : undefined;
  // No usable certificate: send an empty Certificate and let the server decide (§4.4.2).
  const chain = cert && scheme !== undefined ? cert.chain : [];
  const certMsg = encodeCertificate({ context: req.context, entries: chain.map((c) => ({ certData: c, extensions: [] })) });
  transcript.update(certMsg);
  out.send('handshake', certMsg);
  if (!cert || scheme === undefined) return undefined;
  const sig = await cfg.provider.sign(scheme, cert.privateKey, certificateVerifyContent('client', transcript.hash()));
  const cvMsg = encodeCertificateVerify({ scheme, signature: sig });
  transcript.update(cvMsg);
  out.send('handshake', cvMsg);
  return scheme;
}

function handshakeInfo(n: ExpectFinished, signatureScheme: SignatureScheme | undefined): HandshakeInfo {
  return {
    version: 'TLSv1.3',
    cipherSuite: n.suite,
    group: n.group,
    peerSignatureScheme: n.peerSignatureScheme,
    signatureScheme,
    alpn: n.alpn,
    serverName: n.hello.cfg.serverName,
    peerCertificates: n.peerCertificates,
    helloRetryRequest: n.hrr,
    resumed: n.resumed,
    earlyData: !n.hello.psk?.earlyData ? 'none' : n.earlyAccepted ? 'accepted' : 'rejected',
    peerTransportParameters: n.peerTransportParameters,
  };
}

/** Whether `name` is an IPv4 or IPv6 literal (RFC 6066 §3: no IP addresses in SNI). */
export function isIpAddress(name: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(name) || name.includes(':');
}

