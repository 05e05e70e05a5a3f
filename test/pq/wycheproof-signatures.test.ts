/**
 * Wycheproof signature vectors (C2SP/wycheproof testvectors_v1) against the
 * noble provider.
 *
 * Everything the CryptoProvider interface can express goes through it:
 * verification under the TLS scheme whose parameters the file uses, and ML-DSA
 * key import from a seed or an expanded key. What TLS never needs (non-empty
 * ML-DSA contexts, deterministic or caller-chosen ML-DSA randomness, external
 * µ, PSS with a salt length or MGF hash other than the TLS ones, SHA-1 and
 * SHA-224) goes through the modules' internal functions.
 *
 * Outcomes: `valid` must verify (or, for signing files, reproduce `sig`
 * exactly). `invalid` must be rejected: verify returns false, except that a
 * public key that is not a valid key of its type must raise
 * IllegalParameterError (only vectors flagged IncorrectPublicKeyLength have
 * such keys); an invalid signing vector (bad private key material, context
 * over 255 bytes) must be refused with ConfigError.
 * `acceptable` occurs only as RSA PKCS #1 `MissingNull` (a DigestInfo without
 * the NULL parameters): our verifier compares against the one canonical
 * encoding (RFC 8017 §8.2.2), so we assert those are rejected.
 */
import { sha1 } from '@noble/hashes/legacy.js';
import { sha224, sha256, sha384, sha512 } from '@noble/hashes/sha2.js';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../src/bytes.js';
import { ConfigError, IllegalParameterError } from '../../src/errors.js';
import { SignatureScheme, type MlDsaAlgorithm } from '../../src/pq/ids.js';
import { createNobleProvider } from '../../src/pq/noble/index.js';
import { mlDsaFromExpanded, mlDsaFromSeed, mlDsaSign, mlDsaSignMu, mlDsaVerify, type MlDsaKey } from '../../src/pq/noble/mldsa.js';
import { parseRsaPublicKey } from '../../src/pq/rsa-keys.js';
import { rsaPssVerify, type Digest } from '../../src/pq/rsa-pss.js';
import { seededRandom } from '../../src/testing/index.js';
import {
  loadWycheproof, str, type WycheproofFile, type WycheproofGroup, type WycheproofTest,
} from '../helpers/wycheproof.js';

const S = SignatureScheme;
const provider = createNobleProvider({ random: seededRandom('wycheproof signatures') });

/** `refused`: the provider or signer raised ConfigError (invalid private key material, over-long context). */
type Outcome = 'accept' | 'reject' | 'bad public key' | 'refused' | `threw ${string}`;

async function outcomeOf(f: () => boolean | Promise<boolean> | Uint8Array | Promise<Uint8Array>, expectedSig?: Uint8Array): Promise<Outcome> {
  try {
    const r = await f();
    if (typeof r === 'boolean') return r ? 'accept' : 'reject';
    return expectedSig !== undefined && toHex(r) === toHex(expectedSig) ? 'accept' : 'reject';
  } catch (err) {
    if (err instanceof IllegalParameterError) return 'bad public key';
    if (err instanceof ConfigError) return 'refused';
    return `threw ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`;
  }
}

/** The outcome a vector demands, per the rules in the file comment. */
function expected(t: WycheproofTest, kind: 'verify' | 'sign'): Outcome {
  if (t.result === 'valid') return 'accept';
  if (t.flags.includes('IncorrectPublicKeyLength')) return 'bad public key';
  return kind === 'sign' ? 'refused' : 'reject';
}

function field(o: Readonly<Record<string, unknown>>, name: string): Readonly<Record<string, unknown>> {
  const v = o[name];
  if (typeof v !== 'object' || v === null) throw new Error(`Wycheproof field ${name} missing or not an object`);
  return v as Readonly<Record<string, unknown>>;
}

function num(o: Readonly<Record<string, unknown>>, name: string): number {
  const v = o[name];
  if (typeof v !== 'number') throw new Error(`Wycheproof field ${name} missing or not a number`);
  return v;
}

const hex = (o: Readonly<Record<string, unknown>>, name: string): Uint8Array => fromHex(str(o, name));
/** An optional hex field; absent or null reads as undefined. */
const optHex = (o: Readonly<Record<string, unknown>>, name: string): Uint8Array | undefined =>
  o[name] === undefined || o[name] === null ? undefined : hex(o, name);

/**
 * Runs every vector of a file and asserts none is left over and none
 * misbehaves; failures are listed by tcId so one assertion reports them all.
 */
