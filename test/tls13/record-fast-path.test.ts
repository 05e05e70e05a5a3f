/**
 * The record layer's fast paths (issue 13), checked against the slow ones:
 * an AEAD that declares itself synchronous (`sealInto` + `openSync`) protects
 * and opens records byte for byte as the promise-returning calls do (RFC 8446
 * §5.2–5.3), a provider without them still works, records are cut across the
 * application's buffers (§5.1: application data may be split and joined
 * freely across records) and handed out without aliasing the receive buffer.
 */
import fc from 'fast-check';
import { seeded } from '../helpers/fc.js';
import { describe, expect, it } from 'vitest';
import { concat, equalBytes } from '../../src/bytes.js';
import { AlertDescription, BadRecordMacError, ConfigError, PqtlsError, SizeOverflowError } from '../../src/errors.js';
import { createNodeCryptoProvider } from '../../src/node/index.js';
import type { AeadKey, CryptoProvider } from '../../src/pq/provider.js';
import { seededRandom } from '../../src/testing/index.js';
import { cipherSuiteInfo, DEFAULT_CIPHER_SUITES, type CipherSuiteInfo } from '../../src/tls13/cipher-suites.js';
import { ContentType, MAX_PLAINTEXT } from '../../src/tls13/content-type.js';
import type { TlsConnection } from '../../src/tls13/connection.js';
import { RecordReader, encodeRecord, joinSmallPieces } from '../../src/tls13/record-layer.js';
import { RecordProtector } from '../../src/tls13/record-protection.js';
import { connectPair, drain, pinnedKeyVerifier, seededProvider, testKey } from '../helpers/tls-pair.js';

const suites: CipherSuiteInfo[] = DEFAULT_CIPHER_SUITES.map((id) => cipherSuiteInfo(id)!);
const providers: [string, CryptoProvider][] = [
  ['noble', seededProvider('fast path')],
  // node:crypto proper (sealParts); the provider's default, OpenSSL through koffi, seals into the record like noble.
  ['node', createNodeCryptoProvider({ random: seededRandom('fast path node'), ffi: false })],
  ['node-ffi', createNodeCryptoProvider({ random: seededRandom('fast path node ffi') })],
];

/** The provider with another `aead` (providers are frozen: the new one shadows it on a derived object). */
function withAead(p: CryptoProvider, aead: (alg: Parameters<CryptoProvider['aead']>[0], key: Uint8Array) => Promise<AeadKey>): CryptoProvider {
  return Object.create(p, { aead: { value: aead } }) as CryptoProvider;
}

/** The provider with its AEADs stripped to the required, promise-returning calls (a device or SubtleCrypto). */
function asyncOnly(p: CryptoProvider): CryptoProvider {
  return withAead(p, async (alg, key) => {
    const k = await p.aead(alg, key);
    return { algorithm: k.algorithm, tagLength: 16, nonceLength: 12, seal: (n, a, m) => k.seal(n, a, m), open: (n, a, c) => k.open(n, a, c) };
  });
}

/** The provider, counting which AEAD calls the record layer makes. */
function counting(p: CryptoProvider): { provider: CryptoProvider; calls: Record<'open' | 'openSync' | 'seal' | 'sealInto' | 'sealParts', number> } {
  const calls = { open: 0, openSync: 0, seal: 0, sealInto: 0, sealParts: 0 };
  const provider = withAead(p, async (alg, key) => {
    const k = await p.aead(alg, key);
    const { sealInto, openSync, sealParts } = k;
    return {
      algorithm: k.algorithm, tagLength: 16, nonceLength: 12,
      seal: (n, a, m) => (calls.seal++, k.seal(n, a, m)),
      open: (n, a, c) => (calls.open++, k.open(n, a, c)),
      ...(sealInto && { sealInto: (n: Uint8Array, a: Uint8Array, m: Uint8Array, o: Uint8Array) => (calls.sealInto++, sealInto(n, a, m, o)) }),
      ...(openSync && { openSync: (n: Uint8Array, a: Uint8Array, c: Uint8Array) => (calls.openSync++, openSync(n, a, c)) }),
      ...(sealParts && { sealParts: (n: Uint8Array, a: Uint8Array, m: readonly Uint8Array[]) => (calls.sealParts++, sealParts(n, a, m)) }),
    };
  });
  return { provider, calls };
}

