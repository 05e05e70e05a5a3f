/**
 * What both TLS stacks' side processes do (bench/tls-side.ts for pqtls, and
 * bench/tls-side-node.ts mirrors it for node:tls): the measured loops and the
 * line protocol with bench/tls-native.ts.
 *
 * Server: prints `port N`, then on stdin `mark` restarts its CPU clock and
 * handshake count, `report` prints `{"handshakes","cpuMs"}`, `exit` ends it. In
 * bulk mode it prints `{"bytes","cpuMs","seconds"}` after each connection's
 * data has all arrived (it then closes that connection). In download mode it
 * sends `bytes` to each connection, ends it, and prints the same line once
 * the client has closed its side too.
 * Client: with `warmUp` > 0 it first runs that many handshakes in this
 * process (so JIT compilation and tier-up fall outside the measured window, as
 * in a long-running program), prints `{"warm"}` and waits for `go` on stdin —
 * the driver marks the server in between; then it runs the loop and prints one
 * JSON line with its own CPU and time.
 */
import type { Duplex } from 'node:stream';
import { createInterface } from 'node:readline';

export interface SideArgs<S extends Duplex> {
  readonly role: 'client' | 'server';
  /** bulk: the client sends `bytes` to the server; download: the server sends them to the client. */
  readonly mode: 'handshake' | 'bulk' | 'download';
  readonly port: number;
  readonly count: number;
  readonly inflight: number;
  readonly bytes: number;
  /** Handshakes the client runs before its measured window (handshake mode). */
  readonly warmUp?: number;
  /** Listens on loopback; `onSocket` gets each connection once its handshake completed. */
  listen(onSocket: (s: S) => void): Promise<number>;
  /** Resolves once the handshake completed. */
  connect(port: number): Promise<S>;
}

const cpuMs = (since: NodeJS.CpuUsage): number => {
  const c = process.cpuUsage(since);
  return (c.user + c.system) / 1000;
};

export async function sideLoop<S extends Duplex>(a: SideArgs<S>): Promise<void> {
  if (a.role === 'server') return serve(a);
  if (a.mode === 'handshake') {
    const handshakes = async (count: number, inflight: number): Promise<void> => {
      let left = count;
      const worker = async (): Promise<void> => {
        while (left-- > 0) {
          const s = await a.connect(a.port);
          // The server ends each connection once it has read our Finished: then both sides are done.
          await new Promise<void>((resolve) => {
            s.on('data', () => undefined);
            s.once('end', resolve);
            s.once('close', resolve);
            s.once('error', resolve);
          });
          s.destroy();
        }
      };
      await Promise.all(Array.from({ length: inflight }, worker));
    };
    if (a.warmUp) {
      await handshakes(a.warmUp, 1);
      out({ warm: a.warmUp });
      await nextLine();
    }
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await handshakes(a.count, a.inflight);
    out({ handshakes: a.count, cpuMs: cpuMs(cpu0), seconds: (performance.now() - t0) / 1000 });
    return;
  }
  const s = await a.connect(a.port);
  const c1 = process.cpuUsage();
  const t1 = performance.now();
  if (a.mode === 'download') {
    let bytes = 0;
    await new Promise<void>((resolve, reject) => {
      s.on('data', (d: Uint8Array) => {
        bytes += d.length;
      });
      s.once('end', resolve);
      s.once('error', reject);
    });
    out({ bytes, cpuMs: cpuMs(c1), seconds: (performance.now() - t1) / 1000 });
    s.end();
    return;
  }
  const done = new Promise<void>((resolve, reject) => {
    s.on('data', () => undefined);
    s.once('end', resolve);
    s.once('error', reject);
  });
  await sendAll(s, a.bytes);
  await done;
  out({ bytes: a.bytes, cpuMs: cpuMs(c1), seconds: (performance.now() - t1) / 1000 });
  s.destroy();
}

async function serve<S extends Duplex>(a: SideArgs<S>): Promise<void> {
  let cpu0 = process.cpuUsage();
  let handshakes = 0;
  const port = await a.listen((s) => {
    s.on('error', () => undefined);
    if (a.mode === 'handshake') {
      handshakes++;
      s.on('data', () => undefined);
      s.end();
      return;
    }
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    if (a.mode === 'download') {
      void sendAll(s, a.bytes).then(() => {
        s.once('close', () => out({ bytes: a.bytes, cpuMs: cpuMs(c0), seconds: (performance.now() - t0) / 1000 }));
        s.resume();
      }, () => s.destroy());
      return;
    }
    let bytes = 0;
    s.on('data', (d: Uint8Array) => {
      bytes += d.length;
    });
    s.once('end', () => {
      out({ bytes, cpuMs: cpuMs(c0), seconds: (performance.now() - t0) / 1000 });
      s.end();
    });
  });
  process.stdout.write(`port ${port}\n`);
  for await (const line of createInterface({ input: process.stdin })) {
    if (line === 'mark') {
      cpu0 = process.cpuUsage();
      handshakes = 0;
    } else if (line === 'report') {
      out({ handshakes, cpuMs: cpuMs(cpu0) });
    } else if (line === 'exit') {
      process.exit(0);
    }
  }
}

/** Writes `bytes` in 64 KiB writes, waiting for `drain` whenever the stream asks to, then ends it. */
async function sendAll(s: Duplex, bytes: number): Promise<void> {
  const chunk = new Uint8Array(64 * 1024).fill(0x61);
  for (let sent = 0; sent < bytes; sent += chunk.length) {
    if (!s.write(chunk)) await new Promise((resolve) => s.once('drain', resolve));
  }
  s.end();
}

/** The next line on stdin (the driver's `go`). */
function nextLine(): Promise<void> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin });
    rl.once('line', () => {
      rl.close();
      // A paused stdin that is a socket (spawn's 'pipe') still holds the process open.
      process.stdin.destroy();
      resolve();
    });
  });
}

function out(o: Record<string, number>): void {
  process.stdout.write(`${JSON.stringify(o)}\n`);
}
