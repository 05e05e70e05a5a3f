/**
 * RFC 8446 §5.2–5.5 record protection, property-tested for all three cipher
 * suites: round trips with any content and padding (§5.4), rejection of every
 * single-bit change (§5.2), per-record nonces and sequence numbers (§5.3),
 * and the size limits (§5.1, §5.2, §5.4).
 */
import fc from 'fast-check';
import { seeded } from '../helpers/fc.js';
import { describe, expect, it } from 'vitest';
import { concat } from '../../src/bytes.js';
import { AlertDescription, BadRecordMacError, ConfigError, PqtlsError, RecordOverflowError } from '../../src/errors.js';
import { createNobleProvider } from '../../src/pq/noble/index.js';
import { seededRandom } from '../../src/testing/index.js';
import { cipherSuiteInfo, DEFAULT_CIPHER_SUITES, type CipherSuiteInfo } from '../../src/tls13/cipher-suites.js';
import { ContentType, MAX_CIPHERTEXT, MAX_PLAINTEXT } from '../../src/tls13/content-type.js';
import { deriveTrafficKeys } from '../../src/tls13/key-schedule.js';
import {
  MAX_SEQUENCE_NUMBER, noPadding, padToBlockSize, padToMaximum, RecordProtector,
} from '../../src/tls13/record-protection.js';

const provider = createNobleProvider({ random: seededRandom('record protection') });
const suites: CipherSuiteInfo[] = DEFAULT_CIPHER_SUITES.map((id) => cipherSuiteInfo(id)!);
const secret = (s: CipherSuiteInfo): Uint8Array => seededRandom(`traffic secret ${s.name}`)(s.hashLength);

/** A sealer and an opener for the same direction and key. */
async function pair(s: CipherSuiteInfo, options = {}): Promise<[RecordProtector, RecordProtector]> {
  return [await RecordProtector.create(provider, s, secret(s), options), await RecordProtector.create(provider, s, secret(s), options)];
}

async function alertOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(PqtlsError);
    return (e as PqtlsError).alert;
  }
  throw new Error('expected the record to be rejected');
}

const open = (p: RecordProtector, rec: Uint8Array) => p.open(rec.subarray(0, 5), rec.subarray(5));

const typeArb = fc.constantFrom<ContentType>(ContentType.handshake, ContentType.alert, ContentType.application_data);

for (const s of suites) {
  describe(`${s.name}`, () => {
    it('round trip: any content type, content and padding comes back as sent, padding stripped (§5.4)', async () => {
      const [sealer, opener] = await pair(s);
      await fc.assert(fc.asyncProperty(typeArb, fc.uint8Array({ maxLength: 600 }), fc.nat({ max: 300 }), async (type, content, pad) => {
        fc.pre(content.length > 0 || type === ContentType.application_data);
        const rec = await sealer.seal(type, content, pad);
        expect([...rec.subarray(0, 3)]).toEqual([0x17, 0x03, 0x03]);
        expect(rec.length).toBe(5 + content.length + 1 + pad + 16);
        const got = await open(opener, rec);
        expect(got.contentType).toBe(type);
        expect(got.content).toEqual(content);
      }), seeded(5, { numRuns: 60 }));
      expect(sealer.sequenceNumber).toBe(opener.sequenceNumber);
    });

    it('content ending in zero bytes survives padding removal (the type byte marks the end)', async () => {
      const [sealer, opener] = await pair(s);
      const content = new Uint8Array([1, 0, 0, 0]);
      const got = await open(opener, await sealer.seal(ContentType.application_data, content, 7));
      expect(got.content).toEqual(content);
    });

    it('any single bit flip anywhere in a record is rejected (§5.2)', async () => {
      const [sealer] = await pair(s);
      const records: Uint8Array[] = [];
      for (const len of [0, 1, 40]) records.push(await sealer.seal(ContentType.application_data, new Uint8Array(len).fill(0x5a), len % 3));
      await fc.assert(fc.asyncProperty(fc.nat({ max: records.length - 1 }), fc.nat(), fc.nat({ max: 7 }), async (which, at, bit) => {
        // A fresh opener at the record's sequence number each time.
        const opener = await RecordProtector.create(provider, s, secret(s), { sequenceNumber: BigInt(which) });
        const rec = records[which]!.slice();
        const pos = at % rec.length;
        rec[pos] = (rec[pos] as number) ^ (1 << bit);
        const alert = await alertOf(open(opener, rec));
        if (pos === 0) expect(alert).toBe(AlertDescription.unexpected_message);
        else if (pos === 3 || pos === 4) expect([AlertDescription.decode_error, AlertDescription.record_overflow]).toContain(alert);
        else expect(alert).toBe(AlertDescription.bad_record_mac);
        expect(opener.sequenceNumber).toBe(BigInt(which));
      }), seeded(20, { numRuns: 150 }));
    });
  });
}