async function connected(provider: CryptoProvider): Promise<{ client: TlsConnection; server: TlsConnection }> {
  const key = await testKey(provider, 'ed25519');
  const pair = await connectPair(
    { provider, verifier: pinnedKeyVerifier(key) },
    { provider, certificate: { chain: [key.publicKey], privateKey: key.privateKey, keyAlgorithm: key.keyAlgorithm } },
  );
  expect(pair.client.handshakeInfo && pair.server.handshakeInfo).toBeTruthy();
  drain(pair.client);
  drain(pair.server);
  return pair;
}

/** Splits a stream of TLSCiphertext records into their lengths (§5.1 framing). */
function recordLengths(stream: Uint8Array): number[] {
  const out: number[] = [];
  for (let o = 0; o < stream.length; ) {
    const len = ((stream[o + 3] as number) << 8) | (stream[o + 4] as number);
    out.push(len);
    o += 5 + len;
  }
  return out;
}

describe('synchronous AEAD declaration (RFC 8446 §5.2–5.3)', () => {
  for (const [name, provider] of providers) {
    for (const s of suites) {
      it(`${name} ${s.name}: sealSync/openSync agree with seal/open, and a forgery leaves the sequence number alone`, async () => {
        const secret = seededRandom(`secret ${s.name}`)(s.hashLength);
        const [a, b, c] = await Promise.all([0, 1, 2].map(() => RecordProtector.create(provider, s, secret)));
        expect(a!.isSync).toBe(true);
        const content = seededRandom(`content ${s.name}`)(3000);
        for (let i = 0; i < 3; i++) {
          const slow = await a!.seal(ContentType.application_data, content, 7);
          // Pieces seal to the same bytes as the whole: each is copied once, into the record.
          const fast = b!.sealSync(ContentType.application_data, [content.subarray(0, 1), content.subarray(1, 2000), content.subarray(2000)], 7);
          expect(equalBytes(fast, slow)).toBe(true);
          const forged = fast.slice();
          forged[10] = (forged[10] as number) ^ 1;
          expect(() => c!.openSync(forged.subarray(0, 5), forged.subarray(5))).toThrow(BadRecordMacError);
          const opened = c!.openSync(fast.subarray(0, 5), fast.subarray(5));
          expect(opened.contentType).toBe(ContentType.application_data);
          expect(equalBytes(opened.content, content)).toBe(true);
          // The content never aliases the record it came from: the receive buffer may be reused.
          expect(opened.content.buffer).not.toBe(fast.buffer);
        }
        expect(c!.sequenceNumber).toBe(3n);
      });
    }
  }

  it('sealSync into a caller\'s array writes the same record, zero padding included, whatever the array held (§5.4)', async () => {
    const s = suites[0]!;
    const secret = seededRandom('secret into')(s.hashLength);
    const [a, b, c] = await Promise.all([0, 1, 2].map(() => RecordProtector.create(providers[0]![1], s, secret)));
    const content = seededRandom('content into')(500);
    const dirty = new Uint8Array(RecordProtector.recordLength(500, 9) + 10).fill(0xff);
    const rec = b!.sealSync(ContentType.handshake, content, 9, dirty.subarray(3));
    expect(rec.length).toBe(RecordProtector.recordLength(500, 9));
    expect(equalBytes(rec, await a!.seal(ContentType.handshake, content, 9))).toBe(true);
    expect(equalBytes(c!.openSync(rec.subarray(0, 5), rec.subarray(5)).content, content)).toBe(true);
    expect(() => b!.sealSync(ContentType.handshake, content, 9, new Uint8Array(100))).toThrow(ConfigError);
  });

  it('an AEAD without sealInto/openSync is not synchronous: the sync calls refuse, the async ones work', async () => {
    const s = suites[0]!;
    const p = asyncOnly(providers[0]![1]);
    const secret = seededRandom('secret async')(s.hashLength);
    const a = await RecordProtector.create(p, s, secret);
    const b = await RecordProtector.create(p, s, secret);
    expect(a.isSync).toBe(false);
    expect(() => a.sealSync(ContentType.application_data, new Uint8Array(3))).toThrow(ConfigError);
    const rec = await a.seal(ContentType.application_data, new Uint8Array([1, 2, 3]));
    expect(() => b.openSync(rec.subarray(0, 5), rec.subarray(5))).toThrow(ConfigError);
    expect([...(await b.open(rec.subarray(0, 5), rec.subarray(5))).content]).toEqual([1, 2, 3]);
  });
});

