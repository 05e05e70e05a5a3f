/**
 * Interop matrix: fifty handshakes each under 30% loss and under 30%
 * corruption (a file of their own: the longest cases, run beside the rest).
 */
import { matrixSuite } from './runner/suite.js';

matrixSuite('many handshakes', ['handshakeloss', 'handshakecorruption']);