describe('sequence numbers and nonces (§5.3)', () => {
  const s = suites[0]!;

  it('each record gets its own nonce: the same content seals differently at each sequence number', async () => {
    const [sealer] = await pair(s);
    const a = await sealer.seal(ContentType.application_data, new Uint8Array(16));
    const b = await sealer.seal(ContentType.application_data, new Uint8Array(16));
    expect(a).not.toEqual(b);
    expect(sealer.sequenceNumber).toBe(2n);
  });

  it('records must be opened in order; a failed open does not consume a sequence number', async () => {
    const [sealer, opener] = await pair(s);
    const r0 = await sealer.seal(ContentType.handshake, new Uint8Array([1]));
    const r1 = await sealer.seal(ContentType.handshake, new Uint8Array([2]));
    await expect(open(opener, r1)).rejects.toBeInstanceOf(BadRecordMacError);
    expect(opener.sequenceNumber).toBe(0n);
    expect((await open(opener, r0)).content).toEqual(new Uint8Array([1]));
    expect((await open(opener, r1)).content).toEqual(new Uint8Array([2]));
    // Replaying a record fails: its sequence number has passed.
    await expect(open(opener, r1)).rejects.toBeInstanceOf(BadRecordMacError);
  });

  it('the nonce is write_iv XOR the 64-bit sequence number, left-padded (a record sealed at 2^64 - 1 opens there)', async () => {
    const high = MAX_SEQUENCE_NUMBER;
    const sealer = await RecordProtector.create(provider, s, secret(s), { sequenceNumber: high });
    const rec = await sealer.seal(ContentType.application_data, new Uint8Array([9]));
    const { key, iv } = await deriveTrafficKeys(provider, s, secret(s));
    const nonce = iv.slice();
    for (let i = 4; i < 12; i++) nonce[i] = (nonce[i] as number) ^ 0xff;
    const aead = await provider.aead(s.aead, key);
    expect(await aead.open(nonce, rec.subarray(0, 5), rec.subarray(5))).toEqual(new Uint8Array([9, ContentType.application_data]));
    const opener = await RecordProtector.create(provider, s, secret(s), { sequenceNumber: high });
    expect((await open(opener, rec)).content).toEqual(new Uint8Array([9]));
  });

  it('the nonce carries across the 32-bit boundary of the sequence number (2^32 - 2 to 2^32 + 1)', async () => {
    const start = 2n ** 32n - 2n;
    const sealer = await RecordProtector.create(provider, s, secret(s), { sequenceNumber: start });
    const { key, iv } = await deriveTrafficKeys(provider, s, secret(s));
    const aead = await provider.aead(s.aead, key);
    for (let i = 0n; i < 4n; i++) {
      const rec = await sealer.seal(ContentType.application_data, new Uint8Array([Number(i)]));
      const nonce = iv.slice();
      const seq = start + i;
      for (let b = 0; b < 8; b++) nonce[11 - b] = (nonce[11 - b] as number) ^ Number((seq >> BigInt(8 * b)) & 0xffn);
      expect(await aead.open(nonce, rec.subarray(0, 5), rec.subarray(5))).toEqual(new Uint8Array([Number(i), ContentType.application_data]));
    }
    expect(sealer.sequenceNumber).toBe(start + 4n);
  });

  it('refuses to wrap the sequence number after 2^64 - 1 records', async () => {
    const [sealer, opener] = await pair(s, { sequenceNumber: MAX_SEQUENCE_NUMBER });
    const last = await sealer.seal(ContentType.application_data, new Uint8Array(1));
    await expect(sealer.seal(ContentType.application_data, new Uint8Array(1))).rejects.toBeInstanceOf(ConfigError);
    await open(opener, last);
    await expect(open(opener, last)).rejects.toBeInstanceOf(ConfigError);
    await expect(RecordProtector.create(provider, s, secret(s), { sequenceNumber: MAX_SEQUENCE_NUMBER + 1n })).rejects.toBeInstanceOf(ConfigError);
  });

  it('recommends a KeyUpdate after 2^24 AES-GCM records, never for ChaCha20-Poly1305 (§5.5)', async () => {
    const aes = await RecordProtector.create(provider, s, secret(s), { sequenceNumber: 2n ** 24n - 1n });
    expect(aes.keyUpdateRecommended).toBe(false);
    await aes.seal(ContentType.application_data, new Uint8Array(1));
    expect(aes.keyUpdateRecommended).toBe(true);
    const chacha = suites[2]!;
    const c = await RecordProtector.create(provider, chacha, secret(chacha), { sequenceNumber: 2n ** 60n });
    expect(c.keyUpdateRecommended).toBe(false);
  });
});

