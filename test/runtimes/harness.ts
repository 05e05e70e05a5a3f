/**
 * The runtime matrix's plumbing: the package built and packed the way `npm publish` would, the
 * tarball installed into a fresh project, and one runner per runtime that executes
 * test/runtimes/conformance.mjs there and returns its JSON results.
 *
 * Runtimes come from `scripts/install-peers.sh` (deno, bun, workerd, chromium; node24), like the
 * interop peers; `PQTLS_SKIP_RUNTIMES=1` opts out.
 */
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { pathToFileURL } from 'node:url';
import { installErrors, peersBinDir, peersDir, repoRoot, runInstallerSync, runtimesSkipRequested, type RuntimeName } from '../helpers/peer-install.js';

export interface CaseResult {
  readonly case: string;
  readonly ok: boolean;
  readonly ms: number;
  readonly detail?: unknown;
  readonly error?: string;
}

export const runtimesDisabled = runtimesSkipRequested;
if (runtimesDisabled) {
  console.warn('\n*** PQTLS_SKIP_RUNTIMES=1: the runtime matrix (Node 24, Deno, Bun, workerd, Chromium) is SKIPPED. ***\n');
}

/** The program of a runtime, installing it if it is missing; throws loudly if it cannot be had. */
export function requireRuntime(name: RuntimeName | 'node24' | 'openssl'): string {
  const path = join(peersBinDir, name);
  if (existsSync(path)) return path;
  const r = runInstallerSync([name]);
  if (!r.ok || !existsSync(path)) {
    throw new Error(`runtime ${name} could not be installed into ${peersBinDir}:\n${installErrors(r.log)}\n` +
      'To fix: bash scripts/install-peers.sh ' + name + ' (needs the npm registry and a Debian mirror), or set PQTLS_SKIP_RUNTIMES=1');
  }
  return path;
}

/** Runs a program to its end with a time limit; rejects with its output if it fails. */
export function run(program: string, args: readonly string[], options: { cwd?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  return new Promise((resolveRun, reject) => {
    const child = spawn('timeout', ['-k', '5', String(Math.ceil((options.timeoutMs ?? 300_000) / 1000)), program, ...args], {
      cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString('utf8'); });
    child.stderr.on('data', (d: Buffer) => { err += d.toString('utf8'); });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolveRun(out);
      else reject(new Error(`${program} ${args.join(' ')} exited with ${code}:\n${out.slice(-3000)}\n${err.slice(-3000)}`));
    });
  });
}

/**
 * Builds the package from the current sources into a staging copy (dist/ of the work tree is left
 * alone: other tests run the CLI from it) and packs it with `npm pack`; returns the tarball's path.
 */
export async function packPackage(work: string): Promise<string> {
  const stage = join(work, 'stage');
  mkdirSync(stage, { recursive: true });
  for (const f of ['package.json', 'README.md', 'bin', 'src']) cpSync(join(repoRoot, f), join(stage, f), { recursive: true });
  await run(process.execPath, [join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(repoRoot, 'tsconfig.build.json'), '--outDir', join(stage, 'dist')], { cwd: repoRoot });
  // --ignore-scripts: `prepare` would build again, into the staging copy's own dist.
  const json = await run('npm', ['pack', '--json', '--ignore-scripts', '--loglevel=error', '--pack-destination', work], { cwd: stage });
  const [packed] = JSON.parse(json) as { filename: string }[];
  if (!packed) throw new Error(`npm pack printed no tarball: ${json}`);
  return join(work, packed.filename);
}

/**
 * A fresh project with the tarball installed as `pqtls` and the matrix's files beside it. The
 * tarball is unpacked into node_modules/pqtls, as npm lays it out, and its dependency closure is
 * copied from this repository's node_modules (installed by `npm ci` from the lockfile): npm's own
 * `install --offline` cannot resolve a tarball's ranges without registry metadata, and the matrix
 * should not need the network once the runtimes are there. Optional dependencies (koffi) are left out.
 */
