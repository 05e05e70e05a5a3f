/**
 * A bulk write's records (RFC 8446 §5.2) are sealed into a buffer lent by the
 * core's pool (src/buffer-pool.ts), which the transport gives back with
 * `releaseOutput` once the socket is done with it; the next bulk write is then
 * sealed in the same memory instead of a fresh 64 KiB one. What the buffer
 * held must never show through (every byte of every record is written again,
 * the zero padding of §5.4 included), a chunk not given back is never written
 * again, and with an AEAD that gathers its input the content is encrypted from
 * where it lies, into the same bytes a copy would have produced.
 */
import fc from 'fast-check';
import { seeded } from '../helpers/fc.js';
import { describe, expect, it } from 'vitest';
import { concat, equalBytes } from '../../src/bytes.js';
import { createNodeCryptoProvider } from '../../src/node/index.js';
import type { CryptoProvider } from '../../src/pq/provider.js';
import { seededRandom } from '../../src/testing/index.js';
import { cipherSuiteInfo, DEFAULT_CIPHER_SUITES, type CipherSuiteInfo } from '../../src/tls13/cipher-suites.js';
import { TlsConnection } from '../../src/tls13/connection.js';
import { ContentType, MAX_PLAINTEXT } from '../../src/tls13/content-type.js';
import { RecordProtector } from '../../src/tls13/record-protection.js';
import { clock, connectPair, drain, pinnedKeyVerifier, pump, testKey } from '../helpers/tls-pair.js';

const suites: CipherSuiteInfo[] = DEFAULT_CIPHER_SUITES.map((id) => cipherSuiteInfo(id)!);
/** OpenSSL through koffi: synchronous, and it gathers (`sealGather`). */
const ffi = createNodeCryptoProvider({ random: seededRandom('output pool') });

/** The provider without `sealGather`: its AEAD seals a record it was copied into, in place. */
function withoutGather(p: CryptoProvider): CryptoProvider {
  return Object.create(p, {
    aead: { value: async (alg: Parameters<CryptoProvider['aead']>[0], key: Uint8Array) => ({ ...(await p.aead(alg, key)), sealGather: undefined }) },
  }) as CryptoProvider;
}

async function connected(): Promise<{ client: TlsConnection; server: TlsConnection }> {
  const key = await testKey(ffi, 'ed25519');
  const pair = await connectPair(
    { provider: ffi, verifier: pinnedKeyVerifier(key) },
    { provider: ffi, certificate: { chain: [key.publicKey], privateKey: key.privateKey, keyAlgorithm: key.keyAlgorithm } },
  );
  drain(pair.client);
  drain(pair.server);
  return pair;
}

/** One write's output: the records of a synchronous AEAD come as one chunk. */
async function sealed(c: TlsConnection, data: Uint8Array): Promise<Uint8Array> {
  await c.write(data);
  const chunks = c.takeOutputChunks();
  expect(chunks).toHaveLength(1);
  return chunks[0]!;
}

/** What the peer reads from `records`. */
async function received(server: TlsConnection, records: Uint8Array): Promise<Uint8Array> {
  await server.receive(records);
  const data = drain(server).flatMap((e) => (e.type === 'data' ? [e.data] : []));
  return concat(...data);
}

const bulk = (seed: string): Uint8Array => seededRandom(seed)(64 * 1024);

