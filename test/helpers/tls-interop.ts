/**
 * Our side of a TLS interop test: a pqtls server on 127.0.0.1 that lives as
 * long as the test, and helpers to read a pqtls socket with a deadline, so a
 * peer that never answers fails the test with what was received so far
 * instead of hanging it.
 */
import type { AddressInfo, Server, Socket } from 'node:net';
import { onTestFinished } from 'vitest';
import { createServer, type PqTlsServerOptions, type PqTlsSocket } from '../../src/node/index.js';

/** A listening pqtls server and what happened to it. */
export interface OurServer {
  readonly port: number;
  /** Handshakes that completed, in order. */
  readonly connections: readonly PqTlsSocket[];
  /** Handshakes that failed (`tlsClientError`), in order. */
  readonly errors: readonly unknown[];
  /** The next completed handshake (or the first, if one has completed already and was not taken). */
  accepted(timeoutMs?: number): Promise<PqTlsSocket>;
}

/**
 * Starts a pqtls server on a kernel-chosen port of 127.0.0.1 and stops it,
 * with every connection it accepted, when the current test ends.
 */
export async function listenOurServer(options: PqTlsServerOptions, onConnection: (socket: PqTlsSocket) => void): Promise<OurServer> {
  const connections: PqTlsSocket[] = [];
  const errors: unknown[] = [];
  const waiters: ((s: PqTlsSocket) => void)[] = [];
  let taken = 0;
  const server: Server = createServer(options, (s) => {
    connections.push(s);
    s.on('error', () => {}); // reported through the test's assertions, not as an unhandled error
    onConnection(s);
    const w = waiters.shift();
    if (w) {
      taken++;
      w(s);
    }
  });
  server.on('tlsClientError', (e: unknown) => errors.push(e));
  // Every TCP connection, handshake finished or not, so none can keep close() waiting.
  const sockets = new Set<Socket>();
  server.on('connection', (sock: Socket) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(() => {
    for (const c of connections) c.destroy();
    for (const sock of sockets) sock.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const { port } = server.address() as AddressInfo;
  return {
    port,
    connections,
    errors,
    accepted(timeoutMs = 10_000) {
      const ready = connections[taken];
      if (ready) {
        taken++;
        return Promise.resolve(ready);
      }
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no handshake completed on our server within ${timeoutMs} ms; errors: ${errors.map(String).join('; ')}`)), timeoutMs);
        waiters.push((s) => {
          clearTimeout(timer);
          resolve(s);
        });
      });
    },
  };
}

/**
 * A line-oriented echo for peers that send text: each line comes back as
 * `echo: LINE`, and a line `bye` ends the connection with close_notify (a peer
 * told to ignore end of input then exits on its own). `beforeFirstEcho` runs
 * once, before the first answer (e.g. a KeyUpdate).
 */
export function lineEcho(beforeFirstEcho?: (s: PqTlsSocket) => Promise<void>): (s: PqTlsSocket) => void {
  return (s) => {
    let pending = '';
    let first = true;
    let chain = Promise.resolve();
    s.on('data', (d: Buffer) => {
      pending += d.toString('utf8');
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      chain = chain.then(async () => {
        for (const line of lines) {
          if (first && beforeFirstEcho) await beforeFirstEcho(s);
          first = false;
          if (line === 'bye') {
            s.end();
            return;
          }
          s.write(`echo: ${line}\n`);
        }
      });
    });
    s.on('end', () => s.end());
  };
}

/** Everything `sock` has received so far, kept up to date from the moment this is called. */
export function collectText(sock: PqTlsSocket): { readonly text: () => string; until: (needle: string, timeoutMs?: number) => Promise<string> } {
  let text = '';
  let ended = false;
  const listeners = new Set<() => void>();
  const notify = (): void => {
    for (const l of [...listeners]) l();
  };
  sock.on('data', (d: Buffer) => {
    text += d.toString('utf8');
    notify();
  });
  sock.on('end', () => {
    ended = true;
    notify();
  });
  sock.on('close', () => {
    ended = true;
    notify();
  });
  return {
    text: () => text,
    until(needle, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (text.includes(needle)) done(() => resolve(text));
          else if (ended) done(() => reject(new Error(`connection ended before ${JSON.stringify(needle)} arrived; got ${JSON.stringify(text)}`)));
        };
        const timer = setTimeout(() => done(() => reject(new Error(`${JSON.stringify(needle)} did not arrive within ${timeoutMs} ms; got ${JSON.stringify(text)}`))), timeoutMs);
        const done = (settle: () => void): void => {
          clearTimeout(timer);
          listeners.delete(check);
          settle();
        };
        listeners.add(check);
        check();
      });
    },
  };
}

/** Resolves when `sock` has closed (both directions), or rejects after `timeoutMs`. */
export function closed(sock: PqTlsSocket, timeoutMs = 10_000): Promise<void> {
  if (sock.destroyed) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`connection still open after ${timeoutMs} ms`)), timeoutMs);
    sock.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
