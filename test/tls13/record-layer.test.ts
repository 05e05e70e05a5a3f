/**
 * RFC 8446 §5.1 record framing: the sans-IO reader reassembles records from
 * any split of the byte stream and enforces the header rules; the encoder
 * fragments outgoing data into records of at most 2^14 bytes.
 */
import fc from 'fast-check';
import { seeded } from '../helpers/fc.js';
import { describe, expect, it } from 'vitest';
import { concat, equalBytes } from '../../src/bytes.js';
import { AlertDescription, ConfigError, PqtlsError, RecordOverflowError, SizeOverflowError } from '../../src/errors.js';
import { seededRandom } from '../../src/testing/index.js';
import { ContentType, MAX_CIPHERTEXT, MAX_PLAINTEXT } from '../../src/tls13/content-type.js';
import { encodeRecord, encodeRecords, fragment, maxRecordLength, RecordReader, type TlsRecord } from '../../src/tls13/record-layer.js';

const header = (type: number, len: number, version = 0x0303): Uint8Array =>
  new Uint8Array([type, version >> 8, version & 0xff, len >> 8, len & 0xff]);

function alertOf(f: () => unknown): number {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(PqtlsError);
    return (e as PqtlsError).alert;
  }
  throw new Error('expected an error');
}

const recordArb = fc.record({
  type: fc.constantFrom<ContentType>(ContentType.change_cipher_spec, ContentType.alert, ContentType.handshake, ContentType.application_data),
  body: fc.uint8Array({ minLength: 1, maxLength: 400 }),
});

describe('RecordReader (§5.1)', () => {
  it('yields the records written, whatever the chunking of the stream', () => {
    fc.assert(fc.property(fc.array(recordArb, { maxLength: 12 }), fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1 }), (recs, cuts) => {
      const stream = concat(...recs.map((r) => encodeRecord(r.type, r.body)));
      const reader = new RecordReader();
      const got: TlsRecord[] = [];
      let o = 0;
      for (let i = 0; o < stream.length; i++) {
        const n = cuts[i % cuts.length]!;
        reader.push(stream.subarray(o, o + n));
        o += n;
        got.push(...reader.records());
      }
      expect(got.map((r) => ({ type: r.type, body: r.fragment }))).toEqual(recs);
      for (const r of got) {
        expect(r.legacyVersion).toBe(0x0303);
        expect([...r.header]).toEqual([...header(r.type, r.fragment.length)]);
      }
      expect(reader.bufferedBytes).toBe(0);
    }), seeded(51, { numRuns: 200 }));
  });

  it('waits for the rest of a partial record and reports it as partial', () => {
    const rec = encodeRecord(ContentType.handshake, new Uint8Array(100).fill(7));
    const reader = new RecordReader();
    reader.push(rec.subarray(0, 3));
    expect(reader.next()).toBeUndefined();
    reader.push(rec.subarray(3, 50));
    expect(reader.next()).toBeUndefined();
    expect(reader.hasPartialRecord).toBe(true);
    reader.push(rec.subarray(50));
    expect(reader.next()?.fragment).toEqual(new Uint8Array(100).fill(7));
    expect(reader.hasPartialRecord).toBe(false);
  });

  it('accepts the largest records: 2^14 for plaintext types, 2^14 + 256 for protected ones', () => {
    const reader = new RecordReader();
    reader.push(concat(header(22, MAX_PLAINTEXT), new Uint8Array(MAX_PLAINTEXT)));
    reader.push(concat(header(23, MAX_CIPHERTEXT), new Uint8Array(MAX_CIPHERTEXT)));
    expect([...reader.records()].map((r) => r.fragment.length)).toEqual([MAX_PLAINTEXT, MAX_CIPHERTEXT]);
    expect(maxRecordLength(21)).toBe(MAX_PLAINTEXT);
  });

  it('record_overflow as soon as a header declares too much, before the body arrives', () => {
    for (const [type, len] of [[23, MAX_CIPHERTEXT + 1], [22, MAX_PLAINTEXT + 1], [21, 0xffff], [20, MAX_PLAINTEXT + 1]] as const) {
      const reader = new RecordReader();
      reader.push(header(type, len));
      expect(() => reader.next()).toThrow(RecordOverflowError);
      // The stream cannot be resynchronised: the error sticks.
      expect(() => reader.push(new Uint8Array(1))).toThrow(RecordOverflowError);
    }
  });

  it('unexpected_message for an unknown content type (e.g. HTTP on a TLS port) or an empty handshake/alert record', () => {
    for (const type of [0, 19, 24, 0x47, 255]) {
      const reader = new RecordReader();
      reader.push(header(type, 1));
      expect(alertOf(() => reader.next())).toBe(AlertDescription.unexpected_message);
    }
    for (const type of [21, 22]) {
      const reader = new RecordReader();
      reader.push(header(type, 0));
      expect(alertOf(() => reader.next())).toBe(AlertDescription.unexpected_message);
    }
    // A zero-length application_data record is legal framing (§5.1); the protector then rejects it.
    const reader = new RecordReader();
    reader.push(header(23, 0));
    expect(reader.next()?.fragment.length).toBe(0);
  });

  it('random bytes only ever raise the record alerts, never anything else', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2000 }), (junk) => {
      const reader = new RecordReader();
      try {
        reader.push(junk);
        [...reader.records()];
      } catch (e) {
        expect(e).toBeInstanceOf(PqtlsError);
        expect([AlertDescription.unexpected_message, AlertDescription.record_overflow]).toContain((e as PqtlsError).alert);
      }
    }), seeded(52, { numRuns: 300 }));
  });

  it('bounds what it buffers: a caller that does not drain hits maxBufferedBytes', () => {
    const limit = 5 + MAX_CIPHERTEXT;
    const reader = new RecordReader({ maxBufferedBytes: limit });
    const rec = encodeRecord(ContentType.application_data, new Uint8Array(1000));
    let pushed = 0;
    expect(() => {
      for (;;) {
        reader.push(rec);
        pushed += rec.length;
      }
    }).toThrow(SizeOverflowError);
    expect(pushed).toBeLessThanOrEqual(limit);
    expect(reader.room).toBe(limit - pushed);
    expect(reader.bufferedBytes).toBe(pushed);
    // Draining makes room again.
    expect([...reader.records()].length).toBe(pushed / rec.length);
    reader.push(rec);
    expect(() => new RecordReader({ maxBufferedBytes: 1000 })).toThrow(ConfigError);
  });

  it('keeps returned records intact when the buffer is reused', () => {
    const rand = seededRandom('reuse');
    const bodies = Array.from({ length: 40 }, () => rand(3000));
    const reader = new RecordReader({ maxBufferedBytes: 5 + MAX_CIPHERTEXT });
    const got: TlsRecord[] = [];
    for (const b of bodies) {
      reader.push(encodeRecord(ContentType.application_data, b));
      got.push(...reader.records());
    }
    expect(got.map((r) => r.fragment)).toEqual(bodies);
  });
});

