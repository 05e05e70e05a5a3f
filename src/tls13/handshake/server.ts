import { AlertDescription } from '../../errors.js';
import { constantTimeEqual, equalBytes } from '../../bytes.js';
import { groupName, type NamedGroup, type SignatureScheme } from '../../pq/ids.js';
import { cipherSuiteInfo, type CipherSuiteInfo } from '../cipher-suites.js';
import type { PeerIdentity, ResolvedServer } from '../config.js';
import { ExtensionType, HRR_RANDOM, HandshakeType, TLS13 } from '../constants.js';
import {
  decodeCertificate, decodeCertificateVerify, decodeFinished, encodeCertificate, encodeCertificateRequest,
  encodeCertificateVerify, encodeEncryptedExtensions, encodeFinished,
} from '../messages/certificate.js';
import {
  EMPTY, decodeRecordSizeLimit, encodeRecordSizeLimit, decodeAlpn, decodeCookie, decodeKeyShareClient, decodeServerName, decodeSupportedVersionsClient, decodeU16List,
  encodeAlpn, encodeCookie, encodeKeyShareHrr, encodeKeyShareServer, encodeSupportedVersionsServer, encodeU16List,
  findExtension, type Extension, type KeyShareEntry,
} from '../messages/extensions.js';
import type { HandshakeMessage } from '../messages/handshake.js';
import { decodeClientHello, encodeServerHello, type ClientHello } from '../messages/hello.js';
import { Transcript } from '../transcript.js';
import type { TicketState } from '../tickets.js';
import { encodeSelectedIdentity } from '../messages/psk.js';
import { acceptPsk, clientWantsTickets, issueTickets } from './server-psk.js';
import { verifyPeerSignature } from './client.js';
import {
  KeyLogLabel, Outbox, certificateVerifyContent, expectType, checkExtensions, chooseScheme, fail, isPkcs1, type HandshakeInfo, type Level,
} from './common.js';
import { handlePostHandshake, type Connected } from './post-handshake.js';
import { HandshakeKeySchedule, finishedVerifyData, resumptionMasterSecret, type HandshakeStage, type MasterStage } from './secrets.js';

/** Extra inputs a QUIC connection gives the server handshake (RFC 9001 §8). */
export interface ServerQuicParams {
  readonly transportParameters: Uint8Array;
}

/** What the server remembers across its HelloRetryRequest (stateful HRR). */
interface AfterHrr {
  readonly suite: CipherSuiteInfo;
  readonly group: NamedGroup;
  readonly transcript: Transcript;
  readonly sessionId: Uint8Array;
  readonly cookie: Uint8Array | undefined;
  /** ClientHello1, which ClientHello2 must repeat but for the changes §4.1.2 permits. */
  readonly first: ClientHello;
}

interface Negotiated {
  readonly cfg: ResolvedServer;
  readonly suite: CipherSuiteInfo;
  readonly group: NamedGroup | undefined;
  readonly transcript: Transcript;
  readonly stage: HandshakeStage;
  readonly master: MasterStage;
  /** The ticket this handshake resumed. */
  readonly resumed: TicketState | undefined;
  /** Whether the client's psk_key_exchange_modes allow a ticket we would accept (§4.2.9). */
  readonly wantsTickets: boolean;
  readonly base: Omit<HandshakeInfo, 'peerSignatureScheme' | 'peerCertificates'>;
  readonly quic: boolean;
  readonly peerChain?: readonly Uint8Array[];
  readonly peer?: PeerIdentity;
  readonly peerScheme?: SignatureScheme;
}

/** Server handshake states (RFC 8446 Appendix A.2). */
export type ServerState =
  | { readonly kind: 'ExpectClientHello'; readonly cfg: ResolvedServer; readonly quic: ServerQuicParams | undefined; readonly hrr: AfterHrr | undefined }
  | { readonly kind: 'ExpectEndOfEarlyData'; readonly n: Negotiated }
  | { readonly kind: 'ExpectCertificate'; readonly n: Negotiated }
  | { readonly kind: 'ExpectCertificateVerify'; readonly n: Negotiated }
  | { readonly kind: 'ExpectFinished'; readonly n: Negotiated }
  | Connected;