describe('size limits (§5.1, §5.2, §5.4)', () => {
  const s = suites[1]!;

  it('a full 2^14-byte record with the largest padding that fits round-trips', async () => {
    const [sealer, opener] = await pair(s);
    const content = seededRandom('full')(MAX_PLAINTEXT);
    const rec = await sealer.seal(ContentType.application_data, content);
    expect(rec.length).toBe(5 + MAX_PLAINTEXT + 1 + 16);
    expect((await open(opener, rec)).content).toEqual(content);
    const small = await sealer.seal(ContentType.application_data, new Uint8Array(10), MAX_PLAINTEXT - 10);
    expect(small.length).toBe(5 + MAX_PLAINTEXT + 1 + 16);
    expect((await open(opener, small)).content).toEqual(new Uint8Array(10));
  });

  it('the sealer refuses content over 2^14, padding that does not fit, and empty handshake or alert records', async () => {
    const [sealer] = await pair(s);
    await expect(sealer.seal(ContentType.application_data, new Uint8Array(MAX_PLAINTEXT + 1))).rejects.toBeInstanceOf(ConfigError);
    await expect(sealer.seal(ContentType.application_data, new Uint8Array(10), MAX_PLAINTEXT - 9)).rejects.toBeInstanceOf(ConfigError);
    await expect(sealer.seal(ContentType.application_data, new Uint8Array(1), -1)).rejects.toBeInstanceOf(ConfigError);
    await expect(sealer.seal(ContentType.handshake, new Uint8Array(0))).rejects.toBeInstanceOf(ConfigError);
    await expect(sealer.seal(ContentType.change_cipher_spec, new Uint8Array(1))).rejects.toBeInstanceOf(ConfigError);
    expect(sealer.sequenceNumber).toBe(0n);
  });

  it('an encrypted_record over 2^14 + 256 bytes is record_overflow before any decryption', async () => {
    const [, opener] = await pair(s);
    const len = MAX_CIPHERTEXT + 1;
    const header = new Uint8Array([23, 3, 3, len >> 8, len & 0xff]);
    await expect(opener.open(header, new Uint8Array(len))).rejects.toBeInstanceOf(RecordOverflowError);
  });

  /** Seals an arbitrary TLSInnerPlaintext with the real nonce and header, as a misbehaving peer could. */
  async function rawRecord(inner: Uint8Array): Promise<Uint8Array> {
    const { key, iv } = await deriveTrafficKeys(provider, s, secret(s));
    const len = inner.length + 16;
    const header = new Uint8Array([23, 3, 3, len >> 8, len & 0xff]);
    const aead = await provider.aead(s.aead, key);
    return concat(header, await aead.seal(iv, header, inner));
  }

  it('an inner plaintext over 2^14 + 1 bytes is record_overflow', async () => {
    const [, opener] = await pair(s);
    const inner = new Uint8Array(MAX_PLAINTEXT + 2);
    inner[0] = ContentType.application_data;
    await expect(open(opener, await rawRecord(inner))).rejects.toBeInstanceOf(RecordOverflowError);
  });

  it('an all-zero inner plaintext (no content type) is unexpected_message', async () => {
    const [, opener] = await pair(s);
    expect(await alertOf(open(opener, await rawRecord(new Uint8Array(20))))).toBe(AlertDescription.unexpected_message);
  });

  it('an inner change_cipher_spec, an unknown inner type, or an empty handshake record is unexpected_message', async () => {
    for (const inner of [[1, ContentType.change_cipher_spec], [1, 99, 0, 0], [ContentType.handshake, 0, 0], [ContentType.alert]]) {
      const [, opener] = await pair(s);
      expect(await alertOf(open(opener, await rawRecord(new Uint8Array(inner))))).toBe(AlertDescription.unexpected_message);
    }
  });

  it('a header whose length disagrees with the payload is decode_error; a short header too', async () => {
    const [sealer, opener] = await pair(s);
    const rec = await sealer.seal(ContentType.application_data, new Uint8Array(4));
    expect(await alertOf(opener.open(rec.subarray(0, 5), rec.subarray(5, rec.length - 1)))).toBe(AlertDescription.decode_error);
    expect(await alertOf(opener.open(rec.subarray(0, 4), rec.subarray(5)))).toBe(AlertDescription.decode_error);
  });
});

