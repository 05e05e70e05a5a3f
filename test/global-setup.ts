/**
 * vitest global setup: installs the interop peers once, in the main process,
 * before any test worker starts (a no-op of about half a second when they are
 * already there). This is what makes a plain `npm test` — and CI's — work on a
 * fresh clone. An install that fails stops the run here with the installer's
 * own error; `PQTLS_SKIP_INTEROP=1` skips the interop peers and `PQTLS_SKIP_RUNTIMES=1` the
 * runtimes of the runtime matrix (Deno, Bun, workerd, Chromium), loudly.
 */
import {
  INTEROP_INSTALL_NAMES, RUNTIME_NAMES, installErrors, installHint, interopSkipRequested, peersBinDir, runInstallerLive,
  runtimesSkipRequested, testRunId,
} from './helpers/peer-install.js';

export async function setup(): Promise<void> {
  if (interopSkipRequested) {
    console.warn('\n*** PQTLS_SKIP_INTEROP=1: interop peers not installed, interop suites will be SKIPPED ***\n');
  }
  if (runtimesSkipRequested) {
    console.warn('\n*** PQTLS_SKIP_RUNTIMES=1: Deno, Bun, workerd and Chromium not installed, the runtime matrix will be SKIPPED ***\n');
  }
  // The runtime matrix runs Node 24 too, so it needs the node24 peer even when the interop suites are skipped.
  const names = [
    ...(interopSkipRequested ? [] : INTEROP_INSTALL_NAMES),
    ...(runtimesSkipRequested ? [] : [...(interopSkipRequested ? ['node24', 'openssl'] : []), ...RUNTIME_NAMES]),
  ];
  if (names.length === 0) return;
  testRunId(); // fixed now, in the environment the workers inherit
  const started = Date.now();
  const result = await runInstallerLive(names);
  if (!result.ok) {
    throw new Error(`interop peers or runtimes could not be installed into ${peersBinDir}:\n${installErrors(result.log)}\n` +
      `To fix: ${installHint} (PQTLS_SKIP_RUNTIMES=1 skips the runtime matrix).`);
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`interop peers and runtimes ready in ${peersBinDir} (${seconds} s): ${names.join(' ')}`);
}
