/**
 * Wycheproof vectors through the WebCrypto provider: what it runs on
 * SubtleCrypto (AES-GCM, X25519, P-256/P-384 ECDH, ECDSA in DER, Ed25519) and,
 * so that the provider as a whole is checked, what it keeps on noble (HMAC,
 * HKDF, ChaCha20-Poly1305, RSA PKCS #1 v1.5 and RSA-PSS verification with
 * TLS's parameters). ML-KEM and ML-DSA are noble's code here too, covered by
 * test/pq/wycheproof-*.test.ts.
 * X25519 and Ed25519 run twice: on this runtime's SubtleCrypto and on one
 * without them, where the provider falls back to noble.
 *
 * The expected outcomes are those the noble suites assert (see their file
 * comments): the two backends must agree with Wycheproof and so with each
 * other, including on "acceptable" cases — the all-zero X25519 secret and
 * compressed NIST shares are illegal_parameter, RSA PKCS #1 `MissingNull` is
 * rejected — and a public key that is not a key of its type (only
 * IncorrectPublicKeyLength vectors) raises IllegalParameterError.
 */
import { describe, expect, it } from 'vitest';
import { concat, fromHex, toHex } from '../../src/bytes.js';
import { ConfigError, IllegalParameterError, PqtlsError } from '../../src/errors.js';
import { NamedGroup, SignatureScheme, createWebCryptoProvider, type AeadAlgorithm, type CryptoProvider, type HashAlgorithm, type RandomSource } from '../../src/pq/index.js';
import { scriptedRandom } from '../../src/testing/index.js';
import { loadWycheproof, str, type WycheproofFile, type WycheproofGroup, type WycheproofTest } from '../helpers/wycheproof.js';

let script: RandomSource = scriptedRandom([]);
const provider = createWebCryptoProvider({ random: (n) => script(n) });
/** This runtime's SubtleCrypto with X25519 and Ed25519 refused (NotSupportedError), as in runtimes that predate them. */
const withoutSecureCurves = (real: SubtleCrypto): SubtleCrypto => new Proxy(real, {
  get(target, prop) {
    const f: unknown = Reflect.get(target, prop, target);
    if (typeof f !== 'function') return f;
    return async (...args: unknown[]) => {
      const named = args.some((a) => ['X25519', 'Ed25519'].includes(typeof a === 'string' ? a : String((a as { name?: unknown } | null)?.name)));
      if (named) throw new DOMException('Unrecognized algorithm name', 'NotSupportedError');
      return (f as (...a: unknown[]) => Promise<unknown>).apply(target, args);
    };
  },
});
const fallback = createWebCryptoProvider({ random: (n) => script(n), subtle: withoutSecureCurves(globalThis.crypto.subtle) });
const both: readonly (readonly [string, CryptoProvider])[] = [['native', provider], ['noble fallback', fallback]];
const S = SignatureScheme;

const hex = (o: Readonly<Record<string, unknown>>, f: string): Uint8Array => fromHex(str(o, f));
function num(o: Readonly<Record<string, unknown>>, f: string): number {
  const v = o[f];
  if (typeof v !== 'number') throw new Error(`Wycheproof field ${f} missing`);
  return v;
}
function sub(o: Readonly<Record<string, unknown>>, f: string): Readonly<Record<string, unknown>> {
  const v = o[f];
  if (typeof v !== 'object' || v === null) throw new Error(`Wycheproof field ${f} missing`);
  return v as Readonly<Record<string, unknown>>;
}

/** A call's result as data: hex, boolean, or the error class (and alert, for protocol errors). */
async function outcome(f: () => Promise<Uint8Array | boolean | null>): Promise<string> {
  try {
    const r = await f();
    return r instanceof Uint8Array ? toHex(r) : String(r);
  } catch (e) {
    if (e instanceof IllegalParameterError) return 'illegal_parameter';
    if (e instanceof ConfigError) return 'ConfigError';
    if (e instanceof PqtlsError) return `alert ${e.alert}`;
    throw e;
  }
}

/** Runs the cases `select` keeps, collecting every mismatch, and checks none was dropped unawares. */
async function check(
  file: WycheproofFile,
  run: (g: WycheproofGroup, t: WycheproofTest) => Promise<{ want: string; got: string | readonly string[] } | undefined>,
): Promise<number> {
  const mismatches: string[] = [];
  let ran = 0;
  for (const g of file.testGroups) {
    for (const t of g.tests) {
      const r = await run(g, t);
      if (r === undefined) continue;
      ran++;
      for (const got of typeof r.got === 'string' ? [r.got] : r.got) {
        if (got !== r.want) mismatches.push(`tcId ${t.tcId} (${t.result}, ${t.comment}): want ${r.want}, got ${got}`);
      }
    }
  }
  expect(mismatches).toEqual([]);
  return ran;
}

