import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

// DEVELOPERS.md: the core is sans-IO and runs in every runtime; imports flow one way.
const root = new URL('../src/', import.meta.url).pathname;

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

function imports(file: string): string[] {
  const src = readFileSync(file, 'utf8');
  return [...src.matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)].map((m) => m[1] as string);
}

/** Everything but the adapters (src/node) and the CLI (src/cli). */
const core = files(root).filter((f) => !/^(node|cli)\//.test(relative(root, f)));

describe('layering', () => {
  it('the core imports no node:* module, adapter or CLI', () => {
    const bad = core.flatMap((f) => imports(f).filter((i) => i.startsWith('node:') || /\/(node|cli)\//.test(i) || i === 'fs' || i === 'net').map((i) => `${relative(root, f)} → ${i}`));
    expect(bad).toEqual([]);
  });

  it('pq imports nothing from tls13, quic or x509; tls13 nothing from quic', () => {
    const bad = core.flatMap((f) => {
      const rel = relative(root, f);
      return imports(f)
        .filter((i) => (rel.startsWith('pq/') && /\/(tls13|quic|x509)\//.test(i)) || (rel.startsWith('tls13/') && /\/quic\//.test(i)))
        .map((i) => `${rel} → ${i}`);
    });
    expect(bad).toEqual([]);
  });

  it('nothing in src but src/testing imports src/testing: test support stays out of the shipped code paths', () => {
    const bad = files(root).flatMap((f) => {
      const rel = relative(root, f);
      return rel.startsWith('testing/') ? [] : imports(f).filter((i) => /(^|\/)testing\//.test(i)).map((i) => `${rel} → ${i}`);
    });
    expect(bad).toEqual([]);
  });

  it('the core never reads a clock or Math.random', () => {
    const bad = core.filter((f) => /Date\.now\(|Math\.random\(|performance\.now\(|setTimeout\(|setInterval\(/.test(readFileSync(f, 'utf8')));
    expect(bad.map((f) => relative(root, f))).toEqual([]);
  });
});
