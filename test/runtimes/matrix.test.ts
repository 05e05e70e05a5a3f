/**
 * The runtime matrix (issue 14): the same portable conformance subset (conformance.mjs: a
 * X25519MLKEM768 + ML-DSA-65 handshake verified by webPkiVerifier, resumption, the RFC 8448 §3
 * replay, the RFC 9001 / RFC 9369 packet-protection vectors, a QUIC stream) run from the packed and
 * installed package in Node 20 (this process's node), Node 24, Deno, Bun, workerd (bundled as a
 * Worker module) and headless Chromium (ES modules in a page, through an import map). The table is
 * printed and written to test/runtimes/matrix-latest.md (not committed; the README quotes a run).
 * `PQTLS_SKIP_RUNTIMES=1` skips it. The same project then serves the browser example
 * (examples/browser) to Chromium, which runs TLS over a WebSocket through `pqtls relay`.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/peer-install.js';
import { freePort, spawnPeer, type PeerProcess } from '../helpers/peers.js';
import { CASES } from './conformance.mjs';
import {
  bundle, inChromium, installProject, packPackage, requireRuntime, runBun, runDeno, runNode, runWorkerd, runtimesDisabled,
  serveStatic, startWorkerd, versionOf, workDir, type CaseResult,
} from './harness.js';

const table = new Map<string, { results: CaseResult[]; ms: number; version: string }>();
let work: string;
let project: string;

async function timed(name: string, version: string, f: () => Promise<CaseResult[] | { results: CaseResult[]; ms: number }>): Promise<CaseResult[]> {
  const start = performance.now();
  const r = await f();
  const entry = Array.isArray(r) ? { results: r, ms: Math.round(performance.now() - start) } : r;
  table.set(name, { ...entry, version });
  return entry.results;
}

function expectAllPass(results: CaseResult[]): void {
  expect(results.map((r) => r.case)).toEqual(CASES);
  expect(results.filter((r) => !r.ok)).toEqual([]);
}

function markdown(): string {
  const runtimes = [...table.keys()];
  const head = `| case | ${runtimes.map((r) => `${r} (${table.get(r)?.version})`).join(' | ')} |`;
  const rule = `| --- | ${runtimes.map(() => '---').join(' | ')} |`;
  const rows = CASES.map((c) => `| ${c} | ${runtimes.map((r) => {
    const x = table.get(r)?.results.find((y) => y.case === c);
    return x ? `${x.ok ? 'pass' : '**FAIL**'} ${r === 'workerd' ? '' : `${x.ms} ms`}`.trim() : '—';
  }).join(' | ')} |`);
  const total = `| whole run | ${runtimes.map((r) => `${table.get(r)?.ms} ms`).join(' | ')} |`;
  return [head, rule, ...rows, total].join('\n');
}

describe.runIf(!runtimesDisabled)('runtime matrix: the packed package in every runtime', () => {
  beforeAll(async () => {
    work = workDir();
    project = await installProject(await packPackage(work), work);
  }, 600_000);

  afterAll(() => {
    if (table.size > 0) {
      const md = markdown();
      console.log(`\nruntime matrix (portable conformance subset, noble provider):\n${md}\n`);
      writeFileSync(join(repoRoot, 'test/runtimes/matrix-latest.md'), `${md}\n`);
    }
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('Node 20 (this node)', async () => {
    expectAllPass(await timed('node20', process.versions.node, () => runNode(process.execPath, project)));
  }, 300_000);

  it('Node 24', async () => {
    const node24 = requireRuntime('node24');
    expectAllPass(await timed('node24', versionOf(node24, ['--version'], /v(\S+)/), () => runNode(node24, project)));
  }, 300_000);

  it('Deno', async () => {
    expectAllPass(await timed('deno', versionOf(requireRuntime('deno'), ['--version'], /deno (\S+)/), () => runDeno(project)));
  }, 300_000);

  it('Bun', async () => {
    expectAllPass(await timed('bun', versionOf(requireRuntime('bun'), ['--version'], /(\S+)/), () => runBun(project)));
  }, 300_000);

  it('Cloudflare workerd, the subset bundled as a Worker module', async () => {
    const port = await freePort();
    expectAllPass(await timed('workerd', versionOf(requireRuntime('workerd'), ['--version'], /workerd (\S+)/), () => runWorkerd(project, port)));
  }, 300_000);

  it('headless Chromium, ES modules in a page through an import map', async () => {
    const { server, port } = await serveStatic(project);
    try {
      const chromium = requireRuntime('chromium');
      let nodeEntry = '';
      expectAllPass(await timed('chromium', versionOf(chromium, ['--version'], /Chromium (\S+)/), async () => {
        const [results, node] = await inChromium<[CaseResult[], string]>(`http://127.0.0.1:${port}/`, 'Promise.all([window.matrixResults, window.nodeEntry])');
        nodeEntry = node;
        return results;
      }));
      // A page importing pqtls/node gets the error module's message, not a missing-name SyntaxError.
      expect(nodeEntry).toMatch(/pqtls\/node needs Node\.js/);
    } finally {
      server.close();
    }
  }, 300_000);

  // ---- TLS over WebSocket: the example page (examples/browser) in Chromium, through `pqtls relay` ----

  interface PageResult {
    protocol: string; cipherSuite: string; group: string; signatureScheme: string; handshakeMs: number; reply: string;
    chain: { subject: string; issuer: string; publicKeyAlgorithm: string; signatureAlgorithm: string }[];
  }

  /** The packed package's CLI. */
  const pqtls = (args: string[]): PeerProcess => spawnPeer(process.execPath, [join(project, 'node_modules/pqtls/bin/pqtls.js'), ...args], { cwd: project, timeoutMs: 240_000 });
  const portOf = async (p: PeerProcess, re: RegExp): Promise<number> => Number(re.exec(await p.waitForLine(re, 60_000))?.[1]);

  /** root → intermediate → localhost, all ML-DSA-65, made by `pqtls cert`. */
  async function pki(): Promise<string> {
    const dir = join(work, 'pki');
    for (const args of [
      ['ca', '--alg', 'ml-dsa-65', '--subject', 'CN=Browser Root,O=pqtls', '--out', join(dir, 'root')],
      ['intermediate', '--ca', join(dir, 'root'), '--alg', 'ml-dsa-65', '--subject', 'CN=Browser Intermediate,O=pqtls', '--out', join(dir, 'int')],
      ['leaf', '--ca', join(dir, 'int'), '--alg', 'ml-dsa-65', '--dns', 'localhost', '--out', join(dir, 'server')],
    ]) {
      const exit = await pqtls(['cert', ...args]).exited;
      expect(exit.code, exit.stderr).toBe(0);
    }
    return dir;
  }

  /** Runs the example page's connectViaRelay in Chromium against the WebSocket at `wsUrl`. */
  async function viaPage(wsUrl: string, caPem: string, message: string, screenshot?: string): Promise<PageResult> {
    const page = spawnPeer(process.execPath, [join(repoRoot, 'examples/browser/serve.mjs'), '--root', project, '--port', '0'], { timeoutMs: 240_000 });
    const pagePort = await portOf(page, /http:\/\/127\.0\.0\.1:(\d+)\//);
    const args = JSON.stringify({ relayUrl: wsUrl, caPem, serverName: 'localhost', message, replyBytes: message.length });
    return inChromium<PageResult>(`http://127.0.0.1:${pagePort}/`,
      `import('./app.mjs').then(async (m) => { const r = await m.connectViaRelay(${args}); m.show(r); return r; })`, 240_000, screenshot);
  }

  /** The page through `pqtls relay` to the TCP server on `serverPort`. */
  async function throughRelay(serverPort: number, message: string, screenshot?: string): Promise<PageResult> {
    const relay = pqtls(['relay', '--ws', '0', '--to', `127.0.0.1:${serverPort}`]);
    const relayPort = await portOf(relay, /relaying ws:\/\/127\.0\.0\.1:(\d+)\//);
    return viaPage(`ws://127.0.0.1:${relayPort}/`, readFileSync(join(work, 'pki/root/cert.pem'), 'utf8'), message, screenshot);
  }

  function expectPqHandshake(r: PageResult): void {
    expect(r.protocol).toBe('TLSv1.3');
    expect(r.group).toBe('X25519MLKEM768');
    expect(r.signatureScheme).toBe('mldsa65');
    expect(r.chain.map((c) => c.subject)).toEqual(['CN=localhost', 'CN=Browser Intermediate,O=pqtls']);
    expect(r.chain.map((c) => c.publicKeyAlgorithm)).toEqual(['ML-DSA-65', 'ML-DSA-65']);
    expect(r.handshakeMs).toBeGreaterThan(0);
  }

  it('Chromium → pqtls relay → pqtls server: X25519MLKEM768 + ML-DSA-65 chain, data echoed', async () => {
    const dir = await pki();
    const server = pqtls(['server', '--port', '0', '--cert', join(dir, 'server/chain.pem'), '--key', join(dir, 'server/key.pem'), '--echo']);
    const port = await portOf(server, /listening on 127\.0\.0\.1:(\d+)/);
    const r = await throughRelay(port, 'hello from chromium over a websocket', join(work, 'browser-pqtls.png'));
    expectPqHandshake(r);
    expect(r.reply).toBe('hello from chromium over a websocket');
    if (process.env['PQTLS_BROWSER_SCREENSHOT']) writeFileSync(process.env['PQTLS_BROWSER_SCREENSHOT'], readFileSync(join(work, 'browser-pqtls.png')));
  }, 300_000);

  it('Chromium → pqtls relay → OpenSSL 3.5 s_server: X25519MLKEM768 + ML-DSA-65 chain, data reversed by -rev', async () => {
    const dir = existsSync(join(work, 'pki')) ? join(work, 'pki') : await pki();
    const port = await freePort();
    const server = spawnPeer(requireRuntime('openssl'), [
      's_server', '-accept', `127.0.0.1:${port}`, '-tls1_3', '-naccept', '1', '-groups', 'X25519MLKEM768', '-rev',
      '-cert', join(dir, 'server/cert.pem'), '-key', join(dir, 'server/key.pem'), '-cert_chain', join(dir, 'int/cert.pem'),
    ], { timeoutMs: 240_000 });
    await server.waitForLine('ACCEPT', 60_000);
    const r = await throughRelay(port, 'post-quantum hello from chromium\n');
    expectPqHandshake(r);
    expect(r.reply).toBe(`${[...'post-quantum hello from chromium'].reverse().join('')}\n`);
  }, 300_000);

  it('Chromium → a Cloudflare Worker (workerd) that is the TLS server over a WebSocketPair: X25519MLKEM768 + ML-DSA-65, echoed', async () => {
    const port = await freePort();
    const worker = await startWorkerd(project, './ws-worker.mjs', port);
    try {
      let caPem = '';
      for (let i = 0; i < 100 && !caPem.includes('BEGIN CERTIFICATE'); i++) {
        caPem = await fetch(`http://127.0.0.1:${port}/ca`).then((r) => r.text(), () => '');
        if (!caPem.includes('BEGIN CERTIFICATE')) await new Promise((r) => setTimeout(r, 200));
      }
      expect(caPem, worker.log()).toContain('BEGIN CERTIFICATE');
      const r = await viaPage(`ws://127.0.0.1:${port}/`, caPem, 'hello worker, from a browser tab');
      expectPqHandshake(r);
      expect(r.reply).toBe('hello worker, from a browser tab');
    } finally {
      worker.stop();
    }
  }, 300_000);

  it('pqtls/node resolves to a clear error module under browser and Workers conditions, the real adapter under node', async () => {
    writeFileSync(join(project, 'uses-node.mjs'), `import { connect } from 'pqtls/node';\nexport { connect };\n`);
    for (const conditions of [['browser'], ['workerd', 'worker', 'browser']]) {
      await bundle(project, './uses-node.mjs', join(project, 'uses-node.bundle.mjs'), conditions);
      await expect(import(join(project, 'uses-node.bundle.mjs') + `?${conditions.join()}`)).rejects.toThrow(/pqtls\/node needs Node\.js/);
    }
    const m = (await import(join(project, 'uses-node.mjs'))) as { connect: unknown };
    expect(typeof m.connect).toBe('function');
    // The error module names exactly the adapter's exports, so any named import links and reaches its throw.
    const real = Object.keys((await import(join(project, 'node_modules/pqtls/dist/node/index.js'))) as object).sort();
    const stand = readFileSync(join(project, 'node_modules/pqtls/dist/node/unavailable.js'), 'utf8');
    expect([...stand.matchAll(/unavailable as (\w+)/g)].map((x) => x[1]).sort()).toEqual(real);
    // Every other entry bundles for a browser with no Node built-in anywhere in its graph.
    for (const entry of ['pqtls', 'pqtls/pq', 'pqtls/tls13', 'pqtls/quic', 'pqtls/x509', 'pqtls/testing', 'pqtls/transport']) {
      writeFileSync(join(project, 'entry.mjs'), `export * from '${entry}';\n`);
      await expect(bundle(project, './entry.mjs', join(project, 'entry.bundle.mjs'), ['browser']), entry).resolves.toBeUndefined();
    }
  }, 120_000);
});
