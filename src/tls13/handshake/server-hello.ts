import { AlertDescription } from '../../errors.js';
import { constantTimeEqual, equalBytes } from '../../bytes.js';
import { groupName, type NamedGroup, type SignatureScheme } from '../../pq/ids.js';
import { cipherSuiteInfo, type CipherSuiteInfo } from '../cipher-suites.js';
import type { ResolvedServer } from '../config.js';
import { ExtensionType, HRR_RANDOM, TLS13 } from '../constants.js';
import {
  encodeCertificate, encodeCertificateRequest, encodeCertificateVerify, encodeEncryptedExtensions, encodeFinished,
} from '../messages/certificate.js';
import {
  EMPTY, decodeRecordSizeLimit, encodeRecordSizeLimit, decodeAlpn, decodeCookie, decodeKeyShareClient, decodeServerName, decodeSupportedVersionsClient, decodeU16List,
  encodeAlpn, encodeCookie, encodeKeyShareHrr, encodeKeyShareServer, encodeSupportedVersionsServer, encodeU16List,
  findExtension, type Extension, type KeyShareEntry,
} from '../messages/extensions.js';
import type { HandshakeMessage } from '../messages/handshake.js';
import { decodeClientHello, encodeServerHello, type ClientHello } from '../messages/hello.js';
import { encodeSelectedIdentity } from '../messages/psk.js';
import { Transcript } from '../transcript.js';
import { acceptPsk, clientWantsTickets, type AcceptedPsk } from './server-psk.js';
import { KeyLogLabel, certificateVerifyContent, chooseScheme, fail, isPkcs1, type Outbox } from './common.js';
import { HandshakeKeySchedule, finishedVerifyData, type HandshakeStage, type MasterStage } from './secrets.js';
import type { ExpectClientHello, Negotiated, ServerState } from './server.js';

/*
 * The server's answer to a ClientHello (RFC 8446 §4.1), in the order it is decided:
 * check the hello → choose suite, key share and client options → resume a ticket or
 * not, or ask for another hello (HelloRetryRequest) → ServerHello and the handshake
 * keys → EncryptedExtensions → Certificate and CertificateVerify (full handshake
 * only) → Finished and the application keys.
 */

/** A ClientHello that passed the checks any TLS 1.3 ClientHello must. */
interface CheckedHello {
  readonly ch: ClientHello;
  /** Whether it carries pre_shared_key, which relaxes what else it must carry (§9.2). */
  readonly offersPsk: boolean;
}

/** A client key share for one of our groups. */
interface ChosenShare {
  readonly group: NamedGroup;
  readonly share: Uint8Array;
}

/** What the server settles from the ClientHello before it looks at any PSK. */
interface Parameters {
  readonly suite: CipherSuiteInfo;
  /** The client's share for our most preferred group it sent one for; none means HelloRetryRequest or psk_ke. */
  readonly share: ChosenShare | undefined;
  /** The groups both sides support, in our order. */
  readonly mutual: readonly NamedGroup[];
  readonly serverName: string | undefined;
  readonly alpn: string | undefined;
  /** QUIC only: the client's quic_transport_parameters. */
  readonly peerTransportParameters: Uint8Array | undefined;
}

/** No usable key share: ask for one for `group` (§4.1.4). */
interface Retry {
  readonly kind: 'retry';
  readonly group: NamedGroup;
}

/** A full handshake: we authenticate by signing with `scheme`, over an (EC)DHE/KEM exchange. */
interface Full {
  readonly kind: 'full';
  readonly psk: undefined;
  readonly scheme: SignatureScheme;
  readonly dhe: ChosenShare;
}

/** A resumption of the ticket in `psk`; psk_ke has no key exchange. */
interface Resume {
  readonly kind: 'resume';
  readonly psk: AcceptedPsk;
  readonly scheme: undefined;
  readonly dhe: ChosenShare | undefined;
}

/** What the ServerHello step leaves: the transcript through ServerHello and the handshake secrets. */
interface HandshakeKeys {
  readonly transcript: Transcript;
  readonly stage: HandshakeStage;
}

