export { Reader } from './reader.js';
export { Writer, varintLength, MAX_VARINT } from './writer.js';
