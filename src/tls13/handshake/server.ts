import { AlertDescription } from '../../errors.js';
import { constantTimeEqual } from '../../bytes.js';
import type { NamedGroup, SignatureScheme } from '../../pq/ids.js';
import type { CipherSuiteInfo } from '../cipher-suites.js';
import type { PeerIdentity, ResolvedServer } from '../config.js';
import { HandshakeType } from '../constants.js';
import { decodeCertificate, decodeCertificateVerify, decodeFinished } from '../messages/certificate.js';
import type { HandshakeMessage } from '../messages/handshake.js';
import type { ClientHello } from '../messages/hello.js';
import type { Transcript } from '../transcript.js';
import { issueTickets } from './server-psk.js';
import { onClientHello } from './server-hello.js';
import { verifyPeerSignature } from './client.js';
import { Outbox, expectType, checkExtensions, fail, type HandshakeInfo, type Level } from './common.js';
import { handlePostHandshake, type Connected } from './post-handshake.js';
import { finishedVerifyData, resumptionMasterSecret, type HandshakeStage, type MasterStage } from './secrets.js';

/** Extra inputs a QUIC connection gives the server handshake (RFC 9001 §8). */
export interface ServerQuicParams {
  /**
   * Our transport parameters; a function is given the client's (encoded) first,
   * so that what we send can depend on them (compatible version negotiation, RFC 9368 §4).
   */
  readonly transportParameters: Uint8Array | ((clientTransportParameters: Uint8Array) => Uint8Array);
  /**
   * Sealed into our tickets and compared on resumption: 0-RTT is accepted only
   * with a ticket whose context equals this one, so that a client's remembered
   * transport parameters still hold (RFC 9001 §4.6.3, RFC 9000 §7.4.1).
   */
  readonly earlyDataContext?: Uint8Array;
}

/** What the server remembers across its HelloRetryRequest (stateful HRR). */
export interface AfterHrr {
  readonly suite: CipherSuiteInfo;
  readonly group: NamedGroup;
  readonly transcript: Transcript;
  readonly sessionId: Uint8Array;
  readonly cookie: Uint8Array | undefined;
  /** ClientHello1, which ClientHello2 must repeat but for the changes §4.1.2 permits. */
  readonly first: ClientHello;
}

export interface ExpectClientHello {
  readonly kind: 'ExpectClientHello';
  readonly cfg: ResolvedServer;
  readonly quic: ServerQuicParams | undefined;
  /** Set once we have sent a HelloRetryRequest and wait for ClientHello2. */
  readonly hrr: AfterHrr | undefined;
}

/** What every state after our first flight knows: all secrets up to the application ones, and what to report. */
export interface Negotiated {
  readonly cfg: ResolvedServer;
  readonly suite: CipherSuiteInfo;
  readonly transcript: Transcript;
  readonly stage: HandshakeStage;
  readonly master: MasterStage;
  /** Whether the client's psk_key_exchange_modes allow a ticket we would accept (§4.2.9). */
  readonly wantsTickets: boolean;
  readonly base: Omit<HandshakeInfo, 'peerSignatureScheme' | 'peerCertificates'>;
  readonly quic: boolean;
  /** QUIC: the early-data context our tickets carry. */
  readonly quicContext?: Uint8Array;
}

/** A full handshake in which we sent a CertificateRequest. */
interface ExpectCertificate extends Negotiated {
  readonly clientAuth: NonNullable<ResolvedServer['clientAuth']>;
}

interface ExpectCertificateVerify extends Negotiated {
  readonly peerChain: readonly Uint8Array[];
  readonly peer: PeerIdentity;
}

/** The peer is settled: by its certificate, by the resumed ticket, or as anonymous (no certificate). */
interface ExpectFinished extends Negotiated {
  readonly peerCertificates: readonly Uint8Array[];
  readonly peerSignatureScheme: SignatureScheme | undefined;
}

