/**
 * `npm run bench`: runs every benchmark module in turn and prints its markdown.
 * `npm run bench -- pq-provider tls` runs only the modules whose names contain
 * one of the words given.
 *
 * A module is a file `bench/NAME.ts` exporting `run(): Promise<string>`; to add
 * one, add its name to MODULES. Modules run one after another, never in
 * parallel, so that each has the machine to itself.
 */
import { existsSync } from 'node:fs';

const MODULES: readonly string[] = [
  'pq-provider',
  'node-provider',
  'webcrypto-provider',
  'quic-protection',
  'quic-loopback',
  'quic-transfer',
  'quic-receive',
  'tls-handshake',
  'tls-resumption',
  'tls-native',
  'adversarial',
  'slh-dsa',
  'quac',
  'chromium',
];

type Bench = () => Promise<string>;

async function load(name: string): Promise<Bench> {
  const file = new URL(`./${name}.ts`, import.meta.url);
  if (!existsSync(file)) throw new Error(`bench/${name}.ts is listed in bench/index.ts but does not exist`);
  const mod: unknown = await import(file.href);
  const run: unknown = typeof mod === 'object' && mod !== null ? (mod as { run?: unknown }).run : undefined;
  if (typeof run !== 'function') throw new Error(`bench/${name}.ts does not export run(): Promise<string>`);
  return async () => {
    const out: unknown = await run();
    if (typeof out !== 'string') throw new Error(`bench/${name}.ts run() resolved to ${typeof out}, not markdown`);
    return out;
  };
}

async function main(filters: readonly string[]): Promise<number> {
  const chosen = MODULES.filter((m) => filters.length === 0 || filters.some((f) => m.includes(f)));
  if (chosen.length === 0) {
    console.error(`no benchmark matches ${filters.join(', ')}; modules: ${MODULES.join(', ')}`);
    return 2;
  }
  const started = performance.now();
  console.log(`# pqtls benchmarks\n\nNode ${process.versions.node}, ${process.platform}/${process.arch}, ${new Date().toISOString()}`);
  let failed = 0;
  for (const name of chosen) {
    const t0 = performance.now();
    console.log(`\n## ${name}\n`);
    try {
      const run = await load(name);
      console.log(await run());
    } catch (e) {
      // One broken module must not hide the others' figures; the exit code still says so.
      failed++;
      console.log(`**failed:** ${e instanceof Error ? e.message : String(e)}`);
      console.error(e);
    }
    console.log(`\n_${name}: ${((performance.now() - t0) / 1000).toFixed(0)} s_`);
  }
  console.log(`\n_all: ${((performance.now() - started) / 1000).toFixed(0)} s_`);
  return failed === 0 ? 0 : 1;
}

process.exitCode = await main(process.argv.slice(2));
