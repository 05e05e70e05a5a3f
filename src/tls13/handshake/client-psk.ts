import { cipherSuiteInfo, type CipherSuiteInfo } from '../cipher-suites.js';
import type { ResolvedClient } from '../config.js';
import { ExtensionType } from '../constants.js';
import { encodePskModes, type Extension } from '../messages/extensions.js';
import { encodeClientHello, type ClientHello } from '../messages/hello.js';
import { EMPTY } from '../messages/extensions.js';
import { bindersLength, encodeOfferedPsks, PskMode, type NewSessionTicket } from '../messages/psk.js';
import { decodeMaxEarlyData } from '../messages/psk.js';
import { findExtension } from '../messages/extensions.js';
import { sessionUsable, type Session } from '../session.js';
import type { Transcript } from '../transcript.js';
import { HandshakeKeySchedule, ticketPskFor } from './secrets.js';

/** A session the client offers in its ClientHello (RFC 8446 §4.2.11). */
export interface PskOffer {
  readonly session: Session;
  /** The session's suite: its hash binds the PSK. */
  readonly suite: CipherSuiteInfo;
  /** Early secret from the PSK, for the binder and the early traffic secret. */
  readonly schedule: HandshakeKeySchedule;
  /** Whether early data is offered with it (0-RTT). */
  readonly earlyData: boolean;
}

/** The key a client's sessions are stored under. */
export const sessionKey = (cfg: ResolvedClient): string => cfg.serverName ?? '';

/** Takes a usable session from the store, if any, and prepares to offer it. */
export async function preparePskOffer(cfg: ResolvedClient, quic: { readonly earlyData?: boolean } | undefined): Promise<PskOffer | undefined> {
  if (!cfg.sessionStore) return undefined;
  const now = cfg.now();
  const session = await cfg.sessionStore.take(sessionKey(cfg), now);
  if (!session || !sessionUsable(session, now) || !cfg.cipherSuites.includes(session.suite)) return undefined;
  const suite = cipherSuiteInfo(session.suite) as CipherSuiteInfo;
  // §4.2.10: 0-RTT needs the ticket's permission, room for the data, and the ALPN of the original connection.
  const data = cfg.earlyData;
  const alpnOk = session.alpn === cfg.alpnProtocols[0];
  // RFC 9001 §4.6.1: over QUIC a ticket allows 0-RTT with max_early_data_size 0xffffffff and nothing else,
  // and the data is STREAM frames bounded by the remembered transport parameters, which must be there.
  const earlyData = quic
    ? quic.earlyData === true && session.maxEarlyData === 0xffffffff && session.quicTransportParameters !== undefined && alpnOk
    : data !== undefined && data.length > 0 && data.length <= session.maxEarlyData && alpnOk;
  return { session, suite, schedule: await HandshakeKeySchedule.start(cfg.provider, suite, session.psk), earlyData };
}

/** psk_key_exchange_modes, early_data (if offered) and pre_shared_key, which must come last (§4.2.11). */
export function pskExtensions(cfg: ResolvedClient, offer: PskOffer, earlyData: boolean): Extension[] {
  const modes = cfg.pskModes.map((m) => PskMode[m]);
  const age = (Math.max(0, cfg.now() - offer.session.receivedAt) + offer.session.ageAdd) % 2 ** 32;
  const exts: Extension[] = [{ type: ExtensionType.psk_key_exchange_modes, data: encodePskModes(modes) }];
  if (earlyData) exts.push({ type: ExtensionType.early_data, data: EMPTY });
  exts.push({
    type: ExtensionType.pre_shared_key,
    data: encodeOfferedPsks({
      identities: [{ identity: offer.session.ticket, obfuscatedTicketAge: age }],
      binders: [new Uint8Array(offer.suite.hashLength)],
    }),
  });
  return exts;
}

/**
 * Encodes a ClientHello whose last extension is pre_shared_key with a
 * placeholder binder, then fills in the real binder: an HMAC over the
 * transcript up to the truncated ClientHello (§4.2.11.2). After a
 * HelloRetryRequest `prefix` holds message_hash(ClientHello1) and the HRR.
 */
export async function encodeHelloWithBinder(
  cfg: ResolvedClient, ch: ClientHello, offer: PskOffer, prefix: Transcript | undefined,
): Promise<Uint8Array> {
  const bytes = encodeClientHello(ch);
  const binderLen = offer.suite.hashLength;
  const truncated = bytes.subarray(0, bytes.length - bindersLength([new Uint8Array(binderLen)]));
  const th = prefix ? prefix.hashWith(truncated) : cfg.provider.hash(offer.suite.hash).digest(truncated);
  bytes.set(await offer.schedule.binder(th), bytes.length - binderLen);
  return bytes;
}

/** Turns a NewSessionTicket into a stored session (§4.6.1). */
export async function sessionFromTicket(
  cfg: ResolvedClient, suite: CipherSuiteInfo, resumptionSecret: Uint8Array, nst: NewSessionTicket,
  original: { readonly alpn: string | undefined; readonly peerCertificates: readonly Uint8Array[]; readonly peerSignatureScheme: number | undefined },
): Promise<Session> {
  const ed = findExtension(nst.extensions, ExtensionType.early_data);
  return {
    ticket: nst.ticket,
    suite: suite.id,
    psk: await ticketPskFor(cfg.provider, suite, resumptionSecret, nst.nonce),
    receivedAt: cfg.now(),
    lifetime: nst.lifetime,
    ageAdd: nst.ageAdd,
    maxEarlyData: ed ? decodeMaxEarlyData(ed) : 0,
    ...original,
  };
}
