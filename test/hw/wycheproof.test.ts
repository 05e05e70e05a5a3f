/**
 * Wycheproof ML-KEM and ML-DSA vectors through the QUAC provider's device
 * path on an emulated card (wycheproof-conformance.ts; native-device.test.ts
 * runs the same suite through koffi against the C test double).
 */
import { wycheproofConformance } from './wycheproof-conformance.js';
import { emulatedCards } from './quac-fixture.js';

wycheproofConformance('the emulated card', emulatedCards);
