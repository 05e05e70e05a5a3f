/**
 * PqTlsSocket's read side (issue 13): application data under a synchronous
 * AEAD is decrypted while the TCP socket's 'data' event runs, so the socket is
 * not paused and resumed for every read; it pauses only when the reader or the
 * socket's own output is full (backpressure, covered in adapter.test.ts and
 * adapter-hardening.test.ts), or while a record needs asynchronous work (a
 * KeyUpdate, RFC 8446 §4.6.3), after which the data behind it arrives in order.
 */
import { describe, expect, it } from 'vitest';
import { concat, equalBytes } from '../../src/bytes.js';
import type { PqTlsSocket } from '../../src/node/index.js';
import { seededRandom } from '../../src/testing/index.js';
import { tcpPair } from '../helpers/node-sockets.js';

/** Reads `n` bytes from `s`, counting how often its TCP socket was paused meanwhile. */
function receive(s: PqTlsSocket, n: number): { done: Promise<Uint8Array>; pauses: () => number } {
  let pauses = 0;
  const raw = s.socket;
  const pause = raw.pause.bind(raw);
  raw.pause = () => {
    pauses++;
    return pause();
  };
  const got: Uint8Array[] = [];
  let have = 0;
  const done = new Promise<Uint8Array>((resolve) => {
    s.on('data', (d: Buffer) => {
      got.push(new Uint8Array(d));
      have += d.length;
      if (have >= n) resolve(concat(...got));
    });
  });
  return { done, pauses: () => pauses };
}

describe('PqTlsSocket read path', () => {
  it('4 MiB of application data arrive without the TCP socket being paused once', async () => {
    const { server, sock, peer } = await tcpPair('read path');
    try {
      const data = seededRandom('read path data')(4 << 20);
      const r = receive(peer, data.length);
      for (let o = 0; o < data.length; o += 64 << 10) sock.write(data.subarray(o, o + (64 << 10)));
      expect(equalBytes(await r.done, data)).toBe(true);
      expect(r.pauses()).toBe(0);
    } finally {
      sock.destroy();
      server.close();
    }
  });

  it('a KeyUpdate among the data pauses reading while it is processed; everything arrives in order (§4.6.3)', async () => {
    const { server, sock, peer } = await tcpPair('read path key update');
    try {
      const data = seededRandom('read path ku data')(1 << 20);
      const r = receive(peer, data.length);
      sock.write(data.subarray(0, 300_000));
      await sock.keyUpdate(false);
      sock.write(data.subarray(300_000));
      expect(equalBytes(await r.done, data)).toBe(true);
      expect(r.pauses()).toBeGreaterThan(0);
    } finally {
      sock.destroy();
      server.close();
    }
  });
});
