export { FrameType, MAX_STREAMS_LIMIT, type AckRange, type EcnCounts, type Frame, type FrameName } from './types.js';
export { encodeFrame, encodeFrames } from './encode.js';
export { decodeFrames, type DecodeFramesOptions } from './decode.js';
export { isFrameAllowed, isKnownFrameType } from './allowed.js';
