/**
 * noble against WebCrypto: every primitive the WebCrypto provider runs on
 * SubtleCrypto, through `createNobleProvider()` and `createWebCryptoProvider()`,
 * in interleaved rounds in one process, and the full in-memory TLS 1.3
 * handshake (X25519MLKEM768, an ML-DSA-65 chain verified with webPkiVerifier)
 * with each provider on both sides. Here SubtleCrypto is Node's (OpenSSL on
 * libuv's thread pool, a promise per call); a browser's or workerd's costs
 * differ, which the runtime matrix measures in place.
 *
 * Both providers draw from identical seeded streams, and draw the same bytes
 * for the same operation; their first outputs are checked to agree before
 * anything is timed. Rows marked "not used" measure the choices the provider
 * makes against SubtleCrypto: HMAC (HKDF), RSA verification and QUIC header
 * protection (one block of AES-CTR, the only way to get AES-ECB's mask from
 * SubtleCrypto) run on noble because SubtleCrypto's per-call cost loses there.
 *
 * Run alone: node --import tsx bench/webcrypto-provider.ts
 */
import { pathToFileURL } from 'node:url';
import { constantTimeEqual, fromHex } from '../src/bytes.js';
import { bits, derNull, oid, sequence } from '../src/codec/der.js';
import {
  NamedGroup, SignatureScheme, groupName, schemeKeyAlgorithm, signatureSchemeName, type AeadAlgorithm,
} from '../src/pq/ids.js';
import { createNobleProvider } from '../src/pq/noble/index.js';
import { createWebCryptoProvider } from '../src/pq/webcrypto/index.js';
import type { CryptoProvider, KeyPair } from '../src/pq/provider.js';
import { seededRandom } from '../src/testing/index.js';
import { TlsConnection } from '../src/tls13/connection.js';
import { webPkiVerifier } from '../src/tls13/verifier.js';
import { asyncLoop, clockName, compare, formatRate, now, type CompareOptions, type MetricResult, type RoundFn } from './compare.js';
import { RSA_2048_PKCS1_HEX } from '../test/fixtures/rsa-2048.js';
import { SERVER_NAME, mintPki } from './tls-fixtures.js';

const OPTIONS: CompareOptions = { rounds: 21, roundMs: 15 };
const SEED = 'webcrypto-provider bench';

type Pair = { readonly web: CryptoProvider; readonly noble: CryptoProvider };
const pair = (): Pair => ({ web: createWebCryptoProvider({ random: seededRandom(SEED) }), noble: createNobleProvider({ random: seededRandom(SEED) }) });

function same(what: string, a: Uint8Array, b: Uint8Array): void {
  if (a.length !== b.length || !constantTimeEqual(a, b)) throw new Error(`bench is not comparing like with like: ${what} differs`);
}

interface Row {
  readonly what: string;
  readonly web: number;
  readonly noble: number;
  /** How to print a rate: operations or megabytes per second. */
  readonly unitBytes?: number;
}

async function versus(what: string, make: (p: CryptoProvider) => Promise<(i: number) => Promise<unknown>>, unitBytes?: number): Promise<Row> {
  const { web, noble } = pair();
  const [a, b] = [await make(web), await make(noble)];
  const r: MetricResult[] = await compare({ metrics: [what], subject: asyncLoop(a), baseline: asyncLoop(b) }, OPTIONS);
  const m = r[0] as MetricResult;
  return { what, web: m.subjectSeconds, noble: m.baselineSeconds, ...(unitBytes !== undefined ? { unitBytes } : {}) };
}

const GROUPS: readonly NamedGroup[] = [
  NamedGroup.x25519, NamedGroup.secp256r1, NamedGroup.secp384r1, NamedGroup.X25519MLKEM768, NamedGroup.SecP256r1MLKEM768,
];

async function kexRows(): Promise<Row[]> {
  const rows: Row[] = [];
  for (const group of GROUPS) {
    const { web, noble } = pair();
    const [x, y] = [await web.keyExchange(group).generate(), await noble.keyExchange(group).generate()];
    same(`${groupName(group)} share`, x.share, y.share);
    rows.push(await versus(`${groupName(group)} full exchange`, async (p) => {
      const k = p.keyExchange(group);
      return async () => {
        const share = await k.generate();
        await share.complete((await k.encapsulate(share.share)).share);
      };
    }));
  }
  return rows;
}

const rsaPkcs1 = fromHex(RSA_2048_PKCS1_HEX);
const keyFor = (p: CryptoProvider, scheme: SignatureScheme): Promise<KeyPair> => {
  const alg = schemeKeyAlgorithm(scheme);
  return alg === 'rsa' ? p.importPrivateKey({ algorithm: 'rsa', pkcs1: rsaPkcs1 }) : p.generateKeyPair(alg);
};

const SCHEMES: readonly SignatureScheme[] = [
  SignatureScheme.ed25519, SignatureScheme.ecdsa_secp256r1_sha256, SignatureScheme.ecdsa_secp384r1_sha384,
  SignatureScheme.rsa_pss_rsae_sha256, SignatureScheme.rsa_pkcs1_sha256,
];