async function runFile(
  file: WycheproofFile,
  kind: 'verify' | 'sign',
  run: (g: WycheproofGroup, t: WycheproofTest) => Promise<Outcome>,
): Promise<{ checked: number }> {
  const failures: string[] = [];
  let checked = 0;
  for (const g of file.testGroups) {
    for (const t of g.tests) {
      const got = await run(g, t);
      checked++;
      if (got !== expected(t, kind)) failures.push(`tcId ${t.tcId} (${t.result}, ${t.comment}, [${t.flags.join(',')}]): ${got}`);
    }
  }
  expect(failures).toEqual([]);
  expect(checked).toBe(file.numberOfTests);
  return { checked };
}

describe('Wycheproof signature vectors', () => {
  describe('ECDSA, DER signatures (RFC 8446 §4.2.3 ecdsa_secp256r1_sha256 / ecdsa_secp384r1_sha384)', () => {
    it.each([
      ['ecdsa_secp256r1_sha256_test.json', S.ecdsa_secp256r1_sha256],
      ['ecdsa_secp384r1_sha384_test.json', S.ecdsa_secp384r1_sha384],
    ] as const)('%s', async (name, scheme) => {
      const file = loadWycheproof(name);
      await runFile(file, 'verify', (g, t) => {
        expect(str(g, 'sha')).toBe(scheme === S.ecdsa_secp256r1_sha256 ? 'SHA-256' : 'SHA-384');
        return outcomeOf(() => provider.verify(scheme, hex(field(g, 'publicKey'), 'uncompressed'), hex(t, 'msg'), hex(t, 'sig')));
      });
    });
  });

  it('Ed25519 (RFC 8032 §5.1.7): ed25519_test.json', async () => {
    await runFile(loadWycheproof('ed25519_test.json'), 'verify', (g, t) =>
      outcomeOf(() => provider.verify(S.ed25519, hex(field(g, 'publicKey'), 'pk'), hex(t, 'msg'), hex(t, 'sig'))));
  });

  describe('RSASSA-PKCS1-v1_5 (rsa_pkcs1_sha256)', () => {
    it.each(['rsa_signature_2048_sha256_test.json', 'rsa_signature_3072_sha256_test.json'])('%s', async (name) => {
      const file = loadWycheproof(name);
      const acceptable = file.testGroups.flatMap((g) => g.tests).filter((t) => t.result === 'acceptable');
      expect(acceptable.every((t) => t.flags.includes('MissingNull'))).toBe(true);
      await runFile(file, 'verify', (g, t) => {
        expect(str(g, 'sha')).toBe('SHA-256');
        return outcomeOf(() => provider.verify(S.rsa_pkcs1_sha256, hex(g, 'publicKeyAsn'), hex(t, 'msg'), hex(t, 'sig')));
      });
    });
  });

  describe('RSASSA-PSS', () => {
    const digests: Record<string, Digest> = { 'SHA-1': sha1, 'SHA-224': sha224, 'SHA-256': sha256, 'SHA-384': sha384, 'SHA-512': sha512 };
    const tlsScheme: Record<string, SignatureScheme> = {
      'SHA-256': S.rsa_pss_rsae_sha256, 'SHA-384': S.rsa_pss_rsae_sha384, 'SHA-512': S.rsa_pss_rsae_sha512,
    };
    const digest = (name: string): Digest => {
      const d = digests[name];
      if (!d) throw new Error(`no digest ${name}`);
      return d;
    };

    /** Through the provider when the group has TLS's parameters (RFC 8446 §4.2.3), else the internal verifier. */
    function verifyGroup(g: WycheproofGroup, t: WycheproofTest): Promise<Outcome> {
      const sha = str(g, 'sha');
      const mgfSha = str(g, 'mgfSha');
      const sLen = num(g, 'sLen');
      expect(str(g, 'mgf')).toBe('MGF1');
      const scheme = tlsScheme[sha];
      const [pub, msg, sig] = [hex(g, 'publicKeyAsn'), hex(t, 'msg'), hex(t, 'sig')];
      if (scheme !== undefined && mgfSha === sha && sLen === digest(sha).outputLen) {
        return outcomeOf(() => provider.verify(scheme, pub, msg, sig));
      }
      return outcomeOf(() => rsaPssVerify(parseRsaPublicKey(pub), msg, sig, { hash: digest(sha), mgfHash: digest(mgfSha), saltLength: sLen }));
    }

    it.each([
      'rsa_pss_2048_sha256_mgf1_32_test.json',
      'rsa_pss_2048_sha384_mgf1_48_test.json',
      'rsa_pss_3072_sha256_mgf1_32_test.json',
      'rsa_pss_4096_sha384_mgf1_48_test.json',
      'rsa_pss_4096_sha512_mgf1_64_test.json',
      'rsa_pss_misc_test.json',
    ])('%s', async (name) => {
      await runFile(loadWycheproof(name), 'verify', verifyGroup);
    });
  });

  describe.each([
    ['ml-dsa-44', '44', S.mldsa44],
    ['ml-dsa-65', '65', S.mldsa65],
    ['ml-dsa-87', '87', S.mldsa87],
  ] as const)('%s (FIPS 204)', (alg: MlDsaAlgorithm, size, scheme) => {
    it(`mldsa_${size}_verify_test.json`, async () => {
      await runFile(loadWycheproof(`mldsa_${size}_verify_test.json`), 'verify', (g, t) => {
        const [pk, msg, sig, ctx] = [hex(g, 'publicKey'), hex(t, 'msg'), hex(t, 'sig'), optHex(t, 'ctx')];
        // TLS signs with an empty context (draft-ietf-tls-mldsa §3), which the interface expresses.
        if (ctx === undefined || ctx.length === 0) return outcomeOf(() => provider.verify(scheme, pk, msg, sig));
        return outcomeOf(() => mlDsaVerify(alg, pk, msg, sig, ctx));
      });
    });

    /**
     * Signing vectors: the key is imported through the provider (its public key
     * must match), the expected signature is reproduced with the internal
     * signer under the vector's rnd (absent = deterministic, all zeros), and,
     * where the message and an empty context are given, also verified through
     * the provider.
     */
    async function signCase(key: MlDsaKey | undefined, g: WycheproofGroup, t: WycheproofTest): Promise<Outcome> {
      if (key === undefined) return 'refused';
      const [msg, mu, ctx, sig] = [optHex(t, 'msg'), optHex(t, 'mu'), optHex(t, 'ctx'), optHex(t, 'sig')];
      const rnd = optHex(t, 'rnd') ?? new Uint8Array(32);
      if (msg === undefined) {
        if (mu === undefined) throw new Error(`tcId ${t.tcId}: neither msg nor mu`);
        return outcomeOf(() => mlDsaSignMu(key, mu, rnd), sig);
      }
      const signed = await outcomeOf(() => mlDsaSign(key, msg, rnd, ctx), sig);
      if (signed !== 'accept' || sig === undefined || (ctx !== undefined && ctx.length > 0)) return signed;
      return outcomeOf(() => provider.verify(scheme, hex(g, 'publicKey'), msg, sig));
    }

    /** Imports through the provider: false when it refuses with ConfigError (then every vector of the group must be invalid). */
    async function importGroup(g: WycheproofGroup, material: { seed?: Uint8Array; expanded?: Uint8Array }): Promise<boolean> {
      const got = await outcomeOf(async () => {
        const pair = await provider.importPrivateKey({ algorithm: alg, ...material });
        return toHex(pair.publicKey) === str(g, 'publicKey');
      });
      if (got === 'refused') return false;
      expect(got).toBe('accept');
      return true;
    }

    it(`mldsa_${size}_sign_seed_test.json (keygen from seed, then sign)`, async () => {
      const file = loadWycheproof(`mldsa_${size}_sign_seed_test.json`);
      const keys = new Map<WycheproofGroup, MlDsaKey | undefined>();
      for (const g of file.testGroups) {
        const seed = hex(g, 'privateSeed');
        keys.set(g, (await importGroup(g, { seed })) ? mlDsaFromSeed(alg, seed) : undefined);
      }
      await runFile(file, 'sign', (g, t) => signCase(keys.get(g), g, t));
    });

    it(`mldsa_${size}_sign_noseed_test.json (expanded private key, then sign)`, async () => {
      const file = loadWycheproof(`mldsa_${size}_sign_noseed_test.json`);
      const keys = new Map<WycheproofGroup, MlDsaKey | undefined>();
      for (const g of file.testGroups) {
        const expanded = hex(g, 'privateKey');
        keys.set(g, (await importGroup(g, { expanded })) ? mlDsaFromExpanded(alg, expanded) : undefined);
      }
      await runFile(file, 'sign', (g, t) => signCase(keys.get(g), g, t));
    });
  });
});
