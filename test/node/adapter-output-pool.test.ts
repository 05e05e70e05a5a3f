/**
 * PqTlsSocket gives a bulk write's records back to the connection once the
 * TCP socket is done with them (src/buffer-pool.ts), so the next write is
 * sealed in the same memory instead of a fresh 64 KiB buffer: at once when
 * libuv wrote them straight to the kernel (Node reports that only after the
 * current microtasks, when the application's next write may already have been
 * sealed), else from the write's callback. Memory the socket still reads from
 * must never be sealed into: the peer would read corrupted records
 * (bad_record_mac, RFC 8446 §5.2), so every test checks each byte arrived.
 */
import type { AddressInfo, Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { equalBytes } from '../../src/bytes.js';
import { connect, createNodeCryptoProvider, createServer, PqTlsSocket } from '../../src/node/index.js';
import { seededRandom } from '../../src/testing/index.js';
import { TlsConnection } from '../../src/tls13/connection.js';
import { clock, connectPair, drain, pinnedKeyVerifier, testKey } from '../helpers/tls-pair.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const CHUNK = 64 * 1024;

/** The chunks the client's TCP socket is handed, in order. */
function watchWrites(sock: PqTlsSocket): Uint8Array[] {
  const raw = sock.socket;
  const seen: Uint8Array[] = [];
  const write = raw.write.bind(raw) as (...args: unknown[]) => boolean;
  (raw as unknown as { write: (...args: unknown[]) => boolean }).write = (b: unknown, ...rest: unknown[]) => {
    seen.push(b as Uint8Array);
    return write(b, ...rest);
  };
  return seen;
}

/** The chunks given back through `TlsConnection.releaseOutput` from now on, in order (they still go back). */
function watchReleases(): Uint8Array[] {
  const released: Uint8Array[] = [];
  const original = TlsConnection.prototype.releaseOutput;
  vi.spyOn(TlsConnection.prototype, 'releaseOutput').mockImplementation(function (this: TlsConnection, chunk: Uint8Array) {
    released.push(chunk);
    original.call(this, chunk);
  });
  return released;
}

/** A client sends `total` bytes in 64 KiB writes; the server holds its reading back for `stallMs` first. */
async function transfer(seed: string, total: number, stallMs: number) {
  const provider = createNodeCryptoProvider({ random: seededRandom(seed) });
  const key = await testKey(provider, 'ed25519');
  const data = seededRandom(`${seed} data`)(total);
  const got = new Uint8Array(total);
  let at = 0;
  let done: () => void = () => undefined;
  const allIn = new Promise<void>((r) => (done = r));
  const server = createServer({ provider, now: clock, certificate: { chain: [key.publicKey], ...key } }, (s) => {
    s.pause();
    setTimeout(() => s.resume(), stallMs);
    s.on('data', (d: Buffer) => {
      got.set(d, at);
      at += d.length;
      if (at === total) done();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  const released = watchReleases();
  const sock = await connect({ host: '127.0.0.1', port, provider, now: clock, verifier: pinnedKeyVerifier(key) });
  try {
    const written = watchWrites(sock);
    for (let o = 0; o < total; o += CHUNK) {
      if (!sock.write(data.subarray(o, o + CHUNK))) await new Promise((r) => sock.once('drain', r));
    }
    await allIn;
    expect(equalBytes(got, data)).toBe(true);
    // The peer has every byte; the socket's reports of the last writes follow within a turn or two.
    for (let i = 0; i < 100 && sock.socket.writableLength + sock.writableLength > 0; i++) await sleep(5);
    await sleep(5);
    return { written: written.filter((c) => c.length >= CHUNK), released };
  } finally {
    sock.destroy();
    server.close();
  }
}

afterEach(() => vi.restoreAllMocks());

describe('PqTlsSocket gives sent records back to be sealed into again', () => {
  it('a reader that keeps up: 4 MiB in 64 KiB writes reuse a handful of buffers, each chunk given back once', async () => {
    const { written, released } = await transfer('pool flowing', 4 << 20, 0);
    expect(written.length).toBe(64);
    expect(new Set(written.map((c) => c.buffer)).size).toBeLessThanOrEqual(8);
    // Every large chunk went back, exactly once (a second release could hand one buffer to two writes).
    expect(released.length).toBe(written.length);
    expect(new Set(released).size).toBe(released.length);
    for (const c of released) expect(written).toContain(c);
  });

  it('a reader that stalls: the writes back up, every byte still arrives, each chunk goes back once and buffers are reused', async () => {
    const { written, released } = await transfer('pool stalled', 8 << 20, 200);
    expect(written.length).toBe(128);
    expect(released.length).toBe(written.length);
    expect(new Set(released).size).toBe(released.length);
    // Buffers did come back while writes were pending, and were reused: fewer buffers than writes.
    expect(new Set(written.map((c) => c.buffer)).size).toBeLessThan(written.length);
  });

  it('over another Duplex, which may hold a chunk after its callback, nothing is given back', async () => {
    const provider = createNodeCryptoProvider({ random: seededRandom('pool duplex') });
    const key = await testKey(provider, 'ed25519');
    const { client } = await connectPair(
      { provider, verifier: pinnedKeyVerifier(key) },
      { provider, certificate: { chain: [key.publicKey], privateKey: key.privateKey, keyAlgorithm: key.keyAlgorithm } },
    );
    drain(client);
    // A transport that queues what it is given and reports it written at once, as a message-based one may.
    const queued: Uint8Array[] = [];
    const transport = new Duplex({
      read() {},
      write(chunk: Uint8Array, _enc, cb) {
        queued.push(chunk);
        cb();
      },
    });
    const released = watchReleases();
    const sock = new PqTlsSocket(client, transport as unknown as Socket, 'client');
    const snapshots: Uint8Array[] = [];
    for (let i = 0; i < 4; i++) {
      await new Promise<void>((r) => sock.write(seededRandom(`duplex ${i}`)(CHUNK), () => r()));
      snapshots.push(queued[queued.length - 1]!.slice());
    }
    expect(released).toHaveLength(0);
    // Every chunk the transport still holds is as it was handed over.
    const held = queued.slice(-4);
    for (let i = 0; i < 4; i++) expect(equalBytes(held[i]!, snapshots[i]!)).toBe(true);
    sock.destroy();
  });
});