export async function onClientHello(state: ExpectClientHello, msg: HandshakeMessage, out: Outbox): Promise<ServerState> {
  const { cfg, quic, hrr } = state;
  const hello = readClientHello(msg);
  const { ch } = hello;
  const params = chooseParameters(state, hello);
  const d = await decideResumption(state, hello, params, msg);
  if (d.kind === 'retry') {
    // Any 0-RTT data behind this ClientHello is rejected: skip it (§4.2.10).
    if (findExtension(ch.extensions, ExtensionType.early_data)) out.actions.push({ kind: 'skipEarlyData', maxBytes: cfg.earlyData?.maxSize ?? 1 << 14 });
    return helloRetry(state, ch, msg, params.suite, d.group, out);
  }
  const { suite } = params;
  const { transcript, stage } = await sendServerHello(state, ch, msg, suite, d, out);
  sendEncryptedExtensions(state, ch, params, d, transcript, out);
  if (d.kind === 'full') await sendCertificateFlight(cfg, transcript, d.scheme, out);
  const master = await sendServerFinished(cfg, suite, transcript, stage, out);

  const earlyOffered = findExtension(ch.extensions, ExtensionType.early_data) !== undefined;
  const n: Negotiated = {
    cfg, suite, transcript, stage, master, quic: quic !== undefined, ...(quic?.earlyDataContext ? { quicContext: quic.earlyDataContext } : {}),
    wantsTickets: clientWantsTickets(cfg, ch.extensions),
    base: {
      version: 'TLSv1.3', cipherSuite: suite, group: d.dhe?.group, signatureScheme: d.scheme, alpn: params.alpn,
      serverName: params.serverName, helloRetryRequest: hrr !== undefined, resumed: d.psk !== undefined,
      peerTransportParameters: params.peerTransportParameters,
      earlyData: !earlyOffered ? 'none' : d.psk?.earlyData ? 'accepted' : 'rejected',
    },
  };
  if (d.kind === 'full') {
    return cfg.clientAuth
      ? { kind: 'ExpectCertificate', n: { ...n, clientAuth: cfg.clientAuth } }
      : { kind: 'ExpectFinished', n: { ...n, peerCertificates: [], peerSignatureScheme: undefined } };
  }
  // A resumption authenticates by the ticket: the peer is the one it was issued to.
  const resumed = { ...n, peerCertificates: d.psk.state.peerCertificates, peerSignatureScheme: undefined };
  // RFC 9001 §8.3: QUIC has no EndOfEarlyData; 0-RTT packets end when 1-RTT ones begin.
  return d.psk.earlyData && !quic ? { kind: 'ExpectEndOfEarlyData', n: resumed } : { kind: 'ExpectFinished', n: resumed };
}

/** Decodes the ClientHello and applies the checks that do not depend on our configuration. */
function readClientHello(msg: HandshakeMessage): CheckedHello {
  const ch = decodeClientHello(msg.body);
  const versions = findExtension(ch.extensions, ExtensionType.supported_versions);
  if (!versions || !decodeSupportedVersionsClient(versions).includes(TLS13)) {
    fail(AlertDescription.protocol_version, 'client does not offer TLS 1.3');
  }
  // §4.1.2: a TLS 1.3 ClientHello has extensions<8..2^16-1>. Checked only now: an older version's
  // hello may carry fewer bytes (or none) and is owed protocol_version, not decode_error.
  if (ch.extensions.reduce((n, e) => n + 4 + e.data.length, 0) < 8) fail(AlertDescription.decode_error, 'ClientHello extensions shorter than 8 bytes');
  // §4.2.10: in a ClientHello, early_data is `struct {} Empty`.
  if (findExtension(ch.extensions, ExtensionType.early_data)?.length) fail(AlertDescription.decode_error, 'early_data in ClientHello must be empty');
  // §4.2.11: pre_shared_key, if present, must be the last extension.
  const pskIndex = ch.extensions.findIndex((e) => e.type === ExtensionType.pre_shared_key);
  if (pskIndex !== -1 && pskIndex !== ch.extensions.length - 1) fail(AlertDescription.illegal_parameter, 'pre_shared_key is not the last extension');
  return { ch, offersPsk: pskIndex !== -1 };
}

