/**
 * One cell of the matrix: a case between a client and a server
 * implementation, through the relay, as the interop runner runs it: the
 * server serves generated files from its www directory, the client fetches
 * them into its download directory, and the cell passes when the client
 * exited successfully, every file arrived with the SHA-256 it was served
 * with, and the case's wire checks hold.
 */
import { createCipheriv, createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, waitForPort, type PeerProcess } from '../../helpers/peers.js';
import { UdpRelay } from '../../helpers/udp-relay.js';
import type { CaseSpec } from './cases.js';
import type { Alpn, Feature, Pairing } from './implementations.js';
import { pairingName } from './implementations.js';
import type { CellResult } from './matrix.js';
import { interopOutput } from './pqtls-build.js';
import { qlogSummary } from './qlog-summary.js';
import type { CasePki } from './pki.js';

/** Deterministic file contents: AES-128-CTR keystream under a key derived from the name. */
function contents(name: string, size: number): Buffer {
  const key = createHash('sha256').update(name).digest().subarray(0, 16);
  return createCipheriv('aes-128-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(size));
}

function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

/** The application protocol both sides speak, h3 when the case demands it; undefined if none. */
function alpnFor(c: CaseSpec, p: Pairing): Alpn | undefined {
  const both = p.client.alpns.filter((a) => p.server.alpns.includes(a));
  if (c.features.includes('h3')) return both.includes('h3') ? 'h3' : undefined;
  return both[0];
}

/** Why the pairing cannot run the case, or undefined. */
export function unsupportedReason(c: CaseSpec, p: Pairing): string | undefined {
  const features: readonly Feature[] = c.features;
  return p.client.unavailable() ?? p.server.unavailable() ??
    (p.client.client ? p.client.client.unsupported(features) : `${p.client.name} has no client`) ??
    (p.server.server ? p.server.server.unsupported(features) : `${p.server.name} has no server`) ??
    (alpnFor(c, p) ? undefined : `no common application protocol (${p.client.alpns.join('/')} vs ${p.server.alpns.join('/')})`);
}

/** Slack for process start-up and checks on top of a case's own time. */
const SETUP_MS = 10_000;

export function cellBudgetMs(c: CaseSpec): number {
  return c.timeoutMs + SETUP_MS;
}

export async function runCell(c: CaseSpec, p: Pairing, pki: CasePki): Promise<CellResult> {
  const pairing = pairingName(p);
  const base = { case: c.name, pairing };
  const why = unsupportedReason(c, p);
  if (why !== undefined) return { ...base, status: 'unsupported', ms: 0, detail: why };
  const alpn = alpnFor(c, p) as Alpn;
  const started = Date.now();
  const dir = join(interopOutput, 'work', c.name, pairing.replace('→', '_to_'));
  rmSync(dir, { recursive: true, force: true });
  const www = join(dir, 'www');
  const downloads = join(dir, 'downloads');
  mkdirSync(www, { recursive: true });
  mkdirSync(downloads, { recursive: true });
  const files = c.files.map((size, i) => {
    const name = `${c.name}-${i}-${size}`;
    const data = contents(name, size);
    writeFileSync(join(www, name), data);
    return { name, size, sha256: sha256(data) };
  });
  const family = p.client.certFamily === 'mldsa' && p.server.certFamily === 'mldsa' ? 'mldsa' : 'ecdsa';
  const cert = (c.longChain ? pki.long : pki.short)[family];
  const keylogFile = join(dir, 'client.keys');
  const qlog = { server: join(dir, 'qlog-server'), client: join(dir, 'qlog-client') };
  mkdirSync(qlog.server);
  mkdirSync(qlog.client);
  let server: PeerProcess | undefined;
  let relay: UdpRelay | undefined;
  const actions: string[] = [];
  let passed = false;
  try {
    const port = await freePort('udp');
    server = await (p.server.server as NonNullable<Pairing['server']['server']>).start({
      port, www, cert, alpn, retry: c.server?.retry ?? false, earlyData: c.server?.earlyData ?? false,
      preferV2: c.server?.preferV2 ?? false, keylogFile: join(dir, 'server.keys'), qlogDir: qlog.server, lifetimeMs: c.timeoutMs + SETUP_MS,
    });
    await waitForPort(port, { protocol: 'udp', process: server, timeoutMs: SETUP_MS });
    relay = await UdpRelay.start({
      serverPort: port, seed: `${c.name} ${pairing}`, ...c.impair, keepShortHeaders: c.opensOneRtt ? 20_000 : 0,
      ...(process.env['PQTLS_INTEROP_PCAP'] === '1' && { pcapFile: join(dir, 'relay.pcap') }),
    });
    c.schedule?.(relay, c.files.reduce((a, b) => a + b, 0), (a) => actions.push(a));
    const outcome = await (p.client.client as NonNullable<Pairing['client']['client']>).run({
      port: relay.port, paths: files.map((f) => f.name), downloadDir: downloads, caFile: cert.caFile, alpn, mode: c.mode,
      chacha20: c.client?.chacha20 ?? false, keyUpdate: c.client?.keyUpdate ?? false, version: c.client?.version ?? 'v1',
      migrate: c.client?.migrate ?? false, keylogFile, qlogDir: qlog.client, lifetimeMs: c.timeoutMs, workDir: dir,
    });
    const problems: string[] = [];
    if (!outcome.ok) problems.push(outcome.detail);
    const missingOrBad = files.filter((f) => {
      const path = join(downloads, f.name);
      return !existsSync(path) || sha256(readFileSync(path)) !== f.sha256;
    });
    if (missingOrBad.length) {
      const present = missingOrBad.filter((f) => existsSync(join(downloads, f.name))).length;
      problems.push(`${missingOrBad.length} of ${files.length} files missing (${missingOrBad.length - present}) or with the wrong SHA-256 (${present}), e.g. ${missingOrBad[0]?.name}`);
    }
    if (outcome.ok && problems.length === 0) problems.push(...(c.check?.({ relay, cert, keylogFile, actions }) ?? []));
    const ms = Date.now() - started;
    if (problems.length) {
      const counters = `relay: to server ${JSON.stringify(relay.counters.toServer)}, to client ${JSON.stringify(relay.counters.toClient)}`;
      const serverTail = server.output.split('\n').filter((l) => l.trim()).slice(-8).join('\n');
      const wire = qlogSummary(qlog);
      return { ...base, status: 'fail', ms, detail: `${problems.join('\n')}\n${counters}\nserver output (tail):\n${serverTail}\n${wire ? `${wire}\n` : ''}(work directory ${dir})` };
    }
    passed = true;
    return { ...base, status: 'pass', ms, detail: '' };
  } catch (e) {
    return { ...base, status: 'fail', ms: Date.now() - started, detail: e instanceof Error ? e.message : String(e) };
  } finally {
    await relay?.close();
    await server?.kill();
    // A failed cell keeps its directory (files, key logs, pcap) for a look; a passed one is gone.
    if (passed) rmSync(dir, { recursive: true, force: true });
  }
}
