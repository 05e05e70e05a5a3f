import { ConfigError } from '../../errors.js';

/**
 * {@link StreamManager.open} was refused: the peer's MAX_STREAMS limit for
 * that direction is reached (RFC 9000 §4.6). A STREAMS_BLOCKED frame is
 * queued; a `streams_available` event follows when the peer raises the limit.
 * Local API misuse, never a connection error.
 */
export class StreamsBlockedError extends ConfigError {
  constructor(readonly bidirectional: boolean, readonly limit: number) {
    super(`peer allows only ${limit} ${bidirectional ? 'bidirectional' : 'unidirectional'} streams (RFC 9000 §4.6)`);
  }
}

/**
 * A stream operation the stream's state or direction does not allow: writing
 * to a receive-only stream, after FIN or a reset, or naming a stream never
 * opened. Local API misuse, never a connection error.
 */
export class StreamUsageError extends ConfigError {
  constructor(readonly streamId: number, message: string) {
    super(`stream ${streamId}: ${message}`);
  }
}