/** Suite, key share and the client's options (SNI, ALPN, QUIC transport parameters). */
function chooseParameters(state: ExpectClientHello, hello: CheckedHello): Parameters {
  const { cfg, quic, hrr } = state;
  const { ch } = hello;
  const suite = hrr?.suite ?? chooseSuite(cfg, ch);
  if (hrr && !ch.cipherSuites.includes(hrr.suite.id)) fail(AlertDescription.illegal_parameter, 'ClientHello2 dropped the selected cipher suite');
  if (hrr && !equalBytes(ch.legacySessionId, hrr.sessionId)) fail(AlertDescription.illegal_parameter, 'ClientHello2 changed legacy_session_id');
  if (hrr) checkSecondHello(hrr.first, ch);
  const { clientGroups, shares } = keyShares(hello);
  const mutual = cfg.groups.filter((g) => clientGroups.includes(g));
  const share = chooseShare(state, ch, shares);

  const sni = findExtension(ch.extensions, ExtensionType.server_name);
  const serverName = sni ? decodeServerName(sni) : undefined;
  const alpn = chooseAlpn(cfg, ch.extensions, quic !== undefined);
  const peerTransportParameters = findExtension(ch.extensions, ExtensionType.quic_transport_parameters);
  if (quic && !peerTransportParameters) fail(AlertDescription.missing_extension, 'QUIC client sent no quic_transport_parameters');
  return { suite, share, mutual, serverName, alpn, peerTransportParameters };
}

/** The client's supported_groups and key shares, checked against each other. */
function keyShares(hello: CheckedHello): { clientGroups: readonly number[]; shares: readonly KeyShareEntry[] } {
  const { ch, offersPsk } = hello;
  // Without a PSK, supported_groups and key_share are mandatory (§9.2); with one they may be absent (psk_ke).
  const groupsExt = offersPsk ? findExtension(ch.extensions, ExtensionType.supported_groups) : required(ch.extensions, ExtensionType.supported_groups, 'supported_groups');
  const sharesExt = offersPsk ? findExtension(ch.extensions, ExtensionType.key_share) : required(ch.extensions, ExtensionType.key_share, 'key_share');
  if ((groupsExt === undefined) !== (sharesExt === undefined)) fail(AlertDescription.missing_extension, 'supported_groups and key_share must come together');
  const clientGroups = groupsExt ? decodeU16List(groupsExt, 'supported_groups') : [];
  const shares = sharesExt ? decodeKeyShareClient(sharesExt) : [];
  for (const s of shares) {
    if (!clientGroups.includes(s.group)) fail(AlertDescription.illegal_parameter, `key share for ${groupName(s.group)}, which is not in supported_groups`);
  }
  return { clientGroups, shares };
}

/** The share to use: after HRR exactly the one asked for; otherwise the one for our most preferred group. */
function chooseShare(state: ExpectClientHello, ch: ClientHello, shares: readonly KeyShareEntry[]): ChosenShare | undefined {
  const { cfg, hrr } = state;
  if (hrr) {
    const cookie = findExtension(ch.extensions, ExtensionType.cookie);
    if (hrr.cookie && (!cookie || !constantTimeEqual(decodeCookie(cookie), hrr.cookie))) {
      fail(AlertDescription.illegal_parameter, 'ClientHello2 does not echo the cookie');
    }
    // §4.1.2: after HRR the client sends exactly one share, for the group asked for.
    const only = shares[0];
    if (shares.length !== 1 || only?.group !== hrr.group) fail(AlertDescription.illegal_parameter, 'ClientHello2 key_share is not the requested group');
    return { group: hrr.group, share: only.share };
  }
  for (const group of cfg.groups) {
    const s = shares.find((e) => e.group === group);
    if (s) return { group, share: s.share };
  }
  return undefined;
}

/**
 * Resumes a ticket if one is acceptable, else a full handshake if we can sign for the
 * client; without a usable key share either way, asks for one (HelloRetryRequest).
 */
