/** Interop matrix: session resumption and 0-RTT (two connections per client run). */
import { matrixSuite } from './runner/suite.js';

matrixSuite('resumption', ['resumption', 'zerortt']);