export async function installProject(tarball: string, work: string): Promise<string> {
  const project = join(work, 'project');
  const modules = join(project, 'node_modules');
  mkdirSync(join(modules, 'pqtls'), { recursive: true });
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'pqtls-matrix', private: true, type: 'module', dependencies: { pqtls: `file:${tarball}` } }, null, 2));
  await run('tar', ['-xzf', tarball, '-C', join(modules, 'pqtls'), '--strip-components=1']);
  const seen = new Set<string>();
  const copyDeps = (pkgDir: string): void => {
    const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    for (const dep of Object.keys(pkg.dependencies ?? {})) {
      if (seen.has(dep)) continue;
      seen.add(dep);
      const from = join(repoRoot, 'node_modules', dep);
      if (!existsSync(from)) throw new Error(`dependency ${dep} is not in ${join(repoRoot, 'node_modules')} (run npm ci)`);
      cpSync(from, join(modules, dep), { recursive: true, dereference: true });
      copyDeps(from);
    }
  };
  copyDeps(join(modules, 'pqtls'));
  const vectors = {
    rfc8448: JSON.parse(readFileSync(join(repoRoot, 'test-vectors/rfc8448/simple-1rtt.json'), 'utf8')) as unknown,
    rfc9001: JSON.parse(readFileSync(join(repoRoot, 'test-vectors/rfc9001/vectors.json'), 'utf8')) as unknown,
    rfc9369: JSON.parse(readFileSync(join(repoRoot, 'test-vectors/rfc9369/vectors.json'), 'utf8')) as unknown,
  };
  // The vectors as a module, so that runtimes without a filesystem (workerd, a page) get them in the bundle.
  writeFileSync(join(project, 'vectors.mjs'), `export default ${JSON.stringify(vectors)};\n`);
  cpSync(join(repoRoot, 'test/runtimes/conformance.mjs'), join(project, 'conformance.mjs'));
  cpSync(join(repoRoot, 'test/runtimes/ws-worker.mjs'), join(project, 'ws-worker.mjs'));
  writeFileSync(join(project, 'run.mjs'), [
    `import { runConformance } from './conformance.mjs';`,
    `import vectors from './vectors.mjs';`,
    `console.log(JSON.stringify(await runConformance(vectors)));`,
  ].join('\n'));
  writeFileSync(join(project, 'worker.mjs'), [
    `import { runConformance } from './conformance.mjs';`,
    `import vectors from './vectors.mjs';`,
    // workerd's clocks stand still while a request computes (a Spectre mitigation), so the per-case
    // times read 0 there; the matrix reports the request's time, measured outside, for the whole.
    `export default { async fetch() { return new Response(JSON.stringify(await runConformance(vectors, () => Date.now())), { headers: { 'content-type': 'application/json' } }); } };`,
  ].join('\n'));
  writeFileSync(join(project, 'index.html'), [
    '<!doctype html><meta charset="utf-8"><title>pqtls runtime matrix</title>',
    `<script type="importmap">${JSON.stringify(importMap(project))}</script>`,
    '<script type="module">',
    `import { runConformance } from './conformance.mjs';`,
    `import vectors from './vectors.mjs';`,
    `window.matrixResults = runConformance(vectors).catch((e) => [{ case: 'load', ok: false, ms: 0, error: String(e) }]);`,
    // What a page gets for the Node adapter: the import map follows the browser condition to the error module.
    `window.nodeEntry = window.matrixResults.then(() => import('pqtls/node')).then(() => 'loaded', (e) => String(e));`,
    '</script>',
  ].join('\n'));
  return project;
}

/**
 * An import map for the installed packages, so that a page loads them as ES modules with no
 * bundler: each `exports` subpath of pqtls by its browser condition, and the @noble packages by prefix
 * (their `exports` map every file to itself).
 */
