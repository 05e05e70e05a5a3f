/**
 * Interop matrix, the cases on an impaired path: loss, corruption, delay,
 * outages and the amplification limit under loss.
 */
import { matrixSuite } from './runner/suite.js';

matrixSuite('impaired path', [
  'amplificationlimit', 'handshakeloss', 'transferloss', 'handshakecorruption', 'transfercorruption', 'longrtt', 'blackhole',
]);
