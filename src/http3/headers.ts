/**
 * HTTP/3 message checks (RFC 9114 §4.1.2, §4.2, §4.3): a request or
 * response whose fields break these rules is malformed, a stream error of
 * type H3_MESSAGE_ERROR.
 */
import { Http3Error, H3ErrorCode } from './errors.js';
import type { Field } from './qpack.js';

/** Fields that mean something only for a single HTTP/1.1 connection (RFC 9114 §4.2). */
const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);
const REQUEST_PSEUDO = new Set([':method', ':scheme', ':authority', ':path', ':protocol']);
/** RFC 9110 §5.1 token characters, lowercase only (RFC 9114 §4.2). */
const NAME = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;

export interface RequestHead {
  readonly method: string;
  readonly scheme: string | undefined;
  readonly authority: string | undefined;
  readonly path: string | undefined;
  readonly fields: readonly Field[];
}

function malformed(stream: number, message: string): Http3Error {
  return new Http3Error(H3ErrorCode.H3_MESSAGE_ERROR, message, stream);
}

/** Splits and checks pseudo-header and regular fields; `allowed` names the permitted pseudo-headers. */
function split(stream: number, fields: readonly Field[], allowed: ReadonlySet<string>): Map<string, string> {
  const pseudo = new Map<string, string>();
  let regular = false;
  for (const [name, value] of fields) {
    if (/[\0\r\n]/.test(value)) throw malformed(stream, `field ${name} holds NUL, CR or LF (RFC 9110 §5.5)`);
    if (name.startsWith(':')) {
      if (regular) throw malformed(stream, `pseudo-header ${name} after a regular field (RFC 9114 §4.3)`);
      if (!allowed.has(name)) throw malformed(stream, `pseudo-header ${name} not allowed here (RFC 9114 §4.3)`);
      if (pseudo.has(name)) throw malformed(stream, `pseudo-header ${name} repeated (RFC 9114 §4.3)`);
      pseudo.set(name, value);
      continue;
    }
    regular = true;
    if (!NAME.test(name)) throw malformed(stream, `field name ${JSON.stringify(name)} is not a lowercase token (RFC 9114 §4.2)`);
    if (CONNECTION_SPECIFIC.has(name)) throw malformed(stream, `connection-specific field ${name} (RFC 9114 §4.2)`);
    if (name === 'te' && value !== 'trailers') throw malformed(stream, 'TE other than "trailers" (RFC 9114 §4.2)');
  }
  return pseudo;
}

/** Checks a request's fields (RFC 9114 §4.3.1) and returns its pseudo-headers. */
export function checkRequest(stream: number, fields: readonly Field[]): RequestHead {
  const p = split(stream, fields, REQUEST_PSEUDO);
  const method = p.get(':method');
  if (!method) throw malformed(stream, 'request without :method (RFC 9114 §4.3.1)');
  const scheme = p.get(':scheme');
  const authority = p.get(':authority');
  const path = p.get(':path');
  if (method === 'CONNECT' && !p.has(':protocol')) {
    if (scheme !== undefined || path !== undefined || !authority) throw malformed(stream, 'CONNECT needs :authority and no :scheme or :path (RFC 9114 §4.4)');
  } else {
    if (!scheme || !path) throw malformed(stream, 'request without :scheme or :path (RFC 9114 §4.3.1)');
    if ((scheme === 'http' || scheme === 'https') && !authority && !fields.some(([n]) => n === 'host')) {
      throw malformed(stream, 'http(s) request without :authority or Host (RFC 9114 §4.3.1)');
    }
  }
  return { method, scheme, authority, path, fields: fields.filter(([n]) => !n.startsWith(':')) };
}

/** Checks a response's fields (RFC 9114 §4.3.2) and returns its status. */
export function checkResponse(stream: number, fields: readonly Field[]): number {
  const p = split(stream, fields, new Set([':status']));
  const status = p.get(':status');
  if (status === undefined || !/^[1-9][0-9][0-9]$/.test(status)) throw malformed(stream, `response :status ${JSON.stringify(status)} is not three digits (RFC 9114 §4.3.2)`);
  return Number(status);
}

/** Trailers carry no pseudo-headers (RFC 9114 §4.3). */
export function checkTrailers(stream: number, fields: readonly Field[]): void {
  split(stream, fields, new Set());
}
