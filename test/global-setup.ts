/**
 * vitest global setup: installs the interop peers once, in the main process,
 * before any test worker starts (a no-op of about half a second when they are
 * already there). This is what makes a plain `npm test` — and CI's — work on a
 * fresh clone. An install that fails stops the run here with the installer's
 * own error; `PQTLS_SKIP_INTEROP=1` skips it, loudly.
 */
import { installErrors, installHint, interopSkipRequested, peersBinDir, runInstallerLive, testRunId } from './helpers/peer-install.js';

export async function setup(): Promise<void> {
  if (interopSkipRequested) {
    console.warn('\n*** PQTLS_SKIP_INTEROP=1: interop peers not installed, interop suites will be SKIPPED ***\n');
    return;
  }
  testRunId(); // fixed now, in the environment the workers inherit
  const started = Date.now();
  const result = await runInstallerLive();
  if (!result.ok) {
    throw new Error(`interop peers could not be installed into ${peersBinDir}:\n${installErrors(result.log)}\nTo fix: ${installHint}.`);
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`interop peers ready in ${peersBinDir} (${seconds} s)`);
}
