/**
 * What `pqtls/node` resolves to outside Node (package.json `exports`: every condition but `node`).
 * A browser or Worker that imports the Node adapter gets this module instead of a bundle broken by
 * `node:net`, and the import fails at once with a message that says what to use. It exports the
 * adapter's names so that an `import { connect } from 'pqtls/node'` links (in a page, a bundler)
 * and reaches the throw, rather than failing on a missing name that explains nothing; the
 * runtime matrix (test/runtimes/matrix.test.ts) keeps the list equal to the adapter's.
 * Deno and Bun match the `node` condition and get the real adapter.
 * @module
 */
const unavailable: undefined = undefined;
export {
  unavailable as FileSessionStore, unavailable as NativeQuac100, unavailable as PqTlsSocket, unavailable as QlogFileSink,
  unavailable as QuicSession, unavailable as connect, unavailable as createNodeCryptoProvider, unavailable as createQuicServer,
  unavailable as createServer, unavailable as createWebSocketRelay, unavailable as fileQuacStorage, unavailable as nativePqSupport,
  unavailable as nativeQuacLibrary, unavailable as qlogDirFromEnv, unavailable as quicConnect, unavailable as udpPathMtuCeiling,
};

throw new Error(
  'pqtls/node needs Node.js (node:net, node:dgram, node:crypto): it is not for browsers or Workers. ' +
    'Use the sans-IO entries (pqtls, pqtls/tls13, pqtls/quic) with your own transport, e.g. ' +
    'connectWebSocket from pqtls/transport over a WebSocket.',
);
