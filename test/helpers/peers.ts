/**
 * Interop peers for tests: real, independent TLS 1.3 and QUIC implementations
 * (OpenSSL 3.5, Node 24, ngtcp2, quiche) installed into `.peers/bin` by
 * `scripts/install-peers.sh`, plus the process plumbing to run them on the
 * loopback interface without leaking processes.
 *
 * A missing peer is a test failure. People without network access opt out with
 * `PQTLS_SKIP_INTEROP=1`; interop suites then guard themselves with
 * `describe.runIf(!interopDisabled)(...)` and a warning says what was skipped.
 *
 * Every process started here runs under coreutils `timeout` in its own process
 * group: it is killed (with its children) when the test that started it ends —
 * or the file, if started outside a test — and at the latest after its time
 * limit, even if the worker itself dies.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, onTestFinished } from 'vitest';
import {
  PEER_NAMES, installErrors, installHint, interopSkipRequested, peerInstalled, peersBinDir, recordedFailure,
  runInstallerSync, type PeerName,
} from './peer-install.js';

export { PEER_NAMES, peersBinDir, peersDir, type PeerName } from './peer-install.js';

/** True when interop suites must not run (`PQTLS_SKIP_INTEROP=1`). */
export const interopDisabled: boolean = interopSkipRequested;

if (interopDisabled) {
  console.warn(
    '\n*** PQTLS_SKIP_INTEROP=1: interop tests against OpenSSL, Node 24, ngtcp2 and quiche are SKIPPED. ***\n' +
      '*** Nothing here has been checked against another implementation.                               ***\n',
  );
}

/** Absolute path of a peer's program in `.peers/bin`, whether or not it is installed yet. */
export function peerPath(name: PeerName): string {
  return join(peersBinDir, name);
}

let installerRan = false;

/**
 * Absolute path of an installed peer. If it is missing, runs the installer
 * (at most once per worker, and the installer's lock and failure record keep
 * parallel workers from installing twice); throws a loud error naming the peer
 * if it still cannot be had.
 */
export function requirePeer(name: PeerName): string {
  if (interopDisabled) {
    throw new Error(`interop peer ${name} requested while PQTLS_SKIP_INTEROP=1; guard the suite with describe.runIf(!interopDisabled)`);
  }
  if (peerInstalled(name)) return peerPath(name);
  const earlier = recordedFailure();
  let why = earlier;
  if (earlier === undefined && !installerRan) {
    installerRan = true;
    const result = runInstallerSync();
    if (peerInstalled(name)) return peerPath(name);
    why = installErrors(result.log);
  }
  throw new Error(
    `interop peer '${name}' is not installed at ${peerPath(name)}.\n` +
      `${why ? `The installer said:\n${why}\n` : ''}To fix: ${installHint}.`,
  );
}

// ---------------------------------------------------------------------------------------------
// Processes

export interface SpawnPeerOptions {
  readonly cwd?: string;
  /** Added to the inherited environment; `undefined` removes a variable. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /**
   * Written to stdin, which is then closed. Without it stdin stays open until
   * {@link PeerProcess.closeStdin}: `openssl s_server` ends when its stdin closes,
   * while `openssl s_client` hangs up at end of input.
   */
  readonly input?: string | Uint8Array;
  /** Hard limit on the process's life, default 30 s; it is then killed with its children. */
  readonly timeoutMs?: number;
  /**
   * Kill it when the current test ends (default). Concurrent tests must say
   * false and kill what they start themselves: vitest cannot tell which of
   * them is "current". It is still killed when the file ends.
   */
  readonly killWithTest?: boolean;
}

export interface PeerExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Killed by its time limit (coreutils `timeout` exits 124, or 137 after SIGKILL). */
  readonly timedOut: boolean;
  readonly stdout: string;
  readonly stderr: string;
}

/** A running peer; all output is collected for assertions and error messages. */
export interface PeerProcess {
  readonly pid: number;
  /** The command line, for messages. */
  readonly commandLine: string;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout and stderr interleaved in arrival order. */
  readonly output: string;
  readonly exited: Promise<PeerExit>;
  write(data: string | Uint8Array): void;
  closeStdin(): void;
  /** Resolves with the first output line matching `pattern`; rejects if the process ends first or time runs out. */
  waitForLine(pattern: RegExp | string, timeoutMs?: number): Promise<string>;
  /** Stops the process and its children: SIGTERM, then SIGKILL after 2 s. */
  kill(): Promise<PeerExit>;
}

