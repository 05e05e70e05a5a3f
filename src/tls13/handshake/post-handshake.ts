import { AlertDescription } from '../../errors.js';
import type { CryptoProvider } from '../../pq/provider.js';
import type { CipherSuiteInfo } from '../cipher-suites.js';
import { HandshakeType } from '../constants.js';
import { decodeKeyUpdate, encodeKeyUpdate } from '../messages/certificate.js';
import { decodeNewSessionTicket, type NewSessionTicket } from '../messages/psk.js';
import type { HandshakeMessage } from '../messages/handshake.js';
import { checkExtensions, fail, type HandshakeInfo, type Outbox } from './common.js';
import { exportKeyingMaterial, nextTrafficSecret } from './secrets.js';

/** After the handshake (RFC 8446 §4.6): key updates, tickets, exporters. */
export interface Connected {
  readonly kind: 'Connected';
  readonly role: 'client' | 'server';
  readonly provider: CryptoProvider;
  readonly suite: CipherSuiteInfo;
  readonly info: HandshakeInfo;
  readonly exporterSecret: Uint8Array;
  readonly resumptionSecret: Uint8Array;
  readonly readSecret: Uint8Array;
  readonly writeSecret: Uint8Array;
  /** QUIC forbids KeyUpdate messages (RFC 9001 §6) and uses its own key phases. */
  readonly quic: boolean;
  /** Client with a session store: turns each NewSessionTicket into a stored session. */
  readonly keepTicket?: ((nst: NewSessionTicket) => Promise<void>) | undefined;
}

export async function handlePostHandshake(s: Connected, msg: HandshakeMessage, out: Outbox): Promise<Connected> {
  switch (msg.type) {
    case HandshakeType.key_update: {
      if (s.quic) fail(AlertDescription.unexpected_message, 'KeyUpdate is not allowed in QUIC (RFC 9001 §6)');
      const requested = decodeKeyUpdate(msg.body);
      const readSecret = await nextTrafficSecret(s.provider, s.suite, s.readSecret);
      out.read('application', s.suite, readSecret);
      const next = { ...s, readSecret };
      // §4.6.3: answer a request with our own update, not requesting one back.
      return requested ? updateWriteKey(next, false, out) : next;
    }
    case HandshakeType.new_session_ticket: {
      if (s.role !== 'client') fail(AlertDescription.unexpected_message, 'NewSessionTicket sent to a server');
      const nst = decodeNewSessionTicket(msg.body);
      checkExtensions('NST', nst.extensions, new Set());
      await s.keepTicket?.(nst);
      out.actions.push({ kind: 'ticket', body: msg.body });
      return s;
    }
    default:
      // post_handshake_auth is never offered, so a CertificateRequest here is unexpected too (§4.6.2).
      return fail(AlertDescription.unexpected_message, `post-handshake message ${msg.type} not expected`);
  }
}

/** Sends KeyUpdate under the current key, then moves to the next write secret (§4.6.3, §7.2). */
export async function updateWriteKey(s: Connected, requestPeer: boolean, out: Outbox): Promise<Connected> {
  if (s.quic) fail(AlertDescription.internal_error, 'QUIC updates keys with the key-phase bit, not KeyUpdate');
  out.send('application', encodeKeyUpdate(requestPeer));
  const writeSecret = await nextTrafficSecret(s.provider, s.suite, s.writeSecret);
  out.write('application', s.suite, writeSecret);
  return { ...s, writeSecret };
}

/** TLS-Exporter over this connection (RFC 8446 §7.5). */
export function exporter(s: Connected, label: string, context: Uint8Array, length: number): Promise<Uint8Array> {
  return exportKeyingMaterial(s.provider, s.suite, s.exporterSecret, label, context, length);
}

/** A TLS-Exporter (RFC 8446 §7.5) holding only the exporter master secret, the provider and the suite. */
export type KeyingMaterialExporter = (label: string, context: Uint8Array, length: number) => Promise<Uint8Array>;

/** What {@link exporter} needs of a connection, and nothing else of it (its keys, transcript or state). */
export function detachedExporter(s: Connected): KeyingMaterialExporter {
  const { provider, suite, exporterSecret } = s;
  return (label, context, length) => exportKeyingMaterial(provider, suite, exporterSecret, label, context, length);
}