const total = (f: WycheproofFile): number => f.numberOfTests;

describe('Wycheproof against the WebCrypto provider', () => {
  it.each([['aes_gcm_test.json', 'AES-GCM'], ['chacha20_poly1305_test.json', 'CHACHA20-POLY1305']] as const)('%s', async (name, kind) => {
    const file = loadWycheproof(name);
    const ran = await check(file, async (g, t) => {
      const keySize = num(g, 'keySize');
      const alg: AeadAlgorithm = kind === 'CHACHA20-POLY1305' ? kind : keySize === 256 ? 'AES-256-GCM' : 'AES-128-GCM';
      const [key, iv, aad, msg] = [hex(t, 'key'), hex(t, 'iv'), hex(t, 'aad'), hex(t, 'msg')];
      const sealed = concat(hex(t, 'ct'), hex(t, 'tag'));
      // AES-192 keys and non-TLS nonce or tag sizes are refused, never silently accepted.
      if (kind === 'AES-GCM' && keySize !== 128 && keySize !== 256) return { want: 'ConfigError', got: await outcome(async () => (await provider.aead(alg, key)) && null) };
      const aead = await provider.aead(alg, key);
      if (num(g, 'ivSize') !== 96 || num(g, 'tagSize') !== 128) {
        return { want: 'ConfigError/null', got: `${await outcome(() => aead.seal(iv, aad, msg))}/${await outcome(() => aead.open(iv, aad, sealed))}` };
      }
      if (t.result === 'valid') {
        return { want: `${toHex(sealed)}/${toHex(msg)}`, got: `${await outcome(() => aead.seal(iv, aad, msg))}/${await outcome(() => aead.open(iv, aad, sealed))}` };
      }
      return { want: 'null', got: await outcome(() => aead.open(iv, aad, sealed)) };
    });
    expect(ran).toBe(total(file));
  });

  it.each([['hkdf_sha256_test.json', 'SHA-256'], ['hkdf_sha384_test.json', 'SHA-384']] as const)('%s (RFC 5869)', async (name, hash: HashAlgorithm) => {
    const file = loadWycheproof(name);
    const ran = await check(file, async (_, t) => {
      const prk = await provider.hkdfExtract(hash, hex(t, 'salt'), hex(t, 'ikm'));
      // The only invalid cases ask for more than 255 · HashLen bytes.
      return { want: t.result === 'valid' ? str(t, 'okm') : 'ConfigError', got: await outcome(() => provider.hkdfExpand(hash, prk, hex(t, 'info'), num(t, 'size'))) };
    });
    expect(ran).toBe(total(file));
  });

  it.each([['hmac_sha256_test.json', 'SHA-256'], ['hmac_sha384_test.json', 'SHA-384']] as const)('%s (RFC 2104)', async (name, hash: HashAlgorithm) => {
    const file = loadWycheproof(name);
    const ran = await check(file, async (g, t) => {
      const tag = (await provider.hmac(hash, hex(t, 'key'), hex(t, 'msg'))).subarray(0, num(g, 'tagSize') / 8);
      return { want: String(t.result === 'valid'), got: String(toHex(tag) === str(t, 'tag')) };
    });
    expect(ran).toBe(total(file));
  });

  it.each(both)('x25519_test.json (RFC 7748; RFC 8446 §7.4.2 all-zero check), as client and as server: %s', async (_, provider) => {
    const file = loadWycheproof('x25519_test.json');
    const ran = await check(file, async (_, t) => {
      const [priv, pub] = [hex(t, 'private'), hex(t, 'public')];
      const kex = (): ReturnType<CryptoProvider['keyExchange']> => {
        script = scriptedRandom([priv]);
        return provider.keyExchange(NamedGroup.x25519);
      };
      return {
        want: t.result === 'invalid' || t.flags.includes('ZeroSharedSecret') ? 'illegal_parameter' : str(t, 'shared'),
        got: [
          await outcome(async () => (await kex().generate()).complete(pub)),
          await outcome(async () => (await kex().encapsulate(pub)).secret),
        ],
      };
    });
    expect(ran).toBe(total(file));
  });

  it.each([
    ['ecdh_secp256r1_ecpoint_test.json', NamedGroup.secp256r1, 32],
    ['ecdh_secp384r1_ecpoint_test.json', NamedGroup.secp384r1, 48],
  ] as const)('%s (RFC 8446 §4.2.8.2: uncompressed points on the curve only)', async (name, group, size) => {
    const file = loadWycheproof(name);
    const ran = await check(file, async (_, t) => {
      const priv = fromHex(BigInt(`0x${str(t, 'private') || '0'}`).toString(16).padStart(2 * size, '0'));
      script = scriptedRandom([priv]);
      const share = await provider.keyExchange(group).generate();
      return { want: t.result === 'valid' ? str(t, 'shared') : 'illegal_parameter', got: await outcome(() => share.complete(hex(t, 'public'))) };
    });
    expect(ran).toBe(total(file));
  });

  /** Verification outcome a signature vector demands. */
  const verdict = (t: WycheproofTest): string =>
    t.result === 'valid' ? 'true' : t.flags.includes('IncorrectPublicKeyLength') ? 'illegal_parameter' : 'false';

  it.each([
    ['ecdsa_secp256r1_sha256_test.json', S.ecdsa_secp256r1_sha256],
    ['ecdsa_secp384r1_sha384_test.json', S.ecdsa_secp384r1_sha384],
  ] as const)('%s (DER Ecdsa-Sig-Value, RFC 8446 §4.2.3)', async (name, scheme) => {
    const file = loadWycheproof(name);
    const ran = await check(file, async (g, t) => ({
      want: verdict(t),
      got: await outcome(() => provider.verify(scheme, hex(sub(g, 'publicKey'), 'uncompressed'), hex(t, 'msg'), hex(t, 'sig'))),
    }));
    expect(ran).toBe(total(file));
  });

  it.each(both)('ed25519_test.json (RFC 8032 §5.1.7): %s', async (_, provider) => {
    const file = loadWycheproof('ed25519_test.json');
    const ran = await check(file, async (g, t) => ({
      want: verdict(t),
      got: await outcome(() => provider.verify(S.ed25519, hex(sub(g, 'publicKey'), 'pk'), hex(t, 'msg'), hex(t, 'sig'))),
    }));
    expect(ran).toBe(total(file));
  });

  it.each(['rsa_signature_2048_sha256_test.json', 'rsa_signature_3072_sha256_test.json'])('%s (rsa_pkcs1_sha256; MissingNull rejected)', async (name) => {
    const file = loadWycheproof(name);
    const ran = await check(file, async (g, t) => ({
      want: verdict(t),
      got: await outcome(() => provider.verify(S.rsa_pkcs1_sha256, hex(g, 'publicKeyAsn'), hex(t, 'msg'), hex(t, 'sig'))),
    }));
    expect(ran).toBe(total(file));
  });

  it.each([
    'rsa_pss_2048_sha256_mgf1_32_test.json',
    'rsa_pss_2048_sha384_mgf1_48_test.json',
    'rsa_pss_3072_sha256_mgf1_32_test.json',
    'rsa_pss_4096_sha384_mgf1_48_test.json',
    'rsa_pss_4096_sha512_mgf1_64_test.json',
    'rsa_pss_misc_test.json',
  ])('%s: the groups with TLS parameters (MGF1 on the same hash, salt = hash length)', async (name) => {
    const schemes: Record<string, [SignatureScheme, number]> = {
      'SHA-256': [S.rsa_pss_rsae_sha256, 32], 'SHA-384': [S.rsa_pss_rsae_sha384, 48], 'SHA-512': [S.rsa_pss_rsae_sha512, 64],
    };
    const file = loadWycheproof(name);
    const ran = await check(file, async (g, t) => {
      const tls = schemes[str(g, 'sha')];
      if (!tls || str(g, 'mgfSha') !== str(g, 'sha') || num(g, 'sLen') !== tls[1]) return undefined;
      return { want: verdict(t), got: await outcome(() => provider.verify(tls[0], hex(g, 'publicKeyAsn'), hex(t, 'msg'), hex(t, 'sig'))) };
    });
    // Every group of the per-size files has TLS's parameters; the misc file mixes them.
    if (name === 'rsa_pss_misc_test.json') expect(ran).toBeGreaterThan(0);
    else expect(ran).toBe(total(file));
  });
});