const DEFAULT_PEER_TIMEOUT_MS = 30_000;
const KILL_GRACE_MS = 2_000;
const live = new Set<RunningPeer>();

function resolveCommand(command: PeerName | string): string {
  return (PEER_NAMES as readonly string[]).includes(command) ? requirePeer(command as PeerName) : command;
}

function tail(text: string, lines = 15): string {
  return text.split('\n').slice(-lines).join('\n');
}

class RunningPeer implements PeerProcess {
  readonly pid: number;
  readonly exited: Promise<PeerExit>;
  private out = '';
  private err = '';
  private all = '';
  private done: PeerExit | undefined;
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    readonly commandLine: string,
  ) {
    if (child.pid === undefined) throw new Error(`cannot start ${commandLine}`);
    this.pid = child.pid;
    child.stdout.on('data', (b: Buffer) => this.take(b, 'out'));
    child.stderr.on('data', (b: Buffer) => this.take(b, 'err'));
    child.stdin.on('error', () => {}); // a peer that exits before reading its input is not our error
    this.exited = new Promise((resolveExit) => {
      child.on('close', (code, signal) => {
        this.done = { code, signal, timedOut: code === 124 || code === 137, stdout: this.out, stderr: this.err };
        live.delete(this);
        this.notify();
        resolveExit(this.done);
      });
    });
  }

  get stdout(): string { return this.out; }
  get stderr(): string { return this.err; }
  get output(): string { return this.all; }

  private take(chunk: Buffer, stream: 'out' | 'err'): void {
    const text = chunk.toString('utf8');
    if (stream === 'out') this.out += text;
    else this.err += text;
    this.all += text;
    this.notify();
  }

  private notify(): void {
    for (const l of [...this.listeners]) l();
  }

  write(data: string | Uint8Array): void {
    this.child.stdin.write(data);
  }

  closeStdin(): void {
    this.child.stdin.end();
  }

  waitForLine(pattern: RegExp | string, timeoutMs = 10_000): Promise<string> {
    const matches = (line: string): boolean => (typeof pattern === 'string' ? line.includes(pattern) : pattern.test(line));
    return new Promise((resolveLine, reject) => {
      const check = (): void => {
        // Only whole lines: output arrives in arbitrary chunks, and a half-written line can match
        // a prefix pattern. The last, unterminated line counts once the process has ended.
        const lines = this.all.split('\n');
        if (!this.done) lines.pop();
        const line = lines.find(matches);
        if (line !== undefined) finish(() => resolveLine(line));
        else if (this.done) {
          finish(() => reject(new Error(
            `${this.commandLine} exited (code ${this.done?.code}, signal ${this.done?.signal}) before printing ${String(pattern)}; output:\n${tail(this.all)}`,
          )));
        }
      };
      const timer = setTimeout(() => finish(() => reject(new Error(
        `${this.commandLine} printed no line matching ${String(pattern)} within ${timeoutMs} ms; output:\n${tail(this.all)}`,
      ))), timeoutMs);
      const finish = (settle: () => void): void => {
        clearTimeout(timer);
        this.listeners.delete(check);
        settle();
      };
      this.listeners.add(check);
      check();
    });
  }

  kill(): Promise<PeerExit> {
    if (this.done) return Promise.resolve(this.done);
    this.signalGroup('SIGTERM');
    const hard = setTimeout(() => this.signalGroup('SIGKILL'), KILL_GRACE_MS);
    return this.exited.finally(() => clearTimeout(hard));
  }

  /** Signals the process group `timeout` leads: the peer and anything it started. */
  signalGroup(signal: NodeJS.Signals): void {
    try {
      process.kill(-this.pid, signal);
    } catch {
      // already gone
    }
  }
}

/** Kills every peer process still running (awaitable; bounded by the 2 s grace period). */
export async function killAllPeers(): Promise<void> {
  await Promise.all([...live].map((p) => p.kill()));
}

// Peers started outside a test (in beforeAll) end with the file; anything left when the worker
// exits is killed synchronously, and `timeout` bounds the rest even if the worker is SIGKILLed.
afterAll(killAllPeers);
process.on('exit', () => {
  for (const p of live) p.signalGroup('SIGKILL');
});