export function serverReadLevel(s: ServerState): Level {
  switch (s.kind) {
    case 'ExpectClientHello': return 'initial';
    case 'ExpectEndOfEarlyData': return 'early';
    case 'Connected': return 'application';
    default: return 'handshake';
  }
}

export function startServer(cfg: ResolvedServer, quic?: ServerQuicParams): ServerState {
  return { kind: 'ExpectClientHello', cfg, quic, hrr: undefined };
}

export async function handleServer(state: ServerState, level: Level, msg: HandshakeMessage, out: Outbox): Promise<ServerState> {
  if (level !== serverReadLevel(state)) {
    fail(AlertDescription.unexpected_message, `handshake message ${msg.type} at ${level} level in state ${state.kind}`);
  }
  switch (state.kind) {
    case 'ExpectClientHello':
      expectType(msg, HandshakeType.client_hello, state.kind);
      return onClientHello(state, msg, out);
    case 'ExpectEndOfEarlyData':
      expectType(msg, HandshakeType.end_of_early_data, state.kind);
      return onEndOfEarlyData(state.n, msg, out);
    case 'ExpectCertificate':
      expectType(msg, HandshakeType.certificate, state.kind);
      return onClientCertificate(state.n, msg);
    case 'ExpectCertificateVerify':
      expectType(msg, HandshakeType.certificate_verify, state.kind);
      return onClientCertificateVerify(state.n, msg);
    case 'ExpectFinished':
      expectType(msg, HandshakeType.finished, state.kind);
      return onClientFinished(state.n, msg, out);
    case 'Connected':
      return handlePostHandshake(state, msg, out);
  }
}

function required(exts: readonly Extension[], type: number, name: string): Uint8Array {
  const e = findExtension(exts, type);
  if (!e) fail(AlertDescription.missing_extension, `ClientHello without ${name}`);
  return e;
}

