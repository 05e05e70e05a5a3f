/**
 * Interop matrix, the cases on an impaired path: the amplification limit
 * under loss, loss and corruption during a transfer, delay, outages.
 */
import { matrixSuite } from './runner/suite.js';

matrixSuite('impaired path', ['amplificationlimit', 'transferloss', 'transfercorruption', 'longrtt', 'blackhole']);