/**
 * Starts a peer (a {@link PeerName}, resolved through {@link requirePeer}, or any
 * program) with a time limit. Inside a test it is killed when the test ends;
 * outside one (e.g. `beforeAll`), when the file ends.
 */
export function spawnPeer(command: PeerName | string, args: readonly string[] = [], options: SpawnPeerOptions = {}): PeerProcess {
  const program = resolveCommand(command);
  const seconds = Math.max(1, Math.ceil((options.timeoutMs ?? DEFAULT_PEER_TIMEOUT_MS) / 1000));
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [k, v] of Object.entries(options.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  // coreutils timeout makes itself a process-group leader and, at the limit, signals the group.
  const child = spawn('timeout', ['-k', '2', String(seconds), program, ...args], {
    cwd: options.cwd,
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const peer = new RunningPeer(child, [command, ...args].join(' '));
  live.add(peer);
  try {
    if (options.killWithTest !== false) onTestFinished(() => peer.kill().then(() => undefined));
  } catch {
    // not inside a test: afterAll(killAllPeers) covers it
  }
  if (options.input !== undefined) {
    child.stdin.end(options.input);
  }
  return peer;
}

/** Runs a peer to completion (stdin gets `input`, or nothing) and returns how it ended. */
export function runPeer(command: PeerName | string, args: readonly string[] = [], options: SpawnPeerOptions = {}): Promise<PeerExit> {
  return spawnPeer(command, args, { ...options, input: options.input ?? '' }).exited;
}

// ---------------------------------------------------------------------------------------------
// Ports

/** A port on 127.0.0.1 that was free a moment ago (the kernel's pick; bind it soon). */
export function freePort(protocol: 'tcp' | 'udp' = 'tcp'): Promise<number> {
  return new Promise((resolvePort, reject) => {
    if (protocol === 'udp') {
      const socket = createSocket('udp4');
      socket.once('error', reject);
      socket.bind(0, '127.0.0.1', () => {
        const { port } = socket.address();
        socket.close(() => resolvePort(port));
      });
      return;
    }
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error('no TCP port from the kernel'));
        return;
      }
      server.close(() => resolvePort(address.port));
    });
  });
}

/**
 * Whether something listens on `port` of 127.0.0.1 (or all addresses), read from
 * /proc/net: probing by connecting would use up a server's single accept, and
 * probing UDP by binding would steal the port from the server about to bind it.
 */
function listening(port: number, protocol: 'tcp' | 'udp'): boolean {
  const wanted = new Set([`0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`, `00000000:${port.toString(16).toUpperCase().padStart(4, '0')}`]);
  let table: string;
  try {
    table = readFileSync(`/proc/net/${protocol}`, 'utf8');
  } catch {
    throw new Error(`waitForPort needs /proc/net/${protocol} (Linux)`);
  }
  return table.split('\n').slice(1).some((row) => {
    const fields = row.trim().split(/\s+/);
    const local = fields[1];
    const state = fields[3];
    // TCP must be in LISTEN (0A); a bound UDP socket is as "listening" as UDP gets (07 = closed/unconnected).
    return local !== undefined && wanted.has(local) && (protocol === 'udp' || state === '0A');
  });
}

export interface WaitForPortOptions {
  readonly protocol?: 'tcp' | 'udp';
  readonly timeoutMs?: number;
  /** Fail at once, with its output, if this process exits while we wait. */
  readonly process?: PeerProcess;
}

/** Waits until a server listens on 127.0.0.1:`port`. */
export async function waitForPort(port: number, options: WaitForPortOptions = {}): Promise<void> {
  const protocol = options.protocol ?? 'tcp';
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  let ended = false;
  void options.process?.exited.then(() => {
    ended = true;
  });
  for (;;) {
    if (listening(port, protocol)) return;
    if (ended && options.process) {
      throw new Error(`${options.process.commandLine} exited before listening on ${protocol} ${port}; output:\n${tail(options.process.output)}`);
    }
    if (Date.now() > deadline) {
      const out = options.process ? `; output:\n${tail(options.process.output)}` : '';
      throw new Error(`nothing listens on 127.0.0.1 ${protocol} port ${port} after ${options.timeoutMs ?? 10_000} ms${out}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}