async function onClientHello(
  state: Extract<ServerState, { kind: 'ExpectClientHello' }>, msg: HandshakeMessage, out: Outbox,
): Promise<ServerState> {
  const { cfg, quic, hrr } = state;
  const p = cfg.provider;
  const ch = decodeClientHello(msg.body);
  const versions = findExtension(ch.extensions, ExtensionType.supported_versions);
  if (!versions || !decodeSupportedVersionsClient(versions).includes(TLS13)) {
    fail(AlertDescription.protocol_version, 'client does not offer TLS 1.3');
  }
  // §4.2.11: pre_shared_key, if present, must be the last extension.
  const pskIndex = ch.extensions.findIndex((e) => e.type === ExtensionType.pre_shared_key);
  if (pskIndex !== -1 && pskIndex !== ch.extensions.length - 1) fail(AlertDescription.illegal_parameter, 'pre_shared_key is not the last extension');
  const offersPsk = pskIndex !== -1;

  const suite = hrr?.suite ?? chooseSuite(cfg, ch);
  if (hrr && !ch.cipherSuites.includes(hrr.suite.id)) fail(AlertDescription.illegal_parameter, 'ClientHello2 dropped the selected cipher suite');
  if (hrr && !equalBytes(ch.legacySessionId, hrr.sessionId)) fail(AlertDescription.illegal_parameter, 'ClientHello2 changed legacy_session_id');
  if (hrr) checkSecondHello(hrr.first, ch);

  // Without a PSK, supported_groups and key_share are mandatory (§9.2); with one they may be absent (psk_ke).
  const groupsExt = offersPsk ? findExtension(ch.extensions, ExtensionType.supported_groups) : required(ch.extensions, ExtensionType.supported_groups, 'supported_groups');
  const sharesExt = offersPsk ? findExtension(ch.extensions, ExtensionType.key_share) : required(ch.extensions, ExtensionType.key_share, 'key_share');
  if ((groupsExt === undefined) !== (sharesExt === undefined)) fail(AlertDescription.missing_extension, 'supported_groups and key_share must come together');
  const clientGroups = groupsExt ? decodeU16List(groupsExt, 'supported_groups') : [];
  const shares = sharesExt ? decodeKeyShareClient(sharesExt) : [];
  for (const s of shares) {
    if (!clientGroups.includes(s.group)) fail(AlertDescription.illegal_parameter, `key share for ${groupName(s.group)}, which is not in supported_groups`);
  }

  let share: KeyShareEntry | undefined;
  const mutual = cfg.groups.filter((g) => clientGroups.includes(g));
  if (hrr) {
    const cookie = findExtension(ch.extensions, ExtensionType.cookie);
    if (hrr.cookie && (!cookie || !constantTimeEqual(decodeCookie(cookie), hrr.cookie))) {
      fail(AlertDescription.illegal_parameter, 'ClientHello2 does not echo the cookie');
    }
    // §4.1.2: after HRR the client sends exactly one share, for the group asked for.
    if (shares.length !== 1 || shares[0]?.group !== hrr.group) fail(AlertDescription.illegal_parameter, 'ClientHello2 key_share is not the requested group');
    share = shares[0];
  } else {
    share = cfg.groups.map((g) => shares.find((s) => s.group === g)).find((s) => s !== undefined);
  }

  let serverName: string | undefined;
  const sni = findExtension(ch.extensions, ExtensionType.server_name);
  if (sni) serverName = decodeServerName(sni);
  const alpn = chooseAlpn(cfg, ch.extensions, quic !== undefined);
  const peerTp = findExtension(ch.extensions, ExtensionType.quic_transport_parameters);
  if (quic && !peerTp) fail(AlertDescription.missing_extension, 'QUIC client sent no quic_transport_parameters');

  const psk = await acceptPsk(cfg, ch.extensions, msg, suite, hrr?.transcript, share !== undefined, alpn);
  if (!share && psk?.mode !== 'psk_ke') {
    if (mutual.length === 0) fail(AlertDescription.handshake_failure, 'no key-exchange group in common');
    if (hrr) fail(AlertDescription.illegal_parameter, 'ClientHello2 without a usable key share');
    // Any 0-RTT data behind this ClientHello is rejected: skip it (§4.2.10).
    if (findExtension(ch.extensions, ExtensionType.early_data)) out.actions.push({ kind: 'skipEarlyData', maxBytes: cfg.earlyData?.maxSize ?? 1 << 14 });
    return helloRetry(state, ch, msg, suite, mutual[0] as NamedGroup, out);
  }
  let scheme: SignatureScheme | undefined;
  if (!psk) {
    const clientSchemes = decodeU16List(required(ch.extensions, ExtensionType.signature_algorithms, 'signature_algorithms'), 'signature_algorithms');
    scheme = chooseScheme(cfg.certificate.keyAlgorithm, cfg.signatureSchemes, clientSchemes, cfg.certificate.rsaPss);
    if (scheme === undefined) fail(AlertDescription.handshake_failure, `client accepts no signature scheme for our ${cfg.certificate.keyAlgorithm} key`);
  }
  const dhe = psk?.mode !== 'psk_ke' && share ? share : undefined;
  const group = dhe ? (dhe.group as NamedGroup) : undefined;

  const kex = dhe && group !== undefined ? await p.keyExchange(group).encapsulate(dhe.share) : undefined;
  const random = await p.random(32);
  const shExts: Extension[] = [];
  if (psk) shExts.push({ type: ExtensionType.pre_shared_key, data: encodeSelectedIdentity(psk.index) });
  if (kex && group !== undefined) shExts.push({ type: ExtensionType.key_share, data: encodeKeyShareServer({ group, share: kex.share }) });
  shExts.push({ type: ExtensionType.supported_versions, data: encodeSupportedVersionsServer(TLS13) });
  const sh = encodeServerHello({ random, legacySessionIdEcho: ch.legacySessionId, cipherSuite: suite.id, extensions: shExts });
  const transcript = hrr?.transcript ?? Transcript.buffered().start(p, suite.hash);
  transcript.update(msg.raw);
  out.setClientRandom(ch.random);
  const earlyOffered = findExtension(ch.extensions, ExtensionType.early_data) !== undefined;
  if (psk?.earlyData) {
    // §4.2.10: the early data that follows the ClientHello is read under client_early_traffic_secret.
    const early = await psk.schedule.clientEarlyTrafficSecret(transcript.hash());
    out.log(KeyLogLabel.clientEarly, early);
    out.read('early', suite, early);
    out.actions.push({ kind: 'acceptEarlyData', maxBytes: psk.state.maxEarlyData });
  } else if (earlyOffered) {
    // Rejected 0-RTT: skip what cannot be decrypted, up to the size we would have accepted.
    out.actions.push({ kind: 'skipEarlyData', maxBytes: cfg.earlyData?.maxSize ?? 1 << 14 });
  }
  transcript.update(sh);
  out.send('initial', sh);
  if (ch.legacySessionId.length && !quic && !hrr) out.changeCipherSpec();

  const ks = psk ? psk.schedule : await HandshakeKeySchedule.start(p, suite);
  const stage = await ks.handshake(kex?.secret ?? null, transcript.hash());
  out.log(KeyLogLabel.clientHandshake, stage.clientSecret);
  out.log(KeyLogLabel.serverHandshake, stage.serverSecret);
  out.write('handshake', suite, stage.serverSecret);
  if (!psk?.earlyData) out.read('handshake', suite, stage.clientSecret);

  let ee: Extension[] = [];
  if (serverName !== undefined) ee.push({ type: ExtensionType.server_name, data: EMPTY });
  const rsl = quic ? undefined : findExtension(ch.extensions, ExtensionType.record_size_limit);
  if (rsl) {
    // RFC 8449 §4: the client's limit binds our records from EncryptedExtensions on; we answer with ours.
    out.actions.push({ kind: 'peerRecordSizeLimit', limit: decodeRecordSizeLimit(rsl) });
    ee.push({ type: ExtensionType.record_size_limit, data: encodeRecordSizeLimit(cfg.recordSizeLimit) });
  }
  if (alpn !== undefined) ee.push({ type: ExtensionType.application_layer_protocol_negotiation, data: encodeAlpn([alpn]) });
  if (quic) ee.push({ type: ExtensionType.quic_transport_parameters, data: quic.transportParameters });
  if (psk?.earlyData) ee.push({ type: ExtensionType.early_data, data: EMPTY });
  ee = cfg.traceHooks?.encryptedExtensions?.(ee) ?? ee;
  sendHs(out, transcript, encodeEncryptedExtensions(ee));
  if (!psk) await sendCertificateFlight(cfg, transcript, scheme as SignatureScheme, out);
  sendHs(out, transcript, encodeFinished(await finishedVerifyData(p, suite, stage.serverSecret, transcript.hash())));
  const master = await stage.master(transcript.hash());
  out.log(KeyLogLabel.serverTraffic0, master.serverSecret);
  out.log(KeyLogLabel.clientTraffic0, master.clientSecret);
  out.log(KeyLogLabel.exporter, master.exporterSecret);
  out.write('application', suite, master.serverSecret);

  const n: Negotiated = {
    cfg, suite, group, transcript, stage, master, quic: quic !== undefined, resumed: psk?.state,
    wantsTickets: clientWantsTickets(cfg, ch.extensions),
    base: {
      version: 'TLSv1.3', cipherSuite: suite, group, signatureScheme: scheme, alpn, serverName,
      helloRetryRequest: hrr !== undefined, resumed: psk !== undefined, peerTransportParameters: peerTp,
      earlyData: !earlyOffered ? 'none' : psk?.earlyData ? 'accepted' : 'rejected',
    },
  };
  if (psk?.earlyData) return { kind: 'ExpectEndOfEarlyData', n };
  return cfg.clientAuth && !psk ? { kind: 'ExpectCertificate', n } : { kind: 'ExpectFinished', n };
}

