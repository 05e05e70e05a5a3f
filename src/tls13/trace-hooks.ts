import type { Extension } from './messages/extensions.js';
import type { ClientHello } from './messages/hello.js';

/**
 * Reshapes handshake messages before they are sent, so that a published trace
 * (RFC 8448) whose peer offered extensions this library does not implement can
 * be replayed byte for byte. Applications get it only through
 * `withTraceHooks` in `pqtls/testing`: it lets the caller rewrite a
 * ClientHello, which no production configuration should be able to do.
 */
export interface TraceHooks {
  readonly clientHello?: (ours: ClientHello) => ClientHello;
  readonly encryptedExtensions?: (ours: readonly Extension[]) => Extension[];
}

/**
 * @internal The options key `withTraceHooks` sets. A symbol rather than a
 * named option, so that no public options type carries it and no
 * configuration parsed from JSON or spread from user input can set it.
 */
export const TRACE_HOOKS: unique symbol = Symbol('pqtls.traceHooks');

/** @internal The trace hooks on an options object, if `withTraceHooks` put any there. */
export function traceHooksOf(options: object): TraceHooks | undefined {
  return (options as { readonly [TRACE_HOOKS]?: TraceHooks })[TRACE_HOOKS];
}