describe('bulk writes sealed in buffers the transport gave back (RFC 8446 §5.2)', () => {
  it('a released chunk carries the next bulk write, rewritten byte for byte, and the peer reads both writes', async () => {
    const { client, server } = await connected();
    const first = await sealed(client, bulk('first'));
    const sent = first.slice();
    // What the socket leaves behind is anything at all: the next records must not depend on it.
    first.fill(0xff);
    client.releaseOutput(first);
    const second = await sealed(client, bulk('second'));
    expect(second.buffer).toBe(first.buffer);
    expect(equalBytes(await received(server, sent), bulk('first'))).toBe(true);
    expect(equalBytes(await received(server, second), bulk('second'))).toBe(true);
  });

  it('§5.4: a short last record\'s zero padding is written as zeros into a reused buffer', async () => {
    const key = await testKey(ffi, 'ed25519');
    // Every record the client seals asks for 200 bytes of padding (capped to what fits the record, §5.4).
    const pair = {
      client: await TlsConnection.client({ provider: ffi, now: clock, verifier: pinnedKeyVerifier(key) }, { padding: () => 200 }),
      server: TlsConnection.server({ provider: ffi, now: clock, certificate: { chain: [key.publicKey], privateKey: key.privateKey, keyAlgorithm: key.keyAlgorithm } }),
    };
    await pump(pair.client, pair.server);
    expect(pair.client.handshakeInfo && pair.server.handshakeInfo).toBeTruthy();
    drain(pair.client);
    drain(pair.server);
    const first = await sealed(pair.client, bulk('padded first'));
    const sent = first.slice();
    first.fill(0xff);
    pair.client.releaseOutput(first);
    const data = bulk('padded second').subarray(0, 40_000);
    const second = await sealed(pair.client, data);
    expect(second.buffer).toBe(first.buffer);
    // Records of 16,384, 16,384 and 7,232 content bytes; the last has room for its 200 zeros (type, zeros, tag).
    const last = second.subarray(2 * (5 + MAX_PLAINTEXT + 1 + 16));
    expect(((last[3] as number) << 8) | (last[4] as number)).toBe(7232 + 1 + 200 + 16);
    await received(pair.server, sent);
    // A nonzero padding byte would be unexpected_message on the peer (§5.4): it reads the data instead.
    expect(equalBytes(await received(pair.server, second), data)).toBe(true);
  });

  it('a chunk not given back, or given back twice, is never written again by a later write', async () => {
    const { client } = await connected();
    const kept = await sealed(client, bulk('kept'));
    const snapshot = kept.slice();
    const buffers = new Set<ArrayBufferLike>([kept.buffer]);
    for (let i = 0; i < 3; i++) buffers.add((await sealed(client, bulk(`later ${i}`))).buffer);
    expect(buffers.size).toBe(4);
    expect(equalBytes(kept, snapshot)).toBe(true);

    const twice = await sealed(client, bulk('twice'));
    client.releaseOutput(twice);
    client.releaseOutput(twice);
    const a = await sealed(client, bulk('a'));
    const b = await sealed(client, bulk('b'));
    expect(a.buffer).toBe(twice.buffer);
    expect(b.buffer).not.toBe(twice.buffer);
  });

  it('a part of a chunk, or a small write\'s records, are not taken back', async () => {
    const { client } = await connected();
    const big = await sealed(client, bulk('part'));
    client.releaseOutput(big.subarray(5));
    expect((await sealed(client, bulk('after part'))).buffer).not.toBe(big.buffer);
    const small = await sealed(client, new Uint8Array(100));
    client.releaseOutput(small);
    expect((await sealed(client, new Uint8Array(100))).buffer).not.toBe(small.buffer);
  });
});

describe('records sealed from where the content lies (sealGather)', () => {
  for (const s of suites) {
    it(`${s.name}: the same records as sealing a copy, for any split of the content and any padding (§5.2, §5.4)`, async () => {
      const secret = seededRandom(`gather ${s.name}`)(s.hashLength);
      const gathering = await RecordProtector.create(ffi, s, secret);
      const copying = await RecordProtector.create(withoutGather(ffi), s, secret);
      const opener = await RecordProtector.create(ffi, s, secret);
      const content = seededRandom(`gather content ${s.name}`)(MAX_PLAINTEXT);
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 0, max: MAX_PLAINTEXT }),
          fc.array(fc.integer({ min: 0, max: MAX_PLAINTEXT }), { maxLength: 4 }),
          fc.integer({ min: 0, max: 300 }),
          fc.constantFrom(ContentType.application_data, ContentType.handshake),
          async (length, cuts, pad, type) => {
            if (type === ContentType.handshake && length === 0) length = 1;
            const whole = content.subarray(0, length);
            const at = [...new Set(cuts.map((c) => Math.min(c, length)))].sort((x, y) => x - y);
            const parts = [0, ...at].map((from, i) => whole.subarray(from, i < at.length ? at[i] : length));
            pad = Math.min(pad, MAX_PLAINTEXT + 1 - length - 1);
            const size = RecordProtector.recordLength(length, pad);
            const dirty = new Uint8Array(size + 3).fill(0xa5);
            const a = gathering.sealSync(type, parts, pad, dirty.subarray(0, size + 3));
            const b = copying.sealSync(type, parts, pad, new Uint8Array(size).fill(0x5a));
            expect(a.length).toBe(size);
            expect(equalBytes(a, b)).toBe(true);
            // The rest of the caller's array is left alone.
            expect([...dirty.subarray(size)]).toEqual([0xa5, 0xa5, 0xa5]);
            const opened = opener.openSync(a.subarray(0, 5), a.subarray(5));
            expect(opened.contentType).toBe(type);
            expect(equalBytes(opened.content, whole)).toBe(true);
          },
        ),
        seeded(1207, { numRuns: 60 }),
      );
    });
  }
});
