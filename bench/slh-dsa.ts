/**
 * What SLH-DSA (FIPS 205) costs through the noble provider, per parameter set:
 * key generation, signing (a CA's cost, once per certificate) and
 * verification (a validator's cost, once per SLH-DSA-signed certificate in a
 * chain), next to ML-DSA-65 for scale. Verification is the figure that
 * matters for an attacker-supplied chain: path validation spends at most
 * `limits.maxSignatureChecks` verifications, each up to the slowest row here.
 *
 * The "s" sets sign in seconds, so signing is timed over few calls; medians.
 *
 * Run alone: node --import tsx bench/slh-dsa.ts
 */
import { pathToFileURL } from 'node:url';
import { SLH_DSA_ALGORITHMS, SignatureScheme, slhDsaSizes, type SigningScheme, type KeyAlgorithm } from '../src/pq/ids.js';
import { createNobleProvider } from '../src/pq/noble/index.js';
import { seededRandom } from '../src/testing/index.js';
import { now } from './compare.js';

/** A certificate's TBS is about this long; SLH-DSA hashes the message once, so its length barely matters. */
const TBS = new Uint8Array(1200).fill(0x5a);

async function median(times: number, op: () => Promise<unknown>): Promise<number> {
  const out: number[] = [];
  for (let i = 0; i < times; i++) {
    const t0 = now();
    await op();
    out.push(now() - t0);
  }
  out.sort((a, b) => a - b);
  return out[Math.floor(out.length / 2)] as number;
}

const ms = (x: number): string => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

export async function run(): Promise<string> {
  const provider = createNobleProvider({ random: seededRandom('slh-dsa bench') });
  const rows: string[] = [
    '| algorithm | public key | signature | keygen ms | sign ms | verify ms |',
    '|---|---:|---:|---:|---:|---:|',
  ];
  const sets: [KeyAlgorithm, SigningScheme][] = [['ml-dsa-65', SignatureScheme.mldsa65], ...SLH_DSA_ALGORITHMS.map((a): [KeyAlgorithm, SigningScheme] => [a, a])];
  for (const [alg, scheme] of sets) {
    const slow = alg.endsWith('s');
    const t0 = now();
    const pair = await provider.generateKeyPair(alg);
    const keygen = now() - t0;
    const sig = await provider.sign(scheme, pair.privateKey, TBS);
    if (!(await provider.verify(scheme, pair.publicKey, TBS, sig))) throw new Error(`${alg}: signature does not verify`);
    const sign = await median(slow ? 1 : 3, () => provider.sign(scheme, pair.privateKey, TBS));
    const verify = await median(slow ? 5 : 9, () => provider.verify(scheme, pair.publicKey, TBS, sig));
    const sizes = alg.startsWith('slh') ? slhDsaSizes(alg as (typeof SLH_DSA_ALGORITHMS)[number]) : { publicKey: pair.publicKey.length, signature: sig.length };
    rows.push(`| ${alg} | ${sizes.publicKey} | ${sizes.signature} | ${ms(keygen)} | ${ms(sign)} | ${ms(verify)} |`);
  }
  return [
    'SLH-DSA through the noble provider (sign includes the verify-after-sign check); ML-DSA-65 for scale.',
    '',
    ...rows,
  ].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(await run());
}
