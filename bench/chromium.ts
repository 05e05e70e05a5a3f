/**
 * Headless Chromium (Debian's, from scripts/install-peers.sh): full X25519MLKEM768 + ML-DSA-65
 * handshakes per second (client and server both in the page, the chain checked by
 * webPkiVerifier) and AES-128-GCM MB/s through the provider, per provider, in one page loading the
 * packed package as ES modules (test/runtimes/harness.ts builds and installs it as the matrix does).
 *
 * Run alone: node --import tsx bench/chromium.ts
 */
import { copyFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { inChromium, installProject, packPackage, serveStatic, workDir } from '../test/runtimes/harness.js';

interface Row { provider: string; handshakesPerSecond: number; aesGcmMBps: number }

export async function run(): Promise<string> {
  const work = workDir();
  try {
    const project = await installProject(await packPackage(work), work);
    copyFileSync(new URL('./chromium-page.mjs', import.meta.url), join(project, 'bench.mjs'));
    const { server, port } = await serveStatic(project);
    try {
      const r = await inChromium<{ userAgent: string; rows: Row[] }>(`http://127.0.0.1:${port}/`,
        `window.matrixResults.then(() => import('./bench.mjs')).then((m) => m.runBench(5))`, 600_000);
      return [
        `${r.userAgent.replace(/^.*(HeadlessChrome\/\S+).*$/, '$1')}, 5 s per figure, the page's own clock`,
        '',
        '| provider | handshakes/s (both sides, X25519MLKEM768 + ML-DSA-65) | AES-128-GCM MB/s (16 KiB records) |',
        '| --- | ---: | ---: |',
        ...r.rows.map((x) => `| ${x.provider} | ${x.handshakesPerSecond.toFixed(1)} | ${x.aesGcmMBps.toFixed(1)} |`),
      ].join('\n');
    } finally {
      server.close();
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) console.log(await run());