describe('padding policies (§5.4)', () => {
  const s = suites[2]!;

  it('padToBlockSize(n) makes every inner plaintext a multiple of n, capped at 2^14 + 1', async () => {
    for (const n of [1, 32, 256, 4096]) {
      const [sealer, opener] = await pair(s, { padding: padToBlockSize(n) });
      await fc.assert(fc.asyncProperty(fc.oneof(fc.nat({ max: 1000 }), fc.integer({ min: MAX_PLAINTEXT - 300, max: MAX_PLAINTEXT })), async (len) => {
        const rec = await sealer.seal(ContentType.application_data, new Uint8Array(len));
        const inner = rec.length - 5 - 16;
        expect(inner <= MAX_PLAINTEXT + 1).toBe(true);
        if (inner < MAX_PLAINTEXT + 1) expect(inner % n).toBe(0);
        expect(inner).toBeGreaterThanOrEqual(len + 1);
        expect(inner - (len + 1)).toBeLessThan(n);
        expect((await open(opener, rec)).content.length).toBe(len);
      }), seeded(54, { numRuns: 25 }));
    }
  });

  it('padToMaximum fills every record; noPadding adds nothing; an explicit length overrides the policy', async () => {
    const [full, fullOpen] = await pair(s, { padding: padToMaximum });
    const rec = await full.seal(ContentType.alert, new Uint8Array([1, 0]));
    expect(rec.length).toBe(5 + MAX_PLAINTEXT + 1 + 16);
    expect((await open(fullOpen, rec)).content).toEqual(new Uint8Array([1, 0]));
    expect((await full.seal(ContentType.alert, new Uint8Array([1, 0]), 0)).length).toBe(5 + 3 + 16);
    const [none] = await pair(s, { padding: noPadding });
    expect((await none.seal(ContentType.alert, new Uint8Array([1, 0]))).length).toBe(5 + 3 + 16);
  });

  it('a policy returning nonsense is a ConfigError, and block sizes are validated', async () => {
    const [bad] = await pair(s, { padding: () => -1 });
    await expect(bad.seal(ContentType.application_data, new Uint8Array(1))).rejects.toBeInstanceOf(ConfigError);
    expect(() => padToBlockSize(0)).toThrow(ConfigError);
    expect(() => padToBlockSize(MAX_PLAINTEXT + 2)).toThrow(ConfigError);
  });
});

describe('keying on the calling thread (RecordProtector.createSync)', () => {
  it('a provider offering HKDF-Expand and AEAD keying synchronously keys the same protector as create() (§7.3), for every suite', async () => {
    for (const s of suites) {
      const viaPromises = await RecordProtector.create(provider, s, secret(s));
      const onThread = RecordProtector.createSync(provider, s, secret(s));
      expect(onThread).toBeDefined();
      const content = seededRandom(`content ${s.name}`)(300);
      const a = await viaPromises.seal(ContentType.application_data, content);
      const b = await (onThread as RecordProtector).seal(ContentType.application_data, content);
      expect(b).toEqual(a);
      const opener = RecordProtector.createSync(provider, s, secret(s), { sequenceNumber: 0n }) as RecordProtector;
      expect((await open(opener, b)).content).toEqual(content);
    }
  });

  it('a provider whose HKDF or AEAD keying was replaced by a wrapper is keyed through the wrapper, never around it', async () => {
    const s = suites[0] as CipherSuiteInfo;
    let keyed = 0;
    const wrapped = { ...provider, aead: async (...a: Parameters<typeof provider.aead>) => { keyed++; return provider.aead(...a); } };
    expect(provider.aead.sync).toBeDefined();
    expect(RecordProtector.createSync(wrapped, s, secret(s))).toBeUndefined();
    expect(RecordProtector.createSync({ ...provider, hkdfExpand: async (...a: Parameters<typeof provider.hkdfExpand>) => provider.hkdfExpand(...a) }, s, secret(s)))
      .toBeUndefined();
    await RecordProtector.create(wrapped, s, secret(s));
    expect(keyed).toBe(1);
  });

  it('checks the sequence number as create() does', () => {
    const s = suites[0] as CipherSuiteInfo;
    expect(() => RecordProtector.createSync(provider, s, secret(s), { sequenceNumber: -1n })).toThrow(ConfigError);
    expect(() => RecordProtector.createSync(provider, s, secret(s), { sequenceNumber: MAX_SEQUENCE_NUMBER + 1n })).toThrow(ConfigError);
  });
});
