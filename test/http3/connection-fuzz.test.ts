/**
 * The attacker rule for the HTTP/3 layer (BRIEF): whatever bytes a peer puts
 * on whatever streams, cut however it likes, Http3Connection never throws out
 * of handleStreamEvent; it either carries on, resets one stream with
 * H3_MESSAGE_ERROR / H3_REQUEST_INCOMPLETE, or closes the connection with an
 * H3 or QPACK code. A stand-in for the QUIC connection delivers the bytes, so
 * thousands of cases run without handshakes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { concat } from '../../src/bytes.js';
import { H3ErrorCode } from '../../src/http3/errors.js';
import { FrameType, encodeFrame, encodeSettings } from '../../src/http3/frames.js';
import { Http3Connection } from '../../src/http3/connection.js';
import { HqConnection } from '../../src/http3/hq.js';
import { encodeFieldSection } from '../../src/http3/qpack.js';
import type { QuicConnection } from '../../src/quic/connection/connection.js';
import { seeded } from '../helpers/fc.js';

/** Just the stream API Http3Connection uses, over in-memory buffers. */
class FakeQuic {
  readonly incoming = new Map<number, { data: Uint8Array[]; fin: boolean; stopped: boolean }>();
  readonly written = new Map<number, Uint8Array[]>();
  closedWith: number | undefined;
  private nextUni = 0;
  constructor(readonly role: 'client' | 'server') {}
  openStream(bidi: boolean): number {
    const id = (this.nextUni++ * 4) + (bidi ? 0 : 2) + (this.role === 'server' ? 1 : 0);
    this.written.set(id, []);
    return id;
  }
  writeStream(id: number, data: Uint8Array): void {
    this.written.get(id)?.push(data) ?? this.written.set(id, [data]);
  }
  readStream(id: number): { data: Uint8Array; fin: boolean } | undefined {
    const s = this.incoming.get(id);
    if (!s || s.stopped || (s.data.length === 0 && !s.fin)) return undefined;
    const data = concat(...s.data);
    s.data = [];
    const fin = s.fin;
    if (fin) this.incoming.delete(id);
    return { data, fin };
  }
  /** One delivered piece at a time, as the connection's chunk read gives what one frame brought. */
  readStreamChunk(id: number): { data: Uint8Array; fin: boolean } | undefined {
    const s = this.incoming.get(id);
    if (!s || s.stopped || (s.data.length === 0 && !s.fin)) return undefined;
    const data = s.data.shift() ?? new Uint8Array(0);
    const fin = s.fin && s.data.length === 0;
    if (fin) this.incoming.delete(id);
    return { data, fin };
  }
  resetStream(): void {}
  stopSending(id: number): void {
    const s = this.incoming.get(id);
    if (s) s.stopped = true;
  }
  close(_now: number, code: number): void {
    this.closedWith ??= code;
  }
  poll(): undefined {
    return undefined;
  }
  deliver(id: number, data: Uint8Array, fin: boolean): void {
    const s = this.incoming.get(id) ?? { data: [], fin: false, stopped: false };
    s.data.push(data);
    s.fin ||= fin;
    this.incoming.set(id, s);
  }
}

/** Codes a peer's bytes may earn: every H3/QPACK code but H3_INTERNAL_ERROR, which would mean our own bug surfaced. */
const CODES = new Set<number>(Object.values(H3ErrorCode).filter((c) => c !== H3ErrorCode.H3_INTERNAL_ERROR));
const SETTINGS = encodeSettings(new Map([[1, 0]]));
const GET = encodeFrame(FrameType.HEADERS, encodeFieldSection([[':method', 'GET'], [':scheme', 'https'], [':authority', 'a'], [':path', '/']]));

/** Byte pieces that are often almost right: valid frames, truncated ones, random bytes. */
const piece = fc.oneof(
  fc.constantFrom(SETTINGS, GET, encodeFrame(FrameType.DATA, Uint8Array.of(1, 2)), encodeFrame(FrameType.GOAWAY, Uint8Array.of(4)),
    Uint8Array.of(0x00), Uint8Array.of(0x02), Uint8Array.of(0x03), Uint8Array.of(0x21), Uint8Array.of(0x20), Uint8Array.of(0x41),
    encodeFrame(0x21, new Uint8Array(5)), encodeFrame(FrameType.HEADERS, Uint8Array.of(0, 0, 0x80))),
  fc.uint8Array({ maxLength: 20 }),
  fc.uint8Array({ minLength: 1, maxLength: 3 }).map((b) => GET.subarray(0, b[0] as number % GET.length)),
);