export function importMap(project: string): { imports: Record<string, string> } {
  const imports: Record<string, string> = {};
  const pkg = JSON.parse(readFileSync(join(project, 'node_modules/pqtls/package.json'), 'utf8')) as { exports: Record<string, string | Record<string, string>> };
  for (const [sub, target] of Object.entries(pkg.exports)) {
    const file = typeof target === 'string' ? target : (target['browser'] ?? target['import'] ?? target['default']);
    if (file === undefined || !file.endsWith('.js')) continue;
    imports[`pqtls${sub.slice(1)}`] = `/node_modules/pqtls/${file.slice(2)}`;
  }
  for (const name of readdirSync(join(project, 'node_modules/@noble'))) imports[`@noble/${name}/`] = `/node_modules/@noble/${name}/`;
  return { imports };
}

function parseResults(out: string, runtime: string): CaseResult[] {
  const line = out.trim().split('\n').filter((l) => l.startsWith('[')).pop();
  if (line === undefined) throw new Error(`${runtime} printed no results:\n${out.slice(-3000)}`);
  return JSON.parse(line) as CaseResult[];
}

/** A runtime's own version string, for the table. */
export function versionOf(program: string, args: string[], pattern: RegExp): string {
  const out = execFileSync(program, args, { encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe'] });
  return pattern.exec(out)?.[1] ?? out.trim().split('\n')[0] ?? '?';
}

export async function runNode(program: string, project: string): Promise<CaseResult[]> {
  return parseResults(await run(program, ['run.mjs'], { cwd: project }), program);
}

export async function runDeno(project: string): Promise<CaseResult[]> {
  const deno = requireRuntime('deno');
  // No permissions at all: the subset reads no file and opens nothing. DENO_DIR keeps Deno's cache out of $HOME.
  return parseResults(await run(deno, ['run', '--no-config', '--node-modules-dir=manual', '--no-prompt', 'run.mjs'], {
    cwd: project, env: { ...process.env, DENO_DIR: join(project, '.deno'), DENO_NO_UPDATE_CHECK: '1' },
  }), 'deno');
}

export async function runBun(project: string): Promise<CaseResult[]> {
  const bun = requireRuntime('bun');
  return parseResults(await run(bun, ['run.mjs'], { cwd: project, env: { ...process.env, BUN_INSTALL_CACHE_DIR: join(project, '.bun') } }), 'bun');
}

/** Bundles `entry` for `platform` with the conditions a Workers or browser bundler uses. */
export async function bundle(project: string, entry: string, out: string, conditions: string[]): Promise<void> {
  const esbuild = (await import(pathToFileURL(createRequire(join(repoRoot, 'package.json')).resolve('esbuild')).href)) as typeof import('esbuild');
  await esbuild.build({
    absWorkingDir: project, entryPoints: [entry], outfile: out, bundle: true, format: 'esm', platform: 'neutral',
    mainFields: ['module', 'main'], conditions, target: 'es2022', logLevel: 'silent',
  });
}

/** workerd serving `entry` (bundled as a Worker module) on 127.0.0.1:`port`, until `stop()`. */
export async function startWorkerd(project: string, entry: string, port: number): Promise<{ stop: () => void; log: () => string; exited: () => boolean }> {
  const workerd = requireRuntime('workerd');
  const name = entry.replace(/^\.\//, '').replace(/\.mjs$/, '');
  await bundle(project, entry, join(project, `${name}.bundle.mjs`), ['workerd', 'worker', 'browser']);
  writeFileSync(join(project, `${name}.capnp`), `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [ (name = "main", worker = .matrix) ],
  sockets = [ (name = "http", address = "127.0.0.1:${port}", http = (), service = "main") ],
);
const matrix :Workerd.Worker = (
  modules = [ (name = "worker", esModule = embed "${name}.bundle.mjs") ],
  compatibilityDate = "2026-11-01",
);
`);
  const child = spawn('timeout', ['-k', '5', '300', workerd, 'serve', join(project, `${name}.capnp`)], { cwd: project, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (d: Buffer) => { log += d.toString('utf8'); });
  child.stderr.on('data', (d: Buffer) => { log += d.toString('utf8'); });
  return { stop: () => child.kill('SIGKILL'), log: () => log, exited: () => child.exitCode !== null };
}

export async function runWorkerd(project: string, port: number): Promise<{ results: CaseResult[]; ms: number }> {
  const w = await startWorkerd(project, './worker.mjs', port);
  try {
    let last: unknown;
    for (let i = 0; i < 100; i++) {
      try {
        const start = performance.now();
        const res = await fetch(`http://127.0.0.1:${port}/`);
        const text = await res.text();
        if (!res.ok) throw new Error(`workerd answered ${res.status}: ${text.slice(0, 2000)}\n${w.log().slice(-2000)}`);
        return { results: JSON.parse(text) as CaseResult[], ms: Math.round(performance.now() - start) };
      } catch (e) {
        last = e;
        if (e instanceof Error && e.message.startsWith('workerd answered')) throw e;
        if (w.exited()) break;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    throw new Error(`workerd did not serve the matrix worker: ${String(last)}\n${w.log().slice(-3000)}`);
  } finally {
    w.stop();
  }
}

const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.json': 'application/json', '.css': 'text/css' };

/** A static file server for `root` on 127.0.0.1 (the page's origin, a secure context for WebCrypto). */
export function serveStatic(root: string): Promise<{ server: Server; port: number }> {
  return new Promise((resolveServe) => {
    const server = createServer((req, res) => {
      const url = decodeURIComponent((req.url ?? '/').split('?')[0] ?? '/');
      const path = normalize(join(root, url === '/' ? 'index.html' : url));
      if (!path.startsWith(root) || !existsSync(path)) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': TYPES[extname(path)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
      res.end(readFileSync(path));
    });
    server.listen(0, '127.0.0.1', () => {
      const a = server.address();
      resolveServe({ server, port: typeof a === 'object' && a ? a.port : 0 });
    });
  });
}

/** The part of puppeteer-core's API used here (it lives in .peers/puppeteer, outside this repo's node_modules). */
interface Page {
  on(event: 'console', f: (m: { type(): string; text(): string }) => void): void;
  on(event: 'pageerror', f: (e: unknown) => void): void;
  goto(url: string, o: { waitUntil: 'load' }): Promise<unknown>;
  evaluate(expression: string): Promise<unknown>;
  screenshot(o: { path: string; fullPage?: boolean }): Promise<unknown>;
}
interface Puppeteer {
  launch(o: { executablePath: string; headless: boolean; userDataDir: string; protocolTimeout: number; args: string[] }): Promise<{
    newPage(): Promise<Page>;
    close(): Promise<void>;
  }>;
}

/** puppeteer-core, from where the installer put it. */
async function puppeteer(): Promise<Puppeteer> {
  const req = createRequire(join(peersDir, 'puppeteer', 'package.json'));
  const mod = (await import(pathToFileURL(req.resolve('puppeteer-core')).href)) as { default: Puppeteer };
  return mod.default;
}

/**
 * Opens `url` in headless Chromium and returns what `expression` (a promise in the page)
 * resolves to; the page's console and errors are kept for the failure message.
 */
export async function inChromium<T>(url: string, expression: string, timeoutMs = 240_000, screenshot?: string): Promise<T> {
  const chromium = requireRuntime('chromium');
  const pptr = await puppeteer();
  const userDataDir = mkdtempSync(join(tmpdir(), 'pqtls-chromium-'));
  const browser = await pptr.launch({
    executablePath: chromium, headless: true, userDataDir, protocolTimeout: timeoutMs,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--disable-extensions'],
  });
  const log: string[] = [];
  try {
    const page = await browser.newPage();
    page.on('console', (m) => log.push(`console.${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => log.push(`pageerror: ${String(e)}`));
    await page.goto(url, { waitUntil: 'load' });
    try {
      const result = (await page.evaluate(`(async () => await (${expression}))()`)) as T;
      if (screenshot !== undefined) await page.screenshot({ path: screenshot, fullPage: true });
      return result;
    } catch (e) {
      throw new Error(`in Chromium: ${String(e)}\n${log.join('\n')}`);
    }
  } finally {
    await browser.close();
    rmSync(userDataDir, { recursive: true, force: true });
  }
}

export function workDir(): string {
  return mkdtempSync(join(tmpdir(), 'pqtls-matrix-'));
}