describe('encoding and fragmentation (§5.1)', () => {
  it('fragments data into records of at most 2^14 bytes that reassemble to the data', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 3 * MAX_PLAINTEXT + 5 }), fc.oneof(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: MAX_PLAINTEXT })), (len, max) => {
      const data = seededRandom(`fragment ${len}`)(len);
      const frags = fragment(data, max);
      expect(frags.length).toBe(Math.ceil(len / max));
      expect(frags.every((f) => f.length <= max && f.length > 0)).toBe(true);
      expect(equalBytes(concat(...frags), data)).toBe(true);
    }), seeded(53, { numRuns: 50 }));
  });

  it('encodeRecords frames each fragment with type, 0x0303 and length', () => {
    const data = new Uint8Array(MAX_PLAINTEXT * 2 + 1).fill(1);
    const recs = encodeRecords(ContentType.handshake, data);
    expect(recs.map((r) => r.length)).toEqual([5 + MAX_PLAINTEXT, 5 + MAX_PLAINTEXT, 6]);
    expect([...recs[2]!.subarray(0, 5)]).toEqual([22, 3, 3, 0, 1]);
    const reader = new RecordReader();
    for (const r of recs) reader.push(r);
    expect(concat(...[...reader.records()].map((r) => r.fragment))).toEqual(data);
    expect(encodeRecords(ContentType.handshake, new Uint8Array(0))).toEqual([]);
  });

  it('refuses oversize fragments and invalid fragment limits', () => {
    expect(() => encodeRecord(ContentType.application_data, new Uint8Array(MAX_PLAINTEXT + 1))).toThrow(ConfigError);
    expect(() => fragment(new Uint8Array(1), 0)).toThrow(ConfigError);
    expect(() => fragment(new Uint8Array(1), MAX_PLAINTEXT + 1)).toThrow(ConfigError);
  });
});
