import { AlertDescription, DecodeError } from '../../errors.js';
import { Reader } from '../../codec/reader.js';
import { Writer } from '../../codec/writer.js';
import { equalBytes } from '../../bytes.js';
import { HRR_RANDOM, HandshakeType, TLS12 } from '../constants.js';
import { readExtensions, writeExtensions, type Extension } from './extensions.js';
import { frameHandshake } from './handshake.js';

/** ClientHello (RFC 8446 §4.1.2). */
export interface ClientHello {
  readonly random: Uint8Array;
  readonly legacySessionId: Uint8Array;
  readonly cipherSuites: readonly number[];
  readonly extensions: readonly Extension[];
}

export function encodeClientHello(ch: ClientHello): Uint8Array {
  const w = new Writer(512);
  w.u16(TLS12).bytes(ch.random).vecBytes(1, ch.legacySessionId, 0, 32);
  w.vec(2, (w) => ch.cipherSuites.forEach((s) => w.u16(s)), 2);
  w.vecBytes(1, new Uint8Array([0]));
  writeExtensions(w, ch.extensions);
  return frameHandshake(HandshakeType.client_hello, w.finish());
}

export function decodeClientHello(body: Uint8Array): ClientHello {
  const r = new Reader(body, 'ClientHello');
  // supported_versions, not legacy_version, negotiates (§4.2.1), so 0x0301..0x03ff are all tolerated.
  // Appendix D.5: 0x0300 (SSL 3.0) or less MUST abort with protocol_version; a major version other
  // than 3 (0x0000, 0x0103, DTLS's 0xfefd) names no TLS version at all and gets the same alert.
  const legacyVersion = r.u16();
  if (legacyVersion <= 0x0300 || legacyVersion >> 8 !== 0x03) {
    throw new DecodeError(`ClientHello: legacy_version 0x${legacyVersion.toString(16).padStart(4, '0')} is not a TLS version`, AlertDescription.protocol_version);
  }
  const random = r.bytes(32);
  const legacySessionId = r.vec(1, 0, 32);
  const suites = r.sub(2, 2, 0xfffe);
  if (suites.remaining % 2) throw new DecodeError('ClientHello: odd cipher_suites length');
  const cipherSuites: number[] = [];
  while (!suites.done) cipherSuites.push(suites.u16());
  const compression = r.vec(1, 1);
  // §4.1.2: a TLS 1.3 ClientHello carries exactly one compression method, null.
  if (compression.length !== 1 || compression[0] !== 0) {
    throw new DecodeError('ClientHello: legacy_compression_methods must be [null]', AlertDescription.illegal_parameter);
  }
  const extensions = r.done ? [] : readExtensions(r);
  r.end();
  return { random, legacySessionId, cipherSuites, extensions };
}

/** ServerHello or HelloRetryRequest (RFC 8446 §4.1.3, §4.1.4). */
export interface ServerHello {
  readonly random: Uint8Array;
  readonly legacySessionIdEcho: Uint8Array;
  readonly cipherSuite: number;
  readonly extensions: readonly Extension[];
}

export const isHelloRetryRequest = (sh: ServerHello): boolean => equalBytes(sh.random, HRR_RANDOM);

export function encodeServerHello(sh: ServerHello): Uint8Array {
  const w = new Writer(256);
  w.u16(TLS12).bytes(sh.random).vecBytes(1, sh.legacySessionIdEcho, 0, 32).u16(sh.cipherSuite).u8(0);
  writeExtensions(w, sh.extensions);
  return frameHandshake(HandshakeType.server_hello, w.finish());
}

export function decodeServerHello(body: Uint8Array): ServerHello & { readonly legacyVersion: number } {
  const r = new Reader(body, 'ServerHello');
  const legacyVersion = r.u16();
  const random = r.bytes(32);
  const legacySessionIdEcho = r.vec(1, 0, 32);
  const cipherSuite = r.u16();
  if (r.u8() !== 0) throw new DecodeError('ServerHello: legacy_compression_method must be 0', AlertDescription.illegal_parameter);
  const extensions = r.done ? [] : readExtensions(r);
  r.end();
  return { legacyVersion, random, legacySessionIdEcho, cipherSuite, extensions };
}