async function decideResumption(
  state: ExpectClientHello, hello: CheckedHello, params: Parameters, msg: HandshakeMessage,
): Promise<Retry | Full | Resume> {
  const { cfg, hrr } = state;
  const { ch } = hello;
  const { share } = params;
  const psk = await acceptPsk(cfg, ch.extensions, msg, params.suite, hrr?.transcript, share !== undefined, params.alpn, state.quic && (state.quic.earlyDataContext ?? new Uint8Array(0)));
  if (psk?.mode === 'psk_ke') return { kind: 'resume', psk, scheme: undefined, dhe: undefined };
  if (!share) {
    const group = params.mutual[0];
    if (group === undefined) fail(AlertDescription.handshake_failure, 'no key-exchange group in common');
    if (hrr) fail(AlertDescription.illegal_parameter, 'ClientHello2 without a usable key share');
    return { kind: 'retry', group };
  }
  if (psk) return { kind: 'resume', psk, scheme: undefined, dhe: share };
  const clientSchemes = decodeU16List(required(ch.extensions, ExtensionType.signature_algorithms, 'signature_algorithms'), 'signature_algorithms');
  const scheme = chooseScheme(cfg.certificate.keyAlgorithm, cfg.signatureSchemes, clientSchemes, cfg.certificate.rsaPss);
  if (scheme === undefined) fail(AlertDescription.handshake_failure, `client accepts no signature scheme for our ${cfg.certificate.keyAlgorithm} key`);
  return { kind: 'full', psk: undefined, scheme, dhe: share };
}

/** Completes the key exchange, sends ServerHello and installs the handshake keys (and the early read key). */
async function sendServerHello(
  state: ExpectClientHello, ch: ClientHello, msg: HandshakeMessage, suite: CipherSuiteInfo, d: Full | Resume, out: Outbox,
): Promise<HandshakeKeys> {
  const { cfg, quic, hrr } = state;
  const p = cfg.provider;
  const { psk, dhe } = d;
  const kex = dhe ? await p.keyExchange(dhe.group).encapsulate(dhe.share) : undefined;
  const random = await p.random(32);
  const shExts: Extension[] = [];
  if (psk) shExts.push({ type: ExtensionType.pre_shared_key, data: encodeSelectedIdentity(psk.index) });
  if (kex && dhe) shExts.push({ type: ExtensionType.key_share, data: encodeKeyShareServer({ group: dhe.group, share: kex.share }) });
  shExts.push({ type: ExtensionType.supported_versions, data: encodeSupportedVersionsServer(TLS13) });
  const sh = encodeServerHello({ random, legacySessionIdEcho: ch.legacySessionId, cipherSuite: suite.id, extensions: shExts });
  const transcript = hrr?.transcript ?? Transcript.buffered().start(p, suite.hash);
  transcript.update(msg.raw);
  out.setClientRandom(ch.random);
  await answerEarlyData(cfg, ch, psk, suite, transcript, out);
  transcript.update(sh);
  out.send('initial', sh);
  if (ch.legacySessionId.length && !quic && !hrr) out.changeCipherSpec();

  const ks = psk ? psk.schedule : await HandshakeKeySchedule.start(p, suite);
  const stage = await ks.handshake(kex?.secret ?? null, transcript.hash());
  out.log(KeyLogLabel.clientHandshake, stage.clientSecret);
  out.log(KeyLogLabel.serverHandshake, stage.serverSecret);
  out.write('handshake', suite, stage.serverSecret);
  if (!psk?.earlyData || quic) out.read('handshake', suite, stage.clientSecret);
  return { transcript, stage };
}

/** Tells the driver what to do with any 0-RTT data behind the ClientHello: read it, or skip it. */
async function answerEarlyData(
  cfg: ResolvedServer, ch: ClientHello, psk: AcceptedPsk | undefined, suite: CipherSuiteInfo, transcript: Transcript, out: Outbox,
): Promise<void> {
  if (psk?.earlyData) {
    // §4.2.10: the early data that follows the ClientHello is read under client_early_traffic_secret.
    const early = await psk.schedule.clientEarlyTrafficSecret(transcript.hash());
    out.log(KeyLogLabel.clientEarly, early);
    out.read('early', suite, early);
    out.actions.push({ kind: 'acceptEarlyData', maxBytes: psk.state.maxEarlyData });
  } else if (findExtension(ch.extensions, ExtensionType.early_data) !== undefined) {
    // Rejected 0-RTT: skip what cannot be decrypted, up to the size we would have accepted.
    out.actions.push({ kind: 'skipEarlyData', maxBytes: cfg.earlyData?.maxSize ?? 1 << 14 });
  }
}

