/**
 * Records opened in place (issue 13): when the transport gives its receive
 * buffers up (`receiveSync(data, { consumable: true })`, as the Node adapter
 * does for a net.Socket), a record lying wholly inside one buffer is decrypted
 * over itself and its application data is handed out as a view of that buffer;
 * a record cut across two such buffers is decrypted over itself in its two
 * parts (`openGather`) and its data handed out as a view of each; one cut
 * across three is assembled and opened as before. RFC 8446 §5.2 is unchanged:
 * every record must authenticate, a forgery is bad_record_mac and nothing of it
 * is delivered.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { seeded } from '../helpers/fc.js';
import { concat, equalBytes } from '../../src/bytes.js';
import { AlertDescription, PqtlsError } from '../../src/errors.js';
import { createNodeCryptoProvider } from '../../src/node/index.js';
import type { CryptoProvider } from '../../src/pq/provider.js';
import { seededRandom } from '../../src/testing/index.js';
import { CipherSuite } from '../../src/tls13/cipher-suites.js';
import type { TlsConnection } from '../../src/tls13/connection.js';
import { connectPair, drain, pinnedKeyVerifier, testKey } from '../helpers/tls-pair.js';

const suites: CipherSuite[] = [CipherSuite.TLS_AES_128_GCM_SHA256, CipherSuite.TLS_AES_256_GCM_SHA384, CipherSuite.TLS_CHACHA20_POLY1305_SHA256];

async function connected(provider: CryptoProvider, suite: CipherSuite): Promise<{ client: TlsConnection; server: TlsConnection }> {
  const key = await testKey(provider, 'ed25519');
  const pair = await connectPair(
    { provider, verifier: pinnedKeyVerifier(key), cipherSuites: [suite] },
    { provider, certificate: { chain: [key.publicKey], privateKey: key.privateKey, keyAlgorithm: key.keyAlgorithm }, cipherSuites: [suite] },
  );
  expect(pair.client.handshakeInfo?.cipherSuite.id).toBe(suite);
  drain(pair.client);
  drain(pair.server);
  return pair;
}

const dataOf = (c: TlsConnection): Uint8Array[] => drain(c).flatMap((e) => (e.type === 'data' ? [e.data] : []));

/** Splits a stream of TLSCiphertext records at their boundaries (§5.1 framing). */
function records(stream: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let o = 0; o < stream.length; ) {
    const end = o + 5 + (((stream[o + 3] as number) << 8) | (stream[o + 4] as number));
    out.push(stream.slice(o, end));
    o = end;
  }
  return out;
}

