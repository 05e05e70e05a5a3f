/**
 * The QUAC 100 known-answer self-test digests (test-vectors/quac100/kat-digests.json,
 * compared by every emulated card at FIPS start-up) against an independent
 * FIPS 203 / FIPS 204 implementation: OpenSSL 3.5 derives the same keys from
 * the same seeds (ML-KEM.KeyGen_internal from d ‖ z, ML-DSA.KeyGen_internal
 * from ξ), decapsulates the KAT ciphertext and its tampered twin to the same
 * secrets (FIPS 203 Algorithm 18, implicit rejection included), and signs the
 * KAT message deterministically (FIPS 204 Algorithm 2 with rnd = 0³²) to the
 * same signature.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256 } from '@noble/hashes/sha2.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { interopDisabled, requirePeer, runPeer } from '../helpers/peers.js';
import { toHex } from '../../src/bytes.js';
import { KAT_DIGESTS, KAT_INPUTS, KEM_IMPL } from '../../src/hw/quac100/self-test.js';
import { QuacAlgorithm } from '../../src/hw/quac100/device.js';
import { quacKem, quacSign } from '../../src/hw/quac100/algorithms.js';

const digest = (b: Uint8Array): string => toHex(sha256(b));

describe.runIf(!interopDisabled)('QUAC 100 KAT digests agree with OpenSSL 3.5', () => {
  let dir = '';
  beforeAll(() => {
    requirePeer('openssl');
    dir = mkdtempSync(join(tmpdir(), 'pqtls-quac-kat-'));
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function openssl(args: string[]): Promise<void> {
    const r = await runPeer('openssl', args);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  }

  /** The raw public key: the BIT STRING content ending the SubjectPublicKeyInfo. */
  async function publicKey(key: string, length: number): Promise<Uint8Array> {
    const der = join(dir, 'pub.der');
    await openssl(['pkey', '-in', key, '-pubout', '-outform', 'DER', '-out', der]);
    return new Uint8Array(readFileSync(der)).subarray(-length);
  }

  for (const alg of [QuacAlgorithm.KYBER512, QuacAlgorithm.KYBER768, QuacAlgorithm.KYBER1024]) {
    const p = quacKem(alg)!;
    it(`${p.name}: public key from d ‖ z, shared secret and implicit-rejection secret`, async () => {
      const key = join(dir, `${p.name}.pem`);
      await openssl(['genpkey', '-algorithm', p.name, '-pkeyopt', `hexseed:${toHex(KAT_INPUTS.kemSeed)}`, '-out', key]);
      const pk = await publicKey(key, p.publicKey);
      const want = KAT_DIGESTS.kem[alg]!;
      expect(digest(pk)).toBe(want.pk);
      // The ciphertext is noble's from m (OpenSSL takes no m); its digest is the committed one.
      const { cipherText } = KEM_IMPL.get(alg)!.encapsulate(pk, KAT_INPUTS.kemMessage);
      expect(digest(cipherText)).toBe(want.ct);
      const tampered = cipherText.slice();
      tampered[0] = (tampered[0] as number) ^ 1;
      for (const [ct, expected] of [[cipherText, want.ss], [tampered, want.ssRejected]] as const) {
        writeFileSync(join(dir, 'ct'), ct);
        await openssl(['pkeyutl', '-decap', '-inkey', key, '-in', join(dir, 'ct'), '-secret', join(dir, 'ss')]);
        expect(digest(new Uint8Array(readFileSync(join(dir, 'ss'))))).toBe(expected);
      }
    });
  }

  for (const alg of [QuacAlgorithm.DILITHIUM2, QuacAlgorithm.DILITHIUM3, QuacAlgorithm.DILITHIUM5]) {
    const p = quacSign(alg)!;
    it(`${p.name}: public key from ξ and the deterministic signature`, async () => {
      const key = join(dir, `${p.name}.pem`);
      await openssl(['genpkey', '-algorithm', p.name, '-pkeyopt', `hexseed:${toHex(KAT_INPUTS.dsaSeed)}`, '-out', key]);
      expect(digest(await publicKey(key, p.publicKey))).toBe(KAT_DIGESTS.dsa[alg]!.pk);
      writeFileSync(join(dir, 'msg'), KAT_INPUTS.dsaMessage);
      await openssl(['pkeyutl', '-sign', '-rawin', '-inkey', key, '-in', join(dir, 'msg'), '-pkeyopt', 'deterministic:1', '-out', join(dir, 'sig')]);
      expect(digest(new Uint8Array(readFileSync(join(dir, 'sig'))))).toBe(KAT_DIGESTS.dsa[alg]!.sig);
    });
  }
});