describe('sealing in pieces (RFC 8446 §5.2, §5.4)', () => {
  for (const s of suites) {
    it(`node ${s.name}: sealPieces writes the bytes seal writes, padding included, without copying the content`, async () => {
      const provider = providers[1]![1];
      const secret = seededRandom(`pieces ${s.name}`)(s.hashLength);
      const [a, b, c] = await Promise.all([0, 1, 2].map(() => RecordProtector.create(provider, s, secret)));
      expect(b!.sealsInPieces).toBe(true);
      const content = seededRandom(`pieces content ${s.name}`)(MAX_PLAINTEXT);
      for (const [type, parts, pad] of [
        [ContentType.application_data, [content], 0],
        [ContentType.application_data, [content.subarray(0, 1), content.subarray(1, 9000), content.subarray(9000, 16000)], 5],
        [ContentType.handshake, [content.subarray(0, 300)], 300],
        [ContentType.application_data, [], 0],
      ] as const) {
        const whole = concat(...parts);
        const slow = await a!.seal(type, whole, pad);
        const pieces: Uint8Array[] = [];
        const n = b!.sealPieces(type, parts, pad, pieces);
        expect(n).toBe(slow.length);
        expect(equalBytes(concat(...pieces), slow)).toBe(true);
        // The AEAD's output is handed out, never the caller's content.
        for (const p of pieces) expect(parts.some((q) => q.buffer === p.buffer)).toBe(false);
        const opened = c!.openSync(slow.subarray(0, 5), slow.subarray(5));
        expect([opened.contentType, equalBytes(opened.content, whole)]).toEqual([type, true]);
      }
      expect(b!.sequenceNumber).toBe(4n);
    });
  }

  it('noble has no sealParts: sealPieces refuses, and records go through sealInto', async () => {
    const s = suites[0]!;
    const p = await RecordProtector.create(providers[0]![1], s, seededRandom('noble pieces')(s.hashLength));
    expect(p.sealsInPieces).toBe(false);
    expect(() => p.sealPieces(ContentType.application_data, new Uint8Array(3), undefined, [])).toThrow(ConfigError);
  });

  it('joinSmallPieces keeps the bytes, joins runs of small pieces into one allocation and passes large ones through', () => {
    const big1 = new Uint8Array(2000).fill(1);
    const big2 = new Uint8Array(3000).fill(2);
    const small = (n: number, v: number) => new Uint8Array(n).fill(v);
    const pieces = [small(5, 3), big1, small(1, 4), small(16, 5), new Uint8Array(0), small(5, 6), big2, small(17, 7)];
    const joined = joinSmallPieces(pieces);
    expect(equalBytes(concat(...joined), concat(...pieces))).toBe(true);
    expect(joined.map((p) => p.length)).toEqual([5, 2000, 22, 3000, 17]);
    expect(joined[1]).toBe(big1);
    expect(joined[3]).toBe(big2);
    expect(joined[2]!.buffer).toBe(joined[0]!.buffer);
    // Nothing small to join: the list as it was, less any empty piece.
    expect(joinSmallPieces([big1, new Uint8Array(0), big2])).toEqual([big1, big2]);
  });
});

