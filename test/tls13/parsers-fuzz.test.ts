import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { PqtlsError } from '../../src/errors.js';
import {
  decodeCertificate, decodeCertificateRequest, decodeCertificateVerify, decodeEncryptedExtensions, decodeKeyUpdate,
  encodeCertificate, encodeCertificateRequest, encodeCertificateVerify, encodeEncryptedExtensions,
} from '../../src/tls13/messages/certificate.js';
import {
  decodeAlpn, decodeCookie, decodeKeyShareClient, decodeKeyShareServer, decodePskModes, decodeRecordSizeLimit, decodeServerName,
  decodeSupportedVersionsClient, decodeU16List, encodeAlpn, encodeKeyShareClient, encodeServerName,
} from '../../src/tls13/messages/extensions.js';
import { decodeClientHello, decodeServerHello, encodeClientHello, encodeServerHello } from '../../src/tls13/messages/hello.js';
import { decodeNewSessionTicket, decodeOfferedPsks, encodeNewSessionTicket, encodeOfferedPsks } from '../../src/tls13/messages/psk.js';
import { decodeSession, encodeSession } from '../../src/tls13/session.js';
import { decodeTicketState, encodeTicketState } from '../../src/tls13/tickets.js';
import { seeded } from '../helpers/fc.js';

/** A parser may only fail with one of our typed errors (which carry an alert). */
function onlyTypedErrors(parse: (b: Uint8Array) => unknown): void {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), (b) => {
      try {
        parse(b);
      } catch (e) {
        expect(e).toBeInstanceOf(PqtlsError);
      }
    }),
    seeded(20820, { numRuns: 300 }),
  );
}

const parsers: Record<string, (b: Uint8Array) => unknown> = {
  ClientHello: decodeClientHello, ServerHello: decodeServerHello, Certificate: decodeCertificate,
  CertificateVerify: decodeCertificateVerify, CertificateRequest: decodeCertificateRequest,
  EncryptedExtensions: decodeEncryptedExtensions, KeyUpdate: decodeKeyUpdate, NewSessionTicket: decodeNewSessionTicket,
  pre_shared_key: decodeOfferedPsks, key_share_client: decodeKeyShareClient, key_share_server: decodeKeyShareServer,
  server_name: decodeServerName, alpn: decodeAlpn, cookie: decodeCookie, psk_modes: decodePskModes,
  record_size_limit: decodeRecordSizeLimit, supported_versions: decodeSupportedVersionsClient,
  u16_list: (b) => decodeU16List(b, 'supported_groups'), ticket_state: decodeTicketState, session: decodeSession,
};

describe('every TLS parser yields only typed errors on arbitrary input', () => {
  for (const [name, parse] of Object.entries(parsers)) it(name, () => onlyTypedErrors(parse));
});

const ext = fc.record({ type: fc.integer({ min: 0, max: 0xffff }), data: fc.uint8Array({ maxLength: 40 }) });
const exts = fc.uniqueArray(ext, { selector: (e) => e.type, maxLength: 6 });
const bytes = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max });

