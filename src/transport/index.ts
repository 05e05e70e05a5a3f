/**
 * Transports written against web-standard interfaces only, so they run in browsers, Workers,
 * Deno, Bun and Node alike: TLS 1.3 over a WebSocket. No `node:*`, like the core.
 *
 * Exported flat, like every pqtls entry.
 * @module
 */
export {
  tlsOverWebSocket, connectWebSocket, acceptWebSocket, WebSocketTransportError,
  type WebSocketLike, type WebSocketEventLike, type WebSocketTlsOptions, type TlsWebSocket,
} from './websocket.js';
