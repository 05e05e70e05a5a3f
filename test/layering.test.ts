import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, posix, relative, sep } from 'node:path';
import ts from 'typescript';
import { build } from 'esbuild';

// The core is sans-IO and runs in every runtime; imports flow one way (BRIEF: layout). This test
// checks the import graph; `npm run typecheck` compiles the core against tsconfig.core.json, which has
// no Node types, so a Buffer, process or require that needs no import fails there.
const root = new URL('../src/', import.meta.url).pathname;

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/**
 * Every module specifier a file names, as the TypeScript scanner sees it: `import`/`export … from`,
 * `import '…'`, `import type`, `import x = require('…')`, dynamic `import('…')` and `require('…')`,
 * any quote style; comments and ordinary strings are not imports.
 */
function importsOf(source: string): string[] {
  return ts.preProcessFile(source, true, true).importedFiles.map((f) => f.fileName);
}

const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
/** A Node built-in, with or without the `node:` prefix (some, like node:test, exist only with it). */
function isBuiltin(spec: string): boolean {
  return builtins.has(spec) || spec.startsWith('node:');
}

/** The src-relative path (posix) a relative specifier points at, or undefined for a package. */
function target(rel: string, spec: string): string | undefined {
  return spec.startsWith('.') ? posix.normalize(posix.join(posix.dirname(rel), spec)) : undefined;
}

type Layer = 'adapter' | 'native' | 'hw' | 'noble' | 'testing' | 'core';
/**
 * adapter: src/node and src/cli, the only code that may use Node. native: the native*.ts files under src/hw, the
 * koffi binding to a card's C library, which may use Node too but is loaded lazily. hw: the rest of
 * src/hw (the device interface, the emulated card): runs in browsers, on src/pq's shared code, errors,
 * bytes and @noble (the emulator's arithmetic). noble: the software backends, the noble one in src/pq/noble
 * and the WebCrypto one in src/pq/webcrypto (SubtleCrypto, and noble for what SubtleCrypto lacks). testing:
 * `pqtls/testing`, whose reproducible random sources run on noble's ChaCha20 and SHA-256 packages
 * (never on the backend's internals). core: everything else (src/pq, src/tls13, src/quic, src/http3 above it, src/codec,
 * src/x509, src/*.ts).
 */