describe('TlsConnection record fast paths', () => {
  it('with a synchronous AEAD, application data is sealed and opened through sealInto/openSync only', async () => {
    const { provider, calls } = counting(seededProvider('counting'));
    const { client, server } = await connected(provider);
    const before = { ...calls };
    await client.write(new Uint8Array(5 * MAX_PLAINTEXT).fill(9));
    await server.receive(client.takeOutput());
    const got = drain(server).filter((e) => e.type === 'data');
    expect(got.reduce((n, e) => n + (e.type === 'data' ? e.data.length : 0), 0)).toBe(5 * MAX_PLAINTEXT);
    expect(calls.sealInto - before.sealInto).toBe(5);
    expect(calls.openSync - before.openSync).toBe(5);
    expect([calls.seal - before.seal, calls.open - before.open]).toEqual([0, 0]);
  });

  it('with node:crypto, application data is sealed through sealParts, two transport chunks per record, and reads back', async () => {
    const { provider, calls } = counting(providers[1]![1]);
    const { client, server } = await connected(provider);
    const before = { ...calls };
    const data = seededRandom('parts data')(5 * MAX_PLAINTEXT - 7);
    await client.writev([data.subarray(0, 10), data.subarray(10)]);
    const chunks = client.takeOutputChunks();
    expect(calls.sealParts - before.sealParts).toBe(5);
    expect([calls.sealInto - before.sealInto, calls.seal - before.seal]).toEqual([0, 0]);
    // Each record body as the AEAD returned it, the small pieces between them joined (tag, next header).
    expect(chunks.length).toBe(2 * 5 + 1);
    expect(recordLengths(concat(...chunks))).toEqual([...Array(4).fill(MAX_PLAINTEXT + 17), MAX_PLAINTEXT - 7 + 17]);
    for (const c of chunks) await server.receive(c);
    expect(equalBytes(concat(...drain(server).flatMap((e) => (e.type === 'data' ? [e.data] : []))), data)).toBe(true);
    expect(calls.openSync - before.openSync).toBe(5);
  });

  it('a provider whose AEAD is asynchronous only still handshakes and carries data both ways', async () => {
    const { client, server } = await connected(asyncOnly(seededProvider('async only')));
    const data = seededRandom('async data')(40_000);
    await client.write(data);
    await server.receive(client.takeOutput());
    await server.write(data.subarray(0, 100));
    await client.receive(server.takeOutput());
    const s = drain(server).flatMap((e) => (e.type === 'data' ? [e.data] : []));
    const c = drain(client).flatMap((e) => (e.type === 'data' ? [e.data] : []));
    expect(equalBytes(concat(...s), data)).toBe(true);
    expect(equalBytes(concat(...c), data.subarray(0, 100))).toBe(true);
  });

  it('writev cuts full records across the buffers (§5.1) and the peer reads the bytes in order', async () => {
    const { client, server } = await connected(seededProvider('writev'));
    const data = seededRandom('writev data')(100_000);
    const chunks: Uint8Array[] = [];
    for (let o = 0; o < data.length; o += 100) chunks.push(data.subarray(o, o + 100));
    await client.writev(chunks);
    const out = client.takeOutputChunks();
    // 100,000 bytes fill six full records and one of 1,696: one per 2^14, not one per write; all of
    // them in one array, as the transport gets them.
    expect(out.map((r) => recordLengths(r))).toEqual([[...Array(6).fill(MAX_PLAINTEXT + 17), 100_000 - 6 * MAX_PLAINTEXT + 17]]);
    for (const r of out) await server.receive(r);
    expect(equalBytes(concat(...drain(server).flatMap((e) => (e.type === 'data' ? [e.data] : []))), data)).toBe(true);
  });

  it('takeOutputChunks hands out the records as made (one array per write or alert), in order, and empties the output like takeOutput', async () => {
    const { client, server } = await connected(seededProvider('chunks'));
    await client.write(new Uint8Array(2 * MAX_PLAINTEXT + 1).fill(3));
    await client.close();
    expect(client.wantsWrite).toBe(true);
    const chunks = client.takeOutputChunks();
    expect(client.wantsWrite).toBe(false);
    expect(client.takeOutputChunks()).toEqual([]);
    expect(chunks.map((c) => recordLengths(c).length)).toEqual([3, 1]);
    await server.receive(concat(...chunks));
    const events = drain(server);
    expect(events.filter((e) => e.type === 'data').reduce((n, e) => n + (e.type === 'data' ? e.data.length : 0), 0)).toBe(2 * MAX_PLAINTEXT + 1);
    expect(events.at(-1)?.type).toBe('peerClosed');
  });

  it('data events keep their bytes when the transport reuses its receive buffer', async () => {
    const { client, server } = await connected(seededProvider('aliasing'));
    await client.write(new Uint8Array(1000).fill(0xaa));
    const first = client.takeOutput();
    await client.write(new Uint8Array(1000).fill(0xbb));
    const second = client.takeOutput();
    const buf = new Uint8Array(first.length);
    buf.set(first);
    await server.receive(buf);
    const [a] = drain(server);
    buf.set(second);
    await server.receive(buf);
    const [b] = drain(server);
    expect(a?.type === 'data' && a.data.every((x) => x === 0xaa)).toBe(true);
    expect(b?.type === 'data' && b.data.every((x) => x === 0xbb)).toBe(true);
  });
});

