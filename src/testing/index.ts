/**
 * Test support, deliberately outside the everyday API: deterministic random
 * sources, and trace hooks that let a caller rewrite the messages a handshake
 * sends, for replaying published traces (RFC 8448) byte for byte. Nothing here
 * belongs in a production configuration: a seeded or scripted random source
 * makes every key predictable, and a trace hook can rewrite a ClientHello.
 *
 * Exported flat, like every pqtls entry. Not part of the root `pqtls` entry.
 * @module
 */
import type { CommonOptions } from '../tls13/config.js';
import { TRACE_HOOKS, type TraceHooks } from '../tls13/trace-hooks.js';

export { seededRandom, scriptedRandom } from './random.js';
export type { TraceHooks } from '../tls13/trace-hooks.js';
export type { ClientHello } from '../tls13/messages/hello.js';
export type { Extension as HandshakeExtension } from '../tls13/messages/extensions.js';

/**
 * `options` (client or server, TLS or the `tls` of a QUIC endpoint) with trace
 * hooks attached; `TlsConnection.client`/`server` and `QuicConnection` honour
 * them. The hooks ride under a private key, so spreading the result keeps them.
 */
export function withTraceHooks<T extends CommonOptions>(options: T, hooks: TraceHooks): T {
  return { ...options, [TRACE_HOOKS]: hooks };
}
