/**
 * What `pqtls/node` resolves to outside Node (package.json `exports`: every condition but `node`).
 * A browser or Worker bundle that imports the Node adapter gets this one-line module instead of a
 * bundle broken by `node:net`, and the import fails at once with a message that says what to use.
 * Deno and Bun match the `node` condition and get the real adapter.
 * @module
 */
throw new Error(
  'pqtls/node needs Node.js (node:net, node:dgram, node:crypto): it is not for browsers or Workers. ' +
    'Use the sans-IO entries (pqtls, pqtls/tls13, pqtls/quic) with your own transport, e.g. ' +
    'connectWebSocket from pqtls/transport over a WebSocket.',
);