describe('RecordReader.nextView (§5.1)', () => {
  it('returns views of its buffer, valid until the next push; next() returns copies', () => {
    const reader = new RecordReader();
    reader.push(concat(encodeRecord(ContentType.handshake, new Uint8Array([1, 2, 3])), encodeRecord(ContentType.handshake, new Uint8Array([4]))));
    const view = reader.nextView()!;
    const copy = reader.next()!;
    expect([...view.fragment]).toEqual([1, 2, 3]);
    expect([...copy.fragment]).toEqual([4]);
    expect(view.fragment.buffer).toBe(view.header.buffer);
    expect(copy.fragment.byteOffset).toBe(0);
    expect(reader.nextView()).toBeUndefined();
  });
});

describe('RecordReader.feed: records read where they lie (§5.1)', () => {
  const records = [
    encodeRecord(ContentType.handshake, new Uint8Array([1, 2, 3])),
    encodeRecord(ContentType.application_data, seededRandom('feed a')(300)),
    encodeRecord(ContentType.application_data, new Uint8Array(0)),
    encodeRecord(ContentType.application_data, seededRandom('feed b')(1000)),
  ];
  const stream = concat(...records);
  const longest = Math.max(...records.map((r) => r.length));
  const same = (got: Uint8Array[]): boolean => got.length === records.length && got.every((g, i) => equalBytes(g, records[i]!));

  /** Feeds `stream` cut at `cuts`, overwriting each piece once released (as a transport reusing its buffer would). */
  function readCut(cuts: number[]): { got: Uint8Array[]; views: number } {
    const reader = new RecordReader();
    const got: Uint8Array[] = [];
    let views = 0;
    const bounds = [0, ...cuts, stream.length];
    for (let i = 0; i + 1 < bounds.length; i++) {
      const piece = stream.slice(bounds[i], bounds[i + 1]);
      reader.feed(piece);
      for (let r = reader.nextView(); r; r = reader.nextView()) {
        if (r.fragment.buffer === piece.buffer) views++;
        got.push(concat(r.header, r.fragment));
      }
      reader.release();
      piece.fill(0xee);
      // What stays is less than one record: the bytes of the one cut across this piece's end.
      if (reader.bufferedBytes >= longest) throw new Error(`${reader.bufferedBytes} bytes held after a release`);
    }
    if (reader.hasPartialRecord) throw new Error('a partial record left at the end of the stream');
    return { got, views };
  }

  it('a stream cut at every byte boundary yields the same records; those inside one piece are views of it', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const { got, views } = readCut([cut]);
      expect(same(got)).toBe(true);
      // Every record not cut by the boundary is returned without a copy.
      let whole = 0;
      for (let o = 0, i = 0; i < records.length; o += records[i]!.length, i++) {
        if (cut <= o || cut >= o + records[i]!.length) whole++;
      }
      expect(views).toBe(whole);
    }
  });

  it('any cutting into many pieces yields the same records', () => {
    fc.assert(fc.property(fc.uniqueArray(fc.integer({ min: 1, max: stream.length - 1 }), { maxLength: 12 }), (cuts) => {
      expect(same(readCut(cuts.sort((a, b) => a - b)).got)).toBe(true);
    }), seeded(13, { numRuns: 300 }));
  });

  /**
   * Feeds `stream` cut at `cuts`, each piece given up (never touched again, as net.Socket's reads):
   * the records, and how many came in two parts, each a view of the piece it lies in.
   */
  function readGivenUp(cuts: number[]): { got: Uint8Array[]; split: number; copied: number } {
    const reader = new RecordReader();
    const got: Uint8Array[] = [];
    let split = 0;
    let copied = 0;
    const bounds = [0, ...cuts, stream.length];
    let previous: Uint8Array | undefined;
    for (let i = 0; i + 1 < bounds.length; i++) {
      const piece = stream.slice(bounds[i], bounds[i + 1]);
      reader.feed(piece, true);
      for (let r = reader.nextView(); r; r = reader.nextView()) {
        if (r.fragmentTail) {
          split++;
          if (r.fragment.buffer !== previous?.buffer || r.fragmentTail.buffer !== piece.buffer) throw new Error('a part not where it lay');
        } else if (r.fragment.length > 0 && r.fragment.buffer !== piece.buffer) copied++;
        got.push(concat(r.header, r.fragment, r.fragmentTail ?? new Uint8Array(0)));
      }
      reader.release();
      if (reader.bufferedBytes >= longest) throw new Error(`${reader.bufferedBytes} bytes held after a release`);
      previous = piece;
    }
    if (reader.hasPartialRecord) throw new Error('a partial record left at the end of the stream');
    return { got, split, copied };
  }

  it('given up, a record cut across two pieces comes in two parts where they lie; across three it is copied', () => {
    const starts = records.map((_, i) => records.slice(0, i).reduce((n, r) => n + r.length, 0));
    for (let cut = 1; cut < stream.length; cut++) {
      const { got, split, copied } = readGivenUp([cut]);
      expect(same(got)).toBe(true);
      // Cut after a record's header and before its end: two parts. Cut within a header: the fragment lies whole in the second piece.
      const i = starts.findIndex((o, k) => cut > o && cut < o + records[k]!.length);
      expect(split).toBe(i >= 0 && cut - starts[i]! > 5 ? 1 : 0);
      expect(copied).toBe(0);
    }
    // The 1000-byte record cut twice.
    const last = starts[3]!;
    const { got, split, copied } = readGivenUp([last + 100, last + 600]);
    expect(same(got)).toBe(true);
    expect([split, copied]).toEqual([0, 1]);
  });

  it('given up, any cutting into many pieces yields the same records', () => {
    fc.assert(fc.property(fc.uniqueArray(fc.integer({ min: 1, max: stream.length - 1 }), { maxLength: 12 }), (cuts) => {
      expect(same(readGivenUp(cuts.sort((a, b) => a - b)).got)).toBe(true);
    }), seeded(14, { numRuns: 300 }));
  });

  it('a bad header is refused as soon as it is in, fed or held, and for good; push and feed wait for release', () => {
    const bad = encodeRecord(ContentType.application_data, new Uint8Array(4));
    bad[0] = 0x63;
    for (const [cut, givenUp] of [0, 2, 5, 7].flatMap((c) => [[c, false], [c, true]] as const)) {
      const reader = new RecordReader();
      reader.feed(concat(records[0]!, bad).subarray(0, records[0]!.length + cut), givenUp);
      expect(reader.nextView()).toBeDefined();
      if (cut < 5) {
        expect(reader.nextView()).toBeUndefined();
        reader.release();
        reader.feed(bad.slice(cut), givenUp);
      }
      expect(() => reader.nextView()).toThrow(PqtlsError);
      expect(() => reader.nextView()).toThrow(PqtlsError);
    }
    const reader = new RecordReader({ maxBufferedBytes: 20_000 });
    reader.feed(new Uint8Array(3));
    expect(() => reader.push(new Uint8Array(1))).toThrow(ConfigError);
    expect(() => reader.feed(new Uint8Array(1))).toThrow(ConfigError);
    reader.release();
    expect(() => reader.feed(new Uint8Array(20_000))).toThrow(SizeOverflowError);
  });
});