/** CertificateRequest (for mutual TLS), Certificate and CertificateVerify of a full handshake. */
async function sendCertificateFlight(cfg: ResolvedServer, transcript: Transcript, scheme: SignatureScheme, out: Outbox): Promise<void> {
  if (cfg.clientAuth) {
    sendHs(out, transcript, encodeCertificateRequest({
      context: new Uint8Array(0),
      extensions: [
        { type: ExtensionType.signature_algorithms, data: encodeU16List(cfg.signatureSchemes.filter((s) => !isPkcs1(s))) },
        { type: ExtensionType.signature_algorithms_cert, data: encodeU16List(cfg.signatureSchemes) },
      ],
    }));
  }
  sendHs(out, transcript, encodeCertificate({ context: new Uint8Array(0), entries: cfg.certificate.chain.map((c) => ({ certData: c, extensions: [] })) }));
  const sig = await cfg.provider.sign(scheme, cfg.certificate.privateKey, certificateVerifyContent('server', transcript.hash()));
  sendHs(out, transcript, encodeCertificateVerify({ scheme, signature: sig }));
}

/** EndOfEarlyData (§4.5) ends the early data; the client's handshake key follows it. */
function onEndOfEarlyData(n: Negotiated, msg: HandshakeMessage, out: Outbox): ServerState {
  if (msg.body.length !== 0) fail(AlertDescription.decode_error, 'EndOfEarlyData is not empty');
  n.transcript.update(msg.raw);
  out.read('handshake', n.suite, n.stage.clientSecret);
  return { kind: 'ExpectFinished', n };
}

