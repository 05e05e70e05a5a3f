import { ContentType } from './constants.js';

// ContentType itself lives with the other wire constants; re-exported for record-layer users.
export { ContentType };

/** Largest TLSPlaintext.fragment and TLSInnerPlaintext.content: 2^14 bytes (§5.1). */
export const MAX_PLAINTEXT = 2 ** 14;
/** Largest TLSInnerPlaintext: content, type byte and padding together, 2^14 + 1 bytes (§5.4). */
export const MAX_INNER_PLAINTEXT = MAX_PLAINTEXT + 1;
/** Largest TLSCiphertext.encrypted_record: 2^14 + 256 bytes (§5.2). */
export const MAX_CIPHERTEXT = MAX_PLAINTEXT + 256;
/** Record header: type, legacy_record_version, length. */
export const RECORD_HEADER_LENGTH = 5;
/** legacy_record_version of every record after the first ClientHello (§5.1). */
export const LEGACY_RECORD_VERSION = 0x0303;

/** A content type a record header may carry: every ContentType but `invalid`. */
export type RecordContentType = 20 | 21 | 22 | 23;

/** Outer content types a TLS 1.3 peer may put on the wire (§5.1). */
export function isRecordContentType(t: number): t is RecordContentType {
  return t === 20 || t === 21 || t === 22 || t === 23;
}

/** Content types that may appear inside TLSInnerPlaintext (§5.2: never change_cipher_spec). */
export function isInnerContentType(t: number): t is 21 | 22 | 23 {
  return t === 21 || t === 22 || t === 23;
}