describe('TlsConnection.receiveSync and writevSync', () => {
  for (const [name, provider] of providers) {
    it(`${name}: records cut at every byte boundary across two reads decrypt, whatever the first read's buffer holds afterwards`, async () => {
      const { client, server } = await connected(provider);
      const msgs = [seededRandom('cut a')(50), seededRandom('cut b')(1), seededRandom('cut c')(100)];
      for (let cut = 0; ; cut++) {
        // One record per write: three records, a few hundred bytes.
        for (const m of msgs) expect(client.writevSync([m])).toBeUndefined();
        const stream = concat(...client.takeOutputChunks());
        if (cut > stream.length) break;
        const first = stream.slice(0, cut);
        // The synchronous path for the first read, the promise one for the second: the same result.
        expect(server.receiveSync(first)).toBeUndefined();
        first.fill(0);
        await server.receive(stream.slice(cut));
        const data = drain(server).flatMap((e) => (e.type === 'data' ? [e.data] : []));
        expect(equalBytes(concat(...data), concat(...msgs))).toBe(true);
      }
      expect(server.error).toBeUndefined();
    });

    it(`${name}: a forged record read synchronously still ends the connection with bad_record_mac (§5.2)`, async () => {
      const { client, server } = await connected(provider);
      await client.write(seededRandom('forged')(3000));
      await client.write(new Uint8Array([1, 2, 3]));
      const stream = client.takeOutput();
      // The first record intact, the second with one bit of its tag flipped.
      const forged = stream.slice();
      forged[forged.length - 1] = (forged[forged.length - 1] as number) ^ 0x80;
      const pending = server.receiveSync(forged);
      expect(pending).toBeInstanceOf(Promise);
      await pending;
      const events = drain(server);
      expect(events.filter((e) => e.type === 'data').map((e) => (e.type === 'data' ? e.data.length : 0))).toEqual([3000]);
      expect(events.at(-1)?.type).toBe('error');
      expect(server.error?.alert).toBe(AlertDescription.bad_record_mac);
      // The alert goes to the peer, which reports it.
      await client.receive(server.takeOutput());
      expect(drain(client).some((e) => e.type === 'alertReceived' && e.alert === AlertDescription.bad_record_mac)).toBe(true);
      // Nothing more is read.
      expect(server.receiveSync(stream)).toBeUndefined();
      expect(drain(server)).toEqual([]);
    });
  }

  it('a handshake message among the records (KeyUpdate, §4.6.3) makes receiveSync return a promise; the data on both sides of it arrives in order', async () => {
    const { client, server } = await connected(providers[1]![1]);
    await client.write(new Uint8Array(10).fill(1));
    await client.keyUpdate(false);
    await client.write(new Uint8Array(20).fill(2));
    const stream = client.takeOutput();
    const pending = server.receiveSync(stream);
    expect(pending).toBeInstanceOf(Promise);
    // Queued behind it, a synchronous call waits its turn too.
    const next = server.receiveSync(new Uint8Array(0));
    expect(next).toBeInstanceOf(Promise);
    await Promise.all([pending, next]);
    expect(drain(server).map((e) => (e.type === 'data' ? [...e.data] : e.type))).toEqual([Array(10).fill(1), Array(20).fill(2)]);
    await client.write(new Uint8Array([3]));
    expect(server.receiveSync(client.takeOutput())).toBeUndefined();
    expect(drain(server).map((e) => (e.type === 'data' ? [...e.data] : e.type))).toEqual([[3]]);
  });

  it('writevSync seals at once only with the application key and nothing queued; otherwise it is writev', async () => {
    const { client, server } = await connected(providers[1]![1]);
    expect(client.writevSync([new Uint8Array(5)])).toBeUndefined();
    expect(client.wantsWrite).toBe(true);
    const behind = client.keyUpdate(false);
    expect(client.writevSync([new Uint8Array(5)])).toBeInstanceOf(Promise);
    await behind;
    await client.close();
    await expect(client.writevSync([new Uint8Array(1)])).rejects.toBeInstanceOf(ConfigError);
    expect(server.error).toBeUndefined();
  });
});

