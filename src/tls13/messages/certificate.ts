import { AlertDescription, DecodeError } from '../../errors.js';
import { Reader } from '../../codec/reader.js';
import { Writer } from '../../codec/writer.js';
import { HandshakeType } from '../constants.js';
import { readExtensions, writeExtensions, type Extension } from './extensions.js';
import { frameHandshake } from './handshake.js';

/** One CertificateEntry (X.509 only; RFC 8446 §4.4.2). */
export interface CertificateEntry {
  readonly certData: Uint8Array;
  readonly extensions: readonly Extension[];
}

export interface CertificateMessage {
  readonly context: Uint8Array;
  readonly entries: readonly CertificateEntry[];
}

export function encodeCertificate(m: CertificateMessage): Uint8Array {
  const w = new Writer(1024);
  w.vecBytes(1, m.context);
  w.vec(3, (w) => {
    for (const e of m.entries) {
      w.vecBytes(3, e.certData, 1);
      writeExtensions(w, e.extensions);
    }
  });
  return frameHandshake(HandshakeType.certificate, w.finish());
}

export function decodeCertificate(body: Uint8Array): CertificateMessage {
  const r = new Reader(body, 'Certificate');
  const context = r.vec(1);
  const list = r.sub(3);
  const entries: CertificateEntry[] = [];
  while (!list.done) {
    const certData = list.vec(3, 1);
    const extensions = readExtensions(list);
    entries.push({ certData, extensions });
  }
  r.end();
  return { context, entries };
}

/** CertificateVerify (RFC 8446 §4.4.3). */
export interface CertificateVerifyMessage {
  readonly scheme: number;
  readonly signature: Uint8Array;
}

export const encodeCertificateVerify = (m: CertificateVerifyMessage): Uint8Array =>
  frameHandshake(HandshakeType.certificate_verify, new Writer(m.signature.length + 4).u16(m.scheme).vecBytes(2, m.signature).finish());

export function decodeCertificateVerify(body: Uint8Array): CertificateVerifyMessage {
  const r = new Reader(body, 'CertificateVerify');
  // signature<0..2^16-1>: an empty one is well-formed and fails verification (decrypt_error), not decoding.
  const m = { scheme: r.u16(), signature: r.vec(2) };
  r.end();
  return m;
}

/** CertificateRequest (RFC 8446 §4.3.2). */
export interface CertificateRequestMessage {
  readonly context: Uint8Array;
  readonly extensions: readonly Extension[];
}

export function encodeCertificateRequest(m: CertificateRequestMessage): Uint8Array {
  const w = new Writer(128).vecBytes(1, m.context);
  writeExtensions(w, m.extensions);
  return frameHandshake(HandshakeType.certificate_request, w.finish());
}

export function decodeCertificateRequest(body: Uint8Array): CertificateRequestMessage {
  const r = new Reader(body, 'CertificateRequest');
  const context = r.vec(1);
  const extensions = readExtensions(r, 2);
  r.end();
  return { context, extensions };
}

/** EncryptedExtensions (RFC 8446 §4.3.1). */
export function encodeEncryptedExtensions(exts: readonly Extension[]): Uint8Array {
  const w = new Writer(64);
  writeExtensions(w, exts);
  return frameHandshake(HandshakeType.encrypted_extensions, w.finish());
}

export function decodeEncryptedExtensions(body: Uint8Array): Extension[] {
  const r = new Reader(body, 'EncryptedExtensions');
  const exts = readExtensions(r);
  r.end();
  return exts;
}

/** Finished (RFC 8446 §4.4.4): verify_data only. */
export const encodeFinished = (verifyData: Uint8Array): Uint8Array => frameHandshake(HandshakeType.finished, verifyData);
export function decodeFinished(body: Uint8Array, hashLength: number): Uint8Array {
  if (body.length !== hashLength) throw new DecodeError(`Finished: ${body.length} bytes, expected ${hashLength}`);
  return body;
}

/** KeyUpdate (RFC 8446 §4.6.3). */
export const KeyUpdateRequest = { update_not_requested: 0, update_requested: 1 } as const;
export const encodeKeyUpdate = (requestUpdate: boolean): Uint8Array =>
  frameHandshake(HandshakeType.key_update, new Uint8Array([requestUpdate ? 1 : 0]));
export function decodeKeyUpdate(body: Uint8Array): boolean {
  const r = new Reader(body, 'KeyUpdate');
  const v = r.u8();
  r.end();
  if (v > 1) throw new DecodeError('KeyUpdate: invalid request_update', AlertDescription.illegal_parameter);
  return v === 1;
}