function sendHs(out: Outbox, transcript: Transcript, msg: Uint8Array): void {
  transcript.update(msg);
  out.send('handshake', msg);
}

function chooseSuite(cfg: ResolvedServer, ch: ClientHello): CipherSuiteInfo {
  for (const s of cfg.cipherSuites) if (ch.cipherSuites.includes(s)) return cipherSuiteInfo(s) as CipherSuiteInfo;
  return fail(AlertDescription.handshake_failure, 'no cipher suite in common');
}

function chooseAlpn(cfg: ResolvedServer, exts: readonly Extension[], quic: boolean): string | undefined {
  const ext = findExtension(exts, ExtensionType.application_layer_protocol_negotiation);
  if (!ext) {
    if (quic) fail(AlertDescription.no_application_protocol, 'QUIC requires ALPN (RFC 9001 §8.1)');
    return undefined;
  }
  const offered = decodeAlpn(ext);
  if (cfg.alpnProtocols.length === 0) {
    if (quic) fail(AlertDescription.no_application_protocol, 'no ALPN protocol configured');
    return undefined;
  }
  const pick = cfg.alpnProtocols.find((p) => offered.includes(p));
  // RFC 7301 §3.2: no overlap is a no_application_protocol alert.
  if (pick === undefined) fail(AlertDescription.no_application_protocol, `no ALPN protocol in common (client offered ${offered.join(', ')})`);
  return pick;
}

async function helloRetry(
  state: Extract<ServerState, { kind: 'ExpectClientHello' }>, ch: ClientHello, msg: HandshakeMessage,
  suite: CipherSuiteInfo, group: NamedGroup, out: Outbox,
): Promise<ServerState> {
  const { cfg } = state;
  const cookie = cfg.hrrCookie ? await cfg.provider.random(32) : undefined;
  const exts: Extension[] = [
    { type: ExtensionType.supported_versions, data: encodeSupportedVersionsServer(TLS13) },
    { type: ExtensionType.key_share, data: encodeKeyShareHrr(group) },
  ];
  if (cookie) exts.push({ type: ExtensionType.cookie, data: encodeCookie(cookie) });
  const hrrMsg = encodeServerHello({ random: HRR_RANDOM, legacySessionIdEcho: ch.legacySessionId, cipherSuite: suite.id, extensions: exts });
  const transcript = Transcript.buffered().start(cfg.provider, suite.hash).update(msg.raw).replaceWithMessageHash().update(hrrMsg);
  out.send('initial', hrrMsg);
  if (ch.legacySessionId.length && !state.quic) out.changeCipherSpec();
  return { ...state, hrr: { suite, group, transcript, sessionId: ch.legacySessionId, cookie, first: ch } };
}

/** Extensions ClientHello2 may change (§4.1.2): key_share replaced, early_data dropped, cookie added, PSKs updated or dropped, padding. */
const MAY_CHANGE_AFTER_HRR: readonly number[] = [
  ExtensionType.key_share, ExtensionType.early_data, ExtensionType.cookie, ExtensionType.pre_shared_key, ExtensionType.padding,
];