describe('opening into a slab (openInto, RFC 8446 §5.2)', () => {
  const ffi = providers[2]![1];
  const split = (record: Uint8Array): [Uint8Array, Uint8Array] => [record.subarray(0, 5), record.subarray(5)];

  for (const s of suites) {
    it(`node-ffi ${s.name}: every record's content stays as opened while later records (and forgeries) are opened after it`, async () => {
      const secret = seededRandom(`slab ${s.name}`)(s.hashLength);
      const [sealer, opener] = await Promise.all([0, 1].map(() => RecordProtector.create(ffi, s, secret)));
      expect((await ffi.aead(s.aead, new Uint8Array(s.keyLength))).openInto).toBeTypeOf('function');
      const rand = seededRandom(`slab contents ${s.name}`);
      const sizes = [MAX_PLAINTEXT, 1, 0, 5000, MAX_PLAINTEXT - 1, 300];
      const sent: Uint8Array[] = [];
      const views: Uint8Array[] = [];
      // 150 records, about 950 KB: several slabs, each filled up to its edge.
      for (let i = 0; i < 150; i++) {
        const content = rand(sizes[i % sizes.length] as number);
        const record = sealer!.sealSync(ContentType.application_data, content);
        if (i % 7 === 3) {
          // A forgery between records: refused, and the slice it was opened into handed to no one.
          const forged = record.slice();
          forged[forged.length - 1] = (forged[forged.length - 1] as number) ^ 1;
          expect(() => opener!.openSync(forged.subarray(0, 5), forged.subarray(5))).toThrow(BadRecordMacError);
        }
        const opened = opener!.openSync(record.subarray(0, 5), record.subarray(5));
        // The receive buffer is reused at once.
        record.fill(0xee);
        sent.push(content);
        views.push(opened.content);
      }
      views.forEach((v, i) => expect(equalBytes(v, sent[i]!), `record ${i}`).toBe(true));
      const slabs = new Set(views.map((v) => v.buffer));
      expect(slabs.size).toBeGreaterThan(2);
      expect(slabs.size).toBeLessThan(views.length / 4);
    });
  }

  it('a protector\'s first record gets an array of its own size, later ones share slabs; handshake and alert content gets an array of its own, so a kept ticket does not hold a slab alive', async () => {
    const s = suites[0]!;
    const secret = seededRandom('slab own arrays')(s.hashLength);
    const [sealer, opener] = await Promise.all([0, 1].map(() => RecordProtector.create(ffi, s, secret)));
    // The first: its 100 bytes and the inner content type (a handshake's protector opens a record or two).
    const first = opener!.openSync(...split(sealer!.sealSync(ContentType.application_data, new Uint8Array(100).fill(1))));
    expect(first.content.buffer.byteLength).toBe(101);
    const data = opener!.openSync(...split(sealer!.sealSync(ContentType.application_data, new Uint8Array(100).fill(1))));
    expect(data.content.buffer.byteLength).toBeGreaterThan(50_000);
    for (const type of [ContentType.handshake, ContentType.alert]) {
      const content = seededRandom(`own ${type}`)(type === ContentType.alert ? 2 : 600);
      const opened = opener!.openSync(...split(sealer!.sealSync(type, content)));
      expect(opened.contentType).toBe(type);
      expect(equalBytes(opened.content, content)).toBe(true);
      expect(opened.content.buffer.byteLength).toBe(content.length);
    }
  });

  it('a TlsConnection hands out data events that later records never overwrite', async () => {
    const { client, server } = await connected(ffi);
    const data = seededRandom('slab stream')(3 * 2 ** 20);
    const events: Uint8Array[] = [];
    for (let o = 0, i = 0; o < data.length; i++) {
      const n = Math.min(data.length - o, [100_000, 1, 17_000, 40_000][i % 4] as number);
      expect(client.writevSync([data.subarray(o, o + n)])).toBeUndefined();
      o += n;
      const stream = concat(...client.takeOutputChunks());
      // Read in two parts through one reused buffer, as a socket does.
      const buf = new Uint8Array(stream.length);
      for (const [a, b] of [[0, stream.length >> 1], [stream.length >> 1, stream.length]] as const) {
        buf.set(stream.subarray(a, b));
        expect(server.receiveSync(buf.subarray(0, b - a))).toBeUndefined();
        buf.fill(0);
        for (const e of drain(server)) if (e.type === 'data') events.push(e.data);
      }
    }
    expect(equalBytes(concat(...events), data)).toBe(true);
    expect(new Set(events.map((e) => e.buffer)).size).toBeLessThan(events.length / 4);
    expect(server.error).toBeUndefined();
  });
});
