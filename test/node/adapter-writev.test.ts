/**
 * PqTlsSocket's write side (issue 13): writes that queue up while one is being
 * sealed go to the connection together (`_writev`), so small writes fill full
 * records (RFC 8446 §5.1 lets application data be split and joined freely
 * across records) instead of costing a record, a seal and a syscall each, and
 * the backpressure guarantees of a single write still hold.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { concat } from '../../src/bytes.js';
import { connect, createServer, type PqTlsSocket } from '../../src/node/index.js';
import { seededRandom } from '../../src/testing/index.js';
import { clock, pinnedKeyVerifier, seededProvider, testKey } from '../helpers/tls-pair.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Counts the TLS records (§5.1 headers) the client's TCP socket is handed, and the most it buffered. */
function watchRecords(sock: PqTlsSocket): { records: () => number; maxBuffered: () => number } {
  const raw = sock.socket;
  let records = 0;
  let maxBuffered = 0;
  const write = raw.write.bind(raw) as (b: Uint8Array) => boolean;
  (raw as unknown as { write: (b: Uint8Array) => boolean }).write = (b) => {
    for (let o = 0; o + 5 <= b.length; o += 5 + (((b[o + 3] as number) << 8) | (b[o + 4] as number))) records++;
    const ok = write(b);
    maxBuffered = Math.max(maxBuffered, raw.writableLength);
    return ok;
  };
  return { records: () => records, maxBuffered: () => maxBuffered };
}

async function setup(seed: string, onConnection: (s: PqTlsSocket) => void) {
  const provider = seededProvider(seed);
  const key = await testKey(provider, 'ed25519');
  const server = createServer({ provider, now: clock, certificate: { chain: [key.publicKey], ...key } }, onConnection);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  const sock = await connect({ host: '127.0.0.1', port, provider, now: clock, verifier: pinnedKeyVerifier(key) });
  return { server, sock };
}

describe('PqTlsSocket _writev', () => {
  it('200 small writes in a row become a few full records, and the peer reads every byte in order', async () => {
    const received: Uint8Array[] = [];
    let done: () => void = () => undefined;
    const allIn = new Promise<void>((r) => (done = r));
    const data = seededRandom('writev data')(200 * 100);
    const { server, sock } = await setup('writev', (s) => {
      s.on('data', (d: Buffer) => {
        received.push(new Uint8Array(d));
        if (received.reduce((n, c) => n + c.length, 0) === data.length) done();
      });
    });
    try {
      const watch = watchRecords(sock);
      for (let o = 0; o < data.length; o += 100) sock.write(data.subarray(o, o + 100));
      await allIn;
      expect(concat(...received)).toEqual(data);
      // The first write is sealed alone; the 199 queued behind it are sealed together: 20,000 bytes in
      // at most a handful of records (one per write without _writev: 200).
      expect(watch.records()).toBeLessThanOrEqual(4);
    } finally {
      sock.destroy();
      server.close();
    }
  });

  it('small writes to a peer that never reads: write() returns false and the TCP socket buffers a bounded amount', async () => {
    const { server, sock } = await setup('writev-backpressure', () => undefined);
    try {
      const watch = watchRecords(sock);
      const chunk = new Uint8Array(1024);
      const target = 32 << 20;
      let written = 0;
      let sawFalse = false;
      while (written < target) {
        // Many writes per turn, so they queue behind each other and reach _writev together.
        let ok = true;
        for (let i = 0; i < 64; i++) {
          ok = sock.write(chunk);
          written += chunk.length;
        }
        if (ok) continue;
        sawFalse = true;
        const drained = await Promise.race([once(sock, 'drain').then(() => true), sleep(1000).then(() => false)]);
        if (!drained) break;
      }
      expect(sawFalse).toBe(true);
      expect(written).toBeLessThan(target);
      expect(sock.writableLength).toBeGreaterThan(0);
      // One batch's records beyond the socket's high-water mark at most, never the data written so far.
      expect(watch.maxBuffered()).toBeLessThan(256 * 1024);
    } finally {
      sock.destroy();
      server.close();
    }
  });
});