describe('records opened in place in consumable receive buffers (RFC 8446 §5.2)', () => {
  for (const suite of suites) {
    const provider = createNodeCryptoProvider({ random: seededRandom(`in place ${suite}`) });

    it(`suite ${suite.toString(16)}: application data from whole records views the chunk it came in, byte for byte what was sent`, async () => {
      const { client, server } = await connected(provider, suite);
      const msgs = [seededRandom('a')(16384), seededRandom('b')(1), seededRandom('c')(5000), seededRandom('d')(16384)];
      for (const m of msgs) expect(client.writevSync([m])).toBeUndefined();
      // Two records per chunk: each chunk a buffer of its own, as net.Socket hands over.
      const recs = records(concat(...client.takeOutputChunks()));
      const chunks = [concat(recs[0]!, recs[1]!), concat(recs[2]!, recs[3]!)];
      const got: Uint8Array[] = [];
      for (const chunk of chunks) {
        expect(server.receiveSync(chunk, { consumable: true })).toBeUndefined();
        for (const d of dataOf(server)) {
          // A view of the chunk itself: no slab, no copy.
          expect(d.buffer === chunk.buffer).toBe(true);
          expect(d.byteOffset).toBeGreaterThanOrEqual(chunk.byteOffset + 5);
          expect(d.byteOffset + d.length).toBeLessThanOrEqual(chunk.byteOffset + chunk.length);
          got.push(d);
        }
      }
      expect(got.map((d) => d.length)).toEqual(msgs.map((m) => m.length));
      expect(got.every((d, i) => equalBytes(d, msgs[i]!))).toBe(true);
      expect(server.error).toBeUndefined();
    });

    it(`suite ${suite.toString(16)}: records cut across chunks at every offset still arrive whole and in order`, async () => {
      const { client, server } = await connected(provider, suite);
      const msgs = [seededRandom('x')(300), seededRandom('y')(20), seededRandom('z')(700)];
      for (let cut = 0; ; cut += 7) {
        for (const m of msgs) expect(client.writevSync([m])).toBeUndefined();
        const stream = concat(...client.takeOutputChunks());
        if (cut > stream.length) break;
        expect(server.receiveSync(stream.slice(0, cut), { consumable: true })).toBeUndefined();
        expect(server.receiveSync(stream.slice(cut), { consumable: true })).toBeUndefined();
        expect(equalBytes(concat(...dataOf(server)), concat(...msgs))).toBe(true);
      }
      expect(server.error).toBeUndefined();
    });

    it(`suite ${suite.toString(16)}: a record cut across two chunks at any offset is opened where its parts lie: its data views the chunks`, async () => {
      const { client, server } = await connected(provider, suite);
      const msgs = [seededRandom('p')(300), seededRandom('q')(20), seededRandom('r')(700)];
      for (let cut = 0; ; cut++) {
        for (const m of msgs) expect(client.writevSync([m])).toBeUndefined();
        const stream = concat(...client.takeOutputChunks());
        if (cut > stream.length) break;
        const chunks = [stream.slice(0, cut), stream.slice(cut)];
        const got: Uint8Array[] = [];
        for (const chunk of chunks) {
          expect(server.receiveSync(chunk, { consumable: true })).toBeUndefined();
          got.push(...dataOf(server));
        }
        expect(equalBytes(concat(...got), concat(...msgs))).toBe(true);
        // Header, content, content type or tag cut: every byte delivered is where it arrived, none copied.
        expect(got.every((d) => d.buffer === chunks[0]!.buffer || d.buffer === chunks[1]!.buffer)).toBe(true);
      }
      expect(server.error).toBeUndefined();
    });

    it(`suite ${suite.toString(16)}: a forged record cut across two chunks is bad_record_mac; neither part keeps any of its plaintext`, async () => {
      for (const into of [3, 150, 290, 312]) {
        const { client, server } = await connected(provider, suite);
        expect(client.writevSync([new Uint8Array(100).fill(1)])).toBeUndefined();
        expect(client.writevSync([new Uint8Array(300).fill(7)])).toBeUndefined();
        const stream = concat(...client.takeOutputChunks());
        const second = records(stream)[0]!.length;
        // The second record's last tag byte flipped, and the record cut `into` bytes after its start (tag cut at 312).
        stream[stream.length - 1] = (stream[stream.length - 1] as number) ^ 1;
        const chunks = [stream.slice(0, second + into), stream.slice(second + into)];
        expect(server.receiveSync(chunks[0]!, { consumable: true })).toBeUndefined();
        await server.receiveSync(chunks[1]!, { consumable: true });
        const events = drain(server);
        expect(events.filter((e) => e.type === 'data').map((e) => (e.type === 'data' ? e.data.length : 0))).toEqual([100]);
        expect(server.error?.alert).toBe(AlertDescription.bad_record_mac);
        // Its inner plaintext (300 bytes of content and the type byte), in either part, was zeroed.
        expect(concat(...chunks).subarray(second + 5, second + 5 + 301).every((x) => x === 0)).toBe(true);
      }
    });

    it(`suite ${suite.toString(16)}: a forged record in a consumable chunk is bad_record_mac and nothing of it is delivered`, async () => {
      const { client, server } = await connected(provider, suite);
      expect(client.writevSync([seededRandom('ok')(3000)])).toBeUndefined();
      expect(client.writevSync([new Uint8Array(100).fill(7)])).toBeUndefined();
      const stream = concat(...client.takeOutputChunks());
      // The second record's first ciphertext byte flipped.
      const second = records(stream)[0]!.length + 5;
      stream[second] = (stream[second] as number) ^ 1;
      await server.receiveSync(stream, { consumable: true });
      const events = drain(server);
      expect(events.filter((e) => e.type === 'data').map((e) => (e.type === 'data' ? e.data.length : 0))).toEqual([3000]);
      expect(events.at(-1)?.type).toBe('error');
      expect(server.error?.alert).toBe(AlertDescription.bad_record_mac);
      // The forged record's bytes were opened over: no plaintext of it is left in the chunk.
      expect(stream.subarray(second, second + 100).includes(7)).toBe(false);
    });
  }

  /** A connected pair (AES-128-GCM) whose client sent `size` bytes of `seed` in one record: the server and the record stream. */
  async function oneRecord(seed: string, size: number): Promise<{ server: TlsConnection; msg: Uint8Array; stream: Uint8Array }> {
    const { client, server } = await connected(createNodeCryptoProvider({ random: seededRandom(seed) }), CipherSuite.TLS_AES_128_GCM_SHA256);
    const msg = seededRandom(`${seed} msg`)(size);
    expect(client.writevSync([msg])).toBeUndefined();
    return { server, msg, stream: concat(...client.takeOutputChunks()) };
  }

  it('a record begun in a consumable chunk and ended in one that is not: the second is only read, the record still opens', async () => {
    const { server, msg, stream } = await oneRecord('mixed', 5000);
    const second = stream.slice(2000);
    const kept = second.slice();
    expect(server.receiveSync(stream.slice(0, 2000), { consumable: true })).toBeUndefined();
    expect(server.receiveSync(second)).toBeUndefined();
    expect(equalBytes(concat(...dataOf(server)), msg)).toBe(true);
    expect(equalBytes(second, kept)).toBe(true);
  });

  it('a record cut across three consumable chunks is assembled, then opened: the same data', async () => {
    const { server, msg, stream } = await oneRecord('three', 16384);
    for (const chunk of [stream.slice(0, 6000), stream.slice(6000, 12000), stream.slice(12000)]) {
      expect(server.receiveSync(chunk, { consumable: true })).toBeUndefined();
    }
    expect(equalBytes(concat(...dataOf(server)), msg)).toBe(true);
  });

  it('any cutting into consumable chunks, any one byte flipped: exactly the data sent, or only an unaltered part of it (§5.2)', async () => {
    const provider = createNodeCryptoProvider({ random: seededRandom('fuzz cut') });
    const msgs = [seededRandom('f1')(3000), seededRandom('f2')(1), seededRandom('f3')(16384), seededRandom('f4')(700)];
    const sent = concat(...msgs);
    await fc.assert(fc.asyncProperty(
      fc.uniqueArray(fc.integer({ min: 1, max: 20_000 }), { maxLength: 6 }),
      fc.option(fc.record({ at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) })),
      async (cuts, flip) => {
        const { client, server } = await connected(provider, CipherSuite.TLS_AES_128_GCM_SHA256);
        for (const m of msgs) expect(client.writevSync([m])).toBeUndefined();
        const stream = concat(...client.takeOutputChunks());
        if (flip) stream[flip.at % stream.length] = (stream[flip.at % stream.length] as number) ^ (1 << flip.bit);
        const bounds = [0, ...cuts.filter((c) => c < stream.length).sort((a, b) => a - b), stream.length];
        const got: Uint8Array[] = [];
        for (let i = 0; i + 1 < bounds.length; i++) {
          // Never a throw, whatever the bytes: a failure is an alert and an error event.
          await server.receiveSync(stream.slice(bounds[i], bounds[i + 1]), { consumable: true });
          // Copied at once: a later chunk must not change what was delivered.
          got.push(...dataOf(server).map((d) => d.slice()));
        }
        const received = concat(...got);
        if (!flip) {
          expect(server.error).toBeUndefined();
          expect(equalBytes(received, sent)).toBe(true);
        } else {
          // No altered byte is ever delivered, nor all of the data: the header is the tag's additional data, so
          // a flip anywhere fails its record (or, raising its length, leaves it waiting for bytes that never come).
          expect(received.length).toBeLessThan(sent.length);
          expect(equalBytes(received, sent.subarray(0, received.length))).toBe(true);
          if (server.error) expect(server.error).toBeInstanceOf(PqtlsError);
        }
      },
    ), seeded(15, { numRuns: 60 }));
  });

  it('without consumable the chunk is only read: the data is not a view of it and the chunk is unchanged', async () => {
    const provider = createNodeCryptoProvider({ random: seededRandom('read only') });
    const { client, server } = await connected(provider, CipherSuite.TLS_AES_128_GCM_SHA256);
    expect(client.writevSync([seededRandom('ro')(10_000)])).toBeUndefined();
    const chunk = concat(...client.takeOutputChunks());
    const kept = chunk.slice();
    expect(server.receiveSync(chunk)).toBeUndefined();
    const [d] = dataOf(server);
    expect(d!.buffer === chunk.buffer).toBe(false);
    expect(equalBytes(chunk, kept)).toBe(true);
  });
});