/** Client-initiated streams as a server sees them: bidi 0, 4, 8 and uni 2, 6, 10, 14. */
const streamId = fc.constantFrom(0, 4, 8, 2, 6, 10, 14);
const delivery = fc.record({ id: streamId, data: fc.array(piece, { maxLength: 4 }).map((p) => concat(...p)), fin: fc.boolean() });

describe('Http3Connection under arbitrary peer bytes', () => {
  it('server: never throws; a close uses a protocol H3/QPACK code, never H3_INTERNAL_ERROR', () => {
    fc.assert(fc.property(fc.array(delivery, { maxLength: 25 }), (deliveries) => {
      const quic = new FakeQuic('server');
      const h3 = new Http3Connection(quic as unknown as QuicConnection);
      h3.start(0);
      const finished = new Set<number>();
      for (const d of deliveries) {
        if (finished.has(d.id)) continue;
        quic.deliver(d.id, d.data, d.fin);
        if (d.fin) finished.add(d.id);
        expect(() => h3.handleStreamEvent({ type: 'readable', id: d.id }, 0)).not.toThrow();
      }
      for (let e = h3.poll(); e; e = h3.poll()) {
        if (e.type === 'closed') expect(CODES.has(e.errorCode)).toBe(true);
        if (e.type === 'reset' && e.local) expect([H3ErrorCode.H3_MESSAGE_ERROR, H3ErrorCode.H3_REQUEST_INCOMPLETE, H3ErrorCode.H3_EXCESSIVE_LOAD]).toContain(e.errorCode);
      }
      if (quic.closedWith !== undefined) expect(CODES.has(quic.closedWith)).toBe(true);
    }), seeded(91143, { numRuns: 600 }));
  });

  it('client: the same for a server\'s streams (bidi 0, uni 3, 7, 11, 15)', () => {
    fc.assert(fc.property(fc.array(fc.record({ id: fc.constantFrom(0, 3, 7, 11, 15), data: fc.array(piece, { maxLength: 4 }).map((p) => concat(...p)), fin: fc.boolean() }), { maxLength: 25 }), (deliveries) => {
      const quic = new FakeQuic('client');
      const h3 = new Http3Connection(quic as unknown as QuicConnection);
      h3.start(0);
      h3.get('a', '/');
      for (const d of deliveries) {
        quic.deliver(d.id, d.data, d.fin);
        expect(() => h3.handleStreamEvent({ type: 'readable', id: d.id }, 0)).not.toThrow();
      }
      for (let e = h3.poll(); e; e = h3.poll()) if (e.type === 'closed') expect(CODES.has(e.errorCode)).toBe(true);
    }), seeded(91144, { numRuns: 600 }));
  });
});

describe('HqConnection (server) under arbitrary request bytes', () => {
  const line = fc.oneof(
    fc.constantFrom('GET /a\r\n', 'GET /dir/file.bin\n', 'GET /\r\n', 'GET  /x\r\n', 'POST /x\r\n', 'GET x\r\n', 'GET /a b\r\n', 'GET /%00\r\n'),
    fc.string({ maxLength: 30 }),
  ).map((t) => new TextEncoder().encode(t));
  it('never throws; reports a request only for "GET /path" with a path free of whitespace; refuses the rest with a reset', () => {
    fc.assert(fc.property(fc.array(fc.record({ id: fc.constantFrom(0, 4, 8), data: fc.oneof(line, fc.uint8Array({ maxLength: 40 })), fin: fc.boolean() }), { maxLength: 12 }), (deliveries) => {
      const quic = new FakeQuic('server');
      const hq = new HqConnection(quic as unknown as QuicConnection);
      const finished = new Set<number>();
      for (const d of deliveries) {
        if (finished.has(d.id)) continue;
        quic.deliver(d.id, d.data, d.fin);
        if (d.fin) finished.add(d.id);
        expect(() => hq.handleStreamEvent({ type: 'readable', id: d.id })).not.toThrow();
      }
      const seen = new Set<number>();
      for (let e = hq.poll(); e; e = hq.poll()) {
        expect(seen.has(e.streamId)).toBe(false); // one outcome per stream
        seen.add(e.streamId);
        if (e.type === 'request') expect(e.path).toMatch(/^\/\S*$/);
        else expect(e).toMatchObject({ type: 'reset', local: true });
      }
    }), seeded(9114309, { numRuns: 500 }));
  });
});
