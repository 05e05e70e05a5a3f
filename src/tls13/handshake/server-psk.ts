import { AlertDescription, DecodeError } from '../../errors.js';
import { constantTimeEqual } from '../../bytes.js';
import { cipherSuiteInfo, type CipherSuiteInfo } from '../cipher-suites.js';
import type { ResolvedServer } from '../config.js';
import { ExtensionType } from '../constants.js';
import { decodePskModes, findExtension, type Extension } from '../messages/extensions.js';
import type { HandshakeMessage } from '../messages/handshake.js';
import { bindersLength, decodeOfferedPsks, encodeMaxEarlyData, encodeNewSessionTicket, PskMode } from '../messages/psk.js';
import { decodeTicketState, encodeTicketState, type TicketState } from '../tickets.js';
import type { Transcript } from '../transcript.js';
import { fail } from './common.js';
import { HandshakeKeySchedule, ticketPskFor } from './secrets.js';

/** A ticket the server accepted for this handshake (RFC 8446 §4.2.11). */
export interface AcceptedPsk {
  readonly state: TicketState;
  readonly index: number;
  readonly mode: 'psk_dhe_ke' | 'psk_ke';
  readonly schedule: HandshakeKeySchedule;
  readonly earlyData: boolean;
}

/**
 * Looks for a ticket in the ClientHello that this server can resume. A ticket
 * that does not open, has expired, or whose suite hash differs is passed over
 * (a full handshake follows); a binder that does not verify ends the handshake
 * with decrypt_error (§4.2.11). `prefix` is the HRR transcript before
 * ClientHello2, if there was one.
 */
export async function acceptPsk(
  cfg: ResolvedServer, exts: readonly Extension[], msg: HandshakeMessage, suite: CipherSuiteInfo, prefix: Transcript | undefined,
  canDhe: boolean, alpn: string | undefined, quicContext?: Uint8Array,
): Promise<AcceptedPsk | undefined> {
  const ext = findExtension(exts, ExtensionType.pre_shared_key);
  if (!ext) return undefined;
  const modesExt = findExtension(exts, ExtensionType.psk_key_exchange_modes);
  // §4.2.9: a client offering a PSK must say which modes it allows, whether or not we resume.
  if (!modesExt) fail(AlertDescription.missing_extension, 'pre_shared_key without psk_key_exchange_modes');
  const modes = decodePskModes(modesExt);
  // Decoded even when we cannot resume, so a malformed offer (e.g. a binder count mismatch) is refused.
  const offered = decodeOfferedPsks(ext);
  if (!cfg.tickets) return undefined;
  const mode = modes.includes(PskMode.psk_dhe_ke) && cfg.pskModes.includes('psk_dhe_ke') && canDhe
    ? 'psk_dhe_ke'
    : modes.includes(PskMode.psk_ke) && cfg.pskModes.includes('psk_ke') ? 'psk_ke' : undefined;
  if (!mode) return undefined;
  const p = cfg.provider;
  const now = cfg.now();
  for (let i = 0; i < offered.identities.length; i++) {
    const id = offered.identities[i] as (typeof offered.identities)[number];
    const state = await openTicket(cfg, id.identity);
    if (!state) continue;
    const ticketSuite = cipherSuiteInfo(state.suite) as CipherSuiteInfo;
    const serverAge = now - state.issuedAt;
    if (ticketSuite.hash !== suite.hash || serverAge < 0 || serverAge > state.lifetime * 1000) continue;
    const truncated = msg.raw.subarray(0, msg.raw.length - bindersLength(offered.binders));
    const th = prefix ? prefix.hashWith(truncated) : p.hash(suite.hash).digest(truncated);
    const schedule = await HandshakeKeySchedule.start(p, suite, state.psk);
    if (!constantTimeEqual(await schedule.binder(th), offered.binders[i] as Uint8Array)) {
      fail(AlertDescription.decrypt_error, 'PSK binder does not verify');
    }
    const earlyData = await acceptEarlyData(
      cfg, exts, i, prefix !== undefined, state, suite, alpn, id.obfuscatedTicketAge, serverAge, offered.binders[i] as Uint8Array, quicContext,
    );
    return { state, index: i, mode, schedule, earlyData };
  }
  return undefined;
}

async function openTicket(cfg: ResolvedServer, ticket: Uint8Array): Promise<TicketState | undefined> {
  const plain = await cfg.tickets?.sealer.open(ticket);
  if (!plain) return undefined;
  try {
    return decodeTicketState(plain);
  } catch (e) {
    if (e instanceof DecodeError) return undefined;
    throw e;
  }
}

