/**
 * The node:crypto provider's tests again, under Node 24 (the interop peer
 * `node24`, OpenSSL 3.5 inside), where ML-KEM and ML-DSA run on OpenSSL and
 * the AEADs on that OpenSSL through koffi (openssl-ffi.test.ts):
 * the suite's own Node is 20, whose OpenSSL 3.0 has neither, so without this
 * run the native post-quantum path would only ever be benchmarked. With them,
 * the TLS client's reads through one reused buffer (adapter-socket-reader.test.ts):
 * they rest on `net.connect`'s `onread`, which is Node's own, on 24 as on 20.
 *
 * A second vitest runs the files below in node24 with
 * PQTLS_EXPECT_NATIVE_PQ=1 (native-pq.test.ts then fails unless both are
 * detected); this test passes only if that run ran every named test and all
 * of them passed.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/peer-install.js';
import { interopDisabled, requirePeer, runPeer } from '../helpers/peers.js';

const FILES = [
  'test/node/native-pq.test.ts', 'test/node/crypto-provider.test.ts', 'test/node/wycheproof-node.test.ts', 'test/tls13/record-fast-path.test.ts',
  'test/node/openssl-ffi.test.ts', 'test/node/openssl-pkey.test.ts', 'test/node/adapter-socket-reader.test.ts',
];

describe.runIf(!interopDisabled)('the node:crypto provider under Node 24 (native ML-KEM and ML-DSA)', () => {
  it('passes native-pq, crypto-provider, wycheproof-node, openssl-ffi, openssl-pkey, the record fast paths and the client\'s reused read buffer with both algorithms detected', async () => {
    const node24 = requirePeer('node24');
    const report = join(mkdtempSync(join(tmpdir(), 'pqtls-node24-report-')), 'report.json');
    const vitest = join(repoRoot, 'node_modules', 'vitest', 'vitest.mjs');
    // The inner run needs no peers; PQTLS_SKIP_INTEROP keeps its global setup from checking them again.
    const exit = await runPeer(node24, [vitest, 'run', ...FILES, '--reporter=json', `--outputFile=${report}`], {
      cwd: repoRoot,
      env: { PQTLS_EXPECT_NATIVE_PQ: '1', PQTLS_SKIP_INTEROP: '1' },
      timeoutMs: 240_000,
    });
    const output = `${exit.stdout}\n${exit.stderr}`;
    type Report = { testResults: { name: string; assertionResults: { fullName: string; status: string; failureMessages: string[] }[] }[] };
    let results: Report;
    try {
      results = JSON.parse(readFileSync(report, 'utf8')) as Report;
    } catch {
      throw new Error(`the Node 24 vitest run left no report (exit ${exit.code}):\n${output.slice(-4000)}`);
    } finally {
      rmSync(dirname(report), { recursive: true, force: true });
    }
    const tests = results.testResults.flatMap((f) => f.assertionResults);
    expect(tests.filter((t) => t.status !== 'passed').map((t) => `${t.fullName}: ${t.status}\n${t.failureMessages.join('\n')}`), output.slice(-4000)).toEqual([]);
    expect(exit.code).toBe(0);
    expect(results.testResults.map((f) => relative(repoRoot, f.name)).sort()).toEqual([...FILES].sort());
    // The native cases by name: a run where detection failed would skip them, not fail them.
    const names = tests.map((t) => t.fullName);
    for (const expected of [
      'detecting ML-KEM and ML-DSA in node:crypto finds them exactly where the runtime has them',
      'ML-KEM on node:crypto (FIPS 203, draft-ietf-tls-mlkem, draft-ietf-tls-ecdhe-mlkem) X25519MLKEM768: seeded shares are noble\'s; secrets agree both ways',
      'ML-KEM on node:crypto (FIPS 203, draft-ietf-tls-mlkem, draft-ietf-tls-ecdhe-mlkem) Wycheproof mlkem_768_test.json: keygen from the seed and decapsulation through the provider',
      'ML-DSA on node:crypto (FIPS 204, draft-ietf-tls-mldsa: pure, empty context) ml-dsa-65: seeded keys are noble\'s; each verifies the other\'s signatures',
      'ML-DSA on node:crypto (FIPS 204, draft-ietf-tls-mldsa: pure, empty context) Wycheproof mldsa_87_verify_test.json through the native verifier',
      'a TLS 1.3 handshake with ML-KEM and ML-DSA on OpenSSL native both sides: X25519MLKEM768 and an ML-DSA-65 certificate key',
      // The AEADs on OpenSSL 3.5 through koffi (openssl-ffi.test.ts fails its first case where the binding is unavailable).
      'binding the process\'s OpenSSL through koffi is available on this runtime (koffi installed, libcrypto\'s symbols exported by node) and passed its self-test',
      'Wycheproof through the FFI keys: in place, at an offset, and on reused contexts aes_gcm_test.json',
      // X25519, ML-KEM and ML-DSA on OpenSSL 3.5's EVP_PKEY API through koffi (openssl-pkey.test.ts).
      'binding OpenSSL\'s EVP_PKEY API through koffi is available exactly where OpenSSL has ML-KEM and ML-DSA (3.5: Node 24), and passed its self-test there',
      'X25519, ML-KEM and ML-DSA on OpenSSL through koffi ML-KEM-768, Wycheproof mlkem_*_test.json: keygen from the seed gives the encapsulation key and decapsulation the secret, byte for byte',
      'X25519, ML-KEM and ML-DSA on OpenSSL through koffi ml-dsa-65, Wycheproof verify and sign-from-seed vectors (empty context): the same verdicts, and the deterministic signatures',
      'the node provider on the EVP_PKEY binding X25519MLKEM768: both halves of a key share are OpenSSL keys, freed when the share completes; ffi: false keeps node:crypto',
      // The client's read path through onread on Node 24's net.
      'connect() reads into one buffer of its own 8 MiB from the server arrive intact with no data event on the TCP socket; every chunk the application kept is still right at the end',
    ]) expect(names).toContain(expected);
    // The inner run's own bound (runPeer's timeoutMs above): on a loaded machine it outlasts the default test timeout.
  }, 250_000);
});