/** §4.1.2: ClientHello2 is ClientHello1 but for the permitted changes; anything else is illegal_parameter. */
function checkSecondHello(first: ClientHello, second: ClientHello): void {
  const same = equalBytes(first.random, second.random)
    && first.cipherSuites.length === second.cipherSuites.length
    && first.cipherSuites.every((s, i) => second.cipherSuites[i] === s);
  if (!same) fail(AlertDescription.illegal_parameter, 'ClientHello2 changed random or cipher_suites');
  // §4.2.10: no early data after a HelloRetryRequest.
  if (findExtension(second.extensions, ExtensionType.early_data)) fail(AlertDescription.illegal_parameter, 'ClientHello2 offers early_data');
  for (const e of first.extensions) {
    if (MAY_CHANGE_AFTER_HRR.includes(e.type)) continue;
    const again = findExtension(second.extensions, e.type);
    if (!again || !equalBytes(again, e.data)) fail(AlertDescription.illegal_parameter, `ClientHello2 changed or dropped extension ${e.type}`);
  }
  for (const e of second.extensions) {
    const added = findExtension(first.extensions, e.type) === undefined;
    if (added && e.type !== ExtensionType.cookie && e.type !== ExtensionType.padding && e.type !== ExtensionType.key_share) {
      fail(AlertDescription.illegal_parameter, `ClientHello2 adds extension ${e.type}`);
    }
  }
}

async function onClientCertificate(n: Negotiated, msg: HandshakeMessage): Promise<ServerState> {
  const cert = decodeCertificate(msg.body);
  if (cert.context.length !== 0) fail(AlertDescription.illegal_parameter, 'client Certificate context does not match the request');
  for (const e of cert.entries) checkExtensions('CT', e.extensions, new Set());
  n.transcript.update(msg.raw);
  const auth = n.cfg.clientAuth;
  if (cert.entries.length === 0) {
    if (auth?.required) fail(AlertDescription.certificate_required, 'client sent no certificate');
    return { kind: 'ExpectFinished', n };
  }
  const chain = cert.entries.map((e) => e.certData);
  const peer = await (auth as NonNullable<typeof auth>).verifier.verify(chain, { purpose: 'clientAuth', now: n.cfg.now() });
  return { kind: 'ExpectCertificateVerify', n: { ...n, peerChain: chain, peer } };
}

async function onClientCertificateVerify(n: Negotiated, msg: HandshakeMessage): Promise<ServerState> {
  const cv = decodeCertificateVerify(msg.body);
  const scheme = await verifyPeerSignature(n.cfg.provider, n.cfg.signatureSchemes, n.peer as PeerIdentity, cv, 'client', n.transcript.hash());
  n.transcript.update(msg.raw);
  return { kind: 'ExpectFinished', n: { ...n, peerScheme: scheme } };
}

async function onClientFinished(n: Negotiated, msg: HandshakeMessage, out: Outbox): Promise<ServerState> {
  const p = n.cfg.provider;
  const verifyData = decodeFinished(msg.body, n.suite.hashLength);
  const expected = await finishedVerifyData(p, n.suite, n.stage.clientSecret, n.transcript.hash());
  if (!constantTimeEqual(expected, verifyData)) fail(AlertDescription.decrypt_error, 'client Finished does not verify');
  n.transcript.update(msg.raw);
  out.read('application', n.suite, n.master.clientSecret);
  const peerCertificates = n.resumed ? n.resumed.peerCertificates : n.peerChain ?? [];
  const info: HandshakeInfo = { ...n.base, peerSignatureScheme: n.peerScheme, peerCertificates };
  out.actions.push({ kind: 'complete', info });
  const resumptionSecret = await resumptionMasterSecret(p, n.suite, n.master.master, n.transcript.hash());
  const tickets = n.wantsTickets ? await issueTickets(n.cfg, n.suite, resumptionSecret, { alpn: info.alpn, serverName: info.serverName, peerCertificates }) : [];
  for (const nst of tickets) {
    out.send('application', nst);
  }
  return {
    kind: 'Connected',
    role: 'server',
    provider: p,
    suite: n.suite,
    info,
    exporterSecret: n.master.exporterSecret,
    resumptionSecret,
    readSecret: n.master.clientSecret,
    writeSecret: n.master.serverSecret,
    quic: n.quic,
  };
}
