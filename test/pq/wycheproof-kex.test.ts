/**
 * Wycheproof vectors for the key exchanges, driven through the CryptoProvider
 * interface: private keys, ML-KEM seeds and encapsulation randomness are
 * injected with scriptedRandom, which is exactly how the noble backend consumes
 * randomness (see src/pq/kex-groups.ts).
 *
 * Cases the public interface cannot express, and so are driven through the
 * internal functions of src/pq/mlkem.ts, on noble's ML-KEM as the noble backend plugs it in:
 * - mlkem_*_test.json "Private key too short/long": a seed that is not 64 bytes
 *   (a RandomSource always returns the length asked for);
 * - mlkem_768_keygen_seed_test.json: the decapsulation key `dk` (a KeyShare
 *   keeps it behind an opaque ref; `ek`, the share, goes through the provider);
 * - mlkem_768_semi_expanded_decaps_test.json: decapsulation with a given `dk`.
 *
 * Every case is asserted: valid → exact shared secret; invalid → rejected with
 * the alert TLS requires. "acceptable" cases are decided as TLS 1.3 demands:
 * - X25519 with ZeroSharedSecret → illegal_parameter (RFC 8446 §7.4.2 makes the
 *   all-zero check mandatory); other acceptable X25519 cases (twist points,
 *   non-canonical u) → accepted with the expected secret (RFC 7748 §5: "MUST accept
 *   non-canonical values").
 * - NIST curves, CompressedPublic → illegal_parameter (RFC 8446 §4.2.8.2 allows
 *   only the uncompressed form).
 */
