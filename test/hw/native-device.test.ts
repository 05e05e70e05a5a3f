/**
 * NativeQuac100 (koffi) end to end: gcc builds test/hw/libquac100-double.c —
 * libquac100.so with the ABI of src/hw/quac100/quac100.h, computed by the
 * interop peers' OpenSSL 3.5 — and NativeQuac100 drives it through koffi:
 * every function, cross-checked against noble's FIPS 203 / FIPS 204, then
 * the shared device conformance suite (device-conformance.ts), then the
 * whole provider suite (provider-conformance.ts: every group, every ML-DSA
 * scheme, device-held keys, FIPS) and the Wycheproof ML-KEM / ML-DSA suite
 * (wycheproof-conformance.ts) with the QUAC provider on the double.
 *
 * That libcrypto needs a newer glibc than Debian 12's, so this file runs
 * twice (native-double.ts says why): in the vitest worker it builds the
 * double and starts a second vitest on this same file, in a Node started by
 * trixie's loader, with PQTLS_QUAC_DOUBLE naming the library; there the
 * native suite runs. The outer test passes only if the inner run ran every
 * test of that suite and all of them passed.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { nativeQuacLibrary } from '../../src/hw/quac100/native.js';
import { repoRoot } from '../helpers/peer-install.js';
import { interopDisabled, requirePeer, runPeer } from '../helpers/peers.js';
import { realClock } from '../../src/hw/quac100/clock.js';
import { deviceConformance } from './device-conformance.js';
import { buildDouble, trixieNode, trixieTree } from './native-double.js';
import { nativeDeviceSuite } from './native-suite.js';
import { providerConformance } from './provider-conformance.js';
import type { MakeCards } from './quac-fixture.js';
import { wycheproofConformance } from './wycheproof-conformance.js';

const innerLibrary = process.env['PQTLS_QUAC_DOUBLE'];

if (innerLibrary !== undefined) {
  nativeDeviceSuite(innerLibrary);
  deviceConformance('NativeQuac100 over koffi, OpenSSL 3.5 double', () => nativeQuacLibrary({ library: innerLibrary }));
  // A real library in real time: its randomness is its own (OpenSSL's DRBG), so the seed goes unused.
  const nativeCards: MakeCards = () => ({ library: nativeQuacLibrary({ library: innerLibrary }), clock: realClock });
  providerConformance('NativeQuac100 over koffi, OpenSSL 3.5 double', nativeCards);
  wycheproofConformance('NativeQuac100 over koffi, OpenSSL 3.5 double', nativeCards);
} else {
  describe('NativeQuac100 without a usable library', () => {
    it('a library path that does not exist is a ConfigError naming the path and how to set it', async () => {
      const lib = nativeQuacLibrary({ library: '/nonexistent/libquac100.so' });
      const e = await lib.init({}).then(() => undefined, (err: unknown) => err);
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as Error).message).toContain('/nonexistent/libquac100.so');
      expect((e as Error).message).toContain('QUAC100_LIBRARY');
    });

    it('without the option, QUAC100_LIBRARY names the library', async () => {
      const saved = process.env['QUAC100_LIBRARY'];
      process.env['QUAC100_LIBRARY'] = '/nonexistent/from-env/libquac100.so';
      try {
        await expect(nativeQuacLibrary().deviceCount()).rejects.toThrow('/nonexistent/from-env/libquac100.so');
      } finally {
        if (saved === undefined) delete process.env['QUAC100_LIBRARY'];
        else process.env['QUAC100_LIBRARY'] = saved;
      }
    });
  });

  describe.runIf(!interopDisabled)('NativeQuac100 over koffi against libquac100.so built on OpenSSL 3.5', () => {
    let built: string | undefined;
    afterAll(() => {
      if (built !== undefined) rmSync(dirname(built), { recursive: true, force: true });
    });

    it('passes every test of the native suite in a Node that can load the double', async () => {
      requirePeer('openssl'); // trixie's libcrypto and loader
      requirePeer('openssl-quic-server'); // trixie's libssl-dev: the OpenSSL 3.5 headers
      const tree = trixieTree();
      built = buildDouble(tree);

      const report = join(mkdtempSync(join(tmpdir(), 'pqtls-quac100-report-')), 'report.json');
      // Threads, not forks: under the loader, process.execPath is ld-linux, which a forked worker cannot run as Node.
      const vitest = join(repoRoot, 'node_modules', 'vitest', 'vitest.mjs');
      const { command, args } = trixieNode(tree, [
        vitest, 'run', 'test/hw/native-device.test.ts', '--pool=threads', '--reporter=json', `--outputFile=${report}`,
      ]);
      const exit = await runPeer(command, args, {
        cwd: repoRoot,
        env: { PQTLS_QUAC_DOUBLE: built },
        timeoutMs: 180_000,
      });
      const output = `${exit.stdout}\n${exit.stderr}`;
      let results: { numTotalTests: number; numPassedTests: number; testResults: { assertionResults: { title: string; status: string; failureMessages: string[] }[] }[] };
      try {
        results = JSON.parse(readFileSync(report, 'utf8')) as typeof results;
      } catch {
        throw new Error(`the inner vitest run left no report (exit ${exit.code}):\n${output.slice(-4000)}`);
      } finally {
        rmSync(dirname(report), { recursive: true, force: true });
      }
      const tests = results.testResults.flatMap((f) => f.assertionResults);
      const failed = tests.filter((t) => t.status !== 'passed');
      expect(failed.map((t) => `${t.title}: ${t.status}\n${t.failureMessages.join('\n')}`), output.slice(-4000)).toEqual([]);
      expect(exit.code).toBe(0);
      // The inner run is the native suite, all of it: its tests, by name, not a count that an empty run could meet.
      const titles = tests.map((t) => t.title);
      for (const expected of [
        'quac_kem_encaps / quac_kem_decaps: both sides agree; a public key of the wrong length is INVALID_PARAMETER',
        "FIPS 203 cross-check: the double decapsulates noble's ciphertexts, noble decapsulates the double's",
        'quac_sign_keygen_stored / quac_sign_stored / quac_verify: pure ML-DSA-65 that noble verifies, context included',
        'quac_batch_execute: every kind of item, a result per item, one failure does not fail the others',
        "calls run on koffi's worker threads: the event loop turns while the card works",
        'a persistent key outlives quac_close and quac_shutdown; a session key goes with its device',
        // the shared device conformance suite (test/hw/device-conformance.ts), run by the emulator's tests too
        'ML-KEM-768 (FIPS 203): device keygen, encaps and decaps agree with noble both ways',
        'ML-DSA-65 (FIPS 204): stored-key signatures verify with noble, hedged and deterministic, with a context',
        'FIPS mode does not use a stored key generated outside it',
        // the provider suite (test/hw/provider-conformance.ts) with the QUAC provider on the double
        'X25519MLKEM768: QUAC server (device ML-DSA key) ↔ noble client, then QUAC client ↔ noble server',
        'SecP384r1MLKEM1024: QUAC server (device ML-DSA key) ↔ noble client, then QUAC client ↔ noble server',
        'MLKEM512: QUAC server (device ML-DSA key) ↔ noble client, then QUAC client ↔ noble server',
        "ml-dsa-87: a card-held key signs the server CertificateVerify (draft-ietf-tls-mldsa) over X25519MLKEM768; the card verifies a noble server's",
        'ml-dsa-44: generateKeyPair makes a stored, non-extractable key; it signs on the card, verifies anywhere, and export is refused',
        'QUIC (RFC 9001): a QUAC server with a device-held ML-DSA key completes a handshake with a noble client; AEAD and header protection run in software',
        'FIPS mode: the card self-tests, non-approved algorithms are refused, and a SecP256r1MLKEM768 handshake with a device key completes',
        // the Wycheproof suite (test/hw/wycheproof-conformance.ts)
        'mlkem_512_test.json', 'mlkem_768_test.json', 'mlkem_1024_test.json',
        "mlkem_768_semi_expanded_decaps_test.json: a bad ciphertext length is the peer's illegal_parameter, a bad key our internal_error",
        'mldsa_44_verify_test.json', 'mldsa_65_verify_test.json', 'mldsa_87_verify_test.json',
      ]) {
        expect(titles).toContain(expected);
      }
      expect(results.numPassedTests).toBe(results.numTotalTests);
      // 42 native and device-conformance tests, 18 provider, 7 Wycheproof.
      expect(results.numTotalTests).toBeGreaterThanOrEqual(67);
    }, 240_000);
  });
}
