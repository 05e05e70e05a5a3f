/**
 * What the CryptoProvider costs: every primitive of the noble backend called
 * through `createNobleProvider()` and, in the same run with interleaved rounds,
 * the same noble function called directly. Goal: the provider within 5%.
 *
 * Both sides draw from identical seeded random streams and use identical keys,
 * so they do identical work — the same ML-DSA rejection loops, the same
 * scalars — and the first result of each pair is checked to be byte-for-byte
 * the same before anything is timed. RSA has no noble counterpart (the
 * provider's RSA is its own bigint code) and is listed alone.
 *
 * Run alone: node --import tsx bench/pq-provider.ts
 */
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { gcm } from '@noble/ciphers/aes.js';
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { p256, p384 } from '@noble/curves/nist.js';
import { expand, extract } from '@noble/hashes/hkdf.js';
import { sha256, sha384 } from '@noble/hashes/sha2.js';
import { ml_dsa44, ml_dsa65, ml_dsa87 } from '@noble/post-quantum/ml-dsa.js';
import { ml_kem1024, ml_kem512, ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import { generateKeyPairSync } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { concat, constantTimeEqual } from '../src/bytes.js';
import {
  NamedGroup, SignatureScheme, groupName, signatureSchemeName, type AeadAlgorithm, type HashAlgorithm, type KeyAlgorithm,
} from '../src/pq/ids.js';
import { createNobleProvider } from '../src/pq/noble/index.js';
import type { CryptoProvider, KeyPair } from '../src/pq/provider.js';
import { type RandomSource } from '../src/pq/random.js';
import { seededRandom } from '../src/testing/index.js';
import {
  asyncLoop, clockName, compare, formatOverhead, now, formatRate, measureAlone, syncLoop, type CompareOptions, type MetricResult, type RoundFn,
} from './compare.js';

const OPTIONS: CompareOptions = { rounds: 31, roundMs: 15 };
const GOAL = 0.05;

function same(what: string, a: Uint8Array, b: Uint8Array): void {
  if (a.length !== b.length || !constantTimeEqual(a, b)) throw new Error(`bench is not comparing like with like: ${what} differs`);
}

function check(what: string, ok: boolean): void {
  if (!ok) throw new Error(`bench sanity check failed: ${what}`);
}

// ---------------------------------------------------------------------------------------------
// Key exchange: the noble calls a careful direct user would make, in the provider's draw order.

interface DirectShare {
  readonly share: Uint8Array;
  complete(serverShare: Uint8Array): Uint8Array;
}
interface DirectKex {
  generate(random: RandomSource): DirectShare;
  encapsulate(clientShare: Uint8Array, random: RandomSource): { share: Uint8Array; secret: Uint8Array };
  readonly clientShareLength: number;
  readonly serverShareLength: number;
}

const directX25519: DirectKex = {
  clientShareLength: 32,
  serverShareLength: 32,
  generate(random) {
    const sk = random(32);
    return { share: x25519.getPublicKey(sk), complete: (s) => x25519.getSharedSecret(sk, s) };
  },
  encapsulate(c, random) {
    const sk = random(32);
    return { share: x25519.getPublicKey(sk), secret: x25519.getSharedSecret(sk, c) };
  },
};

function directEcdh(curve: typeof p256 | typeof p384): DirectKex {
  const size = curve.Point.Fp.BYTES;
  // getSharedSecret returns a compressed point; TLS's secret is its X coordinate (RFC 8446 §7.4.2).
  const secret = (sk: Uint8Array, peer: Uint8Array): Uint8Array => curve.getSharedSecret(sk, peer).subarray(1);
  return {
    clientShareLength: 1 + 2 * size,
    serverShareLength: 1 + 2 * size,
    generate(random) {
      const sk = random(size);
      return { share: curve.getPublicKey(sk, false), complete: (s) => secret(sk, s) };
    },
    encapsulate(c, random) {
      const sk = random(size);
      return { share: curve.getPublicKey(sk, false), secret: secret(sk, c) };
    },
  };
}

function directMlKem(kem: typeof ml_kem768): DirectKex {
  return {
    clientShareLength: kem.lengths.publicKey ?? 0,
    serverShareLength: kem.lengths.cipherText ?? 0,
    generate(random) {
      const { publicKey, secretKey } = kem.keygen(random(64));
      return { share: publicKey, complete: (ct) => kem.decapsulate(ct, secretKey) };
    },
    encapsulate(ek, random) {
      const { cipherText, sharedSecret } = kem.encapsulate(ek, random(32));
      return { share: cipherText, secret: sharedSecret };
    },
  };
}

/** draft-ietf-tls-ecdhe-mlkem §3.1: shares and secret are `first ‖ second`. */
function directHybrid(first: DirectKex, second: DirectKex): DirectKex {
  return {
    clientShareLength: first.clientShareLength + second.clientShareLength,
    serverShareLength: first.serverShareLength + second.serverShareLength,
    generate(random) {
      const a = first.generate(random);
      const b = second.generate(random);
      const split = first.serverShareLength;
      return {
        share: concat(a.share, b.share),
        complete: (s) => concat(a.complete(s.subarray(0, split)), b.complete(s.subarray(split))),
      };
    },
    encapsulate(c, random) {
      const split = first.clientShareLength;
      const a = first.encapsulate(c.subarray(0, split), random);
      const b = second.encapsulate(c.subarray(split), random);
      return { share: concat(a.share, b.share), secret: concat(a.secret, b.secret) };
    },
  };
}

const MLKEM768 = directMlKem(ml_kem768);
const DIRECT_KEX = new Map<NamedGroup, DirectKex>([
  [NamedGroup.X25519MLKEM768, directHybrid(MLKEM768, directX25519)],
  [NamedGroup.SecP256r1MLKEM768, directHybrid(directEcdh(p256), MLKEM768)],
  [NamedGroup.SecP384r1MLKEM1024, directHybrid(directEcdh(p384), directMlKem(ml_kem1024))],
  [NamedGroup.MLKEM512, directMlKem(ml_kem512)],
  [NamedGroup.MLKEM768, MLKEM768],
  [NamedGroup.MLKEM1024, directMlKem(ml_kem1024)],
  [NamedGroup.x25519, directX25519],
  [NamedGroup.secp256r1, directEcdh(p256)],
  [NamedGroup.secp384r1, directEcdh(p384)],
]);

const KEX_STEPS = ['client generate', 'server encapsulate', 'client complete', 'full exchange'] as const;

async function kexComparison(group: NamedGroup): Promise<MetricResult[]> {
  const direct = DIRECT_KEX.get(group);
  if (!direct) throw new Error(`no direct noble key exchange for ${groupName(group)}`);
  const seed = `kex ${groupName(group)}`;
  const kx = createNobleProvider({ random: seededRandom(seed) }).keyExchange(group);
  const random = seededRandom(seed);

  const viaProvider: RoundFn = async (n) => {
    let gen = 0, enc = 0, done = 0;
    for (let i = 0; i < n; i++) {
      const t0 = now();
      const client = await kx.generate();
      const t1 = now();
      const server = await kx.encapsulate(client.share);
      const t2 = now();
      await client.complete(server.share);
      const t3 = now();
      gen += t1 - t0; enc += t2 - t1; done += t3 - t2;
    }
    return [gen / 1000, enc / 1000, done / 1000, (gen + enc + done) / 1000];
  };
  const viaNoble: RoundFn = async (n) => {
    let gen = 0, enc = 0, done = 0;
    for (let i = 0; i < n; i++) {
      const t0 = now();
      const client = direct.generate(random);
      const t1 = now();
      const server = direct.encapsulate(client.share, random);
      const t2 = now();
      client.complete(server.share);
      const t3 = now();
      gen += t1 - t0; enc += t2 - t1; done += t3 - t2;
    }
    return [gen / 1000, enc / 1000, done / 1000, (gen + enc + done) / 1000];
  };

  // One exchange each, from the same stream position: identical shares and secrets.
  const pc = await kx.generate();
  const dc = direct.generate(random);
  same(`${groupName(group)} client share`, pc.share, dc.share);
  const ps = await kx.encapsulate(pc.share);
  const ds = direct.encapsulate(dc.share, random);
  same(`${groupName(group)} server share`, ps.share, ds.share);
  same(`${groupName(group)} shared secret`, await pc.complete(ps.share), dc.complete(ds.share));
  same(`${groupName(group)} server secret`, ps.secret, ds.secret);

  return compare({ metrics: KEX_STEPS, subject: viaProvider, baseline: viaNoble }, OPTIONS);
}

// ---------------------------------------------------------------------------------------------
// Signatures

/** A CertificateVerify-sized message (RFC 8446 §4.4.3: 64 spaces, context string, 0, transcript hash). */
const SIGNED = new Uint8Array(64 + 33 + 1 + 32).fill(0x20);

interface DirectSigner {
  readonly algorithm: KeyAlgorithm;
  /** Key material both sides use, from a fixed seed. */
  importInto(provider: CryptoProvider): Promise<KeyPair>;
  sign(message: Uint8Array, random: RandomSource): Uint8Array;
  verify(signature: Uint8Array, message: Uint8Array): boolean;
}

function mlDsaSigner(algorithm: 'ml-dsa-44' | 'ml-dsa-65' | 'ml-dsa-87', dsa: typeof ml_dsa65): DirectSigner {
  const seed = seededRandom(`key ${algorithm}`)(32);
  const { secretKey, publicKey } = dsa.keygen(seed);
  return {
    algorithm,
    importInto: (p) => p.importPrivateKey({ algorithm, seed }),
    // FIPS 204 Alg. 2, hedged, empty context, as TLS signs (draft-ietf-tls-mldsa §3).
    sign: (m, random) => dsa.sign(m, secretKey, { extraEntropy: random(32) }),
    verify: (s, m) => dsa.verify(s, m, publicKey),
  };
}

function ed25519Signer(): DirectSigner {
  const secret = seededRandom('key ed25519')(32);
  const publicKey = ed25519.getPublicKey(secret);
  return {
    algorithm: 'ed25519',
    importInto: (p) => p.importPrivateKey({ algorithm: 'ed25519', secret }),
    sign: (m) => ed25519.sign(m, secret),
    verify: (s, m) => ed25519.verify(s, m, publicKey, { zip215: false }),
  };
}

function ecdsaSigner(algorithm: 'ecdsa-p256' | 'ecdsa-p384', curve: typeof p256 | typeof p384): DirectSigner {
  const secret = curve.utils.randomSecretKey(seededRandom(`key ${algorithm}`)(curve.lengths.seed ?? 64));
  const publicKey = curve.getPublicKey(secret, false);
  return {
    algorithm,
    importInto: (p) => p.importPrivateKey({ algorithm, secret }),
    sign: (m, random) => curve.sign(m, secret, { prehash: true, format: 'der', extraEntropy: random(32) }),
    verify: (s, m) => curve.verify(s, m, publicKey, { prehash: true, format: 'der', lowS: false }),
  };
}

const DIRECT_SIGNERS: readonly [SignatureScheme, DirectSigner][] = [
  [SignatureScheme.mldsa44, mlDsaSigner('ml-dsa-44', ml_dsa44)],
  [SignatureScheme.mldsa65, mlDsaSigner('ml-dsa-65', ml_dsa65)],
  [SignatureScheme.mldsa87, mlDsaSigner('ml-dsa-87', ml_dsa87)],
  [SignatureScheme.ed25519, ed25519Signer()],
  [SignatureScheme.ecdsa_secp256r1_sha256, ecdsaSigner('ecdsa-p256', p256)],
  [SignatureScheme.ecdsa_secp384r1_sha384, ecdsaSigner('ecdsa-p384', p384)],
];

/** Signatures to verify, cycled through so that verification is not of one cached input. */
const VERIFY_POOL = 8;

async function signatureComparison(scheme: SignatureScheme, direct: DirectSigner): Promise<MetricResult[]> {
  const seed = `sign ${signatureSchemeName(scheme)}`;
  const provider = createNobleProvider({ random: seededRandom(seed) });
  const random = seededRandom(seed);
  const pair = await direct.importInto(provider);

  same(`${signatureSchemeName(scheme)} signature`, await provider.sign(scheme, pair.privateKey, SIGNED), direct.sign(SIGNED, random));
  const pool = Array.from({ length: VERIFY_POOL }, (_, i) => direct.sign(SIGNED, seededRandom(`pool ${i}`)));
  for (const sig of pool) {
    check(`${signatureSchemeName(scheme)} verifies via noble`, direct.verify(sig, SIGNED));
    check(`${signatureSchemeName(scheme)} verifies via provider`, await provider.verify(scheme, pair.publicKey, SIGNED, sig));
  }
  const sigAt = (i: number): Uint8Array => pool[i % VERIFY_POOL] as Uint8Array;

  const [sign] = await compare({
    metrics: ['sign'],
    subject: asyncLoop(() => provider.sign(scheme, pair.privateKey, SIGNED)),
    baseline: syncLoop(() => direct.sign(SIGNED, random)),
  }, OPTIONS);
  const [verify] = await compare({
    metrics: ['verify'],
    subject: asyncLoop((i) => provider.verify(scheme, pair.publicKey, SIGNED, sigAt(i))),
    baseline: syncLoop((i) => direct.verify(sigAt(i), SIGNED)),
  }, OPTIONS);
  return [sign as MetricResult, verify as MetricResult];
}

/** RSA-2048 through the provider only: noble has no RSA to compare with. */
async function rsaAlone(schemes: readonly SignatureScheme[]): Promise<{ scheme: SignatureScheme; sign: number; verify: number }[]> {
  const der = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'der' });
  const provider = createNobleProvider({ random: seededRandom('rsa') });
  const pair = await provider.importPrivateKey({ algorithm: 'rsa', pkcs1: new Uint8Array(der) });
  const out = [];
  for (const scheme of schemes) {
    const sig = await provider.sign(scheme, pair.privateKey, SIGNED);
    check(`${signatureSchemeName(scheme)} verifies`, await provider.verify(scheme, pair.publicKey, SIGNED, sig));
    const sign = await measureAlone(asyncLoop(() => provider.sign(scheme, pair.privateKey, SIGNED)), OPTIONS);
    const verify = await measureAlone(asyncLoop(() => provider.verify(scheme, pair.publicKey, SIGNED, sig)), OPTIONS);
    out.push({ scheme, sign, verify });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Symmetric: AEAD, HKDF, SHA-256

const AEADS: readonly AeadAlgorithm[] = ['AES-128-GCM', 'AES-256-GCM', 'CHACHA20-POLY1305'];
/** A full QUIC packet, and a full TLS record. */
const AEAD_SIZES = [1200, 16384] as const;
/** TLS 1.3's additional data is the 5-byte record header (RFC 8446 §5.2). */
const AAD = Uint8Array.of(0x17, 0x03, 0x03, 0x40, 0x11);

async function aeadComparison(alg: AeadAlgorithm, size: number): Promise<MetricResult[]> {
  const rnd = seededRandom(`aead ${alg}`);
  const keyBytes = rnd(alg === 'AES-128-GCM' ? 16 : 32);
  const nonce = rnd(12);
  const plaintext = rnd(size);
  const key = await createNobleProvider().aead(alg, keyBytes);
  const cipher = alg === 'CHACHA20-POLY1305' ? chacha20poly1305 : gcm;
  const sealed = cipher(keyBytes, nonce, AAD).encrypt(plaintext);
  same(`${alg} ciphertext`, await key.seal(nonce, AAD, plaintext), sealed);
  const opened = await key.open(nonce, AAD, sealed);
  check(`${alg} opens`, opened !== null && constantTimeEqual(opened, plaintext));

  const [seal] = await compare({
    metrics: ['seal'],
    subject: asyncLoop(() => key.seal(nonce, AAD, plaintext)),
    baseline: syncLoop(() => cipher(keyBytes, nonce, AAD).encrypt(plaintext)),
  }, OPTIONS);
  const [open] = await compare({
    metrics: ['open'],
    subject: asyncLoop(() => key.open(nonce, AAD, sealed)),
    baseline: syncLoop(() => cipher(keyBytes, nonce, AAD).decrypt(sealed)),
  }, OPTIONS);
  return [seal as MetricResult, open as MetricResult];
}

type Sha2 = typeof sha256 | typeof sha384;
const HKDF_HASHES: readonly [HashAlgorithm, Sha2][] = [['SHA-256', sha256], ['SHA-384', sha384]];

async function hkdfComparison(alg: HashAlgorithm, hash: Sha2): Promise<MetricResult[]> {
  const provider = createNobleProvider();
  const rnd = seededRandom(`hkdf ${alg}`);
  const salt = rnd(hash.outputLen);
  const ikm = rnd(hash.outputLen);
  // An HkdfLabel for "tls13 c hs traffic" with a transcript hash (RFC 8446 §7.1).
  const info = concat(Uint8Array.of(0, hash.outputLen, 18), new TextEncoder().encode('tls13 c hs traffic'), Uint8Array.of(hash.outputLen), rnd(hash.outputLen));
  const prk = extract(hash, ikm, salt);
  same(`HKDF-Extract ${alg}`, await provider.hkdfExtract(alg, salt, ikm), prk);
  same(`HKDF-Expand ${alg}`, await provider.hkdfExpand(alg, prk, info, hash.outputLen), expand(hash, prk, info, hash.outputLen));

  const [ex] = await compare({
    metrics: ['HKDF-Extract'],
    subject: asyncLoop(() => provider.hkdfExtract(alg, salt, ikm)),
    baseline: syncLoop(() => extract(hash, ikm, salt)),
  }, OPTIONS);
  const [exp] = await compare({
    metrics: ['HKDF-Expand'],
    subject: asyncLoop(() => provider.hkdfExpand(alg, prk, info, hash.outputLen)),
    baseline: syncLoop(() => expand(hash, prk, info, hash.outputLen)),
  }, OPTIONS);
  return [ex as MetricResult, exp as MetricResult];
}

async function sha256Comparisons(): Promise<{ label: string; bytes: number; result: MetricResult }[]> {
  const h = createNobleProvider().hash('SHA-256');
  const rnd = seededRandom('sha256');
  const small = rnd(64);
  const big = rnd(16384);
  const message = rnd(1200);
  same('SHA-256', h.digest(big), sha256(big));

  const out: { label: string; bytes: number; result: MetricResult }[] = [];
  for (const [label, data] of [['digest, 64 B', small], ['digest, 16 KiB', big]] as const) {
    const [result] = await compare({
      metrics: [label],
      subject: syncLoop(() => h.digest(data)),
      baseline: syncLoop(() => sha256(data)),
    }, OPTIONS);
    out.push({ label, bytes: data.length, result: result as MetricResult });
  }
  // A transcript hash: add a 1200-byte message, then read the running digest (RFC 8446 §4.4.1).
  const transcript = h.create();
  const bare = sha256.create();
  const [result] = await compare({
    metrics: ['transcript'],
    subject: syncLoop(() => transcript.update(message).digest()),
    baseline: syncLoop(() => bare.update(message).clone().digest()),
  }, OPTIONS);
  out.push({ label: 'transcript update 1200 B + digest', bytes: message.length, result: result as MetricResult });
  return out;
}

// ---------------------------------------------------------------------------------------------
// Report

interface Row {
  readonly cells: readonly string[];
  readonly overhead: number;
}

const ops = (seconds: number): string => formatRate(1 / seconds);
const mbps = (bytes: number, seconds: number): string => (bytes / seconds / 1e6).toFixed(1);

function table(header: readonly string[], rows: readonly Row[]): string[] {
  return [
    `| ${[...header, 'overhead'].join(' | ')} |`,
    `| ${header.map((_, i) => (i < header.length - 2 ? '---' : '---:')).join(' | ')} | ---: |`,
    ...rows.map((r) => `| ${[...r.cells, formatOverhead(r.overhead)].join(' | ')} |`),
  ];
}

/** Runs the benchmark and returns markdown tables. */
export async function run(): Promise<string> {
  const started = performance.now();
  const allRows: { name: string; overhead: number }[] = [];
  const keep = (name: string, r: MetricResult): MetricResult => {
    allRows.push({ name, overhead: r.overhead });
    return r;
  };
  const out: string[] = [
    `CryptoProvider (\`createNobleProvider()\`) against the same noble calls made directly, interleaved rounds in one process; ` +
      `${clockName}, medians of ${OPTIONS.rounds} rounds of ~${OPTIONS.roundMs} ms per side. Overhead = provider time / direct time − 1; goal ≤ ${GOAL * 100}%. Both sides use the same keys and the same seeded random stream, ` +
      'and their first outputs are checked to be identical.',
    '',
    '**Key exchange** (operations per second; full exchange = generate + encapsulate + complete)',
    '',
  ];

  const kexRows: Row[] = [];
  for (const group of createNobleProvider().groups) {
    const results = await kexComparison(group);
    for (const r of results) {
      keep(`${groupName(group)} ${r.metric}`, r);
      kexRows.push({ cells: [groupName(group), r.metric, ops(r.subjectSeconds), ops(r.baselineSeconds)], overhead: r.overhead });
    }
  }
  out.push(...table(['group', 'step', 'provider ops/s', 'noble ops/s'], kexRows));

  out.push('', '**Signatures** (operations per second; CertificateVerify-sized message)', '');
  const sigRows: Row[] = [];
  for (const [scheme, direct] of DIRECT_SIGNERS) {
    for (const r of await signatureComparison(scheme, direct)) {
      keep(`${signatureSchemeName(scheme)} ${r.metric}`, r);
      sigRows.push({ cells: [signatureSchemeName(scheme), r.metric, ops(r.subjectSeconds), ops(r.baselineSeconds)], overhead: r.overhead });
    }
  }
  out.push(...table(['scheme', 'operation', 'provider ops/s', 'noble ops/s'], sigRows));
  const rsa = await rsaAlone([SignatureScheme.rsa_pss_rsae_sha256, SignatureScheme.rsa_pkcs1_sha256]);
  out.push(
    '',
    'RSA-2048 has no noble counterpart (the provider\'s RSA is its own bigint code): ' +
      rsa.map((r) => `${signatureSchemeName(r.scheme)} sign ${ops(r.sign)}/s, verify ${ops(r.verify)}/s`).join('; ') + '.',
  );

  out.push('', '**AEAD** (MB/s of plaintext; 5-byte additional data)', '');
  const aeadRows: Row[] = [];
  for (const alg of AEADS) {
    for (const size of AEAD_SIZES) {
      for (const r of await aeadComparison(alg, size)) {
        keep(`${alg} ${r.metric} ${size} B`, r);
        aeadRows.push({ cells: [alg, r.metric, `${size} B`, mbps(size, r.subjectSeconds), mbps(size, r.baselineSeconds)], overhead: r.overhead });
      }
    }
  }
  out.push(...table(['AEAD', 'operation', 'size', 'provider MB/s', 'noble MB/s'], aeadRows));

  out.push('', '**HKDF and SHA-256** (operations per second; MB/s for the 16 KiB digest)', '');
  const kdfRows: Row[] = [];
  for (const [alg, hash] of HKDF_HASHES) {
    for (const r of await hkdfComparison(alg, hash)) {
      keep(`${r.metric} ${alg}`, r);
      kdfRows.push({ cells: [`${r.metric} ${alg}`, ops(r.subjectSeconds), ops(r.baselineSeconds)], overhead: r.overhead });
    }
  }
  for (const { label, bytes, result: r } of await sha256Comparisons()) {
    keep(`SHA-256 ${label}`, r);
    const asMb = bytes >= 16384;
    kdfRows.push({
      cells: [`SHA-256 ${label}`, asMb ? `${mbps(bytes, r.subjectSeconds)} MB/s` : ops(r.subjectSeconds), asMb ? `${mbps(bytes, r.baselineSeconds)} MB/s` : ops(r.baselineSeconds)],
      overhead: r.overhead,
    });
  }
  out.push(...table(['operation', 'provider', 'noble'], kdfRows));

  const outside = allRows.filter((r) => r.overhead > GOAL);
  out.push(
    '',
    `Within ${GOAL * 100}%: ${allRows.length - outside.length} of ${allRows.length} rows` +
      (outside.length > 0 ? `; over: ${outside.map((r) => `${r.name} (${formatOverhead(r.overhead)})`).join(', ')}.` : '.') +
      ` Measured in ${((performance.now() - started) / 1000).toFixed(0)} s.`,
  );
  return out.join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(await run());
}