function sendEncryptedExtensions(
  state: ExpectClientHello, ch: ClientHello, params: Parameters, d: Full | Resume, transcript: Transcript, out: Outbox,
): void {
  const { cfg, quic } = state;
  let ee: Extension[] = [];
  if (params.serverName !== undefined) ee.push({ type: ExtensionType.server_name, data: EMPTY });
  const rsl = quic ? undefined : findExtension(ch.extensions, ExtensionType.record_size_limit);
  if (rsl) {
    // RFC 8449 §4: the client's limit binds our records from EncryptedExtensions on; we answer with ours.
    out.actions.push({ kind: 'peerRecordSizeLimit', limit: decodeRecordSizeLimit(rsl) });
    ee.push({ type: ExtensionType.record_size_limit, data: encodeRecordSizeLimit(cfg.recordSizeLimit) });
  }
  if (params.alpn !== undefined) ee.push({ type: ExtensionType.application_layer_protocol_negotiation, data: encodeAlpn([params.alpn]) });
  if (quic) {
    const tp = typeof quic.transportParameters === 'function' ? quic.transportParameters(params.peerTransportParameters as Uint8Array) : quic.transportParameters;
    ee.push({ type: ExtensionType.quic_transport_parameters, data: tp });
  }
  if (d.psk?.earlyData) ee.push({ type: ExtensionType.early_data, data: EMPTY });
  ee = cfg.traceHooks?.encryptedExtensions?.(ee) ?? ee;
  sendHs(out, transcript, encodeEncryptedExtensions(ee));
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
  sendHs(out, transcript, certificateMessage(cfg.certificate));
  const sig = await cfg.provider.sign(scheme, cfg.certificate.privateKey, certificateVerifyContent('server', transcript.hash()));
  sendHs(out, transcript, encodeCertificateVerify({ scheme, signature: sig }));
}

/** Our Finished, then the application secrets: the server writes under them at once (§4.4.4, 0.5-RTT). */
async function sendServerFinished(
  cfg: ResolvedServer, suite: CipherSuiteInfo, transcript: Transcript, stage: HandshakeStage, out: Outbox,
): Promise<MasterStage> {
  sendHs(out, transcript, encodeFinished(await finishedVerifyData(cfg.provider, suite, stage.serverSecret, transcript.hash())));
  const master = await stage.master(transcript.hash());
  out.log(KeyLogLabel.serverTraffic0, master.serverSecret);
  out.log(KeyLogLabel.clientTraffic0, master.clientSecret);
  out.log(KeyLogLabel.exporter, master.exporterSecret);
  out.write('application', suite, master.serverSecret);
  return master;
}

/**
 * A server's Certificate message is the same in every full handshake (empty
 * request context, no per-entry extensions), so each configured certificate's
 * is encoded once, not per handshake (an ML-DSA-65 chain of two is 11 KB,
 * which the encoder grew and copied several times over). Keyed by the
 * certificate object, and checked against the chain it was made from, entry by
 * entry, so a chain swapped in place is encoded afresh. Sent and hashed as is,
 * never written to.
 */
const CERTIFICATE_MESSAGES = new WeakMap<ResolvedServer['certificate'], { readonly chain: readonly Uint8Array[]; readonly message: Uint8Array }>();

function certificateMessage(certificate: ResolvedServer['certificate']): Uint8Array {
  const { chain } = certificate;
  const cached = CERTIFICATE_MESSAGES.get(certificate);
  if (cached && cached.chain.length === chain.length && cached.chain.every((c, i) => c === chain[i])) return cached.message;
  const message = encodeCertificate({ context: new Uint8Array(0), entries: chain.map((c) => ({ certData: c, extensions: [] })) });
  CERTIFICATE_MESSAGES.set(certificate, { chain: [...chain], message });
  return message;
}

function sendHs(out: Outbox, transcript: Transcript, msg: Uint8Array): void {
  transcript.update(msg);
  out.send('handshake', msg);
}

function required(exts: readonly Extension[], type: number, name: string): Uint8Array {
  const e = findExtension(exts, type);
  if (!e) fail(AlertDescription.missing_extension, `ClientHello without ${name}`);
  return e;
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
  state: ExpectClientHello, ch: ClientHello, msg: HandshakeMessage, suite: CipherSuiteInfo, group: NamedGroup, out: Outbox,
): Promise<ExpectClientHello> {
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
