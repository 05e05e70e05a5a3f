/**
 * pqtls: post-quantum TLS 1.3 and QUIC for TypeScript, sans-IO.
 *
 * The core (this entry, `pqtls/pq`, `pqtls/tls13`, `pqtls/quic`, `pqtls/x509`)
 * never touches sockets, timers or clocks. The Node adapter is `pqtls/node`;
 * test support (deterministic randomness, trace hooks) is `pqtls/testing`.
 *
 * Export rule, the same for every entry: names are exported flat, never as
 * namespaces. This root entry is the union of the four core entries (their
 * names do not clash; test/public-api.test.ts checks it), and each core entry
 * also exports the shared error classes.
 * @module
 */
export * from './errors.js';
export * from './pq/index.js';
export * from './tls13/index.js';
export * from './quic/index.js';
export * from './x509/index.js';
