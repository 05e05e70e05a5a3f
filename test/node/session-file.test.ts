/**
 * FileSessionStore under a NewSessionTicket flood (RFC 8446 §4.6.1 lets a
 * server send any number of tickets): only the newest session is kept, and
 * disk writes are coalesced instead of one synchronous rewrite per ticket.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { CipherSuite } from '../../src/tls13/cipher-suites.js';
import { decodeSession, encodeSession, type Session } from '../../src/tls13/session.js';

const written = vi.hoisted(() => ({ bytes: 0, writes: 0 }));

vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  return {
    ...fs,
    writeFileSync: (...args: Parameters<typeof fs.writeFileSync>) => {
      written.writes++;
      written.bytes += String(args[1]).length;
      return fs.writeFileSync(...args);
    },
  };
});
vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>();
  return {
    ...fs,
    writeFile: (...args: Parameters<typeof fs.writeFile>) => {
      written.writes++;
      written.bytes += String(args[1]).length;
      return fs.writeFile(...args);
    },
  };
});

const { FileSessionStore } = await import('../../src/node/session-file.js');

const dir = mkdtempSync(join(tmpdir(), 'pqtls-session-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function session(i: number): Session {
  return {
    ticket: new Uint8Array(1000).fill(i & 0xff), suite: CipherSuite.TLS_AES_128_GCM_SHA256, psk: new Uint8Array(32).fill(7),
    receivedAt: 1_000_000 + i, lifetime: 7200, ageAdd: i, maxEarlyData: 0, alpn: undefined, peerCertificates: [], peerSignatureScheme: undefined,
  };
}

describe('FileSessionStore', () => {
  it('5000 tickets in a row: the newest is kept and written a bounded number of times', async () => {
    const path = join(dir, 'flood.session');
    const store = new FileSessionStore(path);
    written.bytes = written.writes = 0;
    for (let i = 0; i < 5000; i++) store.put('example.test', session(i));
    // Before the write lands the newest is already what take() returns.
    expect(store.take('example.test', 1_000_000 + 5000)?.ageAdd).toBe(4999);
    await store.flush();
    const one = Buffer.from(encodeSession(session(4999))).toString('base64').length + 1;
    expect(written.writes).toBeLessThanOrEqual(2);
    expect(written.bytes).toBeLessThanOrEqual(2 * one);
    // Another process (a new store) reads the newest from the file.
    const text = readFileSync(path, 'utf8');
    expect(decodeSession(new Uint8Array(Buffer.from(text.trim(), 'base64'))).ageAdd).toBe(4999);
    expect(new FileSessionStore(path).take('example.test', 1_000_000 + 5000)?.ageAdd).toBe(4999);
  });

  it('a put during a write is written after it; flush waits for both', async () => {
    const path = join(dir, 'late.session');
    const store = new FileSessionStore(path);
    store.put('k', session(1));
    await Promise.resolve();
    store.put('k', session(2));
    await store.flush();
    expect(new FileSessionStore(path).take('k', 1_000_000 + 10)?.ageAdd).toBe(2);
  });

  it('a write that fails is reported by flush, not as an unhandled rejection', async () => {
    const store = new FileSessionStore(join(dir, 'no-such-dir', 'x.session'));
    store.put('k', session(3));
    await expect(store.flush()).rejects.toThrow(/ENOENT/);
    await expect(store.flush()).resolves.toBeUndefined();
  });
});
