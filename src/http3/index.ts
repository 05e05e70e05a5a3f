/**
 * HTTP/3 (RFC 9114) with QPACK's static table and literals (RFC 9204), and
 * hq-interop (HTTP/0.9 over QUIC), over the sans-IO QUIC connection of
 * `pqtls/quic`. Outside the QUIC core: QUIC knows nothing of it.
 * @module
 */
export { H3ErrorCode, Http3Error, h3ErrorName } from './errors.js';
export { huffmanDecode, huffmanEncode, HUFFMAN_CODES } from './huffman.js';
export {
  QPACK_STATIC_TABLE, encodeFieldSection, decodeFieldSection, DEFAULT_MAX_FIELDS, DEFAULT_MAX_FIELD_SECTION_SIZE,
  type Field, type QpackLimits,
} from './qpack.js';
export {
  FrameParser, FrameType, SettingId, HTTP2_FRAME_TYPES, encodeFrame, encodeSettings, decodeSettings, dataFrameHeader,
  type FrameEvent, type FrameLimits, type Settings,
} from './frames.js';
export { checkRequest, checkResponse, checkTrailers, type RequestHead } from './headers.js';
export { Http3Connection, StreamType, type Http3Event, type Http3Limits } from './connection.js';
export { HqConnection, HQ_MAX_REQUEST, HQ_REQUEST_ERROR, type HqEvent } from './hq.js';