/**
 * 0-RTT is accepted only for the first identity, without HRR, for a ticket
 * that allows it with the same suite and ALPN (§4.2.10), when the client's view
 * of the ticket's age agrees with ours within the anti-replay window (§8.3) and
 * the ClientHello has not been seen before (§8.2). Over QUIC the ticket must
 * also carry the context we promise now (RFC 9001 §4.6.3), and a ticket from
 * QUIC is never good for TLS early data or the reverse.
 */
async function acceptEarlyData(
  cfg: ResolvedServer, exts: readonly Extension[], index: number, afterHrr: boolean, state: TicketState, suite: CipherSuiteInfo,
  alpn: string | undefined, obfuscatedAge: number, serverAge: number, binder: Uint8Array, quicContext: Uint8Array | undefined,
): Promise<boolean> {
  const ed = cfg.earlyData;
  if (!ed || index !== 0 || afterHrr || !findExtension(exts, ExtensionType.early_data)) return false;
  if (state.maxEarlyData === 0 || state.suite !== suite.id || state.alpn !== alpn) return false;
  if ((quicContext === undefined) !== (state.quicContext === undefined)) return false;
  if (quicContext && state.quicContext && !constantTimeEqual(quicContext, state.quicContext)) return false;
  const clientAge = (obfuscatedAge - state.ageAdd + 2 ** 32) % 2 ** 32;
  if (Math.abs(serverAge - clientAge) > ed.antiReplay.windowMs) return false;
  return ed.antiReplay.firstSeen(binder, cfg.now());
}

/**
 * Tickets are only worth sending to a client whose psk_key_exchange_modes
 * include one we accept (§4.2.9: servers SHOULD NOT send incompatible tickets).
 */
export function clientWantsTickets(cfg: ResolvedServer, exts: readonly Extension[]): boolean {
  const modes = findExtension(exts, ExtensionType.psk_key_exchange_modes);
  if (!cfg.tickets || !modes) return false;
  const offered = decodePskModes(modes);
  return cfg.pskModes.some((m) => offered.includes(PskMode[m]));
}

/** NewSessionTicket.ticket is `opaque ticket<1..2^16-1>` (RFC 8446 §4.6.1). */
const MAX_TICKET_LENGTH = 0xffff;

/** The NewSessionTicket messages a server sends after the handshake (§4.6.1). */
export async function issueTickets(
  cfg: ResolvedServer, suite: CipherSuiteInfo, resumptionSecret: Uint8Array,
  session: {
    readonly alpn: string | undefined; readonly serverName: string | undefined; readonly peerCertificates: readonly Uint8Array[];
    readonly quicContext?: Uint8Array;
  },
): Promise<Uint8Array[]> {
  const t = cfg.tickets;
  if (!t) return [];
  const p = cfg.provider;
  const out: Uint8Array[] = [];
  const maxEarlyData = cfg.earlyData?.maxSize ?? 0;
  // The client's chain is the peer's to size (up to the handshake message limit), and a ticket
  // is at most 2^16-1 bytes (§4.6.1): only the leaf, which identifies the client, goes in.
  const peerCertificates = session.peerCertificates.slice(0, 1);
  for (let i = 0; i < t.count; i++) {
    const nonce = new Uint8Array([i]);
    const r = await p.random(4);
    const ageAdd = (((r[0] as number) << 24) | ((r[1] as number) << 16) | ((r[2] as number) << 8) | (r[3] as number)) >>> 0;
    const state: TicketState = {
      suite: suite.id, psk: await ticketPskFor(p, suite, resumptionSecret, nonce), issuedAt: cfg.now(), lifetime: t.lifetime,
      ageAdd, maxEarlyData, ...session, peerCertificates,
    };
    const ticket = await t.sealer.seal(encodeTicketState(state));
    // A leaf too large to fit (or a sealer that pads too much) means no tickets: the connection is fine without them.
    if (ticket.length < 1 || ticket.length > MAX_TICKET_LENGTH) return out;
    out.push(encodeNewSessionTicket({
      lifetime: t.lifetime, ageAdd, nonce, ticket,
      extensions: maxEarlyData ? [{ type: ExtensionType.early_data, data: encodeMaxEarlyData(maxEarlyData) }] : [],
    }));
  }
  return out;
}
