/**
 * pqtls: post-quantum TLS 1.3 and QUIC for TypeScript, sans-IO.
 *
 * The core (this entry, `pqtls/pq`, `pqtls/tls13`, `pqtls/quic`, `pqtls/x509`)
 * never touches sockets, timers or clocks. The Node adapter is `pqtls/node`.
 * @module
 */
export * from './errors.js';
export * from './pq/index.js';
export * from './tls13/index.js';
export * as x509 from './x509/index.js';
export * as quic from './quic/index.js';