describe('encode/decode round trips (RFC 8446 §4)', () => {
  it('ClientHello', () => {
    fc.assert(fc.property(bytes(32, 32), bytes(0, 32), fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 1, maxLength: 8 }), exts, (random, sid, suites, extensions) => {
      const ch = { random, legacySessionId: sid, cipherSuites: suites, extensions };
      expect(decodeClientHello(encodeClientHello(ch).subarray(4))).toEqual(ch);
    }), seeded(98606));
  });
  it('ServerHello', () => {
    fc.assert(fc.property(bytes(32, 32), bytes(0, 32), fc.integer({ min: 0, max: 0xffff }), exts, (random, sid, suite, extensions) => {
      const sh = { random, legacySessionIdEcho: sid, cipherSuite: suite, extensions };
      expect(decodeServerHello(encodeServerHello(sh).subarray(4))).toEqual({ ...sh, legacyVersion: 0x0303 });
    }), seeded(76393));
  });
  it('Certificate, CertificateVerify, CertificateRequest, EncryptedExtensions', () => {
    fc.assert(fc.property(bytes(0, 8), fc.array(fc.record({ certData: bytes(1, 60), extensions: exts }), { maxLength: 4 }), (context, entries) => {
      expect(decodeCertificate(encodeCertificate({ context, entries }).subarray(4))).toEqual({ context, entries });
    }), seeded(31886));
    fc.assert(fc.property(fc.integer({ min: 0, max: 0xffff }), bytes(1, 100), (scheme, signature) => {
      expect(decodeCertificateVerify(encodeCertificateVerify({ scheme, signature }).subarray(4))).toEqual({ scheme, signature });
    }), seeded(9673));
    fc.assert(fc.property(bytes(0, 8), exts.filter((e) => e.length > 0), (context, extensions) => {
      expect(decodeCertificateRequest(encodeCertificateRequest({ context, extensions }).subarray(4))).toEqual({ context, extensions });
    }), seeded(87459));
    fc.assert(fc.property(exts, (e) => { expect(decodeEncryptedExtensions(encodeEncryptedExtensions(e).subarray(4))).toEqual(e); }), seeded(65246));
  });
  it('NewSessionTicket and pre_shared_key', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 604800 }), fc.nat({ max: 0xffffffff }), bytes(0, 8), bytes(1, 80), exts, (lifetime, ageAdd, nonce, ticket, extensions) => {
      const t = { lifetime, ageAdd, nonce, ticket, extensions };
      expect(decodeNewSessionTicket(encodeNewSessionTicket(t).subarray(4))).toEqual(t);
    }), seeded(20739));
    fc.assert(fc.property(fc.array(fc.tuple(bytes(1, 40), fc.nat({ max: 0xffffffff }), bytes(32, 48)), { minLength: 1, maxLength: 3 }), (list) => {
      const o = { identities: list.map(([identity, obfuscatedTicketAge]) => ({ identity, obfuscatedTicketAge })), binders: list.map(([, , b]) => b) };
      expect(decodeOfferedPsks(encodeOfferedPsks(o))).toEqual(o);
    }), seeded(98525));
  });
  it('key_share, server_name, ALPN', () => {
    fc.assert(fc.property(fc.uniqueArray(fc.record({ group: fc.integer({ min: 0, max: 0xffff }), share: bytes(1, 70) }), { selector: (e) => e.group, maxLength: 4 }), (entries) => {
      expect(decodeKeyShareClient(encodeKeyShareClient(entries))).toEqual(entries);
    }), seeded(46577));
    fc.assert(fc.property(fc.stringMatching(/^[a-z0-9-]{1,20}(\.[a-z0-9-]{1,20}){0,3}$/), (host) => { expect(decodeServerName(encodeServerName(host))).toBe(host); }), seeded(68790));
    fc.assert(fc.property(fc.array(fc.stringMatching(/^[ -~]{1,20}$/), { minLength: 1, maxLength: 4 }), (p) => { expect(decodeAlpn(encodeAlpn(p))).toEqual(p); }), seeded(91003));
  });
  it('ticket state and stored session', () => {
    fc.assert(fc.property(bytes(32, 48), fc.nat({ max: 2 ** 45 }), fc.option(fc.stringMatching(/^[a-z]{1,8}$/), { nil: undefined }), fc.array(bytes(1, 30), { maxLength: 3 }), (psk, t, alpn, certs) => {
      const state = { suite: 0x1301 as const, psk, issuedAt: t, lifetime: 7200, ageAdd: 5, maxEarlyData: 0, alpn, serverName: 'a.test', peerCertificates: certs };
      expect(decodeTicketState(encodeTicketState(state))).toEqual(state);
      const session = { ticket: psk, suite: 0x1302 as const, psk, receivedAt: t, lifetime: 60, ageAdd: 1, maxEarlyData: 10, alpn, peerCertificates: certs, peerSignatureScheme: 0x0905 };
      expect(decodeSession(encodeSession(session))).toEqual(session);
    }), seeded(13217));
  });
});
