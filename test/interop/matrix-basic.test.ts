/**
 * Interop matrix, the cases on a clean path: handshake, transfers, cipher
 * suite, Retry, HTTP/3, key update, QUIC versions (runner: testcases.py).
 */
import { matrixSuite } from './runner/suite.js';

matrixSuite('clean path', ['handshake', 'transfer', 'multiplexing', 'chacha20', 'retry', 'http3', 'keyupdate', 'v2', 'versionnegotiation']);