/** The record each state after our first flight holds. */
interface Records {
  /** 0-RTT accepted: the peer is the ticket's, as in ExpectFinished; EndOfEarlyData comes first. */
  ExpectEndOfEarlyData: ExpectFinished;
  ExpectCertificate: ExpectCertificate;
  ExpectCertificateVerify: ExpectCertificateVerify;
  ExpectFinished: ExpectFinished;
}

type In<K extends keyof Records> = { readonly kind: K; readonly n: Records[K] };

/** Server handshake states (RFC 8446 Appendix A.2). */
export type ServerState =
  | ExpectClientHello
  | In<'ExpectEndOfEarlyData'>
  | In<'ExpectCertificate'>
  | In<'ExpectCertificateVerify'>
  | In<'ExpectFinished'>
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

/** EndOfEarlyData (§4.5) ends the early data; the client's handshake key follows it. */
function onEndOfEarlyData(n: ExpectFinished, msg: HandshakeMessage, out: Outbox): In<'ExpectFinished'> {
  if (msg.body.length !== 0) fail(AlertDescription.decode_error, 'EndOfEarlyData is not empty');
  n.transcript.update(msg.raw);
  out.read('handshake', n.suite, n.stage.clientSecret);
  return { kind: 'ExpectFinished', n };
}

async function onClientCertificate(n: ExpectCertificate, msg: HandshakeMessage): Promise<In<'ExpectFinished'> | In<'ExpectCertificateVerify'>> {
  const cert = decodeCertificate(msg.body);
  if (cert.context.length !== 0) fail(AlertDescription.illegal_parameter, 'client Certificate context does not match the request');
  for (const e of cert.entries) checkExtensions('CT', e.extensions, new Set());
  n.transcript.update(msg.raw);
  if (cert.entries.length === 0) {
    if (n.clientAuth.required) fail(AlertDescription.certificate_required, 'client sent no certificate');
    return { kind: 'ExpectFinished', n: { ...n, peerCertificates: [], peerSignatureScheme: undefined } };
  }
  const chain = cert.entries.map((e) => e.certData);
  const peer = await n.clientAuth.verifier.verify(chain, { purpose: 'clientAuth', now: n.cfg.now() });
  return { kind: 'ExpectCertificateVerify', n: { ...n, peerChain: chain, peer } };
}

async function onClientCertificateVerify(n: ExpectCertificateVerify, msg: HandshakeMessage): Promise<In<'ExpectFinished'>> {
  const cv = decodeCertificateVerify(msg.body);
  const scheme = await verifyPeerSignature(n.cfg.provider, n.cfg.signatureSchemes, n.peer, cv, 'client', n.transcript.hash());
  n.transcript.update(msg.raw);
  return { kind: 'ExpectFinished', n: { ...n, peerCertificates: n.peerChain, peerSignatureScheme: scheme } };
}

async function onClientFinished(n: ExpectFinished, msg: HandshakeMessage, out: Outbox): Promise<Connected> {
  const p = n.cfg.provider;
  const verifyData = decodeFinished(msg.body, n.suite.hashLength);
  const expected = await finishedVerifyData(p, n.suite, n.stage.clientSecret, n.transcript.hash());
  if (!constantTimeEqual(expected, verifyData)) fail(AlertDescription.decrypt_error, 'client Finished does not verify');
  n.transcript.update(msg.raw);
  out.read('application', n.suite, n.master.clientSecret);
  const { peerCertificates } = n;
  const info: HandshakeInfo = { ...n.base, peerSignatureScheme: n.peerSignatureScheme, peerCertificates };
  out.actions.push({ kind: 'complete', info });
  const resumptionSecret = await resumptionMasterSecret(p, n.suite, n.master.master, n.transcript.hash());
  const tickets = n.wantsTickets ? await issueTickets(n.cfg, n.suite, resumptionSecret, {
    alpn: info.alpn, serverName: info.serverName, peerCertificates, ...(n.quicContext ? { quicContext: n.quicContext } : {}),
  }) : [];
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
