/**
 * pqtls: post-quantum TLS 1.3 and QUIC for TypeScript, sans-IO.
 * @module
 */
export * from './errors.js';
export * from './pq/index.js';