/**
 * A choice the provider makes, measured: SubtleCrypto doing `subtle` (which the provider does not use) against
 * noble doing `noble` (which it does). Both must give `same` bytes or verdicts first.
 */
async function notUsed(what: string, subtle: () => Promise<unknown>, noble: () => unknown): Promise<Row> {
  const r = await compare({ metrics: [what], subject: asyncLoop(subtle), baseline: asyncLoop(async () => noble()) }, OPTIONS);
  const m = r[0] as MetricResult;
  return { what: `${what}: SubtleCrypto (not used) vs noble (used)`, web: m.subjectSeconds, noble: m.baselineSeconds };
}

const subtle = globalThis.crypto.subtle;
/** AlgorithmIdentifier { rsaEncryption, NULL } ‖ BIT STRING: the SPKI WebCrypto imports RSA public keys from. */
const rsaSpki = (pkcs1Public: Uint8Array): Uint8Array<ArrayBuffer> =>
  new Uint8Array(sequence(sequence(oid('1.2.840.113549.1.1.1'), derNull()), bits(pkcs1Public)));

async function signatureRows(): Promise<Row[]> {
  const message = new Uint8Array(130).fill(0x20);
  const rows: Row[] = [];
  for (const scheme of SCHEMES) {
    const name = signatureSchemeName(scheme);
    rows.push(await versus(`${name} sign`, async (p) => {
      const key = await keyFor(p, scheme);
      return () => p.sign(scheme, key.privateKey, message);
    }));
    // Verify one signature made by noble, so both sides check the same bytes.
    const signer = createNobleProvider({ random: seededRandom(SEED) });
    const key = await keyFor(signer, scheme);
    const sig = await signer.sign(scheme, key.privateKey, message);
    if (schemeKeyAlgorithm(scheme) === 'rsa') {
      const pss = scheme === SignatureScheme.rsa_pss_rsae_sha256;
      const alg = pss ? { name: 'RSA-PSS', saltLength: 32 } : { name: 'RSASSA-PKCS1-v1_5' };
      const viaSubtle = async (): Promise<boolean> =>
        subtle.verify(alg, await subtle.importKey('spki', rsaSpki(key.publicKey), { name: alg.name, hash: 'SHA-256' }, false, ['verify']), new Uint8Array(sig), message);
      if (!(await viaSubtle())) throw new Error(`SubtleCrypto rejects a valid ${name} signature`);
      rows.push(await notUsed(`${name} verify (SPKI import + verify)`, viaSubtle, () => signer.verify(scheme, key.publicKey, message, sig)));
      continue;
    }
    rows.push(await versus(`${name} verify`, async (p) => {
      if (!(await p.verify(scheme, key.publicKey, message, sig))) throw new Error(`${p.name} rejects a valid ${name} signature`);
      return () => p.verify(scheme, key.publicKey, message, sig);
    }));
  }
  return rows;
}