import { ml_kem1024, ml_kem512, ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../src/bytes.js';
import { AlertDescription, PqtlsError } from '../../src/errors.js';
import { NamedGroup } from '../../src/pq/ids.js';
import { createNobleProvider } from '../../src/pq/noble/index.js';
import { mlKemParams, mlkemDecapsulate, mlkemKeygen, type MlKemParams } from '../../src/pq/mlkem.js';
import { type RandomSource } from '../../src/pq/random.js';
import { scriptedRandom } from '../../src/testing/index.js';
import { loadWycheproof, str, type WycheproofFile, type WycheproofTest } from '../helpers/wycheproof.js';

const ML_KEM_512 = mlKemParams('ML-KEM-512', ml_kem512);
const ML_KEM_768 = mlKemParams('ML-KEM-768', ml_kem768);
const ML_KEM_1024 = mlKemParams('ML-KEM-1024', ml_kem1024);

/** One provider for the file; each case scripts the bytes it will draw. */
let script: RandomSource = scriptedRandom([]);
const provider = createNobleProvider({ random: (n) => script(n) });
function kex(group: NamedGroup, chunks: readonly Uint8Array[]) {
  script = scriptedRandom(chunks);
  return provider.keyExchange(group);
}

type Outcome = { secret: string } | { alert: number };

/** Runs `f`, turning a PqtlsError into its alert; anything else is a test failure. */
async function outcome(f: () => Promise<Uint8Array | string>): Promise<Outcome> {
  try {
    const r = await f();
    return { secret: typeof r === 'string' ? r : toHex(r) };
  } catch (e) {
    if (e instanceof PqtlsError) return { alert: e.alert };
    throw e;
  }
}

const illegal: Outcome = { alert: AlertDescription.illegal_parameter };
const internal: Outcome = { alert: AlertDescription.internal_error };

/**
 * Checks every case of a file, collecting mismatches so one run reports them all,
 * and checks that no case was skipped.
 */
async function checkAll(
  file: WycheproofFile,
  expected: (t: WycheproofTest) => Outcome,
  actual: (t: WycheproofTest) => Promise<Outcome | readonly Outcome[]>,
): Promise<void> {
  const mismatches: string[] = [];
  let ran = 0;
  for (const group of file.testGroups) {
    for (const t of group.tests) {
      ran++;
      const want = expected(t);
      const got = await actual(t);
      for (const g of Array.isArray(got) ? got : [got]) {
        if (JSON.stringify(g) !== JSON.stringify(want)) {
          mismatches.push(`tcId ${t.tcId} (${t.result}, ${t.comment}): want ${JSON.stringify(want)}, got ${JSON.stringify(g)}`);
        }
      }
    }
  }
  expect(mismatches).toEqual([]);
  expect(ran).toBe(file.numberOfTests);
}

/** Wycheproof writes scalars as big-endian integers, sometimes with a sign byte or short. */
function scalarBytes(hex: string, length: number): Uint8Array {
  return fromHex(BigInt(`0x${hex || '0'}`).toString(16).padStart(2 * length, '0'));
}

describe('Wycheproof key exchange through the provider', () => {
  it('x25519_test.json (RFC 7748, RFC 8446 §7.4.2)', async () => {
    const file = loadWycheproof('x25519_test.json');
    await checkAll(
      file,
      (t) => (t.result === 'invalid' || t.flags.includes('ZeroSharedSecret') ? illegal : { secret: str(t, 'shared') }),
      async (t) => {
        const priv = fromHex(str(t, 'private'));
        const pub = fromHex(str(t, 'public'));
        const asClient = await outcome(async () => (await kex(NamedGroup.x25519, [priv]).generate()).complete(pub));
        const asServer = await outcome(async () => (await kex(NamedGroup.x25519, [priv]).encapsulate(pub)).secret);
        return [asClient, asServer];
      },
    );
  });

  const nist = [
    ['ecdh_secp256r1_ecpoint_test.json', NamedGroup.secp256r1, 32],
    ['ecdh_secp384r1_ecpoint_test.json', NamedGroup.secp384r1, 48],
  ] as const;

  it.each(nist)('%s (RFC 8446 §4.2.8.2, §7.4.2)', async (name, group, fieldLength) => {
    const file = loadWycheproof(name);
    await checkAll(
      file,
      (t) => (t.result === 'valid' ? { secret: str(t, 'shared') } : illegal),
      async (t) => {
        const priv = scalarBytes(str(t, 'private'), fieldLength);
        const pub = fromHex(str(t, 'public'));
        // The client side for every case; the server side validates the same point the same way.
        return outcome(async () => (await kex(group, [priv]).generate()).complete(pub));
      },
    );
  });

  const mlkem = [
    ['mlkem_512_test.json', NamedGroup.MLKEM512, ML_KEM_512],
    ['mlkem_768_test.json', NamedGroup.MLKEM768, ML_KEM_768],
    ['mlkem_1024_test.json', NamedGroup.MLKEM1024, ML_KEM_1024],
  ] as const;

  it.each(mlkem)('%s (FIPS 203, draft-ietf-tls-mlkem §4.2)', async (name, group, params: MlKemParams) => {
    const file = loadWycheproof(name);
    await checkAll(
      file,
      (t) => {
        if (t.result === 'valid') return { secret: `${str(t, 'ek')}/${str(t, 'K')}` };
        // A seed of the wrong length is our caller's error (internal); a bad ciphertext is the peer's.
        return fromHex(str(t, 'seed')).length !== 64 ? internal : illegal;
      },
      async (t) => {
        const seed = fromHex(str(t, 'seed'));
        const c = fromHex(str(t, 'c'));
        if (seed.length !== 64) {
          // Not expressible through the provider: driven through the internal keygen.
          return outcome(async () => mlkemKeygen(params, seed).ek);
        }
        const share = await kex(group, [seed]).generate();
        return outcome(async () => `${toHex(share.share)}/${toHex(await share.complete(c))}`);
      },
    );
  });

  it('mlkem_768_encaps_test.json: server side, m injected (FIPS 203 §7.2 modulus check)', async () => {
    const file = loadWycheproof('mlkem_768_encaps_test.json');
    await checkAll(
      file,
      (t) => (t.result === 'valid' ? { secret: `${str(t, 'c')}/${str(t, 'K')}` } : illegal),
      async (t) =>
        outcome(async () => {
          const { share, secret } = await kex(NamedGroup.MLKEM768, [fromHex(str(t, 'm'))]).encapsulate(fromHex(str(t, 'ek')));
          return `${toHex(share)}/${toHex(secret)}`;
        }),
    );
  });

  it('mlkem_768_keygen_seed_test.json: ek through the provider, dk through the internal keygen', async () => {
    const file = loadWycheproof('mlkem_768_keygen_seed_test.json');
    await checkAll(
      file,
      (t) => ({ secret: `${str(t, 'ek')}/${str(t, 'dk')}` }),
      async (t) => {
        const seed = fromHex(str(t, 'seed'));
        const share = await kex(NamedGroup.MLKEM768, [seed]).generate();
        const { dk } = mlkemKeygen(ML_KEM_768, seed);
        return { secret: `${toHex(share.share)}/${toHex(dk)}` } as const;
      },
    );
  });

  it('mlkem_768_semi_expanded_decaps_test.json: internal decapsulation with a given dk', async () => {
    const file = loadWycheproof('mlkem_768_semi_expanded_decaps_test.json');
    await checkAll(
      file,
      (t) => {
        if (t.result === 'valid') return { secret: str(t, 'K') };
        // Ciphertext length is the peer's fault; a broken dk can only be ours (draft-ietf-tls-mlkem §4.2).
        return t.flags.includes('IncorrectCiphertextLength') ? illegal : internal;
      },
      async (t) => outcome(async () => mlkemDecapsulate(ML_KEM_768, fromHex(str(t, 'dk')), fromHex(str(t, 'c')))),
    );
  });
});
