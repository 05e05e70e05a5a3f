import { fromHex } from '../../src/bytes.js';
import type { QuicVersion } from '../../src/quic/versions.js';

/** A private QUIC version for tests: v1's layout under its own number, salt, labels, type codes and Retry key. */
export const PRIVATE_QUIC_VERSION: QuicVersion = Object.freeze({
  name: 'private',
  number: 0xff00beef,
  initialSalt: fromHex('00112233445566778899aabbccddeeff00112233'),
  labels: Object.freeze({ key: 'priv key', iv: 'priv iv', hp: 'priv hp', ku: 'priv ku' }),
  longTypeCodes: Object.freeze({ initial: 2, '0rtt': 3, handshake: 0, retry: 1 }),
  retryKey: fromHex('000102030405060708090a0b0c0d0e0f'),
  retryNonce: fromHex('000102030405060708090a0b'),
});