async function symmetricRows(): Promise<Row[]> {
  const rows: Row[] = [];
  const aad = new Uint8Array(5);
  for (const alg of ['AES-128-GCM', 'AES-256-GCM'] as const satisfies readonly AeadAlgorithm[]) {
    for (const size of [1200, 16384]) {
      const key = new Uint8Array(alg === 'AES-128-GCM' ? 16 : 32).fill(9);
      const nonce = new Uint8Array(12);
      const data = new Uint8Array(size).fill(1);
      const { web, noble } = pair();
      same(`${alg} seal`, await (await web.aead(alg, key)).seal(nonce, aad, data), await (await noble.aead(alg, key)).seal(nonce, aad, data));
      rows.push(await versus(`${alg} seal ${size} B`, async (p) => {
        const k = await p.aead(alg, key);
        return () => k.seal(nonce, aad, data);
      }, size));
      rows.push(await versus(`${alg} open ${size} B`, async (p) => {
        const k = await p.aead(alg, key);
        const sealed = await k.seal(nonce, aad, data);
        return () => k.open(nonce, aad, sealed);
      }, size));
    }
  }
  {
    // SubtleCrypto has no AES-ECB; AES-CTR with the sample as counter block gives the same 5-byte mask.
    const key = new Uint8Array(16).fill(5);
    const sample = new Uint8Array(16).fill(3);
    const ctrKey = await subtle.importKey('raw', key, 'AES-CTR', false, ['encrypt']);
    const ctrMask = async (): Promise<Uint8Array> => new Uint8Array(await subtle.encrypt({ name: 'AES-CTR', counter: sample, length: 128 }, ctrKey, new Uint8Array(5)));
    const hp = await createNobleProvider().headerProtection('AES-128-ECB', key);
    same('AES-CTR mask', await ctrMask(), await hp.mask(sample));
    rows.push(await notUsed('QUIC header-protection mask (AES-128)', ctrMask, () => hp.mask(sample)));
  }
  const secret = new Uint8Array(32).fill(7);
  const noble = createNobleProvider();
  const hmacKey = await subtle.importKey('raw', secret, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  same('HMAC', new Uint8Array(await subtle.sign('HMAC', hmacKey, secret)), await noble.hmac('SHA-256', secret, secret));
  // HKDF in TLS keys a new HMAC for every Extract and Expand, so the import is part of the cost.
  rows.push(await notUsed('HMAC-SHA-256 of 32 B, key imported per call (as HKDF does)', async () =>
    subtle.sign('HMAC', await subtle.importKey('raw', secret, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']), secret), () => noble.hmac('SHA-256', secret, secret)));
  rows.push(await notUsed('HMAC-SHA-256 of 32 B, key imported once', () => subtle.sign('HMAC', hmacKey, secret), () => noble.hmac('SHA-256', secret, secret)));
  return rows;
}

/** Handshakes per round with `make`'s provider on both sides: a fresh client and server connection each time. */
async function handshakeRound(make: () => CryptoProvider): Promise<RoundFn> {
  const provider = make();
  const pki = await mintPki(provider);
  const client = {
    provider, now: () => pki.now, serverName: SERVER_NAME, groups: [NamedGroup.X25519MLKEM768], keyShareGroups: [NamedGroup.X25519MLKEM768],
    verifier: webPkiVerifier({ provider, trustAnchors: [pki.rootDer] }),
  };
  const server = { provider, now: () => pki.now, groups: [NamedGroup.X25519MLKEM768], certificate: pki.certificate };
  const once = async (): Promise<void> => {
    const s = TlsConnection.server(server);
    const c = await TlsConnection.client(client);
    for (let i = 0; i < 20 && (c.wantsWrite || s.wantsWrite); i++) {
      if (c.wantsWrite) await s.receive(c.takeOutput());
      if (s.wantsWrite) await c.receive(s.takeOutput());
    }
    if (!c.handshakeInfo || !s.handshakeInfo || c.handshakeInfo.peerSignatureScheme !== SignatureScheme.mldsa65) {
      throw new Error(`${provider.name} handshake failed: ${c.error?.message ?? s.error?.message ?? 'did not complete'}`);
    }
  };
  await once();
  return async (n) => {
    const t0 = now();
    for (let i = 0; i < n; i++) await once();
    return [(now() - t0) / 1000];
  };
}

function table(header: string, rows: readonly Row[]): string[] {
  const rate = (r: Row, s: number): string => (r.unitBytes !== undefined ? `${(r.unitBytes / s / 1e6).toFixed(1)} MB/s` : `${formatRate(1 / s)}/s`);
  return [
    `| ${header} | WebCrypto | noble | WebCrypto speed-up |`,
    '| --- | ---: | ---: | ---: |',
    ...rows.map((r) => `| ${r.what} | ${rate(r, r.web)} | ${rate(r, r.noble)} | ×${(r.noble / r.web).toFixed(2)} |`),
  ];
}

/** Runs the benchmark and returns markdown tables. */
export async function run(): Promise<string> {
  const started = performance.now();
  const out: string[] = [
    `\`createWebCryptoProvider()\` against \`createNobleProvider()\` on Node ${process.versions.node}'s SubtleCrypto, interleaved rounds in one process; ${clockName}, ` +
      `medians of ${OPTIONS.rounds} rounds of ~${OPTIONS.roundMs} ms per side. Speed-up = noble time / WebCrypto time (×2.00: WebCrypto takes half the time). ` +
      'Both draw the same seeded stream; first outputs are checked to agree.',
    '',
    '**Key exchange** (generate + encapsulate + complete)',
    '',
    ...table('group', await kexRows()),
    '',
    '**Signatures** (130-byte message; RSA-2048)',
    '',
    ...table('scheme', await signatureRows()),
    '',
    '**Symmetric** (AEAD in MB/s of plaintext, 5-byte AAD)',
    '',
    ...table('operation', await symmetricRows()),
  ];
  const [nodeRound, nobleRound] = [
    await handshakeRound(() => createWebCryptoProvider({ random: seededRandom(SEED) })),
    await handshakeRound(() => createNobleProvider({ random: seededRandom(SEED) })),
  ];
  const [hs] = await compare({ metrics: ['handshake'], subject: nodeRound, baseline: nobleRound }, { rounds: 11, roundMs: 100 });
  const h = hs as MetricResult;
  out.push(
    '',
    '**Full TLS 1.3 handshake in memory** (X25519MLKEM768, ML-DSA-65 leaf and root, webPkiVerifier; both sides on the same provider)',
    '',
    '| provider | ms per handshake | handshakes/s |',
    '| --- | ---: | ---: |',
    `| WebCrypto | ${(h.subjectSeconds * 1000).toFixed(2)} | ${formatRate(1 / h.subjectSeconds)} |`,
    `| noble | ${(h.baselineSeconds * 1000).toFixed(2)} | ${formatRate(1 / h.baselineSeconds)} |`,
    '',
    `Speed-up ×${(h.baselineSeconds / h.subjectSeconds).toFixed(2)}. Measured in ${((performance.now() - started) / 1000).toFixed(0)} s.`,
  );
  return out.join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(await run());
}