function layerOf(rel: string): Layer {
  // What browsers and Workers get for pqtls/node (package.json exports): it must load there.
  if (rel === 'node/unavailable.ts') return 'core';
  if (/^(node|cli)\//.test(rel)) return 'adapter';
  if (/^hw\/(.*\/)?native[^/]*\.ts$/.test(rel)) return 'native';
  if (rel.startsWith('hw/')) return 'hw';
  if (rel.startsWith('pq/noble/') || rel.startsWith('pq/webcrypto/')) return 'noble';
  if (rel.startsWith('testing/')) return 'testing';
  return 'core';
}

/** Specifiers of static imports and re-exports only (a dynamic `import()` is lazy and not listed). */
function staticImportsOf(rel: string, source: string): string[] {
  const sf = ts.createSourceFile(rel, source, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  return sf.statements.flatMap((s) =>
    (ts.isImportDeclaration(s) || ts.isExportDeclaration(s)) && s.moduleSpecifier && ts.isStringLiteral(s.moduleSpecifier) ? [s.moduleSpecifier.text] : []);
}

/** The only core files that may import the noble backend, and what: the default provider's entry. */
const NOBLE_ENTRIES: ReadonlyMap<string, readonly string[]> = new Map([['pq/index.ts', ['pq/noble/index.js']]]);

/**
 * Import-rule violations of one file (src-relative path), as `file → specifier (rule)`. Adapters (the
 * node:crypto backend among them) may use Node and noble's packages, but reach the noble backend only
 * through the `pq/index.js` entry: what both backends need lives in src/pq, not in src/pq/noble.
 */
function violations(rel: string, source: string): string[] {
  const layer = layerOf(rel);
  if (layer === 'native') return [];
  if (layer === 'adapter') {
    return importsOf(source).flatMap((spec) => {
      const to = target(rel, spec);
      return to !== undefined && to.startsWith('pq/noble/') ? [`${rel} → ${spec} (noble backend; use src/pq or pq/index.js)`] : [];
    });
  }
  const bad: string[] = [];
  if (layer === 'hw') {
    for (const spec of staticImportsOf(rel, source)) {
      const to = target(rel, spec);
      if (to !== undefined && layerOf(`${to.replace(/\.js$/, '')}.ts`) === 'native') bad.push(`${rel} → ${spec} (native binding imported eagerly)`);
    }
  }
  for (const spec of importsOf(source)) {
    const to = target(rel, spec);
    const edge = `${rel} → ${spec}`;
    if (to !== undefined && to.startsWith('hw/') && layer !== 'hw') bad.push(`${edge} (hw is beside the core, not in it)`);
    if (layer === 'hw') {
      if (spec === 'koffi') bad.push(`${edge} (FFI outside the native binding)`);
      if (to !== undefined && !/^(hw\/|pq\/(?!noble\/)|errors\.js$|bytes\.js$)/.test(to)) bad.push(`${edge} (hw uses pq's shared code, errors and bytes only)`);
      if (isBuiltin(spec)) bad.push(`${edge} (Node built-in)`);
      continue;
    }
    if (isBuiltin(spec)) bad.push(`${edge} (Node built-in)`);
    if (to !== undefined && /^(node|cli)\//.test(to)) bad.push(`${edge} (adapter or CLI)`);
    if (layer === 'core' || layer === 'testing') {
      const backend = to !== undefined && to.startsWith('pq/noble/');
      const noble = backend || (layer === 'core' && spec.startsWith('@noble/'));
      const allowed = to !== undefined && (NOBLE_ENTRIES.get(rel) ?? []).includes(to);
      if (noble && !allowed) bad.push(`${edge} (noble backend)`);
    }
    if (to !== undefined && rel.startsWith('pq/') && /^(tls13|quic|x509)\//.test(to)) bad.push(`${edge} (pq is below tls13, quic, x509)`);
    if (to !== undefined && rel.startsWith('tls13/') && to.startsWith('quic/')) bad.push(`${edge} (tls13 is below quic)`);
    // HTTP/3 sits on the QUIC connection's stream API; the core below it never knows it is there.
    if (to !== undefined && to.startsWith('http3/') && !rel.startsWith('http3/') && layer === 'core') bad.push(`${edge} (http3 is above the core)`);
  }
  return bad;
}

const all = files(root).map((f) => ({ rel: relative(root, f).split(sep).join('/'), source: readFileSync(f, 'utf8') }));
const nodeFree = all.filter((f) => layerOf(f.rel) !== 'adapter' && layerOf(f.rel) !== 'native');

describe('layering', () => {
  it('the checker sees every import form and every built-in', () => {
    const source = [
      `import a from "fs";`, `import { b } from 'node:net';`, `export * from "../node/socket.js";`, `import 'worker_threads';`,
      `const c = await import('node:test');`, `const d = require("buffer");`, 'const e = import(`fs/promises`);',
      `import f = require('process');`, `function g() { return require('../cli/main.js'); }`,
      `export { createNobleProvider } from '../pq/noble/index.js';`, `import type { KexPart } from '../pq/noble/kex-part.js';`,
      `import { sha256 } from '@noble/hashes/sha2.js';`, `// import h from 'http';`, `const s = "import i from 'https'";`,
    ].join('\n');
    expect(violations('tls13/fake.ts', source).map((v) => v.replace(/^tls13\/fake\.ts → /, ''))).toEqual([
      'fs (Node built-in)', 'node:net (Node built-in)', '../node/socket.js (adapter or CLI)', 'worker_threads (Node built-in)',
      'node:test (Node built-in)', 'buffer (Node built-in)', 'fs/promises (Node built-in)', 'process (Node built-in)',
      '../cli/main.js (adapter or CLI)', '../pq/noble/index.js (noble backend)', '../pq/noble/kex-part.js (noble backend)',
      '@noble/hashes/sha2.js (noble backend)',
    ]);
    // The one allowed entry, and noble itself, may import the backend; adapters may import anything.
    expect(violations('pq/index.ts', `export { createNobleProvider } from './noble/index.js';`)).toEqual([]);
    expect(violations('pq/index.ts', `export { KeyStore } from './noble/keys.js';`)).toEqual(['pq/index.ts → ./noble/keys.js (noble backend)']);
    expect(violations('pq/noble/kex.ts', `import { x25519 } from '@noble/curves/ed25519.js';`)).toEqual([]);
    expect(violations('pq/noble/kex.ts', `import { randomBytes } from 'crypto';`)).toEqual(['pq/noble/kex.ts → crypto (Node built-in)']);
    expect(violations('node/socket.ts', `import { createSocket } from 'node:dgram';`)).toEqual([]);
    // Adapters reach the noble backend only through the pq entry, and may use noble's packages.
    expect(violations('node/crypto/kex.ts', [
      `import { createNobleProvider } from '../../pq/index.js';`, `import { KEX_GROUPS } from '../../pq/kex-groups.js';`,
      `import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';`,
    ].join('\n'))).toEqual([]);
    expect(violations('node/crypto/kex.ts', `import { MLKEM768_PART } from '../../pq/noble/kex-mlkem.js';`))
      .toEqual(['node/crypto/kex.ts → ../../pq/noble/kex-mlkem.js (noble backend; use src/pq or pq/index.js)']);
    expect(violations('cli/tls.ts', `import { createNobleProvider } from '../pq/noble/index.js';`))
      .toEqual(['cli/tls.ts → ../pq/noble/index.js (noble backend; use src/pq or pq/index.js)']);
    // hw: beside the core, on pq's shared code and @noble; Node and koffi only in the lazily loaded native binding.
    expect(violations('hw/quac100/emulated.ts', [
      `import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';`, `import { systemRandom } from '../../pq/random.js';`,
      `import { QuacError } from './device.js';`, `import { concat } from '../../bytes.js';`, `const n = await import('./native.js');`,
    ].join('\n'))).toEqual([]);
    expect(violations('hw/quac100/emulated.ts', [
      `import { NativeQuac100 } from './native.js';`, `export * from './native-loader.js';`, `import koffi from 'koffi';`, `import { x } from 'node:fs';`,
      `import { mlDsaSign } from '../../pq/noble/mldsa.js';`, `import { Connection } from '../../tls13/connection.js';`, `import { main } from '../../cli/main.js';`,
    ].join('\n')).map((v) => v.replace(/^hw\/quac100\/emulated\.ts → /, ''))).toEqual([
      './native.js (native binding imported eagerly)', './native-loader.js (native binding imported eagerly)',
      'koffi (FFI outside the native binding)', 'node:fs (Node built-in)',
      "../../pq/noble/mldsa.js (hw uses pq's shared code, errors and bytes only)",
      "../../tls13/connection.js (hw uses pq's shared code, errors and bytes only)",
      "../../cli/main.js (hw uses pq's shared code, errors and bytes only)",
    ]);
    expect(violations('hw/quac100/native.ts', `import koffi from 'koffi';\nimport { dlopen } from 'node:process';`)).toEqual([]);
    // http3 is a layer over quic, tls13 and pq that no core module imports; it is as Node-free as the core.
    expect(violations('http3/connection.ts', `import type { QuicConnection } from '../quic/connection/connection.js';\nimport { concat } from '../bytes.js';`)).toEqual([]);
    expect(violations('quic/connection/connection.ts', `import { Http3Connection } from '../../http3/connection.js';`))
      .toEqual(['quic/connection/connection.ts → ../../http3/connection.js (http3 is above the core)']);
    expect(violations('http3/frames.ts', `import { createSocket } from 'node:dgram';`)).toEqual(['http3/frames.ts → node:dgram (Node built-in)']);
    expect(violations('cli/quic.ts', `import { HqConnection } from '../http3/hq.js';`)).toEqual([]);
    expect(violations('tls13/connection.ts', `import { QuacError } from '../hw/quac100/device.js';`)).toEqual([
      'tls13/connection.ts → ../hw/quac100/device.js (hw is beside the core, not in it)',
    ]);
  });

  it('the core and the noble backend import no Node built-in, adapter or CLI; the core no noble beyond its entry', () => {
    expect(nodeFree.length).toBeGreaterThan(50);
    expect(nodeFree.flatMap((f) => violations(f.rel, f.source))).toEqual([]);
  });

  // The import graph above stops at package names; a bundler does not. Each entry a browser or a Worker
  // may load is bundled the way a browser bundler resolves it (the browser condition, no Node
  // built-in provided): a `node:*` or bare built-in anywhere below it, in @noble's packages
  // included, fails the build. pqtls/node is the control: it must fail.
  const BROWSER_ENTRIES = ['index.ts', 'pq/index.ts', 'tls13/index.ts', 'quic/index.ts', 'x509/index.ts', 'testing/index.ts', 'transport/index.ts', 'node/unavailable.ts'];
  const bundleForBrowser = (entry: string) => build({
    entryPoints: [join(root, entry)], bundle: true, write: false, format: 'esm', platform: 'neutral', mainFields: ['module', 'main'],
    conditions: ['browser'], metafile: true, logLevel: 'silent',
  });

  it.each(BROWSER_ENTRIES)('src/%s bundles for a browser with no Node built-in in its whole graph, dependencies included', async (entry) => {
    const r = await bundleForBrowser(entry);
    const inputs = Object.keys(r.metafile.inputs);
    expect(inputs.filter((i) => isBuiltin(i) || i.startsWith('node:'))).toEqual([]);
    // The walk goes into packages: the entries that carry the noble provider reach @noble's files.
    if (['index.ts', 'pq/index.ts', 'testing/index.ts'].includes(entry)) expect(inputs.some((i) => i.includes('node_modules/@noble/'))).toBe(true);
  }, 60_000);

  it('the control: src/node/index.ts does not bundle without Node built-ins', async () => {
    await expect(bundleForBrowser('node/index.ts')).rejects.toThrow(/node:/);
  }, 60_000);

  it('the adapters and the node:crypto backend import the noble backend only through src/pq/index.js', () => {
    const adapters = all.filter((f) => layerOf(f.rel) === 'adapter');
    expect(adapters.length).toBeGreaterThan(10);
    expect(adapters.flatMap((f) => violations(f.rel, f.source))).toEqual([]);
  });

  it('nothing in src but src/testing imports src/testing: test support stays out of the shipped code paths', () => {
    const bad = all.flatMap((f) =>
      f.rel.startsWith('testing/') ? [] : importsOf(f.source).filter((i) => /(^|\/)testing\//.test(i)).map((i) => `${f.rel} → ${i}`));
    expect(bad).toEqual([]);
  });

  it('the core never reads a clock or Math.random (hw: only the emulated card’s real-time clock does)', () => {
    const bad = nodeFree.filter((f) => f.rel !== 'hw/quac100/clock.ts' && /Date\.now\(|Math\.random\(|performance\.now\(|setTimeout\(|setInterval\(/.test(f.source));
    expect(bad.map((f) => f.rel)).toEqual([]);
  });
});
